import { curatedPrefix } from '../core/manifest';
import { CURATED_DATASETS, type CuratedDataset } from '../core/names';
import { safeKeySegment } from '../core/records';
import { sdrInventoryManifest } from './manifest';
import type { Id, ListDataset } from './snapshot';

const { raw: RAW, state: STATE } = sdrInventoryManifest.prefixes;

const pageNumber = (page: number) => `page=${String(page).padStart(5, '0')}`;
const curatedOn = (dataset: CuratedDataset, dt: string) => `${curatedPrefix(dataset)}dt=${dt}/`;

/** S3 keys of the inventory collector; every data key is fixed by snapshot id and page. */
export const sdrInventoryKeys = {
  state: `${STATE}checkpoint.json`,
  manifest: (snapshotId: string) => `${STATE}snapshots/${snapshotId}.json`,
  raw: (snapshotId: string, dataset: ListDataset, page: number) =>
    `${RAW}snapshot=${snapshotId}/${dataset}/${pageNumber(page)}.json.gz`,
  rawScanners: (snapshotId: string, connectorId: Id, page: number) =>
    `${RAW}snapshot=${snapshotId}/scanners/connector=${safeKeySegment(connectorId)}/${pageNumber(page)}.json.gz`,
  rawPolicy: (snapshotId: string, policyId: Id) =>
    `${RAW}snapshot=${snapshotId}/policy-details/policy=${safeKeySegment(policyId)}.json.gz`,
  curated: (dataset: CuratedDataset, dt: string, snapshotId: string, page: number) =>
    `${curatedOn(dataset, dt)}snapshot=${snapshotId}-${pageNumber(page)}.json.gz`,
  curatedScanners: (dt: string, snapshotId: string, connectorId: Id, page: number) =>
    `${curatedOn(CURATED_DATASETS.sdrScanners, dt)}snapshot=${snapshotId}-connector=${safeKeySegment(connectorId)}-${pageNumber(page)}.json.gz`,
  curatedPolicy: (dt: string, snapshotId: string, policyId: Id) =>
    `${curatedOn(CURATED_DATASETS.sdrPolicies, dt)}snapshot=${snapshotId}-policy=${safeKeySegment(policyId)}.json.gz`,
  /** List items set aside (not objects): the raw page keeps them too. */
  rejected: (snapshotId: string, dataset: ListDataset, page: number) =>
    `${STATE}rejected/snapshot=${snapshotId}/${dataset}/${pageNumber(page)}.json`,
  rejectedScanners: (snapshotId: string, connectorId: Id, page: number) =>
    `${STATE}rejected/snapshot=${snapshotId}/scanners/connector=${safeKeySegment(connectorId)}/${pageNumber(page)}.json`,
  /** A connector whose scanners, or a policy whose detail, could not be read: an id that is no path segment, a detail that is no object. */
  rejectedItem: (snapshotId: string, dataset: 'scanners' | 'policy-details', id: Id) =>
    `${STATE}rejected/snapshot=${snapshotId}/${dataset}/${dataset === 'scanners' ? 'connector' : 'policy'}=${safeKeySegment(id)}.json`,
  snapshotRecord: (dt: string, snapshotId: string) =>
    `${curatedOn(CURATED_DATASETS.sdrSnapshots, dt)}${snapshotId}.json.gz`,
};
