import type { CollectorManifest } from './manifest';

/**
 * One deployment serves one or more Qualys subscriptions (README, "Subscriptions"). Every key a
 * collector reads or writes for a subscription carries a `subscription=<name>` level right after
 * its first two levels: `raw/<collector>/subscription=<name>/…`, `curated/<dataset>/subscription=<name>/dt=…/`,
 * `state/<collector>/subscription=<name>/…`, `state/qualys/subscription=<name>/call-budget.json`,
 * `reports/<collector>/subscription=<name>/…`. A collector builds its keys without it, as logical keys;
 * {@link scopeKey} places them, so one rule serves the keys, the IAM grants and the Glue tables.
 */

/** The subscription a deployment without a `subscriptions` list serves. */
export const DEFAULT_SUBSCRIPTION = 'default';

/** Lowercase letters, digits and hyphens, starting with a letter: it names keys, partitions and functions. */
export const SUBSCRIPTION_NAME = /^[a-z][a-z0-9-]{0,23}$/;
/** {@link SUBSCRIPTION_NAME} in words, for the errors that refuse a name. */
export const SUBSCRIPTION_NAME_RULE = '1 to 24 lowercase letters, digits or hyphens, starting with a letter';

/** The partition key every curated table carries, and the level in every key. */
export const SUBSCRIPTION_PARTITION = 'subscription';

/** Throws naming what is wrong with a subscription name. */
export function checkSubscriptionName(name: string): string {
  if (!SUBSCRIPTION_NAME.test(name)) {
    throw new Error(`subscription name ${JSON.stringify(name)} is not valid: ${SUBSCRIPTION_NAME_RULE}`);
  }
  return name;
}

const level = (subscription: string) => `${SUBSCRIPTION_PARTITION}=${subscription}/`;

/** Where the level goes: after the first two `/`-ended segments of a key or prefix. */
function splitAt(key: string): number {
  const first = key.indexOf('/');
  const second = first < 0 ? -1 : key.indexOf('/', first + 1);
  if (second < 0) throw new Error(`key ${JSON.stringify(key)} has no <top>/<name>/ levels to scope`);
  return second + 1;
}

/** The key (or prefix) in the bucket of a collector's logical key, for one subscription. */
export function scopeKey(key: string, subscription: string): string {
  const at = splitAt(key);
  return `${key.slice(0, at)}${level(subscription)}${key.slice(at)}`;
}

/** The logical key of a key in the bucket; throws if it is not the subscription's. */
export function unscopeKey(key: string, subscription: string): string {
  const at = splitAt(key);
  const mark = level(subscription);
  if (!key.startsWith(mark, at)) {
    throw new Error(`key ${JSON.stringify(key)} is not under subscription ${JSON.stringify(subscription)}`);
  }
  return `${key.slice(0, at)}${key.slice(at + mark.length)}`;
}

/** What a collector's role may touch for one subscription: its manifest's prefixes, scoped. */
export function scopedGrants(manifest: CollectorManifest, subscription: string) {
  const scope = (prefixes: readonly string[]) => prefixes.map((prefix) => scopeKey(prefix, subscription));
  return { read: scope(manifest.reads), write: scope(manifest.writes), delete: scope(manifest.deletes) };
}
