import { IdSet } from './id-set';
import type { ObjectStore } from './ports';
import { readJson } from './records';

/**
 * Which record ids are already in the curated data, one object per day of event time
 * (`<prefix>dt=YYYY-MM-DD.bin`: 16 bytes an id, see {@link IdSet}; days written before it existed
 * are read from `dt=YYYY-MM-DD.json.gz` and rewritten in the new form). Overlapping windows, retried pages and replays all consult
 * it, so a record is curated and alerted once however often the API serves it. Only the days a
 * run touches are loaded, and at most `maxCachedDays` stay in memory.
 *
 * A page's changes are a {@link SeenDelta}, recorded in the page journal (core/journal.ts) and
 * applied here in memory; the day objects are written once a run ({@link compact}), not after
 * every page. Deltas of earlier runs that were never compacted are applied the same way, entry by
 * entry, as the next run reads their journal back.
 *
 * A record curated by a run that sent no alerts (a backfill with `"alerts": false`) and that would
 * have alerted is also kept as *unalerted*, with where it was curated: a scheduled run that reads it
 * again alerts it then, once (README, "Backfills without alerts").
 */
interface SeenDay {
  ids: IdSet;
  /** Records seen without their alert: id → the curated object holding it. */
  unalerted: Map<string, string>;
}

/** What one page changes in one day: ids now seen, ids seen without their alert, ids alerted since. */
export interface SeenDayDelta {
  ids: string[];
  /** Seen without their alert: id → the curated object holding it. */
  unalerted?: Record<string, string>;
  /** Seen without their alert before, and alerted now. */
  alerted?: string[];
}

/** What one page changes, by day of event time. */
export type SeenDelta = Record<string, SeenDayDelta>;

/** The legacy stored form; `unalerted` is absent when empty (and in objects written before it existed). */
interface LegacyDay {
  ids: string[];
  unalerted?: Record<string, string>;
}

/** `QLS1`, a 4-byte length, the JSON of `{ unalerted }`, then the id keys back to back. */
const MAGIC = Buffer.from('QLS1');

