import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTION_NAMES, type FunctionName } from '../functions/core/names';
import { parseMinSeverity, SEVERITY_LEVELS } from '../functions/core/severity';
import { DEFAULT_SUBSCRIPTION } from '../functions/manifests';
import { ConfigError, parseBoolean, parseHostList } from '../functions/runtime/env';
import { type FunctionEnvironments, parseFunctionSettings } from './function-settings';
import { parseSecurityLake, type SecurityLakeConfig } from './security-lake-config';

/**
 * Deployment settings, read once from CDK context (`cdk.json` or `-c key=value`) and validated here, so
 * a mistake fails `cdk synth` with the name of the key instead of surfacing as a broken deployment.
 */
export interface QualysLakeConfig {
  /** The CloudFormation stack's name; the database, workgroup, dashboard and Chatbot names follow it. */
  readonly stackName: string;
  /** Name of an existing Secrets Manager secret holding `{"baseUrl","username","password"}`. */
  readonly qualysSecretName: string;
  /** Hosts the secret's baseUrl may name besides the Qualys API gateways (QUALYS_ALLOWED_HOSTS). */
  readonly qualysAllowedHosts: readonly string[];
  /** Addresses subscribed to the alert topic (each confirms by mail). */
  readonly alertEmails: readonly string[];
  /** Addresses that each get only alerts at or above their own minimum severity (a filter policy). */
  readonly alertEmailSubscriptions: readonly EmailSubscriptionOptions[];
  /** Slack channel that AWS Chatbot posts alerts and alarms to. */
  readonly slack?: SlackChannel;
  /** A severity name (`LOW`, `MEDIUM`, `HIGH`, `CRITICAL`) or a number, passed to the collectors as is. */
  readonly alertMinSeverity: string;
  readonly alertMaxPerRun: number;
  readonly cdrScheduleMinutes: number;
  readonly cdrQuery?: string;
  readonly rawRetentionDays: number;
  readonly logRetention: RetentionDays;
  readonly sdrInventoryScheduleMinutes: number;
  readonly sdrPostureScheduleMinutes: number;
  readonly sdrReportsScheduleMinutes: number;
  // Operations: collector settings, lag alarm thresholds and the Athena scan limit (README, "Configuration").
  /** Environment variables the context sets, per collector (lib/function-settings.ts). */
  readonly functionSettings: FunctionEnvironments;
  /** Lag (minutes) above which a collector's lag alarm fires, where the context sets one. */
  readonly lagAlarmMinutes: Readonly<Partial<Record<FunctionName, number>>>;
  /** Most MiB one Athena query may scan before the workgroup cancels it. */
  readonly athenaScanCutoffMiB: number;
  /** The Security Lake writer per subscription (README "Amazon Security Lake"); absent: none. */
  readonly securityLake?: SecurityLakeConfig;
  /** The compacted layer (README, "The compacted layer"): on or off, how often, and the landing zone's expiry. */
  readonly compaction: CompactionConfig;
}

export interface CompactionConfig {
  /** Athena compacts `curated/` into Iceberg tables, and the named queries read the views over both. */
  readonly enabled: boolean;
  /** Hours between compaction runs (divides 24). */
  readonly everyHours: number;
  /** Days after which `curated/` objects expire when compaction is on; 0 keeps them. */
  readonly curatedRetentionDays: number;
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
}

export interface SlackChannel {
  readonly workspaceId: string;
  readonly channelId: string;
}

/** Context keys, with the defaults used when a key is absent. */
export const CONFIG_DEFAULTS = {
  stackName: 'QualysLake',
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

const LOG_RETENTION_DAYS: readonly number[] = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value > 0,
);

/** An invalid or missing context value: the message starts with the key, and `key` names it. */
const contextError = (key: string, problem: string) =>
  new ConfigError(`CDK context "${key}" ${problem}`, key);

/** Reads the configuration from the CDK context visible to `scope`. */
export function loadConfig(scope: Construct): QualysLakeConfig {
  return parseConfig((key) => scope.node.tryGetContext(key));
}

/**
 * Validates raw context values. Values given with `-c key=value` arrive as strings, so numbers and
 * lists are also accepted in string form (`-c alertEmails=a@example.com,b@example.com`).
 */
