import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../../functions/core/ports';
import { fromNdjsonGzip } from '../../../functions/core/records';
import {
  fileNameFromDisposition,
  ReportDownloadsFailedError,
  type ReportMetadata,
  type ReportsCheckpoint,
  runSdrReports,
  type SdrReportsRunSummary,
  type SdrReportsSettings,
} from '../../../functions/core/sdr-reports';
import { QualysClient } from '../../../functions/qualys/client';
import { ConfigError } from '../../../functions/runtime/env';
import { readSdrReportsConfig } from '../../../functions/sdr-reports/config';
import { FakeQualys, jsonResponse, type RecordedRequest } from '../../support/fake-qualys';
import { MemoryStore } from '../../support/memory-store';

const MINUTE = 60_000;
const LIST = '/sdr/api/v1/reports';
const DOWNLOAD = '/sdr/api/v1/report/download/';
const CHECKPOINT = 'state/sdr-reports/checkpoint.json';

type Listed = Record<string, unknown> & { fileUuid?: unknown; status?: unknown };

function listedReport(fileUuid: string, status = 'completed', overrides: Partial<Listed> = {}): Listed {
  return {
    fileUuid,
    reportName: `report ${fileUuid}`,
    description: null,
    fileFormat: 'csv',
    status,
    templateTitle: 'SDR Assessment Template',
    createdAt: '2025-05-08T05:13:37.000Z',
    expiresOn: '2025-05-15T05:13:37.000Z',
    config: { saasApplication: { key: 'ZOOM', value: 'Zoom' } },
    createdBy: 'quays_xr18',
    ...overrides,
  };
}

const fileBytes = (fileUuid: string, size = 1_000) =>
  new Uint8Array(Buffer.from(`${fileUuid},`.repeat(Math.ceil(size / (fileUuid.length + 1))).slice(0, size)));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A body that sends `bytes` in two chunks, then fails the way a cut connection does. */
function brokenBody(bytes: Uint8Array, onBreak?: () => void): ReadableStream<Uint8Array> {
  let pulls = 0;
  return new ReadableStream({
    pull(controller) {
      pulls++;
      if (pulls === 1) controller.enqueue(bytes.subarray(0, Math.floor(bytes.length / 2)));
      else {
        onBreak?.();
        controller.error(new TypeError('terminated', { cause: new Error('other side closed') }));
      }
    },
  });
}

type FileAnswer = (request: RecordedRequest, bytes: Uint8Array) => Response | undefined;

/**
 * A SaaSDR gateway on top of FakeQualys: serves `reports` with page/size paging and each completed
 * report's file; `answers` overrides the next answers of one download (consumed in order).
 */
class ReportsApi {
  readonly api = new FakeQualys();
  readonly client: QualysClient;
  readonly files = new Map<string, Uint8Array>();
  readonly answers = new Map<string, FileAnswer[]>();
  /** Overrides the answer for one listing page. */
  readonly pageAnswers = new Map<number, () => Response>();

  constructor(public reports: Listed[]) {
    for (const report of reports) {
      if (typeof report.fileUuid === 'string') this.files.set(report.fileUuid, fileBytes(report.fileUuid));
    }
    this.client = new QualysClient({
      loadCredentials: async () => this.api.credentials(),
      fetch: this.api.fetch,
      now: this.api.now,
      sleep: this.api.sleep,
      random: this.api.random,
      maxRetries: 1,
    });
    for (let i = 0; i < 500; i++) this.api.script.push((request) => this.route(request));
  }

  private route(request: RecordedRequest): Response {
    const path = request.url.pathname;
    if (path === LIST) {
      const page = Number(request.url.searchParams.get('page') ?? 0);
      const override = this.pageAnswers.get(page);
      if (override) return override();
      const size = Number(request.url.searchParams.get('size') ?? 50);
      const content = this.reports.slice(page * size, (page + 1) * size);
      const totalPages = Math.ceil(this.reports.length / size);
      return jsonResponse({
        content,
        totalElements: this.reports.length,
        totalPages,
        last: page + 1 >= totalPages,
        number: page,
        size,
        numberOfElements: content.length,
        empty: content.length === 0,
      });
    }
    if (path.startsWith(DOWNLOAD)) {
      const fileUuid = decodeURIComponent(path.slice(DOWNLOAD.length));
      const bytes = this.files.get(fileUuid);
      if (!bytes) return jsonResponse({ error: 'not found' }, 404);
      const override = this.answers.get(fileUuid)?.shift()?.(request, bytes);
      return override ?? this.file(fileUuid, bytes);
    }
    return jsonResponse({ error: 'no such endpoint' }, 404);
  }

