import { gunzipSync } from 'node:zlib';
import { describe, expect } from 'vitest';
import { INVENTORY_DATASETS } from '../../functions/core/names';
import type { SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import { sdrInventoryKeys } from '../../functions/sdr-inventory/keys';
import type { InventoryCheckpoint, SnapshotRecord } from '../../functions/sdr-inventory/snapshot';
import type { Simulator } from '../simulator/index';
import { ageLedger } from '../support/call-budget-ledger';
import { collectorTest, type TestLake } from '../support/fixtures';
import { multiset, servedInventory, untagged } from '../support/inventory-served';
import { type Handler, lambdaContext } from '../support/invoke';

/**
 * The built sdr-inventory bundle against the Qualys simulator and fauxqs: a snapshot, alone or
 * spread over several runs, lands the whole tenant once, and says when it is complete.
 */

/** Each handlerWith() is a fresh execution environment of the bundle (its own Qualys client and call budget). */
const test = collectorTest('sdr-inventory', {
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_CALL_RESERVE: '0',
  SDR_PAGE_SIZE: '200',
  SDR_MAX_CALLS_PER_RUN: '150',
});

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as SdrInventorySummary;

async function runToCompletion(handler: () => Promise<Handler>, between?: () => Promise<void>) {
  const summaries: SdrInventorySummary[] = [];
  for (let runs = 0; runs < 60; runs++) {
    const summary = await run(await handler());
    summaries.push(summary);
    if (summary.completedSnapshot) return summaries;
    await between?.();
  }
  throw new Error('the snapshot did not complete in 60 runs');
}

const snapshotRecords = (lake: TestLake) => lake.records<SnapshotRecord>('curated/sdr_snapshots/');
const manifest = (lake: TestLake, id: string) =>
  lake.json<{
    status: string;
    runs: number;
    datasets: Record<string, { records: number; complete: boolean }>;
  }>(sdrInventoryKeys.manifest(id));

/** Every curated table equals what the simulator serves: each record once, none missing. */
async function expectExactlyTheTenant(sim: Simulator, lake: TestLake, snapshotId: string) {
  const served = servedInventory(sim.data.sdr);
  for (const table of INVENTORY_DATASETS) {
    const records = await lake.records(`curated/${table}/`);
    expect(
      records.every((record) => record.lake_snapshot_id === snapshotId),
      table,
    ).toBe(true);
    expect(records.length, table).toBe(served[table].length);
    expect(multiset(records.map(untagged)), table).toEqual(multiset(served[table]));
  }
}

describe('sdr-inventory', () => {
  test('takes a whole snapshot in one run: every record of every dataset once, raw pages as served, a complete marker', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const summary = await run(await handlerWith());

    expect(summary).toMatchObject({
      collector: 'sdr-inventory',
      startedSnapshot: true,
      completedSnapshot: true,
    });
    const id = summary.snapshotId;
    const dt = `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}`;
    await expectExactlyTheTenant(sim, lake, id);

    const [record, ...others] = await snapshotRecords(lake);
    expect(others).toEqual([]);
    expect(await lake.keys('curated/sdr_snapshots/')).toEqual([
      `curated/sdr_snapshots/dt=${dt}/${id}.json.gz`,
    ]);
    expect(record).toMatchObject({ snapshot_id: id, status: 'complete', runs: 1, page_size: 200 });
    expect(record?.datasets.sdr_documents).toEqual({ records: sim.data.sdr.documents.length, pages: 3 });
    expect(Date.parse(record?.completed_at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(record?.started_at ?? ''),
    );
    expect((await manifest(lake, id)).status).toBe('complete');

    // The raw page is the response exactly as served, gzip-compressed.
    const raw = gunzipSync(await lake.bytes(`raw/sdr-inventory/snapshot=${id}/users/page=00000.json.gz`));
    expect(JSON.parse(raw.toString('utf8')).content).toEqual(JSON.parse(JSON.stringify(sim.data.sdr.users)));
    const keys = await lake.keys();
    expect(keys).toContain(`curated/sdr_users/dt=${dt}/snapshot=${id}-page=00000.json.gz`);
    expect(keys).toContain(`curated/sdr_scanners/dt=${dt}/snapshot=${id}-connector=2245-page=00000.json.gz`);
    expect(keys).toContain(`curated/sdr_policies/dt=${dt}/snapshot=${id}-policy=61.json.gz`);
    expect(
      keys.filter(
        (key) => !/^(raw\/sdr-inventory\/|curated\/sdr_|state\/sdr-inventory\/|state\/qualys\/)/.test(key),
      ),
    ).toEqual([]);
    expect(summary.apiCalls).toBe(sim.stats.requests);
  });

  test('spreads a snapshot over runs under SDR_MAX_CALLS_PER_RUN: in progress until the last page, then complete with no gaps or duplicates', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const env = { SDR_MAX_CALLS_PER_RUN: '4', SDR_PAGE_SIZE: '50' };

    const first = await run(await handlerWith(env));
    expect(first).toMatchObject({ completedSnapshot: false, snapshotStatus: 'in-progress', apiCalls: 4 });
    expect(first.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(await snapshotRecords(lake)).toEqual([]);
    const partial = await manifest(lake, first.snapshotId);
    expect(partial.status).toBe('in-progress');
    expect(partial.datasets.sdr_connectors).toMatchObject({ complete: true });
    expect(partial.datasets.sdr_documents).toMatchObject({ records: 0, complete: false });
    const state = await lake.json<InventoryCheckpoint>(sdrInventoryKeys.state);
    expect(state.current?.snapshotId).toBe(first.snapshotId);

    const rest = await runToCompletion(
      () => handlerWith(env),
      async () => {
        expect(await snapshotRecords(lake)).toEqual([]);
        expect((await manifest(lake, first.snapshotId)).status).toBe('in-progress');
      },
    );
    const all = [first, ...rest];
    expect(all.length).toBeGreaterThanOrEqual(7);
    for (const summary of all) {
      expect(summary.snapshotId).toBe(first.snapshotId);
      expect(summary.apiCalls).toBeLessThanOrEqual(4);
    }
    await expectExactlyTheTenant(sim, lake, first.snapshotId);
    const [record] = await snapshotRecords(lake);
    expect(record).toMatchObject({
      snapshot_id: first.snapshotId,
      runs: all.length,
      api_calls: sim.stats.requests,
    });
    expect((await manifest(lake, first.snapshotId)).status).toBe('complete');

    // The run after completion starts the next snapshot.
    const next = await run(await handlerWith(env));
    expect(next.startedSnapshot).toBe(true);
    expect(next.snapshotId).not.toBe(first.snapshotId);
  });

  describe('with an announced rate limit of 10 calls an hour', () => {
    test.override('simulatorOptions', { rateLimit: { limit: 10, windowSec: 3600, concurrency: 2 } });

    test('never draws a 429 when the rate limit is announced, keeping QUALYS_CALL_RESERVE for the other collectors', async ({
      aws,
      sim,
      lake,
      handlerWith,
    }) => {
      const env = { QUALYS_CALL_RESERVE: '3', SDR_PAGE_SIZE: '100' };

      const first = await run(await handlerWith(env));
      expect(first.completedSnapshot).toBe(false);
      expect(first.stoppedEarly).toMatch(/call budget spent/);
      expect(sim.stats.requests).toBe(7);

      // Each later run is in a new window; the snapshot carries on where the last one stopped.
      await runToCompletion(
        () => handlerWith(env),
        async () => {
          sim.control.advanceClock(3_600_000);
          // The collectors read the call-budget ledger by their own clock: an hour passes there too.
          await ageLedger(aws, lake.bucket, 3_600_000);
        },
      );
      expect(sim.stats.rateLimited).toBe(0);
      await expectExactlyTheTenant(sim, lake, first.snapshotId);
    });
  });

  test('fails on a malformed page mid-snapshot naming the endpoint, keeps what was written, and the next run resumes', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const env = { SDR_PAGE_SIZE: '50' };
    // Everything before the documents takes 19 calls at 50 per page; two more read documents pages 0 and 1.
    const first = await run(await handlerWith({ ...env, SDR_MAX_CALLS_PER_RUN: '21' }));
    const id = first.snapshotId;
    const documentsBefore = await lake.keys(`raw/sdr-inventory/snapshot=${id}/documents/`);
    expect(documentsBefore).toHaveLength(2);
    const curatedBefore = await lake.keys('curated/');

    sim.control.malformedNext(1);
    await expect(run(await handlerWith(env))).rejects.toThrow(/GET \/sdr\/api\/v1\/documents.*not JSON/);
    expect(await lake.keys('curated/')).toEqual(curatedBefore);
    expect(await snapshotRecords(lake)).toEqual([]);
    const state = await lake.json<InventoryCheckpoint>(sdrInventoryKeys.state);
    expect(state.current?.lists.documents).toMatchObject({ nextPage: 2, complete: false });

    const resumed = await run(await handlerWith(env));
    expect(resumed).toMatchObject({ snapshotId: id, startedSnapshot: false, completedSnapshot: true });
    expect(resumed.datasets).toEqual({
      sdr_documents: { pages: 7, records: sim.data.sdr.documents.length - 100 },
    });
    await expectExactlyTheTenant(sim, lake, id);
  });
});
