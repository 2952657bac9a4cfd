import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CURATED_DATASETS, type CuratedDataset, INVENTORY_DATASETS } from '../../functions/core/names';
import { fromNdjsonGzip } from '../../functions/core/records';
import { duckDbType, toDuckDbSql } from '../../lib/athena/dialect';
import { type HiveType, jsonValueMismatch, parseHiveType } from '../../lib/athena/hive-types';
import { latestQueryName, NAMED_QUERIES, namedQuery } from '../../lib/athena/queries';
import { TABLES } from '../../lib/athena/tables';
import { type LocalLake, openLocalLake, type Row } from '../../tools/local-lake/duckdb';
import type { Simulator } from '../simulator/index';
import { startSimulator } from '../simulator/index';
import { type Handler, lambdaContext, loadHandler } from '../support/invoke';
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
 * The Athena tables and named queries, proven without AWS: the built collector bundles run against
 * the Qualys simulator and fauxqs, the bucket's curated/ objects are copied to a folder, and DuckDB
 * reads them through the same column definitions and runs the same SQL (translated mechanically by
 * lib/athena/dialect.ts). Every expected answer is computed here from the records themselves.
 *
 * The lake holds, on purpose:
 * - CDR findings of the last 24 h, of a window 9-10 days ago and of two windows just outside and just
 *   inside the last 7 days, so the 7-day filters have something to leave out;
 * - three posture polls (9 days ago, 3 days ago, now) with resource results changed between them;
 * - two complete inventory snapshots with users, documents and applications changed between them, and
 *   a third snapshot still in progress that no latest-snapshot query may show;
 * - the report index.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.now();

let aws: LocalAws;
let sim: Simulator;
let lake: Lake;
let secretId: string;
let lakeDir: string;
let local: LocalLake;
/** Every curated record by table, with `dt` from its folder. */
const records = new Map<CuratedDataset, Row[]>();
const snapshots: string[] = [];
const polls: string[] = [];
let partialSnapshot = '';
const flipped: Record<
  'startedAtB' | 'recoveredAtB' | 'startedAtC' | 'failingSinceA',
  PostureItem | undefined
> = {
  startedAtB: undefined,
  recoveredAtB: undefined,
  startedAtC: undefined,
  failingSinceA: undefined,
};

interface PostureItem {
  connectorId: number;
  cid: string;
  resourceId: string;
}

const settings: Record<string, string> = { ...WHOLE_LAKE_SETTINGS, SDR_POSTURE_MIN_CRITICALITY: 'Critical' };

// loadHandler merges into process.env and never removes a key: every run pins what it changes.
const handler = (
  name: Parameters<typeof loadHandler>[0],
  extra: Record<string, string> = {},
): Promise<Handler> => loadHandler(name, lambdaEnv(aws, lake, secretId, { ...settings, ...extra }));

const invoke = async <T>(name: Parameters<typeof loadHandler>[0], event: unknown = {}, extra = {}) =>
  (await (
    await handler(name, extra)
  )(event, lambdaContext())) as T;

async function postureRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const key of await listKeys(aws, lake.bucket, 'curated/sdr_posture/')) {
    rows.push(...(fromNdjsonGzip(await getBytes(aws, lake.bucket, key)) as Row[]));
  }
  return rows;
}

/** One complete posture poll (it may take several runs). */
async function poll() {
  for (let run = 0; run < 20; run++) {
    const summary = await invoke<{ pollId?: string; pollComplete: boolean }>('sdr-posture');
    if (summary.pollComplete) {
      if (summary.pollId && !polls.includes(summary.pollId)) polls.push(summary.pollId);
      return;
    }
  }
  throw new Error('the posture poll did not complete in 20 runs');
}

const itemOf = (row: Row): PostureItem => ({
  connectorId: Number(row.connectorId),
  cid: String(row.cid),
  resourceId: String(row.resourceId),
});
const sameItem = (a: PostureItem, b: PostureItem | undefined) =>
  b !== undefined && a.connectorId === b.connectorId && a.cid === b.cid && a.resourceId === b.resourceId;

async function snapshot(extra: Record<string, string> = {}) {
  const summary = await invoke<{ snapshotId: string; completedSnapshot: boolean }>(
    'sdr-inventory',
    {},
    extra,
  );
  return summary;
}

