import { CURATED_DATASETS, type CuratedDataset } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';

/**
 * The Athena tables over `curated/`: one definition per curated dataset, read by the CDK construct
 * (lib/constructs/catalog.ts), the DuckDB views of the local run and tests
 * (tools/local-lake/duckdb.ts) and the schema-drift test. Column names are the JSON keys of the
 * curated records, as the collectors write them; Glue gets them lower-cased (`glueColumns`), which
 * is what Athena uses anyway, and the OpenX SerDe matches them to the keys case-insensitively. SQL
 * may spell them either way.
 *
 * Type choices, applied to every table:
 * - Date-times are `string`, never `timestamp`. Qualys writes ISO-8601 with `T` and an offset
 *   (`2025-05-09T20:00:42.000+00:00`, `2021-09-29T09:35:20Z`), which the SerDe's timestamp parser does
 *   not read by default, and a value it cannot parse fails the whole query. As strings they always
 *   read; `from_iso8601_timestamp(col)` turns them into timestamps in SQL. Partition pruning uses `dt`.
 * - Nested objects with a documented shape are `struct`/`array` (dot access and `cardinality()` in
 *   SQL, no JSON parsing); keys a struct does not declare are dropped by the SerDe, so the drift test
 *   checks nested keys as well.
 * - Fields the API documents only as `null` (shape unknown) are `string` marked `anyJson`: the SerDe
 *   reads a number, string or object there as its text, so whatever Qualys starts sending never
 *   breaks a query. Values the API sends as JSON text (`accountConfig`, evidence strings) stay text:
 *   `json_extract_scalar(accountConfig, '$.saasSubscriptionId')`.
 * - Ids and counts are `bigint`; small enumerations (`severity`, `isEnabled`) are `int`.
 */

export interface ColumnDef {
  /** The JSON key, exactly as in the curated records. */
  readonly name: string;
  /** Hive/Athena type string; nested field names are the JSON keys too. */
  readonly type: string;
  readonly comment: string;
  /** A `string` column that may hold any JSON value (objects and arrays read as their JSON text). */
  readonly anyJson?: boolean;
}

export interface TableDef {
  readonly name: CuratedDataset;
  readonly description: string;
  readonly columns: readonly ColumnDef[];
  /**
   * Top-level fields of the curated records deliberately not declared, each with the reason. Empty
   * today: every field is a column.
   */
  readonly excluded: Readonly<Record<string, string>>;
}

/** The partition key of every table: the `dt=YYYY-MM-DD` folder, projected (no crawler, no MSCK). */
export const PARTITION_KEY: ColumnDef = {
  name: 'dt',
  type: 'string',
  comment:
    'UTC date folder (YYYY-MM-DD) of the object; filter on it (dt >= ...) so Athena reads only those days',
};

/**
 * The first partition key of every table: the `subscription=<name>` folder (functions/core/subscription.ts),
 * projected from the subscriptions the stack serves. A query without a filter on it spans them all.
 */
export const SUBSCRIPTION_KEY: ColumnDef = {
  name: SUBSCRIPTION_PARTITION,
  type: 'string',
  comment:
    "Qualys subscription the record came from (the stack's `subscriptions`, `default` without them); filter on it to read one",
};

/** The partition keys of every table, in folder order: `subscription=<name>/dt=<day>/`. */
export const PARTITION_KEYS: readonly ColumnDef[] = [SUBSCRIPTION_KEY, PARTITION_KEY];

/** The JSON SerDe of every table, for gzip NDJSON (one record per line). */
export const JSON_SERDE = {
  library: 'org.openx.data.jsonserde.JsonSerDe',
  parameters: {
    // A line that is not JSON fails the query instead of silently vanishing from the results.
    'ignore.malformed.json': 'FALSE',
    // JSON keys are camelCase, Glue column names lower-case.
    'case.insensitive': 'TRUE',
    'dots.in.keys': 'FALSE',
  },
  inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
} as const;

/** First day partition projection enumerates; queries without a `dt` filter list every day since. */
export const PROJECTION_START = '2020-01-01';

const col = (name: string, type: string, comment: string, anyJson?: true): ColumnDef =>
  anyJson ? { name, type, comment, anyJson } : { name, type, comment };

// ---------------------------------------------------------------------------------------------
// Shared column groups

