import { CURATED_DATASETS, INVENTORY_DATASETS } from '../core/names';
import { keyTime, utcDate } from '../core/records';
import type { ApiRecord } from '../qualys/schemas';
import type { SdrList } from '../qualys/sdr';

/**
 * The state of one inventory snapshot, saved after every page so that the next run resumes it,
 * and the pure functions over it: start one, tell whether it is complete, count what it holds, and
 * describe it (the `sdr_snapshots` record and the human-readable manifest).
 */

/** A curated table of an inventory snapshot. */
export type InventoryTable = (typeof INVENTORY_DATASETS)[number];

/** The list endpoints, in the order a snapshot reads them (small reference data first, documents last), and the table each one fills. */
export const LIST_TABLES = {
  connectors: CURATED_DATASETS.sdrConnectors,
  policies: CURATED_DATASETS.sdrPolicies,
  users: CURATED_DATASETS.sdrUsers,
  groups: CURATED_DATASETS.sdrGroups,
  applications: CURATED_DATASETS.sdrApplications,
  meetings: CURATED_DATASETS.sdrMeetings,
  documents: CURATED_DATASETS.sdrDocuments,
} as const satisfies Partial<Record<SdrList, InventoryTable>>;
export type ListDataset = keyof typeof LIST_TABLES;
const LIST_ORDER = Object.keys(LIST_TABLES) as ListDataset[];
/** Lists without a per-item phase, read after connectors (scanners) and policies (details). */
export const PLAIN_LISTS: readonly ListDataset[] = [
  'users',
  'groups',
  'applications',
  'meetings',
  'documents',
];

export type Id = string | number;

export interface PagedProgress {
  /** Page number (from 0) of the first page not yet written. */
  nextPage: number;
  /** Pages written so far. */
  pages: number;
  /** Records curated so far (for policies: items of the list; details are counted apart). */
  records: number;
  complete: boolean;
}

export interface ScannerProgress extends PagedProgress {
  connectorId: Id;
  /** The connector was gone (404) when its scanners were read. */
  missing?: boolean;
}

export interface PolicyDetailProgress {
  policyId: Id;
  done: boolean;
  /**
   * Why the policy is not in the snapshot: its detail answered 404, or a page without it, or one
   * whose item is no object (`rejected`), or it was never asked for: its id is no path segment (`refused`).
   */
  missing?: 'not-found' | 'empty' | 'rejected' | 'refused';
}

export interface SnapshotState {
  snapshotId: string;
  startedAt: string;
  /** `dt=` partition of every curated object of the snapshot: the date it started. */
  dt: string;
  /** Page size of the whole snapshot: page numbers only resume correctly at the size they were read with. */
  pageSize: number;
  runs: number;
  apiCalls: number;
  lists: Record<ListDataset, PagedProgress>;
  /** One entry per connector listed so far, in list order. */
  scanners: ScannerProgress[];
  /** One entry per policy listed so far, in list order. */
  policyDetails: PolicyDetailProgress[];
}

export interface InventoryCheckpoint {
  version: 1;
  /** The snapshot being read; absent between a completed snapshot and the run that starts the next. */
  current?: SnapshotState;
  lastCompleted?: { snapshotId: string; startedAt: string; completedAt: string };
  updatedAt?: string;
}

export interface DatasetCount {
  records: number;
  pages: number;
}

/** The `sdr_snapshots` record of a completed snapshot. */
export interface SnapshotRecord {
  snapshot_id: string;
  started_at: string;
  completed_at: string;
  status: 'complete';
  page_size: number;
  runs: number;
  api_calls: number;
  datasets: Record<InventoryTable, DatasetCount & { missing?: number }>;
  lake_ingested_at: string;
}

const emptyProgress = (): PagedProgress => ({ nextPage: 0, pages: 0, records: 0, complete: false });

export function newSnapshot(startedAtMs: number, pageSize: number): SnapshotState {
  const startedAt = new Date(startedAtMs).toISOString();
  return {
    snapshotId: keyTime(startedAt),
    startedAt,
    dt: utcDate(startedAt),
    pageSize,
    runs: 0,
    apiCalls: 0,
    lists: Object.fromEntries(LIST_ORDER.map((name) => [name, emptyProgress()])) as Record<
      ListDataset,
      PagedProgress
    >,
    scanners: [],
    policyDetails: [],
  };
}

/**
 * Start time of a new snapshot: now, but at least a second after the previous one started, so that
 * two snapshots never share an id (ids have one-second resolution) even when runs follow at once.
 */
export function nextStart(checkpoint: InventoryCheckpoint, nowMs: number): number {
  const previous = checkpoint.lastCompleted ? Date.parse(checkpoint.lastCompleted.startedAt) : Number.NaN;
  return Number.isNaN(previous) ? nowMs : Math.max(nowMs, Math.floor(previous / 1000) * 1000 + 1000);
}

export function isComplete(snapshot: SnapshotState): boolean {
  return (
    LIST_ORDER.every((name) => snapshot.lists[name].complete) &&
    snapshot.scanners.every((scanner) => scanner.complete) &&
    snapshot.policyDetails.every((policy) => policy.done)
  );
}

const isId = (value: unknown): value is Id =>
  (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value !== '');

