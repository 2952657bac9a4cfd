import { createHash } from 'node:crypto';
import { QualysClient } from '../../functions/qualys/client';
import { runSdrReports } from '../../functions/sdr-reports/collector';
import type { SdrReportsSettings } from '../../functions/sdr-reports/config';
import type { ReportMetadata, ReportsCheckpoint } from '../../functions/sdr-reports/model';
import { FakeQualys, jsonResponse, type RecordedRequest } from './fake-qualys';
import type { MemoryStore } from './memory-store';

/**
 * The reports collector's unit-test rig: a SaaSDR gateway serving the report listing and files,
 * a run helper, and the keys and objects the tests look at.
 */

export const MINUTE = 60_000;
export const LIST = '/sdr/api/v1/reports';
export const DOWNLOAD = '/sdr/api/v1/report/download/';
const CHECKPOINT = 'state/sdr-reports/checkpoint.json';

export type Listed = Record<string, unknown> & { fileUuid?: unknown; status?: unknown };

export function listedReport(
  fileUuid: string,
  status = 'completed',
  overrides: Partial<Listed> = {},
): Listed {
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

/** A file of `size` bytes that passes the content check of its format (`%PDF-` for pdf, text for csv). */
const fileBytes = (fileUuid: string, format: unknown, size = 1_000) => {
  const start = String(format).toLowerCase() === 'pdf' ? '%PDF-1.7\n' : '';
  const text = `${start}${`${fileUuid},`.repeat(Math.ceil(size / (fileUuid.length + 1)))}`;
  return new Uint8Array(Buffer.from(text.slice(0, size)));
};
export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A body that sends `bytes` in two chunks, then fails the way a cut connection does. */
export function brokenBody(bytes: Uint8Array, onBreak?: () => void): ReadableStream<Uint8Array> {
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
export class ReportsApi {
  readonly api = new FakeQualys();
  readonly client: QualysClient;
  readonly files = new Map<string, Uint8Array>();
  readonly answers = new Map<string, FileAnswer[]>();
  /** Overrides the answer for one listing page. */
  readonly pageAnswers = new Map<number, () => Response>();

  constructor(public reports: Listed[]) {
    for (const report of reports) {
      if (typeof report.fileUuid === 'string')
        this.files.set(report.fileUuid, fileBytes(report.fileUuid, report.fileFormat));
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
  maxReportBytes: 2 * 1024 ** 3,
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

export async function run(
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

export async function failedRun(
  server: ReportsApi,
  store: MemoryStore,
  settings: Partial<SdrReportsSettings> = {},
) {
  try {
    await run(server, store, settings);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the run to fail, but it succeeded');
}

const folderOf = (fileUuid: string, day = '2025-05-08') => `reports/sdr-reports/dt=${day}/${fileUuid}/`;
export const metadataKey = (fileUuid: string, day?: string) => `${folderOf(fileUuid, day)}metadata.json`;
export const fileKey = (fileUuid: string, ext = 'csv', day?: string) =>
  `${folderOf(fileUuid, day)}report.${ext}`;
export const curatedKey = (fileUuid: string, day = '2025-05-08') =>
  `curated/sdr_reports/dt=${day}/${fileUuid}.json.gz`;

export function metadataOf(store: MemoryStore, fileUuid: string): ReportMetadata | undefined {
  const text = store.text(metadataKey(fileUuid));
  return text === undefined ? undefined : (JSON.parse(text) as ReportMetadata);
}

export function checkpointOf(store: MemoryStore): ReportsCheckpoint {
  return JSON.parse(store.text(CHECKPOINT) ?? 'null') as ReportsCheckpoint;
}

/** Keys under reports/ and curated/ that belong to one report. */
export function objectsOf(store: MemoryStore, fileUuid: string): string[] {
  return [...store.objects.keys()].filter((key) => key.includes(`/${fileUuid}`));
}
