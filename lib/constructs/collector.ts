import * as path from 'node:path';
import { AssetHashType, DockerImage, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  ALERTS_REJECTED_FOLDER,
  type BundleName,
  collectorPrefix,
  ENV,
  type FunctionName,
  METRIC_DIMENSIONS,
  METRICS,
} from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopeKey } from '../../functions/core/subscription';
import { bundleFunction, PROJECT_ROOT } from '../bundle';
import { LAG_ALARM_PERIODS } from '../config';
import { acknowledge } from '../nag';
import { functionName, nameWords } from '../stack-names';
import type { AlertTopic } from './alerts';
import type { ArchiveBucket } from './archive';
import { runAlarms, runDeadLetterQueue, runEnvironment, runFunction, runSchedule } from './scheduled-run';

/** What a collector runs and how often; everything but the schedule has a default. */
export interface CollectorOptions {
  /** What the collector does; shown on the function and the schedule. */
  readonly description: string;
  /** Minutes between scheduled runs. */
  readonly scheduleMinutes: number;
  /**
   * Minute past the hour the schedule is anchored to, so collectors sharing one Qualys budget do
   * not all start at the same moment. Applies when the interval divides an hour or a day evenly;
   * other intervals run at `rate()` from deployment time.
   * @default 0
   */
  readonly scheduleOffsetMinutes?: number;
  /**
   * Environment variables for the collector, on top of the ones every collector gets
   * (secret, bucket, alert topic, Powertools settings).
   * @default none
   */
  readonly environment?: Record<string, string>;
  /**
   * Longest a run may take. Keep it under the schedule interval: runs never overlap, so a run still
   * going when the next one is due delays that one.
   * @default Duration.minutes(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory of the function, in MiB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Whether to send X-Ray traces.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Lag (the `LagSeconds` metric) above which the lag alarm fires.
   * @default LAG_ALARM_PERIODS schedule intervals
   */
  readonly lagAlarmThreshold?: Duration;
}

export interface CollectorProps extends CollectorOptions {
  /** Which function to bundle and deploy (`functions/<name>/index.ts`). */
  readonly name: FunctionName;
  /**
   * The Qualys subscription the function serves (QUALYS_SUBSCRIPTION): its keys, its metrics'
   * `subscription` dimension and its function name carry it.
   * @default 'default'
   */
  readonly subscription?: string;
  /** Secret holding the Qualys base URL and credentials; the function may read only this one. */
  readonly secret: secretsmanager.ISecret;
  readonly archive: ArchiveBucket;
  /** Archive prefixes the function may read, write and delete under, each ending in `/`. */
  readonly prefixes: {
    readonly read: readonly string[];
    readonly write: readonly string[];
    readonly delete?: readonly string[];
  };
  /**
   * Topic the collector's alarms notify and, with `publishAlerts`, the collector publishes alerts to.
   * @default alarms have no actions, and the collector publishes nothing
   */
  readonly alerts?: AlertTopic;
  /**
   * Whether the function publishes alerts to `alerts` itself (grants publish, sets `ALERT_TOPIC_ARN`).
   * @default true when `alerts` is given
   */
  readonly publishAlerts?: boolean;
}

/**
 * One scheduled Qualys collector: a Lambda function running the shared bundle of `functions/<name>`,
 * started by EventBridge Scheduler every `scheduleMinutes`, never two runs at once (they share a
 * checkpoint), with failed runs kept in a dead-letter queue and alarms on errors and on that queue.
 */
export class Collector extends Construct {
  readonly function: lambda.Function;
  /** The `service` dimension of its metrics: the stack's name in kebab case (`qualys-lake`). */
  readonly service: string;
  readonly logGroup: logs.LogGroup;
  /** Runs that failed after their retries (Lambda destination) or could not be started (Scheduler). */
  readonly deadLetterQueue: sqs.Queue;
  readonly schedule: scheduler.Schedule;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Alerts SNS refused for their content, set aside; only for a collector that publishes alerts. */
  readonly alertsRejectedAlarm?: cloudwatch.Alarm;
  /** The collector is further behind than its threshold (`LagSeconds`). */
  readonly lagAlarm: cloudwatch.Alarm;
  /** Lag above which {@link lagAlarm} fires. */
  readonly lagAlarmThreshold: Duration;
  /** Items set aside under `state/<name>/rejected/` (`RejectedItems`). */
  readonly rejectedItemsAlarm: cloudwatch.Alarm;
  readonly name: FunctionName;
  /** The Qualys subscription it serves. */
  readonly subscription: string;
  /** Whether the function publishes alerts itself. */
  readonly publishesAlerts: boolean;
  /** Minutes between scheduled runs. */
  readonly scheduleMinutes: number;

