import { gunzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, vi } from 'vitest';
import { cdrFindingsKeys as cdrKeys } from '../../functions/cdr-findings/keys';
import type { Checkpoint } from '../../functions/core/checkpoint';
import { keyTime } from '../../functions/core/records';
import type { Simulator } from '../simulator/index';
import { ageLedger } from '../support/call-budget-ledger';
import { collectorTest, type TestLake } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';
import type { ReceivedAlert } from '../support/local-aws';
import { placed } from '../support/subscription-view';

/**
 * The built cdr-findings bundle against the Qualys simulator and fauxqs: what lands in the
 * bucket, what reaches an SQS queue subscribed to the alert topic, and the checkpoint.
 */
const PAGE_SIZE = 10;
const HOUR = 3_600_000;

const test = collectorTest('cdr-findings', {
  CDR_PAGE_SIZE: String(PAGE_SIZE),
  CDR_LAG_MINUTES: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  // Individual alerts for every severe finding of a day; the digest test sets its own limit.
  // (The default, 50, is below what some days of simulated data hold.)
  ALERT_MAX_PER_RUN: '1000',
});

afterEach(() => {
  vi.useRealTimers();
});

interface Summary {
  windows: Array<{ startAt: string; endAt: string; complete: boolean }>;
  pages: number;
  newFindings: number;
  alertsPublished: number;
  digestsPublished: number;
  stoppedEarly?: string;
}

const run = async (handler: Handler, event: unknown = {}, remainingMs?: number) =>
  (await handler(event, lambdaContext(remainingMs))) as Summary;

/** What the API serves now for [start, end]: the truth the lake must match. */
function served(sim: Simulator, startAt: string, endAt: string) {
  const start = Date.parse(startAt);
  const end = Date.parse(endAt);
  return sim.data.findings().filter((finding) => {
    const at = Date.parse(finding.timestamp);
    return at >= start && at <= end;
  });
}

const curated = (lake: TestLake) =>
  lake.records<{ uuid: string; timestamp: string; lake_ingested_at: string }>('curated/cdr_findings/');
const checkpoint = (lake: TestLake) => lake.json<Checkpoint>(cdrKeys.checkpoint);
const severe = (findings: Array<{ uuid: string; severity: number }>) =>
  findings.filter((finding) => finding.severity >= 3).map((finding) => finding.uuid);

function expectOnce(uuids: string[], expected: string[]) {
  expect(uuids.length).toBe(new Set(uuids).size);
  expect(new Set(uuids)).toEqual(new Set(expected));
}

const alertKeys = (alerts: ReceivedAlert[]) => alerts.map((alert) => alert.attributes.alertKey ?? '');

