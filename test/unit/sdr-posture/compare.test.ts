import { describe, expect, it } from 'vitest';
import { severityLevel } from '../../../functions/core/severity';
import { comparePair, criticalityAtLeast } from '../../../functions/sdr-posture/compare';
import {
  type ControlObservation,
  emptyObservation,
  type OpenFailure,
  type PairObservation,
} from '../../../functions/sdr-posture/model';

const O365 = { connectorId: 2245, connectorType: 'OFFICE365', connectorName: 'O365 p01' };
const CIS = { policyId: 71, policyName: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0' };
const BEST = { policyId: 72, policyName: 'Microsoft Office 365 Best Practices' };
const all = () => true;

function seen(
  cid: string,
  resourceId: string,
  result: ControlObservation['result'],
  policy = CIS,
  extra: Partial<ControlObservation> = {},
): ControlObservation {
  return {
    alertKey: `${O365.connectorId}:${cid}:${resourceId}`,
    pollId: '20250510T000000Z',
    ...O365,
    ...policy,
    cid,
    controlName: `Control ${cid}`,
    criticality: 'High',
    isRemediable: 'No',
    lastEvaluatedDate: '2025-05-09T10:00:00Z',
    resourceId,
    result,
    evidence: [{ evidenceKey: 'DKIM Signing is enabled', evidenceSuccess: 'null', evidenceFail: 'false' }],
    rawKey: 'raw/x',
    curatedKey: 'curated/x',
    ...extra,
  };
}

function observation(items: ControlObservation[], incomplete = false): PairObservation {
  const observed = emptyObservation();
  for (const item of items) {
    if (item.result === 'Fail') observed.failing[item.alertKey] = item;
    else observed.cleared[item.alertKey] = item;
  }
  observed.incomplete = incomplete;
  return observed;
}

/** Runs the comparison of one pair's read, from `failures`. */
const compare = (
  failures: Record<string, OpenFailure>,
  items: ControlObservation[],
  options: { policy?: typeof CIS; incomplete?: boolean; meets?: (c: string | null) => boolean } = {},
) =>
  comparePair(
    failures,
    { connectorId: O365.connectorId, ...(options.policy ?? CIS) },
    observation(items, options.incomplete),
    'poll-2',
    options.meets ?? all,
  );

describe('comparePair: failures are alerted once and recoveries once', () => {
  it('opens and alerts every failing resource of a first read, and ignores passing ones', () => {
    const result = compare({}, [
      seen('70116', 'a.com', 'Fail'),
      seen('70116', 'b.com', 'Pass'),
      seen('70113', 't', 'Error'),
    ]);

    expect(result.failed.map((item) => item.alertKey)).toEqual(['2245:70116:a.com']);
    expect(Object.keys(result.failures)).toEqual(['2245:70116:a.com']);
    expect(result.failures['2245:70116:a.com']).toMatchObject({
      policies: { '71': CIS.policyName },
      alerted: true,
      firstFailedPollId: 'poll-2',
      lastFailedPollId: 'poll-2',
      resourceId: 'a.com',
    });
    expect(result.recovered).toEqual([]);
  });

  it('does not alert an unchanged failure again on the next poll', () => {
    const first = compare({}, [seen('70116', 'a.com', 'Fail')]);
    const second = compare(first.failures, [seen('70116', 'a.com', 'Fail')]);

    expect(second.failed).toEqual([]);
    expect(second.recovered).toEqual([]);
    expect(second.failures['2245:70116:a.com']?.alerted).toBe(true);
  });

  it('alerts a new resource failing a control that already fails elsewhere', () => {
    const first = compare({}, [seen('70116', 'a.com', 'Fail'), seen('70116', 'b.com', 'Pass')]);
    const second = compare(first.failures, [seen('70116', 'a.com', 'Fail'), seen('70116', 'b.com', 'Fail')]);

    expect(second.failed.map((item) => item.alertKey)).toEqual(['2245:70116:b.com']);
  });

  it('reports a recovery when a failing resource passes, with the passing evidence', () => {
    const first = compare({}, [seen('70116', 'a.com', 'Fail')]);
    const pass = seen('70116', 'a.com', 'Pass', CIS, {
      evidence: [{ evidenceKey: 'DKIM Signing is enabled', evidenceSuccess: 'true', evidenceFail: 'null' }],
    });
    const second = compare(first.failures, [pass]);

    expect(second.failures).toEqual({});
    expect(second.recovered).toHaveLength(1);
    expect(second.recovered[0]).toMatchObject({ alertKey: '2245:70116:a.com', recoveredBy: 'Pass' });
    expect(second.recovered[0]?.evidence[0]?.evidenceSuccess).toBe('true');
  });

  it('treats a failure a complete read no longer lists as recovered, but not when the read was incomplete', () => {
    const first = compare({}, [seen('70116', 'a.com', 'Fail')]);

    const incomplete = compare(first.failures, [], { incomplete: true });
    expect(incomplete.recovered).toEqual([]);
    expect(Object.keys(incomplete.failures)).toEqual(['2245:70116:a.com']);

    const complete = compare(first.failures, []);
    expect(complete.recovered.map((item) => [item.alertKey, item.recoveredBy])).toEqual([
      ['2245:70116:a.com', 'absent'],
    ]);
  });

  it('keeps a failure whose resource now evaluates to Error (the evaluation did not say)', () => {
    const first = compare({}, [seen('70116', 'a.com', 'Fail')]);
    const second = compare(first.failures, [seen('70116', 'a.com', 'Error')]);

    expect(second.recovered).toEqual([]);
    expect(second.failures).toEqual(first.failures);
  });

  it('alerts a control shared by two policies once, and recovers it once both policies see it pass', () => {
    const viaCis = compare({}, [seen('70101', 'tenant', 'Fail')]);
    const viaBest = compare(viaCis.failures, [seen('70101', 'tenant', 'Fail', BEST)], { policy: BEST });
    expect(viaBest.failed).toEqual([]);
    expect(viaBest.failures['2245:70101:tenant']?.policies).toEqual({
      '71': CIS.policyName,
      '72': BEST.policyName,
    });

    const passCis = compare(viaBest.failures, [seen('70101', 'tenant', 'Pass')]);
    expect(passCis.recovered).toEqual([]);
    expect(passCis.failures['2245:70101:tenant']?.policies).toEqual({ '72': BEST.policyName });

    const passBest = compare(passCis.failures, [seen('70101', 'tenant', 'Pass', BEST)], { policy: BEST });
    expect(passBest.recovered.map((item) => item.alertKey)).toEqual(['2245:70101:tenant']);
    expect(passBest.failures).toEqual({});
  });

  it('leaves failures of other connectors and other policies as they are', () => {
    const other: OpenFailure = {
      ...seen('70201', '/Sales', 'Fail'),
      alertKey: '2193:70201:/Sales',
      connectorId: 2193,
      connectorType: 'GSUITE',
      policies: { '81': 'Google Workspace Best Practices' },
      alerted: true,
      firstFailedPollId: 'poll-1',
      lastFailedPollId: 'poll-1',
    };
    const otherPolicy = compare({}, [seen('70102', 'tenant', 'Fail', BEST)], { policy: BEST }).failures;
    const failures = { [other.alertKey]: other, ...otherPolicy };

    const result = compare(failures, []);
    expect(result.recovered).toEqual([]);
    expect(result.failures).toEqual(failures);
  });

  it('tracks failures below SDR_POSTURE_MIN_CRITICALITY without alerting, and alerts when the criticality rises', () => {
    const highOrAbove = (criticality: string | null) => (severityLevel(criticality) ?? 99) >= 3;
    const low = seen('70116', 'a.com', 'Fail', CIS, { criticality: 'Low' });
    const first = compare({}, [low], { meets: highOrAbove });
    expect(first.failed).toEqual([]);
    expect(first.failures['2245:70116:a.com']?.alerted).toBe(false);

    // It recovers without a notice: none was alerted.
    expect(compare(first.failures, [], { meets: highOrAbove }).recovered).toEqual([]);

    const raised = compare(first.failures, [{ ...low, criticality: 'Critical' }], { meets: highOrAbove });
    expect(raised.failed.map((item) => item.criticality)).toEqual(['Critical']);
    expect(raised.failures['2245:70116:a.com']?.alerted).toBe(true);
  });

  it('keys failures by the raw resource id, path characters included', () => {
    const site = 'https://qualyssscmsdev.sharepoint.com/sites/Finance/../HR';
    const result = compare({}, [seen('70121', site, 'Fail')]);
    expect(Object.keys(result.failures)).toEqual([`2245:70121:${site}`]);
  });

  it('meets SDR_POSTURE_MIN_CRITICALITY at or above it, and always for an unknown criticality', () => {
    const high = criticalityAtLeast(3);
    expect(['Low', 'Medium', 'High', 'Critical', null, 'Severe'].map(high)).toEqual([
      false,
      false,
      true,
      true,
      true,
      true,
    ]);
  });
});
