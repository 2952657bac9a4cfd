import type { ObjectStore } from './ports';
import { gzipAsync, readJson } from './records';

/**
 * Which record ids are already in the curated data, one gzip JSON object per day of event time
 * (`<prefix>dt=YYYY-MM-DD.json.gz`). Overlapping windows, retried pages and replays all consult
 * it, so a record is curated and alerted once however often the API serves it. Only the days a
 * run touches are loaded, and at most `maxCachedDays` stay in memory.
 *
 * A page's changes are a {@link SeenDelta}, recorded in the page journal (core/journal.ts) and
 * applied here in memory; the day objects are written once a run ({@link compact}), not after
 * every page. Deltas of earlier runs that were never compacted are applied when their day loads.
 *
 * A record curated by a run that sent no alerts (a backfill with `"alerts": false`) and that would
 * have alerted is also kept as *unalerted*, with where it was curated: a scheduled run that reads it
 * again alerts it then, once (README, "Backfills without alerts").
 */
interface SeenDay {
  ids: Set<string>;
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

/** The stored form; `unalerted` is absent when empty (and in objects written before it existed). */
interface StoredDay {
  ids: string[];
  unalerted?: Record<string, string>;
}

export class SeenIndex {
  private readonly days = new Map<string, SeenDay>();
  /** Days changed in memory since their object was last written. */
  private readonly dirty = new Set<string>();
  /** Deltas of earlier runs not compacted yet, oldest first, applied as their day loads. */
  private earlier: SeenDelta[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly maxCachedDays = 16,
  ) {}

  private key(day: string): string {
    return `${this.prefix}dt=${day}.json.gz`;
  }

  /** Deltas an earlier run journaled and never compacted; call before anything else. */
  replay(deltas: readonly SeenDelta[]): void {
    this.earlier = [...deltas];
  }

  private async day(day: string): Promise<SeenDay> {
    let seen = this.days.get(day);
    if (seen) {
      // Refresh its place in the LRU order.
      this.days.delete(day);
      this.days.set(day, seen);
      return seen;
    }
    const stored = await readJson<StoredDay>(this.store, this.key(day));
    seen = { ids: new Set(stored?.ids ?? []), unalerted: new Map(Object.entries(stored?.unalerted ?? {})) };
    for (const delta of this.earlier) {
      const change = delta[day];
      if (change && applyDayDelta(seen, change)) this.dirty.add(day);
    }
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

  /** Applies a journaled delta in memory; the day objects are written by {@link compact}. */
  async apply(delta: SeenDelta): Promise<void> {
    for (const [day, change] of Object.entries(delta)) {
      const seen = await this.day(day);
      if (applyDayDelta(seen, change)) this.dirty.add(day);
    }
  }

  /** Writes every day object that changed: this run's deltas and the earlier ones replayed. */
  async compact(): Promise<void> {
    const replayedDays = new Set(this.earlier.flatMap((delta) => Object.keys(delta)));
    for (const day of replayedDays) await this.day(day);
    for (const day of [...this.dirty]) await this.write(day);
    this.earlier = [];
  }

  private async write(day: string): Promise<void> {
    const seen = this.days.get(day);
    if (!seen) return;
    const stored: StoredDay = { ids: [...seen.ids].sort() };
    if (seen.unalerted.size > 0) stored.unalerted = Object.fromEntries([...seen.unalerted].sort());
    await this.store.put(this.key(day), await gzipAsync(JSON.stringify(stored)), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
    });
    this.dirty.delete(day);
  }
}

/** Applies one day's change; true when the day changed. */
function applyDayDelta(seen: SeenDay, change: SeenDayDelta): boolean {
  const idsBefore = seen.ids.size;
  for (const recordId of change.ids) seen.ids.add(recordId);
  let changed = seen.ids.size !== idsBefore;
  for (const [recordId, curatedKey] of Object.entries(change.unalerted ?? {})) {
    if (seen.unalerted.get(recordId) === curatedKey) continue;
    seen.unalerted.set(recordId, curatedKey);
    changed = true;
  }
  for (const recordId of change.alerted ?? []) changed = seen.unalerted.delete(recordId) || changed;
  return changed;
}
