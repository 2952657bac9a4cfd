import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CURATED_DATASETS, type CuratedDataset, INVENTORY_DATASETS } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { latestQueryName } from '../../lib/athena/queries';
import { type LocalLake, openLocalLake, type Row } from '../../tools/local-lake/duckdb';
import { DEFAULT_CREDENTIALS, type Simulator, startSimulator } from '../simulator/index';
import { type Handler, lambdaContext, loadHandler } from '../support/invoke';
import {
  connectLocalAws,
  getNdjson,
  type Lake,
  type LocalAws,
  lambdaEnv,
  listKeys,
  mirrorBucket,
} from '../support/local-aws';

/**
 * The named queries over a lake of TWO subscriptions (two Qualys tenants, two simulators with other
 * data, one bucket): no filter spans both, `subscription = 'x'` reads one, and "latest" is each
 * subscription's own latest snapshot or poll. The tenants share what Qualys ids commonly share (the
 * simulators' connector ids), and both took a snapshot and a poll at the same instant, so their
 * snapshot and poll ids collide: a query that picks or joins without the subscription mixes them.
 *
 * acme:   poll and snapshot S1 three days ago; snapshot S2 (one user fewer) a day ago; a poll now, in
 *         which one resource that passed before fails.
 * globex: poll and snapshot S1 three days ago only: its latest snapshot and poll are older than acme's.
 * Both:   the CDR findings of the last 24 hours.
 */

const SUBSCRIPTIONS = ['acme', 'globex'] as const;
type Subscription = (typeof SUBSCRIPTIONS)[number];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.now();
const SETTINGS: Record<string, string> = {
  CDR_PAGE_SIZE: '1000',
  CDR_LAG_MINUTES: '0',
  SDR_PAGE_SIZE: '200',
  SDR_MAX_CALLS_PER_RUN: '1000',
  QUALYS_CALL_RESERVE: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '10000',
  SDR_POSTURE_MIN_CRITICALITY: 'Critical',
};
const SMALL_TENANT = { documents: 40, users: 15, groups: 5, applications: 6, meetings: 2 };

let aws: LocalAws;
let lake: Lake;
let lakeDir: string;
let local: LocalLake;
const sims = {} as Record<Subscription, Simulator>;
const secrets = {} as Record<Subscription, string>;
/** Every curated record by table, with `subscription` and `dt` from its key. */
const records = new Map<CuratedDataset, Row[]>();
const snapshotIds = {} as Record<Subscription, string[]>;
const pollIds = {} as Record<Subscription, string[]>;
let flippedAtAcme: { connectorId: number; cid: string; resourceId: string } | undefined;
let removedUser = '';

const run = async <T>(name: Parameters<typeof loadHandler>[0], subscription: Subscription) => {
  const handler: Handler = await loadHandler(
    name,
    lambdaEnv(aws, lake, secrets[subscription], { ...SETTINGS, QUALYS_SUBSCRIPTION: subscription }),
  );
  return (await handler({}, lambdaContext())) as T;
};

async function poll(subscription: Subscription): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const summary = await run<{ pollId?: string; pollComplete: boolean }>('sdr-posture', subscription);
    if (summary.pollComplete && summary.pollId) {
      pollIds[subscription].push(summary.pollId);
      return;
    }
  }
  throw new Error(`the posture poll of ${subscription} did not complete in 20 runs`);
}

async function snapshot(subscription: Subscription): Promise<void> {
  const summary = await run<{ snapshotId: string; completedSnapshot: boolean }>(
    'sdr-inventory',
    subscription,
  );
  if (!summary.completedSnapshot) throw new Error(`the snapshot of ${subscription} did not complete`);
  snapshotIds[subscription].push(summary.snapshotId);
}