const LAKE_INGESTED_AT = col(
  'lake_ingested_at',
  'string',
  'When qualys-lake wrote the record (ISO-8601 UTC)',
);
const LAKE_RAW_KEY = col('lake_raw_key', 'string', 'S3 key of the raw API response the record came from');

/** Every inventory record: the snapshot that read it. */
const INVENTORY_LAKE = [
  col(
    'lake_snapshot_id',
    'string',
    'Inventory snapshot that read the record (sdr_snapshots.snapshot_id); use only complete snapshots',
  ),
  LAKE_INGESTED_AT,
  LAKE_RAW_KEY,
];

const CONNECTOR_REF = col(
  'connector',
  'struct<id:bigint,type:string>',
  'SaaS connector the record belongs to: id (sdr_connectors.id) and type (GSUITE, OFFICE365, SALESFORCE, ZOOM)',
);

/** The fields most SaaSDR entities start with. */
const ENTITY_HEAD = [
  col('customerId', 'string', 'Qualys customer id'),
  CONNECTOR_REF,
  col('sourceId', 'string', 'Id of the entity in the SaaS application; unique per connector'),
  col('version', 'bigint', 'Qualys revision of the entity'),
];

/** One connector; also nested in each policy. */
const CONNECTOR_FIELDS: Array<[string, string, string]> = [
  ['customerId', 'string', 'Qualys customer id'],
  ['connectorType', 'string', 'GSUITE, OFFICE365, SALESFORCE, ZOOM, ...'],
  ['id', 'bigint', 'Connector id'],
  ['name', 'string', 'Connector name'],
  ['description', 'string', 'Description'],
  ['state', 'string', 'Connector state, e.g. SUCCESS'],
  ['config', 'string', 'Connector configuration (null in the API guide; read as text whatever its shape)'],
  ['status', 'string', 'Scan status, e.g. Scan Completed'],
  ['emailId', 'string', 'Admin account the connector uses'],
  ['isEnabled', 'int', '1 when the connector is enabled'],
  ['isPolicyEnabled', 'int', '1 when posture evaluation is enabled (may be null)'],
  ['updatedBy', 'string', 'Last updated by'],
  ['createdBy', 'string', 'Created by'],
  ['accountConfig', 'string', 'JSON text, e.g. {"saasSubscriptionId":"C04kkbpr8"}: use json_extract_scalar'],
  ['firstScannedDate', 'string', 'First scan (ISO-8601)'],
  ['lastScannedDate', 'string', 'Latest scan (ISO-8601)'],
  ['deleted', 'boolean', 'Deleted in Qualys'],
];
const CONNECTOR_STRUCT = `struct<${CONNECTOR_FIELDS.map(([name, type]) => `${name}:${type}`).join(',')}>`;

const SHARE_ENTRY = 'sourceId:string,documentId:string,linkedEntityType:string,role:string,accessType:string';

// ---------------------------------------------------------------------------------------------
// Tables

