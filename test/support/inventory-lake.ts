import { expect } from 'vitest';
import { CURATED_DATASETS, type CuratedDataset, INVENTORY_DATASETS } from '../../functions/core/names';
import type { RunLogger } from '../../functions/core/ports';
import { fromNdjsonGzip, readJson } from '../../functions/core/records';
import { QualysClient } from '../../functions/qualys/client';
import { runSdrInventory, type SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import { sdrInventoryKeys } from '../../functions/sdr-inventory/keys';
import type { InventoryCheckpoint, SnapshotRecord } from '../../functions/sdr-inventory/snapshot';
import type { Simulator } from '../simulator/index';
import { multiset, servedInventory, untagged } from './inventory-served';
import { MemoryStore } from './memory-store';

/**
 * The inventory use case in unit tests: scheduled runs of runSdrInventory against a simulator
 * (over HTTP, through the real client) and an in-memory bucket, and what to look at afterwards.
 */

const START = Date.parse('2025-05-10T23:59:58.000Z');

const quiet: RunLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Lake {
  store: MemoryStore;
  clock: { time: number };
  /** One scheduled run, as a fresh Lambda (its own client) unless `client` is given. */
  run(options?: {
    maxCallsPerRun?: number;
    pageSize?: number;
    reserve?: number;
    deadlineMs?: number;
  }): Promise<SdrInventorySummary>;
}

export function lake(target: Simulator): Lake {
  const store = new MemoryStore();
  // Each run happens a minute after the last, so a run's timestamps are its own.
  const clock = { time: START };
  return {
    store,
    clock,
    async run(options = {}) {
      clock.time += 60_000;
      const qualys = new QualysClient({
        loadCredentials: async () => ({
          baseUrl: target.url,
          username: 'qualys-lake-demo',
          password: 'demo-password',
        }),
        // The simulator listens on 127.0.0.1 over plain http.
        gateway: { allowHttpLoopback: true },
        requestTimeoutMs: 5_000,
        maxRetries: 1,
        budget: { reserve: options.reserve ?? 0 },
      });
      return runSdrInventory(
        {
          qualys,
          store,
          logger: quiet,
          settings: { pageSize: options.pageSize ?? 200, maxCallsPerRun: options.maxCallsPerRun ?? 150 },
          now: () => clock.time,
        },
        { deadline: Date.now() + (options.deadlineMs ?? 60_000) },
      );
    },
  };
}

export const keysUnder = (store: MemoryStore, prefix: string) =>
  [...store.objects.keys()].filter((key) => key.startsWith(prefix)).sort();

export function curated(store: MemoryStore, table: CuratedDataset): Record<string, unknown>[] {
  return keysUnder(store, `curated/${table}/`).flatMap(
    (key) => fromNdjsonGzip(store.objects.get(key)?.body ?? new Uint8Array()) as Record<string, unknown>[],
  );
}

export function expectExactlyTheTenant(store: MemoryStore, target: Simulator) {
  const served = servedInventory(target.data.sdr);
  for (const table of INVENTORY_DATASETS) {
    const records = curated(store, table).map(untagged);
    expect(records.length, table).toBe(served[table].length);
    expect(multiset(records), table).toEqual(multiset(served[table]));
  }
}

export const state = (store: MemoryStore) => readJson<InventoryCheckpoint>(store, sdrInventoryKeys.state);
export const manifest = (store: MemoryStore, id: string) =>
  readJson<{
    status: string;
    datasets: Record<string, { records: number; complete: boolean }>;
    last_run?: { error?: string };
  }>(store, sdrInventoryKeys.manifest(id));
export const snapshotRecords = (store: MemoryStore) =>
  curated(store, CURATED_DATASETS.sdrSnapshots) as unknown as SnapshotRecord[];

/** Runs until the snapshot completes (bounded), returning every summary. */
export async function runToCompletion(
  l: Lake,
  options: Parameters<Lake['run']>[0] = {},
  between?: () => void,
) {
  const summaries: SdrInventorySummary[] = [];
  for (let runs = 0; runs < 100; runs++) {
    const summary = await l.run(options);
    summaries.push(summary);
    if (summary.completedSnapshot) return summaries;
    between?.();
  }
  throw new Error('the snapshot did not complete in 100 runs');
}
