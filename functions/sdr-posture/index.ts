import { snsAlertsOnDemand } from '../aws/sns-alerts-on-demand';
import { METRICS } from '../core/names';
import { collectorHandler } from '../runtime/handler';
import { runSdrPosture } from './collector';
import { readSdrPostureSettings } from './config';
import { sdrPostureManifest } from './manifest';

/** Any event (the schedule's) runs one step of the posture poll: continue the pending poll or start one. */
export const handler = collectorHandler({
  manifest: sdrPostureManifest,
  alerts: snsAlertsOnDemand,
  settings: readSdrPostureSettings,
  run: (runtime, _event, call) => runSdrPosture(runtime, call),
  metrics: (summary) => ({
    Pages: summary.pages,
    Controls: summary.controls,
    PostureRows: summary.rows,
    RejectedControls: summary.rejected,
    NewFailures: summary.newFailures,
    Recoveries: summary.recoveries,
    OpenFailures: summary.openFailures,
    AlertsPublished: summary.alertsPublished,
    DigestsPublished: summary.digestsPublished,
    PollComplete: summary.pollComplete ? 1 : 0,
  }),
  alarmMetrics: (summary) => ({ [METRICS.alertsRejected]: summary.alertsRejected }),
  finished: 'SaaSDR posture run finished',
});
