import { describe, expect, it } from 'vitest';
import { evidenceSentence, evidenceSentences } from '../../../functions/sdr-posture/evidence';

const resource = 'QualysSSCMSDev.com';
const item = (
  evidenceFail: string | null,
  evidenceSuccess: string | null = 'null',
  evidenceKey: string | null = 'DKIM Signing is enabled',
) => ({
  evidenceKey,
  evidenceFail,
  evidenceSuccess,
});

describe('evidence sentences', () => {
  it('turns the sample\'s "false" into what fails and what passing needs', () => {
    expect(evidenceSentence(item('false'), 'failed', resource)).toBe(
      '"DKIM Signing is enabled" is false for QualysSSCMSDev.com; the control passes when it is true.',
    );
    expect(evidenceSentence(item('null', 'true'), 'recovered', resource)).toBe(
      '"DKIM Signing is enabled" is now true for QualysSSCMSDev.com.',
    );
  });

  it('says an empty list found none, and names the entries of a list by Name or Id', () => {
    expect(
      evidenceSentence(item('[]', 'null', 'List of Safe Attachments policies'), 'failed', resource),
    ).toBe(
      '"List of Safe Attachments policies": Qualys found none for QualysSSCMSDev.com; the control passes once there is at least one.',
    );
    const list = JSON.stringify([
      { Id: 'Built-In Protection Policy', Name: 'Built-In Protection Policy', Enable: true },
      { Id: 'tr', Enable: false },
    ]);
    expect(evidenceSentence(item(list), 'failed', resource)).toBe(
      '"DKIM Signing is enabled" for QualysSSCMSDev.com lists 2 entries (Built-In Protection Policy, tr), which the control does not accept.',
    );
  });

  it('quotes another value, clipped, and says when Qualys gave none', () => {
    expect(evidenceSentence(item('forwarding to x@example.com'), 'failed', resource)).toBe(
      '"DKIM Signing is enabled" for QualysSSCMSDev.com is "forwarding to x@example.com", which the control does not accept.',
    );
    expect(evidenceSentence(item('y'.repeat(1000)), 'failed', resource).length).toBeLessThan(400);
    expect(evidenceSentence(item('null', 'null', null), 'failed', resource)).toBe(
      'The check: Qualys reported no value for QualysSSCMSDev.com.',
    );
    expect(evidenceSentences([], 'failed', resource)).toEqual([
      'Qualys reported no evidence for QualysSSCMSDev.com.',
    ]);
  });
});
