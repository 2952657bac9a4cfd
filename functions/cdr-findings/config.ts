import { ENV } from '../core/names';
import { parseMinSeverity } from '../core/severity';
import { type Env, integer, optionalString, parsed } from '../runtime/env';
import type { LateDataSettings } from './windows';

/**
 * Match-all default: QQL needs a term, and every CDR finding has one of the three providers the
 * API documents for `cloudProvider` (AWS, AZURE, GCP).
 */
export const DEFAULT_CDR_QUERY =
  'tc.findings.cloudProvider: AWS or tc.findings.cloudProvider: AZURE or tc.findings.cloudProvider: GCP';

export interface CdrFindingsSettings extends LateDataSettings {
  /** QQL filter of the findings to collect (CDR_QUERY). */
  query: string;
  pageSize: number;
  /** Findings at or above this severity (1 to 5) are alerted. */
  minSeverity: number;
  /** Above this many alerts in one run, digests replace the individual messages. */
  maxAlertsPerRun: number;
}

export function readCdrFindingsSettings(env: Env): CdrFindingsSettings {
  return {
    query: optionalString(env, ENV.cdrQuery, DEFAULT_CDR_QUERY),
    pageSize: integer(env, ENV.cdrPageSize, 1000, { min: 1, max: 1000 }),
    lagMinutes: integer(env, ENV.cdrLagMinutes, 5, { min: 0, max: 24 * 60 }),
    lookbackMinutes: integer(env, ENV.cdrLookbackMinutes, 0, { min: 0, max: 7 * 24 * 60 }),
    lateMinutes: integer(env, ENV.cdrLateMinutes, 120, { min: 0, max: 7 * 24 * 60 }),
    settlePageSize: integer(env, ENV.cdrSettlePageSize, 1000, { min: 1, max: 1000 }),
    reconcileDays: integer(env, ENV.cdrReconcileDays, 2, { min: 0, max: 31 }),
    initialLookbackHours: integer(env, ENV.cdrInitialLookbackHours, 24, { min: 1, max: 24 * 365 }),
    maxWindowHours: integer(env, ENV.cdrMaxWindowHours, 24, { min: 1, max: 24 * 31 }),
    minSeverity: parsed(
      env,
      ENV.alertMinSeverity,
      'HIGH',
      parseMinSeverity,
      'LOW, MEDIUM, HIGH, CRITICAL or a number',
    ),
    maxAlertsPerRun: integer(env, ENV.alertMaxPerRun, 50, { min: 1, max: 10_000 }),
  };
}
