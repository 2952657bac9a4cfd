import { describe, expect, it } from 'vitest';
import { type CuratedPostureRow, postureComplianceFinding } from '../../../functions/ocsf/compliance-finding';
import { OcsfMappingError } from '../../../functions/ocsf/fields';
import { REQUIRED, requirementProblems } from './required-attributes';
import { curatedPostureRows, INGESTED_AT } from './samples';

/** The sample's first row: control 70116 failing on QualysSSCMSDev.mail.onmicrosoft.com. */
const failingRow = (changes: Record<string, unknown> = {}): CuratedPostureRow => ({
  ...(curatedPostureRows()[0] as CuratedPostureRow),
  ...changes,
});

describe('postureComplianceFinding', () => {
  it('turns each row of the vendor sample into a Compliance Finding with every required attribute', () => {
    const events = curatedPostureRows().map(postureComplianceFinding);

    expect(events).toHaveLength(4);
    for (const event of events) expect(requirementProblems(event, REQUIRED.complianceFinding)).toEqual([]);
    expect(
      events.map((event) => [event.compliance.control, event.resource?.uid, event.compliance.status]),
    ).toEqual([
      ['70116', 'QualysSSCMSDev.mail.onmicrosoft.com', 'Fail'],
      ['70116', 'QualysSSCMSDev.com', 'Fail'],
      ['70116', 'QualysSSCMSDev.onmicrosoft.com', 'Pass'],
      ['70113', '64837187-a312-4982-92eb-64049df4ad12', 'Pass'],
    ]);
  });

  it('puts the control, policy, result, times, connector and product where README says', () => {
    const event = postureComplianceFinding(failingRow());

    expect(event).toMatchObject({
      class_uid: 2003,
      class_name: 'Compliance Finding',
      category_uid: 2,
      activity_id: 1,
      type_uid: 200301,
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      status: 'New',
      time: Date.UTC(2023, 8, 10, 7, 2, 3),
      timezone_offset: 0,
      finding_info: {
        uid: '6748/61/70116/QualysSSCMSDev.mail.onmicrosoft.com',
        title: 'Ensure that DKIM is enabled for all Exchange Online Domains',
        first_seen_time: Date.UTC(2023, 7, 15, 4, 42, 49),
        last_seen_time: Date.UTC(2023, 8, 10, 7, 2, 3),
      },
      compliance: {
        standards: ['CIS Microsoft 365 Foundations Benchmark, v1.4.0'],
        control: '70116',
        status_id: 3,
        status: 'Fail',
        status_code: 'Fail',
      },
      resource: { uid: 'QualysSSCMSDev.mail.onmicrosoft.com' },
      cloud: { provider: 'OFFICE365', account: { uid: '64837187-a312-4982-92eb-64049df4ad12' } },
      metadata: {
        version: '1.1.0',
        product: { name: 'Qualys SaaSDR', vendor_name: 'Qualys' },
        uid: '6748/61/70116/QualysSSCMSDev.mail.onmicrosoft.com@20250510T000000.000Z',
        original_time: '2023-09-10T07:02:03Z',
        logged_time: Date.parse(INGESTED_AT),
        log_name: 'sdr_posture',
      },
    });
  });

  it('keeps the finding uid from poll to poll and makes the event uid unique per poll', () => {
    const [first] = curatedPostureRows('20250510T000000.000Z').map(postureComplianceFinding);
    const [next] = curatedPostureRows('20250510T060000.000Z').map(postureComplianceFinding);

    expect(next?.finding_info.uid).toBe(first?.finding_info.uid);
    expect(next?.metadata.uid).not.toBe(first?.metadata.uid);
  });

  it('resolves the finding of a passing check (compliance Pass, status Resolved)', () => {
    const passing = curatedPostureRows()[2] as CuratedPostureRow;
    const event = postureComplianceFinding(passing);

    expect([event.compliance.status_id, event.status_id, event.status]).toEqual([1, 4, 'Resolved']);
  });

  it("keeps the evidence and the API's other fields in unmapped, as text", () => {
    const event = postureComplianceFinding(failingRow());

    expect(event.unmapped).toEqual({
      isRemediable: 'No',
      connectorId: '6748',
      connectorName: 'ofc default redis test',
      controlEvaluationStatus: 'Fail',
      evidenceDetails: JSON.stringify([
        { evidenceKey: 'DKIM Signing is enabled', evidenceSuccess: 'null', evidenceFail: 'false' },
      ]),
      lake_run_id: '20250510T000000.000Z',
      lake_raw_key: 'raw/sdr-posture/page.json.gz',
      lake_connector_id: '6748',
      lake_policy_id: '61',
      lake_page: '1',
    });
  });

  it.each([
    ['Low', 2],
    ['Medium', 3],
    ['HIGH', 4],
    ['Critical', 5],
    [null, 0],
  ])('maps criticality %j to severity_id %i', (criticality, id) => {
    expect(postureComplianceFinding(failingRow({ criticality })).severity_id).toBe(id);
  });

  it('maps Error to compliance Warning, and keeps a result it cannot read in unmapped', () => {
    const error = postureComplianceFinding(failingRow({ resourceEvaluationResult: 'Error' }));
    const odd = postureComplianceFinding(failingRow({ resourceEvaluationResult: 'Skipped' }));

    expect([error.compliance.status_id, error.compliance.status, error.status_id]).toEqual([2, 'Warning', 1]);
    expect([odd.compliance.status_id, odd.compliance.status]).toEqual([0, 'Unknown']);
    expect(odd.unmapped.resourceEvaluationResult).toBe('Skipped');
  });

  it("takes a control's own status when it has no resources, and leaves resource out", () => {
    const event = postureComplianceFinding(
      failingRow({ resourceId: null, resourceEvaluationResult: null, controlEvaluationStatus: 'Error' }),
    );

    expect(event.finding_info.uid).toBe('6748/61/70116/-');
    expect(event.resource).toBeUndefined();
    expect(event.compliance).toMatchObject({ status_id: 2, status_code: 'Error' });
    expect(requirementProblems(event, REQUIRED.complianceFinding)).toEqual([]);
  });

  it('dates a row without lastEvaluatedDate by when the lake wrote it', () => {
    const event = postureComplianceFinding(failingRow({ lastEvaluatedDate: null }));

    expect(event.time).toBe(Date.parse(INGESTED_AT));
    expect(event.finding_info).not.toHaveProperty('last_seen_time');
  });

  it('names the row when it has no time at all', () => {
    expect(() =>
      postureComplianceFinding(failingRow({ lastEvaluatedDate: 'soon', lake_ingested_at: 'now' })),
    ).toThrow(OcsfMappingError);
  });
});
