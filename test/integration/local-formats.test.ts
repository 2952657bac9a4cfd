import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  COMPACTED_DIR,
  type LocalFormats,
  SECURITY_LAKE_DIR,
  writeLocalFormats,
} from '../../bin/local-formats';
import { DEFAULT_SUBSCRIPTION } from '../../functions/core/subscription';
import { IDENTITY } from '../../lib/athena/compaction';
import { TABLES } from '../../lib/athena/tables';
import { type LocalLake, openLocalLake } from '../../tools/local-lake/duckdb';
import { LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_SOURCES } from '../../tools/local-lake/security-lake';
import { type Simulator, startSimulator } from '../simulator/index';
import { lambdaContext, loadHandler } from '../support/invoke';
import { connectLocalAws, type Lake, type LocalAws, lambdaEnv, mirrorBucket } from '../support/local-aws';
import { REQUIRED } from '../unit/ocsf/required-attributes';

/**
 * What `npm start` leaves in ./local-lake besides the mirror (bin/local-formats.ts, called as
 * bin/local-run.ts calls it): the built collector bundles fill a lake in fauxqs from the Qualys
 * simulator, the bucket is mirrored to a folder, then the Security Lake writer and the compaction
 * run. DuckDB reads back the OCSF files and the compacted Parquet.
 */

const settings: Record<string, string> = {
  CDR_PAGE_SIZE: '100',
  CDR_LAG_MINUTES: '0',
  SDR_PAGE_SIZE: '200',
  SDR_MAX_CALLS_PER_RUN: '1000',
  QUALYS_CALL_RESERVE: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '10000',
};

let aws: LocalAws;
let sim: Simulator;
let lake: Lake;
let lakeDir: string;
let formats: LocalFormats;
let duck: LocalLake;

const sqlPath = (name: string) =>
  name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const count = async (sql: string) => Number((await duck.sql(sql))[0]?.n);

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
  sim = await startSimulator({});
  lake = await aws.createLake('local-formats');
  const secretId = aws.secrets.put(
    `qualys-${lake.bucket}`,
    JSON.stringify({ baseUrl: sim.url, username: 'qualys-lake-demo', password: 'demo-password' }),
  );
  const env = lambdaEnv(aws, lake, secretId, settings);
  for (const name of ['cdr-findings', 'sdr-posture', 'sdr-inventory'] as const) {
    await (await loadHandler(name, env))({}, lambdaContext());
  }
  lakeDir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-formats-'));
  await mirrorBucket(aws, lake.bucket, lakeDir);
  formats = await writeLocalFormats({
    aws,
    bucket: lake.bucket,
    lakeDir,
    subscription: DEFAULT_SUBSCRIPTION,
  });
  duck = await openLocalLake(lakeDir);
}, 300_000);

afterAll(async () => {
  duck?.close();
  await sim?.close();
  await aws?.close();
  if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
});

describe('npm start: the OCSF files of the Security Lake writer', () => {
  const classes = [
    { name: 'detectionFinding', classUid: 2004, required: REQUIRED.detectionFinding, table: 'cdr_findings' },
    { name: 'complianceFinding', classUid: 2003, required: REQUIRED.complianceFinding, table: 'sdr_posture' },
    { name: 'userInventory', classUid: 5003, required: REQUIRED.userInventoryInfo, table: 'sdr_users' },
  ] as const;

  it.each(classes)(
    '$name: every curated row once, one class per file, every required attribute on every row',
    async ({ name, classUid, required, table }) => {
      const source = LOCAL_SOURCES[name];
      const files = formats.securityLakeFiles.filter((key) => key.startsWith(`ext/${source}/`));
      expect(files.length, `${name} wrote files`).toBeGreaterThan(0);
      for (const key of files) {
        expect(key).toMatch(
          new RegExp(
            `^ext/${source}/region=${LOCAL_REGION}/accountId=${LOCAL_ACCOUNT}/eventDay=\\d{8}/qualys-lake-default-[0-9a-f]{20}\\.zstd\\.parquet$`,
          ),
        );
      }
      const paths = files.map((key) => literal(path.join(lakeDir, SECURITY_LAKE_DIR, ...key.split('/'))));
      const from = `read_parquet([${paths.join(', ')}], filename = true)`;

      const perFile = await duck.sql(
        `SELECT list(DISTINCT class_uid) AS classes FROM ${from} GROUP BY filename`,
      );
      expect(perFile.map((row) => row.classes)).toEqual(files.map(() => [classUid]));
      const rows = await count(`SELECT count(*) AS n FROM ${from}`);
      expect(rows).toBe(await count(`SELECT count(*) AS n FROM ${table}`));
      expect(rows).toBe(formats.securityLake[name]?.records);

      const missing: Record<string, number> = {};
      for (const attribute of required) {
        const column = sqlPath(attribute.path);
        const empty =
          attribute.type === 'string[]'
            ? ` OR len(${column}) = 0`
            : attribute.type === 'string'
              ? ` OR ${column} = ''`
              : '';
        missing[attribute.path] = await count(
          `SELECT count(*) FILTER (WHERE ${column} IS NULL${empty}) AS n FROM ${from}`,
        );
      }
      expect(missing).toEqual(Object.fromEntries(required.map((attribute) => [attribute.path, 0])));
    },
  );
});

describe('npm start: the compacted layer', () => {
  /** Each row's partition and identity as text, sorted. */
  const identities = async (table: string, from: string) => {
    const columns = ['subscription', 'dt', ...IDENTITY[table as keyof typeof IDENTITY]]
      .map((name) => `CAST(${sqlPath(name)} AS VARCHAR)`)
      .join(', ');
    const rows = await duck.sql(`SELECT to_json([${columns}]) AS id FROM ${from}`);
    return rows.map((row) => String(row.id)).sort();
  };

  it('holds exactly the landing identities of every table, in ZSTD Parquet, one file per partition-day', async () => {
    let tablesWithRows = 0;
    for (const table of TABLES) {
      const landing = await identities(table.name, table.name);
      const written = formats.compacted.filter((partition) => partition.table === table.name);
      if (landing.length === 0) {
        expect(written, table.name).toEqual([]);
        continue;
      }
      tablesWithRows++;
      const glob = path.join(lakeDir, COMPACTED_DIR, table.name, '*', '*', '*.parquet');
      const compacted = await identities(
        table.name,
        `read_parquet(${literal(glob)}, hive_partitioning = true, hive_types = {'subscription': 'VARCHAR', 'dt': 'VARCHAR'})`,
      );
      expect(new Set(landing).size, `${table.name}: identities are unique in the landing zone`).toBe(
        landing.length,
      );
      expect(compacted, table.name).toEqual(landing);
      const days = await duck.sql(`SELECT DISTINCT subscription, dt FROM ${table.name} ORDER BY ALL`);
      expect(
        written.map((partition) => [partition.subscription, partition.dt, partition.files.length]),
        table.name,
      ).toEqual(days.map((day) => [day.subscription, day.dt, 1]));
      const codecs = await duck.sql(`SELECT DISTINCT compression FROM parquet_metadata(${literal(glob)})`);
      expect(
        codecs.map((row) => row.compression),
        table.name,
      ).toEqual(['ZSTD']);
    }
    expect(tablesWithRows).toBeGreaterThanOrEqual(3);
  });
});
