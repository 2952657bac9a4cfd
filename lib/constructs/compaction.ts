import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  type CuratedDataset,
  ENV,
  FUNCTION_NAMES,
  type FunctionName,
  PREFIX,
} from '../../functions/core/names';
import {
  COMPACTED_PREFIX,
  compactedPrefix,
  compactedTable,
  createTableSql,
  FROM_DAY,
  type LateDataReach,
  lookbackDays,
  MAX_CATCH_UP_DAYS,
  MERGE_DAYS,
  mergeSql,
  optimizeSql,
  TO_DAY,
  unionView,
  vacuumSql,
  viewSql,
} from '../athena/compaction';
import { TABLES } from '../athena/tables';
import {
  type CollectorSettings,
  lagThresholdMinutes,
  type QualysLakeConfig,
  scheduleMinutes,
} from '../config';
import { FUNCTION_SETTINGS } from '../function-settings';
import { acknowledge, wildcardResourceFinding } from '../nag';
import type { LakeCatalog } from './catalog';
import { scheduleExpression } from './collector';

export interface CompactionProps {
  /** The archive bucket: reads `curated/`, writes `compacted/`; gets the landing zone's lifecycle rule. */
  readonly bucket: s3.Bucket;
  /** Database and workgroup the queries run in. */
  readonly catalog: LakeCatalog;
  /** Where a failed run alarms. */
  readonly alarmTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
  /** What decides how late rows can land, from the stack's settings (the lookback of each table). */
  readonly reach: LateDataReach;
  /**
   * Hours between runs; divides 24.
   * @default 1
   */
  readonly everyHours?: number;
  /**
   * Days after which landing objects under `curated/` expire; 0 keeps them. Must exceed every
   * table's lookback, so a day is compacted before its landing objects go.
   * @default 30
   */
  readonly landingRetentionDays?: number;
}

/**
 * How late rows can land, from the stack's settings: the CDR late-data settings the context sets
 * (else the function's defaults), each collector's schedule and lag alarm threshold.
 */
export function lateDataReach(config: QualysLakeConfig): LateDataReach {
  // Each subscription may override the collectors' settings: the views and the MERGE take the
  // longest reach of them all, so no subscription's late rows fall outside the lookback.
  const settings = config.subscriptions.length > 0 ? config.subscriptions : [config];
  const longest = (read: (one: CollectorSettings) => number) => Math.max(...settings.map(read));
  const cdrSetting = (one: CollectorSettings, env: string) => {
    const value =
      one.functionSettings['cdr-findings'][env] ??
      FUNCTION_SETTINGS.find((setting) => setting.env === env)?.default;
    if (value === undefined) throw new Error(`no default for ${env}`);
    return Number(value);
  };
  const byCollector = (read: (one: CollectorSettings, name: FunctionName) => number) =>
    Object.fromEntries(FUNCTION_NAMES.map((name) => [name, longest((one) => read(one, name))])) as Record<
      FunctionName,
      number
    >;
  return {
    cdrReconcileDays: longest((one) => cdrSetting(one, ENV.cdrReconcileDays)),
    cdrLateMinutes: longest((one) => cdrSetting(one, ENV.cdrLateMinutes)),
    scheduleMinutes: byCollector(scheduleMinutes),
    lagMinutes: byCollector(lagThresholdMinutes),
  };
}

/** Minute past the hour the runs start: after every collector's scheduled start (0, 7, 22, 37). */
export const COMPACTION_MINUTE = 52;
/** Days back the weekly OPTIMIZE rewrites: the week's hourly appends, and late days with them. */
export const OPTIMIZE_DAYS = 14;

const DAY_FORMAT = "'[Y0001]-[M01]-[D01]'";

/**
 * The (table, fromDay, toDay) items of a run, as JSONata over the execution input and `$tables`
 * (`[{table, lookbackDays}]`): by default each table's lookback up to today (UTC, from the
 * execution's start), or `fromDay` to `toDay` (default today) for a catch-up; at most MERGE_DAYS
 * days an item. Exported so a test evaluates it with the jsonata library, as Step Functions would.
 */
