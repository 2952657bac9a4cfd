import { describe, expect, it } from 'vitest';
import { DEFAULT_CDR_QUERY, readCdrFindingsSettings } from '../../../functions/cdr-findings/config';
import { ConfigError } from '../../../functions/runtime/env';

function configError(env: Record<string, string>): Error {
  try {
    readCdrFindingsSettings(env);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('readCdrFindingsSettings', () => {
  it('has working defaults for an empty environment', () => {
    expect(readCdrFindingsSettings({})).toEqual({
      query: DEFAULT_CDR_QUERY,
      pageSize: 1000,
      lagMinutes: 5,
      lookbackMinutes: 0,
      lateMinutes: 120,
      settlePageSize: 1000,
      reconcileDays: 2,
      initialLookbackHours: 24,
      maxWindowHours: 24,
      minSeverity: 3,
      maxAlertsPerRun: 50,
    });
  });

  it('reads every setting from its variable', () => {
    expect(
      readCdrFindingsSettings({
        CDR_QUERY: ' tc.findings.cloudProvider: AWS ',
        CDR_PAGE_SIZE: '250',
        CDR_LAG_MINUTES: '0',
        CDR_LOOKBACK_MINUTES: '60',
        CDR_LATE_MINUTES: '240',
        CDR_SETTLE_PAGE_SIZE: '500',
        CDR_RECONCILE_DAYS: '0',
        CDR_INITIAL_LOOKBACK_HOURS: '48',
        CDR_MAX_WINDOW_HOURS: '12',
        ALERT_MIN_SEVERITY: 'critical',
        ALERT_MAX_PER_RUN: '10',
      }),
    ).toEqual({
      query: 'tc.findings.cloudProvider: AWS',
      pageSize: 250,
      lagMinutes: 0,
      lookbackMinutes: 60,
      lateMinutes: 240,
      settlePageSize: 500,
      reconcileDays: 0,
      initialLookbackHours: 48,
      maxWindowHours: 12,
      minSeverity: 4,
      maxAlertsPerRun: 10,
    });
  });

  it.each([
    ['CDR_PAGE_SIZE', 'abc'],
    ['CDR_PAGE_SIZE', '0'],
    ['CDR_PAGE_SIZE', '12.5'],
    ['CDR_PAGE_SIZE', '100000'],
    ['CDR_LAG_MINUTES', '-5'],
    ['CDR_LOOKBACK_MINUTES', 'twelve hours'],
    ['CDR_LATE_MINUTES', '-1'],
    ['CDR_SETTLE_PAGE_SIZE', '1001'],
    ['CDR_RECONCILE_DAYS', '2.5'],
    ['CDR_INITIAL_LOOKBACK_HOURS', '0'],
    ['CDR_MAX_WINDOW_HOURS', '1000'],
    ['ALERT_MIN_SEVERITY', 'URGENT'],
    ['ALERT_MIN_SEVERITY', '-1'],
    ['ALERT_MAX_PER_RUN', '0'],
  ])('refuses %s=%j with an error naming the variable and the value', (name, value) => {
    const error = configError({ [name]: value });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(name);
    expect(error.message).toContain(value);
  });
});