/**
 * Adds an entry for each listed item whose id is not there yet, for a per-item phase; returns the
 * ids that cannot be used (absent, null, empty), for the caller to warn about.
 */
function addListed<T>(
  records: readonly ApiRecord[],
  entries: T[],
  idOf: (entry: T) => Id,
  make: (id: Id) => T,
): unknown[] {
  const known = new Set(entries.map((entry) => String(idOf(entry))));
  const unusable: unknown[] = [];
  for (const { id } of records) {
    if (!isId(id)) {
      unusable.push(id);
    } else if (!known.has(String(id))) {
      known.add(String(id));
      entries.push(make(id));
    }
  }
  return unusable;
}

/** Notes the listed connectors whose scanners the snapshot reads; returns the unusable ids. */
export const addConnectors = (snapshot: SnapshotState, records: readonly ApiRecord[]) =>
  addListed(
    records,
    snapshot.scanners,
    (entry) => entry.connectorId,
    (connectorId) => ({ connectorId, ...emptyProgress() }),
  );

/** Notes the listed policies whose details the snapshot reads; returns the unusable ids. */
export const addPolicies = (snapshot: SnapshotState, records: readonly ApiRecord[]) =>
  addListed(
    records,
    snapshot.policyDetails,
    (entry) => entry.policyId,
    (policyId) => ({ policyId, done: false }),
  );

/** Records and pages per curated table, as far as the snapshot has got. */
export function snapshotCounts(
  snapshot: SnapshotState,
): Record<InventoryTable, DatasetCount & { missing?: number; complete: boolean }> {
  const list = (name: ListDataset) => {
    const { records, pages, complete } = snapshot.lists[name];
    return { records, pages, complete };
  };
  const details = snapshot.policyDetails.filter((policy) => policy.done);
  return {
    sdr_connectors: list('connectors'),
    sdr_scanners: {
      records: sum(snapshot.scanners.map((scanner) => scanner.records)),
      pages: sum(snapshot.scanners.map((scanner) => scanner.pages)),
      missing: snapshot.scanners.filter((scanner) => scanner.missing).length,
      complete: snapshot.lists.connectors.complete && snapshot.scanners.every((scanner) => scanner.complete),
    },
    sdr_users: list('users'),
    sdr_groups: list('groups'),
    sdr_documents: list('documents'),
    sdr_applications: list('applications'),
    sdr_meetings: list('meetings'),
    sdr_policies: {
      records: details.filter((policy) => !policy.missing).length,
      // List pages plus the detail responses archived (a 404 or a refused id archives nothing).
      pages:
        snapshot.lists.policies.pages +
        details.filter((policy) => policy.missing !== 'not-found' && policy.missing !== 'refused').length,
      missing: details.filter((policy) => policy.missing).length,
      complete: snapshot.lists.policies.complete && snapshot.policyDetails.every((policy) => policy.done),
    },
  };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** The `sdr_snapshots` record of a snapshot completed at `completedAt` after `apiCalls` calls in all. */
export function snapshotRecord(
  snapshot: SnapshotState,
  completedAt: string,
  apiCalls: number,
): SnapshotRecord {
  const counts = snapshotCounts(snapshot);
  return {
    snapshot_id: snapshot.snapshotId,
    started_at: snapshot.startedAt,
    completed_at: completedAt,
    status: 'complete',
    page_size: snapshot.pageSize,
    runs: snapshot.runs,
    api_calls: apiCalls,
    datasets: Object.fromEntries(
      INVENTORY_DATASETS.map((table) => {
        const { complete: _, ...rest } = counts[table];
        return [table, rest];
      }),
    ) as SnapshotRecord['datasets'],
    lake_ingested_at: completedAt,
  };
}

/** The human-readable progress file `state/sdr-inventory/snapshots/<id>.json`. */
export function snapshotManifest(
  snapshot: SnapshotState,
  status: 'in-progress' | 'complete',
  updatedAt: string,
  extra: Record<string, unknown>,
) {
  const counts = snapshotCounts(snapshot);
  return {
    snapshot_id: snapshot.snapshotId,
    status,
    started_at: snapshot.startedAt,
    updated_at: updatedAt,
    dt: snapshot.dt,
    page_size: snapshot.pageSize,
    runs: snapshot.runs,
    api_calls: snapshot.apiCalls,
    datasets: Object.fromEntries(
      INVENTORY_DATASETS.map((table) => {
        const entry = counts[table];
        const list = LIST_ORDER.find((name) => LIST_TABLES[name] === table);
        const nextPage =
          list && !snapshot.lists[list].complete ? { next_page: snapshot.lists[list].nextPage } : {};
        return [table, { ...entry, ...nextPage }];
      }),
    ),
    scanners: snapshot.scanners.map((scanner) => ({
      connector_id: scanner.connectorId,
      pages: scanner.pages,
      records: scanner.records,
      complete: scanner.complete,
      ...(scanner.missing ? { missing: true } : {}),
    })),
    policies: {
      listed: snapshot.policyDetails.length,
      details_read: snapshot.policyDetails.filter((policy) => policy.done).length,
      missing: snapshot.policyDetails.filter((policy) => policy.missing).map((policy) => policy.policyId),
    },
    ...extra,
  };
}
