import { CheckpointStore } from '../core/checkpoint';
import { unreadablePrefix } from '../core/manifest';
import { ENV } from '../core/names';
import { pageNumberPaging } from '../core/paging';
import { gzip, keyTime, writeJson } from '../core/records';
import { type CollectorDependencies, emptyRunCounts, Run, type RunCounts, RunError } from '../core/run';
import { keyInBucket } from '../core/scoped-store';
import type { CallOptions } from '../qualys/client';
import { DeadlineError, isStopSignal, QualysRedirectError } from '../qualys/errors';
import type { Page } from '../qualys/schemas';
import { listSdrPage, SDR_PATHS } from '../qualys/sdr';
import { parseInstant } from '../qualys/timestamps';
import { screen } from '../qualys/validation';
import type { SdrReportsSettings } from './config';
import { ReportContentError } from './content';
import { archiveReport, type DownloadContext, errorText } from './download';
import { sdrReportsKeys } from './keys';
import { sdrReportsManifest } from './manifest';
import {
  type ArchivableReport,
  ArchivableReportSchema,
  type ContentFailures,
  type DownloadedReport,
  type ListingPass,
  type ReportsCheckpoint,
} from './model';

const LIST_ENDPOINT = `GET ${SDR_PATHS.reports}`;
const STOP_MESSAGE = 'Stopping early; the next run resumes from the checkpoint';

export type SdrReportsDependencies = CollectorDependencies<SdrReportsSettings, 'getJson' | 'getStream'>;

export interface SdrReportsSummary extends RunCounts {
  collector: 'sdr-reports';
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
  /** Reports given up by this run: MAX_CONTENT_FAILURES downloads in a row were not the report. */
  setAside: Array<{ fileUuid: string; reason: string }>;
  /** Completed reports skipped because an earlier run set them aside. */
  skippedSetAside: number;
  /** List items set aside (no fileUuid or createdAt). */
  rejected: number;
  /** Why the run ended before the end of the listing: download or call limit, budget, deadline. */
  stoppedEarly?: string;
  checkpoint?: ReportsCheckpoint;
}

/**
 * Thrown at the end of a run in which at least one download failed, after every other download was
 * attempted and everything was saved, so the Lambda error alarm fires while reports keep failing.
 */
