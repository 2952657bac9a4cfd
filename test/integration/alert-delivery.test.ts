import { describe, expect, vi } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { CdrFinding } from '../simulator/data/cdr';
import type { Simulator } from '../simulator/index';
import { collectorTest } from '../support/fixtures';
import { isPublishBatch, startProxy } from '../support/http-proxy';
import { type Handler, lambdaContext } from '../support/invoke';
import type { ReceivedAlert } from '../support/local-aws';

/**
 * Alerts that always go out, against the built cdr-findings bundle, the simulator and fauxqs: an
 * oversized finding is cut to fit SNS instead of blocking the ones behind it, an unreadable
 * severity alerts, and publishing that meets the run's deadline stops cleanly and resumes.
 */
const HOUR = 3_600_000;
const CUT = /… \[\d+ characters cut\]/;

// Windows end now (no lag), and every alert of a run goes out on its own (no digest).
const test = collectorTest('cdr-findings', {
  CDR_PAGE_SIZE: '50',
  CDR_LAG_MINUTES: '0',
  ALERT_MAX_PER_RUN: '1000',
});

interface Summary {
  windows: Array<{ startAt: string; endAt: string }>;
  alertsPublished: number;
  alertsRejected: number;
  stoppedEarly?: string;
}

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as Summary;
const keysOf = (alerts: ReceivedAlert[]) => alerts.map((alert) => alert.attributes.alertKey ?? '').sort();
const iso = (ms: number) => new Date(ms).toISOString();
/** Findings the API serves now with a timestamp in the run's first window. */
function servedIn(sim: Simulator, window: { startAt: string; endAt: string } | undefined) {
  const [start, end] = [Date.parse(window?.startAt ?? ''), Date.parse(window?.endAt ?? '')];
  return sim.data.findings().filter((finding) => {
    const at = Date.parse(finding.timestamp);
    return at >= start && at <= end;
  });
}

describe('alert delivery', () => {
  describe('with only the findings a test adds', () => {
    test.override('simulatorOptions', { cdr: { findingsPerHour: 0, lateFindings: 0 } });

    test('delivers all 16 alerts of a run when one CRITICAL finding carries a 140 KB event message, cutting only that one', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const now = sim.control.now().getTime();
      const added = sim.control.addFindings([
        {
          severity: 4,
          eventMessage: `Start of the event. ${'Anomalous API activity from a Tor exit node. '.repeat(3_200)}`,
          timestamp: iso(now - HOUR),
        },
        ...Array.from({ length: 15 }, (_, n) => ({
          severity: 3 + (n % 2),
          timestamp: iso(now - HOUR - (n + 1) * 60_000),
        })),
      ]);
      const big = added[0] as CdrFinding;
      expect(big.eventMessage.length).toBeGreaterThan(140_000);

      const summary = await run(await handlerWith());
      expect(summary).toMatchObject({ alertsPublished: 16, alertsRejected: 0 });
      const alerts = await lake.alerts();
      expect(keysOf(alerts)).toEqual(added.map((finding) => finding.uuid).sort());

      const cut = alerts.find((alert) => alert.attributes.alertKey === big.uuid);
      expect(cut?.attributes.severity).toBe('CRITICAL');
      expect(cut?.email).toMatch(CUT);
      expect(cut?.email).toContain(big.eventMessage.slice(0, 1_000));
      expect(cut?.chat.content.description).toMatch(CUT);
      // The S3 path names the curated object that holds the finding; the Athena query is whole.
      const path = /\n- Full record: s3:\/\/([^/\s]+)\/(\S+)\n/.exec(cut?.email ?? '');
      expect(path?.[1]).toBe(lake.bucket);
      const records = await lake.records<{ uuid: string; eventMessage: string }>(path?.[2] ?? '?');
      expect(records.find((record) => record.uuid === big.uuid)?.eventMessage).toBe(big.eventMessage);
      const day = big.timestamp.slice(0, 10);
      expect(cut?.email).toContain(
        `\n- In Athena: SELECT * FROM cdr_findings WHERE dt = '${day}' AND uuid = '${big.uuid}'\n`,
      );
      for (const alert of alerts.filter((item) => item !== cut)) expect(alert.email).not.toMatch(CUT);
      expect(await lake.keys(cdrFindingsKeys.alertsRejected)).toEqual([]);
    });

    test('alerts on findings whose severity is missing, null or an unknown word, marked UNKNOWN', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const now = sim.control.now().getTime();
      // The API documents a number; these are what a broken upstream could send instead.
      const unreadable = [undefined, null, 'urgent'] as unknown as number[];
      const added = sim.control.addFindings([
        ...unreadable.map((severity, n) => ({ severity, timestamp: iso(now - HOUR - n * 60_000) })),
        { severity: 3, timestamp: iso(now - 2 * HOUR) },
      ]);
      const unknown = added.slice(0, 3).map((finding) => finding.uuid);

      await run(await handlerWith({ ALERT_MIN_SEVERITY: 'CRITICAL' }));
      const alerts = await lake.alerts();
      expect(keysOf(alerts)).toEqual([...unknown].sort());
      for (const alert of alerts) {
        expect(alert.attributes.severity).toBe('UNKNOWN');
        expect(alert.subject).toMatch(/^\[UNKNOWN\] /);
        // The first line names the subscription; the finding's headline follows.
        expect(alert.email).toMatch(
          /^Qualys subscription: default\n\nQualys CDR threat finding, severity UNKNOWN /,
        );
      }
    });
  });

  describe('with more alerts than one publish round', () => {
    test.override('simulatorOptions', { cdr: { findingsPerHour: 20, lateFindings: 0 } });

    test('stops publishing at the deadline with the rest queued, and the next run delivers them, none twice', async ({
      aws,
      sim,
      lake,
      handlerWith,
      onTestFinished,
    }) => {
      // The run's clock passes its publish deadline while its first PublishBatch is on the way,
      // as when publishing runs into the end of the invocation.
      vi.useFakeTimers({ toFake: ['Date'] });
      onTestFinished(() => {
        vi.useRealTimers();
      });
      let published = 0;
      const proxy = await startProxy(aws.endpoint, (request, body) => {
        if (isPublishBatch(request, body) && published++ === 0) vi.setSystemTime(Date.now() + 10 * 60_000);
      });
      onTestFinished(() => proxy.close());
      const withProxy = { AWS_ENDPOINT_URL_SNS: proxy.url };

      const first = await run(await handlerWith(withProxy));
      const severe = servedIn(sim, first.windows[0])
        .filter((finding) => finding.severity >= 3)
        .map((finding) => finding.uuid);
      expect(severe.length).toBeGreaterThan(2 * 40);
      expect(first.stoppedEarly).toMatch(/alert\(s\) stay queued/);
      expect(first.alertsPublished).toBeGreaterThan(0);
      expect(first.alertsPublished).toBeLessThan(severe.length);
      const early = await lake.alerts();
      expect(early).toHaveLength(first.alertsPublished);
      const queued = await lake.json<{ candidates: Array<{ key: string }> }>(cdrFindingsKeys.outbox);
      expect(queued.candidates).toHaveLength(severe.length - first.alertsPublished);

      vi.useRealTimers();
      const second = await run(await handlerWith(withProxy));
      expect(second.stoppedEarly).toBeUndefined();
      const late = await lake.alerts();
      expect(second.alertsPublished).toBe(late.length);
      const all = keysOf([...early, ...late]);
      expect(all).toEqual([...new Set(all)]);
      expect(all).toEqual([...severe].sort());
    });
  });
});
