import { defineCollector } from '../core/manifest';
import { CURATED_DATASETS } from '../core/names';

/** SaaSDR reports: the listing's raw pages, each report file under `reports/`, `sdr_reports` records. */
export const sdrReportsManifest = defineCollector({
  name: 'sdr-reports',
  datasets: [CURATED_DATASETS.sdrReports],
  publishesAlerts: false,
  files: true,
});
