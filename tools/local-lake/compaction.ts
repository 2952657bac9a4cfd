import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { curatedPrefix } from '../../functions/core/manifest';
import {
  COMPACTED_PARTITIONS,
  compactedTable,
  FROM_DAY,
  mergeSql,
  TO_DAY,
  viewSql,
} from '../../lib/athena/compaction';
import { duckDbType, toDuckDbSql } from '../../lib/athena/dialect';
import { TABLES, type TableDef } from '../../lib/athena/tables';
import { type LocalLake, openLocalLake } from './duckdb';

/**
 * The compacted layer in DuckDB, over a local copy of the lake: a DuckDB table stands in for each
 * Iceberg table, and the MERGE and the view are the Athena SQL of lib/athena/compaction.ts,
 * translated by lib/athena/dialect.ts. The landing tables read
 * `curated/<table>/subscription=*\/dt=*\/*.json.gz`, with `subscription` and `dt` from the folders.
 */

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The landing table: the curated NDJSON with both partition columns; empty (typed) when absent. */
export function landingViewSql(lakeDir: string, table: TableDef): string {
  const dir = path.join(lakeDir, ...curatedPrefix(table.name).split('/'));
  if (!existsSync(dir)) {
    const nulls = [
      ...table.columns.map((column) => `CAST(NULL AS ${duckDbType(column.type)}) AS "${column.name}"`),
      ...COMPACTED_PARTITIONS.map((name) => `CAST(NULL AS VARCHAR) AS "${name}"`),
    ];
    return `CREATE OR REPLACE VIEW ${table.name} AS SELECT ${nulls.join(', ')} WHERE false`;
  }
  const glob = path.join(dir, 'subscription=*', 'dt=*', '*.json.gz');
  const columns = table.columns.map(
    (column) => `${literal(column.name)}: ${literal(duckDbType(column.type))}`,
  );
  return `CREATE OR REPLACE VIEW ${table.name} AS SELECT * FROM read_json(${literal(glob)},
    format = 'newline_delimited', compression = 'gzip', columns = {${columns.join(', ')}},
    hive_partitioning = true, hive_types = {'subscription': 'VARCHAR', 'dt': 'VARCHAR'})`;
}

/** The stand-in for the Iceberg table: same columns and types, then subscription and dt. */
export function compactedTableSql(table: TableDef): string {
  const columns = [
    ...table.columns.map((column) => `"${column.name}" ${duckDbType(column.type)}`),
    ...COMPACTED_PARTITIONS.map((name) => `"${name}" VARCHAR`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${compactedTable(table.name)} (${columns.join(', ')})`;
}

export interface LocalCompaction {
  readonly lake: LocalLake;
  /** Re-reads the landing zone (new objects, new days) and creates what is missing. */
  refresh(): Promise<void>;
  /** Runs one table's MERGE for the days fromDay to toDay, as the state machine would. */
  merge(table: TableDef, fromDay: string, toDay: string): Promise<void>;
  /** Creates (or replaces) the table's view with the given lookback. */
  createView(table: TableDef, lookbackDays: number): Promise<void>;
  close(): void;
}

export async function openLocalCompaction(
  lakeDir: string,
  tables: readonly TableDef[] = TABLES,
): Promise<LocalCompaction> {
  const lake = await openLocalLake(lakeDir, []);
  const refresh = async () => {
    for (const table of tables) {
      await lake.sql(landingViewSql(lakeDir, table));
      await lake.sql(compactedTableSql(table));
    }
  };
  await refresh();
  return {
    lake,
    refresh,
    async merge(table, fromDay, toDay) {
      await lake.sql(toDuckDbSql(mergeSql(table).replaceAll(FROM_DAY, fromDay).replaceAll(TO_DAY, toDay)));
    },
    async createView(table, lookbackDays) {
      await lake.sql(toDuckDbSql(viewSql(table, lookbackDays)));
    },
    close: () => lake.close(),
  };
}
