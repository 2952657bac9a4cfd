import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { CuratedDataset } from '../../functions/core/names';
import { type HiveType, parseHiveType } from './hive-types';
import { type NamedQueryDef, namedQuery } from './queries';
import { TABLES, type TableDef, tablePrefix } from './tables';

/**
 * The named queries, run in DuckDB over a local copy of the lake (`npm start` mirrors the bucket to
 * ./local-lake; the tests mirror theirs to a temp folder). Local use only: the CDK app never imports
 * this file.
 *
 * The Athena SQL is translated mechanically, and only where DuckDB means something else by the same
 * text. Everything else (`count_if`, `bool_or`, `concat_ws`, `||`, `CAST(x AS varchar)`, struct
 * dot access, `"timestamp"` quoting, `?` parameters, FULL OUTER JOIN, LIMIT in a subquery) is the
 * same in both.
 */

export interface Rewrite {
  readonly pattern: RegExp;
  readonly replacement: string;
  /** What differs between Athena (Trino) and DuckDB. */
  readonly why: string;
}

/** Athena → DuckDB rewrites, applied in order to the query text. */
export const REWRITES: readonly Rewrite[] = [
  {
    pattern: /\bcurrent_date\s*-\s*INTERVAL\s*'(\d+)'\s*DAY\b/gi,
    replacement: "CAST(current_date - INTERVAL '$1' DAY AS DATE)",
    why: "date − interval is a DATE in Trino but a TIMESTAMP in DuckDB, which casts to '2025-05-01 00:00:00' and would compare wrongly with the dt string",
  },
];

/** Trino functions DuckDB lacks, defined as DuckDB macros with the same name and meaning. */
export const MACROS: ReadonlyArray<{ readonly sql: string; readonly why: string }> = [
  {
    sql: 'CREATE OR REPLACE MACRO from_iso8601_timestamp(text) AS CAST(text AS TIMESTAMPTZ)',
    why: 'DuckDB has no from_iso8601_timestamp; its TIMESTAMPTZ cast reads the same ISO-8601 forms (T, fractions, Z or ±hh:mm)',
  },
];

/** Athena SQL → DuckDB SQL. */
export function toDuckDbSql(athenaSql: string): string {
  return REWRITES.reduce((sql, { pattern, replacement }) => sql.replace(pattern, replacement), athenaSql);
}

/** A Hive type as a DuckDB type: struct<...> → STRUCT(...), array<T> → T[], string → VARCHAR, ... */
export function duckDbType(type: HiveType | string): string {
  const parsed = typeof type === 'string' ? parseHiveType(type) : type;
  switch (parsed.kind) {
    case 'primitive':
      return { string: 'VARCHAR', bigint: 'BIGINT', int: 'INTEGER', double: 'DOUBLE', boolean: 'BOOLEAN' }[
        parsed.name
      ];
    case 'array':
      return `${duckDbType(parsed.element)}[]`;
    case 'map':
      return `MAP(${duckDbType(parsed.key)}, ${duckDbType(parsed.value)})`;
    case 'struct':
      return `STRUCT(${parsed.fields.map((field) => `"${field.name}" ${duckDbType(field.type)}`).join(', ')})`;
  }
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const identifier = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** Whether the local lake has at least one object of the table (read_json fails on an empty glob). */
function hasObjects(lakeDir: string, table: CuratedDataset): boolean {
  const dir = path.join(lakeDir, ...tablePrefix(table).split('/'));
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { withFileTypes: true }).some(
    (entry) =>
      entry.isDirectory() &&
      entry.name.startsWith('dt=') &&
      readdirSync(path.join(dir, entry.name)).some((file) => file.endsWith('.json.gz')),
  );
}

/**
 * The DuckDB view of one table: the same columns as the Glue table (types translated), read from
 * `<lakeDir>/curated/<table>/dt=*\/*.json.gz` as gzip NDJSON, with `dt` from the folder name as text.
 * A table without objects yet is an empty view with the same columns.
 */
export function viewSql(lakeDir: string, table: TableDef): string {
  if (!hasObjects(lakeDir, table.name)) {
    const columns = [
      ...table.columns.map(
        (column) => `CAST(NULL AS ${duckDbType(column.type)}) AS ${identifier(column.name)}`,
      ),
      'CAST(NULL AS VARCHAR) AS dt',
    ];
    return `CREATE OR REPLACE VIEW ${table.name} AS SELECT ${columns.join(', ')} WHERE false`;
  }
  const glob = path.join(lakeDir, ...tablePrefix(table.name).split('/'), 'dt=*', '*.json.gz');
  const columns = table.columns.map(
    (column) => `${literal(column.name)}: ${literal(duckDbType(column.type))}`,
  );
  return `CREATE OR REPLACE VIEW ${table.name} AS SELECT * FROM read_json(${literal(glob)},
    format = 'newline_delimited',
    compression = 'gzip',
    columns = {${columns.join(', ')}},
    hive_partitioning = true,
    hive_types = {'dt': 'VARCHAR'})`;
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
      if (parameters.length !== query.parameters.length) {
        throw new Error(
          `${name} takes ${query.parameters.length} parameter(s) (${query.parameters.map((p) => p.name).join(', ')}), got ${parameters.length}`,
        );
      }
      return sql(toDuckDbSql(query.sql), parameters);
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
