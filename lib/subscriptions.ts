import { FUNCTION_NAMES, type FunctionName } from '../functions/core/names';
import { checkSubscriptionName, DEFAULT_SUBSCRIPTION } from '../functions/core/subscription';
import { ConfigError } from '../functions/runtime/env';
import {
  CONFIG_DEFAULTS,
  type CollectorSettings,
  type ContextSource,
  collectorSettingKeys,
  type EmailSubscriptionOptions,
  emailMinimums,
  optionalString,
  parseCollectorSettings,
  parseJson,
  type SubscriptionConfig,
} from './context-values';

/**
 * The `subscriptions` context key: a JSON list (or its text) of the Qualys subscriptions one stack
 * serves (README, "Subscriptions"). Each entry names itself and its secret, and may set for itself
 * which collectors run and any collector setting of the top-level context (schedules, CDR query,
 * alert thresholds, page sizes, call caps, lag alarms), plus `alertEmails`: addresses that get only
 * this subscription's alerts. A key the entry leaves out takes the top-level value.
 */
const KEY = 'subscriptions';

/** The keys an entry may have besides the collector settings. */
const ENTRY_KEYS = ['name', 'secretName', 'collectors', 'alertEmails'] as const;

export interface ParsedSubscriptions {
  readonly subscriptions: SubscriptionConfig[];
  /** Every subscription's `alertEmails`, merged by address (one SNS subscription per address). */
  readonly subscriptionEmails: EmailSubscriptionOptions[];
}

/**
 * The subscriptions of the context; without a `subscriptions` key, the one subscription `default`
 * with `qualysSecretName` (or its default) and the top-level settings. `takenAddresses` are the
 * top-level alert addresses, which a subscription may not list again (SNS keeps one subscription
 * per address and topic).
 */
export function parseSubscriptions(
  context: (key: string) => unknown,
  defaults: CollectorSettings,
  qualysSecretName: string | undefined,
  takenAddresses: ReadonlySet<string>,
): ParsedSubscriptions {
  const raw = context(KEY);
  if (raw === undefined || raw === null || raw === '') {
    return {
      subscriptions: [
        {
          name: DEFAULT_SUBSCRIPTION,
          secretName: qualysSecretName ?? CONFIG_DEFAULTS.qualysSecretName,
          collectors: FUNCTION_NAMES,
          ...defaults,
        },
      ],
      subscriptionEmails: [],
    };
  }
  const top: ContextSource = {
    value: context,
    error: (key, problem) => new ConfigError(`CDK context "${key}" ${problem}`, key),
  };
  if (qualysSecretName !== undefined) {
    throw top.error(
      KEY,
      'and "qualysSecretName" are both set: with a subscriptions list, each entry names its own secret (secretName); remove qualysSecretName',
    );
  }
  const list = typeof raw === 'string' ? parseJson(top, KEY, raw.trim()) : raw;
  if (!Array.isArray(list) || list.length === 0) {
    throw top.error(
      KEY,
      `must be a non-empty JSON list of {"name","secretName",...}, got ${JSON.stringify(raw)}`,
    );
  }
  const settingKeys = new Set(collectorSettingKeys());
  const subscriptions = list.map((entry, index) => parseEntry(entry, index, context, settingKeys));

  const byName = new Map<string, number>();
  const bySecret = new Map<string, string>();
  for (const [index, subscription] of subscriptions.entries()) {
    const earlier = byName.get(subscription.name);
    if (earlier !== undefined) {
      throw top.error(
        KEY,
        `entries ${earlier + 1} and ${index + 1} are both named "${subscription.name}"; names must be unique`,
      );
    }
    byName.set(subscription.name, index);
    // Two subscriptions on one secret would keep two ledgers of one Qualys budget and overrun it.
    const sharing = bySecret.get(subscription.secretName);
    if (sharing !== undefined) {
      throw top.error(
        KEY,
        `entries "${sharing}" and "${subscription.name}" name the same secretName "${subscription.secretName}"; one secret serves one subscription`,
      );
    }
    bySecret.set(subscription.secretName, subscription.name);
  }
  return {
    subscriptions: subscriptions.map(({ emails: _, ...subscription }) => subscription),
    subscriptionEmails: mergeEmails(subscriptions, takenAddresses, top),
  };
}

type ParsedEntry = SubscriptionConfig & { emails: EmailSubscriptionOptions[] };

