import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fromNdjsonGzip } from '../../../functions/core/records';
import {
  afterPage,
  hasExpired,
  type ReportDownloadsFailedError,
  type SdrReportsSummary,
  statusOf,
} from '../../../functions/sdr-reports/collector';
import { jsonResponse } from '../../support/fake-qualys';
import { MemoryStore } from '../../support/memory-store';
import {
  brokenBody,
  checkpointOf,
  curatedKey,
  DOWNLOAD,
  failedRun,
  fileKey,
  LIST,
  listedReport,
  MINUTE,
  metadataOf,
  objectsOf,
  ReportsApi,
  run,
  sha256,
} from '../../support/reports-api';

describe('sdr-reports: archiving completed reports', () => {
  it('streams each completed report to S3 with its metadata and curated record, and skips the others', async () => {
    const server = new ReportsApi([
      listedReport('r-1'),
      listedReport('r-2', 'inprogress'),
      listedReport('r-3', 'FAILED'),
      listedReport('r-4', 'Completed', { fileFormat: 'PDF', createdAt: '2025-05-09T23:59:59.000Z' }),
    ]);
    const store = new MemoryStore();
    const { summary, logger } = await run(server, store);

    expect(server.downloadsOf().map((request) => request.url.pathname)).toEqual([
      `${DOWNLOAD}r-1`,
      `${DOWNLOAD}r-4`,
    ]);
    const bytes = server.files.get('r-1') as Uint8Array;
    expect(store.objects.get(fileKey('r-1'))?.body).toEqual(bytes);
    expect(store.objects.get(fileKey('r-1'))?.options.contentType).toBe('text/csv');
    expect(store.objects.has(fileKey('r-4', 'pdf', '2025-05-09'))).toBe(true);
    expect(objectsOf(store, 'r-2')).toEqual([]);
    expect(objectsOf(store, 'r-3')).toEqual([]);

    expect(metadataOf(store, 'r-1')).toEqual({
      report: server.reports[0],
      file: {
        key: fileKey('r-1'),
        contentType: 'text/csv',
        fileName: 'report_r-1.csv',
        bytes: bytes.byteLength,
        sha256: sha256(bytes),
      },
      downloadedAt: '2025-05-10T00:00:00.000Z',
      runId: '20250510T000000Z',
    });
    const curated = fromNdjsonGzip(store.objects.get(curatedKey('r-1'))?.body ?? new Uint8Array());
    expect(curated).toEqual([
      {
        ...server.reports[0],
        lake_file_key: fileKey('r-1'),
        lake_file_name: 'report_r-1.csv',
        lake_content_type: 'text/csv',
        lake_bytes: bytes.byteLength,
        lake_sha256: sha256(bytes),
        lake_downloaded_at: '2025-05-10T00:00:00.000Z',
        lake_ingested_at: '2025-05-10T00:00:00.000Z',
        lake_run_id: '20250510T000000Z',
      },
    ]);
    expect(store.objects.has(curatedKey('r-4', '2025-05-09'))).toBe(true);

    // The listing page is archived as sent, under the run date and run id.
    const raw = store.objects.get('raw/sdr-reports/dt=2025-05-10/run=20250510T000000Z/page=00000.json.gz');
    expect(JSON.parse(gunzipSync(raw?.body ?? new Uint8Array()).toString('utf8')).content).toEqual(
      server.reports,
    );

    expect(summary).toMatchObject({
      runId: '20250510T000000Z',
      listingComplete: true,
      pages: 1,
      reportsListed: 4,
      completed: 2,
      alreadyArchived: 0,
      notCompleted: { inprogress: 1, failed: 1 },
      downloaded: 2,
      failedDownloads: [],
      apiCalls: 3,
    });
    expect(summary.stoppedEarly).toBeUndefined();
    expect(logger.lines.find((line) => line.message.startsWith('Reports not completed'))?.extra).toEqual({
      page: 0,
      reports: [
        { fileUuid: 'r-2', status: 'inprogress' },
        { fileUuid: 'r-3', status: 'failed' },
      ],
    });
    expect(checkpointOf(store)).toMatchObject({ version: 1, lastCompleted: { runId: '20250510T000000Z' } });
    expect(checkpointOf(store).pending).toBeUndefined();
  });

  it('downloads nothing for reports whose metadata object exists, and nothing on a second run', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const store = new MemoryStore();
    await run(server, store);
    expect(server.downloadsOf()).toHaveLength(2);

    server.api.time += 6 * 60 * MINUTE;
    const { summary } = await run(server, store);
    expect(server.downloadsOf()).toHaveLength(2);
    expect(summary).toMatchObject({ completed: 2, alreadyArchived: 2, downloaded: 0, apiCalls: 1 });
    // A new pass: its listing page lands in a new run folder.
    expect(store.objects.has('raw/sdr-reports/dt=2025-05-10/run=20250510T060000Z/page=00000.json.gz')).toBe(
      true,
    );
  });

  it('skips a completed report whose expiresOn has passed instead of failing on it every run', async () => {
    const server = new ReportsApi([
      listedReport('r-1'),
      listedReport('r-old', 'completed', { expiresOn: '2025-05-09T00:00:00.000Z' }),
    ]);
    const store = new MemoryStore();
    const { summary } = await run(server, store);
    expect(summary.expired).toEqual(['r-old']);
    expect(summary.failedDownloads).toEqual([]);
    expect(server.downloadsOf().map((request) => request.url.pathname)).not.toContain(
      '/sdr/api/v1/report/download/r-old',
    );
    expect(metadataOf(store, 'r-1')).toBeDefined();
  });

  it('keeps ids with path characters inside one key segment and encodes them in the download path', async () => {
    const pathy = '../../state/sdr-reports/x y';
    const server = new ReportsApi([listedReport(pathy)]);
    const store = new MemoryStore();
    await run(server, store);

    expect(server.downloadsOf(pathy)).toHaveLength(1);
    const safe = '..%2F..%2Fstate%2Fsdr-reports%2Fx%20y';
    expect(metadataOf(store, safe)?.report.fileUuid).toBe(pathy);
    expect(store.objects.has(fileKey(safe))).toBe(true);
    expect(store.objects.has(curatedKey(safe))).toBe(true);
    for (const key of store.objects.keys()) expect(key.split('/')).not.toContain('..');
  });

  it('sets aside list items without a fileUuid or createdAt and archives the rest', async () => {
    const server = new ReportsApi([
      listedReport('r-1'),
      { reportName: 'no id', status: 'completed' },
      listedReport('r-3', 'completed', { createdAt: 'yesterday' }),
    ]);
    const store = new MemoryStore();
    const { summary } = await run(server, store);

    expect(summary).toMatchObject({ rejected: 2, downloaded: 1, reportsListed: 3 });
    const rejected = JSON.parse(
      store.text('state/sdr-reports/rejected/run=20250510T000000Z/page=00000.json') ?? '{}',
    ) as { endpoint: string; rejected: Array<{ index: number; reason: string }> };
    expect(rejected.endpoint).toBe(`GET ${LIST}`);
    expect(rejected.rejected.map(({ index, reason }) => [index, reason.split(':')[0]])).toEqual([
      [1, 'fileUuid'],
      [2, 'createdAt'],
    ]);
    expect(metadataOf(store, 'r-1')).toBeDefined();
  });

  it('sets aside reports whose fileUuid is a dot segment or whose createdAt has no zone, and asks for none of them', async () => {
    const server = new ReportsApi([
      listedReport('..'),
      listedReport('%2e%2E'),
      listedReport('.'),
      listedReport('r-4', 'completed', { createdAt: '2025-05-09T10:00:00' }),
      listedReport('r-5', 'completed', { createdAt: '1' }),
      listedReport('r-6'),
    ]);
    const store = new MemoryStore();
    const { summary } = await run(server, store);

    expect(summary).toMatchObject({ rejected: 5, downloaded: 1, reportsListed: 6 });
    expect(server.api.apiRequests.map((request) => request.url.pathname)).toEqual([LIST, `${DOWNLOAD}r-6`]);
    const rejected = JSON.parse(
      store.text('state/sdr-reports/rejected/run=20250510T000000Z/page=00000.json') ?? '{}',
    ) as { rejected: Array<{ index: number; reason: string }> };
    expect(rejected.rejected.map(({ reason }) => reason)).toEqual([
      'fileUuid: cannot be used in the download path: it is the dot segment ".."',
      'fileUuid: cannot be used in the download path: it is the dot segment ".." once percent-decoded',
      'fileUuid: cannot be used in the download path: it is the dot segment "."',
      'createdAt: must be an ISO-8601 date-time with a zone (Z or ±hh:mm)',
      'createdAt: must be an ISO-8601 date-time with a zone (Z or ±hh:mm)',
    ]);
    expect([...store.objects.keys()].filter((key) => key.startsWith('reports/'))).toHaveLength(2);
  });
});

