import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PageJournal, READ_CONCURRENCY } from '../../../functions/core/journal';
import { MemoryStore } from '../../support/memory-store';

const PREFIX = 'state/cdr-findings/journal/';

interface Entry {
  page: number;
  ids: string[];
}

const entry = (page: number): Entry => ({ page, ids: [`id-${page}-a`, `id-${page}-b`] });

/** A store that counts the reads it was asked for. */
class CountingStore extends MemoryStore {
  readonly gets: string[] = [];
  override async get(key: string) {
    this.gets.push(key);
    return super.get(key);
  }
}

/** A run that journals `pages` entries and never merges them (its merge failed, or it was cut off). */
async function leftBehind(store: MemoryStore, pages: number, startedAt = '2026-11-28T10:00:00.000Z') {
  const crashed = new PageJournal<Entry>(store, PREFIX, startedAt);
  for (let page = 0; page < pages; page++) await crashed.append(entry(page));
}

async function take<T>(entries: AsyncIterator<T>, count: number): Promise<T[]> {
  const taken: T[] = [];
  for (let i = 0; i < count; i++) {
    const next = await entries.next();
    if (next.done) break;
    taken.push(next.value);
  }
  return taken;
}

describe('PageJournal', () => {
  it('hands the entries an earlier run left back oldest first, reading only a few at a time', async () => {
    const store = new CountingStore();
    const pages = 5 * READ_CONCURRENCY + 3;
    await leftBehind(store, pages);
    const journal = new PageJournal<Entry>(store, PREFIX, '2026-11-28T11:00:00.000Z');

    expect(journal.toMerge).toBe(0);
    const pending = journal.pending()[Symbol.asyncIterator]();
    expect(await take(pending, 1)).toEqual([entry(0)]);
    // Only the first batch was read: the rest waits until the caller has applied these.
    expect(store.gets).toHaveLength(READ_CONCURRENCY);
    // What the merge will cover is known from the listing, before the entries are read back.
    expect(journal.toMerge).toBe(pages);
    const rest = await take(pending, pages);
    expect(rest.map((read) => read.page)).toEqual(Array.from({ length: pages - 1 }, (_, page) => page + 1));
    expect(store.gets).toHaveLength(pages);
  });

  it('merges what it read back and what this run wrote, and deletes those entries only', async () => {
    const store = new MemoryStore();
    await leftBehind(store, 3);
    const journal = new PageJournal<Entry>(store, PREFIX, '2026-11-28T11:00:00.000Z');
    const replayed: Entry[] = [];
    for await (const read of journal.pending()) replayed.push(read);
    await journal.append(entry(10));
    expect(journal.size).toBe(4);

    const merged: Entry[] = [];
    for await (const read of journal.entries()) merged.push(read);
    expect(merged.map((read) => read.page)).toEqual([0, 1, 2, 10]);
    // An entry another run journals meanwhile is not this run's to delete.
    await leftBehind(store, 1, '2026-11-28T11:30:00.000Z');
    expect(journal.toMerge).toBe(4);
    await journal.merge(async () => undefined);
    expect(journal.toMerge).toBe(0);
    expect(store.deletes).toHaveLength(4);
    expect([...store.objects.keys()].filter((key) => key.startsWith(PREFIX))).toHaveLength(1);
  });

  it('reads the entries back for the merge a batch at a time, in order', async () => {
    const store = new CountingStore();
    const pages = 2 * READ_CONCURRENCY + 1;
    const journal = new PageJournal<Entry>(store, PREFIX, '2026-11-28T11:00:00.000Z');
    for await (const _ of journal.pending());
    for (let page = 0; page < pages; page++) await journal.append(entry(page));

    const entries = journal.entries()[Symbol.asyncIterator]();
    expect(await take(entries, 1)).toEqual([entry(0)]);
    // The first batch was asked for at once, so its round trips overlap.
    expect(store.gets).toHaveLength(READ_CONCURRENCY);
    const rest = await take(entries, pages);
    expect(rest.map((read) => read.page)).toEqual(Array.from({ length: pages - 1 }, (_, page) => page + 1));
    expect(store.gets).toHaveLength(pages);
  });

  it('keeps every entry when the merged state could not be saved', async () => {
    const store = new MemoryStore();
    await leftBehind(store, 2);
    const journal = new PageJournal<Entry>(store, PREFIX, '2026-11-28T11:00:00.000Z');
    for await (const _ of journal.pending());
    await expect(
      journal.merge(async () => {
        throw new Error('simulated S3 write failure');
      }),
    ).rejects.toThrow('simulated S3 write failure');
    expect(store.deletes).toEqual([]);
    const next = new PageJournal<Entry>(store, PREFIX, '2026-11-28T12:00:00.000Z');
    const again: Entry[] = [];
    for await (const read of next.pending()) again.push(read);
    expect(again).toEqual([entry(0), entry(1)]);
  });

  it('writes an entry as plain JSON, and reads back the gzipped entries of earlier versions with it', async () => {
    const store = new MemoryStore();
    // An entry as versions before this one wrote it: gzipped, under .json.gz.
    await store.put(`${PREFIX}20261128T0900Z-0a0b0c0d-000000.json.gz`, gzipSync(JSON.stringify(entry(0))), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
    });
    const run = new PageJournal<Entry>(store, PREFIX, '2026-11-28T10:00:00.000Z');
    for await (const _ of run.pending());
    await run.append(entry(1));
    const written = [...store.objects.entries()].filter(([key]) => key.endsWith('.json'));
    expect(written).toHaveLength(1);
    const [key = '', stored] = written[0] ?? [];
    expect(JSON.parse(store.text(key) ?? '')).toEqual(entry(1));
    expect(stored?.options.contentEncoding).toBeUndefined();
    expect(run.oldestName).toBe('20261128T0900Z-0a0b0c0d-000000');

    const next = new PageJournal<Entry>(store, PREFIX, '2026-11-28T11:00:00.000Z');
    const read: Entry[] = [];
    for await (const pending of next.pending()) read.push(pending);
    expect(read).toEqual([entry(0), entry(1)]);
  });

  it('is read back once per run', async () => {
    const journal = new PageJournal<Entry>(new MemoryStore(), PREFIX, '2026-11-28T11:00:00.000Z');
    for await (const _ of journal.pending());
    await expect(journal.pending().next()).rejects.toThrow('read back once per run');
  });
});
