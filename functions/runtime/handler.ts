import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { s3 } from '../aws/s3-client';
import { S3LedgerStore } from '../aws/s3-ledger';
import { S3Store } from '../aws/s3-store';
import { secretLoader } from '../aws/secret';
import { subscriptionAlerts } from '../core/alerts/subscription';
import { blockingLegacyObject, upgradeRequired } from '../core/legacy-layout';
import type { CollectorManifest } from '../core/manifest';
import { CALL_BUDGET_LEDGER_KEY, ENV, type FunctionName, METRIC_DIMENSIONS, METRICS } from '../core/names';
import type { AlertSink, ObjectStore, RunLogger } from '../core/ports';
import { type RunCounts, RunError } from '../core/run';
import { deadlineOf, lambda, recordMetrics } from './lambda';

export { deadlineOf, EarlyTimeoutError, type LambdaContextLike, lambda, recordMetrics } from './lambda';

import { ScopedStore } from '../core/scoped-store';
import { DEFAULT_SUBSCRIPTION, scopeKey } from '../core/subscription';
import { type CallOptions, QualysClient } from '../qualys/client';
import {
  type Env,
  integer,
  parseBoolean,
  parsed,
  parseHostList,
  readSubscription,
  requiredString,
} from './env';
import { logger, metrics, runLogger } from './powertools';

/**
 * What every collector Lambda shares: configuration common to all of them, the Qualys client
 * (kept across warm invocations so its JWT is reused), the S3 store, the alert sink and the
 * middy chain. A collector's `index.ts` is one call to {@link collectorHandler}.
 */
export interface CommonConfig {
  secretId: string;
  bucket: string;
  /** The one subscription this function serves: every key it touches is under its level. */
  subscription: string;
  requestTimeoutMs: number;
  maxRetries: number;
  callReserve: number;
  /** Longest wait for the gateway's limits (spent window, another consumer's 409/429). */
  maxLimitWaitSeconds: number;
  /** Hosts the secret's baseUrl may name besides the Qualys gateways, and plain http to loopback. */
  gateway: { allowedHosts: string[]; allowHttpLoopback: boolean };
}

export function readCommonConfig(env: Env): CommonConfig {
  return {
    secretId: requiredString(env, ENV.qualysSecretId),
    bucket: requiredString(env, ENV.archiveBucket),
    subscription: readSubscription(env),
    requestTimeoutMs: integer(env, ENV.requestTimeoutMs, 30_000, { min: 1_000, max: 300_000 }),
    maxRetries: integer(env, ENV.maxRetries, 4, { min: 0, max: 10 }),
    callReserve: integer(env, ENV.callReserve, 0, { min: 0, max: 100_000 }),
    maxLimitWaitSeconds: integer(env, ENV.maxLimitWaitSeconds, 180, { min: 0, max: 900 }),
    gateway: {
      allowedHosts: parsed(
        env,
        ENV.allowedHosts,
        '',
        parseHostList,
        'a comma list of host names (no scheme, port or path)',
      ),
      allowHttpLoopback: parsed(env, ENV.allowHttpLoopback, 'false', parseBoolean, 'true or false'),
    },
  };
}

/** The Qualys client of one collector, paced by the subscription's call-budget ledger in the bucket. */
export function qualysClientFor(config: CommonConfig, collector: FunctionName): QualysClient {
  return new QualysClient({
    loadCredentials: secretLoader(config.secretId),
    gateway: config.gateway,
    requestTimeoutMs: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    budget: {
      reserve: config.callReserve,
      maxWaitMs: config.maxLimitWaitSeconds * 1000,
      // Each subscription has its own budget at Qualys, and so its own ledger.
      ledger: new S3LedgerStore(s3, config.bucket, scopeKey(CALL_BUDGET_LEDGER_KEY, config.subscription)),
      collector,
    },
    logger: runLogger,
  });
}

/**
 * How far behind the run leaves the collector, and whether it ended without an error (a clean stop
 * for the budget, the deadline or a call cap is a success): `LagSeconds` is the age, at the end of
 * the run, of the time its data is complete up to (the summary's `freshAsOf`), published by every
 * run that knows it, so a collector starved run after run shows its lag growing.
 */
export function recordFreshness(freshAsOf: string | undefined, succeeded: boolean, now = Date.now()): void {
  const asOf = freshAsOf === undefined ? Number.NaN : Date.parse(freshAsOf);
  if (!Number.isNaN(asOf)) {
    metrics.addMetric(METRICS.lagSeconds, MetricUnit.Seconds, Math.max(0, Math.round((now - asOf) / 1000)));
  }
  metrics.addMetric(METRICS.runSucceeded, MetricUnit.Count, succeeded ? 1 : 0);
}

/** What a collector's run gets from the handler: built once per execution environment. */
export interface CollectorRuntime<Settings> {
  qualys: QualysClient;
  store: ObjectStore;
  alerts: AlertSink;
  logger: RunLogger;
  settings: Settings & { bucket: string };
}

