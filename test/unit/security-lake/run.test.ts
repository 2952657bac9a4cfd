import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../functions/core/ports';
import { toNdjsonGzip } from '../../../functions/core/records';
import { ScopedStore } from '../../../functions/core/scoped-store';
import { scopeKey } from '../../../functions/core/subscription';
import { type ClassCheckpoint, checkpointKey, readCheckpoint } from '../../../functions/security-lake/batch';
import type { SecurityLakeTarget } from '../../../functions/security-lake/manifest';
import { DEFAULT_LIMITS, runSecurityLake, type SecurityLakeRun } from '../../../functions/security-lake/run';
import { MemoryStore } from '../../support/memory-store';
import { readParquet } from '../../support/parquet-read';
import { cdrFinding } from '../ocsf/samples';

const SUBSCRIPTION = 'acme';
const NOW = new Date('2025-05-10T12:00:00Z');
const TARGET: SecurityLakeTarget = {
  region: 'eu-west-1',
  accountId: '111122223333',
  sources: {
    detectionFinding: {
      bucket: 'aws-security-data-lake-eu-west-1-abc',
      prefix: 'ext/qualys-cdr/',
      roleArn: 'arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-qualys-cdr-eu-west-1',
      externalId: 'ext-id',
    },
  },
};
const PARTITION = 'ext/qualys-cdr/region=eu-west-1/accountId=111122223333/';

/** A curated cdr_findings object of `dt` holding findings with these uuids at these times. */
function landCdr(archive: MemoryStore, dt: string, name: string, findings: Array<[string, string]>) {
  const key = scopeKey(`curated/cdr_findings/dt=${dt}/${name}.json.gz`, SUBSCRIPTION);
  const records = findings.map(([uuid, timestamp]) => cdrFinding({ uuid, timestamp }));
  return archive.put(key, toNdjsonGzip(records), { contentType: 'application/x-ndjson' });
}

/** `count` curated objects `p<i>` of `dt`, each holding one finding `u<i>` at hour i. */
async function landOneEach(archive: MemoryStore, dt: string, count: number) {
  for (let index = 0; index < count; index++) {
    await landCdr(archive, dt, `p${index}`, [[`u${index}`, `${dt}T0${index}:00:00Z`]]);
  }
}

function setup(options: Partial<SecurityLakeRun> = {}) {
  const archive = new MemoryStore();
  const lake = new MemoryStore();
  const assumed: string[] = [];
  const run = (overrides: Partial<SecurityLakeRun> = {}) =>
    runSecurityLake({
      archive,
      async destination(_name, source) {
        assumed.push(source.roleArn);
        return lake;
      },
      target: TARGET,
      subscription: SUBSCRIPTION,
      lookbackDays: 3,
      limits: DEFAULT_LIMITS,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      deadline: Number.POSITIVE_INFINITY,
      maxBatchesPerClass: 20,
      now: () => NOW,
      ...options,
      ...overrides,
    });
  return { archive, lake, assumed, run };
}

const checkpointOf = (archive: ObjectStore) =>
  readCheckpoint(new ScopedStore(archive, SUBSCRIPTION), 'detectionFinding');
/** The checkpoint's key in the bucket. */
const CHECKPOINT = scopeKey(checkpointKey('detectionFinding'), SUBSCRIPTION);
const lakeKeys = (lake: MemoryStore) => [...lake.objects.keys()].sort();

/** Every row's finding uid across the lake's files, with the file each came from. */
async function uidsIn(lake: MemoryStore): Promise<string[]> {
  const files = new Map([...lake.objects].map(([key, { body }]) => [key, body]));
  if (files.size === 0) return [];
  return readParquet(files, async (read) =>
    (await read.rows('SELECT finding_info.uid AS uid FROM files')).map((row) => String(row.uid)),
  );
}

