import { describe, expect, it } from 'vitest';
import { INVENTORY_DATASETS } from '../../../functions/core/names';
import {
  addConnectors,
  addPolicies,
  isComplete,
  newSnapshot,
  nextStart,
  PLAIN_LISTS,
  type SnapshotState,
  snapshotCounts,
  snapshotManifest,
  snapshotRecord,
} from '../../../functions/sdr-inventory/snapshot';

const START = Date.parse('2025-05-10T23:59:58.250Z');

/** A snapshot with every list read to its end in one page of `records` records. */
function listed(records = 3): SnapshotState {
  const snapshot = newSnapshot(START, 50);
  for (const progress of Object.values(snapshot.lists)) {
    Object.assign(progress, { nextPage: 1, pages: 1, records, complete: true });
  }
  return snapshot;
}

describe('newSnapshot', () => {
  it('names the snapshot after its start, partitions it by the start date and reads nothing yet', () => {
    const snapshot = newSnapshot(START, 50);
    expect(snapshot).toMatchObject({
      snapshotId: '20250510T235958Z',
      startedAt: '2025-05-10T23:59:58.250Z',
      dt: '2025-05-10',
      pageSize: 50,
      runs: 0,
      apiCalls: 0,
      scanners: [],
      policyDetails: [],
    });
    expect(Object.keys(snapshot.lists)).toEqual(['connectors', 'policies', ...PLAIN_LISTS]);
    for (const progress of Object.values(snapshot.lists)) {
      expect(progress).toEqual({ nextPage: 0, pages: 0, records: 0, complete: false });
    }
    expect(isComplete(snapshot)).toBe(false);
  });
});

describe('nextStart', () => {
  it('starts now when no snapshot completed before, or the last one started more than a second ago', () => {
    expect(nextStart({ version: 1 }, START)).toBe(START);
    const lastCompleted = { snapshotId: 'x', startedAt: '2025-05-10T23:00:00.000Z', completedAt: 'y' };
    expect(nextStart({ version: 1, lastCompleted }, START)).toBe(START);
  });

  it('starts at the next whole second when the last snapshot started in this one', () => {
    const lastCompleted = { snapshotId: 'x', startedAt: '2025-05-10T23:59:58.900Z', completedAt: 'y' };
    expect(new Date(nextStart({ version: 1, lastCompleted }, START)).toISOString()).toBe(
      '2025-05-10T23:59:59.000Z',
    );
  });
});

describe('addConnectors and addPolicies', () => {
  it('note each usable id once, in list order, and return the unusable ones', () => {
    const snapshot = newSnapshot(START, 50);
    expect(addConnectors(snapshot, [{ id: 7 }, { id: 'a/b' }, { id: null }, {}, { id: '' }])).toEqual([
      null,
      undefined,
      '',
    ]);
    expect(addConnectors(snapshot, [{ id: 7 }, { id: 8 }])).toEqual([]);
    expect(snapshot.scanners.map((scanner) => scanner.connectorId)).toEqual([7, 'a/b', 8]);
    expect(snapshot.scanners[0]).toEqual({
      connectorId: 7,
      nextPage: 0,
      pages: 0,
      records: 0,
      complete: false,
    });

    expect(addPolicies(snapshot, [{ id: 61 }, { id: 61 }, { id: Number.NaN }])).toEqual([Number.NaN]);
    expect(snapshot.policyDetails).toEqual([{ policyId: 61, done: false }]);
  });
});

describe('isComplete', () => {
  it('waits for every list, every connector’s scanners and every policy’s detail', () => {
    const snapshot = listed();
    expect(isComplete(snapshot)).toBe(true);
    addConnectors(snapshot, [{ id: 1 }]);
    addPolicies(snapshot, [{ id: 61 }]);
    expect(isComplete(snapshot)).toBe(false);
    Object.assign(snapshot.scanners[0] ?? {}, { complete: true });
    expect(isComplete(snapshot)).toBe(false);
    Object.assign(snapshot.policyDetails[0] ?? {}, { done: true });
    expect(isComplete(snapshot)).toBe(true);
  });
});

describe('snapshotCounts', () => {
  it('counts scanners over connectors and policies from their details, missing ones apart', () => {
    const snapshot = listed();
    snapshot.scanners = [
      { connectorId: 1, nextPage: 2, pages: 2, records: 250, complete: true },
      { connectorId: 2, nextPage: 0, pages: 0, records: 0, complete: true, missing: true },
    ];
    snapshot.policyDetails = [
      { policyId: 61, done: true },
      { policyId: 62, done: true, missing: 'not-found' },
      { policyId: 63, done: true, missing: 'empty' },
      { policyId: 64, done: false },
    ];
    const counts = snapshotCounts(snapshot);
    expect(Object.keys(counts).sort()).toEqual([...INVENTORY_DATASETS].sort());
    expect(counts.sdr_users).toEqual({ records: 3, pages: 1, complete: true });
    expect(counts.sdr_scanners).toEqual({ records: 250, pages: 2, missing: 1, complete: true });
    // One list page, plus the details of 61 and 63 (a 404 archives nothing).
    expect(counts.sdr_policies).toEqual({ records: 1, pages: 3, missing: 2, complete: false });
  });
});

describe('snapshotRecord', () => {
  it('describes a completed snapshot with its counts per table, without progress flags', () => {
    const snapshot = listed(2);
    snapshot.runs = 3;
    const record = snapshotRecord(snapshot, '2025-05-11T01:00:00.000Z', 42);
    expect(record).toMatchObject({
      snapshot_id: '20250510T235958Z',
      started_at: '2025-05-10T23:59:58.250Z',
      completed_at: '2025-05-11T01:00:00.000Z',
      status: 'complete',
      page_size: 50,
      runs: 3,
      api_calls: 42,
      lake_ingested_at: '2025-05-11T01:00:00.000Z',
    });
    expect(Object.keys(record.datasets)).toEqual([...INVENTORY_DATASETS]);
    expect(record.datasets.sdr_documents).toEqual({ records: 2, pages: 1 });
    expect(record.datasets.sdr_policies).toEqual({ records: 0, pages: 1, missing: 0 });
  });
});

describe('snapshotManifest', () => {
  it('shows where each unfinished list resumes, the scanners per connector and the missing policies', () => {
    const snapshot = listed();
    Object.assign(snapshot.lists.documents, { nextPage: 4, pages: 4, complete: false });
    snapshot.scanners = [
      { connectorId: 2, nextPage: 0, pages: 0, records: 0, complete: true, missing: true },
    ];
    snapshot.policyDetails = [
      { policyId: 61, done: true },
      { policyId: 62, done: true, missing: 'not-found' },
    ];
    const manifest = snapshotManifest(snapshot, 'in-progress', '2025-05-11T00:30:00.000Z', {
      last_run: { api_calls: 5 },
    });
    expect(manifest).toMatchObject({
      snapshot_id: '20250510T235958Z',
      status: 'in-progress',
      updated_at: '2025-05-11T00:30:00.000Z',
      dt: '2025-05-10',
      scanners: [{ connector_id: 2, pages: 0, records: 0, complete: true, missing: true }],
      policies: { listed: 2, details_read: 2, missing: [62] },
      last_run: { api_calls: 5 },
    });
    expect(manifest.datasets.sdr_documents).toEqual({ records: 3, pages: 4, complete: false, next_page: 4 });
    expect(manifest.datasets.sdr_users).toEqual({ records: 3, pages: 1, complete: true });
  });
});
