import { ENV } from '../core/names';
import { parseMinSeverity } from '../core/severity';
import { type Env, integer, parseBoolean, parsed } from '../runtime/env';
import { readSdrPaging, type SdrPagingSettings } from '../runtime/sdr-settings';
import type { EvaluationResult } from './model';

const RESULTS: readonly EvaluationResult[] = ['Pass', 'Fail', 'Error'];

/**
 * SDR_POSTURE_EVALUATIONS: a comma list of Pass, Fail, Error (any case). Fail is required: without
 * it no failure is ever seen, and every open failure would look recovered.
 */
export function parseEvaluations(textValue: string): EvaluationResult[] | undefined {
  const wanted: EvaluationResult[] = [];
  for (const part of textValue.split(',')) {
    const result = RESULTS.find((name) => name.toLowerCase() === part.trim().toLowerCase());
    if (!result) return undefined;
    if (!wanted.includes(result)) wanted.push(result);
  }
  return wanted.includes('Fail') ? wanted : undefined;
}

/** Page size of the connector and policy lists, calls per run, and what to alert on. */
export interface SdrPostureSettings extends SdrPagingSettings {
  /** `controlEvaluations`, e.g. ['Pass', 'Fail', 'Error']; must include Fail. */
  evaluations: readonly EvaluationResult[];
  notifyRecovery: boolean;
  /** The first complete read of a (connector, policy) sends one summary of what already fails, not one alert each. */
  baselineSummary: boolean;
  /** Numeric criticality (Low 1 ... Critical 4) a failure needs to be alerted. */
  minCriticality: number;
  maxAlertsPerRun: number;
}

export function readSdrPostureSettings(env: Env): SdrPostureSettings {
  return {
    ...readSdrPaging(env, 100),
    evaluations: parsed(
      env,
      ENV.sdrPostureEvaluations,
      'Pass,Fail,Error',
      parseEvaluations,
      'a comma list of Pass, Fail and Error that includes Fail',
    ),
    notifyRecovery: parsed(env, ENV.sdrPostureNotifyRecovery, 'true', parseBoolean, 'true or false'),
    baselineSummary: parsed(env, ENV.sdrPostureBaselineSummary, 'true', parseBoolean, 'true or false'),
    minCriticality: parsed(
      env,
      ENV.sdrPostureMinCriticality,
      'Low',
      parseMinSeverity,
      'Low, Medium, High, Critical or a number',
    ),
    maxAlertsPerRun: integer(env, ENV.alertMaxPerRun, 50, { min: 1, max: 10_000 }),
  };
}
