import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import jsonata from 'jsonata';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CURATED_DATASETS } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION } from '../../functions/core/subscription';
import { compactedTable, IDENTITY, lookbackDays, readingViews, unionView } from '../../lib/athena/compaction';
import { toDuckDbSql } from '../../lib/athena/dialect';
import { NAMED_QUERIES } from '../../lib/athena/queries';
import { TABLES, type TableDef } from '../../lib/athena/tables';
import { parseConfig } from '../../lib/config';
import { lateDataReach, PLAN_MERGES } from '../../lib/constructs/compaction';
import { type LocalCompaction, openLocalCompaction } from '../../tools/local-lake/compaction';
import { type Simulator, startSimulator } from '../simulator/index';
import { lambdaContext, loadHandler } from '../support/invoke';
import {
  connectLocalAws,
  getBytes,
  type Lake,
  type LocalAws,
  lambdaEnv,
  listKeys,
  WHOLE_LAKE_SETTINGS,
} from '../support/local-aws';

/**
 * The compaction's SQL proven on a lake the real collectors wrote: the built bundles run against
 * the Qualys simulator and fauxqs, curated/ is copied to a folder as the bucket holds it (under
 * `subscription=default/`, where the S3 store places a subscription's keys), and DuckDB runs the
 * Athena MERGE and view of lib/athena/compaction.ts, translated, with a DuckDB table standing in for
 * each Iceberg table. The MERGEs run as the state machine plans them (its JSONata, evaluated): a
 * catch-up of every day, then scheduled runs, before and after more data lands.
 */

const DAY = 86_400_000;

let aws: LocalAws;
let sim: Simulator;
let lake: Lake;
let secretId: string;
let lakeDir: string;
let local: LocalCompaction;

const config = parseConfig((key) => (key === 'qualysSecretName' ? 'q' : undefined));
const lookbacks = TABLES.map((table) => ({
  table: table.name,
  lookbackDays: lookbackDays(table.name, lateDataReach(config), config.compaction.everyHours),
}));

const invoke = async (name: Parameters<typeof loadHandler>[0], event: unknown = {}) =>
  (await loadHandler(name, lambdaEnv(aws, lake, secretId, WHOLE_LAKE_SETTINGS)))(event, lambdaContext());

/** Copies curated/ to the folder as the bucket holds it (under the subscription's level). */
async function mirrorCurated(): Promise<void> {
  for (const key of await listKeys(aws, lake.bucket, 'curated/')) {
    const file = path.join(lakeDir, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await getBytes(aws, lake.bucket, key));
  }
  await local.refresh();
}

/** One run of the machine: its plan for `input` at `now`, each item's MERGE in DuckDB. */
async function compact(input: object, now = new Date().toISOString()): Promise<number> {
  const items = (await jsonata(PLAN_MERGES).evaluate(
    {},
    { states: { input, context: { Execution: { StartTime: now } } }, tables: lookbacks },
  )) as Array<{ table: string; fromDay: string; toDay: string }>;
  for (const item of items) {
    await local.merge(
      TABLES.find((table) => table.name === item.table) as TableDef,
      item.fromDay,
      item.toDay,
    );
  }
  return items.length;
}

const count = async (from: string) =>
  Number((await local.lake.sql(`SELECT count(*) AS n FROM ${from}`))[0]?.n);

/** Each row's identity and partition, as text, sorted: the set the compaction must keep exactly. */
async function identities(table: TableDef, from: string): Promise<string[]> {
  const columns = ['subscription', 'dt', ...IDENTITY[table.name]]
    .map(
      (name) =>
        `CAST(${name
          .split('.')
          .map((part) => `"${part}"`)
          .join('.')} AS VARCHAR)`,
    )
    .join(', ');
  const rows = await local.lake.sql(`SELECT to_json([${columns}]) AS id FROM ${from}`);
  return rows.map((row) => String(row.id)).sort();
}

/** Every table: the compacted table holds each landing row once, by its identity; none lost. */
async function expectCompactedEqualsLanding(): Promise<void> {
  for (const table of TABLES) {
    const landing = await identities(table, table.name);
    expect(new Set(landing).size, `${table.name}: the identity is unique in the landing zone`).toBe(
      landing.length,
    );
    expect(await identities(table, compactedTable(table.name)), table.name).toEqual(landing);
    expect(await count(compactedTable(table.name)), table.name).toBe(await count(table.name));
  }
}

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
  sim = await startSimulator({ cdr: { historyHours: 12 * 24 }, sdr: { reportSizeBytes: 20_000 } });
  lake = await aws.createLake('compaction');
  secretId = aws.secrets.put(
    `qualys-${lake.bucket}`,
    JSON.stringify({ baseUrl: sim.url, username: 'qualys-lake-demo', password: 'demo-password' }),
  );
  // CDR: the last 24 h, and a window 10 days ago (older than every lookback).
  await invoke('cdr-findings');
  const now = Date.now();
  await invoke('cdr-findings', {
    startAt: new Date(now - 10 * DAY).toISOString(),
    endAt: new Date(now - 9 * DAY).toISOString(),
  });
  await invoke('sdr-posture');
  await invoke('sdr-inventory');
  await invoke('sdr-reports');
  lakeDir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-compaction-'));
  local = await openLocalCompaction(lakeDir);
  await mirrorCurated();
}, 300_000);

