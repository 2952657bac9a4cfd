import { describe, expect, it } from 'vitest';
import { gzip } from '../../../functions/core/records';
import { SeenIndex } from '../../../functions/core/seen-index';
import { MemoryStore } from '../../support/memory-store';

interface Finding {
  uuid: string;
  day: string;
}

const id = (finding: Finding) => finding.uuid;
const day = (finding: Finding) => finding.day;
const PREFIX = 'state/cdr-findings/seen/';

const f = (uuid: string, dayOfEvent = '2025-05-09'): Finding => ({ uuid, day: dayOfEvent });

/** One page's change applied and compacted, as a run does at its end. */
async function add(
  index: SeenIndex,
  records: Finding[],
  changes?: { withoutAlert?: Map<Finding, string>; alerted?: Finding[] },
): Promise<void> {
  await index.apply(index.delta(records, id, day, changes));
  await index.compact();
}

describe('SeenIndex', () => {
  it('lets every id through before anything is indexed', async () => {
    const index = new SeenIndex(new MemoryStore(), PREFIX);
    const batch = [f('a'), f('b'), f('c', '2025-05-10')];
    expect(await index.unseen(batch, id, day)).toEqual(batch);
  });

  it('filters out ids already added', async () => {
    const index = new SeenIndex(new MemoryStore(), PREFIX);
    await add(index, [f('a'), f('b')]);

    expect(await index.unseen([f('a'), f('c'), f('b')], id, day)).toEqual([f('c')]);
  });

  it('remembers across a fresh instance reading the same store (the next run)', async () => {
    const store = new MemoryStore();
    await add(new SeenIndex(store, PREFIX), [f('a'), f('b', '2025-05-10')]);

    const nextRun = new SeenIndex(store, PREFIX);
    expect(await nextRun.unseen([f('a'), f('b', '2025-05-10'), f('c')], id, day)).toEqual([f('c')]);
    expect([...store.objects.keys()].sort()).toEqual([
      `${PREFIX}dt=2025-05-09.bin`,
      `${PREFIX}dt=2025-05-10.bin`,
    ]);
  });

  it('keeps only the first of ids repeated within one batch', async () => {
    const index = new SeenIndex(new MemoryStore(), PREFIX);
    const first = { uuid: 'a', day: '2025-05-09', copy: 1 };
    const second = { uuid: 'a', day: '2025-05-09', copy: 2 };
    expect(await index.unseen([first, f('b'), second], id, day)).toEqual([first, f('b')]);
  });

  it('adds to what earlier runs indexed instead of replacing it', async () => {
    const store = new MemoryStore();
    await add(new SeenIndex(store, PREFIX), [f('a')]);
    await add(new SeenIndex(store, PREFIX), [f('b')]);

    expect(await new SeenIndex(store, PREFIX).unseen([f('a'), f('b'), f('c')], id, day)).toEqual([f('c')]);
  });

  it('does not rewrite a day object when nothing new was added', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX);
    await add(index, [f('a')]);
    const writes = store.writes.length;
    await add(index, [f('a')]);
    expect(store.writes).toHaveLength(writes);
  });

  it('stays correct when more days are touched than it keeps in memory', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX, 2);
    const days = ['2025-05-01', '2025-05-02', '2025-05-03', '2025-05-04', '2025-05-05'];
    await add(
      index,
      days.map((d) => f(`id-${d}`, d)),
    );
    const again = days.map((d) => f(`id-${d}`, d));
    expect(await index.unseen([...again, f('new', '2025-05-01')], id, day)).toEqual([f('new', '2025-05-01')]);
  });

  it('keeps records curated without their alert, with where they are, until a later run alerts them', async () => {
    const store = new MemoryStore();
    const backfill = new SeenIndex(store, PREFIX);
    const a = f('a');
    const b = f('b', '2025-05-10');
    await add(backfill, [a, b, f('c')], {
      withoutAlert: new Map([
        [a, 'curated/x/dt=2025-05-09/a.json.gz'],
        [b, 'curated/x/dt=2025-05-10/b.json.gz'],
      ]),
    });

    const scheduled = new SeenIndex(store, PREFIX);
    expect(await scheduled.unseen([f('a'), f('c')], id, day)).toEqual([]);
    expect(await scheduled.unalerted([f('a'), f('c'), f('a'), f('b', '2025-05-10')], id, day)).toEqual([
      { record: f('a'), curatedKey: 'curated/x/dt=2025-05-09/a.json.gz' },
      { record: f('b', '2025-05-10'), curatedKey: 'curated/x/dt=2025-05-10/b.json.gz' },
    ]);
    await add(scheduled, [], { alerted: [f('a')] });

    const later = new SeenIndex(store, PREFIX);
    expect(await later.unalerted([f('a'), f('b', '2025-05-10')], id, day)).toEqual([
      { record: f('b', '2025-05-10'), curatedKey: 'curated/x/dt=2025-05-10/b.json.gz' },
    ]);
    expect(await later.unseen([f('a'), f('b', '2025-05-10')], id, day)).toEqual([]);
  });

  it('reads day objects written before records could be kept without their alert', async () => {
    const store = new MemoryStore();
    await store.put(`${PREFIX}dt=2025-05-09.json.gz`, gzip(JSON.stringify({ ids: ['a'] })), {
      contentType: 'application/json',
    });
    const index = new SeenIndex(store, PREFIX);
    expect(await index.unseen([f('a'), f('b')], id, day)).toEqual([f('b')]);
    expect(await index.unalerted([f('a')], id, day)).toEqual([]);
  });

  it('writes nothing per page: a run writes each changed day once, when it compacts', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX);
    for (let page = 0; page < 5; page++) {
      await index.apply(index.delta([f(`p${page}`), f(`q${page}`, '2025-05-10')], id, day));
    }
    expect(store.writes).toEqual([]);
    expect(await index.unseen([f('p3'), f('x')], id, day)).toEqual([f('x')]);
    await index.compact();
    expect(store.writes.sort()).toEqual([`${PREFIX}dt=2025-05-09.bin`, `${PREFIX}dt=2025-05-10.bin`]);
    const nextRun = new SeenIndex(store, PREFIX);
    expect(await nextRun.unseen([f('p0'), f('p4'), f('q2', '2025-05-10'), f('y')], id, day)).toEqual([
      f('y'),
    ]);
  });

  it('applies the journaled deltas of a run that never compacted, and writes them at the next compaction', async () => {
    const store = new MemoryStore();
    await add(new SeenIndex(store, PREFIX), [f('a')]);
    const crashed = new SeenIndex(store, PREFIX);
    const journaled = [
      crashed.delta([f('b'), f('c', '2025-05-10')], id, day, {
        withoutAlert: new Map([[f('c', '2025-05-10'), 'curated/x/c.json.gz']]),
      }),
    ];

    const next = new SeenIndex(store, PREFIX);
    for (const delta of journaled) await next.apply(delta);
    expect(await next.unseen([f('a'), f('b'), f('d')], id, day)).toEqual([f('d')]);
    expect(await next.unalerted([f('c', '2025-05-10')], id, day)).toEqual([
      { record: f('c', '2025-05-10'), curatedKey: 'curated/x/c.json.gz' },
    ]);
    await next.compact();
    // The day object of 2025-05-10 is written although this run never read a finding of that day.
    const after = new SeenIndex(store, PREFIX);
    expect(await after.unseen([f('b'), f('c', '2025-05-10'), f('e')], id, day)).toEqual([f('e')]);
  });

  it('writes a changed day before it leaves memory, so nothing is lost past maxCachedDays', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX, 1);
    await index.apply(index.delta([f('a', '2025-05-01')], id, day));
    await index.apply(index.delta([f('b', '2025-05-02')], id, day));
    expect(store.writes).toEqual([`${PREFIX}dt=2025-05-01.bin`]);
    await index.compact();
    const nextRun = new SeenIndex(store, PREFIX);
    expect(await nextRun.unseen([f('a', '2025-05-01'), f('b', '2025-05-02')], id, day)).toEqual([]);
  });

  it('writes a large day as its header and its id chunks, and the next run reads every id back', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX);
    // Past two 16,384-id chunks of the id set, with a record kept without its alert in the header.
    const many = Array.from({ length: 40_000 }, (_, n) => f(`id-${n}`));
    await add(index, many, { withoutAlert: new Map([[f('id-7'), 'curated/x/id-7.json.gz']]) });
    const stored = store.objects.get(`${PREFIX}dt=2025-05-09.bin`)?.body;
    expect(
      Buffer.from(stored ?? [])
        .subarray(0, 4)
        .toString(),
    ).toBe('QLS1');

    const nextRun = new SeenIndex(store, PREFIX);
    expect(await nextRun.unseen([...many, f('new')], id, day)).toEqual([f('new')]);
    expect(await nextRun.unalerted([f('id-7')], id, day)).toEqual([
      { record: f('id-7'), curatedKey: 'curated/x/id-7.json.gz' },
    ]);
  });
});