const cdrFindings: TableDef = {
  name: CURATED_DATASETS.cdrFindings,
  description:
    'Qualys CDR findings: the API fields unchanged, one row per finding (deduplicated on uuid), partitioned by the UTC date of the finding timestamp.',
  columns: [
    col('customerUuid', 'string', 'Qualys customer id'),
    col('cloudType', 'string', 'AWS, AZURE or GCP'),
    col('collectorType', 'string', 'Signal source, e.g. cspSignal, runtimeSensor'),
    col('resourceType', 'string', 'e.g. IAM_USER, S3_BUCKET, EC2_INSTANCE'),
    col('uuid', 'string', 'Finding id (unique)'),
    col('resourceId', 'string', 'Affected resource id'),
    col('threatClass', 'string', 'e.g. api_activity, network_activity, process_activity'),
    col('threatType', 'string', 'Threat type (runtime findings)'),
    col('threatCategory', 'string', 'Detection, e.g. Recon_MaliciousIPCaller.Custom'),
    col('cspAccount', 'string', 'Cloud account (AWS account id, Azure subscription, GCP project)'),
    col('cspRegion', 'string', 'Cloud region'),
    col('deploymentName', 'string', 'Kubernetes deployment (runtime findings)'),
    col('triggeredResource', 'string', 'What triggered the finding, usually the remote IP'),
    col('affectedResource', 'string', 'Affected resource name'),
    col('severity', 'int', '1 LOW, 2 MEDIUM, 3 HIGH, 4 CRITICAL'),
    col('eventMessage', 'string', 'Human-readable description'),
    col(
      'timestamp',
      'string',
      'When the event happened (ISO-8601 with offset); a reserved word: write "timestamp" in SQL',
    ),
    col('triggeredResourceGeoLocation', 'string', '"lat,lon" of the triggering resource'),
    col('triggeredResourceCity', 'string', 'City of the triggering resource'),
    col('triggeredResourceCountry', 'string', 'Country of the triggering resource'),
    col('hash', 'string', 'File or process hash (runtime findings)'),
    col('vpcId', 'string', 'VPC of the affected resource'),
    col('protocol', 'string', 'Network protocol (network findings)'),
    col('affectedResourcePort', 'int', 'Port on the affected resource (network findings)'),
    col('responseTime', 'string', 'Null in the API guide; read as text whatever its shape', true),
    col(
      'remoteIpDetails',
      'struct<geoLocation:string,city:string,country:string,ipAddress:string>',
      'The remote actor: remoteIpDetails.ipAddress, .country, .city, .geoLocation',
    ),
    col('networkInformation', 'string', 'Null in the API guide; read as text whatever its shape', true),
    col('correlationId', 'string', 'Shared by findings of one event'),
    col('qlp', 'string', 'Null in the API guide; read as text whatever its shape', true),
    col('pod', 'string', 'Kubernetes pod (runtime findings)'),
    col('podLabels', 'string', 'Pod labels as text, e.g. app=payments-api,tier=backend'),
    col('containerName', 'string', 'Container (runtime findings)'),
    col('processName', 'string', 'Process (runtime findings)'),
    LAKE_INGESTED_AT,
    LAKE_RAW_KEY,
  ],
  excluded: {},
};

const sdrConnectors: TableDef = {
  name: CURATED_DATASETS.sdrConnectors,
  description: 'SaaSDR connectors, one row per connector per inventory snapshot.',
  columns: [...CONNECTOR_FIELDS.map(([name, type, comment]) => col(name, type, comment)), ...INVENTORY_LAKE],
  excluded: {},
};

