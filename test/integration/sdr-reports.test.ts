import { createHash } from 'node:crypto';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect } from 'vitest';
import { scopeKey } from '../../functions/core/subscription';
import type { SdrReportsSummary as SdrReportsRunSummary } from '../../functions/sdr-reports/collector';
import type { ReportMetadata } from '../../functions/sdr-reports/model';
import { DEFAULT_CREDENTIALS, type SdrReport, type Simulator } from '../simulator';
import { collectorTest, type TestLake } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';

const DOWNLOAD = '/sdr/api/v1/report/download/';
const LIST = '/sdr/api/v1/reports';
const MiB = 1024 * 1024;

/** The simulator serves 8 reports: 6 completed, one of them 12 MiB. */
const test = collectorTest('sdr-reports', {
  SDR_PAGE_SIZE: '200',
  SDR_REPORTS_MAX_PER_RUN: '20',
  SDR_MAX_CALLS_PER_RUN: '60',
  QUALYS_CALL_RESERVE: '0',
});

const invoke = async (handler: Handler) => (await handler({}, lambdaContext())) as SdrReportsRunSummary;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the run to fail, but it succeeded');
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const folder = (report: SdrReport) =>
  `reports/sdr-reports/dt=${report.createdAt.slice(0, 10)}/${report.fileUuid}/`;
const metadataKey = (report: SdrReport) => `${folder(report)}metadata.json`;
const fileKey = (report: SdrReport) => `${folder(report)}report.csv`;
const curatedKey = (report: SdrReport) =>
  `curated/sdr_reports/dt=${report.createdAt.slice(0, 10)}/${report.fileUuid}.json.gz`;

/** Downloads a report straight from the simulator, as a user with the credentials would. */
async function directDownload(simulator: Simulator, fileUuid: string): Promise<Uint8Array> {
  const auth = await fetch(`${simulator.url}/auth`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...DEFAULT_CREDENTIALS, token: 'true' }),
  });
  const jwt = await auth.text();
  const response = await fetch(`${simulator.url}${DOWNLOAD}${encodeURIComponent(fileUuid)}`, {
    headers: { Authorization: `Bearer ${jwt}` },
  });
  expect(response.status).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

async function exists(lake: TestLake, key: string): Promise<boolean> {
  return (await lake.keys(key)).includes(key);
}

const downloadCalls = (simulator: Simulator) =>
  Object.entries(simulator.stats.byPath)
    .filter(([path]) => path.startsWith(DOWNLOAD))
    .map(([path, count]) => [decodeURIComponent(path.slice(DOWNLOAD.length)), count] as const);

