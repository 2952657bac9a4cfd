import { CURATED_DATASETS, type CuratedDataset, type FunctionName } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';
import { glueColumns, type TableDef } from './tables';

/**
 * The compacted layer, as data and SQL: each curated table gets an Apache Iceberg table
 * `<table>_compacted` (Parquet, ZSTD) under `compacted/<table>/`, filled by Athena with an
 * insert-only MERGE from the landing table (the curated NDJSON), and a view `<table>_all` that reads
 * the compacted table for closed days and the landing table for the days late data can still reach.
 * The state machine (lib/constructs/compaction.ts) runs this SQL in Athena; the local lake
 * (tools/local-lake/compaction.ts) runs the same MERGE and view in DuckDB. Pure data and string
 * functions, so the CDK app and the tests can load it.
 */

/** Prefix of the archive bucket the Iceberg tables live under (data/ and metadata/ of each). */
export const COMPACTED_PREFIX = 'compacted/';
/**
 * The partition columns of every compacted table, in order: the `subscription=<name>` level of the
 * curated keys, then `dt` (the landing tables' partition keys).
 */
export const COMPACTED_PARTITIONS = [SUBSCRIPTION_PARTITION, 'dt'] as const;
/** Days one MERGE covers at most: with Athena's 100 partitions per write, up to 14 subscriptions. */
export const MERGE_DAYS = 7;
/** Most days an explicit catch-up (`{"fromDay"}`) may cover in one execution. */
export const MAX_CATCH_UP_DAYS = 400;

export const compactedTable = (table: CuratedDataset) => `${table}_compacted`;
export const unionView = (table: CuratedDataset) => `${table}_all`;
export const compactedPrefix = (table: CuratedDataset) => `${COMPACTED_PREFIX}${table}/`;

/**
 * What makes a record one record, per table: what the collectors write once (each exactly-once test
 * compares the curated rows with what the simulator served, each once). The MERGE matches on these
 * plus the partition, null-safely (`IS NOT DISTINCT FROM`: a posture control without resources has
 * a null resourceId). Dotted names are struct fields.
 */
export const IDENTITY: Readonly<Record<CuratedDataset, readonly string[]>> = {
  // Deduplicated on uuid by the seen index.
  [CURATED_DATASETS.cdrFindings]: ['uuid'],
  // Inventory: one row per entity per snapshot; sourceId is unique per connector.
  [CURATED_DATASETS.sdrConnectors]: ['lake_snapshot_id', 'id'],
  // scannerId is 0 in the API's answers; a connector has one scanner per scanner definition.
  [CURATED_DATASETS.sdrScanners]: ['lake_snapshot_id', 'lake_connector_id', 'scannerDefinitionId'],
  [CURATED_DATASETS.sdrUsers]: ['lake_snapshot_id', 'connector.id', 'sourceId'],
  [CURATED_DATASETS.sdrGroups]: ['lake_snapshot_id', 'connector.id', 'sourceId'],
  [CURATED_DATASETS.sdrDocuments]: ['lake_snapshot_id', 'connector.id', 'sourceId'],
  [CURATED_DATASETS.sdrApplications]: ['lake_snapshot_id', 'connector.id', 'sourceId'],
  [CURATED_DATASETS.sdrMeetings]: ['lake_snapshot_id', 'connector.id', 'sourceId'],
  [CURATED_DATASETS.sdrPolicies]: ['lake_snapshot_id', 'id'],
  [CURATED_DATASETS.sdrSnapshots]: ['snapshot_id'],
  // One row per control x resource evaluation per poll, per connector/policy pair.
  [CURATED_DATASETS.sdrPosture]: ['lake_run_id', 'lake_connector_id', 'lake_policy_id', 'cid', 'resourceId'],
  [CURATED_DATASETS.sdrReports]: ['fileUuid'],
};

/** What decides how late rows can still land in a day's partition, from the stack's settings. */
export interface LateDataReach {
  /** CDR_RECONCILE_DAYS: a daily reconcile re-reads that many past days. */
  readonly cdrReconcileDays: number;
  /** CDR_LATE_MINUTES: an hour of event time is read once more this long after it. */
  readonly cdrLateMinutes: number;
  /** Each collector's schedule, minutes. */
  readonly scheduleMinutes: Readonly<Record<FunctionName, number>>;
  /** Each collector's lag alarm threshold, minutes: a poll or snapshot still writing past it alarms. */
  readonly lagMinutes: Readonly<Record<FunctionName, number>>;
}

const DAY_MINUTES = 24 * 60;

/** The collector that writes a table. */
export function writerOf(table: CuratedDataset): FunctionName {
  const writer = Object.values(COLLECTOR_MANIFESTS).find((manifest) => manifest.datasets.includes(table));
  if (!writer) throw new Error(`no collector writes ${table}`);
  return writer.name;
}

/**
 * Minutes after the end of a day that rows of that day can still land. CDR findings are partitioned
 * by their own time: the reconcile of day X re-reads from X - reconcileDays, a settle read comes
 * lateMinutes (plus a run) after the hour, and a collector behind by its lag threshold catches up.
 * The others are partitioned by the start of their poll, snapshot or (reports) creation: a poll or
 * snapshot spread over runs writes until it completes, within the lag threshold or it alarms.
 */
