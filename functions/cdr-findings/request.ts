import * as v from 'valibot';
import type { Window } from '../core/checkpoint';
import { describeIssues } from '../qualys/validation';

/** The scheduled event runs incrementally; `{startAt, endAt}` runs one explicit window. */
export type CdrFindingsRequest =
  | { kind: 'incremental' }
  | { kind: 'window'; window: Window; alerts: boolean };

const IsoDate = v.pipe(
  v.string(),
  v.isoTimestamp('must be an ISO-8601 timestamp such as 2025-05-01T00:00:00Z'),
);
const WindowEvent = v.pipe(
  v.object({ startAt: IsoDate, endAt: IsoDate, alerts: v.optional(v.boolean(), true) }),
  v.check((event) => Date.parse(event.startAt) < Date.parse(event.endAt), 'startAt must be before endAt'),
);

/** `{}` or any scheduled event runs incrementally; `{startAt, endAt}` runs that window only. */
export function parseRequest(event: unknown): CdrFindingsRequest {
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