async function loadRecords(): Promise<void> {
  for (const table of Object.values(CURATED_DATASETS)) {
    const rows: Row[] = [];
    for (const key of await listKeys(aws, lake.bucket, `curated/${table}/`)) {
      const [, , level = '', day = ''] = key.split('/');
      const subscription = level.replace(`${SUBSCRIPTION_PARTITION}=`, '');
      const dt = day.replace('dt=', '');
      rows.push(
        ...(await getNdjson<Row>(aws, lake.bucket, key)).map((row) => ({ ...row, subscription, dt })),
      );
    }
    records.set(table, rows);
  }
}

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
  lake = await aws.createLake('athena-subs');
  sims.acme = await startSimulator({ seed: 101, sdr: SMALL_TENANT });
  sims.globex = await startSimulator({ seed: 202, sdr: SMALL_TENANT });
  for (const subscription of SUBSCRIPTIONS) {
    secrets[subscription] = aws.secrets.put(
      `qualys-lake/${subscription}`,
      JSON.stringify({ baseUrl: sims[subscription].url, ...DEFAULT_CREDENTIALS }),
    );
    snapshotIds[subscription] = [];
    pollIds[subscription] = [];
  }

  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(START - 3 * DAY);
    for (const subscription of SUBSCRIPTIONS) {
      await poll(subscription);
      await snapshot(subscription);
    }
    vi.setSystemTime(START - DAY);
    removedUser = sims.acme.data.sdr.users.pop()?.sourceId ?? '';
    await snapshot('acme');
  } finally {
    vi.useRealTimers();
  }
  await loadRecords();
  const passing = (records.get(CURATED_DATASETS.sdrPosture) ?? []).find(
    (row) =>
      row.subscription === 'acme' && row.resourceEvaluationResult === 'Pass' && row.resourceId !== null,
  );
  if (!passing) throw new Error("acme's first poll has no passing resource");
  flippedAtAcme = {
    connectorId: Number(passing.connectorId),
    cid: String(passing.cid),
    resourceId: String(passing.resourceId),
  };
  sims.acme.control.setControlResult(
    flippedAtAcme.connectorId,
    flippedAtAcme.cid,
    flippedAtAcme.resourceId,
    'Fail',
  );
  await poll('acme');
  for (const subscription of SUBSCRIPTIONS) await run('cdr-findings', subscription);

  lakeDir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-athena-subs-'));
  await mirrorBucket(aws, lake.bucket, lakeDir);
  await loadRecords();
  local = await openLocalLake(lakeDir);
}, 300_000);

afterAll(async () => {
  local?.close();
  await Promise.all(Object.values(sims).map((sim) => sim.close()));
  await aws?.close();
  if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
});

const rowsOf = (table: CuratedDataset, subscription?: Subscription): Row[] =>
  (records.get(table) ?? []).filter((row) => subscription === undefined || row.subscription === subscription);
const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
const bySubscription = (rows: readonly Row[]) =>
  Object.fromEntries(
    SUBSCRIPTIONS.map((subscription) => [
      subscription,
      rows.filter((row) => row.subscription === subscription),
    ]),
  ) as Record<Subscription, Row[]>;
const failing = (row: Row) =>
  str(row.resourceEvaluationResult ?? row.controlEvaluationStatus).toLowerCase() === 'fail';

describe('the two-subscription lake', () => {
  it('was built as planned: the two tenants share connector ids, snapshot ids and a poll id', () => {
    expect(snapshotIds.acme).toHaveLength(2);
    expect(snapshotIds.globex).toEqual([snapshotIds.acme[0]]);
    expect(pollIds.acme).toHaveLength(2);
    expect(pollIds.globex).toEqual([pollIds.acme[0]]);
    const connectors = bySubscription(rowsOf(CURATED_DATASETS.sdrConnectors));
    const ids = (rows: Row[]) => new Set(rows.map((row) => row.id));
    expect([...ids(connectors.acme)].filter((id) => ids(connectors.globex).has(id)).length).toBeGreaterThan(
      0,
    );
    for (const subscription of SUBSCRIPTIONS) {
      expect(rowsOf(CURATED_DATASETS.cdrFindings, subscription).length, subscription).toBeGreaterThan(0);
    }
  });
});

