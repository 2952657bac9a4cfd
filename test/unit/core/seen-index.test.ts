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

describe('SeenIndex', () => {
  it('lets every id through before anything is indexed', async () => {
    const index = new SeenIndex(new MemoryStore(), PREFIX);
    const batch = [f('a'), f('b'), f('c', '2025-05-10')];
    expect(await index.unseen(batch, id, day)).toEqual(batch);
  });

  it('filters out ids already added', async () => {
    const index = new SeenIndex(new MemoryStore(), PREFIX);
    await index.add([f('a'), f('b')], id, day);

    expect(await index.unseen([f('a'), f('c'), f('b')], id, day)).toEqual([f('c')]);
  });

  it('remembers across a fresh instance reading the same store (the next run)', async () => {
    const store = new MemoryStore();
    await new SeenIndex(store, PREFIX).add([f('a'), f('b', '2025-05-10')], id, day);

    const nextRun = new SeenIndex(store, PREFIX);
    expect(await nextRun.unseen([f('a'), f('b', '2025-05-10'), f('c')], id, day)).toEqual([f('c')]);
    expect([...store.objects.keys()].sort()).toEqual([
      `${PREFIX}dt=2025-05-09.json.gz`,
      `${PREFIX}dt=2025-05-10.json.gz`,
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
    await new SeenIndex(store, PREFIX).add([f('a')], id, day);
    await new SeenIndex(store, PREFIX).add([f('b')], id, day);

    expect(await new SeenIndex(store, PREFIX).unseen([f('a'), f('b'), f('c')], id, day)).toEqual([f('c')]);
  });

  it('does not rewrite a day object when nothing new was added', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX);
    await index.add([f('a')], id, day);
    const writes = store.writes.length;
    await index.add([f('a')], id, day);
    expect(store.writes).toHaveLength(writes);
  });

  it('stays correct when more days are touched than it keeps in memory', async () => {
    const store = new MemoryStore();
    const index = new SeenIndex(store, PREFIX, 2);
    const days = ['2025-05-01', '2025-05-02', '2025-05-03', '2025-05-04', '2025-05-05'];
    await index.add(
      days.map((d) => f(`id-${d}`, d)),
      id,
      day,
    );
    const again = days.map((d) => f(`id-${d}`, d));
    expect(await index.unseen([...again, f('new', '2025-05-01')], id, day)).toEqual([f('new', '2025-05-01')]);
  });

  it('keeps records curated without their alert, with where they are, until a later run alerts them', async () => {
    const store = new MemoryStore();
    const backfill = new SeenIndex(store, PREFIX);
    const a = f('a');
    const b = f('b', '2025-05-10');
    await backfill.add([a, b, f('c')], id, day, {
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
    await scheduled.add([], id, day, { alerted: [f('a')] });

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
});