/** The stored form in parts: the header, then the set's own key chunks (a day of a million ids is 16 MB, not copied). */
function encodeDay(seen: SeenDay): Buffer[] {
  const header = Buffer.from(JSON.stringify({ unalerted: Object.fromEntries(seen.unalerted) }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.byteLength);
  return [Buffer.concat([MAGIC, length, header]), ...seen.ids.parts()];
}

function decodeDay(bytes: Uint8Array, key: string): SeenDay {
  const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (all.byteLength < 8 || !all.subarray(0, 4).equals(MAGIC))
    throw new Error(`${key} is not a seen index day`);
  const end = 8 + all.readUInt32BE(4);
  const { unalerted } = JSON.parse(all.subarray(8, end).toString('utf8')) as {
    unalerted?: Record<string, string>;
  };
  return { ids: IdSet.fromBytes(all.subarray(end)), unalerted: new Map(Object.entries(unalerted ?? {})) };
}

export class SeenIndex {
  private readonly days = new Map<string, SeenDay>();
  /** Days changed in memory since their object was last written. */
  private readonly dirty = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly maxCachedDays = 16,
  ) {}

  private key(day: string): string {
    return `${this.prefix}dt=${day}.bin`;
  }

  private async read(day: string): Promise<SeenDay> {
    const key = this.key(day);
    const bytes = await this.store.get(key);
    if (bytes) return decodeDay(bytes, key);
    const legacy = await readJson<LegacyDay>(this.store, `${this.prefix}dt=${day}.json.gz`);
    const ids = new IdSet(legacy?.ids.length);
    for (const id of legacy?.ids ?? []) ids.add(id);
    return { ids, unalerted: new Map(Object.entries(legacy?.unalerted ?? {})) };
  }

  private async day(day: string): Promise<SeenDay> {
    let seen = this.days.get(day);
    if (seen) {
      // Refresh its place in the LRU order.
      this.days.delete(day);
      this.days.set(day, seen);
      return seen;
    }
    seen = await this.read(day);
    this.days.set(day, seen);
    await this.evict();
    return seen;
  }

  /** Drops the least recently used days past `maxCachedDays`, writing a changed one first. */
  private async evict(): Promise<void> {
    while (this.days.size > this.maxCachedDays) {
      const oldest = this.days.keys().next().value;
      if (oldest === undefined) break;
      if (this.dirty.has(oldest)) await this.write(oldest);
      this.days.delete(oldest);
    }
  }

  /** The records whose id is not yet indexed (first occurrence only when a batch repeats an id). */
  async unseen<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
  ): Promise<T[]> {
    const fresh: T[] = [];
    const inBatch = new Set<string>();
    for (const record of records) {
      const recordId = id(record);
      if (inBatch.has(recordId)) continue;
      if ((await this.day(day(record))).ids.has(recordId)) continue;
      inBatch.add(recordId);
      fresh.push(record);
    }
    return fresh;
  }

  /** The records among `records` seen without their alert, each with where it was curated. */
  async unalerted<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
  ): Promise<Array<{ record: T; curatedKey: string }>> {
    const found: Array<{ record: T; curatedKey: string }> = [];
    const inBatch = new Set<string>();
    for (const record of records) {
      const recordId = id(record);
      const curatedKey = (await this.day(day(record))).unalerted.get(recordId);
      if (curatedKey === undefined || inBatch.has(recordId)) continue;
      inBatch.add(recordId);
      found.push({ record, curatedKey });
    }
    return found;
  }

  /**
   * The change of adding `records` as seen, noting `withoutAlert` (record → its curated key) and
   * clearing `alerted`; nothing is changed until it is {@link apply}'d.
   */
  delta<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
    changes: { withoutAlert?: ReadonlyMap<T, string>; alerted?: readonly T[] } = {},
  ): SeenDelta {
    const delta: SeenDelta = {};
    const of = (record: T): SeenDayDelta => {
      const recordDay = day(record);
      const found = delta[recordDay] ?? { ids: [] };
      delta[recordDay] = found;
      return found;
    };
    for (const record of records) of(record).ids.push(id(record));
    for (const [record, curatedKey] of changes.withoutAlert ?? []) {
      const change = of(record);
      change.unalerted ??= {};
      change.unalerted[id(record)] = curatedKey;
    }
    for (const record of changes.alerted ?? []) {
      const change = of(record);
      change.alerted ??= [];
      change.alerted.push(id(record));
    }
    return delta;
  }

  /**
   * Applies a journaled delta in memory, this run's or one an earlier run left; the day objects
   * are written by {@link compact}.
   */
  async apply(delta: SeenDelta): Promise<void> {
    for (const [day, change] of Object.entries(delta)) {
      const seen = await this.day(day);
      if (applyDayDelta(seen, change)) this.dirty.add(day);
    }
  }

  /**
   * Writes every day object that changed (this run's deltas and the earlier ones replayed), and
   * lets go of each day once it is written: a day read again is read from its object.
   */
  async compact(): Promise<void> {
    for (const day of [...this.days.keys()]) {
      if (this.dirty.has(day)) await this.write(day);
      this.days.delete(day);
    }
  }

  private async write(day: string): Promise<void> {
    const seen = this.days.get(day);
    if (!seen) return;
    // Not compressed: 16 random-looking bytes an id do not compress.
    await this.store.put(this.key(day), encodeDay(seen), { contentType: 'application/octet-stream' });
    this.dirty.delete(day);
  }
}

/** Applies one day's change; true when the day changed. */
function applyDayDelta(seen: SeenDay, change: SeenDayDelta): boolean {
  let changed = false;
  for (const recordId of change.ids) changed = seen.ids.add(recordId) || changed;
  for (const [recordId, curatedKey] of Object.entries(change.unalerted ?? {})) {
    if (seen.unalerted.get(recordId) === curatedKey) continue;
    seen.unalerted.set(recordId, curatedKey);
    changed = true;
  }
  for (const recordId of change.alerted ?? []) changed = seen.unalerted.delete(recordId) || changed;
  return changed;
}
