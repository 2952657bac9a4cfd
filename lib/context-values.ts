import { FUNCTION_NAMES, type FunctionName } from '../functions/core/names';
import { parseMinSeverity, SEVERITY_LEVELS } from '../functions/core/severity';
import { ConfigError, parseHostList } from '../functions/runtime/env';
import { type FunctionEnvironments, parseFunctionSettings } from './function-settings';

/**
 * Readers of CDK context values, shared by the top-level configuration (./config.ts) and each entry
 * of `subscriptions` (./subscriptions.ts): each takes a {@link ContextSource}, so an error names the
 * key where it was found. Also the collector settings, which both levels set.
 */

/**
 * What the collectors of one subscription run with. The top-level context keys give the defaults;
 * an entry of `subscriptions` may set each of them for itself (lib/subscriptions.ts).
 */
export interface CollectorSettings {
  /** A severity name (`LOW`, `MEDIUM`, `HIGH`, `CRITICAL`) or a number, passed to the collectors as is. */
  readonly alertMinSeverity: string;
  readonly alertMaxPerRun: number;
  readonly cdrScheduleMinutes: number;
  readonly cdrQuery?: string;
  readonly sdrInventoryScheduleMinutes: number;
  readonly sdrPostureScheduleMinutes: number;
  readonly sdrReportsScheduleMinutes: number;
  /** Environment variables the context sets, per collector (lib/function-settings.ts). */
  readonly functionSettings: FunctionEnvironments;
  /** Lag (minutes) above which a collector's lag alarm fires, where the context sets one. */
  readonly lagAlarmMinutes: Readonly<Partial<Record<FunctionName, number>>>;
}

/** One Qualys subscription: its secret, the collectors it runs and their settings. */
export interface SubscriptionConfig extends CollectorSettings {
  /** Lowercase name (functions/core/subscription.ts): the `subscription=<name>` level of its keys. */
  readonly name: string;
  /** Its Secrets Manager secret; only its own functions may read it. */
  readonly secretName: string;
  /** The collectors it runs, in FUNCTION_NAMES order. */
  readonly collectors: readonly FunctionName[];
}

/** An address that gets only alerts at or above its own minimum. */
export interface EmailSubscriptionOptions {
  readonly address: string;
  /**
   * Lowest CDR severity or posture criticality mailed: `LOW`, `MEDIUM`, `HIGH`, `CRITICAL` (any case)
   * or 1 to 4. Becomes the subscription filter policy `{"rank":[{"numeric":[">=",n]}]}` on the
   * `rank` attribute every alert carries (an unreadable level is rank 5 and always passes). CloudWatch
   * alarm notifications carry no attributes, so SNS does not deliver them to a filtered subscription.
   * @default every alert and alarm (no filter policy)
   */
  readonly minSeverity?: string | number;
  /**
   * Subscriptions whose alerts the address gets: the filter policy `{"subscription":[...]}` on the
   * attribute every alert carries (set from a subscription's own `alertEmails`).
   * @default alerts of every subscription
   */
  readonly subscriptions?: readonly string[];
}

/** Context keys, with the defaults used when a key is absent. */
export const CONFIG_DEFAULTS = {
  stackName: 'QualysLake',
  qualysSecretName: 'qualys-lake/qualys',
  alertMinSeverity: 'HIGH',
  alertMaxPerRun: 50,
  cdrScheduleMinutes: 15,
  rawRetentionDays: 400,
  logRetentionDays: 90,
  sdrInventoryScheduleMinutes: 360,
  sdrPostureScheduleMinutes: 60,
  sdrReportsScheduleMinutes: 360,
  athenaScanCutoffMiB: 10 * 1024,
  compaction: false,
  compactionEveryHours: 1,
  curatedRetentionDays: 30,
} as const;

/** Where settings come from, and how an error about one of them is worded. */
export interface ContextSource {
  value(key: string): unknown;
  error(key: string, problem: string): ConfigError;
}

/** An invalid or missing context value: the message starts with the key, and `key` names it. */
export const contextError = (key: string, problem: string) =>
  new ConfigError(`CDK context "${key}" ${problem}`, key);

