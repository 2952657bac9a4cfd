import { createHash } from 'node:crypto';
import * as v from 'valibot';
import type { CallOptions, QualysClient } from '../qualys/client';
import { DeadlineError, isStopSignal, QualysApiError } from '../qualys/errors';
import { type Page, PageSchema } from '../qualys/schemas';
import { ReportSchema, SDR_PATHS } from '../qualys/sdr';
import { describeIssues } from '../qualys/validation';
import { CheckpointStore } from './checkpoint';
import { CURATED_DATASETS, collectorPrefix, type FunctionName, PREFIX } from './names';
import { pageNumberPaging } from './paginate';
import type { ObjectStore, RunLogger } from './ports';
import { gzip, keyTime, safeKeySegment, toNdjsonGzip, utcDate, writeJson } from './records';
import { RunError } from './run';

const NAME = 'sdr-reports' satisfies FunctionName;
const LIST_ENDPOINT = `GET ${SDR_PATHS.reports}`;

/** What a listed report needs to be archived: its id, and the creation time its keys are dated by. */
export const ArchivableReportSchema = v.looseObject({
  ...ReportSchema.entries,
  createdAt: v.pipe(
    v.string(),
    v.check((text) => !Number.isNaN(Date.parse(text)), 'createdAt must be an ISO-8601 date-time'),
  ),
});
export type ArchivableReport = v.InferOutput<typeof ArchivableReportSchema>;

const pad = (page: number) => String(page).padStart(5, '0');

/** The file's extension, from the listed `fileFormat` (csv, pdf, ...). */
function extension(report: ArchivableReport): string {
  const format = report.fileFormat?.trim().toLowerCase();
  return format ? safeKeySegment(format) : 'bin';
}

/**
 * S3 keys of the reports collector. Listing pages are keyed by the pass (`run=`) that read them, so a
 * resumed or retried pass overwrites its own pages; a report's objects are keyed by its creation day
 * and fileUuid only, so each report has exactly one place whichever run downloads it.
 */
export const reportKeys = {
  checkpoint: `${collectorPrefix('state', NAME)}checkpoint.json`,
  raw: (pass: ListingPass, page: number) =>
    `${collectorPrefix('raw', NAME)}dt=${utcDate(pass.startedAt)}/run=${pass.runId}/page=${pad(page)}.json.gz`,
  rejected: (pass: ListingPass, page: number) =>
    `${collectorPrefix('state', NAME)}rejected/run=${pass.runId}/page=${pad(page)}.json`,
  folder: (report: ArchivableReport) =>
    `${collectorPrefix('reports', NAME)}dt=${utcDate(report.createdAt)}/${safeKeySegment(report.fileUuid)}/`,
  /** The report file, named by its format rather than by Content-Disposition so the key is known before the download. */
  file: (report: ArchivableReport) => `${reportKeys.folder(report)}report.${extension(report)}`,
  /** Written last: its presence is what "already archived" means. */
  metadata: (report: ArchivableReport) => `${reportKeys.folder(report)}metadata.json`,
  curated: (report: ArchivableReport) =>
    `${PREFIX.curated}${CURATED_DATASETS.sdrReports}/dt=${utcDate(report.createdAt)}/${safeKeySegment(report.fileUuid)}.json.gz`,
};

/** One pass over the report listing, from page 0 to the last page; it may span several runs. */
export interface ListingPass {
  /** Compact UTC start time of the pass (20250510T000000Z): the `run=` folder of its raw pages. */
  runId: string;
  startedAt: string;
  /** The first page not yet fully handled; a resumed run starts here. */
  nextPage: number;
}

export interface ReportsCheckpoint {
  version: 1;
  /** The pass in progress; absent when the last pass reached the end of the listing. */
  pending?: ListingPass;
  lastCompleted?: { runId: string; startedAt: string; completedAt: string };
  updatedAt?: string;
}

export interface SdrReportsSettings {
  pageSize: number;
  /** Downloads this run may start (failed ones included). */
  maxDownloadsPerRun: number;
  /** Qualys calls this run may make (retries included) before it checkpoints and stops. */
  maxCallsPerRun: number;
}

export interface SdrReportsDependencies {
  qualys: Pick<QualysClient, 'getJson' | 'getStream' | 'budget'>;
  store: ObjectStore;
  logger: RunLogger;
  settings: SdrReportsSettings;
  now?: () => number;
}

/** The content of `.../metadata.json` beside each report file. */
export interface ReportMetadata {
  /** The report record exactly as the listing gave it. */
  report: Record<string, unknown>;
  file: {
    key: string;
    contentType: string;
    /** File name from the download's Content-Disposition, when it had one. */
    fileName: string | null;
    bytes: number;
    /** Hex SHA-256 of the bytes as downloaded, computed while streaming. */
    sha256: string;
  };
  downloadedAt: string;
  runId: string;
}

