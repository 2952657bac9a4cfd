import { runCdrCollector } from '../core/cdr-collector';
import { collectorHandler } from '../runtime/handler';
import { readCdrConfig } from './config';
import { cdrFindingsManifest } from './manifest';
import { parseRequest } from './request';

export const handler = collectorHandler({
  manifest: cdrFindingsManifest,
  settings: readCdrConfig,
  run: (runtime, event, call) => runCdrCollector(runtime, parseRequest(event), call),
  metrics: (summary) => ({
    Pages: summary.pages,
    Findings: summary.findings,
    NewFindings: summary.newFindings,
    RejectedFindings: summary.rejected,
    AlertsPublished: summary.alertsPublished,
    DigestsPublished: summary.digestsPublished,
    ApiCalls: summary.apiCalls,
    StoppedEarly: summary.stoppedEarly ? 1 : 0,
  }),
  finished: 'CDR run finished',
});
