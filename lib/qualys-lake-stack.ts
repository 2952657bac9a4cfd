import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { CollectorManifest } from '../functions/core/manifest';
import { ENV, type FunctionName } from '../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopedGrants } from '../functions/core/subscription';
import { COLLECTOR_MANIFESTS } from '../functions/manifests';
import { loadConfig, type QualysLakeConfig, type SubscriptionConfig } from './config';
import { AlertTopic } from './constructs/alerts';
import { ArchiveBucket } from './constructs/archive';
import { BackfillMachine } from './constructs/backfill';
import { LakeCatalog } from './constructs/catalog';
import { Collector, type CollectorOptions } from './constructs/collector';
import { Compaction, lateDataReach } from './constructs/compaction';
import { Monitoring } from './constructs/monitoring';
import { SecurityLakeWriter } from './constructs/security-lake';
import type { SecurityLakeOptions } from './security-lake-config';
import { functionOutputId, pascalCase, SUBSCRIPTIONS_OUTPUT, secretOutputId } from './stack-names';

export interface QualysLakeStackProps extends StackProps {
  /**
   * Deployment settings.
   * @default read and validated from CDK context (see lib/config.ts)
   */
  readonly config?: QualysLakeConfig;
}

/** Minute past the hour each collector's schedule starts at, so they rarely call Qualys together. */
export const SCHEDULE_OFFSET: Record<FunctionName, number> = {
  'cdr-findings': 0,
  'sdr-posture': 7,
  'sdr-reports': 22,
  'sdr-inventory': 37,
};

/**
 * Calls of each Qualys rate-limit window a collector leaves to the others (QUALYS_CALL_RESERVE).
 * All collectors share one subscription budget (300 calls per hour by default); the larger a
 * collector's reserve, the earlier it yields, so bulk inventory and report downloads can never
 * starve CDR alerts, which reserve nothing.
 */
export const CALL_RESERVE: Record<FunctionName, number> = {
  'cdr-findings': 0,
  'sdr-posture': 40,
  'sdr-reports': 60,
  'sdr-inventory': 80,
};

/**
 * qualys-lake: scheduled collectors pull Qualys CDR findings (and, next, SaaSDR data) into the
 * archive bucket and publish alerts to a topic that mails the team and posts to Slack.
 */
export class QualysLakeStack extends Stack {
  readonly config: QualysLakeConfig;
  readonly archive: ArchiveBucket;
  readonly alerts: AlertTopic;
  /** Glue tables, Athena workgroup and named queries over `curated/`. */
  readonly catalog: LakeCatalog;
  /** Every collector of the stack: one per subscription and collector it runs. */
  readonly allCollectors: Collector[] = [];
  /**
   * The first subscription's collectors by function name: all of them in a deployment with one
   * subscription (see {@link collector} for the others).
   */
  get collectors(): Map<FunctionName, Collector> {
    const first = this.config.subscriptions[0]?.name;
    return new Map(
      this.allCollectors
        .filter((collector) => collector.subscription === first)
        .map((collector) => [collector.name, collector]),
    );
  }
  /** Replays CDR ranges and takes inventory snapshots on demand, for any subscription. */
  readonly backfill: BackfillMachine;
  /** The collectors' dashboard. */
  readonly monitoring: Monitoring;
  /** The Security Lake writer of each subscription the `securityLake` context configures. */
  readonly securityLake = new Map<string, SecurityLakeWriter>();
  /** The compacted layer, when the context turns it on. */
  readonly compaction?: Compaction;