  constructor(scope: Construct, id: string, props: CollectorProps) {
    super(scope, id);
    this.name = props.name;
    this.subscription = props.subscription ?? DEFAULT_SUBSCRIPTION;
    const who = `the ${props.name} collector of subscription ${this.subscription}`;
    const statePrefix = scopeKey(collectorPrefix('state', props.name), this.subscription);
    this.service = nameWords(Stack.of(this).stackName).join('-');
    this.scheduleMinutes = props.scheduleMinutes;
    const interval = Duration.minutes(props.scheduleMinutes);
    // An event older than one interval is superseded by the next scheduled run, which resumes from
    // the same checkpoint; keep it within what Lambda (1 min to 6 h) and Scheduler (up to 24 h) accept.
    const maxEventAge = Duration.minutes(Math.min(Math.max(props.scheduleMinutes, 1), 360));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });

    this.deadLetterQueue = runDeadLetterQueue(this, 'the collector');

    // A role of our own instead of AWSLambdaBasicExecutionRole: logs go to this log group only.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${who}`,
    });
    this.logGroup.grantWrite(role);

    const publishAlerts = props.alerts !== undefined && (props.publishAlerts ?? true);
    this.publishesAlerts = publishAlerts;
    const environment: Record<string, string> = {
      // The name, not `secretArn`: a secret imported by name only has a partial ARN (no random
      // suffix), and Secrets Manager advises a name or a complete ARN as SecretId.
      [ENV.qualysSecretId]: props.secret.secretName,
      [ENV.archiveBucket]: props.archive.bucketName,
      [ENV.subscription]: this.subscription,
      ...(publishAlerts && props.alerts ? { [ENV.alertTopicArn]: props.alerts.topicArn } : {}),
      ...runEnvironment(this.service),
    };
    for (const [key, value] of Object.entries(props.environment ?? {})) {
      if (key in environment) {
        throw new Error(`Collector ${props.name}: environment variable ${key} is set by the construct`);
      }
      environment[key] = value;
    }

    this.function = runFunction(this, {
      // From the stack, the subscription and the collector, so an operator (and a second stack) can
      // tell them apart: `qualys-lake-prod-cdr-findings`.
      functionName: functionName(Stack.of(this).stackName, this.subscription, props.name),
      description: props.description,
      code: functionCode(props.name),
      role,
      environment,
      timeout: props.timeout ?? Duration.minutes(10),
      memorySize: props.memorySize ?? 512,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      deadLetterQueue: this.deadLetterQueue,
      maxEventAge,
    });
    if (props.tracing) {
      acknowledge(
        role,
        'AwsSolutions-IAM5[Resource::*]',
        'xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions.',
      );
    }

    props.secret.grantRead(this.function);
    props.archive.grantPrefixes(this.function, props.prefixes);
    if (publishAlerts && props.alerts) props.alerts.grantPublish(this.function);

    // The Scheduler role is ours (not the stack-wide one CDK would share) so its one finding is
    // acknowledged here. Its policy (invoke + DLQ send) is added by the target.
    this.schedule = runSchedule(this, {
      function: this.function,
      deadLetterQueue: this.deadLetterQueue,
      who,
      description: `Starts ${who} every ${props.scheduleMinutes} minutes`,
      schedule:
        scheduleExpression(props.scheduleMinutes, props.scheduleOffsetMinutes ?? 0) ??
        scheduler.ScheduleExpression.rate(interval),
      maxEventAge,
    });

    ({ errorsAlarm: this.errorsAlarm, deadLetterAlarm: this.deadLetterAlarm } = runAlarms(
      this,
      this.function,
      this.deadLetterQueue,
      {
        errors: `${capital(who)} failed a run; see its log group ${this.logGroup.logGroupName}.`,
        deadLetter: `Runs of ${who} failed after retries or could not start; inspect and purge the dead-letter queue.`,
      },
    ));
    if (publishAlerts) {
      this.alertsRejectedAlarm = new cloudwatch.Alarm(this, 'AlertsRejectedAlarm', {
        alarmDescription: `SNS refused alerts of ${who} for their content; they are kept under ${statePrefix}${ALERTS_REJECTED_FOLDER} with the reason.`,
        metric: this.metric(METRICS.alertsRejected),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.rejectedItemsAlarm = new cloudwatch.Alarm(this, 'RejectedItemsAlarm', {
      alarmDescription: `${capital(who)} set aside items Qualys served that it could not use; each reason is under ${statePrefix}rejected/ and the raw page is archived.`,
      metric: this.metric(METRICS.rejectedItems),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.lagAlarmThreshold =
      props.lagAlarmThreshold ?? Duration.minutes(LAG_ALARM_PERIODS * props.scheduleMinutes);
    this.lagAlarm = new cloudwatch.Alarm(this, 'LagAlarm', {
      alarmDescription: `${capital(who)} is more than ${this.lagAlarmThreshold.toHumanString()} behind: see StoppedEarly (budget, deadline, call cap) and the errors alarm, and its log group ${this.logGroup.logGroupName}.`,
      // Runs publish the lag as they end; between runs the alarm keeps its state (missing data ignored),
      // and a collector that stops reporting altogether raises the errors alarm instead.
      metric: this.metric(METRICS.lagSeconds, {
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(Math.min(props.scheduleMinutes, 60)),
      }),
      threshold: this.lagAlarmThreshold.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    if (props.alerts) {
      const action = new cloudwatchActions.SnsAction(props.alerts.topic);
      for (const alarm of this.alarms) alarm.addAlarmAction(action);
    }
  }

  /** Every alarm of the collector. */
  get alarms(): cloudwatch.Alarm[] {
    return [
      this.errorsAlarm,
      this.deadLetterAlarm,
      ...(this.alertsRejectedAlarm ? [this.alertsRejectedAlarm] : []),
      this.rejectedItemsAlarm,
      this.lagAlarm,
    ];
  }

  /**
   * A metric the collector's runs publish (namespace `QualysLake`, dimensions `service`,
   * `collector` and `subscription`): by default its sum over 5 minutes.
   */
  metric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS.namespace,
      metricName,
      dimensionsMap: {
        [METRIC_DIMENSIONS.service]: this.service,
        [METRIC_DIMENSIONS.collector]: this.name,
        [METRIC_DIMENSIONS.subscription]: this.subscription,
      },
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.SUM,
      ...options,
    });
  }
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * The deployed code of a function: the same esbuild bundle as `npm run build` (lib/bundle.ts), built
 * in-process. The Docker image is required by the API but never used, because local bundling always
 * succeeds or throws. Tests skip bundling with the `aws:cdk:bundling-stacks` context.
 */
export function functionCode(name: BundleName): lambda.Code {
  // The source path is the function's own folder: CDK caches staged assets by source path and
  // bundling options, and `local` serialises to `{}`, so a shared folder would hand every function
  // the first bundle. The asset hash is taken from the bundle (OUTPUT), so only changed bundles deploy.
  return lambda.Code.fromAsset(path.join(PROJECT_ROOT, 'functions', name), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
      local: {
        tryBundle(outputDir: string): boolean {
          bundleFunction(name, outputDir);
          return true;
        },
      },
    },
  });
}

/**
 * A cron expression for an interval that divides an hour or a day, started `offset` minutes past
 * the hour (EventBridge Scheduler's rate() would start from deployment time, the same for all).
 */
export function scheduleExpression(
  minutes: number,
  offset: number,
): scheduler.ScheduleExpression | undefined {
  const minute = ((offset % 60) + 60) % 60;
  if (minutes < 60 && 60 % minutes === 0) {
    return scheduler.ScheduleExpression.expression(`cron(${minute % minutes}/${minutes} * * * ? *)`);
  }
  if (minutes % 60 === 0 && 24 % (minutes / 60) === 0) {
    const hours = minutes / 60;
    return scheduler.ScheduleExpression.expression(
      `cron(${minute} ${hours === 1 ? '*' : `0/${hours}`} * * ? *)`,
    );
  }
  return undefined;
}
