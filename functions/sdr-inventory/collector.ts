import { unreadablePrefix } from '../core/manifest';
import { ENV } from '../core/names';
import { readJson, toNdjsonGzip, writeJson } from '../core/records';
import { type CollectorDependencies, emptyRunCounts, Run, type RunCounts } from '../core/run';
import type { CallOptions } from '../qualys/client';
import type { ApiRecord } from '../qualys/schemas';
import type { SdrInventorySettings } from './config';
import { sdrInventoryKeys } from './keys';
import { sdrInventoryManifest } from './manifest';
import { readList, readPolicyDetail, readScanners, type SnapshotReader } from './read';
import {
  addConnectors,
  addPolicies,
  type DatasetCount,
  type InventoryCheckpoint,
  type InventoryTable,
  isComplete,
  type ListDataset,
  newSnapshot,
  nextStart,
  PLAIN_LISTS,
  snapshotManifest,
  snapshotRecord,
} from './snapshot';

/**
 * SaaSDR inventory snapshots. A snapshot reads every page of every dataset once: connectors (and
 * each connector's scanners), policies (and each policy's detail), users, groups, applications,
 * meetings and documents. A large tenant takes more calls than one run may spend (92,220
 * documents are 462 calls at 200 per page, against 300 calls per hour for the whole
 * subscription), so a snapshot resumes across runs from the state object, page by page, and is
 * marked complete (one `sdr_snapshots` record) only once every page has landed. Keys are derived
 * from the snapshot id and the page, so a page read again after a crash overwrites itself.
 */

export type SdrInventoryDependencies = CollectorDependencies<SdrInventorySettings>;

export interface SdrInventorySummary extends RunCounts {
  collector: 'sdr-inventory';
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
}

/** One run over the snapshot it reads, and the checkpoint that holds the snapshot. */
interface InventoryRun extends SnapshotReader {
  run: Run<SdrInventorySummary>;
  checkpoint: InventoryCheckpoint;
}

/** Runs the inventory collector once: starts a snapshot or continues the one in progress. */
export async function runSdrInventory(
  deps: SdrInventoryDependencies,
  call: CallOptions,
): Promise<SdrInventorySummary> {
  const { settings, logger, qualys } = deps;
  const previous = (await readJson<InventoryCheckpoint>(deps.store, sdrInventoryKeys.state)) ?? {
    version: 1,
  };
  if (previous.version !== 1) {
    throw new Error(
      `${sdrInventoryKeys.state} has version ${String(previous.version)}; this collector reads 1`,
    );
  }
  const startedSnapshot = previous.current === undefined;
  const snapshot =
    previous.current ?? newSnapshot(nextStart(previous, (deps.now ?? Date.now)()), settings.pageSize);
  if (!startedSnapshot && snapshot.pageSize !== settings.pageSize) {
    logger.info('Continuing the snapshot at the page size it started with', {
      snapshotId: snapshot.snapshotId,
      snapshotPageSize: snapshot.pageSize,
      configuredPageSize: settings.pageSize,
    });
  }
  snapshot.runs++;
  const { snapshotId } = snapshot;

  const run = new Run<SdrInventorySummary>(
    {
      ...deps,
      callLimit: { limit: settings.maxCallsPerRun, setting: ENV.sdrMaxCallsPerRun },
      unreadablePrefix: unreadablePrefix(sdrInventoryManifest),
    },
    {
      collector: 'sdr-inventory',
      snapshotId,
      snapshotStatus: 'in-progress',
      startedSnapshot,
      completedSnapshot: false,
      pages: 0,
      records: 0,
      datasets: {},
      ...emptyRunCounts(),
    },
  );
  const state: InventoryRun = {
    qualys,
    call,
    run,
    snapshot,
    checkpoint: { ...previous, current: snapshot },
    save: () => saveState(state),
    counted: (table, pages, records) => count(run.summary, table, pages, records),
  };

  await run.steps(() => readSnapshot(state), 'Stopping early; the next run continues the snapshot');
  const failure = run.failure as Error | undefined;
  if (failure) {
    logger.error('The SDR inventory run failed; the next run resumes from the last page written', {
      snapshotId,
      error: failure.message,
    });
  }
  const saveFailure = run.summary.completedSnapshot ? undefined : await saveProgress(state, failure);
  run.summary.freshAsOf = state.checkpoint.lastCompleted?.completedAt ?? state.checkpoint.current?.startedAt;
  const summary = await run.finish();
  if (saveFailure) throw saveFailure;
  return summary;
}

