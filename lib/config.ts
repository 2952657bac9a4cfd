import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { parseBoolean } from '../functions/runtime/env';
import {
  CONFIG_DEFAULTS,
  type CollectorSettings,
  type ContextSource,
  contextError,
  type EmailSubscriptionOptions,
  emailMinimums,
  emails,
  hosts,
  integer,
  optionalString,
  parseCollectorSettings,
  type SubscriptionConfig,
} from './context-values';
import { parseSecurityLake, type SecurityLakeConfig } from './security-lake-config';
import { parseSubscriptions } from './subscriptions';

export {
  CONFIG_DEFAULTS,
  CONTEXT_PREFIX,
  type CollectorSettings,
  type EmailSubscriptionOptions,
  LAG_ALARM_PERIODS,
  lagThresholdMinutes,
  type SubscriptionConfig,
  scheduleMinutes,
} from './context-values';

/**
 * Deployment settings, read once from CDK context (`cdk.json` or `-c key=value`) and validated here, so
 * a mistake fails `cdk synth` with the name of the key instead of surfacing as a broken deployment.
 */
export interface QualysLakeConfig extends CollectorSettings {
  /** The CloudFormation stack's name; the database, workgroup, dashboard and Chatbot names follow it. */
  readonly stackName: string;
  /**
   * Name of an existing Secrets Manager secret holding `{"baseUrl","username","password"}`: the
   * secret of the one subscription `default` when the context has no `subscriptions`.
   */
  readonly qualysSecretName?: string;
  /**
   * The Qualys subscriptions the stack serves, each with its own secret and collector settings
   * (lib/subscriptions.ts); one named `default` from `qualysSecretName` when the context lists none.
   */
  readonly subscriptions: readonly SubscriptionConfig[];
  /** Hosts the secret's baseUrl may name besides the Qualys API gateways (QUALYS_ALLOWED_HOSTS). */
  readonly qualysAllowedHosts: readonly string[];
  /** Addresses subscribed to the alert topic (each confirms by mail). */
  readonly alertEmails: readonly string[];
  /** Addresses that each get only alerts at or above their own minimum severity (a filter policy). */
  readonly alertEmailSubscriptions: readonly EmailSubscriptionOptions[];
  /** Slack channel that AWS Chatbot posts alerts and alarms to. */
  readonly slack?: SlackChannel;
  readonly rawRetentionDays: number;
  readonly logRetention: RetentionDays;
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

export interface SlackChannel {
  readonly workspaceId: string;
  readonly channelId: string;
}

const LOG_RETENTION_DAYS: readonly number[] = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value > 0,
);

/** Reads the configuration from the CDK context visible to `scope`. */
export function loadConfig(scope: Construct): QualysLakeConfig {
  return parseConfig((key) => scope.node.tryGetContext(key));
}

/**
 * Validates raw context values. Values given with `-c key=value` arrive as strings, so numbers and
 * lists are also accepted in string form (`-c alertEmails=a@example.com,b@example.com`).
 */
export function parseConfig(context: (key: string) => unknown): QualysLakeConfig {
  const top: ContextSource = { value: context, error: contextError };
  const qualysSecretName = optionalString(top, 'qualysSecretName');

  const slackWorkspaceId = optionalString(top, 'slackWorkspaceId');
  const slackChannelId = optionalString(top, 'slackChannelId');
  if ((slackWorkspaceId === undefined) !== (slackChannelId === undefined)) {
    const missing = slackWorkspaceId === undefined ? 'slackWorkspaceId' : 'slackChannelId';
    throw contextError(missing, 'is required when the other Slack id is set (set both or neither)');
  }

  const logRetentionDays = integer(top, 'logRetentionDays', CONFIG_DEFAULTS.logRetentionDays, 1);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw contextError(
      'logRetentionDays',
      `must be one of the CloudWatch Logs retention periods (${LOG_RETENTION_DAYS.join(', ')}), got ${logRetentionDays}`,
    );
  }

  const stackName = optionalString(top, 'stackName') ?? CONFIG_DEFAULTS.stackName;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,99}$/.test(stackName)) {
    throw contextError(
      'stackName',
      `must be a CloudFormation stack name (letters, digits and -), got "${stackName}"`,
    );
  }

  const defaults = parseCollectorSettings(top);
  const alertEmails = emails(top, 'alertEmails');
  const alertEmailSubscriptions = emailMinimums(top, 'alertEmailSubscriptions');
  const { subscriptions, subscriptionEmails } = parseSubscriptions(
    context,
    defaults,
    qualysSecretName,
    new Set([...alertEmails, ...alertEmailSubscriptions.map((entry) => entry.address)]),
  );
  return {
    stackName,
    ...(qualysSecretName !== undefined ? { qualysSecretName } : {}),
    subscriptions,
    qualysAllowedHosts: hosts(top, 'qualysAllowedHosts'),
    alertEmails,
    alertEmailSubscriptions: [...alertEmailSubscriptions, ...subscriptionEmails],
    ...(slackWorkspaceId !== undefined && slackChannelId !== undefined
      ? { slack: { workspaceId: slackWorkspaceId, channelId: slackChannelId } }
      : {}),
    ...defaults,
    rawRetentionDays: integer(top, 'rawRetentionDays', CONFIG_DEFAULTS.rawRetentionDays, 1),
    logRetention: logRetentionDays as RetentionDays,
    // 10 MiB is above Athena's minimum for BytesScannedCutoffPerQuery (10 000 000 bytes).
    athenaScanCutoffMiB: integer(top, 'athenaScanCutoffMiB', CONFIG_DEFAULTS.athenaScanCutoffMiB, 10),
    ...securityLakeOf(context, subscriptions),
    compaction: {
      enabled: flag(top, 'compaction', CONFIG_DEFAULTS.compaction),
      everyHours: integer(top, 'compactionEveryHours', CONFIG_DEFAULTS.compactionEveryHours, 1, 24),
      curatedRetentionDays: integer(top, 'curatedRetentionDays', CONFIG_DEFAULTS.curatedRetentionDays, 0),
    },
  };
}

/** `securityLake`, its keys checked against the deployment's subscription names. */
function securityLakeOf(
  context: (key: string) => unknown,
  subscriptions: readonly SubscriptionConfig[],
): Pick<QualysLakeConfig, 'securityLake'> {
  const securityLake = parseSecurityLake(
    context,
    subscriptions.map((subscription) => subscription.name),
  );
  return securityLake ? { securityLake } : {};
}

/** true/false (or 1/0, yes/no, on/off as text). */
function flag(source: ContextSource, key: string, fallback: boolean): boolean {
  const value = source.value(key);
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = typeof value === 'boolean' ? value : parseBoolean(String(value));
  if (parsed === undefined) throw source.error(key, `must be true or false, got ${JSON.stringify(value)}`);
  return parsed;
}