export function reachMinutes(table: CuratedDataset, reach: LateDataReach): number {
  const writer = writerOf(table);
  const lag = reach.lagMinutes[writer];
  if (writer !== 'cdr-findings') return lag;
  return Math.max(
    reach.cdrReconcileDays * DAY_MINUTES,
    reach.cdrLateMinutes + reach.scheduleMinutes['cdr-findings'],
    lag,
  );
}

/**
 * Days before today a run compacts, and the view reads from the landing table: the reach, plus one
 * compaction interval (a row must meet a run after it lands), rounded up to days, plus one day of
 * margin so a day is compacted by a whole day of runs (and their retries) after its last write
 * before the view starts reading it from the compacted table.
 */
export function lookbackDays(table: CuratedDataset, reach: LateDataReach, everyHours: number): number {
  return Math.ceil((reachMinutes(table, reach) + everyHours * 60) / DAY_MINUTES) + 1;
}

// ---------------------------------------------------------------------------------------------
// SQL (Athena; the local lake translates it with ./dialect.ts)

/** Placeholders of the MERGE text, replaced by the state machine with the days of one item. */
export const FROM_DAY = '{fromDay}';
export const TO_DAY = '{toDay}';

const quoted = (name: string) =>
  name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
const columnNames = (table: TableDef) => [
  ...table.columns.map((column) => column.name),
  ...COMPACTED_PARTITIONS,
];
const selectList = (table: TableDef, alias = '') =>
  columnNames(table)
    .map((name) => `${alias}${quoted(name)}`)
    .join(', ');

/** Athena DDL of the Iceberg table: the landing table's columns, partitioned by subscription and dt. */
export function createTableSql(table: TableDef, location: string): string {
  const columns = [
    ...glueColumns(table).map((column) => `\`${column.name}\` ${column.type}`),
    ...COMPACTED_PARTITIONS.map((name) => `\`${name}\` string`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${compactedTable(table.name)} (
  ${columns.join(',\n  ')})
PARTITIONED BY (${COMPACTED_PARTITIONS.map((name) => `\`${name}\``).join(', ')})
LOCATION '${location}'
TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd')`;
}

/**
 * The MERGE of the days FROM_DAY to TO_DAY (inclusive): every landing row whose identity the
 * compacted table does not hold yet is inserted, once (copies of one identity in the landing zone,
 * which the collectors do not write, would be inserted as one). Insert-only, so Iceberg appends new
 * files and a rerun inserts nothing; the commit is one snapshot, all or nothing.
 */
export function mergeSql(table: TableDef): string {
  const identity = IDENTITY[table.name];
  const partitions = COMPACTED_PARTITIONS.map(quoted).join(', ');
  const days = `BETWEEN '${FROM_DAY}' AND '${TO_DAY}'`;
  const matches = [
    `t."dt" ${days}`,
    ...COMPACTED_PARTITIONS.map((name) => `t.${quoted(name)} = s.${quoted(name)}`),
    ...identity.map((name) => `t.${quoted(name)} IS NOT DISTINCT FROM s.${quoted(name)}`),
  ];
  return `MERGE INTO ${compactedTable(table.name)} t
USING (
  SELECT ${selectList(table)}
  FROM (
    SELECT *, row_number() OVER (PARTITION BY ${partitions}, ${identity.map(quoted).join(', ')} ORDER BY "lake_ingested_at") AS lake_copy
    FROM ${table.name}
    WHERE "dt" ${days}
  ) landing
  WHERE lake_copy = 1
) s
ON ${matches.join('\n  AND ')}
WHEN NOT MATCHED THEN INSERT (${selectList(table)})
  VALUES (${selectList(table, 's.')})`;
}

/** The first day the view reads from the landing table, as SQL: `lookback` days before today (UTC). */
const landingFrom = (lookback: number) => `CAST(current_date - INTERVAL '${lookback}' DAY AS varchar)`;

/**
 * The view over both: compacted rows of the days before the lookback, landing rows from it on. A
 * day is read from one side only, so nothing is counted twice; the runs compact a day during the
 * whole lookback, so it is complete in the compacted table when the view switches to it.
 */
export function viewSql(table: TableDef, lookback: number): string {
  return `CREATE OR REPLACE VIEW ${unionView(table.name)} AS
SELECT ${selectList(table)} FROM ${compactedTable(table.name)} WHERE "dt" < ${landingFrom(lookback)}
UNION ALL
SELECT ${selectList(table)} FROM ${table.name} WHERE "dt" >= ${landingFrom(lookback)}`;
}

/** Weekly: rewrites the small files the hourly appends left (recent days only) into few large ones. */
export const optimizeSql = (table: CuratedDataset, sinceDay: string) =>
  `OPTIMIZE ${compactedTable(table)} REWRITE DATA USING BIN_PACK WHERE "dt" >= '${sinceDay}'`;

/** Weekly: expires old snapshots and deletes the files no snapshot references. */
export const vacuumSql = (table: CuratedDataset) => `VACUUM ${compactedTable(table)}`;

/**
 * A named query's SQL reading through the views: `FROM <table>` and `JOIN <table>` become
 * `FROM <table>_all`, for every curated table.
 */
export function readingViews(sql: string): string {
  const names = Object.values(CURATED_DATASETS).join('|');
  return sql.replace(
    new RegExp(`\\b(FROM|JOIN)(\\s+)(${names})\\b`, 'gi'),
    (_, keyword, space, name) => `${keyword}${space}${unionView(name as CuratedDataset)}`,
  );
}
