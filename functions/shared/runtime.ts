import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { s3, sns } from '../aws/clients';
import { S3Store } from '../aws/s3-store';
import { secretLoader } from '../aws/secret';
import { SnsAlerts } from '../aws/sns-alerts';
import { integer, requiredString } from '../core/env';
import { ENV } from '../core/names';
import { QualysClient } from '../qualys/client';
import { logger, metrics, runLogger } from './powertools';

/**
 * What every collector Lambda shares: configuration common to all of them, the Qualys client
 * (kept across warm invocations so its JWT is reused), the S3 store and the middy chain.
 */
export interface CommonConfig {
  secretId: string;
  bucket: string;
  requestTimeoutMs: number;
  maxRetries: number;
  callReserve: number;
}

type Env = Record<string, string | undefined>;

export function readCommonConfig(env: Env): CommonConfig {
  return {
    secretId: requiredString(env, ENV.qualysSecretId),
    bucket: requiredString(env, ENV.archiveBucket),
    requestTimeoutMs: integer(env, ENV.requestTimeoutMs, 30_000, { min: 1_000, max: 300_000 }),
    maxRetries: integer(env, ENV.maxRetries, 4, { min: 0, max: 10 }),
    callReserve: integer(env, ENV.callReserve, 0, { min: 0, max: 100_000 }),
  };
}

export function qualysClientFor(config: CommonConfig): QualysClient {
  return new QualysClient({
    loadCredentials: secretLoader(config.secretId),
    requestTimeoutMs: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    budget: { reserve: config.callReserve },
    logger: runLogger,
  });
}

export const storeFor = (config: CommonConfig) => new S3Store(s3, config.bucket);
export const alertsFor = (env: Env) => new SnsAlerts(sns, requiredString(env, ENV.alertTopicArn));

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

export { runLogger as logger };
