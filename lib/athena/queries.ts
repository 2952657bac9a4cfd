import { CURATED_DATASETS, type CuratedDataset, INVENTORY_DATASETS } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';

/**
 * The Athena named queries a security team needs on day one, in Athena (Trino) SQL. The stack saves
 * each one in the workgroup (lib/constructs/catalog.ts); the tests and `npm start` run the same text
 * in DuckDB through the mechanical translation of ./dialect.ts.
 *
 * Conventions:
 * - Every query that reads events filters on the partition key `dt` first, so Athena lists and reads
 *   only those days (partition projection makes that filter free).
 * - Output columns get snake_case aliases: Athena returns column names lower-cased, DuckDB as written,
 *   so aliases keep the result the same in both.
 * - Parameters are Athena execution parameters (`?`, in order). The console asks for them when the
 *   query runs; type each as a SQL literal, e.g. `'2025-05-01'`. From the CLI:
 *   `aws athena start-query-execution --work-group qualys-lake --query-string "..."
 *   --execution-parameters "'2025-05-01'" "'i-0abc'" "''"`.
 * - Inventory queries read only complete snapshots: they join `sdr_snapshots` (status = 'complete')
 *   on the subscription, the snapshot id and `dt`, the snapshot's start date.
 * - Every query answers per subscription (the `subscription` partition key): "latest" is each
 *   subscription's own latest snapshot or poll, rows are joined within one subscription (two Qualys
 *   subscriptions have their own id spaces: a connector id or a snapshot id may be in both), and the
 *   `subscription` column says whose each row is. `AND subscription = 'x'` reads one; a
 *   parameterised query takes it as its last parameter (`''` for all).
 */

export interface QueryParameter {
  readonly name: string;
  readonly description: string;
  /** A value to run it with (the local run, the docs); typed in Athena as a quoted literal. */
  readonly example: string;
  /**
   * The value of a trailing parameter its caller leaves out (`qualys-lake query`, the local lake),
   * so a query that gained it still runs with the values it took before. Athena's console asks
   * for every parameter.
   * @default none: the parameter is required
   */
  readonly whenOmitted?: string;
}

export interface NamedQueryDef {
  /** Athena named-query name; also how tests and the local run refer to it. */
  readonly name: string;
  readonly description: string;
  readonly sql: string;
  /** The `?` placeholders, in order. */
  readonly parameters: readonly QueryParameter[];
}

/** `dt` of N days ago, as the partition string (YYYY-MM-DD). */
const daysAgo = (days: number) => `CAST(current_date - INTERVAL '${days}' DAY AS varchar)`;

/** The last 7 days of findings: the partition filter, then the exact time. */
const LAST_7_DAYS = `dt >= ${daysAgo(7)}
  AND from_iso8601_timestamp("timestamp") >= current_timestamp - INTERVAL '7' DAY`;

/** Each subscription's newest complete inventory snapshot (its id and its `dt`), as a subquery. */
const LATEST_SNAPSHOT = `SELECT subscription, snapshot_id, dt
  FROM (
    SELECT subscription, snapshot_id, dt,
      row_number() OVER (PARTITION BY subscription ORDER BY snapshot_id DESC) AS newest
    FROM sdr_snapshots
    WHERE status = 'complete'
  ) complete
  WHERE newest = 1`;

/** The optional last parameter of a parameterised query: one subscription, or `''` for all. */
const SUBSCRIPTION_PARAMETER: QueryParameter = {
  name: SUBSCRIPTION_PARTITION,
  description: "One subscription's name, or '' (two quotes) for every subscription",
  example: '',
  whenOmitted: '',
};
const SUBSCRIPTION_MATCHES = `? IN ('', subscription)`;

/** A failing evaluation: the resource's result, or the control's when it has no resources. */
const failing = (alias = '') =>
  `lower(coalesce(${alias}resourceEvaluationResult, ${alias}controlEvaluationStatus)) = 'fail'`;

/** Critical first. */
const criticalityOrder = (column: string) =>
  `CASE lower(${column}) WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 WHEN 'low' THEN 4 ELSE 5 END`;

const cdrHighCritical: NamedQueryDef = {
  name: 'cdr_high_critical_by_account_category',
  description:
    'HIGH and CRITICAL CDR findings of the last 7 days, by subscription, cloud account and threat category.',
  parameters: [],
  sql: `SELECT
  subscription,
  cloudType AS cloud_type,
  cspAccount AS csp_account,
  threatCategory AS threat_category,
  count(*) AS findings,
  count_if(severity = 4) AS critical,
  count_if(severity = 3) AS high,
  count(DISTINCT resourceId) AS resources,
  min("timestamp") AS first_seen,
  max("timestamp") AS last_seen
FROM cdr_findings
WHERE ${LAST_7_DAYS}
  AND severity >= 3
GROUP BY subscription, cloudType, cspAccount, threatCategory
ORDER BY critical DESC, findings DESC, subscription, csp_account, threat_category`,
};

