import { defineCollector } from '../core/manifest';
import { CURATED_DATASETS, INVENTORY_DATASETS } from '../core/names';

/** SaaSDR inventory snapshots: one curated dataset per list, and one `sdr_snapshots` record each. */
export const sdrInventoryManifest = defineCollector({
  name: 'sdr-inventory',
  datasets: [...INVENTORY_DATASETS, CURATED_DATASETS.sdrSnapshots],
  publishesAlerts: false,
});