export interface CollectorDefinition<Settings, Summary> {
  manifest: CollectorManifest;
  /**
   * The alert sink of one invocation (`snsAlertsOnDemand` from functions/aws/), if and only if the
   * manifest says `publishesAlerts`: only then is the SNS client bundled (and loaded at the first publish).
   */
  alerts?: AlertSinkFactory;
  /** Reads and validates the collector's own settings; a bad variable fails the first invocation. */
  settings: (env: Env) => Settings;
  /** One run for one event. */
  run: (runtime: CollectorRuntime<Settings>, event: unknown, call: CallOptions) => Promise<Summary>;
  /** The collector's own counts from its run summary, published as metrics (ApiCalls, StoppedEarly, PagingErrors and RejectedItems are added). */
  metrics: (summary: Summary) => Record<string, number | undefined>;
  /** Counts an alarm of the collector watches (published like the others). */
  alarmMetrics?: (summary: Summary) => Record<string, number>;
  /** Log message once a run ended, e.g. "CDR run finished". */
  finished: string;
}

/** Makes the alert sink of one invocation: the topic (ALERT_TOPIC_ARN) and the invocation's abort signal. */
export type AlertSinkFactory = (topicArn: string, signal: AbortSignal | undefined) => AlertSink;

/** Collectors that publish no alerts get a sink that says so, instead of an SNS client. */
const noAlerts: AlertSink = {
  async publish() {
    throw new Error('this collector publishes no alerts (its manifest says publishesAlerts: false)');
  },
};

/** The alert sink per invocation, read at init: ALERT_TOPIC_ARN is required only where alerts are published. */
function alertSinks(
  manifest: CollectorManifest,
  alerts: AlertSinkFactory | undefined,
  env: Env,
): (signal: AbortSignal | undefined) => AlertSink {
  if (manifest.publishesAlerts !== (alerts !== undefined))
    throw new Error(
      `${manifest.name}: its manifest says publishesAlerts: ${manifest.publishesAlerts}, but its handler ${alerts ? 'passes' : 'passes no'} alert sink`,
    );
  if (!alerts) return () => noAlerts;
  const topicArn = requiredString(env, ENV.alertTopicArn);
  return (signal) => alerts(topicArn, signal);
}

/**
 * The check that keeps a `default` function from starting on a bucket a single-subscription
 * deployment left in the legacy layout (core/legacy-layout.ts). Once passed, never made again in
 * this execution environment; other subscriptions never had a legacy layout and skip it.
 */
function layoutCheck(common: CommonConfig, manifest: CollectorManifest) {
  let passed = common.subscription !== DEFAULT_SUBSCRIPTION;
  return async (bucket: ObjectStore): Promise<void> => {
    if (passed) return;
    const found = await blockingLegacyObject(bucket, manifest);
    if (found !== undefined) throw upgradeRequired(found, common.bucket, ENV.subscription);
    passed = true;
  };
}

/**
 * The whole handler of a collector: settings read once at init, the middy chain, the deadline,
 * metrics from the run summary (also from the partial summary of a run that failed part-way).
 */
export function collectorHandler<Settings, Summary extends RunCounts>(
  definition: CollectorDefinition<Settings, Summary>,
  env: Env = process.env,
) {
  const common = readCommonConfig(env);
  const alertsFor = alertSinks(definition.manifest, definition.alerts, env);
  const qualys = qualysClientFor(common, definition.manifest.name);
  const settings = { ...definition.settings(env), bucket: common.bucket };
  // Every metric names its collector and subscription, so the dashboard and the alarms can tell them apart.
  metrics.setDefaultDimensions({
    [METRIC_DIMENSIONS.collector]: definition.manifest.name,
    [METRIC_DIMENSIONS.subscription]: common.subscription,
  });
  const layout = layoutCheck(common, definition.manifest);
  // The Qualys client lives as long as the execution environment (its JWT is reused); the S3 and
  // SNS adapters are made per invocation, bound to its abort signal.
  const runtimeFor = (signal: AbortSignal | undefined, bucket: ObjectStore): CollectorRuntime<Settings> => ({
    qualys,
    store: new ScopedStore(bucket, common.subscription),
    alerts: subscriptionAlerts(alertsFor(signal), common.subscription),
    logger: runLogger,
    settings,
  });
  const report = (summary: Summary, succeeded: boolean) => {
    recordMetrics({
      ...definition.metrics(summary),
      ...definition.alarmMetrics?.(summary),
      ApiCalls: summary.apiCalls,
      StoppedEarly: summary.stoppedEarly ? 1 : 0,
      PagingErrors: summary.pagingErrors ?? 0,
      [METRICS.rejectedItems]: summary.rejected ?? 0,
      [METRICS.budgetRemaining]: summary.rateLimit.remaining,
    });
    recordFreshness(summary.freshAsOf, succeeded);
    logger.info(definition.finished, { summary: { ...summary, checkpoint: undefined } });
  };
  return lambda(async (event: unknown, context, signal) => {
    const bucket = new S3Store(s3, common.bucket, { signal });
    await layout(bucket);
    try {
      const summary = await definition.run(runtimeFor(signal, bucket), event, {
        deadline: deadlineOf(context),
        signal,
      });
      report(summary, true);
      return summary;
    } catch (error) {
      // A run that failed after saving what it could still reports what it did.
      if (error instanceof RunError) report(error.summary as Summary, false);
      throw error;
    }
  });
}