/** Changes the tenant between two snapshots: what the change query must find. */
function changeTenant() {
  const sdr = sim.data.sdr;
  const removedUser = sdr.users.pop();
  const suspended = sdr.users[0];
  if (!removedUser || !suspended) throw new Error('the simulator has too few users');
  suspended.isSuspended = !suspended.isSuspended;
  const internal = sdr.documents.find((document) => document.accessType === 'Internal');
  if (!internal) throw new Error('no internal document');
  internal.accessType = 'External';
  internal.permissions.push({
    sourceId: 'perm-athena-test',
    documentId: internal.sourceId,
    linkedEntityType: 'User',
    role: 'reader',
    accessType: 'External',
    domain: 'example.net',
    email: 'outsider@example.net',
  });
  internal.externalPermissionsCount += 1;
  internal.externalDomains = [internal.externalDomains, 'example.net'].filter(Boolean).join(',');
  const app = sdr.applications[0];
  if (!app) throw new Error('no application');
  sdr.applications.push({ ...app, sourceId: `${app.sourceId}-copy`, name: `${app.name} (copy)`, users: [] });
}

async function mirrorCurated(): Promise<void> {
  for (const key of await listKeys(aws, lake.bucket, 'curated/')) {
    const file = path.join(lakeDir, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await getBytes(aws, lake.bucket, key));
  }
}

async function loadRecords(): Promise<void> {
  for (const table of TABLES) {
    const rows: Row[] = [];
    const tableDir = path.join(lakeDir, 'curated', table.name);
    for (const level of await readdir(tableDir).catch(() => [] as string[])) {
      const subscription = level.replace(/^subscription=/, '');
      const dir = path.join(tableDir, level);
      for (const folder of await readdir(dir)) {
        const dt = folder.replace(/^dt=/, '');
        for (const file of await readdir(path.join(dir, folder))) {
          const lines = fromNdjsonGzip(await readFile(path.join(dir, folder, file))) as Row[];
          rows.push(...lines.map((line) => ({ ...line, subscription, dt })));
        }
      }
    }
    records.set(table.name, rows);
  }
}

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
  sim = await startSimulator({
    cdr: { historyHours: 12 * 24 },
    sdr: { reportSizeBytes: 20_000, bigReportSizeBytes: 100_000 },
  });
  lake = await aws.createLake('athena');
  secretId = aws.secrets.put(
    `qualys-${lake.bucket}`,
    JSON.stringify({ baseUrl: sim.url, username: 'qualys-lake-demo', password: 'demo-password' }),
  );

  // Posture: poll A nine days ago, poll B three days ago, poll C now, with results changed between.
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(START - 9 * DAY);
    await poll();
    const pollA = await postureRows();
    const withResult = (result: string) =>
      pollA.filter((row) => row.resourceEvaluationResult === result && row.resourceId !== null).map(itemOf);
    const passing = withResult('Pass');
    const failingItems = withResult('Fail');
    flipped.startedAtB = passing[0];
    flipped.startedAtC = passing.find((item) => !sameItem(item, flipped.startedAtB));
    flipped.recoveredAtB = failingItems[0];
    flipped.failingSinceA = failingItems.find((item) => !sameItem(item, flipped.recoveredAtB));
    const { startedAtB, startedAtC, recoveredAtB } = flipped;
    if (!startedAtB || !startedAtC || !recoveredAtB || !flipped.failingSinceA) {
      throw new Error('poll A has too few passing or failing resources');
    }
    sim.control.setControlResult(startedAtB.connectorId, startedAtB.cid, startedAtB.resourceId, 'Fail');
    sim.control.setControlResult(recoveredAtB.connectorId, recoveredAtB.cid, recoveredAtB.resourceId, 'Pass');
    vi.setSystemTime(START - 3 * DAY);
    await poll();
    vi.useRealTimers();
    sim.control.setControlResult(startedAtC.connectorId, startedAtC.cid, startedAtC.resourceId, 'Fail');
    await poll();
  } finally {
    vi.useRealTimers();
  }

  // CDR: the last 24 h (first incremental run), plus windows just outside and just inside the 7 days.
  await invoke('cdr-findings');
  for (const [from, to] of [
    [10 * DAY, 9 * DAY],
    [7 * DAY + 3 * HOUR, 7 * DAY + HOUR],
    [7 * DAY - HOUR, 7 * DAY - 3 * HOUR],
  ] as const) {
    const now = Date.now();
    await invoke('cdr-findings', {
      startAt: new Date(now - from).toISOString(),
      endAt: new Date(now - to).toISOString(),
    });
  }

  await invoke('sdr-reports');

  // Inventory: two complete snapshots with changes between them, then one left in progress.
  const first = await snapshot();
  changeTenant();
  const second = await snapshot();
  expect([first.completedSnapshot, second.completedSnapshot]).toEqual([true, true]);
  snapshots.push(first.snapshotId, second.snapshotId);
  sim.data.sdr.users.pop();
  const partial = await snapshot({ SDR_MAX_CALLS_PER_RUN: '3' });
  expect(partial.completedSnapshot).toBe(false);
  partialSnapshot = partial.snapshotId;

  lakeDir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-athena-'));
  await mirrorCurated();
  await loadRecords();
  local = await openLocalLake(lakeDir);
}, 300_000);