describe('sdr-reports: limits, deadline and resuming', () => {
  it('stops at SDR_REPORTS_MAX_PER_RUN downloads and the next run carries on in the same pass', async () => {
    const server = new ReportsApi(['r-1', 'r-2', 'r-3', 'r-4', 'r-5'].map((id) => listedReport(id)));
    const store = new MemoryStore();
    const first = await run(server, store, { maxDownloadsPerRun: 2, pageSize: 3 });

    expect(first.summary.downloaded).toBe(2);
    expect(first.summary.stoppedEarly).toBe(
      'download limit of 2 reports per run reached; the next run resumes here',
    );
    expect(checkpointOf(store).pending).toEqual({
      runId: '20250510T000000Z',
      startedAt: '2025-05-10T00:00:00.000Z',
      nextPage: 0,
    });

    server.api.time += 60 * MINUTE;
    const second = await run(server, store, { maxDownloadsPerRun: 2, pageSize: 3 });
    expect(second.summary).toMatchObject({ runId: '20250510T000000Z', startPage: 0, downloaded: 2 });
    expect(checkpointOf(store).pending?.nextPage).toBe(1);

    server.api.time += 60 * MINUTE;
    const third = await run(server, store, { maxDownloadsPerRun: 2, pageSize: 3 });
    expect(third.summary).toMatchObject({ startPage: 1, downloaded: 1, listingComplete: true });
    expect(third.summary.stoppedEarly).toBeUndefined();
    // Behind (LagSeconds) since the first pass started, until it completed.
    expect([first, second].map((result) => result.summary.freshAsOf)).toEqual([
      '2025-05-10T00:00:00.000Z',
      '2025-05-10T00:00:00.000Z',
    ]);
    expect(third.summary.freshAsOf).toBe(checkpointOf(store).lastCompleted?.completedAt);
    expect(server.downloadsOf()).toHaveLength(5);
    // Both pages of the one pass are in its run folder; page 0, read twice, was overwritten.
    expect([...store.objects.keys()].filter((key) => key.startsWith('raw/'))).toEqual([
      'raw/sdr-reports/dt=2025-05-10/run=20250510T000000Z/page=00000.json.gz',
      'raw/sdr-reports/dt=2025-05-10/run=20250510T000000Z/page=00001.json.gz',
    ]);
  });

  it('stops at SDR_MAX_CALLS_PER_RUN calls and resumes at the page it had not finished', async () => {
    const server = new ReportsApi(['r-1', 'r-2', 'r-3', 'r-4'].map((id) => listedReport(id)));
    const store = new MemoryStore();
    const { summary } = await run(server, store, { maxCallsPerRun: 4, pageSize: 2 });

    // page 0, r-1, r-2, page 1: then r-3 would be the fifth call.
    expect(summary.apiCalls).toBe(4);
    expect(server.api.apiRequests).toHaveLength(4);
    expect(summary.stoppedEarly).toBe(
      'call limit of 4 per run (SDR_MAX_CALLS_PER_RUN) reached before downloading report r-3; the next run resumes here',
    );
    expect(checkpointOf(store).pending?.nextPage).toBe(1);

    const next = await run(server, store, { maxCallsPerRun: 4, pageSize: 2 });
    expect(next.summary).toMatchObject({ startPage: 1, downloaded: 2, listingComplete: true });
    expect(server.listCalls().map((request) => request.url.searchParams.get('page'))).toEqual([
      '0',
      '1',
      '1',
    ]);
  });

  it('stops cleanly when the deadline leaves no time for the next call', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const deadline = server.api.time + 10 * MINUTE;
    server.answerNext('r-1', (_request, bytes) => {
      server.api.time += 9.8 * MINUTE; // a slow download: less than one request timeout (30 s) is left
      return server.file('r-1', bytes);
    });
    const store = new MemoryStore();
    const { summary } = await run(server, store, {}, { deadline });

    expect(summary.downloaded).toBe(1);
    expect(summary.failedDownloads).toEqual([]);
    expect(summary.stoppedEarly).toMatch(/deadline/);
    expect(checkpointOf(store).pending?.nextPage).toBe(0);
  });

  it('a download cut off by the run deadline signal stops the run without counting a failure', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const deadline = new AbortController();
    server.answerNext('r-1', (_request, bytes) =>
      server.file(
        'r-1',
        brokenBody(bytes, () => deadline.abort()),
        bytes.byteLength,
      ),
    );
    const store = new MemoryStore();
    const { summary } = await run(server, store, {}, { signal: deadline.signal });

    expect(summary.stoppedEarly).toBe('the download of report r-1 was cut off by the run deadline');
    expect(summary.failedDownloads).toEqual([]);
    expect(objectsOf(store, 'r-1')).toEqual([]);
    expect(server.downloadsOf('r-2')).toEqual([]);
  });

  it('a rate-limited download stops the run (budget) instead of failing it', async () => {
    const server = new ReportsApi([listedReport('r-1')]);
    server.answerNext('r-1', () =>
      jsonResponse({ error: 'rate limited' }, 429, { 'x-ratelimit-towait-sec': '3600' }),
    );
    const store = new MemoryStore();
    const { summary } = await run(server, store);

    expect(summary.stoppedEarly).toMatch(/answered 429: rate limited for 360\d s/);
    expect(summary.failedDownloads).toEqual([]);
    expect(metadataOf(store, 'r-1')).toBeUndefined();
  });

  it('a bad listing page fails the run naming endpoint and status; earlier pages stay and the checkpoint points at it', async () => {
    const server = new ReportsApi(['r-1', 'r-2', 'r-3'].map((id) => listedReport(id)));
    server.pageAnswers.set(1, () => jsonResponse({ content: 'oops' }));
    const store = new MemoryStore();
    const error = await failedRun(server, store, { pageSize: 2 });
    expect(error.message).toBe(
      'GET /sdr/api/v1/reports answered 200: unexpected response: content: Invalid type: Expected Array but received "oops"',
    );
    expect(metadataOf(store, 'r-1')).toBeDefined();
    expect(metadataOf(store, 'r-2')).toBeDefined();
    expect(checkpointOf(store).pending?.nextPage).toBe(1);
  });
});

