import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/runtime/env';
import { readSdrReportsSettings } from '../../../functions/sdr-reports/config';

describe('readSdrReportsSettings', () => {
  it('has defaults of 200 per page, 20 downloads and 60 calls per run', () => {
    expect(readSdrReportsSettings({})).toEqual({ pageSize: 200, maxDownloadsPerRun: 20, maxCallsPerRun: 60 });
  });

  it('names the variable that is wrong', () => {
    expect(() => readSdrReportsSettings({ SDR_REPORTS_MAX_PER_RUN: '0' })).toThrow(ConfigError);
    expect(() => readSdrReportsSettings({ SDR_REPORTS_MAX_PER_RUN: '0' })).toThrow(
      /^SDR_REPORTS_MAX_PER_RUN/,
    );
    expect(() => readSdrReportsSettings({ SDR_PAGE_SIZE: '500' })).toThrow(
      /^SDR_PAGE_SIZE must be a whole number from 1 to 200/,
    );
    expect(() => readSdrReportsSettings({ SDR_MAX_CALLS_PER_RUN: 'lots' })).toThrow(/^SDR_MAX_CALLS_PER_RUN/);
  });
});
