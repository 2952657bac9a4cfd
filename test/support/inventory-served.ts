import type { InventoryTable } from '../../functions/sdr-inventory/snapshot';
import type { SdrDataset } from '../simulator/index';

/**
 * What the simulator serves, per curated table, as JSON values: the truth a complete snapshot must
 * equal. Scanners carry the `lake_connector_id` the collector adds; policies are the detail bodies.
 */
export function servedInventory(sdr: SdrDataset): Record<InventoryTable, unknown[]> {
  const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  return json({
    sdr_connectors: sdr.connectors,
    sdr_scanners: sdr.connectors.flatMap((connector) =>
      (sdr.scanners.get(connector.id) ?? []).map((scanner) => ({
        ...scanner,
        lake_connector_id: connector.id,
      })),
    ),
    sdr_users: sdr.users,
    sdr_groups: sdr.groups,
    sdr_documents: sdr.documents,
    sdr_applications: sdr.applications,
    sdr_meetings: sdr.meetings,
    sdr_policies: sdr.policies,
  });
}

/** JSON with object keys sorted at every level, so equal values compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(
          Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : item,
  );
}

/** A curated record without the tags of one snapshot run (the scanner's connector id stays). */
export function untagged(record: Record<string, unknown>): Record<string, unknown> {
  const { lake_snapshot_id: _s, lake_ingested_at: _i, lake_raw_key: _r, ...rest } = record;
  return rest;
}

/** Sorted canonical forms: equal lists mean the same records, each exactly as often. */
export const multiset = (records: readonly unknown[]) => records.map(canonical).sort();
