import type { Env } from '../runtime/env';
import { readSdrPaging, type SdrPagingSettings } from '../runtime/sdr-settings';

/** Page size of new snapshots, and calls one run may make. */
export type SdrInventorySettings = SdrPagingSettings;

export function readSdrInventorySettings(env: Env): SdrInventorySettings {
  // Half the default subscription budget (300 per hour), so CDR findings and the other
  // collectors keep theirs while a large snapshot spans several runs.
  return readSdrPaging(env, 150);
}