afterAll(async () => {
  local?.close();
  await sim?.close();
  await aws?.close();
  if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
});

/** A row as text with its keys (nested ones too) sorted: the views list subscription before dt. */
function canonical(value: unknown): string {
  const sorted = (item: unknown): unknown =>
    Array.isArray(item)
      ? item.map(sorted)
      : item !== null && typeof item === 'object'
        ? Object.fromEntries(
            Object.entries(item)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([key, inner]) => [key, sorted(inner)]),
          )
        : item;
  return JSON.stringify(sorted(value));
}

/** Each table's view, with the lookback the stack computes. */
async function createViews(): Promise<void> {
  for (const table of TABLES) {
    await local.createView(table, lookbacks.find((item) => item.table === table.name)?.lookbackDays ?? 0);
  }
}

describe('the compaction, on a lake the collectors wrote', () => {
  it('compacts every day of every table on a catch-up, each row once, and a rerun inserts nothing', async () => {
    for (const table of [
      CURATED_DATASETS.cdrFindings,
      CURATED_DATASETS.sdrPosture,
      CURATED_DATASETS.sdrUsers,
    ]) {
      expect(await count(table), `${table} has landing rows`).toBeGreaterThan(0);
    }
    const firstDay = new Date(Date.now() - 12 * DAY).toISOString().slice(0, 10);
    expect(await compact({ fromDay: firstDay })).toBeGreaterThan(TABLES.length);
    await expectCompactedEqualsLanding();
    // Again, and a scheduled run over the lookbacks: nothing more.
    await compact({ fromDay: firstDay });
    expect(await compact({})).toBe(TABLES.length);
    await expectCompactedEqualsLanding();
  });

  it('takes in what lands later, in today and in older days of the lookback, still each row once', async () => {
    const before = await count(compactedTable(CURATED_DATASETS.cdrFindings));
    // Late CDR data on the first day of the CDR lookback (four days back), where the view switches.
    const boundary = Math.floor(Date.now() / DAY) * DAY - 4 * DAY;
    await invoke('cdr-findings', {
      startAt: new Date(boundary).toISOString(),
      endAt: new Date(boundary + 18 * 3_600_000).toISOString(),
    });
    await invoke('sdr-posture');
    await invoke('sdr-inventory');
    await mirrorCurated();
    expect(
      await count(
        `${CURATED_DATASETS.cdrFindings} WHERE dt = '${new Date(boundary).toISOString().slice(0, 10)}'`,
      ),
    ).toBeGreaterThan(0);
    // A control without resources: its row's resourceId is null (part of its identity).
    const [posture] = await local.lake.sql(`SELECT * FROM ${CURATED_DATASETS.sdrPosture} LIMIT 1`);
    const withoutResource = { ...posture, cid: 'control-without-resources', resourceId: null };
    const file = path.join(
      lakeDir,
      'curated',
      'sdr_posture',
      `subscription=${DEFAULT_SUBSCRIPTION}`,
      `dt=${posture?.dt}`,
      'no-resource.json.gz',
    );
    delete (withoutResource as Record<string, unknown>).subscription;
    delete (withoutResource as Record<string, unknown>).dt;
    await writeFile(file, gzipSync(`${JSON.stringify(withoutResource)}\n`));
    await local.refresh();
    expect(await count(CURATED_DATASETS.cdrFindings)).toBeGreaterThan(before);
    await compact({});
    await expectCompactedEqualsLanding();
    await compact({});
    await expectCompactedEqualsLanding();
  });

  it('reads through the views exactly the landing rows: closed days compacted, recent days landing', async () => {
    await createViews();
    for (const table of TABLES) {
      const rows = async (from: string) =>
        (await local.lake.sql(`SELECT * FROM ${from}`)).map(canonical).sort();
      const [viewed, landed] = [await rows(unionView(table.name)), await rows(table.name)];
      expect(viewed, table.name).toEqual(landed);
    }
    // The view switches at the lookback: days before it come from the compacted table alone.
    const cdrOld = await local.lake.sql(
      `SELECT count(*) AS n FROM ${unionView(CURATED_DATASETS.cdrFindings)} WHERE dt < CAST(CAST(current_date - INTERVAL '4' DAY AS DATE) AS VARCHAR)`,
    );
    expect(Number(cdrOld[0]?.n)).toBeGreaterThan(0);
  });

  it('answers every named query through the views as through the landing tables', async () => {
    await createViews();
    for (const query of NAMED_QUERIES) {
      const values = query.parameters.map((parameter) => parameter.example);
      const viaViews = readingViews(query.sql);
      expect(viaViews, query.name).toContain('_all');
      // The same rows (the latest-snapshot queries have no ORDER BY, so their order is DuckDB's).
      const answer = async (sql: string) =>
        (await local.lake.sql(toDuckDbSql(sql), values)).map(canonical).sort();
      expect(await answer(viaViews), query.name).toEqual(await answer(query.sql));
    }
  });
});
