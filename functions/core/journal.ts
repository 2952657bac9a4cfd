import { randomBytes } from 'node:crypto';
import type { ObjectStore } from './ports';
import { keyTime, readJson } from './records';

/** Journal entries read at once when a run reads the journal back (and all it holds of it at once). */
export const READ_CONCURRENCY = 8;

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
  /** The keys of the entries earlier runs left, as {@link pending} read them. */
  private earlier: string[] | undefined;
  /** How many entries earlier runs left, once {@link pending} has listed them (before it reads them). */
  private listed = 0;
  private markListed: () => void = () => undefined;
  /**
   * Settles once {@link pending} has listed what earlier runs left (or failed to): from then on
   * {@link toMerge} counts them.
   */
  readonly listing = new Promise<void>((resolve) => {
    this.markListed = resolve;
  });
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

  /**
   * What earlier runs wrote and did not merge, oldest first, {@link READ_CONCURRENCY} entries read
   * at a time and handed over one by one: the caller applies each and lets it go. Never all at
   * once: the journal of a million-finding run whose merge failed is a thousand entries of a
   * thousand ids, several hundred MB once parsed. Read once per run, before any {@link append}.
   */
  async *pending(): AsyncGenerator<Entry> {
    if (this.earlier) throw new Error('the page journal is read back once per run');
    const earlier: string[] = [];
    this.earlier = earlier;
    const keys: string[] = [];
    try {
      for await (const key of this.store.list(this.prefix)) keys.push(key);
      this.listed = keys.length;
    } finally {
      this.markListed();
    }
    for await (const { key, entry } of this.read(keys)) {
      earlier.push(key);
      yield entry;
    }
    // Those gone since the listing (merged by a run that overlapped this one) are not this run's.
    this.listed = earlier.length;
  }

  /**
   * The entries under `keys`, in that order, {@link READ_CONCURRENCY} read at a time: the round
   * trips of a batch overlap, and only a batch is held. An entry gone since it was listed (merged
   * and deleted by a run that overlapped this one) is skipped.
   */
  private async *read(keys: readonly string[]): AsyncGenerator<{ key: string; entry: Entry }> {
    for (let start = 0; start < keys.length; start += READ_CONCURRENCY) {
      const batch = keys.slice(start, start + READ_CONCURRENCY);
      const read = await Promise.all(batch.map((key) => readJson<Entry>(this.store, key)));
      for (const [index, entry] of read.entries()) {
        // The caller holds the entry from here; the batch no longer does.
        read[index] = undefined;
        if (entry !== undefined) yield { key: batch[index] as string, entry };
      }
    }
  }

  /**
   * Writes one entry; what it records holds once this resolves. Plain JSON, not gzipped: an entry
   * lives until the run's merge deletes it, and gzip cost a page about as much CPU as the PUT
   * (README "Benchmarks"). Entries written gzipped by earlier versions read back as well.
   */
  async append(entry: Entry): Promise<void> {
    const key = `${this.prefix}${this.runId}-${String(this.written.length).padStart(6, '0')}.json`;
    await this.store.put(key, JSON.stringify(entry), { contentType: 'application/json' });
    this.written.push(key);
  }

  /** Entries not merged yet: read back at the start of this run, or written by it. */
  get size(): number {
    return this.keys().length;
  }

  /**
   * Entries the merge will cover as far as this run knows: those earlier runs left from the moment
   * they are listed (before they are read back), and those this run wrote.
   */
  get toMerge(): number {
    return this.listed + this.written.length;
  }

  private keys(): string[] {
    return [...(this.earlier ?? []), ...this.written];
  }

  /** The name of the oldest entry not merged (what the merge writes is named after it). */
  get oldestName(): string | undefined {
    return this.keys()[0]
      ?.slice(this.prefix.length)
      .replace(/\.json(\.gz)?$/, '');
  }

  /** Every entry not merged, oldest first, read again from the store a batch at a time. */
  async *entries(): AsyncIterable<Entry> {
    for await (const { entry } of this.read(this.keys())) yield entry;
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
    this.listed = 0;
    this.written.length = 0;
  }
}