/** The snapshot in reading order: connectors and their scanners, policies and their details, the rest. */
async function readSnapshot(state: InventoryRun): Promise<void> {
  const { run, snapshot } = state;
  const { snapshotId } = snapshot;
  if (run.summary.startedSnapshot) {
    run.logger.info('Starting an SDR inventory snapshot', { snapshotId, pageSize: snapshot.pageSize });
  }
  await saveState(state);
  if (run.summary.startedSnapshot) await writeManifest(state, 'in-progress');

  await readListOnce(state, 'connectors', (records) =>
    warnUnusable(
      state,
      addConnectors(snapshot, records),
      'A listed connector has no usable id: it is curated as it is, but its scanners cannot be read',
    ),
  );
  for (const scanner of snapshot.scanners) if (!scanner.complete) await readScanners(state, scanner);

  await readListOnce(state, 'policies', (records) =>
    warnUnusable(
      state,
      addPolicies(snapshot, records),
      'A listed policy has no usable id, so its detail (what sdr_policies holds) cannot be read',
    ),
  );
  for (const policy of snapshot.policyDetails) if (!policy.done) await readPolicyDetail(state, policy);

  for (const name of PLAIN_LISTS) await readListOnce(state, name);

  if (isComplete(snapshot)) await complete(state);
}

/** Reads a list the snapshot has not finished, then updates the manifest. */
async function readListOnce(
  state: InventoryRun,
  name: ListDataset,
  onPage?: (records: readonly ApiRecord[]) => void,
): Promise<void> {
  if (state.snapshot.lists[name].complete) return;
  await readList(state, name, onPage);
  await writeManifest(state, 'in-progress');
}

/** Listed items without a usable id are curated as they are, but have no per-item phase. */
function warnUnusable({ run, snapshot }: InventoryRun, ids: readonly unknown[], message: string): void {
  for (const id of ids) {
    run.logger.warn(message, {
      snapshotId: snapshot.snapshotId,
      id: id === undefined ? '(absent)' : JSON.stringify(id),
    });
  }
}

/** Every page has landed: the snapshot record, then the manifest, then the state. */
async function complete(state: InventoryRun): Promise<void> {
  const { run, snapshot } = state;
  const { snapshotId, dt } = snapshot;
  const completedAt = run.isoNow();
  const apiCalls = snapshot.apiCalls + run.callsMade;
  const record = snapshotRecord(snapshot, completedAt, apiCalls);
  await run.store.put(sdrInventoryKeys.snapshotRecord(dt, snapshotId), toNdjsonGzip([record]), {
    contentType: 'application/x-ndjson',
    contentEncoding: 'gzip',
  });
  await writeManifest(state, 'complete', { completed_at: completedAt, api_calls: apiCalls });
  state.checkpoint = {
    version: 1,
    lastCompleted: { snapshotId, startedAt: snapshot.startedAt, completedAt },
  };
  await saveState(state);
  run.summary.completedSnapshot = true;
  run.summary.snapshotStatus = 'complete';
  run.logger.info('SDR inventory snapshot complete', {
    snapshotId,
    runs: snapshot.runs,
    datasets: record.datasets,
  });
}

/**
 * A run that ends before the snapshot completes adds its calls to the snapshot and says in the
 * manifest how it ended. Best effort: a failed write here must not hide why the run failed, so it
 * is logged and returned, to be thrown only when the run did not fail before.
 */
async function saveProgress(state: InventoryRun, failure: Error | undefined): Promise<unknown> {
  const { run, snapshot } = state;
  const { stoppedEarly } = run.summary;
  try {
    snapshot.apiCalls += run.callsMade;
    await saveState(state);
    await writeManifest(state, 'in-progress', {
      last_run: {
        ended_at: run.isoNow(),
        api_calls: run.callsMade,
        ...(stoppedEarly ? { stopped_early: stoppedEarly } : {}),
        ...(failure ? { error: failure.message } : {}),
      },
    });
    return undefined;
  } catch (error) {
    run.logger.error('Saving the inventory state at the end of the run failed', {
      error: (error as Error).message,
    });
    return error;
  }
}

async function saveState(state: InventoryRun): Promise<void> {
  state.checkpoint = { ...state.checkpoint, updatedAt: state.run.isoNow() };
  await writeJson(state.run.store, sdrInventoryKeys.state, state.checkpoint);
}

async function writeManifest(
  { run, snapshot }: InventoryRun,
  status: 'in-progress' | 'complete',
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeJson(
    run.store,
    sdrInventoryKeys.manifest(snapshot.snapshotId),
    snapshotManifest(snapshot, status, run.isoNow(), extra),
  );
}

/** Adds what one page (or policy detail) wrote to the run summary. */
function count(summary: SdrInventorySummary, table: InventoryTable, pages: number, records: number): void {
  const entry = summary.datasets[table] ?? { records: 0, pages: 0 };
  entry.pages += pages;
  entry.records += records;
  summary.datasets[table] = entry;
  summary.pages += pages;
  summary.records += records;
}