/** The collector settings `source` gives: the defaults at the top level, or one subscription's. */
export function parseCollectorSettings(source: ContextSource): CollectorSettings {
  const cdrQuery = optionalString(source, 'cdrQuery');
  const schedule = (name: FunctionName) => {
    const key = `${CONTEXT_PREFIX[name]}ScheduleMinutes` as const;
    return integer(source, key, CONFIG_DEFAULTS[key as keyof typeof CONFIG_DEFAULTS] as number, 1);
  };
  const lagAlarmMinutes: Partial<Record<FunctionName, number>> = {};
  for (const name of FUNCTION_NAMES) {
    const minutes = integer(source, `${CONTEXT_PREFIX[name]}LagAlarmMinutes`, 0, 1);
    if (minutes > 0) lagAlarmMinutes[name] = minutes;
  }
  return {
    alertMinSeverity: severity(source, 'alertMinSeverity'),
    // The collectors accept 1 to 10 000 (functions/cdr-findings/config.ts).
    alertMaxPerRun: integer(source, 'alertMaxPerRun', CONFIG_DEFAULTS.alertMaxPerRun, 1, 10_000),
    cdrScheduleMinutes: schedule('cdr-findings'),
    ...(cdrQuery !== undefined ? { cdrQuery } : {}),
    sdrInventoryScheduleMinutes: schedule('sdr-inventory'),
    sdrPostureScheduleMinutes: schedule('sdr-posture'),
    sdrReportsScheduleMinutes: schedule('sdr-reports'),
    functionSettings: parseFunctionSettings(source.value, source.error),
    lagAlarmMinutes,
  };
}

/** The keys {@link parseCollectorSettings} reads: what a subscription may set for itself. */
export function collectorSettingKeys(): string[] {
  const read = new Set<string>();
  parseCollectorSettings({
    value: (key) => {
      read.add(key);
      return undefined;
    },
    error: contextError,
  });
  return [...read];
}

/** Schedule intervals of lag the lag alarm allows by default: one run may be starved or fail, not three. */
export const LAG_ALARM_PERIODS = 3;

/** Minutes between a collector's runs, as configured. */
export function scheduleMinutes(settings: CollectorSettings, name: FunctionName): number {
  return settings[
    `${CONTEXT_PREFIX[name]}ScheduleMinutes` as `${string}ScheduleMinutes` & keyof CollectorSettings
  ] as number;
}

/** Lag in minutes above which a collector's lag alarm fires: its context key, else three intervals. */
export function lagThresholdMinutes(settings: CollectorSettings, name: FunctionName): number {
  return settings.lagAlarmMinutes[name] ?? LAG_ALARM_PERIODS * scheduleMinutes(settings, name);
}

/**
 * How each collector's context keys start: `<prefix>ScheduleMinutes`, `<prefix>LagAlarmMinutes`.
 */
export const CONTEXT_PREFIX: Record<FunctionName, string> = {
  'cdr-findings': 'cdr',
  'sdr-inventory': 'sdrInventory',
  'sdr-posture': 'sdrPosture',
  'sdr-reports': 'sdrReports',
};