export interface DownloadedReport {
  fileUuid: string;
  key: string;
  bytes: number;
  sha256: string;
}

export interface SdrReportsRunSummary {
  collector: typeof NAME;
  /** The listing pass this run worked on. */
  runId: string;
  /** The page this run started at (0 unless it resumed a pass). */
  startPage: number;
  /** True when this run reached the last page of the listing. */
  listingComplete: boolean;
  pages: number;
  reportsListed: number;
  /** Listed reports with status `completed`. */
  completed: number;
  /** Completed reports whose metadata object already existed. */
  alreadyArchived: number;
  /** Completed reports whose `expiresOn` had passed before they could be archived: skipped, not retried. */
  expired: string[];
  /** Reports not completed yet, by status; checked again by the next pass. */
  notCompleted: Record<string, number>;
  downloaded: number;
  bytesDownloaded: number;
  downloads: DownloadedReport[];
  /** Downloads that failed; nothing that looks archived is left for them, and they are retried. */
  failedDownloads: Array<{ fileUuid: string; reason: string }>;
  /** List items set aside (no fileUuid or createdAt). */
  rejected: number;
  objectsWritten: number;
  apiCalls: number;
  rateLimit: Record<string, number | undefined>;
  /** Why the run ended before the end of the listing: download or call limit, budget, deadline. */
  stoppedEarly?: string;
  checkpoint?: ReportsCheckpoint;
}

/** A limit of this run (downloads or calls) is reached: checkpoint and stop, as for a spent budget. */
class RunLimitReached extends Error {
  override name = 'RunLimitReached';
}

/**
 * Thrown at the end of a run in which at least one download failed, after every other download was
 * attempted and everything was saved, so the Lambda error alarm fires while reports keep failing.
 */
export class ReportDownloadsFailedError extends RunError<SdrReportsRunSummary> {
  override name = 'ReportDownloadsFailedError';
  constructor(summary: SdrReportsRunSummary) {
    const failed = summary.failedDownloads;
    super(
      `${failed.length} of ${failed.length + summary.downloaded} report downloads failed and will be retried: ` +
        failed
          .slice(0, 5)
          .map(({ fileUuid, reason }) => `${fileUuid} (${reason})`)
          .join('; ') +
        (failed.length > 5 ? `; and ${failed.length - 5} more` : ''),
      summary,
    );
  }
}

/** The file name of a Content-Disposition header (RFC 6266: `filename*` first, then `filename`). */
export function fileNameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended.trim());
    } catch {
      // Fall through to the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)?.[1];
  if (quoted !== undefined) return quoted.replace(/\\(.)/g, '$1') || null;
  return /filename\s*=\s*([^;\s]+)/i.exec(header)?.[1] ?? null;
}

