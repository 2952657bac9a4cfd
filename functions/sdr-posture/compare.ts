import { alertsAt } from '../core/severity';
import type { ControlObservation, OpenFailure, PairObservation, RecoveredFailure } from './model';

/** SDR_POSTURE_MIN_CRITICALITY as a test; an unknown criticality always meets it. */
export const criticalityAtLeast =
  (minCriticality: number) =>
  (criticality: string | null): boolean =>
    alertsAt(criticality, minCriticality);

/**
 * Compares one complete read of a (connector, policy) pair with the open failures.
 * - A failing resource not yet open opens a failure; it is alerted when its criticality is at or
 *   above `meetsThreshold` (an open, unalerted failure is alerted once its criticality rises).
 * - An open failure of this pair that the read shows passing, or no longer lists (when the read is
 *   complete), is closed for this policy; once no policy sees it failing, it has recovered.
 * - Error and unknown results change nothing: the evaluation did not say.
 * Failures of other connectors or policies are left as they are.
 */
export function comparePair(
  failures: Readonly<Record<string, OpenFailure>>,
  pair: { connectorId: string | number; policyId: string | number; policyName: string },
  observed: PairObservation,
  pollId: string,
  meetsThreshold: (criticality: string | null) => boolean,
): { failures: Record<string, OpenFailure>; failed: ControlObservation[]; recovered: RecoveredFailure[] } {
  const next: Record<string, OpenFailure> = { ...failures };
  const failed: ControlObservation[] = [];
  const recovered: RecoveredFailure[] = [];
  const policyId = String(pair.policyId);
  for (const [key, seen] of Object.entries(observed.failing)) {
    const { policyId: _policyId, policyName, result: _result, pollId: _pollId, ...detail } = seen;
    const open = failures[key];
    const alert = !open?.alerted && meetsThreshold(seen.criticality);
    if (alert) failed.push(seen);
    next[key] = {
      ...detail,
      policies: { ...open?.policies, [policyId]: policyName },
      alerted: (open?.alerted ?? false) || alert,
      firstFailedPollId: open?.firstFailedPollId ?? pollId,
      lastFailedPollId: pollId,
    };
  }
  for (const [key, open] of Object.entries(failures)) {
    if (String(open.connectorId) !== String(pair.connectorId) || !(policyId in open.policies)) continue;
    if (key in observed.failing) continue;
    const seen = observed.cleared[key];
    if (seen && seen.result !== 'Pass') continue;
    if (!seen && observed.incomplete) continue;
    const { [policyId]: _closed, ...policies } = open.policies;
    if (Object.keys(policies).length > 0) {
      next[key] = { ...open, policies };
      continue;
    }
    delete next[key];
    if (!open.alerted) continue;
    recovered.push(
      seen
        ? {
            ...open,
            evidence: seen.evidence,
            lastEvaluatedDate: seen.lastEvaluatedDate,
            rawKey: seen.rawKey,
            curatedKey: seen.curatedKey,
            recoveredBy: 'Pass',
          }
        : { ...open, evidence: [], recoveredBy: 'absent' },
    );
  }
  return { failures: next, failed, recovered };
}
