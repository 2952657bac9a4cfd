import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/runtime/env';
import { readSdrReportsSettings } from '../../../functions/sdr-reports/config';

describe('readSdrReportsSettings', () => {
  it('has defaults of 200 per page, 20 downloads and 60 calls per run, and reports up to 2 GiB', () => {
    expect(readSdrReportsSettings({})).toEqual({
      pageSize: 200,
      maxDownloadsPerRun: 20,
      maxCallsPerRun: 60,
      maxReportBytes: 2 * 1024 ** 3,
    });
  });

  it('reads SDR_REPORT_MAX_BYTES and refuses one below 1 MiB', () => {
    expect(readSdrReportsSettings({ SDR_REPORT_MAX_BYTES: '5242880' }).maxReportBytes).toBe(5_242_880);
    expect(() => readSdrReportsSettings({ SDR_REPORT_MAX_BYTES: '1000' })).toThrow(/^SDR_REPORT_MAX_BYTES/);
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
