import type { ControlObservation } from '../../functions/sdr-posture/model';

/** A resource failing a control in a posture poll (DKIM on an Office 365 domain), for alert tests. */
export function failingObservation(extra: Partial<ControlObservation> = {}): ControlObservation {
  return {
    alertKey: '2245:70116:QualysSSCMSDev.com',
    pollId: '20250510T000000Z',
    connectorId: 2245,
    connectorType: 'OFFICE365',
    connectorName: 'O365 p01',
    policyId: 71,
    policyName: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0',
    cid: '70116',
    controlName: 'Ensure that DKIM is enabled for all Exchange Online Domains',
    criticality: 'High',
    isRemediable: 'No',
    lastEvaluatedDate: '2023-09-10T07:02:03Z',
    resourceId: 'QualysSSCMSDev.com',
    result: 'Fail',
    evidence: [{ evidenceKey: 'DKIM Signing is enabled', evidenceSuccess: 'null', evidenceFail: 'false' }],
    rawKey: 'raw/sdr-posture/dt=2025-05-10/run=20250510T000000Z/connector=2245/policy=71/page=00001.json.gz',
    curatedKey:
      'curated/sdr_posture/dt=2025-05-10/20250510T000000Z-connector=2245-policy=71-page=00001.json.gz',
    ...extra,
  };
}