describe('Security Lake batches', () => {
  it('writes one file per eventDay under the partition path, checkpoints the objects, and writes nothing new next run', async () => {
    const { archive, lake, assumed, run } = setup();
    await landCdr(archive, '2025-05-09', 'a', [
      ['u1', '2025-05-09T23:59:00Z'],
      ['u2', '2025-05-10T00:01:00Z'],
    ]);
    await landCdr(archive, '2025-05-10', 'b', [['u3', '2025-05-10T08:00:00Z']]);

    const first = await run();

    const keys = lakeKeys(lake);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      new RegExp(`^${PARTITION}eventDay=20250509/qualys-lake-acme-[0-9a-f]{20}\\.zstd\\.parquet$`),
    );
    expect(keys[1]).toMatch(new RegExp(`^${PARTITION}eventDay=20250510/`));
    expect((await uidsIn(lake)).sort()).toEqual(['u1', 'u2', 'u3']);
    expect(first.detectionFinding).toMatchObject({ batches: 1, objects: 2, records: 3, rejected: 0 });
    expect(assumed).toEqual([TARGET.sources.detectionFinding?.roleArn]);
    const checkpoint = await checkpointOf(archive);
    expect(checkpoint.pending).toBeUndefined();
    expect(checkpoint.written).toEqual({ '2025-05-09': ['a.json.gz'], '2025-05-10': ['b.json.gz'] });

    const second = await run();
    expect(second.detectionFinding).toMatchObject({ batches: 0, files: [] });
    expect(lake.writes).toHaveLength(2);
  });

  it('takes only the objects landed since the last batch', async () => {
    const { archive, lake, run } = setup();
    await landCdr(archive, '2025-05-10', 'a', [['u1', '2025-05-10T01:00:00Z']]);
    await run();
    await landCdr(archive, '2025-05-10', 'b', [['u2', '2025-05-10T02:00:00Z']]);

    const second = await run();

    expect(second.detectionFinding).toMatchObject({ batches: 1, objects: 1, records: 1 });
    expect(lakeKeys(lake)).toHaveLength(2);
    expect((await uidsIn(lake)).sort()).toEqual(['u1', 'u2']);
  });

  it('a batch that failed after its checkpoint is written again with the same keys and rows: one copy of each file', async () => {
    const { archive, lake, run } = setup();
    await landCdr(archive, '2025-05-09', 'a', [['u1', '2025-05-09T10:00:00Z']]);
    await landCdr(archive, '2025-05-10', 'b', [['u2', '2025-05-10T10:00:00Z']]);
    // The second file of the batch fails: the first is in Security Lake, the checkpoint pending.
    let puts = 0;
    lake.failOnce(() => ++puts === 2);

    await expect(run()).rejects.toThrow(/detectionFinding: simulated S3 write failure/);
    const pending = (await checkpointOf(archive)).pending;
    expect(pending?.keys).toHaveLength(2);
    const firstFile = lakeKeys(lake);
    expect(firstFile).toHaveLength(1);
    // A new object lands meanwhile: it is not part of the retried batch.
    await landCdr(archive, '2025-05-10', 'c', [['u3', '2025-05-10T11:00:00Z']]);

    const retried = await run();

    expect(retried.detectionFinding).toMatchObject({ batches: 2, resumed: 1 });
    const keys = lakeKeys(lake);
    expect(keys).toHaveLength(3);
    expect(keys).toEqual(expect.arrayContaining(firstFile));
    expect(keys.filter((key) => key.includes(pending?.id ?? '?'))).toHaveLength(2);
    expect((await uidsIn(lake)).sort()).toEqual(['u1', 'u2', 'u3']);
    expect((await checkpointOf(archive)).pending).toBeUndefined();
  });

  it('a batch whose files were all written but whose checkpoint did not move replaces its files, adding none', async () => {
    const { archive, lake, run } = setup();
    await landCdr(archive, '2025-05-10', 'a', [['u1', '2025-05-10T10:00:00Z']]);
    const key = CHECKPOINT;
    let saves = 0;
    archive.failOnce((written) => written === key && ++saves === 2, new Error('checkpoint lost'));

    await expect(run()).rejects.toThrow(/checkpoint lost/);
    const before = lakeKeys(lake);
    const bytes = lake.objects.get(before[0] ?? '')?.body;

    await run();

    expect(lakeKeys(lake)).toEqual(before);
    expect(lake.writes).toEqual([...before, ...before]);
    expect(lake.objects.get(before[0] ?? '')?.body).toEqual(bytes);
    expect(await uidsIn(lake)).toEqual(['u1']);
  });

  it('resumes a pending batch recorded with keys in the bucket, as the first version of the writer did', async () => {
    const { archive, lake, run } = setup();
    await landCdr(archive, '2025-05-10', 'a', [['u1', '2025-05-10T10:00:00Z']]);
    const pending: ClassCheckpoint = {
      version: 1,
      written: {},
      pending: {
        id: 'firstversion00000000',
        keys: [scopeKey('curated/cdr_findings/dt=2025-05-10/a.json.gz', SUBSCRIPTION)],
      },
    };
    await archive.put(CHECKPOINT, JSON.stringify(pending), { contentType: 'application/json' });

    const summary = await run();

    expect(summary.detectionFinding).toMatchObject({ batches: 1, resumed: 1, objects: 1, records: 1 });
    expect(lakeKeys(lake)).toEqual([
      `${PARTITION}eventDay=20250510/qualys-lake-acme-firstversion00000000.zstd.parquet`,
    ]);
    expect(await uidsIn(lake)).toEqual(['u1']);
    expect(await checkpointOf(archive)).toMatchObject({ written: { '2025-05-10': ['a.json.gz'] } });
    expect((await run()).detectionFinding?.batches).toBe(0);
  });

  it('splits a backlog into batches at the record limit, each record once', async () => {
    const { archive, lake, run } = setup({ limits: { maxRecords: 2, maxObjects: 100 } });
    await landOneEach(archive, '2025-05-10', 5);

    const summary = await run();

    expect(summary.detectionFinding?.batches).toBe(3);
    expect(lakeKeys(lake)).toHaveLength(3);
    expect((await uidsIn(lake)).sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });

  it('lists the lookback once for all the batches of a catch-up', async () => {
    const { archive, run } = setup({ limits: { maxRecords: 1, maxObjects: 100 } });
    await landOneEach(archive, '2025-05-09', 4);
    const listed: string[] = [];
    const list = archive.list.bind(archive);
    archive.list = (prefix: string) => {
      listed.push(prefix);
      return list(prefix);
    };

    const summary = await run();

    expect(summary.detectionFinding?.batches).toBe(4);
    // The lookback of 3 days and tomorrow: each partition listed once in the run.
    expect(listed).toHaveLength(4);
    expect(new Set(listed).size).toBe(4);
  });

  it.each([
    { maxObjects: 2, case: 'beside other objects' },
    { maxObjects: 1, case: 'alone in its batch' },
  ])(
    'reads an object deleted after the listing once and goes on past it ($case); a later run writes it once it is back',
    async ({ maxObjects }) => {
      const { archive, lake, run } = setup({ limits: { maxRecords: 1, maxObjects } });
      await landOneEach(archive, '2025-05-09', 3);
      const gone = scopeKey('curated/cdr_findings/dt=2025-05-09/p0.json.gz', SUBSCRIPTION);
      const kept = archive.objects.get(gone);
      // Listed, then deleted (an operator, a lifecycle rule) before its batch reads it.
      const list = archive.list.bind(archive);
      archive.list = async function* (prefix: string) {
        yield* list(prefix);
        if (gone.startsWith(prefix)) archive.objects.delete(gone);
      };
      const reads: string[] = [];
      const get = archive.get.bind(archive);
      archive.get = (key: string) => {
        reads.push(key);
        return get(key);
      };

      const summary = await run();

      expect(reads.filter((key) => key === gone)).toHaveLength(1);
      expect((await uidsIn(lake)).sort()).toEqual(['u1', 'u2']);
      expect(summary.detectionFinding).toMatchObject({ batches: 2, objects: 2 });
      // Not recorded as written: it was not.
      expect((await checkpointOf(archive)).written['2025-05-09']?.sort()).toEqual([
        'p1.json.gz',
        'p2.json.gz',
      ]);

      archive.list = list;
      if (kept) archive.objects.set(gone, kept);
      const later = await run();

      expect(later.detectionFinding).toMatchObject({ batches: 1, objects: 1 });
      expect((await uidsIn(lake)).sort()).toEqual(['u0', 'u1', 'u2']);
    },
  );

  it('sets aside a record the mapping refuses, with the reason, and writes the rest', async () => {
    const { archive, lake, run } = setup();
    await landCdr(archive, '2025-05-10', 'a', [
      ['u1', '2025-05-10T10:00:00Z'],
      ['u2', 'not a time'],
    ]);

    const summary = await run();

    expect(summary.detectionFinding).toMatchObject({ records: 1, rejected: 1 });
    expect(await uidsIn(lake)).toEqual(['u1']);
    const rejected = [...archive.objects.keys()].filter((key) => key.includes('/rejected/'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/^state\/security-lake\/subscription=acme\/detectionFinding\/rejected\//);
    expect(archive.text(rejected[0] ?? '')).toContain('CDR finding u2: timestamp');
  });

  it('looks only through the lookback, and forgets partitions once they leave it', async () => {
    const { archive, lake, run } = setup({ lookbackDays: 2 });
    await landCdr(archive, '2025-05-08', 'old', [['u0', '2025-05-08T10:00:00Z']]);
    await landCdr(archive, '2025-05-09', 'a', [['u1', '2025-05-09T10:00:00Z']]);
    const stale: ClassCheckpoint = { version: 1, written: { '2025-05-01': ['gone.json.gz'] } };
    await archive.put(CHECKPOINT, JSON.stringify(stale), {
      contentType: 'application/json',
    });

    await run();

    expect(await uidsIn(lake)).toEqual(['u1']);
    expect((await checkpointOf(archive)).written).toEqual({ '2025-05-09': ['a.json.gz'] });
  });

  it('reads only its subscription: another subscription’s curated objects are not written', async () => {
    const { archive, lake, run } = setup();
    await archive.put(
      scopeKey('curated/cdr_findings/dt=2025-05-10/x.json.gz', 'other'),
      toNdjsonGzip([cdrFinding({ uuid: 'theirs', timestamp: '2025-05-10T10:00:00Z' })]),
      { contentType: 'application/x-ndjson' },
    );
    await landCdr(archive, '2025-05-10', 'a', [['ours', '2025-05-10T10:00:00Z']]);

    await run();

    expect(await uidsIn(lake)).toEqual(['ours']);
  });
});
