import { Match } from 'aws-cdk-lib/assertions';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { CURATED_DATASETS } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { COMPACTED_PARTITIONS, lookbackDays, MERGE_DAYS, unionView } from '../../lib/athena/compaction';
import { NAMED_QUERIES } from '../../lib/athena/queries';
import { parseConfig } from '../../lib/config';
import { lateDataReach, OPTIMIZE_SINCE, PLAN_MERGES, VALID_INPUT } from '../../lib/constructs/compaction';
import { FULL_CONTEXT, type Statement, stateMachineDefinition, synthStack } from '../support/infra';

const ON = { ...FULL_CONTEXT, compaction: true };

/** Evaluates an expression of the machine as Step Functions would, started at `startTime`. */
const evaluate = (expression: string, input: unknown, startTime: string, tables: unknown = []) =>
  jsonata(expression).evaluate(
    {},
    { states: { input, context: { Execution: { StartTime: startTime } } }, tables },
  );

interface State {
  Type: string;
  [key: string]: unknown;
}

describe('the compaction, on', () => {
  const { stack, template } = synthStack(ON);
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const [machineId, machine] = Object.entries(machines).find(([id]) => id.startsWith('Compaction')) as [
    string,
    { Properties: { DefinitionString: unknown; RoleArn: { 'Fn::GetAtt': string[] } } },
  ];
  const definition = stateMachineDefinition<{ StartAt: string; States: Record<string, State> }>(
    machine.Properties.DefinitionString,
  );
  const config = parseConfig((key) => (ON as Record<string, unknown>)[key]);
  const lookback = (table: (typeof CURATED_DATASETS)[keyof typeof CURATED_DATASETS]) =>
    lookbackDays(table, lateDataReach(config), 1);

  it('partitions by the subscription level the collectors write', () => {
    expect(COMPACTED_PARTITIONS).toEqual([SUBSCRIPTION_PARTITION, 'dt']);
  });

  it('derives each lookback from the collectors: CDR reconcile days, posture and inventory lag thresholds', () => {
    // CDR: the reconcile of day X re-reads from X - 2 days (CDR_RECONCILE_DAYS 2): 2 days of reach,
    // plus an hour, rounded up to 3, plus a day of margin.
    expect(lookback(CURATED_DATASETS.cdrFindings)).toBe(4);
    // Posture polls hourly, alarm at 3 h; inventory and reports every 6 h, alarm at 18 h: within a day.
    expect(lookback(CURATED_DATASETS.sdrPosture)).toBe(2);
    expect(lookback(CURATED_DATASETS.sdrUsers)).toBe(2);
    expect(lookback(CURATED_DATASETS.sdrReports)).toBe(2);
    const later = parseConfig((key) => (({ ...ON, cdrReconcileDays: 5 }) as Record<string, unknown>)[key]);
    expect(lookbackDays(CURATED_DATASETS.cdrFindings, lateDataReach(later), 1)).toBe(7);
    expect(stack.compaction?.lookbackDays.get(CURATED_DATASETS.cdrFindings)).toBe(4);
  });

  it('plans one MERGE per table over its lookback up to today, and catch-ups in spans of a week', async () => {
    const tables = [
      { table: 'cdr_findings', lookbackDays: 4 },
      { table: 'sdr_posture', lookbackDays: 2 },
    ];
    expect(await evaluate(PLAN_MERGES, {}, '2026-03-02T00:52:03.120Z', tables)).toEqual([
      { table: 'cdr_findings', fromDay: '2026-02-26', toDay: '2026-03-02' },
      { table: 'sdr_posture', fromDay: '2026-02-28', toDay: '2026-03-02' },
    ]);
    const catchUp = (await evaluate(
      PLAN_MERGES,
      { fromDay: '2026-01-01', toDay: '2026-01-20' },
      '2026-03-02T00:52:00Z',
      tables.slice(0, 1),
    )) as Array<{ fromDay: string; toDay: string }>;
    expect(catchUp).toEqual([
      { table: 'cdr_findings', fromDay: '2026-01-01', toDay: '2026-01-07' },
      { table: 'cdr_findings', fromDay: '2026-01-08', toDay: '2026-01-14' },
      { table: 'cdr_findings', fromDay: '2026-01-15', toDay: '2026-01-20' },
    ]);
    expect(MERGE_DAYS).toBe(7);
    // Without toDay, a catch-up runs to today.
    const toToday = (await evaluate(
      PLAN_MERGES,
      { fromDay: '2026-03-01' },
      '2026-03-02T10:00:00Z',
      tables.slice(0, 1),
    )) as object;
    expect(toToday).toEqual([{ table: 'cdr_findings', fromDay: '2026-03-01', toDay: '2026-03-02' }]);
    expect(await evaluate(OPTIMIZE_SINCE, {}, '2026-03-15T03:15:00Z')).toBe('2026-03-01');
  });

  it('runs only the inputs it knows, and says what they are', async () => {
    const now = '2026-03-02T00:52:00Z';
    for (const good of [
      {},
      { maintenance: true },
      { fromDay: '2025-03-10' },
      { fromDay: '2026-01-01', toDay: '2026-01-31' },
    ]) {
      expect(await evaluate(VALID_INPUT, good, now), JSON.stringify(good)).toBe(true);
    }
    for (const bad of [
      { fromDay: 'yesterday' },
      { fromDay: '2026-01-31', toDay: '2026-01-01' },
      { toDay: '2026-01-01' },
      { fromDay: '2024-01-01' },
      { fromDay: 20260101 },
    ]) {
      expect(await evaluate(VALID_INPUT, bad, now), JSON.stringify(bad)).toBe(false);
    }
    expect(definition.States.ValidInput).toMatchObject({
      Choices: [{ Condition: `{% ${VALID_INPUT} %}`, Next: 'Setup' }],
      Default: 'InvalidInput',
    });
  });

  it('creates the tables and views, then merges (or maintains) in Athena in the stack workgroup, with retries', () => {
    expect(definition.StartAt).toBe('Tables');
    const assigned = definition.States.Tables?.Assign as {
      tables: Array<{ table: string; lookbackDays: number }>;
      sql: Record<string, { create: string; view: string; merge: string; optimize: string; vacuum: string }>;
    };
    expect(assigned.tables).toContainEqual({ table: 'cdr_findings', lookbackDays: 4 });
    const cdr = assigned.sql.cdr_findings;
    expect(cdr?.create).toMatch(/^CREATE TABLE IF NOT EXISTS cdr_findings_compacted \(/);
    expect(cdr?.create).toContain("LOCATION 's3://<");
    expect(cdr?.create).toMatch(/\/compacted\/cdr_findings\/'\n/);
    expect(cdr?.create).toContain(
      "TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd')",
    );
    expect(cdr?.create).toContain('PARTITIONED BY (`subscription`, `dt`)');
    expect(cdr?.merge).toMatch(/^MERGE INTO cdr_findings_compacted t/);
    expect(cdr?.merge).toContain('WHEN NOT MATCHED THEN INSERT');
    expect(cdr?.merge).not.toMatch(/WHEN MATCHED/);
    expect(cdr?.view).toContain("CAST(current_date - INTERVAL '4' DAY AS varchar)");
    expect(cdr?.vacuum).toBe('VACUUM cdr_findings_compacted');

    const setup = definition.States.Setup as State & { ItemProcessor: { States: Record<string, State> } };
    const merges = definition.States.Merges as State & { ItemProcessor: { States: Record<string, State> } };
    expect(merges.Items).toBe(`{% ${PLAN_MERGES} %}`);
    for (const task of [
      setup.ItemProcessor.States.CreateTable,
      setup.ItemProcessor.States.CreateView,
      merges.ItemProcessor.States.Merge,
    ]) {
      expect(task?.Resource).toBe('arn:<AWS::Partition>:states:::athena:startQueryExecution.sync');
      expect(task?.Arguments).toMatchObject({
        WorkGroup: 'qualys-lake',
        QueryExecutionContext: { Database: 'qualys_lake' },
      });
      expect(task?.Retry).toEqual([
        expect.objectContaining({ ErrorEquals: ['States.ALL'], MaxAttempts: 4, BackoffRate: 2 }),
      ]);
    }
    expect(definition.States.What).toMatchObject({
      Choices: [{ Condition: '{% $states.input.maintenance = true %}', Next: 'Maintenance' }],
      Default: 'Merges',
    });
  });

  it('puts the item days into the MERGE text', async () => {
    const merges = definition.States.Merges as State & { ItemProcessor: { States: Record<string, State> } };
    const queryString =
      (merges.ItemProcessor.States.Merge?.Arguments as { QueryString: string } | undefined)?.QueryString ??
      '';
    const sql = {
      cdr_findings: {
        merge: "WHERE dt BETWEEN '{fromDay}' AND '{toDay}' ON t.dt BETWEEN '{fromDay}' AND '{toDay}'",
      },
    };
    const text = await jsonata(queryString.slice(3, -3)).evaluate(
      {},
      { states: { input: { table: 'cdr_findings', fromDay: '2026-02-26', toDay: '2026-03-02' } }, sql },
    );
    expect(text).toBe(
      "WHERE dt BETWEEN '2026-02-26' AND '2026-03-02' ON t.dt BETWEEN '2026-02-26' AND '2026-03-02'",
    );
  });

  it('runs hourly after the collectors, weekly for maintenance and after each deployment', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(52 * * * ? *)',
      Target: { Arn: { Ref: machineId }, Input: '{}' },
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(15 3 ? * SUN *)',
      Target: { Arn: { Ref: machineId }, Input: '{"maintenance":true}' },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudformation'],
        'detail-type': ['CloudFormation Stack Status Change'],
        resources: [{ Ref: 'AWS::StackId' }],
        detail: { 'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] } },
      },
      Targets: [Match.objectLike({ Arn: { Ref: machineId } })],
    });
  });

  it('alarms on the stack topic when a run fails or times out', () => {
    const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) =>
      id.startsWith('CompactionFailedAlarm'),
    );
    expect(alarms).toHaveLength(1);
    const alarm = alarms[0]?.[1] as {
      Properties: { AlarmActions: unknown[]; Metrics: Array<{ Expression?: string }> };
    };
    expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlertsTopic/) }]);
    expect(alarm.Properties.Metrics.some((metric) => metric.Expression === 'failed + timedOut')).toBe(true);
  });

  it('grants Athena in the workgroup, Glue on the database, S3 reads of curated/ and writes of compacted/ only', () => {
    const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const text = (value: unknown) => JSON.stringify(value);
    const grantsOf = (action: string) =>
      statements
        .filter((statement) => [statement.Action].flat().includes(action))
        .flatMap((statement) => [statement.Resource].flat())
        .map((resource) => text(resource));
    expect(grantsOf('athena:StartQueryExecution')).toEqual([
      expect.stringContaining(':workgroup/qualys-lake'),
    ]);
    expect(grantsOf('glue:UpdateTable').filter((arn) => arn.includes(':table/'))).toEqual([
      expect.stringContaining(':table/qualys_lake/*_all'),
      expect.stringContaining(':table/qualys_lake/*_compacted'),
    ]);
    const objects = (action: string) =>
      grantsOf(action)
        .map((arn) => /"\/([a-z-]+)\/\*"/.exec(arn)?.[1])
        .sort();
    expect(objects('s3:GetObject')).toEqual(['athena-results', 'compacted', 'curated']);
    expect(objects('s3:PutObject')).toEqual(['athena-results', 'compacted']);
    expect(objects('s3:DeleteObject')).toEqual(['compacted']);
    expect(statements.some((statement) => text(statement.Action).includes('s3:*'))).toBe(false);
  });

  it('expires the landing zone after curatedRetentionDays, and only with compaction on', () => {
    const rules = (context: Record<string, unknown>) =>
      (
        Object.values(synthStack(context).template.findResources('AWS::S3::Bucket')).find((bucket) =>
          text(bucket).includes('raw-pages'),
        ) as {
          Properties: {
            LifecycleConfiguration: {
              Rules: Array<{ Id: string; Prefix?: string; ExpirationInDays?: number }>;
            };
          };
        }
      ).Properties.LifecycleConfiguration.Rules.filter((rule) => rule.Prefix === 'curated/');
    const text = (value: unknown) => JSON.stringify(value);
    expect(rules(ON)).toEqual([expect.objectContaining({ Id: 'landing-zone', ExpirationInDays: 30 })]);
    expect(rules({ ...ON, curatedRetentionDays: 45 })).toEqual([
      expect.objectContaining({ ExpirationInDays: 45 }),
    ]);
    expect(rules({ ...ON, curatedRetentionDays: 0 })).toEqual([]);
    expect(rules(FULL_CONTEXT)).toEqual([]);
    expect(() => synthStack({ ...ON, curatedRetentionDays: 5 })).toThrow(
      /curatedRetentionDays must be 0 \(keep\) or more than the longest compaction lookback plus a day \(5\), got 5/,
    );
    expect(() => synthStack({ ...ON, compactionEveryHours: 5 })).toThrow(
      /compactionEveryHours must divide 24/,
    );
  });

  it('saves the named queries reading the views', () => {
    const saved = Object.values(template.findResources('AWS::Athena::NamedQuery')).map(
      (query) => query.Properties.QueryString as string,
    );
    expect(saved).toHaveLength(NAMED_QUERIES.length);
    expect(saved.join('\n')).toContain(`FROM ${unionView(CURATED_DATASETS.cdrFindings)}`);
    expect(saved.join('\n')).not.toMatch(/\b(FROM|JOIN)\s+(cdr_findings|sdr_[a-z]+)\b(?!_all)/);
  });
});

describe('the compaction, off (the default)', () => {
  it('adds nothing, and the named queries read the landing tables', () => {
    const { stack, template } = synthStack(FULL_CONTEXT);
    expect(stack.compaction).toBeUndefined();
    expect(
      Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).some((id) =>
        id.startsWith('Compaction'),
      ),
    ).toBe(false);
    const saved = Object.values(template.findResources('AWS::Athena::NamedQuery')).map(
      (query) => query.Properties.QueryString as string,
    );
    expect(saved.join('\n')).toContain('FROM cdr_findings\n');
    expect(saved.join('\n')).not.toContain('_all');
  });
});
