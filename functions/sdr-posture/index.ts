import { runPostureCollector } from '../core/sdr-posture';
import {
  alertsFor,
  deadlineOf,
  lambda,
  logger,
  qualysClientFor,
  readCommonConfig,
  recordMetrics,
  storeFor,
} from '../shared/runtime';
import { readPostureConfig } from './config';

// Read and validated once per execution environment: a bad variable fails the first invocation.
const common = readCommonConfig(process.env);
const settings = { ...readPostureConfig(process.env), bucket: common.bucket };
const qualys = qualysClientFor(common);
const store = storeFor(common);
const alerts = alertsFor(process.env);

/** Any event (the schedule's) runs one step of the posture poll: continue the pending poll or start one. */
export const handler = lambda(async (_event: unknown, context, signal) => {
  const summary = await runPostureCollector(
    { qualys, store, alerts, logger, settings },
    { deadline: deadlineOf(context), signal },
  );
  recordMetrics({
    Pages: summary.pages,
    Controls: summary.controls,
    PostureRows: summary.rows,
    RejectedControls: summary.rejected,
    NewFailures: summary.newFailures,
    Recoveries: summary.recoveries,
    OpenFailures: summary.openFailures,
    AlertsPublished: summary.alertsPublished,
    DigestsPublished: summary.digestsPublished,
    ApiCalls: summary.apiCalls,
    StoppedEarly: summary.stoppedEarly ? 1 : 0,
    PollComplete: summary.pollComplete ? 1 : 0,
  });
  logger.info('SaaSDR posture run finished', { summary });
  return summary;
});