const sdrScanners: TableDef = {
  name: CURATED_DATASETS.sdrScanners,
  description: 'SaaSDR scanners of each connector, one row per scanner per inventory snapshot.',
  columns: [
    col('scannerType', 'string', 'What the scanner reads, e.g. ADMINUSER, DOCUMENT'),
    col('status', 'string', 'Scanner status'),
    col('firstScannedDate', 'string', 'First scan (ISO-8601)'),
    col('lastScannedDate', 'string', 'Latest scan (ISO-8601)'),
    col('parentEntityId', 'string', 'SaaS subscription id'),
    col('errorText', 'string', 'Last error'),
    col('scanCount', 'bigint', 'Scans so far'),
    col('customerId', 'string', 'Qualys customer id (often null)'),
    col('connectorId', 'bigint', 'Connector id as the API gives it (often null: see lake_connector_id)'),
    col('nextPageToken', 'string', 'Scanner paging state'),
    col('deltaPageToken', 'string', 'Scanner delta state'),
    col('scannerId', 'bigint', 'Scanner id'),
    col('scannerDefinitionId', 'bigint', 'Scanner definition id'),
    col('retryCount', 'int', 'Retries of the last scan'),
    col(
      'lake_connector_id',
      'bigint',
      'Connector whose scanners endpoint returned the row (sdr_connectors.id)',
    ),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrUsers: TableDef = {
  name: CURATED_DATASETS.sdrUsers,
  description: 'SaaSDR users of every connector, one row per user per inventory snapshot.',
  columns: [
    ...ENTITY_HEAD,
    col('domain', 'string', 'Email domain'),
    col('email', 'string', 'Email'),
    col('firstName', 'string', 'First name'),
    col('lastName', 'string', 'Last name'),
    col('fullName', 'string', 'Full name'),
    col('username', 'string', 'User name'),
    col('nameAlias', 'string', 'Display name'),
    col('isSuspended', 'boolean', 'Suspended in the SaaS application'),
    col('entityType', 'string', 'e.g. USER'),
    col('accessType', 'string', 'Internal or External'),
    col('role', 'string', 'Primary role'),
    col('roles', 'array<string>', 'All roles'),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrGroups: TableDef = {
  name: CURATED_DATASETS.sdrGroups,
  description: 'SaaSDR groups with their members, one row per group per inventory snapshot.',
  columns: [
    ...ENTITY_HEAD,
    col('domain', 'string', 'Email domain'),
    col('email', 'string', 'Group email'),
    col('name', 'string', 'Group name'),
    col('nameAlias', 'string', 'Display name'),
    col('createdDate', 'string', 'Created (ISO-8601)'),
    col('lastUpdatedDate', 'string', 'Last updated (ISO-8601)'),
    col('aliases', 'string', 'Aliases as text'),
    col('entityType', 'string', 'e.g. GROUP, CHATTER GROUP'),
    col('accessType', 'string', 'External when a member is external, else Internal'),
    col('directMembersCount', 'bigint', 'Direct members'),
    col(
      'members',
      'array<struct<groupId:string,role:string,entityType:string,accessType:string,domain:string,userId:string,email:string,fullName:string>>',
      'Members: cardinality(members), or CROSS JOIN UNNEST(members)',
    ),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrDocuments: TableDef = {
  name: CURATED_DATASETS.sdrDocuments,
  description: 'SaaSDR documents with owner and sharing, one row per document per inventory snapshot.',
  columns: [
    ...ENTITY_HEAD,
    col('entityType', 'string', 'e.g. DOCUMENT'),
    col('name', 'string', 'File name'),
    col('nameAlias', 'string', 'Display name'),
    col('type', 'string', 'File type, e.g. pdf, gsheet'),
    col('size', 'bigint', 'Bytes (null for native Google files)'),
    col('owner', 'struct<userId:string,email:string,fullName:string>', 'Owner: owner.email, owner.fullName'),
    col('lastUpdatedDate', 'string', 'Last updated (ISO-8601)'),
    col('createdDate', 'string', 'Created (ISO-8601)'),
    col('accessType', 'string', 'Internal, Private, External or Anyonewithlink'),
    col('webContentLink', 'string', 'Link to the document'),
    col('lastUpdatedBy', 'string', 'Last updated by'),
    col('externalDomains', 'string', 'Comma-separated domains outside the tenant it is shared with'),
    col('externalPermissionsCount', 'bigint', 'Permissions granted outside the tenant'),
    col('isShared', 'boolean', 'Shared with anyone'),
    col(
      'permissions',
      `array<struct<${SHARE_ENTRY},domain:string,email:string>>`,
      'Who has access: accessType Internal, External, Trusted or Anyonewithlink',
    ),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrApplications: TableDef = {
  name: CURATED_DATASETS.sdrApplications,
  description: 'Third-party (OAuth) applications with their users, one row per app per inventory snapshot.',
  columns: [
    ...ENTITY_HEAD,
    col('name', 'string', 'Application name'),
    col('nameAlias', 'string', 'Display name'),
    col('isAnonymous', 'boolean', 'Anonymous application'),
    col('scopes', 'string', 'Granted OAuth scopes, ", "-separated text'),
    col('score', 'double', 'Risk score'),
    col('priceModel', 'string', 'Price model'),
    col('billingCycle', 'string', 'Billing cycle'),
    col('isTrusted', 'boolean', 'Marked trusted'),
    col('userCount', 'bigint', 'Users who granted access'),
    col('exposure', 'string', 'Exposure level'),
    col(
      'users',
      'array<struct<sourceId:string,appId:string,domain:string,email:string>>',
      'Users of the app',
    ),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrMeetings: TableDef = {
  name: CURATED_DATASETS.sdrMeetings,
  description:
    'Meetings and webinars with participants and recordings, one row per meeting per inventory snapshot.',
  columns: [
    ...ENTITY_HEAD,
    col('meetingId', 'string', 'Meeting id (text in the API)'),
    col(
      'hostUser',
      'struct<userId:string,email:string,fullName:string,department:string>',
      'Host: hostUser.email, hostUser.department',
    ),
    col('name', 'string', 'Topic'),
    col('nameAlias', 'string', 'Display name'),
    col('entityType', 'string', 'Meeting or Webinar'),
    col('type', 'string', 'e.g. Scheduled'),
    col('startedAt', 'string', 'Start (ISO-8601)'),
    col('scheduledDuration', 'bigint', 'Scheduled minutes'),
    col('accessType', 'string', 'External when a participant is external, else Internal'),
    col('participantsCount', 'bigint', 'Participants'),
    col(
      'participants',
      `array<struct<${SHARE_ENTRY},domain:string,userId:string,email:string,fullName:string>>`,
      'Participants',
    ),
    col('recordingsCount', 'bigint', 'Recordings'),
    col('recordingsShareUrl', 'string', 'Share link of the recordings'),
    col(
      'recordings',
      'array<struct<id:string,meetingUUID:string,startedAt:string,endedAt:string,fileType:string,fileSize:bigint,playUrl:string,downloadUrl:string,status:string,recordingType:string>>',
      'Recordings',
    ),
    col(
      'recordingSetting',
      'struct<accessType:string,recordingAuthentication:boolean,viewerDownload:boolean,onDemand:boolean,approvalType:int>',
      'Recording sharing settings',
    ),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrPolicies: TableDef = {
  name: CURATED_DATASETS.sdrPolicies,
  description:
    'SaaSDR posture policies (from the policy detail endpoint), one row per policy per inventory snapshot.',
  columns: [
    col('id', 'bigint', 'Policy id'),
    col('connectorType', 'string', 'Application the policy is for'),
    col('name', 'string', 'Policy name (sdr_posture.policyName)'),
    col('description', 'string', 'Description'),
    col('version', 'string', 'Policy version, e.g. v1.4.0'),
    col('type', 'string', 'System Defined or User Defined'),
    col('scope', 'array<string>', 'Scope'),
    col('isSystemCreated', 'boolean', 'Created by Qualys'),
    col('createdDate', 'string', 'Created (ISO-8601)'),
    col('updatedDate', 'string', 'Updated (ISO-8601)'),
    col('createdBy', 'string', 'Created by'),
    col('updatedBy', 'string', 'Updated by'),
    col('controlCount', 'bigint', 'Controls in the policy'),
    col('controls', 'array<string>', 'Control ids (cid)'),
    col('customerId', 'string', 'Qualys customer id (null for system policies)'),
    col('connectors', `array<${CONNECTOR_STRUCT}>`, 'Connectors the policy applies to, as in sdr_connectors'),
    ...INVENTORY_LAKE,
  ],
  excluded: {},
};

const sdrSnapshots: TableDef = {
  name: CURATED_DATASETS.sdrSnapshots,
  description:
    'One row per completed inventory snapshot: join the inventory tables on lake_snapshot_id = snapshot_id to read only complete snapshots.',
  columns: [
    col('snapshot_id', 'string', 'Snapshot id, its UTC start time (20250510T000000Z); sorts by time'),
    col('started_at', 'string', 'Start (ISO-8601 UTC); dt is its date'),
    col('completed_at', 'string', 'When its last page landed (ISO-8601 UTC)'),
    col('status', 'string', 'complete (only complete snapshots are recorded)'),
    col('page_size', 'int', 'Page size the snapshot read with'),
    col('runs', 'int', 'Collector runs the snapshot took'),
    col('api_calls', 'bigint', 'Qualys calls the snapshot took'),
    col(
      'datasets',
      'map<string,struct<records:bigint,pages:bigint,missing:bigint>>',
      "Per table: records, pages, and items gone while reading (missing). datasets['sdr_users'].records",
    ),
    LAKE_INGESTED_AT,
  ],
  excluded: {},
};

const sdrPosture: TableDef = {
  name: CURATED_DATASETS.sdrPosture,
  description:
    'SaaSDR posture evidence: one row per control x resource evaluation per poll (lake_run_id), partitioned by the poll start date.',
  columns: [
    col('cid', 'string', 'Control id'),
    col('controlName', 'string', 'Control'),
    col('criticality', 'string', 'Low, Medium, High or Critical'),
    col('isRemediable', 'string', 'Yes or No'),
    col('lastEvaluatedDate', 'string', 'Last evaluation of the control (ISO-8601)'),
    col('firstScannedDate', 'string', 'First evaluation of the control (ISO-8601)'),
    col('connectorId', 'bigint', 'Connector (sdr_connectors.id)'),
    col('connectorType', 'string', 'Connector type as the connector list names it (GSUITE, ...)'),
    col('connectorName', 'string', 'Connector name'),
    col('subscriptionId', 'string', 'SaaS subscription the evaluation is for'),
    col('policyName', 'string', 'Policy evaluated'),
    col(
      'controlEvaluationStatus',
      'string',
      'Control result (Pass, Fail, Error): Fail if any resource fails',
    ),
    col('resourceId', 'string', 'Resource evaluated (null for a control without resources)'),
    col('resourceEvaluationResult', 'string', 'Pass, Fail or Error for this resource'),
    col(
      'evidenceDetails',
      'array<struct<evidenceKey:string,evidenceSuccess:string,evidenceFail:string>>',
      'Evidence; evidenceSuccess/evidenceFail are text as the API sends them (often JSON text or "null")',
    ),
    col('lake_run_id', 'string', 'Posture poll id, its UTC start time (20250510T000000.000Z); sorts by time'),
    LAKE_INGESTED_AT,
    LAKE_RAW_KEY,
    col('lake_connector_id', 'string', 'Connector id as text'),
    col('lake_policy_id', 'string', 'Policy id as text (sdr_policies.id)'),
    col('lake_page', 'int', 'Reporting page (from 1) the row came from'),
  ],
  excluded: {},
};

const sdrReports: TableDef = {
  name: CURATED_DATASETS.sdrReports,
  description:
    'Index of archived SaaSDR reports: the listing record plus where the file is, partitioned by the report creation date.',
  columns: [
    col('fileUuid', 'string', 'Report id'),
    col('reportName', 'string', 'Report name'),
    col('description', 'string', 'Description'),
    col('fileFormat', 'string', 'csv, pdf, ...'),
    col('status', 'string', 'completed (only completed reports are archived)'),
    col('templateTitle', 'string', 'Template title'),
    col('templateType', 'string', 'Template type'),
    col('templateName', 'string', 'Template name'),
    col('createdAt', 'string', 'Created (ISO-8601)'),
    col('expiresOn', 'string', 'When Qualys deletes it (ISO-8601)'),
    col(
      'config',
      'struct<saasApplication:struct<key:string,value:string>,connectors:array<struct<key:bigint,value:string>>,policy:struct<key:bigint,value:string>,result:array<string>,template:struct<key:string,value:string>>',
      'What the report covers: config.policy.value, config.connectors, config.result',
    ),
    col('createdBy', 'string', 'Qualys user who created it'),
    col('lake_file_key', 'string', 'S3 key of the report file in the archive bucket'),
    col('lake_file_name', 'string', 'File name from Content-Disposition'),
    col('lake_content_type', 'string', 'Content type of the download'),
    col('lake_bytes', 'bigint', 'File size'),
    col('lake_sha256', 'string', 'Hex SHA-256 of the file'),
    col('lake_downloaded_at', 'string', 'Download time (ISO-8601 UTC)'),
    LAKE_INGESTED_AT,
    col('lake_run_id', 'string', 'Listing pass that archived it'),
  ],
  excluded: {},
};

/** The definition of every curated dataset, in no particular order. */
const DEFINITIONS: readonly TableDef[] = [
  cdrFindings,
  sdrConnectors,
  sdrScanners,
  sdrUsers,
  sdrGroups,
  sdrDocuments,
  sdrApplications,
  sdrMeetings,
  sdrPolicies,
  sdrSnapshots,
  sdrPosture,
  sdrReports,
];

export function tableDef(name: CuratedDataset): TableDef {
  const table = DEFINITIONS.find((candidate) => candidate.name === name);
  if (!table) throw new Error(`no table definition for ${name}`);
  return table;
}

/**
 * Every table: one per dataset a collector's manifest says it produces, in manifest order, so the
 * Glue tables come from the same facts the collectors write with.
 */
export const TABLES: readonly TableDef[] = Object.values(COLLECTOR_MANIFESTS).flatMap((manifest) =>
  manifest.datasets.map(tableDef),
);

/** The columns as Glue stores them: lower-case names and nested field names. */
export function glueColumns(table: TableDef): Array<{ name: string; type: string; comment: string }> {
  return table.columns.map(({ name, type, comment }) => ({
    name: name.toLowerCase(),
    type: type.toLowerCase(),
    comment,
  }));
}
