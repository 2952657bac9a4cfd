import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, onTestFinished, vi } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { CdrCheckpoint } from '../../functions/cdr-findings/windows';
import { type CdrOptions, type Simulator, startSimulator } from '../simulator/index';
import { failingS3 } from '../support/failing-s3';
import { type Handler, lambdaContext, loadHandler } from '../support/invoke';
import {
  connectLocalAws,
  curatedRecords,
  drainAlerts,
  getJson,
  type Lake,
  type LocalAws,
  lambdaEnv,
} from '../support/local-aws';
import { placed } from '../support/subscription-view';

/**
 * The built cdr-findings bundle over hours of simulated 5-minute runs, with findings that reach
 * the API late. The Lambda's clock and the simulator's move together: Date is faked before the
 * simulator starts, so its clock is Date.now() and vi.setSystemTime moves both.
 */
const ANCHOR = Date.parse('2026-03-14T21:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PAGE_SIZE = 10;
const FINDINGS_PATH = '/cdr-api/rest/v1/findings';

interface Summary {
  windows: Array<{ kind: string; startAt: string; endAt: string; newFindings: number; complete: boolean }>;
  newFindings: number;
  lateFindings: number;
  alertsPublished: number;
}

interface Curated {
  uuid: string;
  severity: number;
  lake_raw_key: string;
}

let aws: LocalAws;

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
});
afterAll(async () => {
  await aws.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A simulator anchored at ANCHOR, a lake and a fresh Lambda, with the clock at ANCHOR. */
async function setUp(cdr: CdrOptions, env: Record<string, string> = {}) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(ANCHOR);
  const sim: Simulator = await startSimulator({ anchor: new Date(ANCHOR), cdr });
  onTestFinished(() => sim.close());
  const lake: Lake = await aws.createLake('late');
  const secretId = aws.secrets.put(
    `qualys-${lake.bucket}`,
    JSON.stringify({ baseUrl: sim.url, username: 'qualys-lake-demo', password: 'demo-password' }),
  );
  const handler: Handler = await loadHandler(
    'cdr-findings',
    lambdaEnv(aws, lake, secretId, {
      CDR_PAGE_SIZE: String(PAGE_SIZE),
      CDR_INITIAL_LOOKBACK_HOURS: '2',
      ALERT_MAX_PER_RUN: '1000',
      ...env,
    }),
  );
  return { sim, lake, handler };
}

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as Summary;

const severeUuids = (findings: Array<{ uuid: string; severity: number }>) =>
  findings.filter((finding) => finding.severity >= 3).map((finding) => finding.uuid);

function expectOnce(uuids: string[], expected: string[]) {
  expect(uuids.length).toBe(new Set(uuids).size);
  expect(new Set(uuids)).toEqual(new Set(expected));
}

describe('cdr-findings with late data', () => {
  it('over 5 simulated hours of 5-minute runs with 15 % of findings up to 2 h late: every finding curated once, late ones alerted once, at most 1.5 x the minimum calls', async () => {
    // Findings from 2 h before the first run to 2 h after it; runs go on 3 h longer, so the last
    // late one has arrived and its hour has settled. Midnight UTC falls in between.
    const { sim, lake, handler } = await setUp({
      historyHours: 2,
      futureHours: 2,
      findingsPerHour: 30,
      lateFraction: 0.15,
      lateMaxMinutes: 120,
      lateFindings: 0,
    });
    const summaries: Summary[] = [];
    for (let at = ANCHOR; at <= ANCHOR + 5 * HOUR; at += 5 * MINUTE) {
      vi.setSystemTime(at);
      summaries.push(await run(handler));
    }

    const everyFinding = sim.data.findings(true);
    expect(sim.data.findings()).toHaveLength(everyFinding.length);
    const records = await curatedRecords<Curated>(aws, lake.bucket, placed('curated/cdr_findings/'));
    expectOnce(
      records.map((record) => record.uuid),
      everyFinding.map((finding) => finding.uuid),
    );

    // Late findings: those the new windows passed before they arrived, curated by a settle read
    // (whose windows end at hh:59:59.999, in the raw key as hh5959Z).
    const late = records.filter((record) => /_\d{8}T\d{2}5959Z\//.test(record.lake_raw_key));
    expect(late.length).toBe(summaries.reduce((sum, summary) => sum + summary.lateFindings, 0));
    expect(severeUuids(late).length).toBeGreaterThan(0);
    const alertKeys = (await drainAlerts(aws, lake.queueUrl)).map((alert) => alert.attributes.alertKey ?? '');
    expectOnce(alertKeys, severeUuids(everyFinding));

    // One call a run plus one a page of unique findings is the least any design can do.
    const minimum = summaries.length + Math.ceil(everyFinding.length / PAGE_SIZE);
    const calls = sim.stats.byPath[FINDINGS_PATH] ?? 0;
    expect(calls).toBeLessThanOrEqual(1.5 * minimum);

    const windows = summaries.flatMap((summary) => summary.windows);
    expect(windows.filter((window) => window.kind === 'reconcile')).toEqual([
      expect.objectContaining({ startAt: '2026-03-13T00:00:00.000Z', complete: true }),
    ]);
    const checkpoint = await getJson<CdrCheckpoint>(aws, lake.bucket, placed(cdrFindingsKeys.checkpoint));
    expect(checkpoint).toMatchObject({
      version: 2,
      watermark: new Date(ANCHOR + 5 * HOUR - 5 * MINUTE).toISOString(),
      settledUntil: '2026-03-15T00:00:00.000Z',
      reconciledOn: '2026-03-15',
    });
  });

  it('a failed S3 write on page 0 of a new window, then the next run: the same window, no duplicate row, no duplicate alert', async () => {
    const proxy = await failingS3(aws.endpoint);
    onTestFinished(() => proxy.close());
    const { sim, lake, handler } = await setUp(
      { historyHours: 2, findingsPerHour: 30, lateFindings: 0 },
      { AWS_ENDPOINT_URL_S3: proxy.url },
    );
    // The page journal cannot be written: page 0 is archived and curated, but its findings are not
    // marked seen nor their alerts queued, so the retried page finds them new again.
    proxy.refusePuts((path) => path.includes('/state/cdr-findings/journal/'));
    await expect(run(handler)).rejects.toThrow();
    expect(proxy.refused).toBeGreaterThan(0);
    const planned = await getJson<CdrCheckpoint>(aws, lake.bucket, placed(cdrFindingsKeys.checkpoint));
    expect(planned.pending).toMatchObject({ nextCursor: 0 });

    proxy.allow();
    vi.setSystemTime(ANCHOR + 5 * MINUTE);
    const retried = await run(handler);
    expect(retried.windows[0]).toMatchObject({
      kind: 'new',
      startAt: planned.pending?.startAt,
      endAt: planned.pending?.endAt,
      complete: true,
    });

    const served = sim.data.findings();
    const records = await curatedRecords<Curated>(aws, lake.bucket, placed('curated/cdr_findings/'));
    expectOnce(
      records.map((record) => record.uuid),
      served.map((finding) => finding.uuid),
    );
    const alertKeys = (await drainAlerts(aws, lake.queueUrl)).map((alert) => alert.attributes.alertKey ?? '');
    expectOnce(alertKeys, severeUuids(served));
  });
  it('the seen index cannot be written when the run merges its journal: the next run merges it, no duplicate row, no duplicate alert', async () => {
    const proxy = await failingS3(aws.endpoint);
    onTestFinished(() => proxy.close());
    const { sim, lake, handler } = await setUp(
      { historyHours: 2, findingsPerHour: 30, lateFindings: 0 },
      { AWS_ENDPOINT_URL_S3: proxy.url },
    );
    // Every page is written and journaled, but the merged seen index cannot be saved: the journal
    // stays, and no alert goes out (sent now, the next run's merge would queue them again).
    proxy.refusePuts((path) => path.includes('/state/cdr-findings/seen/'));
    await expect(run(handler)).rejects.toThrow();
    expect(proxy.refused).toBeGreaterThan(0);
    expect(await drainAlerts(aws, lake.queueUrl)).toEqual([]);
    const left = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: lake.bucket, Prefix: placed(cdrFindingsKeys.journalPrefix) }),
    );
    expect(left.KeyCount).toBeGreaterThan(0);

    proxy.allow();
    vi.setSystemTime(ANCHOR + 5 * MINUTE);
    await run(handler);
    const merged = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: lake.bucket, Prefix: placed(cdrFindingsKeys.journalPrefix) }),
    );
    expect(merged.Contents?.map((o) => o.Key) ?? []).toEqual([]);

    const served = sim.data.findings();
    const records = await curatedRecords<Curated>(aws, lake.bucket, placed('curated/cdr_findings/'));
    expectOnce(
      records.map((record) => record.uuid),
      served.map((finding) => finding.uuid),
    );
    const alertKeys = (await drainAlerts(aws, lake.queueUrl)).map((alert) => alert.attributes.alertKey ?? '');
    expectOnce(alertKeys, severeUuids(served));
  });
});
