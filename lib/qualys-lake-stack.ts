import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { CollectorManifest } from '../functions/core/manifest';
import { ENV, type FunctionName } from '../functions/core/names';
import { COLLECTOR_MANIFESTS } from '../functions/manifests';
import { loadConfig, type QualysLakeConfig } from './config';
import { AlertTopic } from './constructs/alerts';
import { ArchiveBucket } from './constructs/archive';
import { BackfillMachine } from './constructs/backfill';
import { LakeCatalog } from './constructs/catalog';
import { Collector, type CollectorOptions } from './constructs/collector';
import { Compaction, lateDataReach } from './constructs/compaction';
import { Monitoring } from './constructs/monitoring';
import { SecurityLakeWriter } from './constructs/security-lake';
import type { SecurityLakeOptions } from './security-lake-config';

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
  readonly qualysSecret: secretsmanager.ISecret;
  /** Glue tables, Athena workgroup and named queries over `curated/`. */
  readonly catalog: LakeCatalog;
  /** Every collector of the stack, by function name. */
  readonly collectors = new Map<FunctionName, Collector>();
  /** Replays CDR ranges and takes inventory snapshots on demand. */
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

    this.qualysSecret = secretsmanager.Secret.fromSecretNameV2(this, 'QualysSecret', config.qualysSecretName);
    this.archive = new ArchiveBucket(this, 'Archive', { rawRetentionDays: config.rawRetentionDays });
    this.alerts = new AlertTopic(this, 'Alerts', {
      emails: config.alertEmails,
      emailSubscriptions: config.alertEmailSubscriptions,
      ...(config.slack ? { slack: config.slack } : {}),
    });

    this.addCollector(COLLECTOR_MANIFESTS['cdr-findings'], {
      description: 'Pulls Qualys CDR findings into the archive and alerts on severe ones',
      scheduleMinutes: config.cdrScheduleMinutes,
      environment: {
        [ENV.alertMinSeverity]: config.alertMinSeverity,
        [ENV.alertMaxPerRun]: String(config.alertMaxPerRun),
        ...(config.cdrQuery !== undefined ? { [ENV.cdrQuery]: config.cdrQuery } : {}),
      },
    });
    // SaaSDR: inventory and reports only archive; posture alerts on failed controls.
    this.addCollector(COLLECTOR_MANIFESTS['sdr-inventory'], {
      description: 'Takes resumable snapshots of the Qualys SaaSDR inventory',
      scheduleMinutes: config.sdrInventoryScheduleMinutes,
      environment: { [ENV.callReserve]: String(CALL_RESERVE['sdr-inventory']) },
    });
    this.addCollector(COLLECTOR_MANIFESTS['sdr-posture'], {
      description: 'Archives Qualys SaaSDR posture evidence and alerts on newly failed controls',
      scheduleMinutes: config.sdrPostureScheduleMinutes,
      environment: {
        [ENV.alertMaxPerRun]: String(config.alertMaxPerRun),
        [ENV.callReserve]: String(CALL_RESERVE['sdr-posture']),
      },
    });
    this.addCollector(COLLECTOR_MANIFESTS['sdr-reports'], {
      description: 'Downloads completed Qualys SaaSDR reports into the archive',
      scheduleMinutes: config.sdrReportsScheduleMinutes,
      environment: { [ENV.callReserve]: String(CALL_RESERVE['sdr-reports']) },
      timeout: Duration.minutes(15),
    });

    this.catalog = new LakeCatalog(this, 'Catalog', {
      bucket: this.archive.bucket,
      bytesScannedCutoff: config.athenaScanCutoffMiB * 1024 ** 2,
      namedQueriesReadViews: config.compaction.enabled,
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
    this.backfill = new BackfillMachine(this, 'Backfill', {
      cdrFindings: this.collectorFunction('cdr-findings'),
      sdrInventory: this.collectorFunction('sdr-inventory'),
      logRetention: config.logRetention,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', { collectors: [...this.collectors.values()] });
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
      value: this.collectorService(),
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

  private collectorService(): string {
    return this.collectors.get('cdr-findings')?.service ?? 'qualys-lake';
  }

  private collectorFunction(name: FunctionName) {
    const collector = this.collectors.get(name);
    if (!collector) throw new Error(`the stack has no ${name} collector`);
    return collector.function;
  }

  /**
   * Adds a scheduled collector, granted the prefixes its manifest names, with the stack's secret, archive, alert topic and log retention, and
   * outputs its function name as `<PascalName>FunctionName`.
   */
  addCollector(manifest: CollectorManifest, options: CollectorOptions): Collector {
    const { name } = manifest;
    if (this.collectors.has(name)) throw new Error(`Collector ${name} is already in the stack`);
    const id = pascalCase(name);
    const { qualysAllowedHosts, functionSettings, lagAlarmMinutes } = this.config;
    const lagAlarm = lagAlarmMinutes[name];
    const collector = new Collector(this, id, {
      logRetention: this.config.logRetention,
      scheduleOffsetMinutes: SCHEDULE_OFFSET[name],
      ...(lagAlarm !== undefined ? { lagAlarmThreshold: Duration.minutes(lagAlarm) } : {}),
      ...options,
      environment: {
        ...(qualysAllowedHosts.length > 0 ? { [ENV.allowedHosts]: qualysAllowedHosts.join(',') } : {}),
        ...functionSettings[name],
        ...options.environment,
      },
      name,
      secret: this.qualysSecret,
      archive: this.archive,
      prefixes: { read: manifest.reads, write: manifest.writes, delete: manifest.deletes },
      alerts: this.alerts,
      publishAlerts: manifest.publishesAlerts,
    });
    this.collectors.set(name, collector);
    new CfnOutput(this, `${id}FunctionName`, {
      description: `Lambda function of the ${name} collector`,
      value: collector.function.functionName,
    });
    return collector;
  }
}

function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
