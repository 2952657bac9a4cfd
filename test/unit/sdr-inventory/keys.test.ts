import { describe, expect, it } from 'vitest';
import { INVENTORY_DATASETS } from '../../../functions/core/names';
import { sdrInventoryKeys } from '../../../functions/sdr-inventory/keys';
import { sdrInventoryManifest } from '../../../functions/sdr-inventory/manifest';

describe('sdrInventoryKeys', () => {
  const id = '20250511T000058Z';
  const keys = [
    sdrInventoryKeys.state,
    sdrInventoryKeys.manifest(id),
    sdrInventoryKeys.raw(id, 'users', 3),
    sdrInventoryKeys.rawScanners(id, 'tenant/../a b', 0),
    sdrInventoryKeys.rawPolicy(id, 61),
    ...INVENTORY_DATASETS.map((dataset) => sdrInventoryKeys.curated(dataset, '2025-05-11', id, 0)),
    sdrInventoryKeys.curatedScanners('2025-05-11', id, 2193, 1),
    sdrInventoryKeys.curatedPolicy('2025-05-11', id, 284),
    sdrInventoryKeys.snapshotRecord('2025-05-11', id),
  ];

  it('builds every key under a prefix the manifest lets the collector write', () => {
    for (const key of keys) {
      expect(
        sdrInventoryManifest.writes.some((prefix) => key.startsWith(prefix)),
        key,
      ).toBe(true);
    }
  });

  it('keeps the S3 layout', () => {
    expect(keys).toEqual([
      'state/sdr-inventory/checkpoint.json',
      `state/sdr-inventory/snapshots/${id}.json`,
      `raw/sdr-inventory/snapshot=${id}/users/page=00003.json.gz`,
      `raw/sdr-inventory/snapshot=${id}/scanners/connector=tenant%2F..%2Fa%20b/page=00000.json.gz`,
      `raw/sdr-inventory/snapshot=${id}/policy-details/policy=61.json.gz`,
      ...INVENTORY_DATASETS.map(
        (dataset) => `curated/${dataset}/dt=2025-05-11/snapshot=${id}-page=00000.json.gz`,
      ),
      `curated/sdr_scanners/dt=2025-05-11/snapshot=${id}-connector=2193-page=00001.json.gz`,
      `curated/sdr_policies/dt=2025-05-11/snapshot=${id}-policy=284.json.gz`,
      `curated/sdr_snapshots/dt=2025-05-11/${id}.json.gz`,
    ]);
  });
});
