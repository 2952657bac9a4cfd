import type { CallOptions, JsonResponse, QualysClient } from '../qualys/client';
import { BudgetExhaustedError, isStopSignal, QualysApiError } from '../qualys/errors';
import { type ApiRecord, type Page, PageSchema } from '../qualys/schemas';
import { SDR_PATHS } from '../qualys/sdr';
import { CheckpointStore } from './checkpoint';
import { CURATED_DATASETS, type CuratedDataset, collectorPrefix, INVENTORY_DATASETS, PREFIX } from './names';
import { pages } from './paginate';
import type { ObjectStore, PutOptions, RunLogger } from './ports';
import { gzip, keyTime, safeKeySegment, toNdjsonGzip, utcDate } from './records';

/**
 * SaaSDR inventory snapshots. A snapshot reads every page of every dataset once: connectors (and
 * each connector's scanners), policies (and each policy's detail), users, groups, applications,
 * meetings and documents. A large tenant takes more calls than one run may spend (92,220
 * documents are 462 calls at 200 per page, against 300 calls per hour for the whole
 * subscription), so a snapshot resumes across runs from the state object, page by page, and is
 * marked complete (one `sdr_snapshots` record) only once every page has landed. Keys are derived
 * from the snapshot id and the page, so a page read again after a crash overwrites itself.
 */

const NAME = 'sdr-inventory';
const RAW = collectorPrefix('raw', NAME);
const STATE = collectorPrefix('state', NAME);

/** The list endpoints, in the order a snapshot reads them: small reference data first, documents last. */
export const LIST_DATASETS = {
  connectors: { path: SDR_PATHS.connectors, table: CURATED_DATASETS.sdrConnectors },
  policies: { path: SDR_PATHS.policies, table: CURATED_DATASETS.sdrPolicies },
  users: { path: SDR_PATHS.users, table: CURATED_DATASETS.sdrUsers },
  groups: { path: SDR_PATHS.groups, table: CURATED_DATASETS.sdrGroups },
  applications: { path: SDR_PATHS.applications, table: CURATED_DATASETS.sdrApplications },
  meetings: { path: SDR_PATHS.meetings, table: CURATED_DATASETS.sdrMeetings },
  documents: { path: SDR_PATHS.documents, table: CURATED_DATASETS.sdrDocuments },
} as const;
export type ListDataset = keyof typeof LIST_DATASETS;
const LIST_ORDER = Object.keys(LIST_DATASETS) as ListDataset[];
/** Lists without a per-item phase, read after connectors (scanners) and policies (details). */
const PLAIN_LISTS: ListDataset[] = ['users', 'groups', 'applications', 'meetings', 'documents'];

/** The curated tables of one snapshot. */
export const INVENTORY_TABLES = INVENTORY_DATASETS;
export type InventoryTable = (typeof INVENTORY_TABLES)[number];

const pageNumber = (page: number) => `page=${String(page).padStart(5, '0')}`;

/** S3 keys of the inventory collector; every data key is fixed by snapshot id and page. */
export const inventoryKeys = {
  state: `${STATE}checkpoint.json`,
  manifest: (snapshotId: string) => `${STATE}snapshots/${snapshotId}.json`,
  raw: (snapshotId: string, dataset: ListDataset, page: number) =>
    `${RAW}snapshot=${snapshotId}/${dataset}/${pageNumber(page)}.json.gz`,
  rawScanners: (snapshotId: string, connectorId: Id, page: number) =>
    `${RAW}snapshot=${snapshotId}/scanners/connector=${safeKeySegment(connectorId)}/${pageNumber(page)}.json.gz`,
  rawPolicy: (snapshotId: string, policyId: Id) =>
    `${RAW}snapshot=${snapshotId}/policy-details/policy=${safeKeySegment(policyId)}.json.gz`,
  curated: (table: CuratedDataset, dt: string, snapshotId: string, page: number) =>
    `${curatedPrefix(table, dt)}snapshot=${snapshotId}-${pageNumber(page)}.json.gz`,
  curatedScanners: (dt: string, snapshotId: string, connectorId: Id, page: number) =>
    `${curatedPrefix(CURATED_DATASETS.sdrScanners, dt)}snapshot=${snapshotId}-connector=${safeKeySegment(connectorId)}-${pageNumber(page)}.json.gz`,
  curatedPolicy: (dt: string, snapshotId: string, policyId: Id) =>
    `${curatedPrefix(CURATED_DATASETS.sdrPolicies, dt)}snapshot=${snapshotId}-policy=${safeKeySegment(policyId)}.json.gz`,
  snapshotRecord: (dt: string, snapshotId: string) =>
    `${curatedPrefix(CURATED_DATASETS.sdrSnapshots, dt)}${snapshotId}.json.gz`,
};