/** A non-empty string, or undefined when the key is absent or empty. */
export function optionalString(source: ContextSource, key: string): string | undefined {
  const value = source.value(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw source.error(key, `must be a string, got ${JSON.stringify(value)}`);
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

export function integer(
  source: ContextSource,
  key: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = source.value(key);
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw source.error(key, `must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** Checked with the collectors' own parser, so what synth accepts the function accepts. */
function severity(source: ContextSource, key: string): string {
  const value = source.value(key);
  if (value === undefined || value === null || value === '') return CONFIG_DEFAULTS.alertMinSeverity;
  const text =
    typeof value === 'number' || typeof value === 'string' ? String(value).trim().toUpperCase() : '';
  if (text !== '' && parseMinSeverity(text) !== undefined) return text;
  throw source.error(
    key,
    `must be one of ${Object.keys(SEVERITY_LEVELS).join(', ')} or a number >= 0, got ${JSON.stringify(value)}`,
  );
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** A list value as given: JSON, a JSON text, or a comma string (split); undefined when absent. */
function listValue(source: ContextSource, key: string): { value: unknown; list: unknown } | undefined {
  const value = source.value(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return { value, list: value };
  const text = value.trim();
  return { value, list: text.startsWith('[') ? parseJson(source, key, text) : text.split(',') };
}

export function emails(source: ContextSource, key: string): string[] {
  const given = listValue(source, key);
  if (given === undefined) return [];
  const { value, list } = given;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    throw source.error(key, `must be a list of email addresses, got ${JSON.stringify(value)}`);
  }
  const addresses = list.map((item) => item.trim()).filter((item) => item !== '');
  const invalid = addresses.find((address) => !EMAIL.test(address));
  if (invalid !== undefined) throw source.error(key, `contains an invalid email address: "${invalid}"`);
  return [...new Set(addresses)];
}

/** `address` or `address:LEVEL`, as the comma string form writes one entry. */
function addressWithLevel(entry: string): { address: string; minSeverity?: string } {
  const at = entry.lastIndexOf(':');
  return at < 0
    ? { address: entry.trim() }
    : { address: entry.slice(0, at).trim(), minSeverity: entry.slice(at + 1).trim() };
}

/**
 * Addresses with a minimum each: a JSON list of `{"address","minSeverity"}` (or of `address:LEVEL`
 * strings), or a comma string of `address:LEVEL`
 * (`-c alertEmailSubscriptions=oncall@example.com:CRITICAL,team@example.com:HIGH`).
 */
export function emailMinimums(source: ContextSource, key: string): EmailSubscriptionOptions[] {
  const given = listValue(source, key);
  if (given === undefined) return [];
  const { value, list } = given;
  const shape = 'a list of {"address","minSeverity"} (or a comma string of address:LEVEL)';
  if (!Array.isArray(list)) throw source.error(key, `must be ${shape}, got ${JSON.stringify(value)}`);
  const seen = new Set<string>();
  return list.map((item: unknown) => {
    const entry = typeof item === 'string' ? addressWithLevel(item) : item;
    const { address, minSeverity } = (entry ?? {}) as { address?: unknown; minSeverity?: unknown };
    if (typeof address === 'string' && seen.has(address.trim().toLowerCase()))
      throw source.error(key, `lists ${address.trim()} twice; keep one entry per address`);
    if (typeof address === 'string') seen.add(address.trim().toLowerCase());
    if (typeof address !== 'string' || !EMAIL.test(address.trim()))
      throw source.error(key, `must be ${shape}; "${JSON.stringify(item)}" has no valid address`);
    if (minSeverity !== undefined && typeof minSeverity !== 'string' && typeof minSeverity !== 'number')
      throw source.error(key, `has a minSeverity for ${address} that is neither a level nor a number`);
    const rank = minSeverity === undefined ? undefined : parseMinSeverity(String(minSeverity));
    if (minSeverity !== undefined && (rank === undefined || rank < 1 || rank > SEVERITY_LEVELS.CRITICAL))
      throw source.error(
        key,
        `has minSeverity ${JSON.stringify(minSeverity)} for ${address}: use ${Object.keys(SEVERITY_LEVELS).join(', ')} or 1 to 4`,
      );
    return { address: address.trim(), ...(minSeverity === undefined ? {} : { minSeverity }) };
  });
}

/** A list (or comma string) of bare host names, checked as the collectors check QUALYS_ALLOWED_HOSTS. */
export function hosts(source: ContextSource, key: string): string[] {
  const value = source.value(key);
  if (value === undefined || value === null || value === '') return [];
  const text =
    Array.isArray(value) && value.every((item) => typeof item === 'string') ? value.join(',') : value;
  const parsed = typeof text === 'string' ? parseHostList(text) : undefined;
  if (parsed === undefined) {
    throw source.error(
      key,
      `must be a list of host names (no scheme, port or path), got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

export function parseJson(source: ContextSource, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw source.error(key, `is not valid JSON: ${text}`);
  }
}
