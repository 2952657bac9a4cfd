import { createHash } from 'node:crypto';
import { curatedPrefix } from '../core/manifest';
import type { CuratedDataset } from '../core/names';
import type { ObjectStore } from '../core/ports';
import { fromNdjsonGzip, gzip, readJson } from '../core/records';
import type { ScopedStore } from '../core/scoped-store';
import { unscopeKey } from '../core/subscription';
import { SECURITY_LAKE_STATE_PREFIX, type SecurityLakeClass } from './manifest';

/**
 * Batches of one class: which curated objects the next Parquet files hold. A batch is a set of
 * curated object keys; its id is a digest of that set, and the id names its files, so the same set
 * always yields the same file keys. The set is recorded as `pending` in the class's checkpoint
 * BEFORE any file is written, and moves to `written` only after every file of the batch is in
 * Security Lake: a run that fails in between leaves `pending`, and the next run writes exactly that
 * batch again (same keys, same rows, same file keys), replacing its files instead of adding copies.
 *
 * Every key here is a subscription's logical key (`curated/cdr_findings/dt=…/x.json.gz`): the run
 * reads and writes the archive through a ScopedStore (core/scoped-store.ts), which places them.
 */
export interface ClassCheckpoint {
  version: 1;
  /**
   * Curated objects already in Security Lake, by `dt` partition (names after `dt=<day>/`), for the
   * partitions still inside the lookback; older partitions are dropped as they leave it.
   */
  written: Record<string, string[]>;
  /** The batch being written: its curated keys, fixed before its first file. */
  pending?: PendingBatch;
  updatedAt?: string;
}

export interface PendingBatch {
  id: string;
  /** The curated object keys (as in the archive bucket) the batch holds, sorted. */
  keys: string[];
}

/** A batch with its records read: what the writer turns into files. */
export interface Batch extends PendingBatch {
  records: Record<string, unknown>[];
  /** Keys that were pending but are no longer in the archive (expired): done, with no rows. */
  missing: string[];
}

export interface BatchLimits {
  /** Most records one batch holds; the object that reaches it is the batch's last. */
  maxRecords: number;
  /** Most curated objects one batch holds. */
  maxObjects: number;
}

const DAY = 86_400_000;

/** The state key of one class's checkpoint. */
export const checkpointKey = (name: SecurityLakeClass) =>
  `${SECURITY_LAKE_STATE_PREFIX}${name}/checkpoint.json.gz`;

/** Where records that could not be mapped are set aside, per batch. */
export const rejectedKey = (name: SecurityLakeClass, batchId: string) =>
  `${SECURITY_LAKE_STATE_PREFIX}${name}/rejected/${batchId}.json`;

/**
 * The class's checkpoint. A pending batch recorded by the writer's first version holds the keys in
 * the bucket (`curated/cdr_findings/subscription=<name>/dt=…`); they are read back as the logical
 * keys they are now, so that batch is still written again exactly (its id is kept as recorded).
 */
export async function readCheckpoint(store: ScopedStore, name: SecurityLakeClass): Promise<ClassCheckpoint> {
  const saved = await readJson<ClassCheckpoint>(store, checkpointKey(name));
  if (!saved) return { version: 1, written: {} };
  const { pending } = saved;
  const { subscription } = store;
  const mark = `/subscription=${subscription}/`;
  if (!pending?.keys.some((key) => key.includes(mark))) return saved;
  const keys = pending.keys.map((key) => (key.includes(mark) ? unscopeKey(key, subscription) : key));
  return { ...saved, pending: { ...pending, keys } };
}

export async function saveCheckpoint(
  store: ObjectStore,
  name: SecurityLakeClass,
  checkpoint: ClassCheckpoint,
  now: Date,
): Promise<void> {
  const body = gzip(JSON.stringify({ ...checkpoint, updatedAt: now.toISOString() }));
  await store.put(checkpointKey(name), body, {
    contentType: 'application/json',
    contentEncoding: 'gzip',
  });
}

/** The id of a batch: a digest of its sorted keys (the same keys, the same id, the same files). */
export function batchId(keys: readonly string[]): string {
  return createHash('sha256')
    .update([...keys].sort().join('\n'))
    .digest('hex')
    .slice(0, 20);
}

/** The `dt` days a run looks through: `lookbackDays` back from today and tomorrow (a clock ahead). */
export function lookbackDays(now: Date, days: number): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const list: string[] = [];
  for (let back = days - 1; back >= -1; back--) {
    list.push(new Date(today - back * DAY).toISOString().slice(0, 10));
  }
  return list;
}

/** The archive prefix of one `dt` partition of a dataset. */
const dayPrefix = (dataset: CuratedDataset, day: string) => `${curatedPrefix(dataset)}dt=${day}/`;

/** The curated objects of the lookback's partitions, oldest first, as one run listed them. */
export type CuratedListing = ReadonlyArray<{ day: string; prefix: string; keys: readonly string[] }>;

