import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { Checkpoint } from '../../functions/core/checkpoint';
import { INVENTORY_DATASETS } from '../../functions/core/names';
import type { SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import {
  type PagingBehaviour,
  type ReportingResponse,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../simulator/index';
import { multiset, servedInventory, untagged } from '../support/inventory-served';
import { type Handler, lambdaContext, loadHandler } from '../support/invoke';
import {
  connectLocalAws,
  curatedRecords,
  getJson,
  type Lake,
  type LocalAws,
  lambdaEnv,
  listKeys,
} from '../support/local-aws';
import { placed } from '../support/subscription-view';

/**
 * Paging that trusts what the API says, through the built bundles against a simulator whose gateway
 * caps pages, sends its metadata as strings or leaves `last` out, counts /reporting batches, or will
 * not go past an offset: every record lands once, and an anomaly stops the listing loudly.
 */
const CREDENTIALS = { username: 'qualys-lake-demo', password: 'demo-password' };
const FINDINGS = '/cdr-api/rest/v1/findings';
const REPORTING = '/sdr/api/v1/reporting';
/** Findings the simulator holds, all in the first CDR window (its last 24 h), and the gateway's cap. */
const WINDOW_FINDINGS = 2345;
const CAP = 37;
const HISTORY_HOURS = 20;

let aws: LocalAws;
let sim: Simulator;
let lake: Lake;
let secretId: string;

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
});
afterAll(async () => {
  await aws.close();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await sim?.close();
});

async function setUp(options: SimulatorOptions) {
  sim = await startSimulator(options);
  lake = await aws.createLake('paging');
  secretId = aws.secrets.put(`qualys-${lake.bucket}`, JSON.stringify({ baseUrl: sim.url, ...CREDENTIALS }));
}

/** 2,345 findings over the last 20 h, none late: one CDR window holds them all. */
const cdrTenant = (paging: PagingBehaviour): SimulatorOptions => ({
  cdr: { historyHours: HISTORY_HOURS, findingsPerHour: WINDOW_FINDINGS / HISTORY_HOURS, lateFindings: 0 },
  paging,
});

/** A fresh (cold) instance of a bundle; every variable a test relies on is given. */
const handlerOf = (
  name: 'cdr-findings' | 'sdr-inventory' | 'sdr-posture',
  extra: Record<string, string> = {},
) =>
  loadHandler(
    name,
    lambdaEnv(aws, lake, secretId, {
      QUALYS_REQUEST_TIMEOUT_MS: '5000',
      QUALYS_MAX_RETRIES: '1',
      QUALYS_CALL_RESERVE: '0',
      CDR_PAGE_SIZE: '100',
      CDR_LAG_MINUTES: '0',
      SDR_PAGE_SIZE: '200',
      SDR_MAX_CALLS_PER_RUN: '150',
      ...extra,
    }),
  );

const invoke = async <S>(handler: Handler) => (await handler({}, lambdaContext())) as S;

/** The error a run failed with (it must fail). */
async function failure(handler: Handler): Promise<Error & { summary?: Record<string, unknown> }> {
  try {
    await handler({}, lambdaContext());
  } catch (error) {
    return error as Error & { summary?: Record<string, unknown> };
  }
  throw new Error('the run did not fail');
}

const checkpoint = () => getJson<Checkpoint>(aws, lake.bucket, placed(cdrFindingsKeys.checkpoint));
const curatedUuids = async () =>
  (await curatedRecords<{ uuid: string }>(aws, lake.bucket, placed('curated/cdr_findings/'))).map(
    (r) => r.uuid,
  );
/** The findings calls the simulator served for one window, as their offSet. */
const offsetsAsked = (window: { startAt: string; endAt: string }) =>
  sim.stats.calls
    .filter(
      (call) =>
        call.path === FINDINGS && call.query.startAt === window.startAt && call.query.endAt === window.endAt,
    )
    .map((call) => Number(call.query.offSet));
const upTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);
const multiples = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => (from + i) * CAP);