function curatedPrefix(table: CuratedDataset, dt: string): string {
  return `${PREFIX.curated}${table}/dt=${dt}/`;
}

type Id = string | number;

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
  /** Why the policy is not in the snapshot: its detail answered 404, or a page without it. */
  missing?: 'not-found' | 'empty';
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

export interface InventorySettings {
  /** Page size of new snapshots, at most 200. */
  pageSize: number;
  /** Calls one run may make, so the inventory never starves the other collectors. */
  maxCallsPerRun: number;
}

export interface InventoryDependencies {
  qualys: Pick<QualysClient, 'getJson' | 'budget'>;
  store: ObjectStore;
  logger: RunLogger;
  settings: InventorySettings;
  now?: () => number;
}

export interface DatasetCount {
  records: number;
  pages: number;
}

export interface InventoryRunSummary {
  collector: typeof NAME;
  snapshotId: string;
  /** Status of the snapshot when the run ended. */
  snapshotStatus: 'in-progress' | 'complete';
  /** This run started the snapshot. */
  startedSnapshot: boolean;
  /** This run read the snapshot's last page and wrote its `sdr_snapshots` record. */
  completedSnapshot: boolean;
  /** Responses archived by this run. */
  pages: number;
  /** Records curated by this run. */
  records: number;
  /** What this run wrote, per curated table. */
  datasets: Partial<Record<InventoryTable, DatasetCount>>;
  objectsWritten: number;
  apiCalls: number;
  rateLimit: Record<string, number | undefined>;
  /** Why the run ended before the snapshot completed, when it did: call limit, budget, deadline. */
  stoppedEarly?: string;
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

interface Fetched {
  body: Page;
  raw: Uint8Array;
}

const isId = (value: unknown): value is Id =>
  (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value !== '');

const emptyProgress = (): PagedProgress => ({ nextPage: 0, pages: 0, records: 0, complete: false });

function newSnapshot(startedAtMs: number, pageSize: number): SnapshotState {
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
function nextStart(checkpoint: InventoryCheckpoint, nowMs: number): number {
  const previous = checkpoint.lastCompleted ? Date.parse(checkpoint.lastCompleted.startedAt) : Number.NaN;
  return Number.isNaN(previous) ? nowMs : Math.max(nowMs, Math.floor(previous / 1000) * 1000 + 1000);
}

function isComplete(snapshot: SnapshotState): boolean {
  return (
    LIST_ORDER.every((name) => snapshot.lists[name].complete) &&
    snapshot.scanners.every((scanner) => scanner.complete) &&
    snapshot.policyDetails.every((policy) => policy.done)
  );
}

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
      // List pages plus the detail responses archived (a 404 archives nothing).
      pages:
        snapshot.lists.policies.pages + details.filter((policy) => policy.missing !== 'not-found').length,
      missing: details.filter((policy) => policy.missing).length,
      complete: snapshot.lists.policies.complete && snapshot.policyDetails.every((policy) => policy.done),
    },
  };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** Runs the inventory collector once: starts a snapshot or continues the one in progress. */