/**
 * Lists the lookback's partitions of a dataset once, for every batch of a run: a catch-up of many
 * batches does not list the same partitions again for each. Only `.json.gz` objects are curated
 * records (a partition may hold nothing else today). Objects landing later are the next run's.
 */
export async function listCurated(
  store: ObjectStore,
  dataset: CuratedDataset,
  days: readonly string[],
): Promise<CuratedListing> {
  const listing: Array<{ day: string; prefix: string; keys: string[] }> = [];
  for (const day of days) {
    const prefix = dayPrefix(dataset, day);
    const keys: string[] = [];
    for await (const key of store.list(prefix)) if (key.endsWith('.json.gz')) keys.push(key);
    listing.push({ day, prefix, keys });
  }
  return listing;
}

/**
 * Listed objects the checkpoint does not hold as written, oldest partition first, at most `limit`,
 * leaving out those this run found gone since it listed them.
 */
export function unwrittenKeys(
  listing: CuratedListing,
  checkpoint: ClassCheckpoint,
  limit: number,
  gone: ReadonlySet<string>,
): string[] {
  const keys: string[] = [];
  for (const { day, prefix, keys: listed } of listing) {
    const written = new Set(checkpoint.written[day] ?? []);
    for (const key of listed) {
      if (written.has(key.slice(prefix.length)) || gone.has(key)) continue;
      keys.push(key);
      if (keys.length >= limit) return keys;
    }
  }
  return keys;
}

/**
 * The next batch: the pending one again if a run left one, else new objects in order until the
 * record or object limit. Its records are read here, once; the caller records it as pending
 * ({@link startBatch}) before writing anything. An object gone since the run listed it joins
 * `gone` (the run's, not the checkpoint's: a later run writes it if it is back) and is not asked
 * for again; when every candidate is gone, the next ones are taken.
 */
export async function nextBatch(
  store: ObjectStore,
  checkpoint: ClassCheckpoint,
  /** The run's listing, listed when first asked for (a pending batch needs none). */
  listing: () => Promise<CuratedListing>,
  limits: BatchLimits,
  /** The run's: listed objects found gone, filled in here. */
  gone: Set<string>,
): Promise<{ batch: Batch; resumed: boolean } | undefined> {
  if (checkpoint.pending) {
    return { batch: await readBatch(store, checkpoint.pending), resumed: true };
  }
  const listed = await listing();
  // Each round either returns or adds at least one listed key to `gone`, so the listing bounds it.
  for (;;) {
    const candidates = unwrittenKeys(listed, checkpoint, limits.maxObjects, gone);
    if (candidates.length === 0) return undefined;
    const keys: string[] = [];
    const records: Record<string, unknown>[] = [];
    for (const key of candidates) {
      const read = await readObject(store, key);
      if (read === undefined) {
        gone.add(key);
        continue;
      }
      keys.push(key);
      records.push(...read);
      if (records.length >= limits.maxRecords) break;
    }
    if (keys.length > 0) {
      keys.sort();
      return { batch: { id: batchId(keys), keys, records, missing: [] }, resumed: false };
    }
  }
}

/** A pending batch read again: the same keys in the same order, so the same rows. */
async function readBatch(store: ObjectStore, pending: PendingBatch): Promise<Batch> {
  const records: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const key of pending.keys) {
    const read = await readObject(store, key);
    if (read === undefined) missing.push(key);
    else records.push(...read);
  }
  return { id: pending.id, keys: [...pending.keys], records, missing };
}

async function readObject(store: ObjectStore, key: string): Promise<Record<string, unknown>[] | undefined> {
  const bytes = await store.get(key);
  if (bytes === undefined) return undefined;
  return fromNdjsonGzip(bytes).filter(
    (record): record is Record<string, unknown> => typeof record === 'object' && record !== null,
  );
}

/** The checkpoint with `batch` pending: saved before the batch's first file. */
export function startBatch(checkpoint: ClassCheckpoint, batch: PendingBatch): ClassCheckpoint {
  return { ...checkpoint, pending: { id: batch.id, keys: batch.keys } };
}

/**
 * The checkpoint once every file of the pending batch is written: its keys join `written` under
 * their partition, nothing is pending, and partitions before the lookback are forgotten.
 */
export function finishBatch(
  checkpoint: ClassCheckpoint,
  dataset: CuratedDataset,
  days: readonly string[],
): ClassCheckpoint {
  const written: Record<string, string[]> = {};
  const oldest = days[0] ?? '';
  for (const [day, names] of Object.entries(checkpoint.written)) {
    if (day >= oldest) written[day] = [...names];
  }
  for (const key of checkpoint.pending?.keys ?? []) {
    const day = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    if (day === undefined || day < oldest) continue;
    const prefix = dayPrefix(dataset, day);
    if (!key.startsWith(prefix)) continue;
    const names = written[day] ?? [];
    names.push(key.slice(prefix.length));
    written[day] = names;
  }
  for (const names of Object.values(written)) names.sort();
  return { version: 1, written };
}