const cdrTopRemoteIps: NamedQueryDef = {
  name: 'cdr_top_remote_ips',
  description:
    'Per subscription, the 25 remote IP addresses behind the most CDR findings of the last 7 days, with their location.',
  parameters: [],
  sql: `WITH ips AS (
  SELECT
    subscription,
    remoteIpDetails.ipAddress AS remote_ip,
    remoteIpDetails.country AS country,
    remoteIpDetails.city AS city,
    count(*) AS findings,
    count_if(severity >= 3) AS high_or_critical,
    count(DISTINCT cspAccount) AS accounts,
    count(DISTINCT threatCategory) AS categories,
    max("timestamp") AS last_seen
  FROM cdr_findings
  WHERE ${LAST_7_DAYS}
    AND remoteIpDetails.ipAddress IS NOT NULL
  GROUP BY subscription, remoteIpDetails.ipAddress, remoteIpDetails.country, remoteIpDetails.city
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY subscription ORDER BY findings DESC, remote_ip, country, city) AS place
  FROM ips
)
SELECT subscription, remote_ip, country, city, findings, high_or_critical, accounts, categories, last_seen
FROM ranked
WHERE place <= 25
ORDER BY subscription, place`,
};

const cdrTopRemoteCountries: NamedQueryDef = {
  name: 'cdr_top_remote_countries',
  description:
    'Per subscription, the 25 countries of the remote actors behind the most CDR findings of the last 7 days.',
  parameters: [],
  sql: `WITH countries AS (
  SELECT
    subscription,
    remoteIpDetails.country AS country,
    count(*) AS findings,
    count_if(severity >= 3) AS high_or_critical,
    count(DISTINCT remoteIpDetails.ipAddress) AS remote_ips,
    count(DISTINCT cspAccount) AS accounts
  FROM cdr_findings
  WHERE ${LAST_7_DAYS}
    AND remoteIpDetails.country IS NOT NULL
  GROUP BY subscription, remoteIpDetails.country
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY subscription ORDER BY findings DESC, country) AS place
  FROM countries
)
SELECT subscription, country, findings, high_or_critical, remote_ips, accounts
FROM ranked
WHERE place <= 25
ORDER BY subscription, place`,
};

const cdrForResource: NamedQueryDef = {
  name: 'cdr_findings_for_resource',
  description:
    'Every CDR finding of one resource (matched on resourceId or affectedResource) since a given day, newest first.',
  parameters: [
    {
      name: 'since_day',
      description:
        "First day to read, 'YYYY-MM-DD' (the dt partition: the further back, the more Athena scans)",
      example: '2025-01-01',
    },
    {
      name: 'resource',
      description: 'The resource id or name, exactly as in the finding',
      example: 'OktaSSO_Compute',
    },
    SUBSCRIPTION_PARAMETER,
  ],
  sql: `SELECT
  subscription,
  "timestamp" AS finding_time,
  CASE severity WHEN 4 THEN 'CRITICAL' WHEN 3 THEN 'HIGH' WHEN 2 THEN 'MEDIUM' WHEN 1 THEN 'LOW' END AS severity,
  cloudType AS cloud_type,
  cspAccount AS csp_account,
  cspRegion AS csp_region,
  resourceType AS resource_type,
  resourceId AS resource_id,
  affectedResource AS affected_resource,
  threatCategory AS threat_category,
  remoteIpDetails.ipAddress AS remote_ip,
  remoteIpDetails.country AS remote_country,
  eventMessage AS event_message,
  uuid
FROM cdr_findings
WHERE dt >= ?
  AND ? IN (resourceId, affectedResource)
  AND ${SUBSCRIPTION_MATCHES}
ORDER BY finding_time DESC, subscription, uuid`,
};

