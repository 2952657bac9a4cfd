import type { ComplianceFinding } from '../ocsf/compliance-finding';
import type { DetectionFinding } from '../ocsf/detection-finding';
import type { OcsfEvent } from '../ocsf/event';
import type { UserInventoryInfo } from '../ocsf/user-inventory';
import type { StructOf } from './parquet-schema';

/**
 * The Parquet columns of each OCSF class qualys-lake writes, typed by the compiler against the
 * mapping's interfaces (functions/ocsf): an attribute added to an interface fails the build until
 * its column is named here. Types follow OCSF 1.1.0: integer_t INT32, long_t and timestamp_t INT64
 * (epoch milliseconds), float_t DOUBLE, objects structs, arrays lists, `unmapped` a string map.
 */

const string = 'string' as const;
const int32 = 'int32' as const;
const int64 = 'int64' as const;
const strings = { list: string } as const;

/** base_event.json and classification: what every event carries. */
const BASE_EVENT: StructOf<OcsfEvent> = {
  activity_id: int32,
  activity_name: string,
  category_uid: int32,
  category_name: string,
  class_uid: int32,
  class_name: string,
  type_uid: int64,
  type_name: string,
  severity_id: int32,
  severity: string,
  time: int64,
  timezone_offset: int32,
  message: string,
  metadata: {
    struct: {
      version: string,
      product: {
        struct: { name: string, vendor_name: string, feature: { struct: { name: string } } },
      },
      profiles: strings,
      uid: string,
      tenant_uid: string,
      correlation_uid: string,
      original_time: string,
      logged_time: int64,
      log_name: string,
      log_provider: string,
    },
  },
  cloud: {
    struct: {
      provider: string,
      region: string,
      account: { struct: { uid: string, type_id: int32, type: string } },
    },
  },
  unmapped: { map: string },
};

type Endpoint = NonNullable<NonNullable<DetectionFinding['evidences']>[number]['src_endpoint']>;

const ENDPOINT: { struct: StructOf<Endpoint> } = {
  struct: {
    ip: string,
    name: string,
    uid: string,
    port: int32,
    location: { struct: { city: string, country: string, coordinates: { list: 'double' } } },
  },
};

export const DETECTION_FINDING_FIELDS: StructOf<DetectionFinding> = {
  ...BASE_EVENT,
  finding_info: {
    struct: {
      uid: string,
      title: string,
      desc: string,
      types: strings,
      first_seen_time: int64,
      last_seen_time: int64,
    },
  },
  status_id: int32,
  status: string,
  resources: { list: { struct: { uid: string, name: string, type: string, region: string } } },
  evidences: {
    list: {
      struct: {
        src_endpoint: ENDPOINT,
        dst_endpoint: ENDPOINT,
        connection_info: { struct: { direction_id: int32, direction: string, protocol_name: string } },
      },
    },
  },
};

export const COMPLIANCE_FINDING_FIELDS: StructOf<ComplianceFinding> = {
  ...BASE_EVENT,
  finding_info: {
    struct: { uid: string, title: string, first_seen_time: int64, last_seen_time: int64 },
  },
  status_id: int32,
  status: string,
  compliance: {
    struct: { standards: strings, control: string, status_id: int32, status: string, status_code: string },
  },
  resource: { struct: { uid: string } },
};

export const USER_INVENTORY_FIELDS: StructOf<UserInventoryInfo> = {
  ...BASE_EVENT,
  user: {
    struct: {
      uid: string,
      name: string,
      full_name: string,
      email_addr: string,
      domain: string,
      type_id: int32,
      type: string,
    },
  },
};
