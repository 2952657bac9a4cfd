import type { CollectorManifest } from './manifest';
import { CALL_BUDGET_LEDGER_KEY, PREFIX, QUALYS_STATE_PREFIX } from './names';
import type { ObjectStore } from './ports';
import { DEFAULT_SUBSCRIPTION, SUBSCRIPTION_PARTITION, scopeKey } from './subscription';

/**
 * The layout of a deployment from before subscriptions (README, "Upgrading from a single-subscription
 * deployment"): the same keys without the `subscription=` level. Its state belongs to the `default`
 * subscription; `npx qualys-lake upgrade` copies it there and then writes {@link UPGRADE_MARKER}.
 */

/** Written by the upgrade once every legacy object is copied and verified: the layout is upgraded. */
export const UPGRADE_MARKER = scopeKey(`${QUALYS_STATE_PREFIX}upgrade.json`, DEFAULT_SUBSCRIPTION);

/** Where every collector keeps its incremental checkpoint (each collector's keys.ts agrees; a test checks). */
export const checkpointKey = (manifest: CollectorManifest): string =>
  `${manifest.prefixes.state}checkpoint.json`;

/** Top-level areas whose keys carry the subscription level. */
const SCOPED_AREAS = [PREFIX.raw, PREFIX.curated, PREFIX.state, PREFIX.reports];

/**
 * True for a key of the legacy layout: under raw/, curated/, state/ or reports/, with two levels,
 * and no `subscription=` level after them.
 */
export function isLegacyKey(key: string): boolean {
  if (!SCOPED_AREAS.some((area) => key.startsWith(area))) return false;
  const first = key.indexOf('/');
  const second = key.indexOf('/', first + 1);
  return second > 0 && second < key.length - 1 && !key.startsWith(`${SUBSCRIPTION_PARTITION}=`, second + 1);
}

/** The run of a `default` function refuses to start until the bucket's legacy state is upgraded. */
export class UpgradeRequiredError extends Error {
  override name = 'UpgradeRequiredError';
}

/**
 * The legacy object that keeps a collector of the `default` subscription from starting, if there
 * is one; `store` is the bucket itself (unscoped). Cheap in steady state: one HEAD finds the
 * collector's checkpoint in its subscription's layout and ends the check. Only without it (a first
 * run) are the marker, the collector's legacy state and the legacy ledger looked for.
 */
export async function blockingLegacyObject(
  store: ObjectStore,
  manifest: CollectorManifest,
): Promise<string | undefined> {
  if (await store.exists(scopeKey(checkpointKey(manifest), DEFAULT_SUBSCRIPTION))) return undefined;
  if (await store.exists(UPGRADE_MARKER)) return undefined;
  // Keys list in lexical order, and every name the collectors give their state (alert-outbox,
  // checkpoint, journal, rejected, seen, ...) sorts before `subscription=`: the first key tells.
  const first = await firstKey(store.list(manifest.prefixes.state));
  if (first !== undefined && isLegacyKey(first)) return first;
  return (await store.exists(CALL_BUDGET_LEDGER_KEY)) ? CALL_BUDGET_LEDGER_KEY : undefined;
}

async function firstKey(keys: AsyncIterable<string>): Promise<string | undefined> {
  for await (const key of keys) return key;
  return undefined;
}

/** The error a `default` function refuses to start with, naming what it found and what to run. */
export function upgradeRequired(found: string, bucket: string, variable: string): UpgradeRequiredError {
  return new UpgradeRequiredError(
    `${variable}=${DEFAULT_SUBSCRIPTION}: the bucket ${bucket} holds state of a single-subscription deployment ` +
      `(${found}) that is not in the subscription layout yet. Run \`npx qualys-lake upgrade --bucket ${bucket}\` once ` +
      `(README, "Upgrading from a single-subscription deployment"); the collectors then resume where they stopped.`,
  );
}
