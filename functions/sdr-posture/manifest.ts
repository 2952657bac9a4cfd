import { defineCollector } from '../core/manifest';
import { CURATED_DATASETS } from '../core/names';

/** SaaSDR posture: raw reporting pages, the `sdr_posture` dataset, alerts on failed controls. */
export const sdrPostureManifest = defineCollector({
  name: 'sdr-posture',
  datasets: [CURATED_DATASETS.sdrPosture],
  publishesAlerts: true,
});
