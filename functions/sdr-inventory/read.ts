import { CURATED_DATASETS } from '../core/names';
import { pageNumberPaging } from '../core/paging';
import { gzip, toNdjsonGzip } from '../core/records';
import type { Run, RunCounts } from '../core/run';
import { keyInBucket } from '../core/scoped-store';
import type { CallOptions, JsonResponse, QualysClient } from '../qualys/client';
import { QualysApiError } from '../qualys/errors';
import { pathSegmentProblem } from '../qualys/path-segment';
import { type ApiRecord, ApiRecordSchema, type Page } from '../qualys/schemas';
import { getPolicyDetail, listScanners, listSdrPage, SDR_PATHS } from '../qualys/sdr';
import { type Rejected, screen } from '../qualys/validation';
import { sdrInventoryKeys } from './keys';
import {
  type Id,
  type InventoryTable,
  LIST_TABLES,
  type ListDataset,
  type PagedProgress,
  type PolicyDetailProgress,
  type ScannerProgress,
  type SnapshotState,
} from './snapshot';

/**
 * Reading one part of a snapshot: a list from its next page to its end, one connector's scanners,
 * one policy's detail. Each page is archived byte for byte, curated, and then the state is saved,
 * so a run that stops anywhere resumes at the first page not yet written.
 */

export interface SnapshotReader {
  qualys: Pick<QualysClient, 'getJson' | 'budget'>;
  call: CallOptions;
  run: Pick<Run<RunCounts>, 'store' | 'logger' | 'spendCall' | 'isoNow' | 'setAside'>;
  snapshot: SnapshotState;
  /** Saves the snapshot state; called after each page. */
  save(): Promise<void>;
  /** Adds what one page (or detail) wrote to the run summary. */
  counted(table: InventoryTable, pages: number, records: number): void;
}

type PageQuery = { page: number; size: number };

interface PagedSource {
  progress: PagedProgress;
  /** The endpoint, for the archived object's metadata. */
  path: string;
  table: InventoryTable;
  fetch(query: PageQuery): Promise<JsonResponse<Page>>;
  rawKey(page: number): string;
  /** Where a page's items that are not objects are set aside. */
  rejectedKey(page: number): string;
  /** Where a page's records are curated; absent when they are not (the policy list). */
  curatedKey?(page: number): string;
  /** Fields added to every curated record. */
  extra?: Record<string, unknown>;
  onPage?(records: readonly ApiRecord[]): void;
}

/** Reads one list from its next page to its end. */
export async function readList(
  reader: SnapshotReader,
  name: ListDataset,
  onPage?: (records: readonly ApiRecord[]) => void,
): Promise<void> {
  const { snapshot, qualys, call } = reader;
  const table = LIST_TABLES[name];
  await readPages(reader, {
    progress: snapshot.lists[name],
    path: SDR_PATHS[name],
    table,
    fetch: (query) => listSdrPage(qualys, name, query, call),
    rawKey: (page) => sdrInventoryKeys.raw(snapshot.snapshotId, name, page),
    rejectedKey: (page) => sdrInventoryKeys.rejected(snapshot.snapshotId, name, page),
    // Policies are curated from their detail endpoint; the list only says which to read.
    curatedKey:
      name === 'policies'
        ? undefined
        : (page) => sdrInventoryKeys.curated(table, snapshot.dt, snapshot.snapshotId, page),
    onPage,
  });
}

/**
 * Sets aside the per-item read of a listed item (a connector's scanners, a policy's detail) with
 * why it cannot be made, so the snapshot goes on without it.
 */
async function setAsideItem(
  reader: SnapshotReader,
  dataset: 'scanners' | 'policy-details',
  id: Id,
  reason: string,
  record: unknown = id,
): Promise<void> {
  const { snapshotId } = reader.snapshot;
  const rejected: Rejected[] = [{ index: 0, reason, record }];
  await reader.run.setAside(
    sdrInventoryKeys.rejectedItem(snapshotId, dataset, id),
    { dataset, id, snapshotId },
    rejected,
    dataset === 'scanners'
      ? 'The scanners of a listed connector were set aside'
      : 'The detail of a listed policy was set aside',
    { snapshotId, id: JSON.stringify(id), reason },
  );
}

/** Reads one connector's scanners; a connector deleted since it was listed has none. */
export async function readScanners(reader: SnapshotReader, scanner: ScannerProgress): Promise<void> {
  const { snapshot, qualys, call } = reader;
  const { connectorId } = scanner;
  const problem = pathSegmentProblem(connectorId);
  if (problem !== undefined) {
    // Never asked for: /connectors/../scanners would be another endpoint.
    await setAsideItem(reader, 'scanners', connectorId, `connectorId cannot be a path segment: ${problem}`);
    scanner.missing = true;
    scanner.complete = true;
    await reader.save();
    return;
  }
  try {
    await readPages(reader, {
      progress: scanner,
      path: SDR_PATHS.scanners(connectorId),
      table: CURATED_DATASETS.sdrScanners,
      fetch: (query) => listScanners(qualys, connectorId, query, call),
      rawKey: (page) => sdrInventoryKeys.rawScanners(snapshot.snapshotId, connectorId, page),
      rejectedKey: (page) => sdrInventoryKeys.rejectedScanners(snapshot.snapshotId, connectorId, page),
      curatedKey: (page) =>
        sdrInventoryKeys.curatedScanners(snapshot.dt, snapshot.snapshotId, connectorId, page),
      extra: { lake_connector_id: connectorId },
    });
  } catch (error) {
    if (!isGone(error)) throw error;
    // Deleted between the connector list and this call: it has no scanners in this snapshot.
    reader.run.logger.warn('A listed connector was gone when its scanners were read', {
      snapshotId: snapshot.snapshotId,
      connectorId,
      error: (error as Error).message,
    });
    scanner.missing = true;
    scanner.complete = true;
    await reader.save();
  }
}