function contentLengthOf(headers: Headers): number | undefined {
  const text = headers.get('content-length');
  if (text === null || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text);
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Runs the SaaSDR reports collector once: lists reports page by page, and streams every completed
 * report that is not archived yet into S3. See README "SaaSDR reports" for the guarantees.
 */
export async function runSdrReports(
  deps: SdrReportsDependencies,
  call: CallOptions,
): Promise<SdrReportsRunSummary> {
  const { store, settings, logger, qualys } = deps;
  const now = deps.now ?? Date.now;
  const callsBefore = qualys.budget.callsMade;
  const checkpoints = new CheckpointStore<ReportsCheckpoint>(store, reportKeys.checkpoint);
  let checkpoint: ReportsCheckpoint = (await checkpoints.load()) ?? { version: 1 };
  const startedAt = new Date(now()).toISOString();
  const pass: ListingPass = checkpoint.pending ?? { runId: keyTime(startedAt), startedAt, nextPage: 0 };

  const summary: SdrReportsRunSummary = {
    collector: NAME,
    runId: pass.runId,
    startPage: pass.nextPage,
    listingComplete: false,
    pages: 0,
    reportsListed: 0,
    completed: 0,
    alreadyArchived: 0,
    expired: [],
    notCompleted: {},
    downloaded: 0,
    bytesDownloaded: 0,
    downloads: [],
    failedDownloads: [],
    rejected: 0,
    objectsWritten: 0,
    apiCalls: 0,
    rateLimit: {},
  };
  const put: ObjectStore['put'] = async (key, body, options) => {
    await store.put(key, body, options);
    summary.objectsWritten++;
  };
  const saveCheckpoint = async (next: ReportsCheckpoint) => {
    checkpoint = { ...next, updatedAt: new Date(now()).toISOString() };
    await checkpoints.save(checkpoint);
    summary.checkpoint = checkpoint;
  };
  let downloadsStarted = 0;

  const callsThisRun = () => qualys.budget.callsMade - callsBefore;
  const ensureCallAllowed = (what: string) => {
    if (callsThisRun() >= settings.maxCallsPerRun) {
      throw new RunLimitReached(
        `call limit of ${settings.maxCallsPerRun} per run reached before ${what}; the next run resumes here`,
      );
    }
  };

  const fetchPage = async (page: number) => {
    ensureCallAllowed(`listing page ${page}`);
    const response = await qualys.getJson(
      SDR_PATHS.reports,
      { page, size: settings.pageSize },
      PageSchema,
      call,
    );
    return { ...response.body, raw: response.raw };
  };

  /** Archives the raw page and returns the reports fit to archive; the others are set aside. */
  async function acceptPage(page: number, body: Page & { raw: Uint8Array }): Promise<ArchivableReport[]> {
    await put(reportKeys.raw(pass, page), gzip(body.raw), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: { 'qualys-endpoint': SDR_PATHS.reports, 'run-id': pass.runId, page: String(page) },
    });
    const valid: ArchivableReport[] = [];
    const rejected: Array<{ index: number; reason: string; record: unknown }> = [];
    body.content.forEach((record, index) => {
      const parsed = v.safeParse(ArchivableReportSchema, record);
      if (parsed.success) valid.push(parsed.output);
      else rejected.push({ index, reason: describeIssues(parsed.issues), record });
    });
    if (rejected.length > 0) {
      // The raw page is archived already; keep the rejects beside the state for inspection.
      logger.warn('Reports without a usable fileUuid or createdAt were set aside', {
        page,
        rejected: rejected.length,
        firstReason: rejected[0]?.reason,
      });
      await writeJson(store, reportKeys.rejected(pass, page), {
        endpoint: LIST_ENDPOINT,
        runId: pass.runId,
        page,
        rejected,
      });
      summary.objectsWritten++;
      summary.rejected += rejected.length;
    }
    summary.pages++;
    summary.reportsListed += body.content.length;
    return valid;
  }

  /** Streams one report into S3; the metadata object, written last, marks it archived. */
  async function download(report: ArchivableReport): Promise<DownloadedReport> {
    const path = SDR_PATHS.reportDownload(report.fileUuid);
    const endpoint = `GET ${path}`;
    const response = await qualys.getStream(path, call);
    const body = response.body;
    if (!body) throw new QualysApiError(endpoint, response.status, 'the download has no body');
    const expected = contentLengthOf(response.headers);
    const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
    const hash = createHash('sha256');
    let bytes = 0;
    let complete = false;
    async function* counted(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          yield chunk;
        }
      } catch (error) {
        throw new QualysApiError(
          endpoint,
          response.status,
          `the download broke off after ${bytes}${expected === undefined ? '' : ` of ${expected}`} bytes (${errorText(error)})`,
        );
      }
      // A body shorter (or longer) than announced is an error even when the stream ended cleanly:
      // throwing here, before the last part is handed over, keeps the upload from completing.
      if (expected !== undefined && bytes !== expected) {
        throw new QualysApiError(
          endpoint,
          response.status,
          `the download ended after ${bytes} of the ${expected} bytes announced by Content-Length`,
        );
      }
      complete = true;
    }

    const fileKey = reportKeys.file(report);
    let uploaded: { bytes: number };
    try {
      uploaded = await store.upload(fileKey, counted(), {
        contentType,
        metadata: {
          'qualys-endpoint': SDR_PATHS.reportDownload(''),
          'file-uuid': safeKeySegment(report.fileUuid),
        },
      });
    } finally {
      // An upload that failed may have stopped reading: release the connection.
      if (!complete) await body.cancel().catch(() => undefined);
    }
    summary.objectsWritten++;
    if (!complete || uploaded.bytes !== bytes) {
      // Only reachable if the store finished without reading the whole body; the file key may hold
      // a short object, but without metadata it does not count as archived and the next run overwrites it.
      throw new Error(`${endpoint}: stored ${uploaded.bytes} bytes of ${bytes} read; not marked archived`);
    }

    const sha256 = hash.digest('hex');
    const downloadedAt = new Date(now()).toISOString();
    const fileName = fileNameFromDisposition(response.headers.get('content-disposition'));
    await put(
      reportKeys.curated(report),
      toNdjsonGzip([
        {
          ...report,
          lake_file_key: fileKey,
          lake_file_name: fileName,
          lake_content_type: contentType,
          lake_bytes: bytes,
          lake_sha256: sha256,
          lake_downloaded_at: downloadedAt,
          lake_ingested_at: downloadedAt,
          lake_run_id: pass.runId,
        },
      ]),
      { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
    );
    const metadata: ReportMetadata = {
      report,
      file: { key: fileKey, contentType, fileName, bytes, sha256 },
      downloadedAt,
      runId: pass.runId,
    };
    await writeJson(store, reportKeys.metadata(report), metadata);
    summary.objectsWritten++;
    return { fileUuid: report.fileUuid, key: fileKey, bytes, sha256 };
  }

  /** Downloads a report unless it is not completed or archived already; only stop signals escape. */
  async function consider(report: ArchivableReport, waiting: Array<{ fileUuid: string; status: string }>) {
    const status = (report.status ?? 'unknown').trim().toLowerCase() || 'unknown';
    if (status !== 'completed') {
      summary.notCompleted[status] = (summary.notCompleted[status] ?? 0) + 1;
      waiting.push({ fileUuid: report.fileUuid, status });
      return;
    }
    summary.completed++;
    if (await store.exists(reportKeys.metadata(report))) {
      summary.alreadyArchived++;
      return;
    }
    // Qualys deletes a report file at `expiresOn`; asking for it afterwards would fail every run.
    const expiresAt = Date.parse(String(report.expiresOn ?? ''));
    if (!Number.isNaN(expiresAt) && expiresAt <= now()) {
      summary.expired.push(report.fileUuid);
      logger.warn('Report expired before it was archived; skipped', {
        fileUuid: report.fileUuid,
        expiresOn: report.expiresOn,
      });
      return;
    }
    if (downloadsStarted >= settings.maxDownloadsPerRun) {
      throw new RunLimitReached(
        `download limit of ${settings.maxDownloadsPerRun} reports per run reached; the next run resumes here`,
      );
    }
    ensureCallAllowed(`downloading report ${report.fileUuid}`);
    downloadsStarted++;
    try {
      const done = await download(report);
      summary.downloads.push(done);
      summary.downloaded++;
      summary.bytesDownloaded += done.bytes;
      logger.info('Report archived', { ...done });
    } catch (error) {
      if (isStopSignal(error)) throw error;
      // A download cut at the deadline is not the report's fault: stop, and the next run retries it.
      if (call.signal?.aborted || now() >= call.deadline - 5_000) {
        throw new DeadlineError(`the download of report ${report.fileUuid} was cut off by the run deadline`);
      }
      const reason = errorText(error);
      summary.failedDownloads.push({ fileUuid: report.fileUuid, reason });
      logger.error('Report download failed; it is retried by the next pass', {
        fileUuid: report.fileUuid,
        reason,
      });
    }
  }

  let failure: unknown;
  try {
    // Saved before the first call, so a retried invocation reuses this pass's run folder.
    if (!checkpoint.pending) await saveCheckpoint({ ...checkpoint, pending: pass });
    summary.checkpoint = checkpoint;
    if (pass.nextPage > 0)
      logger.info('Resuming the report listing', { runId: pass.runId, page: pass.nextPage });
    for await (const { cursor, next, page } of pageNumberPaging(
      fetchPage,
      pass.nextPage,
      settings.pageSize,
    )) {
      const reports = await acceptPage(cursor, page);
      const waiting: Array<{ fileUuid: string; status: string }> = [];
      try {
        for (const report of reports) await consider(report, waiting);
      } finally {
        if (waiting.length > 0) {
          logger.info('Reports not completed yet were skipped; the next pass checks them again', {
            page: cursor,
            reports: waiting,
          });
        }
      }
      if (next === undefined) {
        summary.listingComplete = true;
        await saveCheckpoint({
          version: 1,
          lastCompleted: {
            runId: pass.runId,
            startedAt: pass.startedAt,
            completedAt: new Date(now()).toISOString(),
          },
        });
      } else {
        await saveCheckpoint({ ...checkpoint, pending: { ...pass, nextPage: next } });
      }
    }
  } catch (error) {
    if (isStopSignal(error) || error instanceof RunLimitReached) {
      summary.stoppedEarly = error.message;
      logger.info('Stopping early; the next run resumes from the checkpoint', { reason: error.message });
    } else {
      failure = error;
    }
  }

  summary.apiCalls = callsThisRun();
  summary.rateLimit = qualys.budget.rateLimitReport;
  if (failure) throw failure;
  if (summary.failedDownloads.length > 0) throw new ReportDownloadsFailedError(summary);
  return summary;
}
