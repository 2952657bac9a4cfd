import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { s3 } from '../aws/s3-client';
import { S3Store } from '../aws/s3-store';
import { METRIC_DIMENSIONS } from '../core/names';
import { logger, metrics, runLogger } from '../runtime/powertools';
import { SECURITY_LAKE_FUNCTION } from './manifest';
import { providerRoleStore } from './provider-role';
import { DEFAULT_LIMITS, runSecurityLake } from './run';
import { readSecurityLakeSettings } from './settings';

/** No new batch starts in the last minute of the invocation: a batch reads, encodes and writes in less. */
const LAST_BATCH_MARGIN_MS = 60_000;

const settings = readSecurityLakeSettings(process.env);
metrics.setDefaultDimensions({ [METRIC_DIMENSIONS.collector]: SECURITY_LAKE_FUNCTION });

/**
 * The scheduled Security Lake writer: the curated records each enabled class has not written yet,
 * as OCSF Parquet, into its custom source (README "Amazon Security Lake").
 */
export const handler = middy<unknown, unknown>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (_event, context, { signal }) => {
    const summaries = await runSecurityLake({
      archive: new S3Store(s3, settings.bucket, { signal }),
      destination: (name, source) => providerRoleStore(name, source, settings.target.region, signal),
      target: settings.target,
      subscription: settings.subscription,
      lookbackDays: settings.lookbackDays,
      limits: DEFAULT_LIMITS,
      logger: runLogger,
      deadline: Date.now() + context.getRemainingTimeInMillis() - LAST_BATCH_MARGIN_MS,
      maxBatchesPerClass: 20,
    });
    const all = Object.values(summaries);
    const total = (count: (summary: (typeof all)[number]) => number) =>
      all.reduce((sum, summary) => sum + count(summary), 0);
    metrics.addMetric(
      'SecurityLakeRecords',
      MetricUnit.Count,
      total((summary) => summary.records),
    );
    metrics.addMetric(
      'SecurityLakeFiles',
      MetricUnit.Count,
      total((summary) => summary.files.length),
    );
    metrics.addMetric(
      'SecurityLakeRejected',
      MetricUnit.Count,
      total((summary) => summary.rejected),
    );
    logger.info('Security Lake run finished', { summaries });
    return summaries;
  });
