import * as v from 'valibot';
import { pathSegmentProblem } from '../qualys/path-segment';
import { ReportSchema } from '../qualys/sdr';
import { isoInstant } from '../qualys/timestamps';

/**
 * What a listed report needs to be archived: an id that can be a path segment of its download, and
 * the creation time its keys are dated by.
 */
export const ArchivableReportSchema = v.looseObject({
  ...ReportSchema.entries,
  fileUuid: v.pipe(
    ReportSchema.entries.fileUuid,
    v.rawCheck(({ dataset, addIssue }) => {
      const problem = dataset.typed ? pathSegmentProblem(dataset.value) : undefined;
      if (problem !== undefined) addIssue({ message: `cannot be used in the download path: ${problem}` });
    }),
  ),
  createdAt: v.pipe(v.string(), isoInstant()),
});
export type ArchivableReport = v.InferOutput<typeof ArchivableReportSchema>;

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

/** `state/sdr-reports/content-failures.json`: reports whose downloads were not the report, by fileUuid. */
export interface ContentFailures {
  version: 1;
  reports: Record<string, { attempts: number; reason: string; lastAttemptAt: string }>;
}
