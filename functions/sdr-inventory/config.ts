import { ENV } from '../core/names';
import { SDR_MAX_PAGE_SIZE } from '../qualys/sdr';
import { type Env, integer } from '../runtime/env';

export interface SdrInventorySettings {
  /** Records per page of new snapshots; the API's maximum (200) means the fewest calls. */
  pageSize: number;
  /**
   * Calls one run may make: half the default subscription budget (300 per hour), so CDR findings
   * and the other collectors keep theirs while a large snapshot spans several runs.
   */
  maxCallsPerRun: number;
}

export function readSdrInventorySettings(env: Env): SdrInventorySettings {
  return {
    pageSize: integer(env, ENV.sdrPageSize, SDR_MAX_PAGE_SIZE, { min: 1, max: SDR_MAX_PAGE_SIZE }),
    maxCallsPerRun: integer(env, ENV.sdrMaxCallsPerRun, 150, { min: 1, max: 100_000 }),
  };
}