export class ReportDownloadsFailedError extends RunError<SdrReportsSummary> {
  override name = 'ReportDownloadsFailedError';
  constructor(summary: SdrReportsSummary) {
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

function emptySummary(pass: ListingPass): SdrReportsSummary {
  return {
    collector: 'sdr-reports',
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
    setAside: [],
    skippedSetAside: 0,
    rejected: 0,
    ...emptyRunCounts(),
  };
}

/** The listed status, lower-cased; a missing or blank one is `unknown`. */
export const statusOf = (report: ArchivableReport): string =>
  (report.status ?? 'unknown').trim().toLowerCase() || 'unknown';

/** Qualys deletes a report file at `expiresOn`; asking for it afterwards would fail every run. */
export function hasExpired(report: ArchivableReport, now: number): boolean {
  // A date that is not strict ISO-8601 with a zone never counts as passed: the download is tried.
  const expiresAt = parseInstant(report.expiresOn);
  return expiresAt !== undefined && expiresAt <= now;
}

/** The checkpoint once `pass` has handled a page: the next page to read, or the pass completed. */
export function afterPage(
  checkpoint: ReportsCheckpoint,
  pass: ListingPass,
  next: number | undefined,
  now: string,
): ReportsCheckpoint {
  if (next !== undefined) return { ...checkpoint, pending: { ...pass, nextPage: next } };
  return {
    version: 1,
    lastCompleted: { runId: pass.runId, startedAt: pass.startedAt, completedAt: now },
  };
}

/** Downloads in a row whose body was not the report (an HTML page, the wrong format, too large) before it is set aside. */
export const MAX_CONTENT_FAILURES = 3;

interface Work {
  run: Run<SdrReportsSummary>;
  settings: SdrReportsSettings;
  pass: ListingPass;
  download: DownloadContext;
  failures: CheckpointStore<ContentFailures>;
}

/**
 * Counts a download whose body was not the report; at MAX_CONTENT_FAILURES the report is set aside
 * (its record and reason under `set-aside/`) and no longer fails the run. Returns whether it was.
 */
async function noteContentFailure(work: Work, report: ArchivableReport, reason: string): Promise<boolean> {
  const { run } = work;
  const state = (await work.failures.load()) ?? { version: 1, reports: {} };
  const attempts = (state.reports[report.fileUuid]?.attempts ?? 0) + 1;
  const { [report.fileUuid]: _previous, ...others } = state.reports;
  const giveUp = attempts >= MAX_CONTENT_FAILURES;
  if (giveUp) {
    await writeJson(run.store, sdrReportsKeys.setAside(report), {
      report,
      reason,
      attempts,
      setAsideAt: run.isoNow(),
    });
    run.summary.setAside.push({ fileUuid: report.fileUuid, reason });
    run.logger.error(
      'Report set aside: its downloads were not the report; delete the set-aside object to retry',
      {
        fileUuid: report.fileUuid,
        attempts,
        reason,
        key: keyInBucket(run.store, sdrReportsKeys.setAside(report)),
      },
    );
  }
  await work.failures.save({
    version: 1,
    reports: giveUp
      ? others
      : { ...others, [report.fileUuid]: { attempts, reason, lastAttemptAt: run.isoNow() } },
  });
  return giveUp;
}

/** Archives the raw page and returns the reports fit to archive; the others are set aside. */
async function acceptPage(work: Work, page: number, body: Page & { raw: Uint8Array }) {
  const { run, pass } = work;
  await run.store.put(sdrReportsKeys.raw(pass, page), gzip(body.raw), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: { 'qualys-endpoint': SDR_PATHS.reports, 'run-id': pass.runId, page: String(page) },
  });
  const { valid, rejected } = screen(body.content, ArchivableReportSchema);
  // The raw page is archived already; keep the rejects beside the state for inspection.
  await run.setAside(
    sdrReportsKeys.rejected(pass, page),
    { endpoint: LIST_ENDPOINT, runId: pass.runId, page },
    rejected,
    'Reports without a usable fileUuid or createdAt were set aside',
    { page },
  );
  run.summary.pages++;
  run.summary.reportsListed += body.content.length;
  return valid;
}

/**
 * Downloads a report unless it is not completed, archived already or expired. Returns why the run
 * must stop when the download limit is reached; only stop signals escape.
 */
async function consider(
  work: Work,
  report: ArchivableReport,
  waiting: Array<{ fileUuid: string; status: string }>,
): Promise<string | undefined> {
  const { run, settings } = work;
  const summary = run.summary;
  const status = statusOf(report);
  if (status !== 'completed') {
    summary.notCompleted[status] = (summary.notCompleted[status] ?? 0) + 1;
    waiting.push({ fileUuid: report.fileUuid, status });
    return undefined;
  }
  summary.completed++;
  if (await run.store.exists(sdrReportsKeys.metadata(report))) {
    summary.alreadyArchived++;
    return undefined;
  }
  if (await run.store.exists(sdrReportsKeys.setAside(report))) {
    summary.skippedSetAside++;
    return undefined;
  }
  if (hasExpired(report, run.now())) {
    summary.expired.push(report.fileUuid);
    run.logger.warn('Report expired before it was archived; skipped', {
      fileUuid: report.fileUuid,
      expiresOn: report.expiresOn,
    });
    return undefined;
  }
  // Every download started (failed ones included) is counted once, as downloaded or failed.
  if (summary.downloaded + summary.failedDownloads.length >= settings.maxDownloadsPerRun) {
    return `download limit of ${settings.maxDownloadsPerRun} reports per run reached; the next run resumes here`;
  }
  run.spendCall(`downloading report ${report.fileUuid}`);
  try {
    const done = await archiveReport(work.download, report);
    summary.downloads.push(done);
    summary.downloaded++;
    summary.bytesDownloaded += done.bytes;
    run.logger.info('Report archived', { ...done });
  } catch (error) {
    // A redirect is the gateway's fault, not the report's: every download would meet it.
    if (isStopSignal(error) || error instanceof QualysRedirectError) throw error;
    // A download cut at the deadline is not the report's fault: stop, and the next run retries it.
    const { call } = work.download;
    if (call.signal?.aborted || run.now() >= call.deadline - 5_000) {
      throw new DeadlineError(`the download of report ${report.fileUuid} was cut off by the run deadline`);
    }
    const reason = errorText(error);
    if (error instanceof ReportContentError && (await noteContentFailure(work, report, reason))) {
      return undefined;
    }
    summary.failedDownloads.push({ fileUuid: report.fileUuid, reason });
    run.logger.error('Report download failed; it is retried by the next pass', {
      fileUuid: report.fileUuid,
      reason,
    });
  }
  return undefined;
}

/** Considers each report of one page in order; returns why the run must stop, if it must. */
async function archivePage(work: Work, page: number, reports: ArchivableReport[]) {
  const waiting: Array<{ fileUuid: string; status: string }> = [];
  try {
    for (const report of reports) {
      const stop = await consider(work, report, waiting);
      if (stop) return stop;
    }
    return undefined;
  } finally {
    if (waiting.length > 0) {
      work.run.logger.info('Reports not completed yet were skipped; the next pass checks them again', {
        page,
        reports: waiting,
      });
    }
  }
}

/**
 * Runs the SaaSDR reports collector once: lists reports page by page, and streams every completed
 * report that is not archived yet into S3. See README "SaaSDR reports" for the guarantees.
 */
export async function runSdrReports(
  deps: SdrReportsDependencies,
  call: CallOptions,
): Promise<SdrReportsSummary> {
  const { qualys, settings } = deps;
  const now = deps.now ?? Date.now;
  const loaded = await new CheckpointStore<ReportsCheckpoint>(deps.store, sdrReportsKeys.checkpoint).load();
  let checkpoint: ReportsCheckpoint = loaded ?? { version: 1 };
  const startedAt = new Date(now()).toISOString();
  const pass: ListingPass = checkpoint.pending ?? { runId: keyTime(startedAt), startedAt, nextPage: 0 };
  const run = new Run(
    {
      ...deps,
      now,
      callLimit: { limit: settings.maxCallsPerRun, setting: ENV.sdrMaxCallsPerRun },
      unreadablePrefix: unreadablePrefix(sdrReportsManifest),
    },
    emptySummary(pass),
  );
  const summary = run.summary;
  const checkpoints = new CheckpointStore<ReportsCheckpoint>(run.store, sdrReportsKeys.checkpoint);
  const save = async (next: ReportsCheckpoint) => {
    checkpoint = { ...next, updatedAt: run.isoNow() };
    await checkpoints.save(checkpoint);
    summary.checkpoint = checkpoint;
  };
  const work: Work = {
    run,
    settings,
    pass,
    download: { qualys, store: run.store, now, runId: pass.runId, call, maxBytes: settings.maxReportBytes },
    failures: new CheckpointStore<ContentFailures>(run.store, sdrReportsKeys.contentFailures),
  };
  const fetchPage = async (page: number) => {
    run.spendCall(`listing page ${page}`);
    const { body, raw } = await listSdrPage(qualys, 'reports', { page, size: settings.pageSize }, call);
    return { ...body, raw };
  };

  await run.steps(async () => {
    // Saved before the first call, so a retried invocation reuses this pass's run folder.
    if (!checkpoint.pending) await save({ ...checkpoint, pending: pass });
    summary.checkpoint = checkpoint;
    if (pass.nextPage > 0)
      run.logger.info('Resuming the report listing', { runId: pass.runId, page: pass.nextPage });
    for await (const { cursor, next, page } of pageNumberPaging({
      endpoint: LIST_ENDPOINT,
      fetchPage,
      start: pass.nextPage,
      size: settings.pageSize,
    })) {
      const reports = await acceptPage(work, cursor, page);
      const stop = await archivePage(work, cursor, reports);
      if (stop) {
        // A limit of this run, not a failure: the page is read again by the next run.
        summary.stoppedEarly = stop;
        run.logger.info(STOP_MESSAGE, { reason: stop });
        return;
      }
      if (next === undefined) summary.listingComplete = true;
      await save(afterPage(checkpoint, pass, next, run.isoNow()));
    }
  }, STOP_MESSAGE);

  summary.freshAsOf = checkpoint.lastCompleted?.completedAt ?? checkpoint.pending?.startedAt;
  await run.finish();
  if (summary.failedDownloads.length > 0) throw new ReportDownloadsFailedError(summary);
  return summary;
}
