import { snsAlertsOnDemand } from '../aws/sns-alerts-on-demand';
import { METRICS } from '../core/names';
import { collectorHandler } from '../runtime/handler';
import { runCdrFindings } from './collector';
import { readCdrFindingsSettings } from './config';
import { cdrFindingsManifest } from './manifest';
import { parseRequest } from './request';

export const handler = collectorHandler({
  manifest: cdrFindingsManifest,
  alerts: snsAlertsOnDemand,
  settings: readCdrFindingsSettings,
  run: (runtime, event, call) => runCdrFindings(runtime, parseRequest(event), call),
  metrics: (summary) => ({
    Pages: summary.pages,
    Findings: summary.findings,
    NewFindings: summary.newFindings,
    LateFindings: summary.lateFindings,
    RejectedFindings: summary.rejected,
    AlertsPublished: summary.alertsPublished,
    DigestsPublished: summary.digestsPublished,
  }),
  alarmMetrics: (summary) => ({ [METRICS.alertsRejected]: summary.alertsRejected }),
  finished: 'CDR run finished',
});