describe('no filter spans both subscriptions; a filter reads one', () => {
  it.each([CURATED_DATASETS.cdrFindings, CURATED_DATASETS.sdrPosture, CURATED_DATASETS.sdrUsers])(
    '%s: the count is the sum; WHERE subscription = ... returns only that one',
    async (table) => {
      const [all] = await local.sql(`SELECT count(*) AS n FROM ${table}`);
      expect(all?.n).toBe(rowsOf(table).length);
      for (const subscription of SUBSCRIPTIONS) {
        const rows = await local.sql(
          `SELECT subscription, count(*) AS n FROM ${table} WHERE subscription = ? GROUP BY subscription`,
          [subscription],
        );
        expect(rows).toEqual([{ subscription, n: rowsOf(table, subscription).length }]);
      }
      expect(rowsOf(table, 'acme').length + rowsOf(table, 'globex').length).toBe(rowsOf(table).length);
    },
  );

  it('cdr_high_critical_by_account_category: one row set per subscription, findings summing to all of both', async () => {
    const cutoff = Date.now() - 7 * DAY;
    const severe = rowsOf(CURATED_DATASETS.cdrFindings).filter(
      (row) => Number(row.severity) >= 3 && Date.parse(str(row.timestamp)) >= cutoff,
    );
    const rows = await local.runNamedQuery('cdr_high_critical_by_account_category');
    const sum = (list: Row[]) => list.reduce((total, row) => total + Number(row.findings), 0);
    expect(sum(rows)).toBe(severe.length);
    const split = bySubscription(rows);
    for (const subscription of SUBSCRIPTIONS) {
      expect(sum(split[subscription]), subscription).toBe(
        severe.filter((row) => row.subscription === subscription).length,
      );
      expect(split[subscription].length).toBeGreaterThan(0);
    }
    expect(split.acme.length + split.globex.length).toBe(rows.length);
  });

  it('cdr_findings_for_resource: its last parameter names one subscription, or none', async () => {
    const findings = rowsOf(CURATED_DATASETS.cdrFindings);
    const resourcesOf = (subscription: Subscription) =>
      new Set(findings.filter((row) => row.subscription === subscription).map((row) => str(row.resourceId)));
    const shared = [...resourcesOf('acme')].filter((resource) => resourcesOf('globex').has(resource));
    const resource = shared[0];
    expect(resource, 'a resource with findings in both tenants').toBeDefined();
    const of = (subscription?: Subscription) =>
      findings
        .filter(
          (row) =>
            (subscription === undefined || row.subscription === subscription) &&
            (row.resourceId === resource || row.affectedResource === resource),
        )
        .map((row) => `${row.subscription}|${row.uuid}`)
        .sort();
    const since = new Date(Date.now() - 2 * DAY).toISOString().slice(0, 10);
    const query = async (subscription: string) =>
      (await local.runNamedQuery('cdr_findings_for_resource', [since, str(resource), subscription]))
        .map((row) => `${row.subscription}|${row.uuid}`)
        .sort();
    expect(await query('')).toEqual(of());
    // Left out, it is '': a caller of the two parameters it took before gets every subscription.
    expect(
      (await local.runNamedQuery('cdr_findings_for_resource', [since, str(resource)]))
        .map((row) => `${row.subscription}|${row.uuid}`)
        .sort(),
    ).toEqual(of());
    expect(await query('acme')).toEqual(of('acme'));
    expect(await query('globex')).toEqual(of('globex'));
    expect(of('acme').length).toBeGreaterThan(0);
    expect(of('globex').length).toBeGreaterThan(0);
  });
});

describe("each subscription's own latest snapshot", () => {
  it.each(INVENTORY_DATASETS.map((table) => [latestQueryName(table), table] as const))(
    '%s: acme as of S2, globex as of S1',
    async (name, table) => {
      const [s1, s2] = snapshotIds.acme as [string, string];
      const expected = [
        ...rowsOf(table, 'acme').filter((row) => row.lake_snapshot_id === s2),
        ...rowsOf(table, 'globex').filter((row) => row.lake_snapshot_id === s1),
      ];
      const rows = await local.runNamedQuery(name);
      expect(rows).toHaveLength(expected.length);
      const identity = (row: Row) =>
        `${row.subscription}|${row.lake_snapshot_id}|${str(row.lake_raw_key)}|${JSON.stringify(row.sourceId ?? row.id ?? row.scannerDefinitionId)}`;
      expect(rows.map(identity).sort()).toEqual(expected.map(identity).sort());
      expect(new Set(rows.map((row) => `${row.subscription}|${row.lake_snapshot_id}`))).toEqual(
        new Set([`acme|${s2}`, `globex|${s1}`]),
      );
    },
  );

  it('sdr_documents_shared_externally: each subscription its own latest snapshot', async () => {
    const [s1, s2] = snapshotIds.acme as [string, string];
    const shared = (row: Row) =>
      Number(row.externalPermissionsCount) > 0 ||
      ['external', 'anyonewithlink', 'public'].includes(str(row.accessType).toLowerCase());
    const expected = [
      ...rowsOf(CURATED_DATASETS.sdrDocuments, 'acme').filter((row) => row.lake_snapshot_id === s2),
      ...rowsOf(CURATED_DATASETS.sdrDocuments, 'globex').filter((row) => row.lake_snapshot_id === s1),
    ]
      .filter(shared)
      .map((row) => `${row.subscription}|${row.sourceId}`)
      .sort();
    const rows = await local.runNamedQuery('sdr_documents_shared_externally');
    expect(rows.map((row) => `${row.subscription}|${row.source_id}`).sort()).toEqual(expected);
    expect(new Set(rows.map((row) => row.subscription))).toEqual(new Set(SUBSCRIPTIONS));
  });

  it("sdr_inventory_changes_between_snapshots: compares one subscription's snapshots, never another's", async () => {
    const [s1, s2] = snapshotIds.acme as [string, string];
    const changes = async (subscription: string) =>
      (await local.runNamedQuery('sdr_inventory_changes_between_snapshots', [s1, s2, subscription])).map(
        (row) => `${row.subscription}|${row.dataset}|${row.change}|${row.item_key}`,
      );
    const all = await changes('');
    // globex holds S1 only: nothing to compare; acme lost one user between S1 and S2.
    expect(all.filter((change) => !change.startsWith('acme|'))).toEqual([]);
    expect(all.filter((change) => change.includes('|removed|'))).toEqual([
      expect.stringMatching(new RegExp(`^acme\\|sdr_users\\|removed\\|\\d+:${removedUser}$`)),
    ]);
    expect(await changes('acme')).toEqual(all);
    expect(await changes('globex')).toEqual([]);
  });
});

