import { runSdrInventory } from '../core/sdr-inventory';
import {
  deadlineOf,
  lambda,
  logger,
  qualysClientFor,
  readCommonConfig,
  recordMetrics,
  storeFor,
} from '../shared/runtime';
import { readInventoryConfig } from './config';

// Read and validated once per execution environment: a bad variable fails the first invocation.
const common = readCommonConfig(process.env);
const settings = readInventoryConfig(process.env);
const qualys = qualysClientFor(common);
const store = storeFor(common);

/** Any event (the schedule sends `{}`) starts a snapshot or continues the one in progress. */
export const handler = lambda(async (_event: unknown, context, signal) => {
  const summary = await runSdrInventory(
    { qualys, store, logger, settings },
    { deadline: deadlineOf(context), signal },
  );
  recordMetrics({
    Pages: summary.pages,
    Records: summary.records,
    ApiCalls: summary.apiCalls,
    SnapshotsStarted: summary.startedSnapshot ? 1 : 0,
    SnapshotsCompleted: summary.completedSnapshot ? 1 : 0,
    StoppedEarly: summary.stoppedEarly ? 1 : 0,
  });
  logger.info('SDR inventory run finished', { summary });
  return summary;
});