/** Reads one policy's detail, what `sdr_policies` holds; a policy deleted since it was listed is missing. */
export async function readPolicyDetail(reader: SnapshotReader, policy: PolicyDetailProgress): Promise<void> {
  const { snapshot, run } = reader;
  const { snapshotId } = snapshot;
  const { policyId } = policy;
  const problem = pathSegmentProblem(policyId);
  if (problem !== undefined) {
    await setAsideItem(reader, 'policy-details', policyId, `policyId cannot be a path segment: ${problem}`);
    policy.done = true;
    policy.missing = 'refused';
    await reader.save();
    reader.counted(CURATED_DATASETS.sdrPolicies, 0, 0);
    return;
  }
  let fetched: JsonResponse<Page> | undefined;
  try {
    run.spendCall(`reading policy ${String(policyId)}`);
    fetched = await getPolicyDetail(reader.qualys, policyId, reader.call);
  } catch (error) {
    if (!isGone(error)) throw error;
    run.logger.warn('A listed policy was gone when its detail was read', {
      snapshotId,
      policyId,
      error: (error as Error).message,
    });
  }
  // The detail body is a Page like the list, holding the one policy (API guide, "Policy APIs").
  const item = fetched?.body.content[0];
  const detail = screen(item === undefined ? [] : [item], ApiRecordSchema).valid[0];
  if (fetched) {
    const rawKey = sdrInventoryKeys.rawPolicy(snapshotId, policyId);
    await archive(reader, rawKey, SDR_PATHS.policy(policyId), fetched.raw, {
      'policy-id': encodeURIComponent(String(policyId)),
    });
    if (detail) {
      await curate(
        reader,
        sdrInventoryKeys.curatedPolicy(snapshot.dt, snapshotId, policyId),
        [detail],
        rawKey,
      );
    } else if (item !== undefined) {
      await setAsideItem(reader, 'policy-details', policyId, 'the detail page holds no object', item);
    } else {
      run.logger.warn('A policy detail came back without the policy', { snapshotId, policyId });
    }
  }
  policy.done = true;
  if (!detail) policy.missing = item !== undefined ? 'rejected' : fetched ? 'empty' : 'not-found';
  await reader.save();
  reader.counted(CURATED_DATASETS.sdrPolicies, fetched ? 1 : 0, detail ? 1 : 0);
}

/** `page`/`size` paging from the first page not yet written, at the snapshot's page size. */
async function readPages(reader: SnapshotReader, source: PagedSource): Promise<void> {
  const { run, snapshot } = reader;
  const { progress } = source;
  const size = snapshot.pageSize;
  const listing = pageNumberPaging({
    endpoint: `GET ${source.path}`,
    start: progress.nextPage,
    fetchPage: async (page) => {
      run.spendCall(`${source.path} page ${page}`);
      const { body, raw } = await source.fetch({ page, size });
      return { ...body, raw };
    },
    concurrency: () => reader.qualys.budget.concurrencyLimit,
    size,
  });
  for await (const { cursor: page, next, page: fetched } of listing) {
    const rawKey = source.rawKey(page);
    await archive(reader, rawKey, source.path, fetched.raw, { page: String(page), size: String(size) });
    // Archived as served; an item that is not an object is set aside instead of curated.
    const { valid: records, rejected } = screen(fetched.content, ApiRecordSchema);
    await run.setAside(
      source.rejectedKey(page),
      { endpoint: `GET ${source.path}`, snapshotId: snapshot.snapshotId, page },
      rejected,
      'List items that are not objects were set aside',
      { snapshotId: snapshot.snapshotId, endpoint: source.path, page },
    );
    const curatedKey = source.curatedKey?.(page);
    if (curatedKey) await curate(reader, curatedKey, records, rawKey, source.extra);
    source.onPage?.(records);
    progress.nextPage = next ?? page + 1;
    progress.pages++;
    progress.records += records.length;
    progress.complete = next === undefined;
    await reader.save();
    reader.counted(source.table, 1, curatedKey ? records.length : 0);
  }
}

async function archive(
  { run, snapshot }: SnapshotReader,
  key: string,
  path: string,
  raw: Uint8Array,
  metadata: Record<string, string>,
) {
  await run.store.put(key, gzip(raw), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: { 'qualys-endpoint': path, 'snapshot-id': snapshot.snapshotId, ...metadata },
  });
}

async function curate(
  { run, snapshot }: SnapshotReader,
  key: string,
  records: readonly ApiRecord[],
  rawKey: string,
  extra: Record<string, unknown> = {},
) {
  if (records.length === 0) return;
  const ingestedAt = run.isoNow();
  const tagged = records.map((record) => ({
    ...record,
    ...extra,
    lake_snapshot_id: snapshot.snapshotId,
    lake_ingested_at: ingestedAt,
    lake_raw_key: keyInBucket(run.store, rawKey),
  }));
  await run.store.put(key, toNdjsonGzip(tagged), {
    contentType: 'application/x-ndjson',
    contentEncoding: 'gzip',
  });
}

/** A 404 on a per-item endpoint: the connector or policy was deleted after it was listed. */
function isGone(error: unknown): boolean {
  return error instanceof QualysApiError && error.status === 404;
}