export function parseConfig(context: (key: string) => unknown): QualysLakeConfig {
  const qualysSecretName = optionalString(context, 'qualysSecretName');
  if (qualysSecretName === undefined) {
    throw contextError(
      'qualysSecretName',
      'is required: the name of the Secrets Manager secret holding {"baseUrl","username","password"}',
    );
  }

  const slackWorkspaceId = optionalString(context, 'slackWorkspaceId');
  const slackChannelId = optionalString(context, 'slackChannelId');
  if ((slackWorkspaceId === undefined) !== (slackChannelId === undefined)) {
    const missing = slackWorkspaceId === undefined ? 'slackWorkspaceId' : 'slackChannelId';
    throw contextError(missing, 'is required when the other Slack id is set (set both or neither)');
  }

  const cdrQuery = optionalString(context, 'cdrQuery');
  const logRetentionDays = integer(context, 'logRetentionDays', CONFIG_DEFAULTS.logRetentionDays, 1);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw contextError(
      'logRetentionDays',
      `must be one of the CloudWatch Logs retention periods (${LOG_RETENTION_DAYS.join(', ')}), got ${logRetentionDays}`,
    );
  }

  const stackName = optionalString(context, 'stackName') ?? CONFIG_DEFAULTS.stackName;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,99}$/.test(stackName)) {
    throw contextError(
      'stackName',
      `must be a CloudFormation stack name (letters, digits and -), got "${stackName}"`,
    );
  }

  return {
    stackName,
    qualysSecretName,
    qualysAllowedHosts: hosts(context, 'qualysAllowedHosts'),
    alertEmails: emails(context, 'alertEmails'),
    alertEmailSubscriptions: emailMinimums(context, 'alertEmailSubscriptions'),
    ...(slackWorkspaceId !== undefined && slackChannelId !== undefined
      ? { slack: { workspaceId: slackWorkspaceId, channelId: slackChannelId } }
      : {}),
    alertMinSeverity: severity(context, 'alertMinSeverity'),
    // The collectors accept 1 to 10 000 (functions/cdr-findings/config.ts).
    alertMaxPerRun: integer(context, 'alertMaxPerRun', CONFIG_DEFAULTS.alertMaxPerRun, 1, 10_000),
    cdrScheduleMinutes: integer(context, 'cdrScheduleMinutes', CONFIG_DEFAULTS.cdrScheduleMinutes, 1),
    ...(cdrQuery !== undefined ? { cdrQuery } : {}),
    rawRetentionDays: integer(context, 'rawRetentionDays', CONFIG_DEFAULTS.rawRetentionDays, 1),
    logRetention: logRetentionDays as RetentionDays,
    sdrInventoryScheduleMinutes: integer(
      context,
      'sdrInventoryScheduleMinutes',
      CONFIG_DEFAULTS.sdrInventoryScheduleMinutes,
      1,
    ),
    sdrPostureScheduleMinutes: integer(
      context,
      'sdrPostureScheduleMinutes',
      CONFIG_DEFAULTS.sdrPostureScheduleMinutes,
      1,
    ),
    sdrReportsScheduleMinutes: integer(
      context,
      'sdrReportsScheduleMinutes',
      CONFIG_DEFAULTS.sdrReportsScheduleMinutes,
      1,
    ),
    ...parseOperations(context),
    ...securityLakeOf(context),
    compaction: {
      enabled: flag(context, 'compaction', CONFIG_DEFAULTS.compaction),
      everyHours: integer(context, 'compactionEveryHours', CONFIG_DEFAULTS.compactionEveryHours, 1, 24),
      curatedRetentionDays: integer(context, 'curatedRetentionDays', CONFIG_DEFAULTS.curatedRetentionDays, 0),
    },
  };
}

/** `securityLake`, checked against the deployment's subscriptions (one, `default`, until they are configurable). */
function securityLakeOf(context: (key: string) => unknown): Pick<QualysLakeConfig, 'securityLake'> {
  const securityLake = parseSecurityLake(context, [DEFAULT_SUBSCRIPTION]);
  return securityLake ? { securityLake } : {};
}

/** true/false (or 1/0, yes/no, on/off as text). */
function flag(context: (key: string) => unknown, key: string, fallback: boolean): boolean {
  const value = context(key);
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = typeof value === 'boolean' ? value : parseBoolean(String(value));
  if (parsed === undefined) throw contextError(key, `must be true or false, got ${JSON.stringify(value)}`);
  return parsed;
}

/** Schedule intervals of lag the lag alarm allows by default: one run may be starved or fail, not three. */
export const LAG_ALARM_PERIODS = 3;

/** Minutes between a collector's runs, as configured. */
export function scheduleMinutes(config: QualysLakeConfig, name: FunctionName): number {
  return config[
    `${CONTEXT_PREFIX[name]}ScheduleMinutes` as `${string}ScheduleMinutes` & keyof QualysLakeConfig
  ] as number;
}

