import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS } from '../../functions/core/names';
import { acknowledge, wildcardResourceFinding } from '../nag';

/**
 * The parts every scheduled function of the stack has (the collectors, the Security Lake writer):
 * the function itself, a dead-letter queue for runs that failed after retries or never started, an
 * EventBridge Scheduler schedule with a role of its own, and two alarms. Each is made in `scope` with the construct ids
 * the collectors have always had, so their logical ids do not change.
 */

/** The dead-letter queue of `what` (Lambda's on-failure destination and the Scheduler's DLQ). */
export function runDeadLetterQueue(scope: Construct, what: string): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(
    queue,
    'AwsSolutions-SQS3',
    `This queue is itself the dead-letter queue of ${what} (Lambda on-failure destination and Scheduler DLQ); cdk-nag only recognises SQS redrive DLQs.`,
  );
  return queue;
}

/**
 * The environment every function's runtime reads besides its own settings: source maps, glibc's
 * malloc setting, and Powertools' service (the metrics' `service` dimension: the stack's name, so
 * two stacks' alarms never mix) and namespace.
 *
 * `MALLOC_MMAP_THRESHOLD_` is read by the C library as the process starts (Lambda starts it with
 * the function's environment). Fixed at 128 KiB (glibc's starting value), every block that large
 * (a page's bytes, its NDJSON and gzip output) is mapped on its own and handed back to the OS when
 * freed. By default glibc raises the threshold to the size of each larger mapped block freed, so
 * later blocks of that size come from the heap, which keeps what is freed: peak RSS then grew with
 * the length of a run, some 20–25 MiB more at 1,000,000 findings than with the threshold fixed,
 * for the same work (README "Benchmarks").
 */
export function runEnvironment(service: string): Record<string, string> {
  return {
    NODE_OPTIONS: '--enable-source-maps',
    MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
  };
}

export interface RunFunctionOptions
  extends Pick<
    lambda.FunctionProps,
    'functionName' | 'description' | 'code' | 'role' | 'environment' | 'timeout' | 'memorySize' | 'tracing'
  > {
  readonly logGroup: logs.ILogGroup;
  readonly deadLetterQueue: sqs.IQueue;
  readonly maxEventAge: Duration;
}

/**
 * The function (Node.js 22 on arm64, `index.handler` of its bundle), one run at a time (runs share
 * its checkpoints, so they must not overlap), retried twice, then sent to its dead-letter queue.
 */
export function runFunction(scope: Construct, options: RunFunctionOptions): lambda.Function {
  const { deadLetterQueue, ...props } = options;
  const fn = new lambda.Function(scope, 'Function', {
    ...props,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    reservedConcurrentExecutions: 1,
    retryAttempts: 2,
    onFailure: new destinations.SqsDestination(deadLetterQueue),
  });
  acknowledge(
    fn,
    'AwsSolutions-L1',
    'Pinned to Node.js 22: lib/bundle.ts targets node22 and the handlers are tested on it; move both together.',
  );
  return fn;
}

export interface RunScheduleOptions {
  readonly function: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** Who the schedule starts, for the role's description: `the cdr-findings collector of …`. */
  readonly who: string;
  readonly description: string;
  readonly schedule: scheduler.ScheduleExpression;
  readonly maxEventAge: Duration;
}

/**
 * The schedule that starts the function, with an empty event. Its role is its own (not the
 * stack-wide one CDK would share), so its one finding is acknowledged here; its policy (invoke and
 * DLQ send) is added by the target.
 */
export function runSchedule(scope: Construct, options: RunScheduleOptions): scheduler.Schedule {
  const role = new iam.Role(scope, 'ScheduleRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: {
          'aws:SourceAccount': Aws.ACCOUNT_ID,
          'aws:SourceArn': Stack.of(scope).formatArn({
            service: 'scheduler',
            resource: 'schedule-group',
            resourceName: 'default',
          }),
        },
      },
    }),
    description: `Lets EventBridge Scheduler start ${options.who}`,
  });
  acknowledge(
    role,
    wildcardResourceFinding(scope, `${options.function.functionArn}:*`),
    'lambda:InvokeFunction on this one function and its versions/aliases (`:*`), as Function.grantInvoke grants.',
  );
  return new scheduler.Schedule(scope, 'Schedule', {
    description: options.description,
    schedule: options.schedule,
    target: new schedulerTargets.LambdaInvoke(options.function, {
      role,
      input: scheduler.ScheduleTargetInput.fromObject({}),
      deadLetterQueue: options.deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: options.maxEventAge,
    }),
  });
}

/** An alarm on one data point at or above 1 in five minutes; no data is not breaching. */
export function onFirstAlarm(
  scope: Construct,
  id: string,
  alarmDescription: string,
  metric: cloudwatch.IMetric,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription,
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The function's errors alarm and its dead-letter queue's alarm. */
export function runAlarms(
  scope: Construct,
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
  descriptions: { errors: string; deadLetter: string },
): { errorsAlarm: cloudwatch.Alarm; deadLetterAlarm: cloudwatch.Alarm } {
  return {
    errorsAlarm: onFirstAlarm(
      scope,
      'ErrorsAlarm',
      descriptions.errors,
      fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    ),
    deadLetterAlarm: onFirstAlarm(
      scope,
      'DeadLetterAlarm',
      descriptions.deadLetter,
      deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
    ),
  };
}
