import { ENV } from '../core/names';
import { SDR_MAX_PAGE_SIZE } from '../qualys/sdr';
import { type Env, integer } from './env';

/** What every SaaSDR collector reads the same way: the list page size and its per-run call cap. */
export interface SdrPagingSettings {
  /** Records per list page; the API's maximum (200) means the fewest calls. */
  pageSize: number;
  /** Qualys calls one run may make (retries included) before it checkpoints and stops. */
  maxCallsPerRun: number;
}

/** SDR_PAGE_SIZE and SDR_MAX_CALLS_PER_RUN, with the collector's own default cap. */
export function readSdrPaging(env: Env, defaultMaxCallsPerRun: number): SdrPagingSettings {
  return {
    pageSize: integer(env, ENV.sdrPageSize, SDR_MAX_PAGE_SIZE, { min: 1, max: SDR_MAX_PAGE_SIZE }),
    maxCallsPerRun: integer(env, ENV.sdrMaxCallsPerRun, defaultMaxCallsPerRun, { min: 1, max: 100_000 }),
  };
}
