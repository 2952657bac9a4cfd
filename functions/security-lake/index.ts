import { s3 } from '../aws/s3-client';
import { S3Store } from '../aws/s3-store';
import { METRIC_DIMENSIONS } from '../core/names';
import { lambda, recordMetrics } from '../runtime/lambda';
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
export const handler = lambda(async (_event: unknown, context, signal) => {
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
  recordMetrics({
    SecurityLakeRecords: total((summary) => summary.records),
    SecurityLakeFiles: total((summary) => summary.files.length),
    SecurityLakeRejected: total((summary) => summary.rejected),
  });
  logger.info('Security Lake run finished', { summaries });
  return summaries;
});