export const PLAN_MERGES = `(
  $day := 86400000;
  $today := $floor($toMillis($states.context.Execution.StartTime) / $day) * $day;
  $last := $exists($states.input.toDay) ? $toMillis($states.input.toDay) : $today;
  $reduce($tables, function($items, $t) {(
    $first := $exists($states.input.fromDay) ? $toMillis($states.input.fromDay) : $today - $t.lookbackDays * $day;
    $chunks := $ceil(($last - $first + $day) / (${MERGE_DAYS} * $day));
    $append($items, $map([0..($chunks - 1)], function($i) {{
      "table": $t.table,
      "fromDay": $fromMillis($first + $i * ${MERGE_DAYS} * $day, ${DAY_FORMAT}),
      "toDay": $fromMillis($min([$first + ($i * ${MERGE_DAYS} + ${MERGE_DAYS - 1}) * $day, $last]), ${DAY_FORMAT})
    }}))
  )}, [])
)`;

/** Whether the input is one the machine runs: `{}`, `{"maintenance": true}`, or `{"fromDay"[, "toDay"]}`. */
export const VALID_INPUT = `(
  $isDay := function($v) { $type($v) = 'string' and $contains($v, /^\\d{4}-\\d{2}-\\d{2}$/) };
  $from := $states.input.fromDay;
  $to := $exists($states.input.toDay) ? $states.input.toDay : $fromMillis($toMillis($states.context.Execution.StartTime), ${DAY_FORMAT});
  $not($exists($from)) ? $not($exists($states.input.toDay)) : (
    $isDay($from) and $isDay($to) and $toMillis($from) <= $toMillis($to)
      and ($toMillis($to) - $toMillis($from)) / 86400000 < ${MAX_CATCH_UP_DAYS}
  )
)`;

/** The day the weekly OPTIMIZE starts from. */
export const OPTIMIZE_SINCE = `$fromMillis($toMillis($states.context.Execution.StartTime) - ${OPTIMIZE_DAYS} * 86400000, ${DAY_FORMAT})`;

/** Placeholder of the OPTIMIZE text: the first day it rewrites. */
const SINCE_DAY = '{sinceDay}';

/** The SQL of the weekly OPTIMIZE of a table, from OPTIMIZE_SINCE on. */
const OPTIMIZE_QUERY = `$replace($lookup($sql, $states.input.table).optimize, '${SINCE_DAY}', ${OPTIMIZE_SINCE})`;

/** The SQL of the query an item runs: the table's MERGE with the item's days. */
const MERGE_QUERY = `$replace($replace($lookup($sql, $states.input.table).merge, '${FROM_DAY}', $states.input.fromDay), '${TO_DAY}', $states.input.toDay)`;

/**
 * The compacted layer, kept by Athena: a Step Functions machine (JSONata) started every `everyHours`
 * by EventBridge Scheduler, once a week for maintenance, and after each deployment of the stack. A
 * run first creates each Iceberg table if absent and (re)creates its view (DDL, not billed), then
 * runs one insert-only MERGE per table and span of days (lib/athena/compaction.ts). The weekly run
 * bin-packs the recent days' small files and vacuums. A failed query is retried with backoff; a run
 * that still fails alarms on the stack's topic, and the next run catches up (the MERGE is idempotent).
 */