const sdrFailingControls: NamedQueryDef = {
  name: 'sdr_failing_controls_by_connector',
  description:
    "Failing SaaSDR controls per subscription, connector and criticality, from each connector/policy pair's latest posture poll of the last 7 days.",
  parameters: [],
  sql: `WITH recent AS (
  SELECT * FROM sdr_posture WHERE dt >= ${daysAgo(7)}
),
latest AS (
  SELECT subscription, lake_connector_id, lake_policy_id, max(lake_run_id) AS lake_run_id
  FROM recent
  GROUP BY subscription, lake_connector_id, lake_policy_id
)
SELECT
  p.subscription AS subscription,
  p.connectorType AS connector_type,
  p.connectorName AS connector_name,
  p.lake_connector_id AS connector_id,
  p.criticality AS criticality,
  count(DISTINCT p.cid) AS failing_controls,
  count(DISTINCT p.cid || '|' || coalesce(p.resourceId, '')) AS failing_resources,
  max(p.lake_run_id) AS poll_id
FROM recent p
JOIN latest l
  ON p.subscription = l.subscription
  AND p.lake_connector_id = l.lake_connector_id
  AND p.lake_policy_id = l.lake_policy_id
  AND p.lake_run_id = l.lake_run_id
WHERE ${failing('p.')}
GROUP BY p.subscription, p.connectorType, p.connectorName, p.lake_connector_id, p.criticality
ORDER BY subscription, connector_type, connector_name, connector_id, ${criticalityOrder('p.criticality')}`,
};

const sdrStartedFailing: NamedQueryDef = {
  name: 'sdr_controls_started_failing_this_week',
  description:
    "Control x resource pairs failing in their connector's latest posture poll whose failure started in the last 7 days (looking back 35 days).",
  parameters: [],
  sql: `WITH evaluations AS (
  -- One row per subscription, connector, control, resource and poll: failing when any policy saw it fail.
  SELECT
    subscription,
    lake_connector_id AS connector_id,
    cid,
    coalesce(resourceId, '') AS resource_id,
    lake_run_id AS poll_id,
    min(dt) AS poll_day,
    bool_or(${failing()}) AS failing,
    max(connectorType) AS connector_type,
    max(connectorName) AS connector_name,
    max(controlName) AS control_name,
    max(criticality) AS criticality
  FROM sdr_posture
  WHERE dt >= ${daysAgo(35)}
  GROUP BY subscription, lake_connector_id, cid, coalesce(resourceId, ''), lake_run_id
),
connector_latest AS (
  SELECT subscription, connector_id, max(poll_id) AS poll_id
  FROM evaluations
  GROUP BY subscription, connector_id
),
history AS (
  SELECT
    subscription,
    connector_id,
    cid,
    resource_id,
    max(poll_id) AS latest_poll,
    max(CASE WHEN NOT failing THEN poll_id END) AS last_not_failing_poll
  FROM evaluations
  GROUP BY subscription, connector_id, cid, resource_id
),
streaks AS (
  -- The polls of the current failure: those after the last poll that did not see it fail.
  SELECT
    e.subscription,
    e.connector_id,
    e.cid,
    e.resource_id,
    min(e.poll_id) AS failing_since_poll,
    min(e.poll_day) AS failing_since_day,
    max(h.last_not_failing_poll) AS last_not_failing_poll,
    max(e.connector_type) AS connector_type,
    max(e.connector_name) AS connector_name,
    max(e.control_name) AS control_name,
    max(e.criticality) AS criticality
  FROM evaluations e
  JOIN history h
    ON e.subscription = h.subscription
    AND e.connector_id = h.connector_id
    AND e.cid = h.cid
    AND e.resource_id = h.resource_id
  JOIN connector_latest c
    ON c.subscription = h.subscription AND c.connector_id = h.connector_id AND c.poll_id = h.latest_poll
  WHERE e.failing AND e.poll_id > coalesce(h.last_not_failing_poll, '')
  GROUP BY e.subscription, e.connector_id, e.cid, e.resource_id
)
SELECT
  subscription,
  connector_type,
  connector_name,
  connector_id,
  cid,
  control_name,
  criticality,
  resource_id,
  failing_since_day,
  failing_since_poll,
  last_not_failing_poll IS NOT NULL AS passed_before
FROM streaks
WHERE failing_since_day >= ${daysAgo(7)}
ORDER BY ${criticalityOrder('criticality')}, subscription, connector_type, connector_id, cid, resource_id`,
};

const sdrDocumentsShared: NamedQueryDef = {
  name: 'sdr_documents_shared_externally',
  description:
    "Documents of each subscription's latest complete inventory snapshot shared outside the tenant: external permissions, External or anyone-with-the-link access.",
  parameters: [],
  sql: `WITH latest AS (
  ${LATEST_SNAPSHOT}
)
SELECT
  d.subscription AS subscription,
  d.connector.type AS connector_type,
  d.connector.id AS connector_id,
  d.name AS document,
  d.owner.email AS owner,
  d.accessType AS access_type,
  d.externalDomains AS external_domains,
  d.externalPermissionsCount AS external_permissions,
  d.webContentLink AS link,
  d.lastUpdatedDate AS last_updated,
  d.sourceId AS source_id
FROM sdr_documents d
JOIN latest l ON d.subscription = l.subscription AND d.lake_snapshot_id = l.snapshot_id AND d.dt = l.dt
WHERE d.externalPermissionsCount > 0
  OR lower(d.accessType) IN ('external', 'anyonewithlink', 'public')
ORDER BY external_permissions DESC, subscription, connector_type, document, source_id`,
};

