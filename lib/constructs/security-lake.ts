import { Aws, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../functions/core/names';
import {
  SECURITY_LAKE_ENV,
  SECURITY_LAKE_FUNCTION,
  type SecurityLakeClass,
  type SecurityLakeTarget,
  securityLakeGrants,
} from '../../functions/manifests';
import type { SecurityLakeOptions } from '../security-lake-config';
import { nameWords } from '../stack-names';
import type { AlertTopic } from './alerts';
import type { ArchiveBucket } from './archive';
import { functionCode, scheduleExpression } from './collector';
import { runAlarms, runDeadLetterQueue, runEnvironment, runFunction, runSchedule } from './scheduled-run';

export interface SecurityLakeWriterProps {
  /** The subscription whose curated records it writes (QUALYS_SUBSCRIPTION). */
  readonly subscription: string;
  readonly options: SecurityLakeOptions;
  readonly archive: ArchiveBucket;
  /** Topic the writer's alarms notify. @default alarms have no actions */
  readonly alerts?: AlertTopic;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The Security Lake writer of one subscription (README "Amazon Security Lake"): a scheduled Lambda
 * function that reads the subscription's curated records of the classes configured, and writes
 * OCSF Parquet to each class's custom source with that source's provider role. Its own role may
 * read those curated prefixes, read and write its state, and assume exactly the configured
 * provider roles; it has no permission on the Security Lake bucket itself.
 */
export class SecurityLakeWriter extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly deadLetterQueue: sqs.Queue;
  readonly schedule: scheduler.Schedule;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SecurityLakeWriterProps) {
    super(scope, id);
    const { options, subscription } = props;
    const classes = Object.keys(options.sources) as SecurityLakeClass[];
    const roleArns = [...new Set(Object.values(options.sources).map((source) => source.roleArn))];
    const minutes = options.scheduleMinutes;
    const maxEventAge = Duration.minutes(Math.min(minutes, 360));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });
    this.deadLetterQueue = runDeadLetterQueue(this, 'the writer');

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Writes the ${subscription} subscription's OCSF records to Amazon Security Lake`,
    });
    this.logGroup.grantWrite(this.role);
    props.archive.grantPrefixes(this.role, securityLakeGrants(subscription, classes));
    // The provider roles Security Lake created for the custom sources: these and no other.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: roleArns }),
    );

    const target: SecurityLakeTarget = {
      region: options.region ?? Aws.REGION,
      accountId: options.accountId ?? Aws.ACCOUNT_ID,
      sources: options.sources,
    };
    this.function = runFunction(this, {
      description: `Writes Qualys records of subscription ${subscription} to Amazon Security Lake as OCSF`,
      code: functionCode(SECURITY_LAKE_FUNCTION),
      role: this.role,
      environment: {
        [ENV.archiveBucket]: props.archive.bucketName,
        [ENV.subscription]: subscription,
        [SECURITY_LAKE_ENV.target]: Stack.of(this).toJsonString(target),
        [SECURITY_LAKE_ENV.lookbackDays]: String(options.lookbackDays),
        ...runEnvironment(nameWords(Stack.of(this).stackName).join('-')),
      },
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logGroup: this.logGroup,
      deadLetterQueue: this.deadLetterQueue,
      maxEventAge,
    });

    this.schedule = runSchedule(this, {
      function: this.function,
      deadLetterQueue: this.deadLetterQueue,
      who: `the Security Lake writer of ${subscription}`,
      description: `Writes a Security Lake batch of ${subscription} every ${minutes} minutes`,
      schedule:
        scheduleExpression(minutes, 0) ?? scheduler.ScheduleExpression.rate(Duration.minutes(minutes)),
      maxEventAge,
    });

    ({ errorsAlarm: this.errorsAlarm, deadLetterAlarm: this.deadLetterAlarm } = runAlarms(
      this,
      this.function,
      this.deadLetterQueue,
      {
        errors: `The Security Lake writer of ${subscription} failed a run (its pending batch is written again next run); see its log group ${this.logGroup.logGroupName}.`,
        deadLetter: `Runs of the Security Lake writer of ${subscription} failed after retries or could not start; inspect and purge the dead-letter queue.`,
      },
    ));
    if (props.alerts) {
      const action = new cloudwatchActions.SnsAction(props.alerts.topic);
      this.errorsAlarm.addAlarmAction(action);
      this.deadLetterAlarm.addAlarmAction(action);
    }
  }
}