describe('paging that trusts what the API says', () => {
  it('CDR: a gateway capping pages at 37 (totalElements 2345) lands every finding once; the watermark moves only after the last page', async () => {
    await setUp(cdrTenant({ cdrPageCap: CAP }));
    expect(sim.data.findings()).toHaveLength(WINDOW_FINDINGS);
    // The 11th call is refused: the run fails after 10 pages of the window.
    sim.control.afterRequests(10, () => sim.control.failNext(1, 400));
    await expect(invoke(await handlerOf('cdr-findings'))).rejects.toThrow(/answered 400/);

    const stopped = await checkpoint();
    expect(stopped.watermark).toBeUndefined();
    expect(stopped.pending?.nextCursor).toBe(10 * CAP);
    expect(await curatedUuids()).toHaveLength(10 * CAP);
    const window = { startAt: stopped.pending?.startAt ?? '', endAt: stopped.pending?.endAt ?? '' };

    const summary = await invoke<{ windows: Array<{ startAt: string; pages: number; complete: boolean }> }>(
      await handlerOf('cdr-findings'),
    );
    expect(summary.windows[0]).toMatchObject({ startAt: window.startAt, complete: true, pages: 64 - 10 });
    const done = await checkpoint();
    expect(done.pending).toBeUndefined();
    expect(Date.parse(done.watermark ?? '')).toBeGreaterThanOrEqual(Date.parse(window.endAt));

    const uuids = await curatedUuids();
    expect(uuids).toHaveLength(WINDOW_FINDINGS);
    expect(new Set(uuids)).toEqual(new Set(sim.data.findings().map((finding) => finding.uuid)));
    // ceil(2345 / 37) = 64 pages, offSet moving by the 37 rows received. Pages are read ahead (two
    // calls in flight, up to four pages ahead of the one being written), so the failed run had also
    // asked for some pages after the refused one; those, and only those, were asked twice.
    expect(Math.ceil(WINDOW_FINDINGS / CAP)).toBe(64);
    const asked = offsetsAsked(window).sort((a, b) => a - b);
    expect([...new Set(asked)]).toEqual(multiples(0, 64));
    const twice = asked.filter((offset, index) => asked[index + 1] === offset);
    expect(twice[0]).toBe(10 * CAP);
    expect(twice).toEqual(multiples(10, 10 + twice.length));
    expect(twice.length).toBeLessThanOrEqual(4);
  });

  it('CDR: pages read three at a time reuse the gateway connections the answers came on', async () => {
    // 2,345 findings are 24 pages of 100, read three calls at a time once the first said how many.
    await setUp({
      ...cdrTenant({}),
      latencyMs: 150,
      rateLimit: { limit: 10_000, windowSec: 3600, concurrency: 3 },
    });
    const summary = await invoke<{ pages: number }>(await handlerOf('cdr-findings'));

    expect(summary.pages).toBe(24);
    expect(await curatedUuids()).toHaveLength(WINDOW_FINDINGS);
    expect(sim.stats.maxConcurrent).toBe(3);
    // A call started as another lands goes out once that answer's connection is free again: the
    // login and 24 calls, three at a time, need three connections, not a new one now and then (each
    // a TLS handshake with the real gateway).
    expect(sim.stats.connections).toBe(3);
    expect(sim.stats.rateLimited).toBe(0);
  });

  it.each<[string, PagingBehaviour]>([
    ['capped at 37', { sdrPageCap: CAP }],
    [
      'capped at 37, metadata as strings, no last',
      { sdrPageCap: CAP, metadataAsStrings: true, omitLast: true },
    ],
  ])('inventory: SaaSDR lists %s land every record once', async (_name, paging) => {
    await setUp({ paging });
    const summary = await invoke<SdrInventorySummary>(await handlerOf('sdr-inventory'));
    expect(summary).toMatchObject({ completedSnapshot: true, pagingErrors: 0 });

    const served = servedInventory(sim.data.sdr);
    for (const table of INVENTORY_DATASETS) {
      const records = await curatedRecords(aws, lake.bucket, placed(`curated/${table}/`));
      expect(records.length, table).toBe(served[table].length);
      expect(multiset(records.map(untagged)), table).toEqual(multiset(served[table]));
    }
    // 450 documents are ceil(450 / 37) = 13 pages, and no page was asked for past the last.
    const documentPages = sim.stats.calls.filter((call) => call.path === '/sdr/api/v1/documents');
    // Pages read ahead may reach the gateway in any order: each once, none past the last.
    expect(documentPages.map((call) => Number(call.query.page)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 13 }, (_, i) => i),
    );
  });

  it.each<[string, PagingBehaviour]>([
    ['totalBatch', { reportingTotalBatch: true }],
    ['totalBatch as a string', { reportingTotalBatch: true, metadataAsStrings: true }],
  ])(
    'posture: /reporting with %s is read from page 1 to totalBatch and not past it',
    async (_name, paging) => {
      await setUp({ paging });
      const summary = await invoke<{ pollComplete: boolean; pairs: { total: number; done: number } }>(
        await handlerOf('sdr-posture', { SDR_MAX_CALLS_PER_RUN: '100', ALERT_MAX_PER_RUN: '1000' }),
      );
      expect(summary.pollComplete).toBe(true);

      // The calls: each pair from page 1 up, with no gap.
      const reportingCalls = sim.stats.calls.filter((call) => call.path === REPORTING);
      const asked = new Map<string, number[]>();
      for (const call of reportingCalls) {
        const pair = `${call.query.connectorId}|${call.query.policyName}`;
        asked.set(pair, [...(asked.get(pair) ?? []), Number(call.query.pageNumber)]);
      }
      expect(asked.size).toBe(summary.pairs.total);
      for (const [pair, pageNumbers] of asked) expect(pageNumbers, pair).toEqual(upTo(pageNumbers.length));

      // The pages archived as served: 1..totalBatch of each pair, and not one call more.
      const rawPages = new Map<string, number[]>();
      for (const key of await listKeys(aws, lake.bucket, placed('raw/sdr-posture/'))) {
        const page = /^(.*\/connector=[^/]+\/policy=[^/]+)\/page=(\d+)\.json\.gz$/.exec(key);
        if (page) rawPages.set(page[1] ?? '', [...(rawPages.get(page[1] ?? '') ?? []), Number(page[2])]);
      }
      expect(rawPages.size).toBe(summary.pairs.total);
      let batches = 0;
      for (const [pair, pageNumbers] of rawPages) {
        const first = await getJson<ReportingResponse>(
          aws,
          lake.bucket,
          placed(`${pair}/page=00001.json.gz`),
        );
        const totalBatch = Number(first.totalBatch);
        expect(totalBatch, pair).toBeGreaterThan(1);
        expect(
          pageNumbers.sort((a, b) => a - b),
          pair,
        ).toEqual(upTo(totalBatch));
        batches += totalBatch;
      }
      // Without totalBatch each pair would cost one call more, for its empty page.
      expect(reportingCalls).toHaveLength(batches);
    },
  );

  it('a gateway that will not go past offSet 74 fails the run naming the listing; nothing is lost, the checkpoint stays, PagingErrors is published', async () => {
    await setUp(cdrTenant({ cdrPageCap: CAP, stuckAt: 2 * CAP }));
    const emitted: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      emitted.push(String(chunk));
      return true;
    });
    const error = await failure(await handlerOf('cdr-findings', { POWERTOOLS_METRICS_DISABLED: 'false' }));
    vi.restoreAllMocks();

    expect(error.message).toMatch(
      /^GET \/cdr-api\/rest\/v1\/findings \(window \S+ to \S+\) at offSet=111: the page repeats the previous one \(the same 37 items\)/,
    );
    expect(error.message).toContain('last=false, totalElements=2345');
    expect(error.summary).toMatchObject({ pagingErrors: 1, pages: 3, findings: 3 * CAP });
    const metrics = emitted
      .flatMap((text) => text.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // One metric line carries the run's counts; alarm metrics (with a collector dimension) come apart.
    expect(metrics.filter((metric) => 'PagingErrors' in metric).map((metric) => metric.PagingErrors)).toEqual(
      [1],
    );

    // The three pages before the repeat are in the lake; the window stays pending at the repeat.
    const stopped = await checkpoint();
    expect(stopped.watermark).toBeUndefined();
    expect(stopped.pending?.nextCursor).toBe(3 * CAP);
    const newestFirst = sim.data.findings().map((finding) => finding.uuid);
    expect(new Set(await curatedUuids())).toEqual(new Set(newestFirst.slice(0, 3 * CAP)));

    // Once the gateway pages again, the next run finishes the window: every finding once.
    sim.control.setPaging({ cdrPageCap: CAP });
    await invoke(await handlerOf('cdr-findings'));
    const uuids = await curatedUuids();
    expect(uuids).toHaveLength(WINDOW_FINDINGS);
    expect(new Set(uuids)).toEqual(new Set(newestFirst));
    expect((await checkpoint()).pending).toBeUndefined();
  });
});
