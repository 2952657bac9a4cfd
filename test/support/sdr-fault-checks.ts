import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { INVENTORY_DATASETS } from '../../functions/core/names';
import type { SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import { sdrInventoryKeys } from '../../functions/sdr-inventory/keys';
import {
  type InventoryCheckpoint,
  LIST_TABLES,
  type ListDataset,
} from '../../functions/sdr-inventory/snapshot';
import { sdrPostureKeys } from '../../functions/sdr-posture/keys';
import type { FailureState, PostureCheckpoint, SdrPostureSummary } from '../../functions/sdr-posture/model';
import type { SdrReportsSummary } from '../../functions/sdr-reports/collector';
import { sdrReportsKeys } from '../../functions/sdr-reports/keys';
import type { ArchivableReport, ReportMetadata, ReportsCheckpoint } from '../../functions/sdr-reports/model';
import type { Simulator } from '../simulator/index';
import { expectAlertedOnce, type TrialChecks } from './fault-trial';
import type { TestLake } from './fixtures';
import { multiset, servedInventory, untagged } from './inventory-served';
import type { ReceivedAlert } from './local-aws';
import { failingKeys, type ServedPostureRow } from './posture-served';

/**
 * The invariants of a fault trial (fault-trial.ts) for the SaaSDR collectors: what each one's state
 * may claim after any run, and what must have landed once a run settles.
 */

const has = async (lake: TestLake, key: string) => (await lake.keys(key)).includes(key);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const groupBy = <T>(items: readonly T[], by: (item: T) => string) => {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(by(item), [...(groups.get(by(item)) ?? []), item]);
  return groups;
};

/** A posture row as curated or served: connector, policy, control, resource and result. */
type Fields = 'connectorId' | 'policyName' | 'cid' | 'resourceId' | 'resourceEvaluationResult' | 'result';
const postureRow = (row: { [field in Fields]?: unknown }) =>
  [row.connectorId, row.policyName, row.cid, row.resourceId, row.resourceEvaluationResult ?? row.result]
    .map(String)
    .join('|');

/**
 * sdr-posture, with every criticality alerted and the served posture unchanged during the trial:
 * every poll that curated anything curated each served row once; one `failed` alert per failing
 * resource; the checkpoint claims no page that is not curated, and the failure state no failure
 * that is not curated, nor an alert neither sent nor queued.
 */
export function postureChecks(
  lake: TestLake,
  served: readonly ServedPostureRow[],
): TrialChecks<SdrPostureSummary> {
  const pollRows = async () =>
    groupBy(await lake.records('curated/sdr_posture/'), (row) => String(row.lake_run_id));

  async function stateBacked(alerts: readonly ReceivedAlert[]) {
    const curated = await pollRows();
    if (await has(lake, sdrPostureKeys.checkpoint)) {
      const { poll, lastPoll } = await lake.json<PostureCheckpoint>(sdrPostureKeys.checkpoint);
      const claims: Array<[string, readonly ServedPostureRow[]]> = [];
      if (lastPoll) {
        expect(lastPoll.skippedPairs, 'pairs given up').toBe(0);
        claims.push([lastPoll.pollId, served]);
      }
      for (const pair of poll?.pairs ?? []) {
        const read = (row: ServedPostureRow) =>
          String(row.connectorId) === String(pair.connectorId) &&
          row.policyName === pair.policyName &&
          (pair.status === 'done' || row.page < pair.nextPage);
        claims.push([poll?.pollId ?? '', served.filter(read)]);
      }
      for (const [pollId, claimed] of claims) {
        const rows = new Set((curated.get(pollId) ?? []).map(postureRow));
        const missing = claimed.map(postureRow).filter((row) => !rows.has(row));
        expect(missing, `the checkpoint claims rows of poll ${pollId} not curated`).toEqual([]);
      }
    }
    if (await has(lake, sdrPostureKeys.failures)) {
      const { failures } = await lake.json<FailureState>(sdrPostureKeys.failures);
      const outbox = (await has(lake, sdrPostureKeys.outbox))
        ? (await lake.json<{ candidates: Array<{ key: string }> }>(sdrPostureKeys.outbox)).candidates
        : [];
      const sentOrQueued = new Set([
        ...alerts.map((alert) => alert.attributes.alertKey),
        // Outbox keys are `<alertKey>|<kind>|<pollId>`.
        ...outbox.map(({ key }) => key.split('|').slice(0, -2).join('|')),
      ]);
      for (const [key, failure] of Object.entries(failures)) {
        expect(await has(lake, failure.curatedKey), `failure ${key} points at a missing object`).toBe(true);
        if (failure.alerted) expect(sentOrQueued.has(key), `failure ${key}: alert lost`).toBe(true);
      }
    }
  }

  return {
    stateBacked,
    settled: (summary) => !summary.stoppedEarly && summary.pollComplete,
    async landed(alerts, redelivered) {
      const expected = failingKeys(served);
      // Never vacuous: the poll holds failing and passing resources.
      expect(expected.length).toBeGreaterThan(10);
      expect(served.length).toBeGreaterThan(expected.length);
      // (1) Each poll that curated anything curated every served row exactly once.
      const polls = await pollRows();
      expect(polls.size).toBeGreaterThan(0);
      for (const [pollId, rows] of polls) {
        expect(rows.map(postureRow).sort(), `rows of poll ${pollId}`).toEqual(served.map(postureRow).sort());
      }
      // (2) One `failed` alert per failing resource; the failure state holds exactly those.
      expect(alerts.filter((alert) => alert.attributes.kind !== 'failed')).toEqual([]);
      expectAlertedOnce(alerts, expected, redelivered);
      const { failures } = await lake.json<FailureState>(sdrPostureKeys.failures);
      expect(Object.keys(failures).sort()).toEqual(expected);
    },
  };
}

/**
 * sdr-inventory: every snapshot that curated anything holds the whole tenant once and is marked
 * complete; the state claims no page, scanner page or policy detail that is not in S3, and a
 * completed snapshot only with its `sdr_snapshots` record.
 */
export function inventoryChecks(sim: Simulator, lake: TestLake): TrialChecks<SdrInventorySummary> {
  const snapshotRecord = (snapshotId: string) =>
    sdrInventoryKeys.snapshotRecord(
      `${snapshotId.slice(0, 4)}-${snapshotId.slice(4, 6)}-${snapshotId.slice(6, 8)}`,
      snapshotId,
    );
  const ofSnapshot = async (table: string, snapshotId: string) =>
    (await lake.records(`curated/${table}/`)).filter((record) => record.lake_snapshot_id === snapshotId);

  async function stateBacked() {
    if (!(await has(lake, sdrInventoryKeys.state))) return;
    const { current, lastCompleted } = await lake.json<InventoryCheckpoint>(sdrInventoryKeys.state);
    if (lastCompleted) {
      expect(await has(lake, snapshotRecord(lastCompleted.snapshotId)), 'completed without a record').toBe(
        true,
      );
    }
    if (!current) return;
    const id = current.snapshotId;
    for (const [name, progress] of Object.entries(current.lists) as Array<
      [ListDataset, typeof current.lists.users]
    >) {
      for (let page = 0; page < progress.nextPage; page++) {
        expect(await has(lake, sdrInventoryKeys.raw(id, name, page)), `${name} page ${page}`).toBe(true);
      }
      if (name === 'policies') continue;
      const records = await ofSnapshot(LIST_TABLES[name], id);
      expect(records.length, `${name} records the state counts`).toBeGreaterThanOrEqual(progress.records);
    }
    const scanners = await ofSnapshot('sdr_scanners', id);
    for (const progress of current.scanners) {
      const mine = scanners.filter(
        (record) => String(record.lake_connector_id) === String(progress.connectorId),
      );
      expect(mine.length, `scanners of ${progress.connectorId}`).toBeGreaterThanOrEqual(progress.records);
    }
    for (const policy of current.policyDetails.filter((detail) => detail.done && !detail.missing)) {
      expect(await has(lake, sdrInventoryKeys.curatedPolicy(current.dt, id, policy.policyId))).toBe(true);
    }
  }

  return {
    stateBacked,
    settled: (summary) => !summary.stoppedEarly && summary.completedSnapshot,
    async landed(alerts) {
      expect(alerts).toEqual([]);
      const served = servedInventory(sim.data.sdr);
      const snapshots = new Set<string>();
      for (const table of INVENTORY_DATASETS) {
        const records = await lake.records(`curated/${table}/`);
        for (const record of records) snapshots.add(String(record.lake_snapshot_id));
      }
      expect(snapshots.size).toBeGreaterThan(0);
      for (const id of snapshots) {
        for (const table of INVENTORY_DATASETS) {
          const records = (await ofSnapshot(table, id)).map(untagged);
          expect(multiset(records), `${table} of snapshot ${id}`).toEqual(multiset(served[table]));
        }
        expect(await has(lake, snapshotRecord(id)), `the record of snapshot ${id}`).toBe(true);
        const manifest = await lake.json<{ status: string }>(sdrInventoryKeys.manifest(id));
        expect(manifest.status).toBe('complete');
      }
    },
  };
}

/**
 * sdr-reports: every completed report stored once, byte for byte as announced, with its metadata
 * and one curated record, and nothing else under reports/; metadata (what "archived" means) never
 * without its file, and the checkpoint never past a listing page not archived.
 */
export function reportsChecks(
  sim: Simulator,
  lake: TestLake,
  pageSize: number,
): TrialChecks<SdrReportsSummary> {
  const listed = () => sim.data.sdr.reports as unknown as ArchivableReport[];
  const curated = () => lake.records<{ fileUuid: string; lake_sha256: string }>('curated/sdr_reports/');

  async function stateBacked() {
    if (await has(lake, sdrReportsKeys.checkpoint)) {
      const { pending, lastCompleted } = await lake.json<ReportsCheckpoint>(sdrReportsKeys.checkpoint);
      const claimed = [
        ...(pending ? [{ ...pending, pages: pending.nextPage }] : []),
        ...(lastCompleted
          ? [{ ...lastCompleted, pages: Math.max(1, Math.ceil(listed().length / pageSize)) }]
          : []),
      ];
      for (const pass of claimed) {
        for (let page = 0; page < pass.pages; page++) {
          const key = sdrReportsKeys.raw({ ...pass, nextPage: 0 }, page);
          expect(await has(lake, key), `listing page ${page} of ${pass.runId}`).toBe(true);
        }
      }
    }
    const records = await curated();
    for (const key of (await lake.keys('reports/')).filter((name) => name.endsWith('/metadata.json'))) {
      const { file, report } = await lake.json<ReportMetadata>(key);
      const bytes = await lake.bytes(file.key);
      expect([bytes.byteLength, sha256(bytes)], `the file of ${key}`).toEqual([file.bytes, file.sha256]);
      const record = records.filter((item) => item.fileUuid === report.fileUuid);
      expect(
        record.map((item) => item.lake_sha256),
        `the record of ${key}`,
      ).toEqual([file.sha256]);
    }
  }

  return {
    stateBacked,
    settled: (summary) => !summary.stoppedEarly && summary.listingComplete,
    async landed(alerts) {
      expect(alerts).toEqual([]);
      const completed = listed().filter((report) => report.status === 'completed');
      expect(completed.length).toBeGreaterThan(2);
      expect(await lake.keys('reports/')).toEqual(
        completed.flatMap((report) => [sdrReportsKeys.file(report), sdrReportsKeys.metadata(report)]).sort(),
      );
      for (const report of completed) {
        const metadata = await lake.json<ReportMetadata>(sdrReportsKeys.metadata(report));
        expect(metadata.report).toEqual(JSON.parse(JSON.stringify(report)));
        expect(metadata.file.bytes).toBe(sim.data.reportSize(report.fileUuid));
      }
      const records = await curated();
      expect(records.map((record) => record.fileUuid).sort()).toEqual(
        completed.map((report) => report.fileUuid).sort(),
      );
      // A write S3 refused is a failed download, retried: never a body "that is not the report".
      expect(await lake.keys('state/sdr-reports/set-aside/')).toEqual([]);
    },
  };
}
