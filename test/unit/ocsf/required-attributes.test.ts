import { describe, expect, it } from 'vitest';
import { cdrDetectionFinding } from '../../../functions/ocsf/detection-finding';
import { REQUIRED, requirementProblems } from './required-attributes';
import { cdrFinding } from './samples';

describe('requirementProblems', () => {
  it('reports a missing required attribute, a wrong type, an id outside the enum and a wrong type_uid', () => {
    const event = cdrDetectionFinding(cdrFinding()) as unknown as Record<string, unknown>;
    const broken = {
      ...event,
      finding_info: { uid: 'u' },
      time: 1_746_820_842, // seconds, not milliseconds
      severity_id: 7,
      type_uid: 200402,
    };

    expect(requirementProblems(broken, REQUIRED.detectionFinding)).toEqual([
      'severity_id 7 is not one of 0,1,2,3,4,5,6,99',
      'time is 1746820842, not timestamp',
      'finding_info.title is missing',
      'type_uid 200402 is not class_uid * 100 + activity_id',
    ]);
  });

  it('checks the enums of optional attributes when present', () => {
    const event = { ...cdrDetectionFinding(cdrFinding()), status_id: 9 };

    expect(requirementProblems(event, REQUIRED.detectionFinding)).toEqual([
      'status_id 9 is not one of 0,1,2,3,4,99',
    ]);
  });
});
