import type { ObjectStore } from './ports';
import { gzip, readJson } from './records';

/**
 * Which record ids are already in the curated data, one small gzip JSON object per day of
 * event time (`<prefix>dt=YYYY-MM-DD.json.gz`). Overlapping windows, retried pages and replays
 * all consult it, so a record is curated and alerted once however often the API serves it.
 * Only the days a run touches are loaded, and at most `maxCachedDays` stay in memory.
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

/** The stored form; `unalerted` is absent when empty (and in objects written before it existed). */
interface StoredDay {
  ids: string[];
  unalerted?: Record<string, string>;
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
    seen = { ids: new Set(stored?.ids ?? []), unalerted: new Map(Object.entries(stored?.unalerted ?? {})) };
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
   * Adds ids, notes `withoutAlert` (record → its curated key), clears `alerted`, and writes every day
   * object that changed, one day at a time (so the cache may evict a day once it is written).
   */
  async add<T>(
    records: readonly T[],
    id: (record: T) => string,
    day: (record: T) => string,
    changes: { withoutAlert?: ReadonlyMap<T, string>; alerted?: readonly T[] } = {},
  ): Promise<void> {
    const byDay = new Map<
      string,
      { add: string[]; withoutAlert: Array<[string, string]>; alerted: string[] }
    >();
    const changesOf = (record: T) => {
      const recordDay = day(record);
      const found = byDay.get(recordDay) ?? { add: [], withoutAlert: [], alerted: [] };
      byDay.set(recordDay, found);
      return found;
    };
    for (const record of records) changesOf(record).add.push(id(record));
    for (const [record, curatedKey] of changes.withoutAlert ?? [])
      changesOf(record).withoutAlert.push([id(record), curatedKey]);
    for (const record of changes.alerted ?? []) changesOf(record).alerted.push(id(record));
    for (const [recordDay, wanted] of byDay) {
      const seen = await this.day(recordDay);
      const idsBefore = seen.ids.size;
      for (const recordId of wanted.add) seen.ids.add(recordId);
      let unalertedChanged = false;
      for (const [recordId, curatedKey] of wanted.withoutAlert) {
        if (seen.unalerted.get(recordId) === curatedKey) continue;
        seen.unalerted.set(recordId, curatedKey);
        unalertedChanged = true;
      }
      for (const recordId of wanted.alerted)
        unalertedChanged = seen.unalerted.delete(recordId) || unalertedChanged;
      if (seen.ids.size === idsBefore && !unalertedChanged) continue;
      const stored: StoredDay = { ids: [...seen.ids].sort() };
      if (seen.unalerted.size > 0) stored.unalerted = Object.fromEntries([...seen.unalerted].sort());
      await this.store.put(this.key(recordDay), gzip(JSON.stringify(stored)), {
        contentType: 'application/json',
        contentEncoding: 'gzip',
      });
    }
  }
}
