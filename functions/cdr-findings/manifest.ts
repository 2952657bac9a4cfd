import { defineCollector } from '../core/manifest';
import { CURATED_DATASETS } from '../core/names';

/** CDR threat findings: raw pages, the `cdr_findings` dataset, and alerts on severe findings. */
export const cdrFindingsManifest = defineCollector({
  name: 'cdr-findings',
  datasets: [CURATED_DATASETS.cdrFindings],
  publishesAlerts: true,
  journal: true,
});
