import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { s3, sns } from '../aws/clients';
import { S3LedgerStore } from '../aws/s3-ledger';
import { S3Store } from '../aws/s3-store';
import { secretLoader } from '../aws/secret';
import { SnsAlerts } from '../aws/sns-alerts';
import type { CollectorManifest } from '../core/manifest';
import { ENV, type FunctionName } from '../core/names';
import type { AlertSink, ObjectStore, RunLogger } from '../core/ports';
import { type RunCounts, RunError } from '../core/run';
import { type CallOptions, QualysClient } from '../qualys/client';
import { type Env, integer, parseBoolean, parsed, parseHostList, requiredString } from './env';
import { logger, metrics, runLogger } from './powertools';

/**
 * What every collector Lambda shares: configuration common to all of them, the Qualys client
 * (kept across warm invocations so its JWT is reused), the S3 store, the alert sink and the
 * middy chain. A collector's `index.ts` is one call to {@link collectorHandler}.
 */
export interface CommonConfig {
  secretId: string;
  bucket: string;
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
      ledger: new S3LedgerStore(s3, config.bucket),
      collector,
    },
    logger: runLogger,
  });
}

/** Time kept back from the Lambda deadline to save the checkpoint and publish alerts. */
export const FINISH_MARGIN_MS = 10_000;

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Epoch ms by which the collector must stop calling Qualys. */
export function deadlineOf(context: LambdaContextLike): number {
  return Date.now() + context.getRemainingTimeInMillis() - FINISH_MARGIN_MS;
}

/** Counts from a run summary, published as CloudWatch metrics. */
export function recordMetrics(counts: Record<string, number | undefined>): void {
  for (const [name, value] of Object.entries(counts)) {
    if (value !== undefined) metrics.addMetric(name, MetricUnit.Count, value);
  }
}

/** middy chain shared by every handler: Powertools logger context and metrics flush. */
export function lambda<E, R>(
  handler: (event: E, context: LambdaContextLike, signal: AbortSignal | undefined) => Promise<R>,
) {
  return middy<E, R>({ timeoutEarlyInMillis: 2_000 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler((event, context, options) => handler(event, context as LambdaContextLike, options?.signal));
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
  /** Reads and validates the collector's own settings; a bad variable fails the first invocation. */
  settings: (env: Env) => Settings;
  /** One run for one event. */
  run: (runtime: CollectorRuntime<Settings>, event: unknown, call: CallOptions) => Promise<Summary>;
  /** The collector's own counts from its run summary, published as metrics (ApiCalls, StoppedEarly, PagingErrors and RejectedItems are added). */
  metrics: (summary: Summary) => Record<string, number | undefined>;
  /** Log message once a run ended, e.g. "CDR run finished". */
  finished: string;
}

/** Collectors that publish no alerts get a sink that says so, instead of an SNS client. */
const noAlerts: AlertSink = {
  async publish() {
    throw new Error('this collector publishes no alerts (its manifest says publishesAlerts: false)');
  },
};

/**
 * The whole handler of a collector: settings read once at init, the middy chain, the deadline,
 * metrics from the run summary (also from the partial summary of a run that failed part-way).
 */
export function collectorHandler<Settings, Summary extends RunCounts>(
  definition: CollectorDefinition<Settings, Summary>,
  env: Env = process.env,
) {
  const common = readCommonConfig(env);
  const runtime: CollectorRuntime<Settings> = {
    qualys: qualysClientFor(common, definition.manifest.name),
    store: new S3Store(s3, common.bucket),
    alerts: definition.manifest.publishesAlerts
      ? new SnsAlerts(sns, requiredString(env, ENV.alertTopicArn))
      : noAlerts,
    logger: runLogger,
    settings: { ...definition.settings(env), bucket: common.bucket },
  };
  const report = (summary: Summary) => {
    recordMetrics({
      ...definition.metrics(summary),
      ApiCalls: summary.apiCalls,
      StoppedEarly: summary.stoppedEarly ? 1 : 0,
      PagingErrors: summary.pagingErrors ?? 0,
      RejectedItems: summary.rejected ?? 0,
    });
    logger.info(definition.finished, { summary: { ...summary, checkpoint: undefined } });
  };
  return lambda(async (event: unknown, context, signal) => {
    try {
      const summary = await definition.run(runtime, event, { deadline: deadlineOf(context), signal });
      report(summary);
      return summary;
    } catch (error) {
      // A run that failed after saving what it could still reports what it did.
      if (error instanceof RunError) report(error.summary as Summary);
      throw error;
    }
  });
}
