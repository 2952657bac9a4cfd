import { ReportDownloadsFailedError, runSdrReports, type SdrReportsRunSummary } from '../core/sdr-reports';
import {
  deadlineOf,
  lambda,
  logger,
  qualysClientFor,
  readCommonConfig,
  recordMetrics,
  storeFor,
} from '../shared/runtime';
import { readSdrReportsConfig } from './config';

// Read and validated once per execution environment: a bad variable fails the first invocation.
const common = readCommonConfig(process.env);
const settings = readSdrReportsConfig(process.env);
const qualys = qualysClientFor(common);
const store = storeFor(common);

function report(summary: SdrReportsRunSummary): void {
  recordMetrics({
    Pages: summary.pages,
    ReportsListed: summary.reportsListed,
    ReportsDownloaded: summary.downloaded,
    ReportBytesDownloaded: summary.bytesDownloaded,
    FailedDownloads: summary.failedDownloads.length,
    RejectedReports: summary.rejected,
    ApiCalls: summary.apiCalls,
    StoppedEarly: summary.stoppedEarly ? 1 : 0,
  });
  logger.info('SaaSDR reports run finished', { summary: { ...summary, checkpoint: undefined } });
}

/** Any event runs one pass (or the rest of a pass) over the report listing. */
export const handler = lambda(async (_event: unknown, context, signal) => {
  try {
    const summary = await runSdrReports(
      { qualys, store, logger, settings },
      { deadline: deadlineOf(context), signal },
    );
    report(summary);
    return summary;
  } catch (error) {
    // Failed downloads end the run with an error (for the alarm) after everything else was saved.
    if (error instanceof ReportDownloadsFailedError) report(error.summary);
    throw error;
  }
});
