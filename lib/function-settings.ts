import { ENV, type FunctionName } from '../functions/core/names';
import { parseMinSeverity, SEVERITY_LEVELS } from '../functions/core/severity';
import { type ConfigError, parseBoolean } from '../functions/runtime/env';

/**
 * Collector settings a deployer sets as CDK context instead of editing `lib/`: each context key sets
 * one environment variable on the collectors it names. A key that is absent sets nothing, so the
 * function keeps its own default (the `default` below, which test/infra/function-settings.test.ts
 * checks against the function's reader, with the ranges).
 */
export interface FunctionSetting {
  /** CDK context key. */
  readonly key: string;
  /** Environment variable it sets. */
  readonly env: string;
  /** Collectors whose function gets the variable. */
  readonly collectors: readonly FunctionName[];
  readonly value: SettingValue;
  /** The function's default, as README shows it. */
  readonly default: string;
  /** What it changes, for README. */
  readonly meaning: string;
}

export type SettingValue =
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'level' };

const SDR_COLLECTORS: readonly FunctionName[] = ['sdr-inventory', 'sdr-posture', 'sdr-reports'];
const int = (min: number, max: number): SettingValue => ({ kind: 'integer', min, max });

export const FUNCTION_SETTINGS: readonly FunctionSetting[] = [
  {
    key: 'cdrPageSize',
    env: ENV.cdrPageSize,
    collectors: ['cdr-findings'],
    value: int(1, 1000),
    default: '1000',
    meaning: 'findings per call of the new and explicit (backfill) windows',
  },
  {
    key: 'cdrInitialLookbackHours',
    env: ENV.cdrInitialLookbackHours,
    collectors: ['cdr-findings'],
    value: int(1, 24 * 365),
    default: '24',
    meaning: 'how far back the first run (no checkpoint) starts',
  },
  {
    key: 'cdrLateMinutes',
    env: ENV.cdrLateMinutes,
    collectors: ['cdr-findings'],
    value: int(0, 7 * 24 * 60),
    default: '120',
    meaning: 'an hour of event time is read once more this long after it (0: never)',
  },
  {
    key: 'cdrReconcileDays',
    env: ENV.cdrReconcileDays,
    collectors: ['cdr-findings'],
    value: int(0, 31),
    default: '2',
    meaning: 'once per UTC day, re-read this many days in full (0: no reconcile)',
  },
  {
    key: 'sdrPageSize',
    env: ENV.sdrPageSize,
    collectors: SDR_COLLECTORS,
    value: int(1, 200),
    default: '200',
    meaning: 'records per SaaSDR list page (200, the maximum, makes the fewest calls)',
  },
  {
    key: 'sdrInventoryMaxCallsPerRun',
    env: ENV.sdrMaxCallsPerRun,
    collectors: ['sdr-inventory'],
    value: int(1, 100_000),
    default: '150',
    meaning: 'Qualys calls one inventory run may make before it checkpoints and stops',
  },
  {
    key: 'sdrPostureMaxCallsPerRun',
    env: ENV.sdrMaxCallsPerRun,
    collectors: ['sdr-posture'],
    value: int(1, 100_000),
    default: '100',
    meaning: 'Qualys calls one posture run may make before it checkpoints and stops',
  },
  {
    key: 'sdrReportsMaxCallsPerRun',
    env: ENV.sdrMaxCallsPerRun,
    collectors: ['sdr-reports'],
    value: int(1, 100_000),
    default: '60',
    meaning: 'Qualys calls one reports run may make before it checkpoints and stops',
  },
  {
    key: 'sdrPostureMinCriticality',
    env: ENV.sdrPostureMinCriticality,
    collectors: ['sdr-posture'],
    value: { kind: 'level' },
    default: 'Low',
    meaning:
      'lowest control criticality that alerts: `Low`, `Medium`, `High`, `Critical` or a number (an unknown criticality always alerts)',
  },
  {
    key: 'sdrPostureNotifyRecovery',
    env: ENV.sdrPostureNotifyRecovery,
    collectors: ['sdr-posture'],
    value: { kind: 'boolean' },
    default: 'true',
    meaning: 'send a notice when a failed control passes again',
  },
  {
    key: 'sdrPostureBaselineSummary',
    env: ENV.sdrPostureBaselineSummary,
    collectors: ['sdr-posture'],
    value: { kind: 'boolean' },
    default: 'true',
    meaning:
      'the first complete poll of a connector and policy sends one summary of what already fails, not one alert per failure',
  },
  {
    key: 'sdrReportsMaxPerRun',
    env: ENV.sdrReportsMaxPerRun,
    collectors: ['sdr-reports'],
    value: int(1, 1000),
    default: '20',
    meaning: 'report downloads one run may start',
  },
];

/** The variables the context sets, per collector (none for a key that is absent). */
export type FunctionEnvironments = Readonly<Record<FunctionName, Readonly<Record<string, string>>>>;

/** Reads and validates every {@link FUNCTION_SETTINGS} key; an error names the key and what it takes. */
export function parseFunctionSettings(
  context: (key: string) => unknown,
  contextError: (key: string, problem: string) => ConfigError,
): FunctionEnvironments {
  const environments: Record<FunctionName, Record<string, string>> = {
    'cdr-findings': {},
    'sdr-inventory': {},
    'sdr-posture': {},
    'sdr-reports': {},
  };
  for (const setting of FUNCTION_SETTINGS) {
    const raw = context(setting.key);
    if (raw === undefined || raw === null || raw === '') continue;
    const text = settingText(setting.value, raw);
    if (text === undefined) {
      throw contextError(setting.key, `must be ${expected(setting.value)}, got ${JSON.stringify(raw)}`);
    }
    for (const collector of setting.collectors) environments[collector][setting.env] = text;
  }
  return environments;
}

/** The variable's text for a valid context value, else undefined. */
function settingText(value: SettingValue, raw: unknown): string | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') return undefined;
  const text = String(raw).trim();
  switch (value.kind) {
    case 'integer': {
      const number = Number(text);
      return text !== '' && Number.isInteger(number) && number >= value.min && number <= value.max
        ? String(number)
        : undefined;
    }
    case 'boolean': {
      const flag = parseBoolean(text);
      return flag === undefined ? undefined : String(flag);
    }
    case 'level':
      return parseMinSeverity(text) === undefined ? undefined : text;
  }
}

export function expected(value: SettingValue): string {
  switch (value.kind) {
    case 'integer':
      return `an integer from ${value.min} to ${value.max}`;
    case 'boolean':
      return 'true or false';
    case 'level':
      return `one of ${Object.keys(SEVERITY_LEVELS)
        .map((name) => name.charAt(0) + name.slice(1).toLowerCase())
        .join(', ')} or a number >= 0`;
  }
}
