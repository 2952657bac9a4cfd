import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { curatedPrefix } from '../../functions/core/manifest';
import type { CuratedDataset } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { duckDbType, MACROS, toDuckDbSql } from '../../lib/athena/dialect';
import { type NamedQueryDef, namedQuery, parameterValues } from '../../lib/athena/queries';
import { TABLES, type TableDef } from '../../lib/athena/tables';

/**
 * The named queries, run in DuckDB over a local copy of the lake (`npm start` mirrors the bucket to
 * ./local-lake; the tests mirror theirs to a temp folder). Local use only: the CDK app never imports
 * this file. The translation rules are data in lib/athena/dialect.ts.
 */

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const identifier = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** Folders of `dir` whose names start with `level` (`subscription=`, `dt=`). */
function levels(dir: string, level: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(level))
    .map((entry) => path.join(dir, entry.name));
}

/** Whether the local lake has at least one object of the table (read_json fails on an empty glob). */
function hasObjects(lakeDir: string, table: CuratedDataset): boolean {
  const dir = path.join(lakeDir, ...curatedPrefix(table).split('/'));
  return levels(dir, `${SUBSCRIPTION_PARTITION}=`).some((subscription) =>
    levels(subscription, 'dt=').some((day) => readdirSync(day).some((file) => file.endsWith('.json.gz'))),
  );
}

/** The partition columns of every table, as folders name them: text, like the Glue partition keys. */
const PARTITIONS = [SUBSCRIPTION_PARTITION, 'dt'];

/**
 * The DuckDB view of one table: the same columns as the Glue table (types translated), read from
 * `<lakeDir>/curated/<table>/subscription=*\/dt=*\/*.json.gz` as gzip NDJSON, with `subscription`
 * and `dt` from the folder names as text. A table without objects yet is an empty view with the
 * same columns.
 */
export function viewSql(lakeDir: string, table: TableDef): string {
  if (!hasObjects(lakeDir, table.name)) {
    const columns = [
      ...table.columns.map(
        (column) => `CAST(NULL AS ${duckDbType(column.type)}) AS ${identifier(column.name)}`,
      ),
      ...PARTITIONS.map((partition) => `CAST(NULL AS VARCHAR) AS ${partition}`),
    ];
    return `CREATE OR REPLACE VIEW ${table.name} AS SELECT ${columns.join(', ')} WHERE false`;
  }
  const glob = path.join(
    lakeDir,
    ...curatedPrefix(table.name).split('/'),
    `${SUBSCRIPTION_PARTITION}=*`,
    'dt=*',
    '*.json.gz',
  );
  const columns = table.columns.map(
    (column) => `${literal(column.name)}: ${literal(duckDbType(column.type))}`,
  );
  // The partition columns last, in the order of the folders (and of the Glue partition keys).
  const partitions = PARTITIONS.join(', ');
  return `CREATE OR REPLACE VIEW ${table.name} AS SELECT * EXCLUDE (${partitions}), ${partitions} FROM read_json(${literal(glob)},
    format = 'newline_delimited',
    compression = 'gzip',
    columns = {${columns.join(', ')}},
    hive_partitioning = true,
    hive_types = {${PARTITIONS.map((partition) => `${literal(partition)}: 'VARCHAR'`).join(', ')}})`;
}

export type Row = Record<string, unknown>;

/** DuckDB values as plain JSON-like values: BIGINT → number, dates → ISO strings. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  }
  return value;
}

export interface LocalLake {
  readonly connection: DuckDBConnection;
  /** Runs DuckDB SQL as is. */
  sql(text: string, parameters?: readonly string[]): Promise<Row[]>;
  /** Runs a named query's Athena SQL, translated; parameters fill its `?` in order. */
  runNamedQuery(name: string, parameters?: readonly string[]): Promise<Row[]>;
  close(): void;
}

/** An in-memory DuckDB with one view per table over the local lake, in UTC like Athena. */
export async function openLocalLake(
  lakeDir: string,
  tables: readonly TableDef[] = TABLES,
): Promise<LocalLake> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const sql = async (text: string, parameters: readonly string[] = []): Promise<Row[]> => {
    const reader = await connection.runAndReadAll(text, parameters.length ? [...parameters] : undefined);
    return reader.getRowObjectsJS().map((row) => plain(row) as Row);
  };
  await sql("SET TimeZone = 'UTC'");
  for (const macro of MACROS) await sql(macro.sql);
  for (const table of tables) await sql(viewSql(lakeDir, table));
  return {
    connection,
    sql,
    async runNamedQuery(name, parameters = []) {
      const query = namedQuery(name);
      return sql(toDuckDbSql(query.sql), parameterValues(query, parameters));
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A small text table: at most `maxRows` rows, cells cut to `maxWidth` characters. */
export function formatTable(rows: readonly Row[], maxRows = 10, maxWidth = 40): string {
  if (rows.length === 0) return '  (no rows)';
  const columns = Object.keys(rows[0] ?? {});
  const cell = (value: unknown) => {
    const text =
      value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    return text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
  };
  const shown = rows.slice(0, maxRows).map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...shown.map((cells) => cells[index]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    `  ${cells
      .map((text, index) => text.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd()}`;
  const out = [line(columns), line(widths.map((width) => '-'.repeat(width))), ...shown.map(line)];
  if (rows.length > maxRows) out.push(`  ... ${rows.length - maxRows} more rows`);
  return out.join('\n');
}

/**
 * Prints each named query's result on the local lake as a small table (`npm start` ends with it).
 * Parameterised queries run with their documented example values unless `parameters` names others.
 */
export async function printNamedQueries(
  lakeDir: string,
  names: readonly string[],
  parameters: Readonly<Record<string, readonly string[]>> = {},
  print: (text: string) => void = console.log,
): Promise<void> {
  const lake = await openLocalLake(lakeDir);
  try {
    for (const name of names) {
      const query: NamedQueryDef = namedQuery(name);
      const values = parameters[name] ?? query.parameters.map((parameter) => parameter.example);
      const rows = await lake.runNamedQuery(name, values);
      const shownValues = values.length ? ` (${values.map((value) => `'${value}'`).join(', ')})` : '';
      print(`\n-- ${name}${shownValues}: ${query.description}`);
      print(formatTable(rows));
    }
  } finally {
    lake.close();
  }
}