/** Lag in minutes above which a collector's lag alarm fires: its context key, else three intervals. */
export function lagThresholdMinutes(config: QualysLakeConfig, name: FunctionName): number {
  return config.lagAlarmMinutes[name] ?? LAG_ALARM_PERIODS * scheduleMinutes(config, name);
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

/** The context keys of the operations block: collector settings, lag alarms, Athena. */
function parseOperations(
  context: (key: string) => unknown,
): Pick<QualysLakeConfig, 'functionSettings' | 'lagAlarmMinutes' | 'athenaScanCutoffMiB'> {
  const lagAlarmMinutes: Partial<Record<FunctionName, number>> = {};
  for (const name of FUNCTION_NAMES) {
    const key = `${CONTEXT_PREFIX[name]}LagAlarmMinutes`;
    const minutes = integer(context, key, 0, 1);
    if (minutes > 0) lagAlarmMinutes[name] = minutes;
  }
  return {
    functionSettings: parseFunctionSettings(context, contextError),
    lagAlarmMinutes,
    // 10 MiB is above Athena's minimum for BytesScannedCutoffPerQuery (10 000 000 bytes).
    athenaScanCutoffMiB: integer(context, 'athenaScanCutoffMiB', CONFIG_DEFAULTS.athenaScanCutoffMiB, 10),
  };
}

/** A non-empty string, or undefined when the key is absent or empty. */
function optionalString(context: (key: string) => unknown, key: string): string | undefined {
  const value = context(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw contextError(key, `must be a string, got ${JSON.stringify(value)}`);
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(
  context: (key: string) => unknown,
  key: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = context(key);
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw contextError(key, `must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** Checked with the collectors' own parser, so what synth accepts the function accepts. */
function severity(context: (key: string) => unknown, key: string): string {
  const value = context(key);
  if (value === undefined || value === null || value === '') return CONFIG_DEFAULTS.alertMinSeverity;
  const text =
    typeof value === 'number' || typeof value === 'string' ? String(value).trim().toUpperCase() : '';
  if (text !== '' && parseMinSeverity(text) !== undefined) return text;
  throw contextError(
    key,
    `must be one of ${Object.keys(SEVERITY_LEVELS).join(', ')} or a number >= 0, got ${JSON.stringify(value)}`,
  );
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function emails(context: (key: string) => unknown, key: string): string[] {
  const value = context(key);
  if (value === undefined || value === null || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    list = text.startsWith('[') ? parseJson(key, text) : text.split(',');
  }
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    throw contextError(key, `must be a list of email addresses, got ${JSON.stringify(value)}`);
  }
  const addresses = list.map((item) => item.trim()).filter((item) => item !== '');
  const invalid = addresses.find((address) => !EMAIL.test(address));
  if (invalid !== undefined) throw contextError(key, `contains an invalid email address: "${invalid}"`);
  return [...new Set(addresses)];
}

/**
 * Addresses with a minimum each: a JSON list of `{"address","minSeverity"}`, or a comma string of
 * `address:LEVEL` (`-c alertEmailSubscriptions=oncall@example.com:CRITICAL,team@example.com:HIGH`).
 */
function emailMinimums(context: (key: string) => unknown, key: string): EmailSubscriptionOptions[] {
  const value = context(key);
  if (value === undefined || value === null || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    list = text.startsWith('[')
      ? parseJson(key, text)
      : text.split(',').map((entry) => {
          const at = entry.lastIndexOf(':');
          return at < 0
            ? { address: entry.trim() }
            : { address: entry.slice(0, at).trim(), minSeverity: entry.slice(at + 1).trim() };
        });
  }
  const shape = 'a list of {"address","minSeverity"} (or a comma string of address:LEVEL)';
  if (!Array.isArray(list)) throw contextError(key, `must be ${shape}, got ${JSON.stringify(value)}`);
  const seen = new Set<string>();
  return list.map((entry) => {
    const { address, minSeverity } = (entry ?? {}) as { address?: unknown; minSeverity?: unknown };
    if (typeof address === 'string' && seen.has(address.trim().toLowerCase()))
      throw contextError(key, `lists ${address.trim()} twice; keep one entry per address`);
    if (typeof address === 'string') seen.add(address.trim().toLowerCase());
    if (typeof address !== 'string' || !EMAIL.test(address.trim()))
      throw contextError(key, `must be ${shape}; "${JSON.stringify(entry)}" has no valid address`);
    if (minSeverity !== undefined && typeof minSeverity !== 'string' && typeof minSeverity !== 'number')
      throw contextError(key, `has a minSeverity for ${address} that is neither a level nor a number`);
    const rank = minSeverity === undefined ? undefined : parseMinSeverity(String(minSeverity));
    if (minSeverity !== undefined && (rank === undefined || rank < 1 || rank > SEVERITY_LEVELS.CRITICAL))
      throw contextError(
        key,
        `has minSeverity ${JSON.stringify(minSeverity)} for ${address}: use ${Object.keys(SEVERITY_LEVELS).join(', ')} or 1 to 4`,
      );
    return { address: address.trim(), ...(minSeverity === undefined ? {} : { minSeverity }) };
  });
}

/** A list (or comma string) of bare host names, checked as the collectors check QUALYS_ALLOWED_HOSTS. */
function hosts(context: (key: string) => unknown, key: string): string[] {
  const value = context(key);
  if (value === undefined || value === null || value === '') return [];
  const text =
    Array.isArray(value) && value.every((item) => typeof item === 'string') ? value.join(',') : value;
  const parsed = typeof text === 'string' ? parseHostList(text) : undefined;
  if (parsed === undefined) {
    throw contextError(
      key,
      `must be a list of host names (no scheme, port or path), got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw contextError(key, `is not valid JSON: ${text}`);
  }
}
