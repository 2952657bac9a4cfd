import { ENV } from '../core/names';
import { SDR_MAX_PAGE_SIZE } from '../qualys/sdr';
import { type Env, integer } from '../runtime/env';

export interface SdrReportsSettings {
  pageSize: number;
  /** Downloads this run may start (failed ones included). */
  maxDownloadsPerRun: number;
  /** Qualys calls this run may make (retries included) before it checkpoints and stops. */
  maxCallsPerRun: number;
}

/** Settings of the reports collector; every error names its variable. */
export function readSdrReportsSettings(env: Env): SdrReportsSettings {
  return {
    // The listing is short (one page of 200 holds most subscriptions' reports): fewest calls.
    pageSize: integer(env, ENV.sdrPageSize, SDR_MAX_PAGE_SIZE, { min: 1, max: SDR_MAX_PAGE_SIZE }),
    maxDownloadsPerRun: integer(env, ENV.sdrReportsMaxPerRun, 20, { min: 1, max: 1_000 }),
    maxCallsPerRun: integer(env, ENV.sdrMaxCallsPerRun, 60, { min: 1, max: 100_000 }),
  };
}
