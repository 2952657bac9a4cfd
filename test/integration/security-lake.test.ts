import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect } from 'vitest';
import { S3Store } from '../../functions/aws/s3-store';
import type { ObjectStore } from '../../functions/core/ports';
import { ScopedStore } from '../../functions/core/scoped-store';
import { scopeKey } from '../../functions/core/subscription';
import { checkpointKey, readCheckpoint } from '../../functions/security-lake/batch';
import type { SecurityLakeTarget } from '../../functions/security-lake/manifest';
import { DEFAULT_LIMITS, runSecurityLake } from '../../functions/security-lake/run';
import { collectorTest } from '../support/fixtures';
import { lambdaContext } from '../support/invoke';
import { getBytes, listKeys } from '../support/local-aws';
import { readParquet } from '../support/parquet-read';

/**
 * The built cdr-findings bundle lands curated findings from the Qualys simulator in fauxqs; the
 * Security Lake writer turns them into Parquet in a second bucket standing for the Security Lake
 * bucket (fauxqs has no STS: the provider role's store is the plain S3 client here; the AssumeRole
 * path is test/unit/security-lake/provider-role.test.ts). DuckDB reads the files back.
 */
const test = collectorTest('cdr-findings', {
  CDR_PAGE_SIZE: '25',
  CDR_LAG_MINUTES: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  ALERT_MAX_PER_RUN: '1000',
});

const SUBSCRIPTION = 'default';
const PREFIX = 'ext/qualys-cdr/';

describe('Security Lake writer', () => {
  test('writes every curated finding once as Detection Findings in the partition layout, and a retried batch leaves one copy of each file', async ({
    aws,
    lake,
    handlerWith,
  }) => {
    await (await handlerWith())({}, lambdaContext());
    // The writer's own buckets: an archive holding the collector's curated objects at the
    // subscription's keys, as the collectors place them, and Security Lake.
    const archiveBucket = `${lake.bucket}-archive`;
    const securityLakeBucket = `${lake.bucket}-securitylake`;
    for (const bucket of [archiveBucket, securityLakeBucket]) {
      await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    }
    const curatedKeys = await lake.keys('curated/cdr_findings/');
    const uuids: string[] = [];
    const times = new Map<string, number>();
    const archive = new S3Store(aws.s3, archiveBucket);
    for (const key of curatedKeys) {
      await archive.put(scopeKey(key, SUBSCRIPTION), await lake.bytes(key), {
        contentType: 'application/x-ndjson',
      });
    }
    for (const record of await lake.records<{ uuid: string; timestamp: string }>('curated/cdr_findings/')) {
      uuids.push(record.uuid);
      times.set(record.uuid, Date.parse(record.timestamp));
    }
    expect(uuids.length).toBeGreaterThan(25);

    const target: SecurityLakeTarget = {
      region: 'eu-west-1',
      accountId: '111122223333',
      sources: {
        detectionFinding: {
          bucket: securityLakeBucket,
          prefix: PREFIX,
          roleArn: 'arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-qualys-cdr-eu-west-1',
          externalId: 'x-1',
        },
      },
    };
    const run = (store: ObjectStore) =>
      runSecurityLake({
        archive: store,
        destination: async () => new S3Store(aws.s3, securityLakeBucket),
        target,
        subscription: SUBSCRIPTION,
        lookbackDays: 3,
        limits: DEFAULT_LIMITS,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        deadline: Date.now() + 60_000,
        maxBatchesPerClass: 5,
      });

    // First run: the files are written, then moving the checkpoint fails.
    const checkpoint = scopeKey(checkpointKey('detectionFinding'), SUBSCRIPTION);
    let checkpointSaves = 0;
    const failingMove: ObjectStore = {
      ...bind(archive),
      async put(key, body, options) {
        if (key === checkpoint && ++checkpointSaves === 2) throw new Error('checkpoint not moved');
        return archive.put(key, body, options);
      },
    };
    await expect(run(failingMove)).rejects.toThrow(/checkpoint not moved/);
    expect(
      (await readCheckpoint(new ScopedStore(archive, SUBSCRIPTION), 'detectionFinding')).pending?.keys,
    ).toHaveLength(curatedKeys.length);
    const afterFailure = await listKeys(aws, securityLakeBucket);

    const retried = await run(archive);

    expect(retried.detectionFinding).toMatchObject({ batches: 1, resumed: 1, records: uuids.length });
    const keys = await listKeys(aws, securityLakeBucket);
    expect(keys).toEqual(afterFailure);
    for (const key of keys) {
      expect(key).toMatch(
        /^ext\/qualys-cdr\/region=eu-west-1\/accountId=111122223333\/eventDay=\d{8}\/qualys-lake-default-[0-9a-f]{20}\.zstd\.parquet$/,
      );
    }
    expect(new Set(keys.map((key) => /eventDay=(\d{8})/.exec(key)?.[1])).size).toBe(keys.length);
    expect((await run(archive)).detectionFinding).toMatchObject({ batches: 0 });

    const files = new Map<string, Uint8Array>();
    for (const key of keys) files.set(key, await getBytes(aws, securityLakeBucket, key));
    await readParquet(files, async (read) => {
      const perFile = await read.rows(
        'SELECT filename, list(DISTINCT class_uid) AS classes FROM files GROUP BY filename',
      );
      expect(perFile.map((row) => row.classes)).toEqual(keys.map(() => [2004]));
      expect(new Set((await read.metadata()).map((chunk) => chunk.compression))).toEqual(new Set(['ZSTD']));
      const rows = await read.rows('SELECT finding_info.uid AS uid, time, filename FROM files');
      expect(rows.map((row) => row.uid).sort()).toEqual([...uuids].sort());
      for (const row of rows) {
        expect(Number(row.time), String(row.uid)).toBe(times.get(String(row.uid)));
      }
    });
    // Each file sits in the eventDay of its events' time.
    for (const key of keys) {
      const day = /eventDay=(\d{8})/.exec(key)?.[1];
      const dayRows = await readParquet(new Map([[key, files.get(key) as Uint8Array]]), (read) =>
        read.rows('SELECT time FROM files'),
      );
      for (const { time } of dayRows) {
        expect(new Date(Number(time)).toISOString().slice(0, 10).replace(/-/g, '')).toBe(day);
      }
    }
  });
});

/** The store's methods bound to it, to wrap one of them. */
function bind(store: ObjectStore): ObjectStore {
  return {
    put: store.put.bind(store),
    get: store.get.bind(store),
    exists: store.exists.bind(store),
    upload: store.upload.bind(store),
    list: store.list.bind(store),
    delete: store.delete.bind(store),
  };
}