describe("each subscription's own latest posture poll", () => {
  it('sdr_failing_controls_by_connector: acme from its poll of now, globex from its poll of three days ago', async () => {
    const recent = rowsOf(CURATED_DATASETS.sdrPosture);
    const latest = new Map<string, string>();
    const pair = (row: Row) => `${row.subscription}|${row.lake_connector_id}|${row.lake_policy_id}`;
    for (const row of recent) {
      if (str(row.lake_run_id) > (latest.get(pair(row)) ?? '')) latest.set(pair(row), str(row.lake_run_id));
    }
    const groups = new Map<string, Set<string>>();
    for (const row of recent.filter((row) => latest.get(pair(row)) === row.lake_run_id && failing(row))) {
      const key = `${row.subscription}|${row.lake_connector_id}|${row.criticality}|${row.lake_run_id}`;
      groups.set(key, (groups.get(key) ?? new Set()).add(str(row.cid)));
    }
    const expected = [...groups].map(([key, cids]) => `${key}|${cids.size}`).sort();
    const rows = await local.runNamedQuery('sdr_failing_controls_by_connector');
    expect(
      rows
        .map(
          (row) =>
            `${row.subscription}|${row.connector_id}|${row.criticality}|${row.poll_id}|${row.failing_controls}`,
        )
        .sort(),
    ).toEqual(expected);
    const polls = new Set(rows.map((row) => `${row.subscription}|${row.poll_id}`));
    expect(polls).toEqual(new Set([`acme|${pollIds.acme[1]}`, `globex|${pollIds.globex[0]}`]));
  });

  it("sdr_controls_started_failing_this_week: each subscription's failures, from its own polls", async () => {
    const rows = await local.runNamedQuery('sdr_controls_started_failing_this_week');
    const split = bySubscription(rows);
    expect(split.acme.length + split.globex.length).toBe(rows.length);
    // acme: the resource that failed in its latest poll after passing in the one before.
    const item = flippedAtAcme;
    expect(
      split.acme.map(
        (row) =>
          `${row.connector_id}|${row.cid}|${row.resource_id}|${row.failing_since_poll}|${row.passed_before}`,
      ),
    ).toContain(`${item?.connectorId}|${item?.cid}|${item?.resourceId}|${pollIds.acme[1]}|true`);
    // globex: one poll, so every failing control x resource of it started failing then.
    const globexFailing = new Set(
      rowsOf(CURATED_DATASETS.sdrPosture, 'globex')
        .filter(failing)
        .map((row) => `${row.lake_connector_id}|${row.cid}|${str(row.resourceId)}`),
    );
    expect(globexFailing.size).toBeGreaterThan(0);
    expect(split.globex.map((row) => `${row.connector_id}|${row.cid}|${row.resource_id}`).sort()).toEqual(
      [...globexFailing].sort(),
    );
    for (const row of split.globex) {
      expect([row.failing_since_poll, row.passed_before]).toEqual([pollIds.globex[0], false]);
    }
  });
});