  file(fileUuid: string, bytes: Uint8Array | ReadableStream<Uint8Array>, length?: number): Response {
    return new Response(bytes, {
      status: 200,
      headers: {
        'content-type': 'text/csv',
        'content-length': String(length ?? (bytes as Uint8Array).byteLength),
        'content-disposition': `attachment; filename="report_${fileUuid.slice(0, 8)}.csv"`,
      },
    });
  }

  answerNext(fileUuid: string, answer: FileAnswer): void {
    this.answers.set(fileUuid, [...(this.answers.get(fileUuid) ?? []), answer]);
  }

  downloadsOf(fileUuid?: string): RecordedRequest[] {
    return this.api.apiRequests.filter((request) =>
      fileUuid === undefined
        ? request.url.pathname.startsWith(DOWNLOAD)
        : request.url.pathname === `${DOWNLOAD}${encodeURIComponent(fileUuid)}`,
    );
  }

  listCalls(): RecordedRequest[] {
    return this.api.apiRequests.filter((request) => request.url.pathname === LIST);
  }
}

const settingsOf = (overrides: Partial<SdrReportsSettings> = {}): SdrReportsSettings => ({
  pageSize: 200,
  maxDownloadsPerRun: 20,
  maxCallsPerRun: 60,
  ...overrides,
});