describe('sdr-reports: secrets', () => {
  it('writes neither the password nor a JWT anywhere', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    server.answerNext('r-2', () => jsonResponse({ error: 'gone' }, 410));
    const store = new MemoryStore();
    const error = await failedRun(server, store);
    const summary: SdrReportsSummary = (error as ReportDownloadsFailedError).summary;

    const everything = [
      ...[...store.objects.values()].map(({ body }) => {
        const isGzip = body[0] === 0x1f && body[1] === 0x8b;
        return (isGzip ? gunzipSync(body) : Buffer.from(body)).toString('utf8');
      }),
      error.message,
      JSON.stringify(summary),
    ].join('\n');
    expect(server.api.issuedTokens.length).toBeGreaterThan(0);
    expect(everything).not.toContain(server.api.password);
    for (const token of server.api.issuedTokens) expect(everything).not.toContain(token);
  });
});

describe('sdr-reports: the steps of a pass', () => {
  const report = (overrides: Record<string, unknown> = {}) => ({
    fileUuid: 'r-1',
    createdAt: '2025-05-08T05:13:37.000Z',
    ...overrides,
  });

  it('statusOf lower-cases the listed status and calls a missing or blank one unknown', () => {
    expect(statusOf(report({ status: ' Completed ' }))).toBe('completed');
    expect(statusOf(report({ status: null }))).toBe('unknown');
    expect(statusOf(report({ status: '  ' }))).toBe('unknown');
  });

  it('hasExpired is true from expiresOn on, and false without a usable expiresOn', () => {
    const now = Date.parse('2025-05-10T00:00:00.000Z');
    expect(hasExpired(report({ expiresOn: '2025-05-10T00:00:00.000Z' }), now)).toBe(true);
    expect(hasExpired(report({ expiresOn: '2025-05-10T00:00:01.000Z' }), now)).toBe(false);
    expect(hasExpired(report({ expiresOn: 'soon' }), now)).toBe(false);
    // Date.parse reads these as dates long past; strictly they are no date, so the download is tried.
    expect(hasExpired(report({ expiresOn: '1' }), now)).toBe(false);
    expect(hasExpired(report({ expiresOn: 'May 9' }), now)).toBe(false);
    expect(hasExpired(report({ expiresOn: '2025-05-09' }), now)).toBe(false);
    expect(hasExpired(report(), now)).toBe(false);
  });

  it('afterPage moves the pending pass to the next page, or completes the pass', () => {
    const pass = { runId: '20250510T000000Z', startedAt: '2025-05-10T00:00:00.000Z', nextPage: 0 };
    const lastCompleted = { runId: 'old', startedAt: 'a', completedAt: 'b' };
    expect(afterPage({ version: 1, pending: pass, lastCompleted }, pass, 2, 'now')).toEqual({
      version: 1,
      pending: { ...pass, nextPage: 2 },
      lastCompleted,
    });
    expect(afterPage({ version: 1, pending: pass, lastCompleted }, pass, undefined, 'now')).toEqual({
      version: 1,
      lastCompleted: { runId: pass.runId, startedAt: pass.startedAt, completedAt: 'now' },
    });
  });
});
