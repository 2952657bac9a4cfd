import { describe, expect } from 'vitest';
import { INVENTORY_DATASETS } from '../../../functions/core/names';
import { readJson } from '../../../functions/core/records';
import { sdrInventoryKeys } from '../../../functions/sdr-inventory/keys';
import { PATHY_DOCUMENT_SOURCE_ID } from '../../simulator/index';
import { simulatorTest } from '../../support/fixtures';
import {
  curated,
  expectExactlyTheTenant,
  lake as inventoryLake,
  keysUnder,
  manifest,
  runToCompletion,
  snapshotRecords,
  state,
} from '../../support/inventory-lake';
import { servedInventory } from '../../support/inventory-served';

/**
 * The inventory use case against the Qualys simulator (over HTTP, through the real client) and an
 * in-memory bucket: several runs make one snapshot, and the union of what landed is the tenant.
 */

const test = simulatorTest.extend('lake', ({ sim }) => inventoryLake(sim));

describe('runSdrInventory against the simulator', () => {
  test('lands every record of every dataset exactly once in one run and marks the snapshot complete', async ({
    sim,
    lake,
  }) => {
    const summary = await lake.run();

    expect(summary).toMatchObject({
      startedSnapshot: true,
      completedSnapshot: true,
      snapshotStatus: 'complete',
    });
    expect(summary.stoppedEarly).toBeUndefined();
    expectExactlyTheTenant(lake.store, sim);

    // 1 connectors page, 5 scanner lists, 1 policy page, 6 details, users, groups, apps, meetings, 3 document pages.
    const sdr = sim.data.sdr;
    expect(summary.apiCalls).toBe(1 + sdr.connectors.length + 1 + sdr.policies.length + 4 + 3);
    expect(sim.stats.requests).toBe(summary.apiCalls);

    const id = summary.snapshotId;
    expect(id).toBe('20250511T000058Z');
    const [record, ...more] = snapshotRecords(lake.store);
    expect(more).toEqual([]);
    expect([...lake.store.objects.keys()]).toContain(`curated/sdr_snapshots/dt=2025-05-11/${id}.json.gz`);
    expect(record).toMatchObject({
      snapshot_id: id,
      status: 'complete',
      started_at: '2025-05-11T00:00:58.000Z',
      runs: 1,
    });
    expect(record?.datasets).toEqual({
      sdr_connectors: { records: sdr.connectors.length, pages: 1 },
      sdr_scanners: {
        records: servedInventory(sdr).sdr_scanners.length,
        pages: sdr.connectors.length,
        missing: 0,
      },
      sdr_users: { records: sdr.users.length, pages: 1 },
      sdr_groups: { records: sdr.groups.length, pages: 1 },
      sdr_documents: { records: sdr.documents.length, pages: 3 },
      sdr_applications: { records: sdr.applications.length, pages: 1 },
      sdr_meetings: { records: sdr.meetings.length, pages: 1 },
      sdr_policies: { records: sdr.policies.length, pages: 1 + sdr.policies.length, missing: 0 },
    });
    expect((await manifest(lake.store, id))?.status).toBe('complete');
    const saved = await state(lake.store);
    expect(saved).toMatchObject({ version: 1, lastCompleted: { snapshotId: id } });
    expect(saved?.current).toBeUndefined();
  });

  test('archives each response byte for byte and tags each curated record with its snapshot', async ({
    sim,
    lake,
  }) => {
    const { snapshotId: id } = await lake.run();

    const rawKeys = keysUnder(lake.store, 'raw/sdr-inventory/');
    expect(rawKeys).toContain(`raw/sdr-inventory/snapshot=${id}/documents/page=00002.json.gz`);
    expect(rawKeys).toContain(`raw/sdr-inventory/snapshot=${id}/scanners/connector=2193/page=00000.json.gz`);
    expect(rawKeys).toContain(`raw/sdr-inventory/snapshot=${id}/policy-details/policy=61.json.gz`);
    expect(rawKeys.every((key) => key.startsWith(`raw/sdr-inventory/snapshot=${id}/`))).toBe(true);
    const page = await readJson<{ content: unknown[]; number: number }>(
      lake.store,
      `raw/sdr-inventory/snapshot=${id}/documents/page=00001.json.gz`,
    );
    expect(page?.number).toBe(1);
    expect(page?.content).toEqual(JSON.parse(JSON.stringify(sim.data.sdr.documents.slice(200, 400))));

    expect(keysUnder(lake.store, 'curated/sdr_users/')).toEqual([
      `curated/sdr_users/dt=2025-05-11/snapshot=${id}-page=00000.json.gz`,
    ]);
    expect(keysUnder(lake.store, 'curated/sdr_policies/')).toContain(
      `curated/sdr_policies/dt=2025-05-11/snapshot=${id}-policy=284.json.gz`,
    );
    for (const table of INVENTORY_DATASETS) {
      for (const record of curated(lake.store, table)) {
        expect(record.lake_snapshot_id).toBe(id);
        expect(record.lake_ingested_at).toMatch(/^2025-05-11T00:00:58/);
        expect(String(record.lake_raw_key)).toMatch(new RegExp(`^raw/sdr-inventory/snapshot=${id}/`));
      }
    }
    // The per-policy body comes from the detail endpoint (Page-wrapped, content[0]).
    const policy = curated(lake.store, 'sdr_policies').find((record) => record.id === 61);
    expect(policy?.lake_raw_key).toBe(`raw/sdr-inventory/snapshot=${id}/policy-details/policy=61.json.gz`);
    expect(policy?.controls).toHaveLength(33);
  });

  test('spans several runs under SDR_MAX_CALLS_PER_RUN, shows the partial snapshot as in progress, and the union has no gaps or duplicates', async ({
    sim,
    lake,
  }) => {
    const first = await lake.run({ maxCallsPerRun: 5, pageSize: 25 });
    expect(first).toMatchObject({
      startedSnapshot: true,
      completedSnapshot: false,
      snapshotStatus: 'in-progress',
      apiCalls: 5,
    });
    expect(first.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(snapshotRecords(lake.store)).toEqual([]);
    const partial = await manifest(lake.store, first.snapshotId);
    expect(partial?.status).toBe('in-progress');
    expect(partial?.datasets.sdr_connectors).toMatchObject({
      records: sim.data.sdr.connectors.length,
      complete: true,
    });
    expect(partial?.datasets.sdr_documents).toMatchObject({ records: 0, complete: false });
    const saved = await state(lake.store);
    expect(saved?.current?.snapshotId).toBe(first.snapshotId);
    expect(saved?.current?.scanners.map((scanner) => scanner.connectorId)).toEqual(
      sim.data.sdr.connectors.map((c) => c.id),
    );

    // Until the last page lands, readers see an in-progress snapshot and no sdr_snapshots record.
    let partialRuns = 0;
    const rest = await runToCompletion(lake, { maxCallsPerRun: 5, pageSize: 25 }, () => {
      partialRuns++;
      expect(snapshotRecords(lake.store)).toEqual([]);
    });
    const all = [first, ...rest];
    expect(partialRuns).toBe(all.length - 2);
    expect(all.length).toBeGreaterThan(5);
    expect(new Set(all.map((summary) => summary.snapshotId))).toEqual(new Set([first.snapshotId]));
    for (const summary of all) expect(summary.apiCalls).toBeLessThanOrEqual(5);
    for (const summary of all.slice(0, -1)) expect(summary.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(sim.stats.requests).toBe(all.reduce((total, summary) => total + summary.apiCalls, 0));

    expectExactlyTheTenant(lake.store, sim);
    const [record] = snapshotRecords(lake.store);
    expect(record).toMatchObject({ snapshot_id: first.snapshotId, runs: all.length, page_size: 25 });
    expect(record?.api_calls).toBe(sim.stats.requests);
    expect(record?.datasets.sdr_documents).toEqual({ records: 450, pages: 18 });
    // Behind (LagSeconds) since the first snapshot started, until it completed.
    for (const summary of all.slice(0, -1)) expect(summary.freshAsOf).toBe(record?.started_at);
    expect(all.at(-1)?.freshAsOf).toBe(record?.completed_at);
    expect((await manifest(lake.store, first.snapshotId))?.status).toBe('complete');
  });

  describe('with 30 documents', () => {
    test.override('simulatorOptions', { sdr: { documents: 30 } });

    test('starts the next snapshot only on the run after the last one completed', async ({ sim, lake }) => {
      const first = await lake.run();
      expect(first.completedSnapshot).toBe(true);

      const second = await lake.run({ maxCallsPerRun: 3 });
      expect(second.startedSnapshot).toBe(true);
      expect(second.snapshotId).not.toBe(first.snapshotId);
      expect(snapshotRecords(lake.store).map((record) => record.snapshot_id)).toEqual([first.snapshotId]);
      expect((await manifest(lake.store, second.snapshotId))?.status).toBe('in-progress');

      const third = await lake.run();
      expect(third).toMatchObject({
        snapshotId: second.snapshotId,
        startedSnapshot: false,
        completedSnapshot: true,
      });
      expect(
        snapshotRecords(lake.store)
          .map((record) => record.snapshot_id)
          .sort(),
      ).toEqual([first.snapshotId, second.snapshotId].sort());
      // Each snapshot is complete on its own.
      for (const id of [first.snapshotId, second.snapshotId]) {
        const users = curated(lake.store, 'sdr_users').filter((record) => record.lake_snapshot_id === id);
        expect(users).toHaveLength(sim.data.sdr.users.length);
      }
    });
  });

  describe('with a small tenant', () => {
    test.override('simulatorOptions', {
      sdr: { documents: 5, users: 5, groups: 2, applications: 2, meetings: 1 },
    });

    test('gives two snapshots distinct ids even when the second starts in the same second', async ({
      lake,
    }) => {
      const first = await lake.run();
      lake.clock.time -= 60_000; // the next run happens at the very same instant
      const second = await lake.run();
      expect(second.snapshotId).not.toBe(first.snapshotId);
      expect(second.snapshotId > first.snapshotId).toBe(true);
      expect(snapshotRecords(lake.store)).toHaveLength(2);
    });
  });

  describe('with an announced rate limit of 12 calls an hour', () => {
    test.override('simulatorOptions', { rateLimit: { limit: 12, windowSec: 3600, concurrency: 2 } });

    test('paces itself under an announced rate limit: never draws a 429 and keeps QUALYS_CALL_RESERVE for the others', async ({
      sim,
      lake,
    }) => {
      const first = await lake.run({ reserve: 3, pageSize: 50 });
      expect(first.completedSnapshot).toBe(false);
      expect(first.stoppedEarly).toMatch(/call budget spent.*3 reserved for other collectors/);
      expect(first.apiCalls).toBe(9);
      expect(first.rateLimit).toMatchObject({ limit: 12, remaining: 3 });
      expect((await state(lake.store))?.current).toBeDefined();

      // Later windows: the next runs carry on, each within its window's budget.
      const rest = await runToCompletion(lake, { reserve: 3, pageSize: 50 }, () =>
        sim.control.advanceClock(3_600_000),
      );
      for (const summary of rest) expect(summary.apiCalls).toBeLessThanOrEqual(9);
      expect(sim.stats.rateLimited).toBe(0);
      expectExactlyTheTenant(lake.store, sim);
    });
  });

  test('fails the run on a malformed page mid-snapshot, naming the endpoint, keeps what was written and resumes there', async ({
    sim,
    lake,
  }) => {
    // 23 calls read everything before the documents; two more read documents pages 0 and 1 (of 18).
    const first = await lake.run({ maxCallsPerRun: 25, pageSize: 25 });
    expect(first.stoppedEarly).toBeDefined();
    const id = first.snapshotId;
    const before = keysUnder(lake.store, `raw/sdr-inventory/snapshot=${id}/documents/`);
    expect(before).toHaveLength(2);

    sim.control.malformedNext(1);
    const failed = lake.run({ maxCallsPerRun: 25, pageSize: 25 });
    await expect(failed).rejects.toThrow(/GET \/sdr\/api\/v1\/documents answered 200: the body is not JSON/);

    expect(keysUnder(lake.store, `raw/sdr-inventory/snapshot=${id}/documents/`)).toEqual(before);
    expect((await state(lake.store))?.current?.lists.documents).toMatchObject({
      nextPage: 2,
      pages: 2,
      complete: false,
    });
    const afterFailure = await manifest(lake.store, id);
    expect(afterFailure?.status).toBe('in-progress');
    expect(afterFailure?.last_run?.error).toMatch(/\/sdr\/api\/v1\/documents/);
    expect(snapshotRecords(lake.store)).toEqual([]);

    // A body that parses but is not a page fails the same way.
    sim.control.invalidNext(1);
    await expect(lake.run({ pageSize: 25 })).rejects.toThrow(
      /GET \/sdr\/api\/v1\/documents answered 200: unexpected response: content/,
    );

    const rest = await runToCompletion(lake, { pageSize: 25 });
    expect(rest.at(-1)?.snapshotId).toBe(id);
    expectExactlyTheTenant(lake.store, sim);
  });

  test('re-reads a page after a crash between writing it and saving the state, overwriting the same keys', async ({
    sim,
    lake,
  }) => {
    const put = lake.store.put.bind(lake.store);
    lake.store.put = async (key, body, options) => {
      // The process dies once the second users page is written: no state save gets through.
      if (
        key === sdrInventoryKeys.state &&
        lake.store.writes.some((written) => written.includes('/users/page=00001'))
      ) {
        throw new Error('simulated crash');
      }
      await put(key, body, options);
    };
    await expect(lake.run({ pageSize: 25 })).rejects.toThrow('simulated crash');
    lake.store.put = put;

    await runToCompletion(lake, { pageSize: 25 });
    const usersPage1 = lake.store.writes.filter((key) =>
      key.endsWith('sdr_users/dt=2025-05-11/snapshot=20250511T000058Z-page=00001.json.gz'),
    );
    expect(usersPage1).toHaveLength(2);
    expectExactlyTheTenant(lake.store, sim);
  });

  describe('with a connector of a type the API does not know', () => {
    test.override('simulatorOptions', { sdr: { includeUnknownConnectorType: true } });

    test('curates unknown connector types, null fields and path-like ids as they are, with safe keys', async ({
      sim,
      lake,
    }) => {
      const summary = await lake.run();
      expect(summary.completedSnapshot).toBe(true);
      expectExactlyTheTenant(lake.store, sim);

      const dropbox = curated(lake.store, 'sdr_connectors').find(
        (record) => record.connectorType === 'DROPBOX',
      );
      expect(dropbox).toMatchObject({ id: 2400, isPolicyEnabled: null, description: null, config: null });
      const scanners = curated(lake.store, 'sdr_scanners').filter(
        (record) => record.lake_connector_id === 2400,
      );
      expect(scanners.length).toBe(sim.data.sdr.scanners.get(2400)?.length);
      expect(
        curated(lake.store, 'sdr_documents').some((record) => record.sourceId === PATHY_DOCUMENT_SOURCE_ID),
      ).toBe(true);
      for (const key of lake.store.objects.keys()) expect(key).not.toMatch(/\/\.\.?\/|\s|\/\//);
    });
  });

  test('stops cleanly at the deadline and saves the snapshot for the next run', async ({ sim, lake }) => {
    const summary = await lake.run({ deadlineMs: 1_000 });
    expect(summary.stoppedEarly).toMatch(/deadline/);
    expect(summary.apiCalls).toBe(0);
    expect((await state(lake.store))?.current?.snapshotId).toBe(summary.snapshotId);

    const next = await lake.run();
    expect(next).toMatchObject({
      snapshotId: summary.snapshotId,
      startedSnapshot: false,
      completedSnapshot: true,
    });
    expectExactlyTheTenant(lake.store, sim);
  });

  test('finishes a snapshot at the page size it started with when SDR_PAGE_SIZE changes', async ({
    sim,
    lake,
  }) => {
    await lake.run({ maxCallsPerRun: 24, pageSize: 25 });
    const summaries = await runToCompletion(lake, { pageSize: 200 });
    expect(summaries.at(-1)?.completedSnapshot).toBe(true);
    expect(snapshotRecords(lake.store)[0]).toMatchObject({ page_size: 25 });
    expectExactlyTheTenant(lake.store, sim);
  });
});