afterAll(async () => {
  local?.close();
  await sim?.close();
  await aws?.close();
  if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers for expected answers

const rowsOf = (table: CuratedDataset): Row[] => records.get(table) ?? [];
const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
/** `dt` of N days ago, as the query computes it (UTC). */
const dayAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString().slice(0, 10);
const byKeys =
  <T extends Row>(...keys: Array<[keyof T & string, 'asc' | 'desc']>) =>
  (a: T, b: T) => {
    for (const [key, direction] of keys) {
      const x = a[key] as string | number;
      const y = b[key] as string | number;
      if (x !== y) return (x < y ? -1 : 1) * (direction === 'asc' ? 1 : -1);
    }
    return 0;
  };

function lastSevenDays(): Row[] {
  const cutoff = Date.now() - 7 * DAY;
  return rowsOf(CURATED_DATASETS.cdrFindings).filter(
    (row) => str(row.dt) >= dayAgo(7) && Date.parse(str(row.timestamp)) >= cutoff,
  );
}

function groupBy<K>(rows: Row[], keyOf: (row: Row) => K): Map<string, { key: K; rows: Row[] }> {
  const groups = new Map<string, { key: K; rows: Row[] }>();
  for (const row of rows) {
    const key = keyOf(row);
    const id = JSON.stringify(key);
    const group = groups.get(id) ?? { key, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  return groups;
}

const distinct = (values: unknown[]) =>
  new Set(values.filter((value) => value !== null && value !== undefined)).size;
const count = (rows: Row[], test: (row: Row) => boolean) => rows.filter(test).length;
const remote = (row: Row) =>
  (row.remoteIpDetails ?? {}) as { ipAddress?: string; country?: string; city?: string };

/** The newest complete snapshot, as sdr_snapshots says. */
const latestSnapshot = () =>
  rowsOf(CURATED_DATASETS.sdrSnapshots)
    .filter((row) => row.status === 'complete')
    .map((row) => String(row.snapshot_id))
    .sort()
    .at(-1);

/** What DuckDB returns for a JSON value read as `type` (the SerDe's reading, in DuckDB's JS form). */
function asRead(value: unknown, type: HiveType): unknown {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'primitive':
      return type.name === 'string' && typeof value !== 'string' ? String(value) : value;
    case 'array':
      return (value as unknown[]).map((item) => asRead(item, type.element));
    case 'map':
      return Object.entries(value as Record<string, unknown>).map(([key, item]) => ({
        key,
        value: asRead(item, type.value),
      }));
    case 'struct':
      return Object.fromEntries(
        type.fields.map((field) => [
          field.name,
          asRead((value as Record<string, unknown>)[field.name], field.type),
        ]),
      );
  }
}

// ---------------------------------------------------------------------------------------------

describe('the lake the collectors produced', () => {
  it('has records in every table (every collector ran), and the scenario it was built for', () => {
    for (const table of TABLES) expect(rowsOf(table.name).length, table.name).toBeGreaterThan(0);
    expect(polls).toHaveLength(3);
    expect(snapshots).toHaveLength(2);
    expect(
      rowsOf(CURATED_DATASETS.sdrConnectors).some((row) => row.lake_snapshot_id === partialSnapshot),
    ).toBe(true);
    expect(rowsOf(CURATED_DATASETS.cdrFindings).some((row) => str(row.dt) < dayAgo(8))).toBe(true);
  });
});

describe('schema drift: the Glue columns match the curated records', () => {
  it.each(TABLES.map((table) => [table.name, table] as const))(
    '%s: every field is a column (or listed as excluded), every column is in the records, every value fits its type',
    (name, table) => {
      const rows = rowsOf(name);
      const declared = new Map(table.columns.map((column) => [column.name, column]));
      const seen = new Set<string>();
      const problems = new Set<string>();
      for (const row of rows) {
        for (const [key, value] of Object.entries(row)) {
          if (key === 'dt' || key === 'subscription') continue;
          seen.add(key);
          const column = declared.get(key);
          if (!column) {
            if (!(key in table.excluded)) problems.add(`${key}: in the records but not a column`);
            continue;
          }
          const problem = jsonValueMismatch(value, parseHiveType(column.type), column.anyJson, key);
          if (problem) problems.add(problem);
        }
      }
      for (const column of table.columns) {
        if (!seen.has(column.name)) problems.add(`${column.name}: a column no record has`);
      }
      for (const key of Object.keys(table.excluded)) {
        if (declared.has(key)) problems.add(`${key}: both a column and excluded`);
      }
      expect([...problems]).toEqual([]);
    },
  );

  it.each(TABLES.map((table) => [table.name, table] as const))(
    '%s: DuckDB reads every record with the declared types, values unchanged',
    async (name, table) => {
      const rows = await local.sql(`SELECT * FROM ${name}`);
      const expected = rowsOf(name).map((record) => ({
        ...Object.fromEntries(
          table.columns.map((column) => [
            column.name,
            asRead(record[column.name], parseHiveType(column.type)),
          ]),
        ),
        subscription: record.subscription,
        dt: record.dt,
      }));
      const key = (row: Row) => JSON.stringify(row);
      expect(rows.map(key).sort()).toEqual(expected.map(key).sort());
    },
  );

  it('translates Hive types to DuckDB types', () => {
    expect(duckDbType('struct<id:bigint,type:string>')).toBe('STRUCT("id" BIGINT, "type" VARCHAR)');
    expect(duckDbType('array<struct<key:bigint,value:string>>')).toBe(
      'STRUCT("key" BIGINT, "value" VARCHAR)[]',
    );
    expect(duckDbType('map<string,struct<records:bigint>>')).toBe('MAP(VARCHAR, STRUCT("records" BIGINT))');
    expect(duckDbType('array<string>')).toBe('VARCHAR[]');
    expect(() => parseHiveType('timestamp')).toThrow(/unsupported type/);
  });
});

describe('named queries on the local lake', () => {
  it('every named query runs in DuckDB after the mechanical translation', async () => {
    for (const query of NAMED_QUERIES) {
      const rows = await local.runNamedQuery(
        query.name,
        query.parameters.map((parameter) => parameter.example),
      );
      expect(Array.isArray(rows), query.name).toBe(true);
    }
    expect(toDuckDbSql("dt >= CAST(current_date - INTERVAL '7' DAY AS varchar)")).toBe(
      "dt >= CAST(CAST(current_date - INTERVAL '7' DAY AS DATE) AS varchar)",
    );
  });

  it('cdr_high_critical_by_account_category: HIGH/CRITICAL findings of the last 7 days by account and category', async () => {
    const severe = lastSevenDays().filter((row) => Number(row.severity) >= 3);
    const expected = [
      ...groupBy(severe, (row) => [
        row.subscription,
        row.cloudType,
        row.cspAccount,
        row.threatCategory,
      ]).values(),
    ]
      .map(({ key: [subscription, cloud, account, category], rows }) => ({
        subscription,
        cloud_type: cloud,
        csp_account: account,
        threat_category: category,
        findings: rows.length,
        critical: count(rows, (row) => row.severity === 4),
        high: count(rows, (row) => row.severity === 3),
        resources: distinct(rows.map((row) => row.resourceId)),
        first_seen: rows.map((row) => str(row.timestamp)).sort()[0],
        last_seen: rows
          .map((row) => str(row.timestamp))
          .sort()
          .at(-1),
      }))
      .sort(
        byKeys(
          ['critical', 'desc'],
          ['findings', 'desc'],
          ['subscription', 'asc'],
          ['csp_account', 'asc'],
          ['threat_category', 'asc'],
        ),
      );
    expect(expected.length).toBeGreaterThan(3);
    // The old windows hold severe findings too: the 7-day filter is what leaves them out.
    expect(
      rowsOf(CURATED_DATASETS.cdrFindings).filter((row) => Number(row.severity) >= 3).length,
    ).toBeGreaterThan(severe.length);
    expect(await local.runNamedQuery('cdr_high_critical_by_account_category')).toEqual(expected);
  });

  it('cdr_top_remote_ips and cdr_top_remote_countries: the 25 busiest remote actors of the last 7 days', async () => {
    const recent = lastSevenDays();
    const ips = [
      ...groupBy(recent, (row) => [
        row.subscription,
        remote(row).ipAddress,
        remote(row).country,
        remote(row).city,
      ]).values(),
    ]
      .map(({ key: [subscription, ip, country, city], rows }) => ({
        subscription,
        remote_ip: ip,
        country,
        city,
        findings: rows.length,
        high_or_critical: count(rows, (row) => Number(row.severity) >= 3),
        accounts: distinct(rows.map((row) => row.cspAccount)),
        categories: distinct(rows.map((row) => row.threatCategory)),
        last_seen: rows
          .map((row) => str(row.timestamp))
          .sort()
          .at(-1),
      }))
      .sort(byKeys(['findings', 'desc'], ['remote_ip', 'asc'], ['country', 'asc'], ['city', 'asc']))
      .slice(0, 25);
    expect(await local.runNamedQuery('cdr_top_remote_ips')).toEqual(ips);

    const countries = [...groupBy(recent, (row) => [row.subscription, remote(row).country]).values()]
      .map(({ key: [subscription, country], rows }) => ({
        subscription,
        country,
        findings: rows.length,
        high_or_critical: count(rows, (row) => Number(row.severity) >= 3),
        remote_ips: distinct(rows.map((row) => remote(row).ipAddress)),
        accounts: distinct(rows.map((row) => row.cspAccount)),
      }))
      .sort(byKeys(['findings', 'desc'], ['country', 'asc']))
      .slice(0, 25);
    expect(countries.length).toBeGreaterThan(3);
    expect(await local.runNamedQuery('cdr_top_remote_countries')).toEqual(countries);
  });

  it('cdr_findings_for_resource: every finding of one resource since a day, newest first', async () => {
    const findings = rowsOf(CURATED_DATASETS.cdrFindings);
    const since = dayAgo(8);
    // The busiest resource with findings on both sides of `since`, so the day filter has work to do.
    const resource = [...groupBy(findings, (row) => row.resourceId).values()]
      .filter(
        ({ rows }) => rows.some((row) => str(row.dt) < since) && rows.some((row) => str(row.dt) >= since),
      )
      .sort((a, b) => b.rows.length - a.rows.length || str(a.key).localeCompare(str(b.key)))[0]
      ?.key as string;
    const expected = findings
      .filter(
        (row) => str(row.dt) >= since && (row.resourceId === resource || row.affectedResource === resource),
      )
      .map((row) => str(row.uuid))
      .sort();
    const all = findings.filter((row) => row.resourceId === resource || row.affectedResource === resource);
    expect(expected.length).toBeGreaterThan(0);
    expect(all.length).toBeGreaterThan(expected.length);
    const rows = await local.runNamedQuery('cdr_findings_for_resource', [since, resource]);
    expect(rows.map((row) => str(row.uuid)).sort()).toEqual(expected);
    expect(rows.map((row) => str(row.finding_time))).toEqual(
      rows
        .map((row) => str(row.finding_time))
        .sort()
        .reverse(),
    );
    const severityNames = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
    const byUuid = new Map(findings.map((row) => [row.uuid, row]));
    for (const row of rows)
      expect(row.severity).toBe(severityNames[Number(byUuid.get(row.uuid)?.severity) - 1]);
  });

  it('sdr_failing_controls_by_connector: failing controls per connector and criticality in the latest poll', async () => {
    const recent = rowsOf(CURATED_DATASETS.sdrPosture).filter((row) => str(row.dt) >= dayAgo(7));
    const latest = new Map<string, string>();
    for (const row of recent) {
      const pair = `${row.lake_connector_id}|${row.lake_policy_id}`;
      if (str(row.lake_run_id) > (latest.get(pair) ?? '')) latest.set(pair, str(row.lake_run_id));
    }
    const failing = recent.filter(
      (row) =>
        latest.get(`${row.lake_connector_id}|${row.lake_policy_id}`) === row.lake_run_id &&
        str(row.resourceEvaluationResult ?? row.controlEvaluationStatus).toLowerCase() === 'fail',
    );
    const order = ['critical', 'high', 'medium', 'low'];
    const expected = [
      ...groupBy(failing, (row) => [
        row.subscription,
        row.connectorType,
        row.connectorName,
        row.lake_connector_id,
        row.criticality,
      ]).values(),
    ]
      .map(({ key: [subscription, type, name, id, criticality], rows }) => ({
        subscription,
        connector_type: type,
        connector_name: name,
        connector_id: id,
        criticality,
        failing_controls: distinct(rows.map((row) => row.cid)),
        failing_resources: distinct(rows.map((row) => `${row.cid}|${str(row.resourceId)}`)),
        poll_id: polls.at(-1),
        rank: order.indexOf(str(criticality).toLowerCase()),
      }))
      .sort(
        byKeys(
          ['connector_type', 'asc'],
          ['connector_name', 'asc'],
          ['connector_id', 'asc'],
          ['rank', 'asc'],
        ),
      )
      .map(({ rank: _rank, ...row }) => row);
    expect(expected.length).toBeGreaterThan(2);
    expect(await local.runNamedQuery('sdr_failing_controls_by_connector')).toEqual(expected);
  });

  it('sdr_controls_started_failing_this_week: failures that began in the last 7 days and still fail', async () => {
    const rows = rowsOf(CURATED_DATASETS.sdrPosture).filter((row) => str(row.dt) >= dayAgo(35));
    const failingRow = (row: Row) =>
      str(row.resourceEvaluationResult ?? row.controlEvaluationStatus).toLowerCase() === 'fail';
    // One evaluation per connector, control, resource and poll.
    const evaluations = [
      ...groupBy(rows, (row) => [
        row.lake_connector_id,
        row.cid,
        str(row.resourceId),
        row.lake_run_id,
      ]).values(),
    ].map(({ key: [connector, cid, resource, pollId], rows: group }) => ({
      connector: str(connector),
      cid: str(cid),
      resource: str(resource),
      pollId: str(pollId),
      day: group.map((row) => str(row.dt)).sort()[0] ?? '',
      failing: group.some(failingRow),
    }));
    const connectorLatest = new Map<string, string>();
    for (const e of evaluations) {
      if (e.pollId > (connectorLatest.get(e.connector) ?? '')) connectorLatest.set(e.connector, e.pollId);
    }
    const expected: string[] = [];
    for (const { rows: history } of groupBy(evaluations as unknown as Row[], (e) => [
      e.connector,
      e.cid,
      e.resource,
    ]).values()) {
      const items = (history as unknown as typeof evaluations).sort((a, b) => (a.pollId < b.pollId ? -1 : 1));
      const newest = items.at(-1);
      if (!newest?.failing || newest.pollId !== connectorLatest.get(newest.connector)) continue;
      const lastOk = items.filter((e) => !e.failing).at(-1)?.pollId ?? '';
      const streak = items.filter((e) => e.failing && e.pollId > lastOk);
      const since = streak.map((e) => e.day).sort()[0] ?? '';
      if (since >= dayAgo(7))
        expected.push(
          `${newest.connector}|${newest.cid}|${newest.resource}|${streak[0]?.pollId}|${lastOk !== ''}`,
        );
    }
    const result = await local.runNamedQuery('sdr_controls_started_failing_this_week');
    const got = result.map(
      (row) =>
        `${row.connector_id}|${row.cid}|${row.resource_id}|${row.failing_since_poll}|${row.passed_before}`,
    );
    expect(got.sort()).toEqual(expected.sort());
    // The scenario: B's and C's new failures are there, the old and the recovered ones are not.
    const [, pollB, pollC] = polls;
    const key = (item: PostureItem | undefined) => `${item?.connectorId}|${item?.cid}|${item?.resourceId}`;
    expect(got).toContain(`${key(flipped.startedAtB)}|${pollB}|true`);
    expect(got).toContain(`${key(flipped.startedAtC)}|${pollC}|true`);
    expect(got.some((entry) => entry.startsWith(`${key(flipped.recoveredAtB)}|`))).toBe(false);
    expect(got.some((entry) => entry.startsWith(`${key(flipped.failingSinceA)}|`))).toBe(false);
  });

  it('sdr_documents_shared_externally: externally shared documents of the latest complete snapshot', async () => {
    const latest = latestSnapshot();
    expect(latest).toBe(snapshots[1]);
    const expected = rowsOf(CURATED_DATASETS.sdrDocuments)
      .filter(
        (row) =>
          row.lake_snapshot_id === latest &&
          (Number(row.externalPermissionsCount) > 0 ||
            ['external', 'anyonewithlink', 'public'].includes(str(row.accessType).toLowerCase())),
      )
      .map((row) => {
        const connector = row.connector as { id: number; type: string };
        return {
          subscription: row.subscription,
          connector_type: connector.type,
          connector_id: connector.id,
          document: row.name,
          owner: (row.owner as { email?: string } | null)?.email ?? null,
          access_type: row.accessType,
          external_domains: row.externalDomains,
          external_permissions: row.externalPermissionsCount,
          link: row.webContentLink,
          last_updated: row.lastUpdatedDate,
          source_id: row.sourceId,
        };
      })
      .sort(
        byKeys(
          ['external_permissions', 'desc'],
          ['connector_type', 'asc'],
          ['document', 'asc'],
          ['source_id', 'asc'],
        ),
      );
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.some((row) => str(row.external_domains).includes('example.net'))).toBe(true);
    expect(await local.runNamedQuery('sdr_documents_shared_externally')).toEqual(expected);
  });

  it('sdr_inventory_changes_between_snapshots: what was added, removed or changed between two snapshots', async () => {
    const [older, newer] = snapshots as [string, string];
    const state = (pairs: Array<[string, unknown]>) =>
      pairs
        .map(([name, value]) => `${name}=${value === null || value === undefined ? '' : String(value)}`)
        .join(' | ');
    const itemKey = (row: Row) => `${(row.connector as { id: number }).id}:${row.sourceId}`;
    const specs: Array<{
      table: CuratedDataset;
      key: (row: Row) => string;
      label: (row: Row) => unknown;
      state: (row: Row) => string;
    }> = [
      {
        table: CURATED_DATASETS.sdrConnectors,
        key: (row) => String(row.id),
        label: (row) => row.name,
        state: (row) =>
          state([
            ['status', row.status],
            ['state', row.state],
            ['enabled', row.isEnabled],
            ['deleted', row.deleted],
          ]),
      },
      {
        table: CURATED_DATASETS.sdrUsers,
        key: itemKey,
        label: (row) => row.email,
        state: (row) =>
          state([
            ['suspended', row.isSuspended],
            ['role', row.role],
            ['access', row.accessType],
          ]),
      },
      {
        table: CURATED_DATASETS.sdrGroups,
        key: itemKey,
        label: (row) => row.name,
        state: (row) =>
          state([
            ['access', row.accessType],
            ['members', row.directMembersCount],
          ]),
      },
      {
        table: CURATED_DATASETS.sdrDocuments,
        key: itemKey,
        label: (row) => row.name,
        state: (row) =>
          state([
            ['access', row.accessType],
            ['external', row.externalPermissionsCount],
            ['domains', row.externalDomains],
            ['owner', (row.owner as { email?: string } | null)?.email],
          ]),
      },
      {
        table: CURATED_DATASETS.sdrApplications,
        key: itemKey,
        label: (row) => row.name,
        state: (row) =>
          state([
            ['trusted', row.isTrusted],
            ['exposure', row.exposure],
            ['users', row.userCount],
            ['scopes', row.scopes],
          ]),
      },
      {
        table: CURATED_DATASETS.sdrPolicies,
        key: (row) => String(row.id),
        label: (row) => row.name,
        state: (row) =>
          state([
            ['version', row.version],
            ['controls', row.controlCount],
          ]),
      },
    ];
    const expected: Row[] = [];
    for (const spec of specs) {
      const of = (id: string) =>
        new Map(
          rowsOf(spec.table)
            .filter((row) => row.lake_snapshot_id === id)
            .map((row) => [spec.key(row), row]),
        );
      const before = of(older);
      const after = of(newer);
      for (const key of new Set([...before.keys(), ...after.keys()])) {
        const o = before.get(key);
        const n = after.get(key);
        const change = !o
          ? 'added'
          : !n
            ? 'removed'
            : spec.state(o) !== spec.state(n)
              ? 'changed'
              : undefined;
        if (!change) continue;
        expected.push({
          subscription: (n ?? o)?.subscription,
          dataset: spec.table,
          change,
          item_key: key,
          item_name: spec.label((n ?? o) as Row),
          old_state: o ? spec.state(o) : null,
          new_state: n ? spec.state(n) : null,
        });
      }
    }
    expected.sort(byKeys(['dataset', 'asc'], ['change', 'asc'], ['item_key', 'asc']));
    expect(expected.map((row) => `${row.dataset}:${row.change}`)).toEqual(
      expect.arrayContaining([
        'sdr_applications:added',
        'sdr_documents:changed',
        'sdr_users:changed',
        'sdr_users:removed',
      ]),
    );
    // Either order of the two ids gives the same answer.
    expect(await local.runNamedQuery('sdr_inventory_changes_between_snapshots', [older, newer, ''])).toEqual(
      expected,
    );
    expect(await local.runNamedQuery('sdr_inventory_changes_between_snapshots', [newer, older, ''])).toEqual(
      expected,
    );
  });

  it.each(INVENTORY_DATASETS.map((table) => [latestQueryName(table), table] as const))(
    '%s: the rows of the latest complete snapshot only',
    async (name, table) => {
      const latest = latestSnapshot();
      const expected = rowsOf(table).filter((row) => row.lake_snapshot_id === latest);
      expect(expected.length).toBeGreaterThan(0);
      const rows = await local.runNamedQuery(name);
      expect(rows).toHaveLength(expected.length);
      expect(new Set(rows.map((row) => row.lake_snapshot_id))).toEqual(new Set([latest]));
      const identity = (row: Row) =>
        `${str(row.lake_raw_key)}|${JSON.stringify(row.sourceId ?? row.id ?? row.scannerId)}`;
      expect(rows.map(identity).sort()).toEqual(expected.map(identity).sort());
    },
  );

  it('sdr_reports_archived: reports of the last 90 days with the key of each file', async () => {
    const expected = rowsOf(CURATED_DATASETS.sdrReports)
      .filter((row) => str(row.dt) >= dayAgo(90))
      .map((row) => {
        const config = row.config as { policy: { value: string }; saasApplication: { value: string } };
        return {
          subscription: row.subscription,
          created_at: row.createdAt,
          report_name: row.reportName,
          policy: config.policy.value,
          application: config.saasApplication.value,
          file_format: row.fileFormat,
          bytes: row.lake_bytes,
          file_key: row.lake_file_key,
          sha256: row.lake_sha256,
          file_uuid: row.fileUuid,
        };
      })
      .sort(byKeys(['created_at', 'desc'], ['file_uuid', 'asc']));
    expect(expected.length).toBeGreaterThan(0);
    expect(await local.runNamedQuery('sdr_reports_archived')).toEqual(expected);
  });

  it('refuses a parameterised query run with the wrong number of values', async () => {
    await expect(
      local.runNamedQuery(namedQuery('cdr_findings_for_resource').name, ['2025-01-01']),
    ).rejects.toThrow(/takes 2 parameter/);
  });
});