/** Items of the SaaS entity tables are unique per connector and sourceId. */
const CONNECTOR_ITEM_KEY = `CAST(t.connector.id AS varchar) || ':' || t.sourceId`;

/**
 * What "changed" means per inventory table: a key that identifies the item across snapshots and
 * the security-relevant attributes compared. Exported so the test computes the same thing from the
 * records.
 */
export const INVENTORY_CHANGE_FIELDS = [
  {
    table: CURATED_DATASETS.sdrConnectors,
    key: 'CAST(t.id AS varchar)',
    label: 't.name',
    state: [
      ['status', 't.status'],
      ['state', 't.state'],
      ['enabled', 'CAST(t.isEnabled AS varchar)'],
      ['deleted', 'CAST(t.deleted AS varchar)'],
    ],
  },
  {
    table: CURATED_DATASETS.sdrUsers,
    key: CONNECTOR_ITEM_KEY,
    label: 't.email',
    state: [
      ['suspended', 'CAST(t.isSuspended AS varchar)'],
      ['role', 't.role'],
      ['access', 't.accessType'],
    ],
  },
  {
    table: CURATED_DATASETS.sdrGroups,
    key: CONNECTOR_ITEM_KEY,
    label: 't.name',
    state: [
      ['access', 't.accessType'],
      ['members', 'CAST(t.directMembersCount AS varchar)'],
    ],
  },
  {
    table: CURATED_DATASETS.sdrDocuments,
    key: CONNECTOR_ITEM_KEY,
    label: 't.name',
    state: [
      ['access', 't.accessType'],
      ['external', 'CAST(t.externalPermissionsCount AS varchar)'],
      ['domains', 't.externalDomains'],
      ['owner', 't.owner.email'],
    ],
  },
  {
    table: CURATED_DATASETS.sdrApplications,
    key: CONNECTOR_ITEM_KEY,
    label: 't.name',
    state: [
      ['trusted', 'CAST(t.isTrusted AS varchar)'],
      ['exposure', 't.exposure'],
      ['users', 'CAST(t.userCount AS varchar)'],
      ['scopes', 't.scopes'],
    ],
  },
  {
    table: CURATED_DATASETS.sdrPolicies,
    key: 'CAST(t.id AS varchar)',
    label: 't.name',
    state: [
      ['version', 't.version'],
      ['controls', 'CAST(t.controlCount AS varchar)'],
    ],
  },
] as const satisfies ReadonlyArray<{
  table: CuratedDataset;
  key: string;
  label: string;
  state: ReadonlyArray<readonly [string, string]>;
}>;

/** `name=value | name=value`, a null written as empty. */
function stateText(state: ReadonlyArray<readonly [string, string]>): string {
  return `concat_ws(' | ', ${state.map(([name, expression]) => `'${name}=' || coalesce(${expression}, '')`).join(', ')})`;
}

