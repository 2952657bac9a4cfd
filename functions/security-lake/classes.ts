import {
  COMPLIANCE_FINDING,
  type CuratedPostureRow,
  postureComplianceFinding,
} from '../ocsf/compliance-finding';
import { type CuratedCdrFinding, cdrDetectionFinding, DETECTION_FINDING } from '../ocsf/detection-finding';
import type { OcsfClass, OcsfEvent } from '../ocsf/event';
import { type CuratedSdrUser, sdrUserInventoryInfo, USER_INVENTORY_INFO } from '../ocsf/user-inventory';
import type { SecurityLakeClass } from './manifest';
import { COMPLIANCE_FINDING_FIELDS, DETECTION_FINDING_FIELDS, USER_INVENTORY_FIELDS } from './ocsf-fields';
import type { Fields } from './parquet-schema';

/** How one class is made: the OCSF class, the mapping of a curated record, the Parquet columns. */
export interface OcsfWriter {
  ocsfClass: OcsfClass;
  /** Throws (OcsfMappingError) for a record the class cannot hold; the record is then set aside. */
  map(record: Record<string, unknown>): OcsfEvent;
  fields: Fields;
}

/** The mapping (functions/ocsf, README "OCSF mapping") and schema of every class. */
export const OCSF_WRITERS: Record<SecurityLakeClass, OcsfWriter> = {
  detectionFinding: {
    ocsfClass: DETECTION_FINDING,
    map: (record) => cdrDetectionFinding(record as CuratedCdrFinding),
    fields: DETECTION_FINDING_FIELDS,
  },
  complianceFinding: {
    ocsfClass: COMPLIANCE_FINDING,
    map: (record) => postureComplianceFinding(record as CuratedPostureRow),
    fields: COMPLIANCE_FINDING_FIELDS,
  },
  userInventory: {
    ocsfClass: USER_INVENTORY_INFO,
    map: (record) => sdrUserInventoryInfo(record as CuratedSdrUser),
    fields: USER_INVENTORY_FIELDS,
  },
};
