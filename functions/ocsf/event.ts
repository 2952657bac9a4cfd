import { compact } from './fields';
import { LOG_PROVIDER, OCSF_VERSION } from './version';

/** An OCSF class: its category and uid (class_uid = category_uid * 1000 + the class's own uid). */
export interface OcsfClass {
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
}

export interface OcsfProduct {
  name: string;
  vendor_name: string;
  feature?: { name: string };
}

export interface OcsfMetadata {
  version: string;
  product: OcsfProduct;
  /** Profiles applied: `cloud` makes `cloud` required (profiles/cloud.json). */
  profiles: string[];
  uid?: string;
  tenant_uid?: string;
  correlation_uid?: string;
  original_time?: string;
  logged_time?: number;
  log_name: string;
  log_provider: string;
}

export interface OcsfCloud {
  provider: string;
  region?: string;
  account?: { uid: string; type_id?: number; type?: string };
}

/** What every event of the mapping carries (base_event.json and includes/classification.json). */
export interface OcsfEvent {
  activity_id: number;
  activity_name: string;
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  time: number;
  timezone_offset?: number;
  message?: string;
  metadata: OcsfMetadata;
  cloud: OcsfCloud;
  unmapped: Record<string, string>;
}

/** The classification attributes of an event of `ocsfClass` doing activity `activityId` (`activityName`). */
export function classification(ocsfClass: OcsfClass, activityId: number, activityName: string) {
  return {
    activity_id: activityId,
    activity_name: activityName,
    ...ocsfClass,
    type_uid: ocsfClass.class_uid * 100 + activityId,
    type_name: `${ocsfClass.class_name}: ${activityName}`,
  };
}

/** `metadata` with the OCSF version, the cloud profile and qualys-lake as log provider. */
export function metadata(
  product: OcsfProduct,
  logName: string,
  fields: Omit<OcsfMetadata, 'version' | 'product' | 'profiles' | 'log_name' | 'log_provider'>,
): OcsfMetadata {
  return {
    version: OCSF_VERSION,
    product,
    profiles: ['cloud'],
    log_name: logName,
    log_provider: LOG_PROVIDER,
    ...compact(fields),
  };
}

/** OCSF `account.type_id` for a cloud account (objects/account.json): AWS Account 10, GCP Account 5. */
export function cloudAccountType(provider: string): { type_id: number; type: string } | undefined {
  const upper = provider.toUpperCase();
  if (upper === 'AWS') return { type_id: 10, type: 'AWS Account' };
  if (upper === 'GCP') return { type_id: 5, type: 'GCP Account' };
  return undefined;
}