describe('cdr-findings', () => {
  test('lands every finding of the first window once, archives raw pages as served, alerts HIGH and above once and checkpoints', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    const summary = await run(handler);

    const window = summary.windows[0];
    expect(summary.windows).toHaveLength(1);
    if (!window) throw new Error('no window');
    expect(Date.parse(window.endAt) - Date.parse(window.startAt)).toBe(24 * HOUR);
    const expected = served(sim, window.startAt, window.endAt);
    expect(expected.length).toBeGreaterThan(PAGE_SIZE * 3);

    // Curated: every served finding once, API fields unchanged, partitioned by its own date.
    const records = await curated(lake);
    expectOnce(
      records.map((record) => record.uuid),
      expected.map((finding) => finding.uuid),
    );
    const byUuid = new Map(expected.map((finding) => [finding.uuid, finding]));
    for (const record of records) {
      const { lake_ingested_at, lake_raw_key, ...fields } = record as typeof record & {
        lake_raw_key: string;
      };
      expect(fields).toEqual(byUuid.get(record.uuid));
      expect(Date.parse(lake_ingested_at)).not.toBeNaN();
      expect(lake_raw_key).toMatch(/^raw\/cdr-findings\//);
    }
    for (const key of await lake.keys('curated/cdr_findings/')) {
      const day = /dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
      const dayRecords = (await lake.records<{ timestamp: string }>(key)).map((r) => r.timestamp);
      for (const timestamp of dayRecords) expect(new Date(timestamp).toISOString().slice(0, 10)).toBe(day);
    }

    // Raw: one object per page, byte-for-byte what the API returned for that request.
    const rawKeys = await lake.keys('raw/cdr-findings/');
    expect(rawKeys).toHaveLength(
      Math.ceil(expected.length / PAGE_SIZE) + (expected.length % PAGE_SIZE === 0 ? 1 : 0),
    );
    const firstPage = gunzipSync(await lake.bytes(rawKeys[0] ?? '')).toString('utf8');
    expect(JSON.parse(firstPage).content.map((f: { uuid: string }) => f.uuid)).toEqual(
      expected.slice(0, PAGE_SIZE).map((finding) => finding.uuid),
    );

    // Alerts: one per HIGH/CRITICAL finding, with the documented attributes and bodies.
    const alerts = await lake.alerts();
    expectOnce(alertKeys(alerts), severe(expected));
    for (const alert of alerts) {
      const finding = byUuid.get(alert.attributes.alertKey ?? '');
      expect(alert.attributes).toMatchObject({
        source: 'cdr-findings',
        severity: finding?.severity === 4 ? 'CRITICAL' : 'HIGH',
        cloudType: finding?.cloudType,
        cspAccount: finding?.cspAccount,
      });
      expect(alert.subject?.length).toBeLessThan(100);
      expect(alert.email).toContain(finding?.eventMessage ?? '???');
      expect(alert.chat).toMatchObject({
        version: '1.0',
        source: 'custom',
        content: { textType: 'client-markdown' },
      });
    }

    expect(await checkpoint(lake)).toMatchObject({ watermark: window.endAt });
    expect((await checkpoint(lake)).pending).toBeUndefined();
  });

  test('re-reads the lookback on later runs (legacy CDR_LOOKBACK_MINUTES): late findings land and alert once, nothing else twice', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    vi.setSystemTime(start);
    const late = sim.control.addLateFindings(6, { timestamp: new Date(start - 2 * HOUR), delayMinutes: 150 });
    const handler = await handlerWith({ CDR_LOOKBACK_MINUTES: '720', CDR_RECONCILE_DAYS: '0' });
    const first = await run(handler);
    const seenFirst = (await curated(lake)).map((record) => record.uuid);
    for (const finding of late) expect(seenFirst).not.toContain(finding.uuid);

    // The next scheduled runs, 30 minutes apart: the late findings become visible in between.
    const runs: Summary[] = [];
    for (let step = 1; step <= 4; step++) {
      vi.setSystemTime(start + step * 30 * 60_000);
      runs.push(await run(handler));
    }
    const lastWindow = runs.at(-1)?.windows.at(-1);
    expect(lastWindow?.startAt).toBe(new Date(start + 3 * 30 * 60_000 - 12 * HOUR).toISOString());

    const records = await curated(lake);
    const firstWindow = first.windows[0];
    if (!firstWindow || !lastWindow) throw new Error('missing windows');
    const expected = served(sim, firstWindow.startAt, lastWindow.endAt);
    expect(expected.map((finding) => finding.uuid)).toEqual(
      expect.arrayContaining(late.map((finding) => finding.uuid)),
    );
    expectOnce(
      records.map((record) => record.uuid),
      expected.map((finding) => finding.uuid),
    );
    expectOnce(alertKeys(await lake.alerts()), severe(expected));
  });

  test('survives 5xx, connection resets and a JWT that expires mid-run without losing or duplicating anything', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    sim.control.failNext(2, 503);
    sim.control.afterRequests(4, () => {
      sim.control.resetNext(1);
      sim.control.expireTokens();
    });
    sim.control.afterRequests(8, () => sim.control.failNext(1, 502));
    const summary = await run(handler);
    const window = summary.windows[0];
    if (!window) throw new Error('no window');
    expect(window.complete).toBe(true);
    expect(sim.stats.authCalls).toBe(2);
    const expected = served(sim, window.startAt, window.endAt);
    expectOnce(
      (await curated(lake)).map((record) => record.uuid),
      expected.map((finding) => finding.uuid),
    );
    expectOnce(alertKeys(await lake.alerts()), severe(expected));
  });

  describe('with 1 s per call', () => {
    test.override('simulatorOptions', { latencyMs: 1000 });

    test('stops before the Lambda deadline mid-window and the next run resumes exactly where it stopped', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const handler = await handlerWith({ QUALYS_REQUEST_TIMEOUT_MS: '2000' });
      // 10 s are kept back for the checkpoint and alerts and a call may take 2 s: with 16 s left the
      // run has about 4 s to start 1 s calls, two at a time: some of the window's 15 pages, never all.
      const partial = await run(handler, {}, 16_000);
      expect(partial.stoppedEarly).toMatch(/deadline/);
      expect(partial.pages).toBeGreaterThan(0);
      const saved = await checkpoint(lake);
      expect(saved.watermark).toBeUndefined();
      expect(saved.pending?.nextCursor).toBe(partial.pages * PAGE_SIZE);
      const landed = await curated(lake);
      expect(landed).toHaveLength(partial.newFindings);

      const rest = await run(handler);
      const window = rest.windows[0];
      if (!window) throw new Error('no window');
      expect(window.startAt).toBe(saved.pending?.startAt);
      expect((await checkpoint(lake)).watermark).toBe(saved.pending?.endAt);
      const expected = served(sim, window.startAt, window.endAt);
      expectOnce(
        (await curated(lake)).map((record) => record.uuid),
        expected.map((finding) => finding.uuid),
      );
      expectOnce(alertKeys(await lake.alerts()), severe(expected));
    });

    test('keeps time to merge a journal an earlier run left: no call starts that would leave too little', async ({
      lake,
      aws,
      handlerWith,
    }) => {
      // 600 entries an earlier run never merged (only the count matters here): with 25 ms kept per
      // entry, 15 s, and 16 s left, of which 10 are the finish margin, no call can start. Without
      // the entries the same run reads several pages (the test above).
      const prefix = placed(cdrKeys.journalPrefix, lake.subscription);
      for (let batch = 0; batch < 60; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            aws.s3.send(
              new PutObjectCommand({
                Bucket: lake.bucket,
                Key: `${prefix}${keyTime('2026-01-01T00:00:00.000Z')}-00000000-${String(batch * 10 + index).padStart(6, '0')}.json`,
                Body: JSON.stringify({ seen: {}, alerts: [] }),
              }),
            ),
          ),
        );
      }
      const handler = await handlerWith({ QUALYS_REQUEST_TIMEOUT_MS: '2000' });

      const partial = await run(handler, {}, 16_000);

      expect(partial.stoppedEarly).toMatch(/deadline/);
      expect(partial.stoppedEarly).toMatch(/15\.0 s kept to merge 600 journal entries/);
      expect(partial.pages).toBe(0);
      // Merged in this run: the next one starts with nothing to read back.
      expect(await lake.keys(cdrKeys.journalPrefix)).toEqual([]);
    });
  });

  describe('with an announced rate limit of 6 calls an hour', () => {
    // No late data here: findings that become visible mid-window are the settle reads' job (cdr-late-data).
    test.override('simulatorOptions', {
      rateLimit: { limit: 6, windowSec: 3600, concurrency: 2 },
      cdr: { lateFindings: 0 },
    });

    test('never draws a 409/429 when limits are announced: it stops at the budget and resumes when the window reopens', async ({
      aws,
      sim,
      lake,
      handlerWith,
    }) => {
      const summaries: Summary[] = [];
      for (let attempt = 0; attempt < 6; attempt++) {
        // A fresh execution environment each hour, as the schedule would bring.
        const handler = await handlerWith();
        const summary = await run(handler);
        summaries.push(summary);
        if (!summary.stoppedEarly) break;
        expect(summary.stoppedEarly).toMatch(/budget/);
        sim.control.advanceClock(3600_000);
        // The collectors read the call-budget ledger by their own clock: an hour passes there too.
        await ageLedger(aws, lake.bucket, 3600_000);
      }
      expect(summaries.length).toBeGreaterThan(1);
      expect(summaries.at(-1)?.stoppedEarly).toBeUndefined();
      expect(sim.stats.rateLimited).toBe(0);
      const window = summaries[0]?.windows[0];
      if (!window) throw new Error('no window');
      const expected = served(sim, window.startAt, window.endAt);
      expectOnce(
        (await curated(lake)).map((record) => record.uuid),
        expected.map((finding) => finding.uuid),
      );
      expectOnce(alertKeys(await lake.alerts()), severe(expected));
    });
  });

  test('waits out a 429 from another consumer of the subscription and carries on', async ({
    sim,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    sim.control.afterRequests(3, () => sim.control.failNext(1, 429));
    const summary = await run(handler);
    expect(summary.stoppedEarly).toBeUndefined();
    expect(summary.windows[0]?.complete).toBe(true);
  });

  test('sends one digest listing every uuid instead of individual alerts above ALERT_MAX_PER_RUN', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith({ ALERT_MAX_PER_RUN: '3' });
    const summary = await run(handler);
    const window = summary.windows[0];
    if (!window) throw new Error('no window');
    const expectedSevere = severe(served(sim, window.startAt, window.endAt));
    expect(expectedSevere.length).toBeGreaterThan(3);
    const alerts = await lake.alerts();
    expect(alerts).toHaveLength(1);
    const [digest] = alerts;
    expect(digest?.attributes.alertKey).toBeUndefined();
    expect(digest?.attributes.source).toBe('cdr-findings');
    for (const uuid of expectedSevere) expect(digest?.email).toContain(uuid);
    expect(summary.digestsPublished).toBe(1);
  });

  test('runs an explicit {startAt, endAt} window without touching the incremental checkpoint', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    await run(handler);
    const before = await checkpoint(lake);
    const startAt = new Date(Date.now() - 40 * HOUR).toISOString();
    const endAt = new Date(Date.now() - 30 * HOUR).toISOString();
    const replay = await run(handler, { startAt, endAt });
    expect(replay.windows).toEqual([expect.objectContaining({ startAt, endAt, complete: true })]);
    expect(await checkpoint(lake)).toEqual(before);
    const uuids = (await curated(lake)).map((record) => record.uuid);
    expect(uuids.length).toBe(new Set(uuids).size);
    for (const finding of served(sim, startAt, endAt)) expect(uuids).toContain(finding.uuid);
  });

  test('rejects a bad window event with an error naming the field', async ({ handlerWith }) => {
    const handler = await handlerWith();
    await expect(run(handler, { startAt: 'yesterday', endAt: new Date().toISOString() })).rejects.toThrow(
      /startAt/,
    );
  });

  test('fails on a malformed page with an error naming the endpoint and status, keeping every page before it', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    sim.control.afterRequests(3, () => sim.control.malformedNext(1));
    await expect(run(handler)).rejects.toThrow(
      /GET \/cdr-api\/rest\/v1\/findings answered 200: the body is not JSON/,
    );
    // Pages are read two at a time, and a call that takes over the slot of one that ended goes out
    // without waiting for the ledger write a fresh slot waits for, so the fourth call to arrive may
    // be for the third, fourth or fifth page: the run keeps every page before the malformed one, and
    // nothing after it.
    const calls = sim.stats.calls.filter((call) => call.path === '/cdr-api/rest/v1/findings');
    const malformed = Number(calls[3]?.query.offSet);
    expect([2 * PAGE_SIZE, 3 * PAGE_SIZE, 4 * PAGE_SIZE]).toContain(malformed);
    const saved = await checkpoint(lake);
    expect(saved.pending?.nextCursor).toBe(malformed);
    const rawKeys = await lake.keys('raw/cdr-findings/');
    expect(rawKeys.filter((key) => !key.includes('/unreadable/'))).toHaveLength(malformed / PAGE_SIZE);
    // Archive first, then judge: the unusable body is kept as it was served.
    const unreadable = rawKeys.filter((key) => key.startsWith('raw/cdr-findings/unreadable/'));
    expect(unreadable).toHaveLength(1);
    const kept = gunzipSync(await lake.bytes(unreadable[0] ?? '')).toString('utf8');
    expect(kept.startsWith('{"content":[')).toBe(true);
    expect(() => JSON.parse(kept)).toThrow();

    const summary = await run(handler);
    expect(summary.windows[0]?.complete).toBe(true);
    const expected = served(sim, saved.pending?.startAt ?? '', saved.pending?.endAt ?? '');
    expectOnce(
      (await curated(lake)).map((record) => record.uuid),
      expected.map((finding) => finding.uuid),
    );
    expectOnce(alertKeys(await lake.alerts()), severe(expected));
  });

  test('never writes the password or a JWT to S3 or an alert, nor to the logs', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const output: string[] = [];
    const capture = (chunk: unknown) => {
      output.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const handler = await handlerWith({ POWERTOOLS_LOG_LEVEL: 'DEBUG' });
      sim.control.afterRequests(2, () => sim.control.expireTokens());
      sim.control.afterRequests(4, () => sim.control.malformedNext(1));
      await run(handler).catch((error: Error) => output.push(error.message, String(error.stack)));
      await run(handler);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const tokens = sim.data.issuedTokens();
    expect(tokens.length).toBeGreaterThan(1);
    const haystacks = [output.join('\n')];
    for (const key of await lake.keys()) {
      const bytes = await lake.bytes(key);
      haystacks.push(
        bytes[0] === 0x1f && bytes[1] === 0x8b
          ? gunzipSync(bytes).toString('utf8')
          : Buffer.from(bytes).toString('utf8'),
      );
    }
    haystacks.push(...(await lake.alerts()).map((alert) => JSON.stringify(alert)));
    for (const text of haystacks) {
      expect(text).not.toContain('demo-password');
      for (const token of tokens) expect(text).not.toContain(token);
    }
  });
});
