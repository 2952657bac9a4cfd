import { randomBytes } from 'node:crypto';
import type { ObjectStore } from './ports';
import { gzipAsync, keyTime, readJson } from './records';

/** Journal entries read at once when a run starts. */
const READ_CONCURRENCY = 8;

/**
 * Per-page state, written once as one small object per page and merged into the state it belongs
 * to once a run, instead of rewriting that state after every page: a page costs writes in
 * proportion to the page, not to the day (README, "How exactly-once works").
 *
 * An entry is the single write that records a page: what it says (for cdr-findings, the ids that
 * became seen and the alerts they queued) holds from that write on, all of it or none of it. At
 * the end of a run, {@link merge} saves the merged state and then deletes the entries it covers; a
 * run that ends before that leaves its entries, and the next run reads them back first
 * ({@link pending}). Keys sort in the order they were written (run start, then page), so entries
 * are read back in that order.
 */
export class PageJournal<Entry> {
  private earlier: Array<{ key: string; entry: Entry }> | undefined;
  private readonly written: string[] = [];
  private readonly runId: string;

  constructor(
    private readonly store: ObjectStore,
    /** `state/<collector>/journal/` */
    private readonly prefix: string,
    runStartedAt: string,
  ) {
    this.runId = `${keyTime(runStartedAt)}-${randomBytes(4).toString('hex')}`;
  }

  /** What earlier runs wrote and did not merge, oldest first; read once per run. */
  async pending(): Promise<Entry[]> {
    if (!this.earlier) {
      const keys: string[] = [];
      for await (const key of this.store.list(this.prefix)) keys.push(key);
      const entries: Array<{ key: string; entry: Entry }> = [];
      for (let start = 0; start < keys.length; start += READ_CONCURRENCY) {
        const batch = keys.slice(start, start + READ_CONCURRENCY);
        const read = await Promise.all(batch.map((key) => readJson<Entry>(this.store, key)));
        read.forEach((entry, index) => {
          if (entry !== undefined) entries.push({ key: batch[index] as string, entry });
        });
      }
      this.earlier = entries;
    }
    return this.earlier.map(({ entry }) => entry);
  }

  /** Writes one entry; what it records holds once this resolves. */
  async append(entry: Entry): Promise<void> {
    const key = `${this.prefix}${this.runId}-${String(this.written.length).padStart(6, '0')}.json.gz`;
    await this.store.put(key, await gzipAsync(JSON.stringify(entry)), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
    });
    this.written.push(key);
  }

  /** Entries not merged yet: read back at the start of this run, or written by it. */
  get size(): number {
    return this.keys().length;
  }

  private keys(): string[] {
    return [...(this.earlier ?? []).map(({ key }) => key), ...this.written];
  }

  /** The name of the oldest entry not merged (what the merge writes is named after it). */
  get oldestName(): string | undefined {
    return this.keys()[0]
      ?.slice(this.prefix.length)
      .replace(/\.json\.gz$/, '');
  }

  /** Every entry not merged, oldest first, read again from the store one at a time. */
  async *entries(): AsyncIterable<Entry> {
    for (const key of this.keys()) {
      const entry = await readJson<Entry>(this.store, key);
      if (entry !== undefined) yield entry;
    }
  }

  /**
   * Once `saveMerged` has saved the state the entries add up to, deletes them. When it throws, the
   * entries stay and the next run merges them again; merging is idempotent (ids are a set, alerts
   * are keyed), so nothing is lost or counted twice.
   */
  async merge(saveMerged: () => Promise<void>): Promise<void> {
    await saveMerged();
    const keys = this.keys();
    if (keys.length > 0) await this.store.delete(keys);
    this.earlier = [];
    this.written.length = 0;
  }
}