describe('sdr-reports Lambda against the simulator', () => {
  test('archives every completed report once, byte for byte, with metadata; a second run downloads nothing', async ({
    aws,
    sim,
    lake,
    handlerWith,
  }) => {
    const reports = sim.data.sdr.reports;
    const completed = reports.filter((report) => report.status === 'completed');
    const others = reports.filter((report) => report.status !== 'completed');
    expect(completed).toHaveLength(6);
    expect(others.map((report) => report.status).sort()).toEqual(['failed', 'inprogress']);

    const handler = await handlerWith();
    const summary = await invoke(handler);
    expect(summary).toMatchObject({
      listingComplete: true,
      pages: 1,
      reportsListed: 8,
      completed: 6,
      downloaded: 6,
      failedDownloads: [],
      notCompleted: { inprogress: 1, failed: 1 },
      apiCalls: 7,
    });
    expect(summary.stoppedEarly).toBeUndefined();
    expect(Object.fromEntries(downloadCalls(sim))).toEqual(
      Object.fromEntries(completed.map((report) => [report.fileUuid, 1])),
    );

    // Exactly a file and its metadata per completed report; nothing for the others.
    expect(await lake.keys('reports/')).toEqual(
      completed.flatMap((report) => [metadataKey(report), fileKey(report)]).sort(),
    );
    for (const report of completed) {
      const direct = await directDownload(sim, report.fileUuid);
      const stored = await lake.bytes(fileKey(report));
      expect(stored.byteLength).toBe(sim.data.reportSize(report.fileUuid));
      expect(sha256(stored)).toBe(sha256(direct));
      const metadata = await lake.json<ReportMetadata>(metadataKey(report));
      expect(metadata).toMatchObject({
        report: JSON.parse(JSON.stringify(report)),
        file: {
          key: scopeKey(fileKey(report), lake.subscription),
          contentType: 'text/csv',
          bytes: direct.byteLength,
          sha256: sha256(direct),
        },
        runId: summary.runId,
      });
      expect(metadata.file.fileName).toMatch(/\.csv$/);
    }

    // The 12 MiB report is over fauxqs' 11 MiB single-PUT limit: it landed as a multipart upload.
    const big = reports[1] as SdrReport;
    expect(sim.data.reportSize(big.fileUuid)).toBeGreaterThan(11 * MiB);
    const head = await aws.s3.send(
      new HeadObjectCommand({ Bucket: lake.bucket, Key: scopeKey(fileKey(big), lake.subscription) }),
    );
    expect(head.ETag).toMatch(/-2"$/);

    const curated = await lake.records('curated/sdr_reports/');
    expect(curated.map((record) => record.fileUuid).sort()).toEqual(
      completed.map((report) => report.fileUuid).sort(),
    );
    const bigRecord = curated.find((record) => record.fileUuid === big.fileUuid);
    expect(bigRecord).toMatchObject({
      status: 'completed',
      reportName: big.reportName,
      lake_file_key: scopeKey(fileKey(big), lake.subscription),
      lake_bytes: sim.data.reportSize(big.fileUuid),
      lake_sha256: sha256(await directDownload(sim, big.fileUuid)),
    });
    expect(await lake.keys(`raw/sdr-reports/`)).toEqual([
      `raw/sdr-reports/dt=${summary.checkpoint?.lastCompleted?.startedAt.slice(0, 10)}/run=${summary.runId}/page=00000.json.gz`,
    ]);

    // Warm second run: the listing is read again, no report is downloaded.
    sim.stats.reset();
    const second = await invoke(handler);
    expect(second).toMatchObject({ downloaded: 0, alreadyArchived: 6, completed: 6, apiCalls: 1 });
    expect(downloadCalls(sim)).toEqual([]);
    expect(sim.stats.byPath[LIST]).toBe(1);
  });

  test('a download cut mid-stream leaves no metadata or curated record, fails the run after the others, and the next run fetches it', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const reports = sim.data.sdr.reports;
    const first = reports[0] as SdrReport;
    sim.control.truncateNextDownload();

    const error = await rejection(invoke(await handlerWith()));
    expect(error.name).toBe('ReportDownloadsFailedError');
    expect(error.message).toContain(`1 of 6 report downloads failed`);
    expect(error.message).toContain(first.fileUuid);
    expect(await lake.keys(folder(first))).toEqual([]);
    expect(await exists(lake, curatedKey(first))).toBe(false);
    // Every other completed report, the 12 MiB one included, was still archived.
    for (const report of reports.filter((r) => r.status === 'completed' && r !== first)) {
      expect(await exists(lake, metadataKey(report))).toBe(true);
    }

    sim.stats.reset();
    const next = await invoke(await handlerWith());
    expect(next).toMatchObject({ downloaded: 1, alreadyArchived: 5, failedDownloads: [] });
    expect(downloadCalls(sim)).toEqual([[first.fileUuid, 1]]);
    const metadata = await lake.json<ReportMetadata>(metadataKey(first));
    expect(metadata.file.sha256).toBe(sha256(await directDownload(sim, first.fileUuid)));
    expect(await lake.records(curatedKey(first))).toHaveLength(1);
  });

  test('a multipart upload cut after its first part is aborted: nothing lands for that report until a later run', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const big = sim.data.sdr.reports[1] as SdrReport;
    // One download per run: the first run archives reports[0], so the big report is the next download.
    const one = await invoke(await handlerWith({ SDR_REPORTS_MAX_PER_RUN: '1' }));
    expect(one.downloaded).toBe(1);
    expect(one.stoppedEarly).toBe('download limit of 1 reports per run reached; the next run resumes here');

    sim.control.truncateNextDownload(9 * MiB); // past the first 8 MiB part
    const error = await rejection(invoke(await handlerWith()));
    expect(error.message).toContain(big.fileUuid);
    expect(await lake.keys(folder(big))).toEqual([]);
    expect(await exists(lake, curatedKey(big))).toBe(false);

    sim.stats.reset();
    const last = await invoke(await handlerWith());
    expect(last).toMatchObject({ downloaded: 1, failedDownloads: [] });
    expect(downloadCalls(sim)).toEqual([[big.fileUuid, 1]]);
    const stored = await lake.bytes(fileKey(big));
    expect(sha256(stored)).toBe(sha256(await directDownload(sim, big.fileUuid)));
  });

  describe('with 300 KB reports', () => {
    test.override('simulatorOptions', { sdr: { bigReportSizeBytes: 300_000 } });

    test('stops at SDR_MAX_CALLS_PER_RUN and the next run resumes the same listing at the page it stopped on', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const limited = { SDR_PAGE_SIZE: '3', SDR_MAX_CALLS_PER_RUN: '3' };

      // Page 0 holds reports 0..2: list + 2 downloads is the limit; page 1 is not read.
      const first = await invoke(await handlerWith(limited));
      expect(first).toMatchObject({ apiCalls: 3, pages: 1, downloaded: 2, listingComplete: false });
      expect(first.stoppedEarly).toBe(
        'call limit of 3 per run (SDR_MAX_CALLS_PER_RUN) reached before listing page 1; the next run resumes here',
      );
      expect(first.checkpoint?.pending?.nextPage).toBe(1);
      expect(sim.stats.requests).toBe(3);

      const second = await invoke(await handlerWith(limited));
      expect(second).toMatchObject({ runId: first.runId, startPage: 1, downloaded: 2, apiCalls: 3 });
      const third = await invoke(await handlerWith(limited));
      expect(third).toMatchObject({ runId: first.runId, startPage: 2, downloaded: 2, listingComplete: true });

      expect((await lake.keys('raw/sdr-reports/')).map((key) => key.split('/').slice(-2).join('/'))).toEqual([
        `run=${first.runId}/page=00000.json.gz`,
        `run=${first.runId}/page=00001.json.gz`,
        `run=${first.runId}/page=00002.json.gz`,
      ]);
      expect((await lake.keys('reports/')).filter((key) => key.endsWith('/metadata.json'))).toHaveLength(6);
      expect(downloadCalls(sim).every(([, count]) => count === 1)).toBe(true);
    });
  });

  describe('with 300 KB reports and an announced rate limit of 5 calls an hour', () => {
    test.override('simulatorOptions', {
      rateLimit: { limit: 5, windowSec: 3600 },
      sdr: { bigReportSizeBytes: 300_000 },
    });

    test('leaves QUALYS_CALL_RESERVE calls of the window to other collectors and stops cleanly', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const summary = await invoke(await handlerWith({ QUALYS_CALL_RESERVE: '2' }));

      expect(summary.apiCalls).toBe(3);
      expect(sim.stats.requests).toBe(3);
      expect(sim.stats.rateLimited).toBe(0);
      expect(summary.stoppedEarly).toMatch(
        /^call budget spent: 2 of 5 calls left in the window \(2 reserved/,
      );
      expect(summary.downloaded).toBe(2);
      expect((await lake.keys('reports/')).filter((key) => key.endsWith('/metadata.json'))).toHaveLength(2);
    });
  });

  test('an HTML login page served with 200 is never archived as the report; after three it is set aside and later runs skip it', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const handler = await handlerWith();
    const first = sim.data.sdr.reports.find((report) => report.status === 'completed');
    if (!first) throw new Error('no completed report');
    // The listing order decides which download gets the page: the first completed report.
    sim.control.errorPageNextDownloads(1);
    const error = await rejection(invoke(handler));
    expect(error.message).toMatch(/text\/html.*not stored/);
    const failed = (error as Error & { summary: SdrReportsRunSummary }).summary.failedDownloads;
    expect(failed).toHaveLength(1);
    const victim = sim.data.sdr.reports.find((report) => report.fileUuid === failed[0]?.fileUuid);
    if (!victim) throw new Error('the failed report is not listed');
    expect(await exists(lake, fileKey(victim))).toBe(false);
    expect(await exists(lake, metadataKey(victim))).toBe(false);

    // Two more login pages for the same report: the third sets it aside instead of failing the run.
    sim.control.errorPageNextDownloads(1);
    await rejection(invoke(handler));
    sim.control.errorPageNextDownloads(1);
    const third = await invoke(handler);
    expect(third.setAside.map((item) => item.fileUuid)).toEqual([victim.fileUuid]);
    expect(third.failedDownloads).toEqual([]);
    expect(await lake.keys('state/sdr-reports/set-aside/')).toEqual([
      `state/sdr-reports/set-aside/${victim.fileUuid}.json`,
    ]);
    expect(await exists(lake, fileKey(victim))).toBe(false);

    const downloads = sim.stats.byPath[`${DOWNLOAD}${victim.fileUuid}`];
    const later = await invoke(handler);
    expect(later.skippedSetAside).toBe(1);
    expect(sim.stats.byPath[`${DOWNLOAD}${victim.fileUuid}`]).toBe(downloads);
  });
});
