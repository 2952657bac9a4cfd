import { collectorHandler } from '../runtime/handler';
import { runSdrReports } from './collector';
import { readSdrReportsSettings } from './config';
import { sdrReportsManifest } from './manifest';

/** Any event runs one pass (or the rest of a pass) over the report listing. */
export const handler = collectorHandler({
  manifest: sdrReportsManifest,
  settings: readSdrReportsSettings,
  run: (runtime, _event, call) => runSdrReports(runtime, call),
  metrics: (summary) => ({
    Pages: summary.pages,
    ReportsListed: summary.reportsListed,
    ReportsDownloaded: summary.downloaded,
    ReportBytesDownloaded: summary.bytesDownloaded,
    FailedDownloads: summary.failedDownloads.length,
    ReportsSetAside: summary.setAside.length,
    RejectedReports: summary.rejected,
  }),
  finished: 'SaaSDR reports run finished',
});
