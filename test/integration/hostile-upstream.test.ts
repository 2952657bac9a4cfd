import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, vi } from 'vitest';
import type { CdrCheckpoint } from '../../functions/cdr-findings/windows';
import type { SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import type { SdrReportsSummary } from '../../functions/sdr-reports/collector';
import { DEFAULT_CREDENTIALS, type Simulator } from '../simulator/index';
import { collectorTest, type TestLake } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';
import type { ReceivedAlert } from '../support/local-aws';
import { type RecordingServer, startRecordingServer } from '../support/recording-server';

/**
 * The built bundles against a gateway that misbehaves on purpose (issue 9): redirects of the login
 * and of a call to another host, items that are not findings, ids that are dot segments, dates
 * without a zone, a backfill without alerts. After each: what the other host received (nothing),
 * what landed in the bucket, what reached the alert queue, and the checkpoint.
 */

const FINDINGS = '/cdr-api/rest/v1/findings';
const HOUR = 3_600_000;

afterEach(() => {
  vi.useRealTimers();
});

const cdrTest = collectorTest('cdr-findings', {
  CDR_LAG_MINUTES: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_MAX_RETRIES: '1',
  ALERT_MAX_PER_RUN: '1000',
});
const reportsTest = collectorTest('sdr-reports', { QUALYS_REQUEST_TIMEOUT_MS: '5000' });
const inventoryTest = collectorTest('sdr-inventory', {
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_CALL_RESERVE: '0',
});

interface CdrSummary {
  pages: number;
  windows: Array<{ startAt: string; endAt: string; complete: boolean }>;
  findings: number;
  newFindings: number;
  rejected: number;
  curatedWithoutAlert: number;
  alertedAfterBackfill: number;
  alertsPublished: number;
}

const invoke = async <T>(handler: Handler, event: unknown = {}) =>
  (await handler(event, lambdaContext())) as T;

/** The error a run failed with; a run that succeeds fails the test. */
const rejection = (run: Promise<unknown>): Promise<Error> =>
  run.then(
    () => Promise.reject(new Error('expected the run to fail, but it succeeded')),
    (error: Error) => error,
  );

/** What the API serves now for [start, end]. */
function served(sim: Simulator, startAt: string, endAt: string) {
  const [start, end] = [Date.parse(startAt), Date.parse(endAt)];
  return sim.data.findings().filter((finding) => {
    const at = Date.parse(finding.timestamp);
    return at >= start && at <= end;
  });
}

const curatedUuids = async (lake: TestLake) =>
  (await lake.records<{ uuid: string }>('curated/cdr_findings/')).map((record) => record.uuid);
const alertKeys = (alerts: ReceivedAlert[]) => alerts.map((alert) => alert.attributes.alertKey ?? '');
const severeUuids = (findings: Array<{ uuid: string; severity: number }>, min = 3) =>
  findings.filter((finding) => finding.severity >= min).map((finding) => finding.uuid);

/** Every object of the bucket as text (gunzipped), to look for what must not be there. */
async function bucketText(lake: TestLake): Promise<string> {
  const texts: string[] = [];
  for (const key of await lake.keys()) {
    const bytes = await lake.bytes(key);
    const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
    texts.push(`${key}\n${(isGzip ? gunzipSync(bytes) : Buffer.from(bytes)).toString('utf8')}`);
  }
  return texts.join('\n');
}

/** The items set aside under a prefix, with their reasons. */
async function setAside(lake: TestLake, prefix: string) {
  const items: Array<{ index: number; reason: string; record: unknown }> = [];
  for (const key of await lake.keys(prefix))
    items.push(...(await lake.json<{ rejected: typeof items }>(key)).rejected);
  return items;
}

/** A forged page: what another host would hand the collector if it followed a redirect. */
const forgedPage = (at: Date) => ({
  content: [
    {
      uuid: 'forged-0000-4000-8000-000000000000',
      timestamp: at.toISOString(),
      severity: 4,
      cloudType: 'AWS',
      cspAccount: '000000000000',
      eventMessage: 'forged by another host',
    },
  ],
  totalElements: 1,
  last: true,
});

describe('a gateway that redirects', () => {
  let other: RecordingServer;
  beforeEach(async () => {
    other = await startRecordingServer(forgedPage(new Date()));
  });
  afterEach(async () => {
    await other.close();
  });

  cdrTest(
    'a login answered 308 to another host: the run fails naming status and host, the other host receives nothing',
    async ({ sim, lake, handlerWith }) => {
      sim.control.redirectAuth(`${other.url}/auth`, 308);

      const error = await rejection(invoke(await handlerWith()));

      expect(error.message).toBe(
        `POST /auth answered 308: redirect to host ${other.url} refused: ` +
          'qualys-lake follows no redirect (check baseUrl in the Qualys secret)',
      );
      expect(other.received).toEqual([]);
      // Not retried, and not taken for a wrong password (which would re-read the secret and log in again).
      expect(sim.stats.authCalls).toBe(1);
      expect(sim.stats.requests).toBe(0);
      expect(await lake.keys('raw/')).toEqual([]);
      expect(await lake.keys('curated/')).toEqual([]);
      expect(await lake.alerts()).toEqual([]);
      expect(`${error.message}\n${error.stack}\n${await bucketText(lake)}`).not.toContain(
        DEFAULT_CREDENTIALS.password,
      );
    },
  );

  cdrTest(
    'a findings call redirected to another origin: nothing from there lands or alerts; the run fails naming status and host, and the next one finishes the window',
    async ({ sim, lake, handlerWith }) => {
      const handler = await handlerWith({ CDR_PAGE_SIZE: '10' });
      // The first page is served; the call after it is sent elsewhere.
      sim.control.afterRequests(1, () => sim.control.redirectNext(1, other.url, 302));

      const error = await rejection(invoke(handler));

      expect(error.message).toMatch(
        new RegExp(`^GET ${FINDINGS} answered 302: redirect to host ${other.url} refused`),
      );
      expect(error.message).not.toMatch(/offSet|startAt|query=/);
      expect(other.received).toEqual([]);
      const saved = await lake.json<CdrCheckpoint>('state/cdr-findings/checkpoint.json');
      expect(saved.watermark).toBeUndefined();
      expect(saved.pending?.nextCursor).toBeGreaterThan(0);
      const text = await bucketText(lake);
      expect(text).not.toContain('forged');
      const firstAlerts = await lake.alerts();
      expect(alertKeys(firstAlerts)).not.toContain(forgedPage(new Date()).content[0]?.uuid);

      const summary = await invoke<CdrSummary>(handler);
      const window = summary.windows[0];
      if (!window) throw new Error('no window');
      expect(window).toMatchObject({ startAt: saved.pending?.startAt, complete: true });
      const expected = served(sim, window.startAt, window.endAt);
      const uuids = await curatedUuids(lake);
      expect(uuids.length).toBe(new Set(uuids).size);
      expect(new Set(uuids)).toEqual(new Set(expected.map((finding) => finding.uuid)));
      const alerted = [...alertKeys(firstAlerts), ...alertKeys(await lake.alerts())];
      expect(alerted.sort()).toEqual(severeUuids(expected).sort());
      expect(other.received).toEqual([]);
    },
  );
});

describe('a page with a null and a string among 798 findings, served that way every time', () => {
  cdrTest.override('simulatorOptions', { cdr: { historyHours: 21, findingsPerHour: 38, lateFindings: 0 } });

  cdrTest(
    'the 798 land and alert, the 2 are set aside with their reasons, and the watermark moves',
    async ({ sim, lake, handlerWith }) => {
      sim.control.injectItems(FINDINGS, [null, 'not a finding'], 400);
      // New windows only (no settle read or reconcile), so each run reads one page that holds the two.
      const settings = {
        CDR_PAGE_SIZE: '1000',
        ALERT_MIN_SEVERITY: 'CRITICAL',
        CDR_LATE_MINUTES: '0',
        CDR_RECONCILE_DAYS: '0',
      };
      const handler = await handlerWith(settings);

      const first = await invoke<CdrSummary>(handler);

      const window = first.windows[0];
      if (!window) throw new Error('no window');
      const expected = served(sim, window.startAt, window.endAt);
      expect(expected).toHaveLength(798);
      expect(first).toMatchObject({ findings: 800, newFindings: 798, rejected: 2 });
      const raw = await lake.keys('raw/cdr-findings/');
      expect(raw).toHaveLength(1);
      const page = JSON.parse(gunzipSync(await lake.bytes(raw[0] ?? '')).toString('utf8')) as {
        content: unknown[];
      };
      expect(page.content.slice(400, 402)).toEqual([null, 'not a finding']);
      const uuids = await curatedUuids(lake);
      expect(uuids).toHaveLength(798);
      expect(new Set(uuids)).toEqual(new Set(expected.map((finding) => finding.uuid)));
      const critical = severeUuids(expected, 4);
      expect(critical.length).toBeGreaterThan(0);
      expect(alertKeys(await lake.alerts()).sort()).toEqual(critical.sort());
      expect(
        (await setAside(lake, 'state/cdr-findings/rejected/')).map(({ index, record, reason }) => [
          index,
          record,
          reason,
        ]),
      ).toEqual([
        [400, null, '(root): Invalid type: Expected Object but received null'],
        [401, 'not a finding', '(root): Invalid type: Expected Object but received "not a finding"'],
      ]);
      const saved = await lake.json<CdrCheckpoint>('state/cdr-findings/checkpoint.json');
      expect(saved.watermark).toBe(window.endAt);

      // Two minutes later (the collector's clock and the simulator's), the next run meets the same
      // two again in its new window: set aside again, and it moves on.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 2 * 60_000);
      const second = await invoke<CdrSummary>(await handlerWith(settings));
      expect(second).toMatchObject({ pages: 1, rejected: 2, newFindings: 0 });
      const moved = await lake.json<CdrCheckpoint>('state/cdr-findings/checkpoint.json');
      expect(Date.parse(moved.watermark ?? '')).toBeGreaterThan(Date.parse(window.endAt));
      expect(await lake.alerts()).toEqual([]);
    },
  );
});

describe('dates that are not ISO-8601 with a zone', () => {
  cdrTest(
    'a finding stamped without a zone, or "1", is set aside; the others land',
    async ({ sim, lake, handlerWith }) => {
      const stamp = new Date(sim.control.now().getTime() - HOUR).toISOString();
      const noZone = {
        ...forgedPage(new Date()).content[0],
        uuid: 'no-zone',
        timestamp: stamp.replace('Z', ''),
      };
      const one = { ...noZone, uuid: 'one', timestamp: '1' };
      sim.control.injectItems(FINDINGS, [noZone, one]);

      const summary = await invoke<CdrSummary>(await handlerWith({ CDR_PAGE_SIZE: '100' }));

      const window = summary.windows[0];
      if (!window) throw new Error('no window');
      expect(summary.rejected).toBe(2);
      const uuids = await curatedUuids(lake);
      expect(uuids).not.toContain('no-zone');
      expect(uuids).not.toContain('one');
      expect(new Set(uuids)).toEqual(
        new Set(served(sim, window.startAt, window.endAt).map((finding) => finding.uuid)),
      );
      expect(
        (await setAside(lake, 'state/cdr-findings/rejected/')).map(({ record, reason }) => [
          (record as { uuid: string }).uuid,
          reason,
        ]),
      ).toEqual([
        ['no-zone', 'timestamp: must be an ISO-8601 date-time with a zone (Z or ±hh:mm)'],
        ['one', 'timestamp: must be an ISO-8601 date-time with a zone (Z or ±hh:mm)'],
      ]);
      expect(alertKeys(await lake.alerts())).not.toContain('no-zone');
    },
  );
});

describe('plain http to the gateway', () => {
  cdrTest(
    'is refused unless QUALYS_ALLOW_HTTP_LOOPBACK=true, before anything is sent',
    async ({ sim, lake, handlerWith }) => {
      const error = await rejection(invoke(await handlerWith({ QUALYS_ALLOW_HTTP_LOOPBACK: 'false' })));
      expect(error.message).toBe(
        `secret: baseUrl ${sim.url}: plain http is allowed for a loopback host only with QUALYS_ALLOW_HTTP_LOOPBACK=true`,
      );
      expect(sim.stats.authCalls).toBe(0);
      expect(await lake.keys('raw/')).toEqual([]);
    },
  );
});

describe('a backfill without alerts', () => {
  cdrTest(
    'never silences what the scheduled runs alert: they alert what it curated in the time they read, once',
    async ({ sim, lake, handlerWith }) => {
      const now = sim.control.now().getTime();
      // Scheduled runs that read new time only (settle reads and the daily reconcile alert backfilled
      // findings the same way: unit tests), so what they read does not depend on the hour of the day.
      const handler = await handlerWith({
        CDR_PAGE_SIZE: '50',
        CDR_LATE_MINUTES: '0',
        CDR_RECONCILE_DAYS: '0',
      });
      const backfill = {
        startAt: new Date(now - 30 * HOUR).toISOString(),
        endAt: new Date(now - HOUR).toISOString(),
      };

      const quiet = await invoke<CdrSummary>(handler, { ...backfill, alerts: false });
      expect(await lake.alerts()).toEqual([]);
      const backfilled = served(sim, backfill.startAt, backfill.endAt);
      expect(quiet.curatedWithoutAlert).toBe(severeUuids(backfilled).length);

      // The first scheduled run reads the last 24 hours (CDR_INITIAL_LOOKBACK_HOURS).
      const scheduled = await invoke<CdrSummary>(handler);
      const window = scheduled.windows[0];
      if (!window) throw new Error('no window');
      const recent = served(sim, window.startAt, window.endAt);
      const backfilledRecent = severeUuids(backfilled).filter((uuid) =>
        recent.some((finding) => finding.uuid === uuid),
      );
      expect(backfilledRecent.length).toBeGreaterThan(0);
      expect(scheduled.alertedAfterBackfill).toBe(backfilledRecent.length);
      const alerted = alertKeys(await lake.alerts());
      expect(alerted.length).toBe(new Set(alerted).size);
      expect(alerted.sort()).toEqual(severeUuids(recent).sort());
      // Older than anything a scheduled run reads: the backfill kept those quiet, as asked.
      const older = severeUuids(backfilled).filter(
        (uuid) => !recent.some((finding) => finding.uuid === uuid),
      );
      expect(older.length).toBeGreaterThan(0);
      for (const uuid of older) expect(alerted).not.toContain(uuid);

      await invoke<CdrSummary>(handler);
      expect(await lake.alerts()).toEqual([]);
    },
  );
});

describe('report ids that are dot segments', () => {
  reportsTest.override('simulatorOptions', { sdr: { reports: 4, bigReportSizeBytes: 300_000 } });

  reportsTest(
    'a report listed with fileUuid ".." or "%2e%2e" is set aside, and no request goes to the path it resolves to',
    async ({ sim, lake, handlerWith }) => {
      const listed = (fileUuid: string) => ({
        fileUuid,
        reportName: `dots ${fileUuid}`,
        status: 'completed',
        fileFormat: 'csv',
        createdAt: sim.control.now().toISOString(),
      });
      sim.control.injectItems('/sdr/api/v1/reports', [listed('..'), listed('%2e%2e')]);

      const summary = await invoke<SdrReportsSummary>(await handlerWith());

      const completed = sim.data.sdr.reports.filter((report) => report.status === 'completed');
      expect(summary).toMatchObject({ rejected: 2, downloaded: completed.length, failedDownloads: [] });
      const downloadPaths = new Set(
        completed.map((report) => `/sdr/api/v1/report/download/${report.fileUuid}`),
      );
      for (const { path } of sim.stats.calls)
        expect(path === '/sdr/api/v1/reports' || downloadPaths.has(path), path).toBe(true);
      expect((await setAside(lake, 'state/sdr-reports/rejected/')).map(({ reason }) => reason)).toEqual([
        'fileUuid: cannot be used in the download path: it is the dot segment ".."',
        'fileUuid: cannot be used in the download path: it is the dot segment ".." once percent-decoded',
      ]);
      const metadata = (await lake.keys('reports/')).filter((key) => key.endsWith('/metadata.json'));
      expect(metadata).toHaveLength(completed.length);
    },
  );
});

describe('connector ids that are dot segments', () => {
  inventoryTest.override('simulatorOptions', {
    sdr: { documents: 5, users: 5, groups: 2, applications: 2, meetings: 2 },
  });

  inventoryTest(
    'a connector listed with id ".." or "%2E%2E": its scanners are set aside, never asked for, and the snapshot completes',
    async ({ sim, lake, handlerWith }) => {
      const connector = (id: string) => ({ id, connectorType: 'ZOOM', name: `dots ${id}`, isEnabled: 1 });
      sim.control.injectItems('/sdr/api/v1/connectors', [connector('..'), connector('%2E%2E')]);

      const summary = await invoke<SdrInventorySummary>(await handlerWith());

      expect(summary).toMatchObject({ completedSnapshot: true, rejected: 2 });
      const scannerCalls = sim.stats.calls.filter(
        ({ path }) => path.includes('scanners') || !path.startsWith('/sdr/api/v1/'),
      );
      for (const { path } of scannerCalls)
        expect(path).toMatch(/^\/sdr\/api\/v1\/connectors\/\d+\/scanners$/);
      expect(scannerCalls).toHaveLength(sim.data.sdr.connectors.length);
      expect(sim.stats.calls.map(({ path }) => path)).not.toContain('/sdr/api/v1/connectors/scanners');
      expect(
        (await setAside(lake, 'state/sdr-inventory/rejected/')).map(({ record, reason }) => [record, reason]),
      ).toEqual([
        ['%2E%2E', 'connectorId cannot be a path segment: it is the dot segment ".." once percent-decoded'],
        ['..', 'connectorId cannot be a path segment: it is the dot segment ".."'],
      ]);
      // Listed as served: both are in the snapshot's connectors.
      const connectors = await lake.records<{ id: unknown }>('curated/sdr_connectors/');
      expect(connectors.map((record) => record.id)).toEqual(expect.arrayContaining(['..', '%2E%2E']));
    },
  );
});
