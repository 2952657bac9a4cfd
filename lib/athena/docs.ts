import { pathToFileURL } from 'node:url';
import { MACROS, REWRITES } from './dialect';
import { NAMED_QUERIES } from './queries';
import {
  glueColumns,
  JSON_SERDE,
  PARTITION_KEYS,
  PROJECTION_START,
  SUBSCRIPTION_KEY,
  TABLES,
} from './tables';

/**
 * The README's Athena section, rendered from the table and query definitions so it cannot drift
 * from them (test/infra/catalog.test.ts compares it with lib/athena/README.athena.md).
 * Regenerate: `npx tsx lib/athena/docs.ts > lib/athena/README.athena.md`
 */
export function athenaReadme(): string {
  const out: string[] = [];
  const add = (...lines: string[]) => out.push(...lines);

  add(
    '## Athena',
    '',
    'The archive is queryable in Athena right after `cdk deploy`: no crawler, no `MSCK REPAIR TABLE`.',
    'The stack (`lib/constructs/catalog.ts`, construct `LakeCatalog`) creates:',
    '',
    `- the Glue database named after the stack (\`qualys_lake\` for the stack \`QualysLake\`; output \`GlueDatabaseName\`) with one table per curated dataset, each over \`s3://<archive bucket>/curated/<table>/\`;`,
    `  its partitions (\`${SUBSCRIPTION_KEY.name}=<name>/dt=YYYY-MM-DD/\` folders) are found by **partition projection** (\`${SUBSCRIPTION_KEY.name}\`: type \`enum\` of the`,
    `  stack's subscriptions; \`dt\`: type \`date\`, range \`${PROJECTION_START},NOW\`, one day apart), so a new day is queryable the moment its first`,
    '  object lands;',
    '- the Athena workgroup named after the stack (`qualys-lake` for `QualysLake`; output `AthenaWorkGroupName`, engine version 3), with its configuration **enforced**: results go to',
    '  `s3://<archive bucket>/athena-results/`, encrypted (SSE-S3, or SSE-KMS with `resultsKey`), and a query that would scan more',
    '  than **10 GiB** is cancelled (`bytesScannedCutoff`, configurable); per-query CloudWatch metrics are on;',
    `- ${NAMED_QUERIES.length} named queries in that workgroup (console: Athena → Query editor → Saved queries); with \`compaction\` on they read the`,
    '  views `<table>_all` (see [The compacted layer](#the-compacted-layer)).',
    '',
    'Pick the `qualys-lake` workgroup and the `qualys_lake` database, then for example:',
    '',
    '```sql',
    'SELECT severity, count(*) AS findings',
    'FROM cdr_findings',
    "WHERE dt >= '2025-05-01'            -- always filter on dt: it decides what Athena reads (and bills)",
    'GROUP BY severity;',
    '```',
    '',
    `A query without a \`${SUBSCRIPTION_KEY.name}\` filter spans every subscription; \`AND ${SUBSCRIPTION_KEY.name} = 'prod'\` reads only one (see [Subscriptions](#subscriptions)).`,
    'The named queries answer per subscription: each row says its `subscription`, "latest" is each subscription\'s own latest',
    'snapshot or poll, and rows are compared only within one subscription (two Qualys subscriptions may share connector and',
    "snapshot ids). To read one subscription, wrap a query (`SELECT * FROM (...) q WHERE subscription = 'prod'`) or give a",
    "parameterised one its name as the last parameter (`''` for all).",
    '',
    'To let a role query (an analyst role, a BI tool), call `catalog.grantQuery(role)`: Athena on the workgroup, Glue reads of the',
    'database, object reads under `curated/` and reads and writes under `athena-results/`.',
    '',
    '### Parameters',
    '',
    'Parameterised named queries use Athena execution parameters (`?`, filled in order). The console asks for the values when',
    "the query runs; type each as a SQL literal, with quotes: `'2025-05-01'`. From the CLI:",
    '',
    '```sh',
    'aws athena start-query-execution --work-group qualys-lake --query-execution-context Database=qualys_lake \\',
    '  --query-string "$(aws athena get-named-query --named-query-id <id> --query NamedQuery.QueryString --output text)" \\',
    '  --execution-parameters "\'2025-05-01\'" "\'OktaSSO_Compute\'" "\'prod\'"',
    '```',
    '',
    '### Named queries',
    '',
  );
  for (const query of NAMED_QUERIES) {
    add(`#### \`${query.name}\``, '', query.description, '');
    if (query.parameters.length > 0) {
      add('Parameters, in order:', '');
      query.parameters.forEach((parameter, index) => {
        const omitted =
          parameter.whenOmitted === undefined
            ? ''
            : ` (\`qualys-lake query\` takes \`'${parameter.whenOmitted}'\` when it is left out)`;
        add(
          `${index + 1}. \`${parameter.name}\`: ${parameter.description}; e.g. \`'${parameter.example}'\`${omitted}`,
        );
      });
      add('');
    }
    add('```sql', query.sql, '```', '');
  }

  add(
    '### Tables',
    '',
    `Every table is gzip NDJSON (one JSON record per line) read by the OpenX JSON SerDe (\`${JSON_SERDE.library}\`) with`,
    `${Object.entries(JSON_SERDE.parameters)
      .map(([key, value]) => `\`'${key}'='${value}'\``)
      .join(', ')}: a malformed line fails the query rather than vanishing, and the`,
    'camelCase JSON keys match the lower-case Glue column names. In SQL a column may be written either way (`cspAccount` or',
    '`cspaccount`); Athena returns result columns lower-case. Every table is partitioned by',
    ...PARTITION_KEYS.map(
      (key, index) =>
        `${index === 0 ? '' : 'then '}\`${key.name}\` (${key.type}): ${key.comment}${index === PARTITION_KEYS.length - 1 ? '.' : ';'}`,
    ),
    '',
    'Column types, chosen once for all tables:',
    '',
    '- **Date-times are strings** (ISO-8601 as Qualys sends them, `2025-05-09T20:00:42.000+00:00`). The SerDe does not parse that',
    '  form as `timestamp` by default and one unparsable value would fail every query; use `from_iso8601_timestamp(col)` in SQL.',
    '- **Nested objects with a documented shape are structs and arrays** (`remoteIpDetails.ipAddress`, `owner.email`,',
    '  `cardinality(permissions)`, `CROSS JOIN UNNEST(members) AS m(...)`), so no JSON parsing at query time.',
    "- **Fields the API guide shows only as `null`** (`responseTime`, `networkInformation`, `qlp`, a connector's `config`) are strings",
    '  that read whatever Qualys sends as its text, so a new shape never breaks a query. Values the API itself sends as JSON text',
    "  (`accountConfig`, evidence) stay text: `json_extract_scalar(accountConfig, '$.saasSubscriptionId')`.",
    '- Ids and counts are `bigint`; small enumerations (`severity` 1-4, `isEnabled`) are `int`.',
    '- `timestamp` (cdr_findings) is a reserved word: write `"timestamp"` in queries.',
    '- Nothing is left out: every field of the curated records is a column. `lake_*` columns are added by qualys-lake.',
    '',
  );
  for (const table of TABLES) {
    add(`#### \`${table.name}\``, '', table.description, '');
    const columns = glueColumns(table);
    add(
      ...markdownTable(
        ['Column', 'Type', 'Description'],
        [
          ...table.columns.map((column, index) => [
            `\`${column.name}\``,
            `\`${columns[index]?.type ?? column.type}\``,
            column.comment,
          ]),
          ...PARTITION_KEYS.map((key) => [`\`${key.name}\``, `\`${key.type}\``, 'Partition key']),
        ],
      ),
      '',
    );
    const excluded = Object.entries(table.excluded);
    if (excluded.length > 0) {
      add(
        'Fields deliberately not declared:',
        '',
        ...excluded.map(([name, why]) => `- \`${name}\`: ${why}`),
        '',
      );
    }
  }

  add(
    '### Layout and query cost',
    '',
    'Athena bills the bytes it reads (gzip: the compressed bytes) and spends time per object it opens. The curated layout keeps',
    'both small:',
    '',
    '- **One `dt` folder per UTC day**, and every named query filters on `dt` first, so partition projection lists only those days.',
    '  A query with no `dt` filter reads the whole history; the workgroup cancels it at 10 GiB.',
    '- **gzip NDJSON** compresses the records about 10:1 (a CDR finding is about 1.2 KB of JSON, 120 bytes in the object).',
    '- **Few objects per partition**: a collector writes one object per API page, never one per record. CDR findings: one object',
    '  per page (up to `CDR_PAGE_SIZE`, 1,000 by default) per day per run: one per 1,000 new findings, at least one per run that finds any.',
    '  SaaSDR inventory: one object per 200-record page per table per snapshot. Reports: one record per report. Posture: one',
    '  object per connector/policy/page per poll, the smallest objects (about 1 KB each); keep the posture schedule at an hour or',
    '  more.',
    '- Compaction is off by default: at these sizes a 7-day query opens a few hundred to a few thousand objects and scans a few',
    '  MB. When a table grows past that (months of posture polls, a quarter of findings), turn on',
    '  [the compacted layer](#the-compacted-layer).',
    '',
    '### Proof without AWS: the same SQL in DuckDB',
    '',
    '`npm test` runs the collectors against the Qualys simulator and a local S3, copies `curated/` to a folder and runs every named',
    'query in DuckDB over views with the same columns (`tools/local-lake/duckdb.ts`), comparing each result with the answer',
    'computed from the records. A schema-drift test fails when a curated record has a field that is not a column, a column no',
    'record has, or a value of the wrong kind (nested keys included). `npm start` ends by printing a few named queries on',
    '`./local-lake`.',
    '',
    'The Athena SQL is translated mechanically; the differences:',
    '',
    ...REWRITES.map(
      (rewrite) => `- \`${rewrite.pattern.source}\` → \`${rewrite.replacement}\`: ${rewrite.why}.`,
    ),
    ...MACROS.map(
      (macro) => `- macro \`${macro.sql.replace(/^CREATE OR REPLACE MACRO /, '')}\`: ${macro.why}.`,
    ),
    "- DuckDB runs in UTC (`SET TimeZone = 'UTC'`), as Athena does, so `current_date` is the same day.",
    "- Parameters: DuckDB binds the `?` values; Athena takes them as SQL literals (`'...'`).",
    '- Column types: `string` → `VARCHAR`, `bigint` → `BIGINT`, `int` → `INTEGER`, `double` → `DOUBLE`, `boolean` → `BOOLEAN`,',
    '  `array<T>` → `T[]`, `map<K,V>` → `MAP(K, V)`, `struct<a:T,...>` → `STRUCT("a" T, ...)`; the views read',
    "  `curated/<table>/subscription=*/dt=*/*.json.gz` with `read_json(..., format = 'newline_delimited', compression = 'gzip',",
    '  columns = {...}, hive_partitioning = true)`, `subscription` and `dt` as text.',
    '- Everything else the queries use is the same text in both: `count_if`, `bool_or`, `concat_ws`, `||`, `CAST(x AS varchar)`,',
    '  struct dot access, `"timestamp"`, `FULL OUTER JOIN`, `row_number() OVER (PARTITION BY ... ORDER BY ...)`; both sort NULLs last. The queries',
    '  avoid what differs and cannot be rewritten safely: `concat` (DuckDB skips NULLs), map subscripts (Trino fails on a missing',
    '  key), lambdas and `UNNEST` of rows.',
    '',
  );
  return `${out.join('\n').trimEnd()}\n`;
}

/** A Markdown table with padded cells, as Prettier formats it (so a formatter run leaves it alone). */
function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const cells = [header, ...rows].map((row) => row.map((cell) => cell.replaceAll('|', '\\|')));
  const widths = header.map((_, index) => Math.max(3, ...cells.map((row) => row[index]?.length ?? 0)));
  const line = (row: readonly string[]) =>
    `| ${widths.map((width, index) => (row[index] ?? '').padEnd(width)).join(' | ')} |`;
  const [head, ...body] = cells;
  return [line(head ?? []), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(athenaReadme());
}
