import { afterEach, beforeEach, describe, expect, vi } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { Checkpoint } from '../../functions/core/checkpoint';
import { METRICS } from '../../functions/core/names';
import { collectorTest } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';

/**
 * Freshness you can see (README, "Metrics" and "Alarms"): the built cdr-findings bundle against the
 * simulator, starved of the subscription's call budget by another consumer. Each run stops cleanly,
 * and the LagSeconds it publishes (Embedded Metric Format on stdout, as CloudWatch reads it) grows
 * with the clock, which is what the lag alarm watches.
 */
const MINUTE = 60_000;

const test = collectorTest('cdr-findings', {
  CDR_PAGE_SIZE: '100',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  POWERTOOLS_METRICS_DISABLED: 'false',
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Summary {
  stoppedEarly?: string;
  apiCalls: number;
}

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as Summary;

/** Captures stdout from now on; returns what reads the EMF documents written so far. */
function captureEmf(): () => Array<Record<string, unknown>> {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(...String(chunk).split('\n'));
    return true;
  });
  return () =>
    lines
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a collector starved of the call budget', () => {
  test.override('simulatorOptions', { rateLimit: { limit: 1000, windowSec: 3600 } });
  // The Lambda's clock and the simulator's move together (the simulator's runs on Date.now()).
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });

  test('stops cleanly run after run and publishes a LagSeconds that grows with the clock', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const start = Date.now();
    const emf = captureEmf();

    // A run with calls to spare reads up to its lag (CDR_LAG_MINUTES before now): the watermark.
    expect((await run(await handlerWith())).stoppedEarly).toBeUndefined();
    const { watermark } = await lake.json<Checkpoint>(cdrFindingsKeys.checkpoint);
    if (watermark === undefined) throw new Error('the first run left no watermark');

    // Another consumer spends the whole window; it reopens only in an hour.
    sim.control.setRateLimit({ limit: 5, windowSec: 3600 });
    await sim.control.holdSlots(5, 0);
    const starved: Summary[] = [];
    for (const minutes of [15, 30]) {
      vi.setSystemTime(start + minutes * MINUTE);
      starved.push(await run(await handlerWith()));
    }
    for (const summary of starved) {
      expect(summary.stoppedEarly).toMatch(
        /for \d+ s more.*another consumer of the subscription is using its limits/,
      );
    }
    expect((await lake.json<Checkpoint>(cdrFindingsKeys.checkpoint)).watermark).toBe(watermark);

    const published = emf().filter((document) => METRICS.lagSeconds in document);
    expect(published.map((document) => document[METRICS.lagSeconds])).toEqual(
      [0, 15, 30].map((minutes) => Math.round((start + minutes * MINUTE - Date.parse(watermark)) / 1000)),
    );
    // A clean stop is a success; each value names its collector, as the alarm's metric does.
    for (const document of published) {
      expect(document).toMatchObject({ [METRICS.runSucceeded]: 1, collector: 'cdr-findings' });
      const directives = (
        document._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> }
      ).CloudWatchMetrics;
      expect(directives).toEqual([
        expect.objectContaining({
          Namespace: METRICS.namespace,
          Dimensions: [['service', 'collector', 'subscription']],
        }),
      ]);
    }
  });
});