  constructor(scope: Construct, id: string, props: QualysLakeStackProps = {}) {
    super(scope, id, {
      description: 'qualys-lake: Qualys CDR and SaaSDR data in S3, with alerts to email and Slack',
      ...props,
    });
    const config = props.config ?? loadConfig(this);
    this.config = config;

    this.archive = new ArchiveBucket(this, 'Archive', { rawRetentionDays: config.rawRetentionDays });
    this.alerts = new AlertTopic(this, 'Alerts', {
      emails: config.alertEmails,
      emailSubscriptions: config.alertEmailSubscriptions,
      ...(config.slack ? { slack: config.slack } : {}),
    });
    for (const subscription of config.subscriptions) this.addSubscription(subscription);

    const names = config.subscriptions.map((subscription) => subscription.name);
    this.catalog = new LakeCatalog(this, 'Catalog', {
      bucket: this.archive.bucket,
      bytesScannedCutoff: config.athenaScanCutoffMiB * 1024 ** 2,
      namedQueriesReadViews: config.compaction.enabled,
      subscriptions: names,
    });
    if (config.compaction.enabled) {
      this.compaction = new Compaction(this, 'Compaction', {
        bucket: this.archive.bucket,
        catalog: this.catalog,
        alarmTopic: this.alerts.topic,
        logRetention: config.logRetention,
        reach: lateDataReach(config),
        everyHours: config.compaction.everyHours,
        landingRetentionDays: config.compaction.curatedRetentionDays,
      });
    }
    const functionsOf = (name: FunctionName) =>
      Object.fromEntries(
        this.allCollectors
          .filter((collector) => collector.name === name)
          .map((collector) => [collector.subscription, collector.function]),
      );
    this.backfill = new BackfillMachine(this, 'Backfill', {
      cdrFindings: functionsOf('cdr-findings'),
      sdrInventory: functionsOf('sdr-inventory'),
      subscriptions: names,
      logRetention: config.logRetention,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', { collectors: this.allCollectors });
    for (const [subscription, options] of Object.entries(config.securityLake ?? {})) {
      this.addSecurityLakeWriter(subscription, options);
    }

    new CfnOutput(this, 'ArchiveBucketName', {
      description: 'Bucket holding raw pages, curated NDJSON and collector state',
      value: this.archive.bucketName,
    });
    new CfnOutput(this, 'AlertTopicArn', {
      description: 'SNS topic for collector alerts and alarms',
      value: this.alerts.topicArn,
    });
    new CfnOutput(this, 'BackfillStateMachineArn', {
      description: 'Replays a CDR range window by window (npx qualys-lake backfill starts it)',
      value: this.backfill.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'MetricsServiceName', {
      description: "The service dimension of the collectors' metrics (namespace QualysLake)",
      value: this.allCollectors[0]?.service ?? 'qualys-lake',
    });
    new CfnOutput(this, SUBSCRIPTIONS_OUTPUT, {
      description: 'The Qualys subscriptions the stack serves (qualys-lake backfill and status read them)',
      value: names.join(','),
    });
    new CfnOutput(this, 'GlueDatabaseName', {
      description: 'Glue database of the curated tables (qualys-lake query reads it from here)',
      value: this.catalog.databaseName,
    });
    new CfnOutput(this, 'AthenaWorkGroupName', {
      description: 'Athena workgroup with the named queries and a per-query scan limit',
      value: this.catalog.workGroupName,
    });
    new CfnOutput(this, 'DashboardName', {
      description:
        'CloudWatch dashboard of the collectors: runs, calls, budget, lag, records, alerts, errors',
      value: this.monitoring.dashboard.dashboardName,
    });
  }

  /** The Security Lake writer of one subscription, its function name output as `SecurityLake<Name>FunctionName`. */
  private addSecurityLakeWriter(subscription: string, options: SecurityLakeOptions): void {
    const id = `SecurityLake${pascalCase(subscription)}`;
    const writer = new SecurityLakeWriter(this, id, {
      subscription,
      options,
      archive: this.archive,
      alerts: this.alerts,
      logRetention: this.config.logRetention,
    });
    this.securityLake.set(subscription, writer);
    new CfnOutput(this, `${id}FunctionName`, {
      description: `Lambda function writing subscription ${subscription} to Amazon Security Lake`,
      value: writer.function.functionName,
    });
  }

  /** The collector `name` of `subscription`; throws if the stack has none. */
  collector(subscription: string, name: FunctionName): Collector {
    const collector = this.allCollectors.find(
      (item) => item.subscription === subscription && item.name === name,
    );
    if (!collector) throw new Error(`the stack has no ${name} collector for subscription ${subscription}`);
    return collector;
  }

  /**
   * One subscription: its secret and one function per collector it runs. The subscription
   * `default` keeps the construct ids a deployment without subscriptions always had (`CdrFindings`,
   * `QualysSecret`), so upgrading one keeps its resources; any other lives under a construct named
   * after it (`prod/CdrFindings`).
   */
  private addSubscription(subscription: SubscriptionConfig): void {
    const scope = subscription.name === DEFAULT_SUBSCRIPTION ? this : new Construct(this, subscription.name);
    const secret = secretsmanager.Secret.fromSecretNameV2(scope, 'QualysSecret', subscription.secretName);
    new CfnOutput(this, secretOutputId(subscription.name), {
      description: `Secrets Manager secret (its name) of the Qualys account of subscription ${subscription.name}`,
      value: subscription.secretName,
    });
    const settings = collectorOptions(subscription);
    for (const name of subscription.collectors) {
      this.addCollector(scope, COLLECTOR_MANIFESTS[name], subscription, secret, settings[name]);
    }
  }

  /**
   * Adds a scheduled collector of one subscription, granted the prefixes its manifest names scoped
   * to the subscription, with the subscription's secret, the archive, alert topic and log retention,
   * and outputs its function name as `<PascalName>FunctionName` (`prodCdrFindingsFunctionName`).
   */
  private addCollector(
    scope: Construct,
    manifest: CollectorManifest,
    subscription: SubscriptionConfig,
    secret: secretsmanager.ISecret,
    options: CollectorOptions,
  ): Collector {
    const { name } = manifest;
    const id = pascalCase(name);
    const { qualysAllowedHosts } = this.config;
    const lagAlarm = subscription.lagAlarmMinutes[name];
    const collector = new Collector(scope, id, {
      logRetention: this.config.logRetention,
      scheduleOffsetMinutes: SCHEDULE_OFFSET[name],
      ...(lagAlarm !== undefined ? { lagAlarmThreshold: Duration.minutes(lagAlarm) } : {}),
      ...options,
      environment: {
        ...(qualysAllowedHosts.length > 0 ? { [ENV.allowedHosts]: qualysAllowedHosts.join(',') } : {}),
        ...subscription.functionSettings[name],
        ...options.environment,
      },
      name,
      subscription: subscription.name,
      secret,
      archive: this.archive,
      prefixes: scopedGrants(manifest, subscription.name),
      alerts: this.alerts,
      publishAlerts: manifest.publishesAlerts,
    });
    this.allCollectors.push(collector);
    new CfnOutput(this, functionOutputId(subscription.name, name), {
      description: `Lambda function of the ${name} collector of subscription ${subscription.name}`,
      value: collector.function.functionName,
    });
    return collector;
  }
}

/** What each collector of a subscription runs with: description, schedule, its own variables. */
function collectorOptions(settings: SubscriptionConfig): Record<FunctionName, CollectorOptions> {
  return {
    'cdr-findings': {
      description: 'Pulls Qualys CDR findings into the archive and alerts on severe ones',
      scheduleMinutes: settings.cdrScheduleMinutes,
      environment: {
        [ENV.alertMinSeverity]: settings.alertMinSeverity,
        [ENV.alertMaxPerRun]: String(settings.alertMaxPerRun),
        ...(settings.cdrQuery !== undefined ? { [ENV.cdrQuery]: settings.cdrQuery } : {}),
      },
    },
    // SaaSDR: inventory and reports only archive; posture alerts on failed controls.
    'sdr-inventory': {
      description: 'Takes resumable snapshots of the Qualys SaaSDR inventory',
      scheduleMinutes: settings.sdrInventoryScheduleMinutes,
      environment: { [ENV.callReserve]: String(CALL_RESERVE['sdr-inventory']) },
    },
    'sdr-posture': {
      description: 'Archives Qualys SaaSDR posture evidence and alerts on newly failed controls',
      scheduleMinutes: settings.sdrPostureScheduleMinutes,
      environment: {
        [ENV.alertMaxPerRun]: String(settings.alertMaxPerRun),
        [ENV.callReserve]: String(CALL_RESERVE['sdr-posture']),
      },
    },
    'sdr-reports': {
      description: 'Downloads completed Qualys SaaSDR reports into the archive',
      scheduleMinutes: settings.sdrReportsScheduleMinutes,
      environment: { [ENV.callReserve]: String(CALL_RESERVE['sdr-reports']) },
      timeout: Duration.minutes(15),
    },
  };
}
