import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { queryAthena } from '../../../bin/cli/query';

const athena = mockClient(AthenaClient);
beforeEach(() => athena.reset());

const row = (...values: string[]) => ({ Data: values.map((value) => ({ VarCharValue: value })) });
const target = (timeoutMs = 60_000) => ({
  workGroup: 'qualys-lake',
  database: 'qualys_lake',
  timeoutMs,
  client: new AthenaClient({ region: 'eu-west-1' }),
  sleep: async () => undefined,
});

describe('queryAthena', () => {
  it('runs a named query with its parameters as literals, in the workgroup and database, and reads every page', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    const columns = {
      ResultSetMetadata: {
        ColumnInfo: [
          { Name: 'ip', Type: 'varchar' },
          { Name: 'n', Type: 'bigint' },
        ],
      },
    };
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({
        ResultSet: { ...columns, Rows: [row('ip', 'n'), row('10.0.0.1', '3')] },
        NextToken: 'p2',
      })
      .resolvesOnce({ ResultSet: { ...columns, Rows: [row('ip', '2')] } });
    const rows = await queryAthena(target(), {
      query: 'cdr_findings_for_resource',
      parameters: ['2026-11-01', "i-0abc'x"],
    });
    // The second page's first row is data, even when it reads like the header.
    expect(rows).toEqual([
      { ip: '10.0.0.1', n: '3' },
      { ip: 'ip', n: '2' },
    ]);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toMatchObject({
      WorkGroup: 'qualys-lake',
      QueryExecutionContext: { Database: 'qualys_lake' },
      // The subscription left out: '' (every subscription).
      ExecutionParameters: ["'2026-11-01'", "'i-0abc''x'", "''"],
    });
  });

  it('keeps the first row of a statement without a header row (SHOW, DESCRIBE)', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: [{ Name: 'tab_name', Type: 'varchar' }] },
        Rows: [row('cdr_findings'), row('sdr_posture')],
      },
    });
    expect(await queryAthena(target(), { query: 'SHOW TABLES', parameters: [] })).toEqual([
      { tab_name: 'cdr_findings' },
      { tab_name: 'sdr_posture' },
    ]);
  });

  it('stops a query that outlives the timeout, and names it', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q3' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    await expect(queryAthena(target(100), { query: 'SELECT 1 AS one', parameters: [] })).rejects.toThrow(
      /Athena query q3 still RUNNING after 100 ms: stopped/,
    );
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q3',
    });
  });
});
