import * as v from 'valibot';
import { type CdrRequest, runCdrCollector } from '../core/cdr-collector';
import { describeIssues } from '../qualys/client';
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
import { readCdrConfig } from './config';

// Read and validated once per execution environment: a bad variable fails the first invocation.
const common = readCommonConfig(process.env);
const settings = { ...readCdrConfig(process.env), bucket: common.bucket };
const qualys = qualysClientFor(common);
const store = storeFor(common);
const alerts = alertsFor(process.env);

const IsoDate = v.pipe(
  v.string(),
  v.isoTimestamp('must be an ISO-8601 timestamp such as 2025-05-01T00:00:00Z'),
);
const WindowEvent = v.pipe(
  v.object({ startAt: IsoDate, endAt: IsoDate, alerts: v.optional(v.boolean(), true) }),
  v.check((event) => Date.parse(event.startAt) < Date.parse(event.endAt), 'startAt must be before endAt'),
);

/** `{}` or any scheduled event runs incrementally; `{startAt, endAt}` runs that window only. */
export function parseRequest(event: unknown): CdrRequest {
  if (!event || typeof event !== 'object' || !('startAt' in event || 'endAt' in event))
    return { kind: 'incremental' };
  const result = v.safeParse(WindowEvent, event);
  if (!result.success) throw new Error(`invalid window event: ${describeIssues(result.issues)}`);
  const { startAt, endAt, alerts: sendAlerts } = result.output;
  return {
    kind: 'window',
    window: { startAt: new Date(startAt).toISOString(), endAt: new Date(endAt).toISOString() },
    alerts: sendAlerts,
  };
}

export const handler = lambda(async (event: unknown, context, signal) => {
  const summary = await runCdrCollector({ qualys, store, alerts, logger, settings }, parseRequest(event), {
    deadline: deadlineOf(context),
    signal,
  });
  recordMetrics({
    Pages: summary.pages,
    Findings: summary.findings,
    NewFindings: summary.newFindings,
    RejectedFindings: summary.rejected,
    AlertsPublished: summary.alertsPublished,
    DigestsPublished: summary.digestsPublished,
    ApiCalls: summary.apiCalls,
    StoppedEarly: summary.stoppedEarly ? 1 : 0,
  });
  logger.info('CDR run finished', { summary: { ...summary, checkpoint: undefined } });
  return summary;
});
