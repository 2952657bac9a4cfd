import type { ObjectStore } from './ports';
import { gzip, readJson } from './records';

/**
 * Which record ids are already in the curated data, one small gzip JSON object per day of
 * event time (`<prefix>dt=YYYY-MM-DD.json.gz`). Overlapping windows, retried pages and replays
 * all consult it, so a record is curated and alerted once however often the API serves it.
 * Only the days a run touches are loaded, and at most `maxCachedDays` stay in memory.
 *
 * A record curated by a run that sent no alerts (a backfill with `"alerts": false`) and that would
 * have alerted is also kept as *held*, with where it was curated: a later run that alerts finds it
 * there and alerts it once (README, "Backfills without alerts").
 */
interface SeenDay {
  ids: Set<string>;
  /** Held records: id → the curated object holding it. */
  held: Map<string, string>;
}

/** The stored form; `held` is absent when empty (and in objects written before it existed). */
interface StoredDay {
  ids: string[];
  held?: Record<string, string>;
}

export class SeenIndex {
  private readonly days = new Map<string, SeenDay>();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly maxCachedDays = 16,
  ) {}

  private key(day: string): string {
    return `${this.prefix}dt=${day}.json.gz`;
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
    seen = { ids: new Set(stored?.ids ?? []), held: new Map(Object.entries(stored?.held ?? {})) };
    this.days.set(day, seen);
    while (this.days.size > this.maxCachedDays) {
      const oldest = this.days.keys().next().value;
      if (oldest === undefined) break;
      this.days.delete(oldest);
    }
    return seen;
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

  /** The held records among `records` (seen, never alerted), each with where it was curated. */
  async held<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
  ): Promise<Array<{ record: T; curatedKey: string }>> {
    const found: Array<{ record: T; curatedKey: string }> = [];
    const inBatch = new Set<string>();
    for (const record of records) {
      const recordId = id(record);
      const curatedKey = (await this.day(day(record))).held.get(recordId);
      if (curatedKey === undefined || inBatch.has(recordId)) continue;
      inBatch.add(recordId);
      found.push({ record, curatedKey });
    }
    return found;
  }

  /**
   * Adds ids, holds `hold` (record → its curated key), releases `release`, and writes every day
   * object that changed, one day at a time (so the cache may evict a day once it is written).
   */
  async add<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
    changes: { hold?: ReadonlyMap<T, string>; release?: readonly T[] } = {},
  ): Promise<void> {
    const byDay = new Map<string, { add: string[]; hold: Array<[string, string]>; release: string[] }>();
    const changesOf = (record: T) => {
      const recordDay = day(record);
      const found = byDay.get(recordDay) ?? { add: [], hold: [], release: [] };
      byDay.set(recordDay, found);
      return found;
    };
    for (const record of records) changesOf(record).add.push(id(record));
    for (const [record, curatedKey] of changes.hold ?? [])
      changesOf(record).hold.push([id(record), curatedKey]);
    for (const record of changes.release ?? []) changesOf(record).release.push(id(record));
    for (const [recordDay, wanted] of byDay) {
      const seen = await this.day(recordDay);
      const idsBefore = seen.ids.size;
      for (const recordId of wanted.add) seen.ids.add(recordId);
      let heldChanged = false;
      for (const [recordId, curatedKey] of wanted.hold) {
        if (seen.held.get(recordId) === curatedKey) continue;
        seen.held.set(recordId, curatedKey);
        heldChanged = true;
      }
      for (const recordId of wanted.release) heldChanged = seen.held.delete(recordId) || heldChanged;
      if (seen.ids.size === idsBefore && !heldChanged) continue;
      const stored: StoredDay = { ids: [...seen.ids].sort() };
      if (seen.held.size > 0) stored.held = Object.fromEntries([...seen.held].sort());
      await this.store.put(this.key(recordDay), gzip(JSON.stringify(stored)), {
        contentType: 'application/json',
        contentEncoding: 'gzip',
      });
    }
  }
}
