import type { CdrFinding } from '../qualys/schemas';
import { classification, cloudAccountType, metadata, type OcsfClass, type OcsfEvent } from './event';
import { compact, FieldsTaken, type LakeRecord, OcsfMappingError, text, zoneOffsetMinutes } from './fields';
import { coordinates, countryCode, ipAddress } from './location';
import { takeSeverity } from './severity';
import { QUALYS_PRODUCTS } from './version';

/** A row of curated/cdr_findings: the API finding unchanged plus the lake's fields (README "Tables"). */
export type CuratedCdrFinding = CdrFinding & { lake_ingested_at?: string; lake_raw_key?: string };

/** events/findings/detection_finding.json (OCSF 1.1.0): category Findings (2), class uid 4. */
export const DETECTION_FINDING: OcsfClass = {
  category_uid: 2,
  category_name: 'Findings',
  class_uid: 2004,
  class_name: 'Detection Finding',
};

interface Endpoint {
  ip?: string;
  name?: string;
  uid?: string;
  port?: number;
  location?: { city?: string; country?: string; coordinates?: [number, number] };
}

export interface DetectionFinding extends OcsfEvent {
  finding_info: {
    uid: string;
    title: string;
    desc?: string;
    types?: string[];
    first_seen_time: number;
    last_seen_time: number;
  };
  status_id: number;
  status: string;
  resources?: { uid?: string; name?: string; type?: string; region?: string }[];
  evidences?: {
    src_endpoint?: Endpoint;
    dst_endpoint?: Endpoint;
    connection_info?: { direction_id: number; direction: string; protocol_name: string };
  }[];
}

/**
 * One CDR finding as an OCSF Detection Finding. Each finding is a detection Qualys made once
 * (qualys-lake keeps one row per uuid), so the activity is Create (1) and the status New (1).
 * Vendor fields the event does not carry go to `unmapped` (README "OCSF mapping").
 */
export function cdrDetectionFinding(finding: CuratedCdrFinding): DetectionFinding {
  const record: LakeRecord = finding;
  const taken = new FieldsTaken(record);
  const uid = taken.text('uuid');
  if (!uid) throw new OcsfMappingError('CDR finding without uuid: it cannot become a Detection Finding');
  const time = taken.time('timestamp');
  if (time === undefined) {
    throw new OcsfMappingError(
      `CDR finding ${uid}: timestamp ${JSON.stringify(record.timestamp)} is not an ISO-8601 date-time with a zone`,
    );
  }
  const provider = taken.text('cloudType') ?? 'Unknown';
  const account = taken.text('cspAccount');
  const region = taken.text('cspRegion');
  const message = taken.text('eventMessage');
  const collector = taken.text('collectorType');
  const event: DetectionFinding = {
    ...classification(DETECTION_FINDING, 1, 'Create'),
    ...takeSeverity(taken, 'severity', record.severity),
    time,
    timezone_offset: zoneOffsetMinutes(record.timestamp),
    message,
    status_id: 1,
    status: 'New',
    finding_info: compact({
      uid,
      title: taken.text('threatCategory') ?? message ?? `Qualys CDR finding ${uid}`,
      desc: message,
      types: typesOf(taken.text('threatClass'), taken.text('threatType')),
      first_seen_time: time,
      last_seen_time: time,
    }),
    metadata: metadata(
      collector ? { ...QUALYS_PRODUCTS.cdr, feature: { name: collector } } : QUALYS_PRODUCTS.cdr,
      'cdr_findings',
      {
        uid,
        tenant_uid: taken.text('customerUuid'),
        correlation_uid: taken.text('correlationId'),
        original_time: text(record.timestamp),
        logged_time: taken.time('lake_ingested_at'),
      },
    ),
    cloud: compact({
      provider,
      region,
      account: account ? { uid: account, ...cloudAccountType(provider) } : undefined,
    }),
    resources: resourcesOf(record, taken, region),
    evidences: evidencesOf(record, taken),
    unmapped: {},
  };
  return taken.finish(event);
}

/** The affected resource; OCSF needs its uid or name (objects/_entity.json), so none without either. */
function resourcesOf(record: LakeRecord, taken: FieldsTaken, region: string | undefined) {
  if (text(record.resourceId) === undefined && text(record.affectedResource) === undefined) return undefined;
  const resource = {
    uid: taken.text('resourceId'),
    name: taken.text('affectedResource'),
    type: taken.text('resourceType'),
    region,
  };
  return [compact(resource)];
}

function typesOf(...types: (string | undefined)[]): string[] | undefined {
  const present = types.filter((type): type is string => type !== undefined);
  return present.length ? present : undefined;
}

/**
 * The remote actor (`remoteIpDetails`, else `triggeredResource` and its geo fields) as the
 * source endpoint, the affected port as the destination, the protocol as connection info.
 */
function evidencesOf(record: LakeRecord, taken: FieldsTaken): DetectionFinding['evidences'] {
  const remote = (record.remoteIpDetails ?? {}) as LakeRecord;
  const ip =
    taken.take('remoteIpDetails.ipAddress', ipAddress(remote.ipAddress)) ??
    taken.take('triggeredResource', ipAddress(record.triggeredResource));
  const source = ip ? compact<Endpoint>({ ip, location: remoteLocationOf(record, taken) }) : undefined;
  const port = typeof record.affectedResourcePort === 'number' ? record.affectedResourcePort : undefined;
  const target = text(record.affectedResource) ?? text(record.resourceId);
  const destination =
    port !== undefined && target
      ? { name: target, port: taken.take('affectedResourcePort', port) as number }
      : undefined;
  const protocol = taken.take('protocol', text(record.protocol)?.toLowerCase());
  // direction_id is required in network_connection_info; CDR does not say, so 0 Unknown.
  const connection = protocol
    ? { direction_id: 0, direction: 'Unknown', protocol_name: protocol }
    : undefined;
  if (!source && !destination && !connection) return undefined;
  return [compact({ src_endpoint: source, dst_endpoint: destination, connection_info: connection })];
}

/** Where the remote IP is: `remoteIpDetails`' city, country and coordinates, else the `triggeredResource*` ones. */
function remoteLocationOf(record: LakeRecord, taken: FieldsTaken): Endpoint['location'] {
  const remote = (record.remoteIpDetails ?? {}) as LakeRecord;
  return (
    locationOf(remote, 'remoteIpDetails.', ['city', 'country', 'geoLocation'], taken) ??
    locationOf(
      record,
      '',
      ['triggeredResourceCity', 'triggeredResourceCountry', 'triggeredResourceGeoLocation'],
      taken,
    )
  );
}

/** `location` from three fields (city, country name, "lat,lon"), or undefined when none reads. */
function locationOf(
  record: LakeRecord,
  prefix: string,
  [cityField, countryField, geoField]: [string, string, string],
  taken: FieldsTaken,
): Endpoint['location'] {
  const city = text(record[cityField]);
  const country = countryCode(record[countryField]);
  const coordinatesPair = coordinates(record[geoField]);
  if (city === undefined && country === undefined && coordinatesPair === undefined) return undefined;
  return compact({
    city: taken.take(`${prefix}${cityField}`, city),
    country: taken.take(`${prefix}${countryField}`, country),
    coordinates: taken.take(`${prefix}${geoField}`, coordinatesPair),
  });
}
