import type { ObjectStore } from './ports';
import { gzip, readJson } from './records';

/**
 * Which record ids are already in the curated data, one small gzip JSON object per day of
 * event time (`<prefix>dt=YYYY-MM-DD.json.gz`). Overlapping windows, retried pages and replays
 * all consult it, so a record is curated and alerted once however often the API serves it.
 * Only the days a run touches are loaded, and at most `maxCachedDays` stay in memory.
 */
export class SeenIndex {
  private readonly days = new Map<string, Set<string>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly maxCachedDays = 16,
  ) {}

  private key(day: string): string {
    return `${this.prefix}dt=${day}.json.gz`;
  }

  private async day(day: string): Promise<Set<string>> {
    let ids = this.days.get(day);
    if (ids) {
      // Refresh its place in the LRU order.
      this.days.delete(day);
      this.days.set(day, ids);
      return ids;
    }
    const stored = await readJson<{ ids: string[] }>(this.store, this.key(day));
    ids = new Set(stored?.ids ?? []);
    this.days.set(day, ids);
    while (this.days.size > this.maxCachedDays) {
      const oldest = this.days.keys().next().value;
      if (oldest === undefined) break;
      this.days.delete(oldest);
    }
    return ids;
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
      if ((await this.day(day(record))).has(recordId)) continue;
      inBatch.add(recordId);
      fresh.push(record);
    }
    return fresh;
  }

  /** Adds ids and writes every day object that changed. */
  async add<T>(records: readonly T[], id: (record: T) => string, day: (record: T) => string): Promise<void> {
    const byDay = new Map<string, string[]>();
    for (const record of records) {
      const recordDay = day(record);
      byDay.set(recordDay, [...(byDay.get(recordDay) ?? []), id(record)]);
    }
    for (const [recordDay, recordIds] of byDay) {
      const ids = await this.day(recordDay);
      const before = ids.size;
      for (const recordId of recordIds) ids.add(recordId);
      if (ids.size === before) continue;
      await this.store.put(this.key(recordDay), gzip(JSON.stringify({ ids: [...ids].sort() })), {
        contentType: 'application/json',
        contentEncoding: 'gzip',
      });
    }
  }
}
