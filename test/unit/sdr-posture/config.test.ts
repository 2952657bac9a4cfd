import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/runtime/env';
import { readSdrPostureSettings } from '../../../functions/sdr-posture/config';

describe('sdr-posture configuration', () => {
  it('has defaults for everything', () => {
    expect(readSdrPostureSettings({})).toEqual({
      pageSize: 200,
      maxCallsPerRun: 100,
      evaluations: ['Pass', 'Fail', 'Error'],
      notifyRecovery: true,
      baselineSummary: true,
      minCriticality: 1,
      maxAlertsPerRun: 50,
    });
  });

  it('reads each variable', () => {
    expect(
      readSdrPostureSettings({
        SDR_PAGE_SIZE: '50',
        SDR_MAX_CALLS_PER_RUN: '20',
        SDR_POSTURE_EVALUATIONS: ' fail , ERROR,Fail',
        SDR_POSTURE_NOTIFY_RECOVERY: 'false',
        SDR_POSTURE_BASELINE_SUMMARY: 'false',
        SDR_POSTURE_MIN_CRITICALITY: 'High',
        ALERT_MAX_PER_RUN: '10',
      }),
    ).toEqual({
      pageSize: 50,
      maxCallsPerRun: 20,
      evaluations: ['Fail', 'Error'],
      notifyRecovery: false,
      baselineSummary: false,
      minCriticality: 3,
      maxAlertsPerRun: 10,
    });
  });

  it.each([
    [
      'SDR_POSTURE_EVALUATIONS',
      'Pass,Error',
      /SDR_POSTURE_EVALUATIONS must be .*includes Fail, got "Pass,Error"/,
    ],
    ['SDR_POSTURE_EVALUATIONS', 'Pass,Failed', /SDR_POSTURE_EVALUATIONS/],
    ['SDR_POSTURE_NOTIFY_RECOVERY', 'maybe', /SDR_POSTURE_NOTIFY_RECOVERY must be true or false/],
    ['SDR_POSTURE_BASELINE_SUMMARY', 'maybe', /SDR_POSTURE_BASELINE_SUMMARY must be true or false/],
    [
      'SDR_POSTURE_MIN_CRITICALITY',
      'Severe',
      /SDR_POSTURE_MIN_CRITICALITY must be Low, Medium, High, Critical/,
    ],
    ['SDR_PAGE_SIZE', '500', /SDR_PAGE_SIZE must be a whole number from 1 to 200/],
    ['SDR_MAX_CALLS_PER_RUN', '0', /SDR_MAX_CALLS_PER_RUN must be a whole number/],
  ])('names %s when its value %s is wrong', (name, value, message) => {
    expect(() => readSdrPostureSettings({ [name]: value })).toThrow(ConfigError);
    expect(() => readSdrPostureSettings({ [name]: value })).toThrow(message);
  });
});