const sdrInventoryChanges: NamedQueryDef = {
  name: 'sdr_inventory_changes_between_snapshots',
  description:
    'Connectors, users, groups, documents, applications and policies added, removed or changed (access, sharing, suspension, ...) between two complete inventory snapshots of a subscription (of each subscription that has both ids).',
  parameters: [
    {
      name: 'snapshot_a',
      description:
        'One snapshot_id from sdr_snapshots (order does not matter: the older one is the baseline)',
      example: '20250501T000000Z',
    },
    { name: 'snapshot_b', description: 'The other snapshot_id', example: '20250508T000000Z' },
    SUBSCRIPTION_PARAMETER,
  ],
  sql: `WITH chosen AS (
  SELECT subscription, snapshot_id, dt
  FROM sdr_snapshots
  WHERE status = 'complete' AND snapshot_id IN (?, ?) AND ${SUBSCRIPTION_MATCHES}
),
bounds AS (
  SELECT subscription, min(snapshot_id) AS old_id, max(snapshot_id) AS new_id
  FROM chosen
  GROUP BY subscription
),
items AS (
${INVENTORY_CHANGE_FIELDS.map(
  ({ table, key, label, state }) => `  SELECT
    '${table}' AS dataset,
    t.subscription AS subscription,
    t.lake_snapshot_id AS snapshot_id,
    ${key} AS item_key,
    ${label} AS item_name,
    ${stateText(state)} AS item_state
  FROM ${table} t
  JOIN chosen s ON t.subscription = s.subscription AND t.lake_snapshot_id = s.snapshot_id AND t.dt = s.dt`,
).join('\n  UNION ALL\n')}
),
old_items AS (
  SELECT i.* FROM items i JOIN bounds b ON i.subscription = b.subscription AND i.snapshot_id = b.old_id
),
new_items AS (
  SELECT i.* FROM items i JOIN bounds b ON i.subscription = b.subscription AND i.snapshot_id = b.new_id
)
SELECT
  coalesce(n.subscription, o.subscription) AS subscription,
  coalesce(n.dataset, o.dataset) AS dataset,
  CASE WHEN o.item_key IS NULL THEN 'added' WHEN n.item_key IS NULL THEN 'removed' ELSE 'changed' END AS change,
  coalesce(n.item_key, o.item_key) AS item_key,
  coalesce(n.item_name, o.item_name) AS item_name,
  o.item_state AS old_state,
  n.item_state AS new_state
FROM old_items o
FULL OUTER JOIN new_items n
  ON o.subscription = n.subscription AND o.dataset = n.dataset AND o.item_key = n.item_key
WHERE o.item_key IS NULL OR n.item_key IS NULL OR o.item_state <> n.item_state
ORDER BY subscription, dataset, change, item_key`,
};

/** `<table>_latest`: the rows of each subscription's newest complete snapshot of an inventory table. */
export const latestQueryName = (table: (typeof INVENTORY_DATASETS)[number]) => `${table}_latest`;

/** One latest-snapshot query per inventory table, in INVENTORY_DATASETS order. */
const latestSnapshotQueries: NamedQueryDef[] = INVENTORY_DATASETS.map((table) => ({
  name: latestQueryName(table),
  description: `${table} as of each subscription's latest complete inventory snapshot (one row per item).`,
  parameters: [],
  sql: `SELECT t.*
FROM ${table} t
JOIN (
  ${LATEST_SNAPSHOT}
) s ON t.subscription = s.subscription AND t.lake_snapshot_id = s.snapshot_id AND t.dt = s.dt`,
}));

const sdrReportsArchived: NamedQueryDef = {
  name: 'sdr_reports_archived',
  description:
    'SaaSDR reports created in the last 90 days and archived by qualys-lake, with the S3 key of each file.',
  parameters: [],
  sql: `SELECT
  subscription,
  createdAt AS created_at,
  reportName AS report_name,
  config.policy.value AS policy,
  config.saasApplication.value AS application,
  fileFormat AS file_format,
  lake_bytes AS bytes,
  lake_file_key AS file_key,
  lake_sha256 AS sha256,
  fileUuid AS file_uuid
FROM sdr_reports
WHERE dt >= ${daysAgo(90)}
ORDER BY created_at DESC, subscription, file_uuid`,
};

export const NAMED_QUERIES: readonly NamedQueryDef[] = [
  cdrHighCritical,
  cdrTopRemoteIps,
  cdrTopRemoteCountries,
  cdrForResource,
  sdrFailingControls,
  sdrStartedFailing,
  sdrDocumentsShared,
  sdrInventoryChanges,
  ...latestSnapshotQueries,
  sdrReportsArchived,
];

/**
 * The values to run `query` with: `given`, in order, then each omitted trailing parameter's
 * `whenOmitted`. Throws naming the parameters when a required one is missing or there are too many.
 */
export function parameterValues(query: NamedQueryDef, given: readonly string[]): string[] {
  const values = query.parameters.map((parameter, index) => given[index] ?? parameter.whenOmitted);
  const complete = values.filter((value): value is string => value !== undefined);
  if (given.length <= values.length && complete.length === values.length) return complete;
  const required = query.parameters.filter((parameter) => parameter.whenOmitted === undefined);
  const optional = query.parameters.filter((parameter) => parameter.whenOmitted !== undefined);
  throw new Error(
    `${query.name} takes ${required.length} parameter(s) (${required.map((p) => p.name).join(', ')})${optional.length ? ` and optionally ${optional.map((p) => p.name).join(', ')}` : ''}, got ${given.length}`,
  );
}

export function namedQuery(name: string): NamedQueryDef {
  const query = NAMED_QUERIES.find((candidate) => candidate.name === name);
  if (!query)
    throw new Error(`no named query ${name}; known: ${NAMED_QUERIES.map((q) => q.name).join(', ')}`);
  return query;
}