export class Compaction extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly failedAlarm: cloudwatch.Alarm;
  /** Days before today each table's view reads from the landing table (and each run compacts). */
  readonly lookbackDays: ReadonlyMap<string, number>;

  constructor(scope: Construct, id: string, props: CompactionProps) {
    super(scope, id);
    const { bucket, catalog } = props;
    const everyHours = props.everyHours ?? 1;
    if (!Number.isInteger(everyHours) || everyHours < 1 || 24 % everyHours !== 0) {
      throw new Error(`compactionEveryHours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), got ${everyHours}`);
    }
    this.lookbackDays = new Map(
      TABLES.map((table) => [table.name, lookbackDays(table.name, props.reach, everyHours)]),
    );
    const longest = Math.max(...this.lookbackDays.values());
    const retention = props.landingRetentionDays ?? 30;
    if (!Number.isInteger(retention) || (retention !== 0 && retention <= longest + 1)) {
      throw new Error(
        `curatedRetentionDays must be 0 (keep) or more than the longest compaction lookback plus a day (${longest + 1}), got ${retention}`,
      );
    }

    const sql = Object.fromEntries(
      TABLES.map((table) => [
        table.name,
        {
          create: createTableSql(table, `s3://${bucket.bucketName}/${compactedPrefix(table.name)}`),
          view: viewSql(table, this.lookbackDays.get(table.name) ?? longest),
          merge: mergeSql(table),
          optimize: optimizeSql(table.name, SINCE_DAY),
          vacuum: vacuumSql(table.name),
        },
      ]),
    );
    const tables = TABLES.map((table) => ({
      table: table.name,
      lookbackDays: this.lookbackDays.get(table.name) ?? longest,
    }));

    const query = (stateId: string, queryString: string) =>
      new sfn.CustomState(this, stateId, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${Aws.PARTITION}:states:::athena:startQueryExecution.sync`,
          Arguments: {
            QueryString: `{% ${queryString} %}`,
            WorkGroup: catalog.workGroupName,
            QueryExecutionContext: { Database: catalog.databaseName },
          },
          // The item goes on to the next query; the query's own record stays in Athena's history.
          Output: '{% $states.input %}',
        },
      }).addRetry({
        // A failed query (an Iceberg commit that lost to a concurrent one, a throttle) is tried again.
        errors: ['States.ALL'],
        interval: Duration.seconds(20),
        backoffRate: 2,
        maxAttempts: 4,
        jitterStrategy: sfn.JitterType.FULL,
      });

    const setup = sfn.Map.jsonata(this, 'Setup', {
      items: sfn.ProvideItems.jsonata('{% $tables %}'),
      maxConcurrency: 4,
      outputs: '{% $states.input %}',
    });
    setup.itemProcessor(
      query('CreateTable', '$lookup($sql, $states.input.table).create').next(
        query('CreateView', '$lookup($sql, $states.input.table).view'),
      ),
    );
    const merges = sfn.Map.jsonata(this, 'Merges', {
      items: sfn.ProvideItems.jsonata(`{% ${PLAN_MERGES} %}`),
      maxConcurrency: 4,
      outputs: '{% {"merges": $count($states.result)} %}',
    });
    merges.itemProcessor(query('Merge', MERGE_QUERY));
    const maintenance = sfn.Map.jsonata(this, 'Maintenance', {
      items: sfn.ProvideItems.jsonata('{% $tables %}'),
      maxConcurrency: 2,
      outputs: '{% {"maintained": $count($states.result)} %}',
    });
    maintenance.itemProcessor(
      query('Optimize', OPTIMIZE_QUERY).next(query('Vacuum', '$lookup($sql, $states.input.table).vacuum')),
    );

    const start = sfn.Pass.jsonata(this, 'Tables', { assign: { tables, sql } });
    const definition = start.next(
      sfn.Choice.jsonata(this, 'ValidInput')
        .when(
          sfn.Condition.jsonata(`{% ${VALID_INPUT} %}`),
          setup.next(
            sfn.Choice.jsonata(this, 'What')
              .when(sfn.Condition.jsonata('{% $states.input.maintenance = true %}'), maintenance)
              .otherwise(merges),
          ),
        )
        .otherwise(
          sfn.Fail.jsonata(this, 'InvalidInput', {
            error: 'InvalidInput',
            cause: `the input is {} (each table's lookback), {"maintenance": true}, or {"fromDay": "YYYY-MM-DD", "toDay"?: "YYYY-MM-DD"} with fromDay not after toDay, less than ${MAX_CATCH_UP_DAYS} days apart`,
          }),
        ),
    );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      // A catch-up of MAX_CATCH_UP_DAYS is some 700 MERGEs; an overlapping hourly run only retries a commit.
      timeout: Duration.hours(6),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.grantQueries(this.stateMachine.role, bucket, catalog);
    acknowledge(
      this.stateMachine,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, …) and the log delivery actions (logs:CreateLogDelivery, …) accept no resource ARN',
    );

    if (retention > 0) {
      bucket.addLifecycleRule({
        id: 'landing-zone',
        prefix: PREFIX.curated,
        expiration: Duration.days(retention),
      });
    }

    this.schedule(everyHours);
    this.failedAlarm = new cloudwatch.Alarm(this, 'FailedAlarm', {
      alarmDescription: `A compaction run failed after its retries; the next run catches up. See the execution in Step Functions and the log group ${logGroup.logGroupName}.`,
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM }),
          timedOut: this.stateMachine.metricTimedOut({ statistic: cloudwatch.Stats.SUM }),
        },
        period: Duration.hours(1),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.failedAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }

  /** Every `everyHours`, weekly maintenance, and once after each successful deployment of the stack. */
  private schedule(everyHours: number): void {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Aws.ACCOUNT_ID,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
      description: 'Lets EventBridge Scheduler start the compaction',
    });
    const start = (
      id: string,
      description: string,
      expression: scheduler.ScheduleExpression,
      input: object,
    ) =>
      new scheduler.Schedule(this, id, {
        description,
        schedule: expression,
        target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
          role,
          input: scheduler.ScheduleTargetInput.fromObject(input),
          retryAttempts: 2,
        }),
      });
    start(
      'Schedule',
      `Compacts each table's recent days every ${everyHours} hour(s)`,
      scheduleExpression(everyHours * 60, COMPACTION_MINUTE) as scheduler.ScheduleExpression,
      {},
    );
    start(
      'WeeklySchedule',
      'Bin-packs the compacted tables and vacuums them, weekly',
      scheduler.ScheduleExpression.expression('cron(15 3 ? * SUN *)'),
      { maintenance: true },
    );
    // CloudFormation sends the stack's status changes to EventBridge: after a deployment, the
    // tables and views exist (and follow the new settings) within minutes.
    new events.Rule(this, 'AfterDeploy', {
      description: 'Runs the compaction once after each deployment, creating the tables and views',
      eventPattern: {
        source: ['aws.cloudformation'],
        detailType: ['CloudFormation Stack Status Change'],
        resources: [stack.stackId],
        detail: { 'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] } },
      },
      targets: [
        new eventsTargets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({}),
        }),
      ],
    });
  }

  /**
   * Athena in the stack's workgroup; Glue reads of the database and its tables, writes of the
   * compacted tables and views only; S3 reads of `curated/`, reads, writes and deletes (VACUUM) of
   * `compacted/`, and the query results.
   */
  private grantQueries(role: iam.IRole, bucket: s3.IBucket, catalog: LakeCatalog): void {
    const stack = Stack.of(this);
    const database = catalog.databaseName;
    const glueArns = (names: string[]) => [
      stack.formatArn({ service: 'glue', resource: 'catalog' }),
      stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }),
      ...names.map((name) =>
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${name}` }),
      ),
    ];
    // Reads: every table of the database (the landing tables, ours); writes: ours only.
    const ours = [compactedTable('*' as CuratedDataset), unionView('*' as CuratedDataset)];
    const statements = [
      new iam.PolicyStatement({
        actions: ['athena:StartQueryExecution', 'athena:StopQueryExecution', 'athena:GetQueryExecution'],
        resources: [
          stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: catalog.workGroupName }),
        ],
      }),
      new iam.PolicyStatement({
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:GetTables',
          'glue:GetPartition',
          'glue:GetPartitions',
        ],
        resources: glueArns(['*']),
      }),
      new iam.PolicyStatement({
        actions: ['glue:CreateTable', 'glue:UpdateTable'],
        resources: glueArns(ours),
      }),
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [PREFIX.curated, COMPACTED_PREFIX, catalog.resultsPrefix].map((prefix) =>
          bucket.arnForObjects(`${prefix}*`),
        ),
      }),
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [COMPACTED_PREFIX, catalog.resultsPrefix].map((prefix) =>
          bucket.arnForObjects(`${prefix}*`),
        ),
      }),
      new iam.PolicyStatement({
        actions: ['s3:DeleteObject'],
        resources: [bucket.arnForObjects(`${COMPACTED_PREFIX}*`)],
      }),
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: {
          StringLike: {
            's3:prefix': [PREFIX.curated, COMPACTED_PREFIX, catalog.resultsPrefix].map((p) => `${p}*`),
          },
        },
      }),
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
        resources: [bucket.bucketArn],
      }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);
    for (const name of ['*', ...ours]) {
      acknowledge(
        this.stateMachine,
        wildcardResourceFinding(this, glueArns([name])[2] as string),
        name === '*'
          ? 'Glue reads of the tables of the one database the queries run in (landing, compacted, views)'
          : `Glue writes limited to the compacted tables and views (${name}), which the runs create`,
      );
    }
    for (const prefix of [PREFIX.curated, COMPACTED_PREFIX, catalog.resultsPrefix]) {
      acknowledge(
        this.stateMachine,
        wildcardResourceFinding(this, bucket.arnForObjects(`${prefix}*`)),
        `Object ARNs need a trailing wildcard; the grant is limited to the ${prefix} prefix`,
      );
    }
  }
}
