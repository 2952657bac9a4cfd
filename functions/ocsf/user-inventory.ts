import { classification, metadata, type OcsfClass, type OcsfEvent } from './event';
import { compact, FieldsTaken, type LakeRecord, OcsfMappingError, text, zoneOffsetMinutes } from './fields';
import { INFORMATIONAL } from './severity';
import { QUALYS_PRODUCTS } from './version';

/**
 * A row of curated/sdr_users (functions/sdr-inventory, README "Tables"): the API's user record
 * plus the snapshot that read it. Only the fields the mapping reads are typed.
 */
export interface CuratedSdrUser extends LakeRecord {
  sourceId?: string | null;
  connector?: { id?: string | number | null; type?: string | null } | null;
  lake_snapshot_id: string;
  lake_ingested_at: string;
}

/** events/discovery/user_inventory.json (OCSF 1.1.0): category Discovery (5), class uid 3. */
export const USER_INVENTORY_INFO: OcsfClass = {
  category_uid: 5,
  category_name: 'Discovery',
  class_uid: 5003,
  class_name: 'User Inventory Info',
};

export interface UserInventoryInfo extends OcsfEvent {
  user: {
    uid: string;
    name?: string;
    full_name?: string;
    email_addr?: string;
    domain?: string;
    type_id: number;
    type: string;
  };
}

/** objects/user.json `type_id`: 1 User, 2 Admin, 99 Other (the SaaS entity type as `type`). */
function userType(entityType: string | undefined): { type_id: number; type: string } {
  const upper = entityType?.toUpperCase();
  if (upper === 'USER') return { type_id: 1, type: 'User' };
  if (upper === 'ADMIN') return { type_id: 2, type: 'Admin' };
  return entityType ? { type_id: 99, type: entityType } : { type_id: 0, type: 'Unknown' };
}

/**
 * One SaaS user of an inventory snapshot as OCSF User Inventory Info: the snapshot collected it
 * (activity Collect, 2), at `lake_ingested_at`. An inventory record has no risk: severity is
 * Informational (1).
 */
export function sdrUserInventoryInfo(row: CuratedSdrUser): UserInventoryInfo {
  const record: LakeRecord = row;
  const taken = new FieldsTaken(record);
  const sourceId = taken.text('sourceId');
  const connector = (row.connector ?? {}) as LakeRecord;
  const connectorId = text(connector.id);
  if (!sourceId || !connectorId) {
    throw new OcsfMappingError(
      'SaaSDR user without sourceId or connector.id: it cannot become User Inventory Info',
    );
  }
  const time = taken.time('lake_ingested_at');
  if (time === undefined) {
    throw new OcsfMappingError(
      `SaaSDR user ${sourceId}: lake_ingested_at is not an ISO-8601 date-time with a zone`,
    );
  }
  const event: UserInventoryInfo = {
    ...classification(USER_INVENTORY_INFO, 2, 'Collect'),
    ...INFORMATIONAL,
    time,
    timezone_offset: zoneOffsetMinutes(record.lake_ingested_at),
    user: compact({
      uid: sourceId,
      name: taken.text('username'),
      full_name: taken.text('fullName'),
      email_addr: taken.text('email'),
      domain: taken.text('domain'),
      ...userType(taken.text('entityType')),
    }),
    metadata: metadata(QUALYS_PRODUCTS.saasdr, 'sdr_users', {
      uid: `${connectorId}/${sourceId}@${row.lake_snapshot_id}`,
      tenant_uid: taken.text('customerId'),
      logged_time: time,
    }),
    cloud: { provider: taken.take('connector.type', text(connector.type)) ?? 'Unknown' },
    unmapped: {},
  };
  return taken.finish(event);
}