function parseEntry(
  entry: unknown,
  index: number,
  context: (key: string) => unknown,
  settingKeys: ReadonlySet<string>,
): ParsedEntry {
  const position = `entry ${index + 1}`;
  const entryError = (where: string) => (key: string, problem: string) =>
    new ConfigError(`CDK context "${KEY}" ${where}: "${key}" ${problem}`, KEY);
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw entryError(position)(
      '',
      `must be an object {"name","secretName",...}, got ${JSON.stringify(entry)}`,
    );
  }
  const fields = entry as Record<string, unknown>;
  const own: ContextSource = {
    value: (key) => (Object.hasOwn(fields, key) ? fields[key] : undefined),
    error: entryError(position),
  };
  const rawName = fields.name;
  if (typeof rawName !== 'string') {
    throw own.error('name', `is required: a lowercase name such as "prod", got ${JSON.stringify(rawName)}`);
  }
  try {
    checkSubscriptionName(rawName);
  } catch (error) {
    throw own.error('name', `is not valid: ${(error as Error).message}`);
  }
  const name = rawName;
  const named: ContextSource = { ...own, error: entryError(`${position} ("${name}")`) };

  const unknown = Object.keys(fields).filter(
    (key) => !(ENTRY_KEYS as readonly string[]).includes(key) && !settingKeys.has(key),
  );
  if (unknown.length > 0) {
    throw named.error(
      unknown[0] as string,
      `is not a subscription setting; an entry takes ${[...ENTRY_KEYS].join(', ')} and the collector settings ${[...settingKeys].join(', ')}`,
    );
  }
  const secretName = optionalString(named, 'secretName');
  if (secretName === undefined) {
    throw named.error('secretName', 'is required: the Secrets Manager secret of this subscription');
  }
  // Keys the entry leaves out take the top-level value, already checked there.
  const settings = parseCollectorSettings({
    value: (key) => (Object.hasOwn(fields, key) ? fields[key] : context(key)),
    error: named.error,
  });
  return {
    name,
    secretName,
    collectors: collectors(named),
    ...settings,
    emails: emailMinimums(named, 'alertEmails'),
  };
}

/** The `collectors` of an entry: a list (or comma string) of function names, all four by default. */
function collectors(source: ContextSource): FunctionName[] {
  const value = source.value('collectors');
  if (value === undefined || value === null || value === '') return [...FUNCTION_NAMES];
  const list = typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value;
  const known = (item: unknown): item is FunctionName =>
    typeof item === 'string' && (FUNCTION_NAMES as readonly string[]).includes(item);
  if (!Array.isArray(list) || list.length === 0 || !list.every(known)) {
    throw source.error(
      'collectors',
      `must be a non-empty list of ${FUNCTION_NAMES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return FUNCTION_NAMES.filter((name) => list.includes(name));
}

/**
 * One email subscription per address: an address several subscriptions list gets their alerts
 * through one filter policy naming them all, so its minimum must be the same in each.
 */
function mergeEmails(
  subscriptions: readonly ParsedEntry[],
  taken: ReadonlySet<string>,
  top: ContextSource,
): EmailSubscriptionOptions[] {
  const byAddress = new Map<string, EmailSubscriptionOptions & { subscriptions: string[] }>();
  const lowerTaken = new Set([...taken].map((address) => address.toLowerCase()));
  for (const subscription of subscriptions) {
    for (const email of subscription.emails) {
      const address = email.address.toLowerCase();
      if (lowerTaken.has(address)) {
        throw top.error(
          KEY,
          `entry "${subscription.name}" lists ${email.address} in alertEmails, which alertEmails or alertEmailSubscriptions already subscribe to every alert; keep one`,
        );
      }
      const merged = byAddress.get(address);
      if (!merged) {
        byAddress.set(address, { ...email, subscriptions: [subscription.name] });
        continue;
      }
      if (String(merged.minSeverity ?? '').toUpperCase() !== String(email.minSeverity ?? '').toUpperCase()) {
        throw top.error(
          KEY,
          `lists ${email.address} in the alertEmails of "${merged.subscriptions[0]}" and "${subscription.name}" with different minSeverity; one address has one filter policy, so give it one minimum`,
        );
      }
      merged.subscriptions.push(subscription.name);
    }
  }
  return [...byAddress.values()];
}
