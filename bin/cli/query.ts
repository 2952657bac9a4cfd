/**
 * `qualys-lake query`: a named query (lib/athena/queries.ts) or SQL, printed as a table — in DuckDB
 * over the local lake, or in the deployed stack's Athena workgroup.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { NAMED_QUERIES, type NamedQueryDef, parameterValues } from '../../lib/athena/queries';
import { openLocalLake, type Row } from '../../tools/local-lake/duckdb';
import { UsageError } from './options';

export interface QueryRequest {
  /** A named query's name, or SQL (anything with a space in it). */
  query: string;
  /** Values for a named query's `?` parameters, in order; its examples when none are given. */
  parameters: string[];
}

export interface ResolvedQuery {
  sql: string;
  parameters: string[];
  named?: NamedQueryDef;
}

export function resolveQuery(request: QueryRequest): ResolvedQuery {
  const named = NAMED_QUERIES.find((query) => query.name === request.query);
  if (!named) {
    if (!/\s/.test(request.query.trim())) {
      throw new UsageError(
        `no named query "${request.query}" (\`qualys-lake query --list\` lists them; SQL needs a space)`,
      );
    }
    return { sql: request.query, parameters: request.parameters };
  }
  let parameters: string[];
  try {
    parameters = request.parameters.length
      ? parameterValues(named, request.parameters)
      : named.parameters.map((parameter) => parameter.example);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { sql: named.sql, parameters, named };
}

export async function queryLocal(lakeDir: string, request: QueryRequest): Promise<Row[]> {
  const resolved = resolveQuery(request);
  const lake = await openLocalLake(lakeDir);
  try {
    return resolved.named
      ? await lake.runNamedQuery(resolved.named.name, resolved.parameters)
      : await lake.sql(resolved.sql, resolved.parameters);
  } finally {
    lake.close();
  }
}

export interface AthenaTarget {
  workGroup: string;
  database: string;
  /** How long to wait for the query. */
  timeoutMs: number;
  client?: AthenaClient;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs the query in Athena and returns its rows as text (Athena's result set is strings). */
export async function queryAthena(target: AthenaTarget, request: QueryRequest): Promise<Row[]> {
  const resolved = resolveQuery(request);
  const client = target.client ?? new AthenaClient({});
  const sleep = target.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const { QueryExecutionId: id } = await client.send(
    new StartQueryExecutionCommand({
      QueryString: resolved.sql,
      WorkGroup: target.workGroup,
      QueryExecutionContext: { Database: target.database },
      ExecutionParameters: resolved.parameters.length ? resolved.parameters.map(athenaLiteral) : undefined,
    }),
  );
  if (!id) throw new Error('Athena started no query execution');
  const deadline = Date.now() + target.timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    const { QueryExecution: execution } = await client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const state = execution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED')
      throw new Error(
        `Athena query ${id} ${state}: ${execution?.Status?.StateChangeReason ?? 'no reason given'}`,
      );
    if (Date.now() + delay > deadline) {
      // Stopped, so it neither keeps scanning (and billing) nor writes results nobody reads.
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      throw new Error(`Athena query ${id} still ${state ?? 'unknown'} after ${target.timeoutMs} ms: stopped`);
    }
    await sleep(delay);
  }
  const rows: Row[] = [];
  let columns: string[] | undefined;
  let token: string | undefined;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token }));
    columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((column) => column.Name ?? '') ?? [];
    const data = page.ResultSet?.Rows ?? [];
    // The first row of the first page repeats the column names (SELECT), or is data (SHOW, DESCRIBE).
    const header =
      token === undefined && data[0]?.Data?.every((cell, index) => cell.VarCharValue === columns?.[index]);
    for (const row of header ? data.slice(1) : data) {
      const names = columns;
      rows.push(
        Object.fromEntries(names.map((name, index) => [name, row.Data?.[index]?.VarCharValue ?? null])),
      );
    }
    token = page.NextToken;
  } while (token && rows.length < 10_000);
  return rows;
}

/** Athena's execution parameters are SQL literals: a string is quoted. */
const athenaLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

export function listQueries(): string {
  return NAMED_QUERIES.map((query) => {
    const parameters = query.parameters.length
      ? ` (${query.parameters
          .map(
            (parameter) =>
              `${parameter.name}, e.g. '${parameter.example}'${parameter.whenOmitted === undefined ? '' : `, '${parameter.whenOmitted}' when left out`}`,
          )
          .join('; ')})`
      : '';
    return `${query.name}${parameters}\n    ${query.description}`;
  }).join('\n');
}
