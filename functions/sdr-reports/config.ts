import { ENV } from '../core/names';
import { type Env, integer } from '../runtime/env';
import { readSdrPaging, type SdrPagingSettings } from '../runtime/sdr-settings';
import { DEFAULT_MAX_REPORT_BYTES } from './content';

export interface SdrReportsSettings extends SdrPagingSettings {
  /** Downloads this run may start (failed ones included). */
  maxDownloadsPerRun: number;
  /** Largest report file stored; a larger one is not stored, and set aside after a few tries. */
  maxReportBytes: number;
}

/** Settings of the reports collector; every error names its variable. */
export function readSdrReportsSettings(env: Env): SdrReportsSettings {
  return {
    // The listing is short (one page of 200 holds most subscriptions' reports): fewest calls.
    ...readSdrPaging(env, 60),
    maxDownloadsPerRun: integer(env, ENV.sdrReportsMaxPerRun, 20, { min: 1, max: 1_000 }),
    maxReportBytes: integer(env, ENV.sdrReportMaxBytes, DEFAULT_MAX_REPORT_BYTES, {
      min: 1024 * 1024,
      max: 50 * 1024 ** 3,
    }),
  };
}
