import { curatedPrefix } from '../core/manifest';
import { CURATED_DATASETS } from '../core/names';
import { safeKeySegment, utcDate } from '../core/records';
import { sdrReportsManifest } from './manifest';
import type { ArchivableReport, ListingPass } from './model';

const { raw, state, files } = sdrReportsManifest.prefixes;
if (files === undefined) throw new Error('the sdr-reports manifest must declare files: true');
const curated = curatedPrefix(CURATED_DATASETS.sdrReports);

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
export const sdrReportsKeys = {
  checkpoint: `${state}checkpoint.json`,
  raw: (pass: ListingPass, page: number) =>
    `${raw}dt=${utcDate(pass.startedAt)}/run=${pass.runId}/page=${pad(page)}.json.gz`,
  rejected: (pass: ListingPass, page: number) => `${state}rejected/run=${pass.runId}/page=${pad(page)}.json`,
  /** Reports whose body failed the content checks, with how often: retried until MAX_CONTENT_FAILURES. */
  contentFailures: `${state}content-failures.json`,
  /** A report given up after MAX_CONTENT_FAILURES bodies that were not the report; delete it to retry. */
  setAside: (report: ArchivableReport) => `${state}set-aside/${safeKeySegment(report.fileUuid)}.json`,
  folder: (report: ArchivableReport) =>
    `${files}dt=${utcDate(report.createdAt)}/${safeKeySegment(report.fileUuid)}/`,
  /** The report file, named by its format rather than by Content-Disposition so the key is known before the download. */
  file: (report: ArchivableReport) => `${sdrReportsKeys.folder(report)}report.${extension(report)}`,
  /** Written last: its presence is what "already archived" means. */
  metadata: (report: ArchivableReport) => `${sdrReportsKeys.folder(report)}metadata.json`,
  curated: (report: ArchivableReport) =>
    `${curated}dt=${utcDate(report.createdAt)}/${safeKeySegment(report.fileUuid)}.json.gz`,
};