export async function runSdrInventory(
  deps: InventoryDependencies,
  call: CallOptions,
): Promise<InventoryRunSummary> {
  const { store, settings, logger, qualys } = deps;
  const now = deps.now ?? Date.now;
  const checkpoints = new CheckpointStore<InventoryCheckpoint>(store, inventoryKeys.state);
  const callsBefore = qualys.budget.callsMade;
  const callsThisRun = () => qualys.budget.callsMade - callsBefore;

  let checkpoint: InventoryCheckpoint = (await checkpoints.load()) ?? { version: 1 };
  if (checkpoint.version !== 1) {
    throw new Error(
      `${inventoryKeys.state} has version ${String(checkpoint.version)}; this collector reads 1`,
    );
  }
  const startedSnapshot = checkpoint.current === undefined;
  const snapshot = checkpoint.current ?? newSnapshot(nextStart(checkpoint, now()), settings.pageSize);
  if (!startedSnapshot && snapshot.pageSize !== settings.pageSize) {
    logger.info('Continuing the snapshot at the page size it started with', {
      snapshotId: snapshot.snapshotId,
      snapshotPageSize: snapshot.pageSize,
      configuredPageSize: settings.pageSize,
    });
  }
  snapshot.runs++;
  checkpoint = { ...checkpoint, current: snapshot };
  const { snapshotId, dt } = snapshot;

  const summary: InventoryRunSummary = {
    collector: NAME,
    snapshotId,
    snapshotStatus: 'in-progress',
    startedSnapshot,
    completedSnapshot: false,
    pages: 0,
    records: 0,
    datasets: {},
    objectsWritten: 0,
    apiCalls: 0,
    rateLimit: {},
  };
  const put = async (key: string, body: Uint8Array | string, options: PutOptions) => {
    await store.put(key, body, options);
    summary.objectsWritten++;
  };
  const saveState = async () => {
    checkpoint = { ...checkpoint, updatedAt: new Date(now()).toISOString() };
    await checkpoints.save(checkpoint);
  };
  const count = (table: InventoryTable, pagesRead: number, records: number) => {
    const entry = summary.datasets[table] ?? { records: 0, pages: 0 };
    entry.pages += pagesRead;
    entry.records += records;
    summary.datasets[table] = entry;
    summary.pages += pagesRead;
    summary.records += records;
  };
  const writeManifest = async (status: 'in-progress' | 'complete', extra: Record<string, unknown> = {}) => {
    await put(
      inventoryKeys.manifest(snapshotId),
      `${JSON.stringify(manifestOf(snapshot, status, now(), extra), null, 2)}\n`,
      {
        contentType: 'application/json',
      },
    );
  };

  /** One counted GET, refused once this run has spent SDR_MAX_CALLS_PER_RUN. */
  async function get(path: string, query: Record<string, number>): Promise<Fetched> {
    if (callsThisRun() >= settings.maxCallsPerRun) {
      throw new BudgetExhaustedError(
        0,
        `this run made ${callsThisRun()} calls, the SDR_MAX_CALLS_PER_RUN limit of ${settings.maxCallsPerRun}`,
      );
    }
    const response: JsonResponse<Page> = await qualys.getJson(path, query, PageSchema, call);
    return { body: response.body, raw: response.raw };
  }

  /** `page`/`size` paging of one list endpoint from `start`, at the snapshot's page size. */
  function listing(path: string, start: number) {
    const size = snapshot.pageSize;
    return pages<Fetched>({
      start,
      fetchPage: (page) => get(path, { page, size }),
      info: ({ body }) => ({ count: body.content.length, last: body.last }),
      advance: (page) => page + 1,
      pageSize: size,
    });
  }

  async function archive(key: string, path: string, raw: Uint8Array, metadata: Record<string, string>) {
    await put(key, gzip(raw), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: { 'qualys-endpoint': path, 'snapshot-id': snapshotId, ...metadata },
    });
  }

  async function curate(key: string, records: readonly ApiRecord[], rawKey: string, extra = {}) {
    if (records.length === 0) return;
    const ingestedAt = new Date(now()).toISOString();
    const tagged = records.map((record) => ({
      ...record,
      ...extra,
      lake_snapshot_id: snapshotId,
      lake_ingested_at: ingestedAt,
      lake_raw_key: rawKey,
    }));
    await put(key, toNdjsonGzip(tagged), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
  }

  /** Reads one list from its next page to its end; each page is written, then the state saved. */
  async function readList(name: ListDataset, onPage?: (records: readonly ApiRecord[]) => void) {
    const progress = snapshot.lists[name];
    if (progress.complete) return;
    const { path, table } = LIST_DATASETS[name];
    for await (const { cursor: page, next, page: fetched } of listing(path, progress.nextPage)) {
      const rawKey = inventoryKeys.raw(snapshotId, name, page);
      await archive(rawKey, path, fetched.raw, { page: String(page), size: String(snapshot.pageSize) });
      const records = fetched.body.content;
      // Policies are curated from their detail endpoint; the list only says which to read.
      const curated = name === 'policies' ? 0 : records.length;
      if (curated > 0) await curate(inventoryKeys.curated(table, dt, snapshotId, page), records, rawKey);
      onPage?.(records);
      progress.nextPage = next ?? page + 1;
      progress.pages++;
      progress.records += records.length;
      progress.complete = next === undefined;
      await saveState();
      count(table, 1, curated);
    }
    await writeManifest('in-progress');
  }

  /** Remembers each listed item's id for a per-item phase; ids already listed are not added again. */
  function collectIds<T>(
    records: readonly ApiRecord[],
    entries: T[],
    idOf: (entry: T) => Id,
    make: (id: Id) => T,
    skipped: string,
  ) {
    const known = new Set(entries.map((entry) => String(idOf(entry))));
    for (const record of records) {
      const id = record.id;
      if (!isId(id)) {
        logger.warn(skipped, { snapshotId, id: id === undefined ? '(absent)' : JSON.stringify(id) });
        continue;
      }
      if (known.has(String(id))) continue;
      known.add(String(id));
      entries.push(make(id));
    }
  }

  async function readScanners(scanner: ScannerProgress) {
    const path = SDR_PATHS.scanners(scanner.connectorId);
    try {
      for await (const { cursor: page, next, page: fetched } of listing(path, scanner.nextPage)) {
        const rawKey = inventoryKeys.rawScanners(snapshotId, scanner.connectorId, page);
        await archive(rawKey, path, fetched.raw, { page: String(page), size: String(snapshot.pageSize) });
        const records = fetched.body.content;
        await curate(
          inventoryKeys.curatedScanners(dt, snapshotId, scanner.connectorId, page),
          records,
          rawKey,
          { lake_connector_id: scanner.connectorId },
        );
        scanner.nextPage = next ?? page + 1;
        scanner.pages++;
        scanner.records += records.length;
        scanner.complete = next === undefined;
        await saveState();
        count(CURATED_DATASETS.sdrScanners, 1, records.length);
      }
    } catch (error) {
      if (!isGone(error)) throw error;
      // Deleted between the connector list and this call: it has no scanners in this snapshot.
      logger.warn('A listed connector was gone when its scanners were read', {
        snapshotId,
        connectorId: scanner.connectorId,
        error: (error as Error).message,
      });
      scanner.missing = true;
      scanner.complete = true;
      await saveState();
    }
  }

  async function readPolicyDetail(policy: PolicyDetailProgress) {
    const path = SDR_PATHS.policy(policy.policyId);
    let fetched: Fetched | undefined;
    try {
      fetched = await get(path, {});
    } catch (error) {
      if (!isGone(error)) throw error;
      logger.warn('A listed policy was gone when its detail was read', {
        snapshotId,
        policyId: policy.policyId,
        error: (error as Error).message,
      });
    }
    // The detail body is a Page like the list, holding the one policy (API guide, "Policy APIs").
    const detail = fetched?.body.content[0];
    if (fetched) {
      const rawKey = inventoryKeys.rawPolicy(snapshotId, policy.policyId);
      await archive(rawKey, path, fetched.raw, { 'policy-id': encodeURIComponent(String(policy.policyId)) });
      if (detail) {
        await curate(inventoryKeys.curatedPolicy(dt, snapshotId, policy.policyId), [detail], rawKey);
      } else {
        logger.warn('A policy detail came back without the policy', {
          snapshotId,
          policyId: policy.policyId,
        });
      }
    }
    policy.done = true;
    if (!detail) policy.missing = fetched ? 'empty' : 'not-found';
    await saveState();
    count(CURATED_DATASETS.sdrPolicies, fetched ? 1 : 0, detail ? 1 : 0);
  }

  let failure: unknown;
  try {
    if (startedSnapshot) {
      logger.info('Starting an SDR inventory snapshot', { snapshotId, pageSize: snapshot.pageSize });
    }
    await saveState();
    if (startedSnapshot) await writeManifest('in-progress');

    await readList('connectors', (records) =>
      collectIds(
        records,
        snapshot.scanners,
        (entry) => entry.connectorId,
        (connectorId) => ({ connectorId, ...emptyProgress() }),
        'A listed connector has no usable id: it is curated as it is, but its scanners cannot be read',
      ),
    );
    for (const scanner of snapshot.scanners) if (!scanner.complete) await readScanners(scanner);

    await readList('policies', (records) =>
      collectIds(
        records,
        snapshot.policyDetails,
        (entry) => entry.policyId,
        (policyId) => ({ policyId, done: false }),
        'A listed policy has no usable id, so its detail (what sdr_policies holds) cannot be read',
      ),
    );
    for (const policy of snapshot.policyDetails) if (!policy.done) await readPolicyDetail(policy);

    for (const name of PLAIN_LISTS) await readList(name);

    if (isComplete(snapshot)) {
      await complete();
      summary.completedSnapshot = true;
      summary.snapshotStatus = 'complete';
    }
  } catch (error) {
    if (isStopSignal(error)) {
      summary.stoppedEarly = error.message;
      logger.info('Stopping early; the next run continues the snapshot', {
        snapshotId,
        reason: error.message,
      });
    } else {
      failure = error;
      logger.error('The SDR inventory run failed; the next run resumes from the last page written', {
        snapshotId,
        error: (error as Error).message,
      });
    }
  }

  summary.apiCalls = callsThisRun();
  summary.rateLimit = qualys.budget.rateLimitReport;

  if (!summary.completedSnapshot) {
    // Best effort: a failed write here must not hide why the run failed.
    try {
      snapshot.apiCalls += summary.apiCalls;
      await saveState();
      await writeManifest('in-progress', {
        last_run: {
          ended_at: new Date(now()).toISOString(),
          api_calls: summary.apiCalls,
          ...(summary.stoppedEarly ? { stopped_early: summary.stoppedEarly } : {}),
          ...(failure ? { error: (failure as Error).message } : {}),
        },
      });
    } catch (error) {
      logger.error('Saving the inventory state at the end of the run failed', {
        error: (error as Error).message,
      });
      failure ??= error;
    }
  }
  if (failure) throw failure;
  return summary;

  /** Every page has landed: the snapshot record, then the manifest, then the state. */
  async function complete() {
    const completedAt = new Date(now()).toISOString();
    const apiCalls = snapshot.apiCalls + callsThisRun();
    const counts = snapshotCounts(snapshot);
    const record: SnapshotRecord = {
      snapshot_id: snapshotId,
      started_at: snapshot.startedAt,
      completed_at: completedAt,
      status: 'complete',
      page_size: snapshot.pageSize,
      runs: snapshot.runs,
      api_calls: apiCalls,
      datasets: Object.fromEntries(
        INVENTORY_TABLES.map((table) => {
          const { complete: _, ...rest } = counts[table];
          return [table, rest];
        }),
      ) as SnapshotRecord['datasets'],
      lake_ingested_at: completedAt,
    };
    await put(inventoryKeys.snapshotRecord(dt, snapshotId), toNdjsonGzip([record]), {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
    await writeManifest('complete', { completed_at: completedAt, api_calls: apiCalls });
    checkpoint = {
      version: 1,
      lastCompleted: { snapshotId, startedAt: snapshot.startedAt, completedAt },
    };
    await saveState();
    logger.info('SDR inventory snapshot complete', {
      snapshotId,
      runs: snapshot.runs,
      datasets: record.datasets,
    });
  }
}

/** A 404 on a per-item endpoint: the connector or policy was deleted after it was listed. */
function isGone(error: unknown): boolean {
  return error instanceof QualysApiError && error.status === 404;
}

/** The human-readable progress file `state/sdr-inventory/snapshots/<id>.json`. */
function manifestOf(
  snapshot: SnapshotState,
  status: 'in-progress' | 'complete',
  nowMs: number,
  extra: Record<string, unknown>,
) {
  const counts = snapshotCounts(snapshot);
  return {
    snapshot_id: snapshot.snapshotId,
    status,
    started_at: snapshot.startedAt,
    updated_at: new Date(nowMs).toISOString(),
    dt: snapshot.dt,
    page_size: snapshot.pageSize,
    runs: snapshot.runs,
    api_calls: snapshot.apiCalls,
    datasets: Object.fromEntries(
      INVENTORY_TABLES.map((table) => {
        const entry = counts[table];
        const list = LIST_ORDER.find((name) => LIST_DATASETS[name].table === table);
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
