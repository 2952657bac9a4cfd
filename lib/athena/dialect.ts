import { type HiveType, parseHiveType } from './hive-types';

/**
 * How the Athena SQL of the named queries reads in DuckDB, as data: the local lake
 * (tools/local-lake/duckdb.ts) applies these rules, and the docs (./docs.ts) list them. Pure data and
 * string functions only, so loading it loads no native binding.
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