function silentLogger() {
  const lines: Array<{ level: string; message: string; extra?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, extra?: Record<string, unknown>): void => {
      lines.push({ level, message, extra });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function run(
  server: ReportsApi,
  store: MemoryStore,
  settings: Partial<SdrReportsSettings> = {},
  call: { deadline?: number; signal?: AbortSignal } = {},
) {
  const logger = silentLogger();
  const summary = await runSdrReports(
    { qualys: server.client, store, logger, settings: settingsOf(settings), now: server.api.now },
    { deadline: call.deadline ?? server.api.time + 10 * MINUTE, signal: call.signal },
  );
  return { summary, logger };
}

async function failedRun(server: ReportsApi, store: MemoryStore, settings: Partial<SdrReportsSettings> = {}) {
  try {
    await run(server, store, settings);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the run to fail, but it succeeded');
}

const folderOf = (fileUuid: string, day = '2025-05-08') => `reports/sdr-reports/dt=${day}/${fileUuid}/`;
const metadataKey = (fileUuid: string, day?: string) => `${folderOf(fileUuid, day)}metadata.json`;
const fileKey = (fileUuid: string, ext = 'csv', day?: string) => `${folderOf(fileUuid, day)}report.${ext}`;
const curatedKey = (fileUuid: string, day = '2025-05-08') =>
  `curated/sdr_reports/dt=${day}/${fileUuid}.json.gz`;

function metadataOf(store: MemoryStore, fileUuid: string): ReportMetadata | undefined {
  const text = store.text(metadataKey(fileUuid));
  return text === undefined ? undefined : (JSON.parse(text) as ReportMetadata);
}

function checkpointOf(store: MemoryStore): ReportsCheckpoint {
  return JSON.parse(store.text(CHECKPOINT) ?? 'null') as ReportsCheckpoint;
}

/** Keys under reports/ and curated/ that belong to one report. */
function objectsOf(store: MemoryStore, fileUuid: string): string[] {
  return [...store.objects.keys()].filter((key) => key.includes(`/${fileUuid}`));
}

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

  it('writes the file first, then the curated record, and the metadata object last', async () => {
    const server = new ReportsApi([listedReport('r-1')]);
    const store = new MemoryStore();
    await run(server, store);

    const order = store.writes.filter((key) => key.includes('r-1'));
    expect(order).toEqual([fileKey('r-1'), curatedKey('r-1'), metadataKey('r-1')]);
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
});

describe('sdr-reports: failed downloads leave nothing that looks archived', () => {
  it('a connection cut mid-stream stores no file, curated record or metadata; the others are still downloaded and the run fails at the end', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2'), listedReport('r-3')]);
    server.answerNext('r-1', (_request, bytes) => server.file('r-1', brokenBody(bytes), bytes.byteLength));
    const store = new MemoryStore();
    const error = await failedRun(server, store);

    expect(error).toBeInstanceOf(ReportDownloadsFailedError);
    expect(error.message).toContain('1 of 3 report downloads failed');
    expect(error.message).toContain(
      'r-1 (GET /sdr/api/v1/report/download/r-1 answered 200: the download broke off after 500 of 1000 bytes (terminated: other side closed))',
    );
    const summary = (error as ReportDownloadsFailedError).summary;
    expect(summary.failedDownloads).toEqual([
      { fileUuid: 'r-1', reason: expect.stringContaining('broke off') },
    ]);
    expect(summary.downloaded).toBe(2);
    expect(objectsOf(store, 'r-1')).toEqual([]);
    expect(metadataOf(store, 'r-2')).toBeDefined();
    expect(metadataOf(store, 'r-3')).toBeDefined();
    // The listing was read to its end; the next pass starts again at page 0 and retries r-1 only.
    expect(checkpointOf(store).pending).toBeUndefined();

    const { summary: next } = await run(server, store);
    expect(next).toMatchObject({ downloaded: 1, alreadyArchived: 2, failedDownloads: [] });
    expect(server.downloadsOf('r-1')).toHaveLength(2);
    expect(server.downloadsOf('r-2')).toHaveLength(1);
    expect(metadataOf(store, 'r-1')?.file.sha256).toBe(sha256(server.files.get('r-1') as Uint8Array));
  });

  it('a body that ends cleanly but short of Content-Length is an error, not a complete report', async () => {
    const server = new ReportsApi([listedReport('r-1')]);
    server.answerNext('r-1', (_request, bytes) =>
      server.file('r-1', bytes.subarray(0, 600), bytes.byteLength),
    );
    const store = new MemoryStore();
    const error = await failedRun(server, store);

    expect(error.message).toContain(
      'the download ended after 600 of the 1000 bytes announced by Content-Length',
    );
    expect(objectsOf(store, 'r-1')).toEqual([]);
  });

  it('an S3 upload failure leaves no curated record or metadata for that report', async () => {
    class FailingStore extends MemoryStore {
      override async upload(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions) {
        if (key.includes('/r-2/')) {
          for await (const _chunk of body) break;
          throw new Error('S3 UploadPart failed: InternalError');
        }
        return super.upload(key, body, options);
      }
    }
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const store = new FailingStore();
    const error = await failedRun(server, store);

    expect((error as ReportDownloadsFailedError).summary.failedDownloads).toEqual([
      { fileUuid: 'r-2', reason: 'S3 UploadPart failed: InternalError' },
    ]);
    expect(objectsOf(store, 'r-2')).toEqual([]);
    expect(metadataOf(store, 'r-1')).toBeDefined();
  });

  it('a download refused by Qualys is counted and named, and the next run retries it', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    server.answerNext('r-1', () => jsonResponse({ error: 'not found' }, 404));
    const store = new MemoryStore();
    const error = await failedRun(server, store);
    expect((error as ReportDownloadsFailedError).summary.failedDownloads).toEqual([
      {
        fileUuid: 'r-1',
        reason: 'GET /sdr/api/v1/report/download/r-1 answered 404: the request was refused',
      },
    ]);

    const { summary } = await run(server, store);
    expect(summary.downloads.map(({ fileUuid }) => fileUuid)).toEqual(['r-1']);
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
      'call limit of 4 per run reached before downloading report r-3; the next run resumes here',
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
    const summary: SdrReportsRunSummary = (error as ReportDownloadsFailedError).summary;

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

describe('fileNameFromDisposition', () => {
  it.each([
    ['attachment; filename="zoom custom csv.csv"', 'zoom custom csv.csv'],
    ['attachment; filename=report.csv', 'report.csv'],
    ['attachment; filename="fallback.csv"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.csv', 'résumé.csv'],
    ['attachment; filename="a \\"quoted\\" name.pdf"', 'a "quoted" name.pdf'],
    ['inline', null],
    [null, null],
  ])('%s → %s', (header, expected) => {
    expect(fileNameFromDisposition(header)).toBe(expected);
  });
});

describe('readSdrReportsConfig', () => {
  it('has defaults of 200 per page, 20 downloads and 60 calls per run', () => {
    expect(readSdrReportsConfig({})).toEqual({ pageSize: 200, maxDownloadsPerRun: 20, maxCallsPerRun: 60 });
  });

  it('names the variable that is wrong', () => {
    expect(() => readSdrReportsConfig({ SDR_REPORTS_MAX_PER_RUN: '0' })).toThrow(ConfigError);
    expect(() => readSdrReportsConfig({ SDR_REPORTS_MAX_PER_RUN: '0' })).toThrow(/^SDR_REPORTS_MAX_PER_RUN/);
    expect(() => readSdrReportsConfig({ SDR_PAGE_SIZE: '500' })).toThrow(
      /^SDR_PAGE_SIZE must be a whole number from 1 to 200/,
    );
    expect(() => readSdrReportsConfig({ SDR_MAX_CALLS_PER_RUN: 'lots' })).toThrow(/^SDR_MAX_CALLS_PER_RUN/);
  });
});
