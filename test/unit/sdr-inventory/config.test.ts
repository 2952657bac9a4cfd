import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/runtime/env';
import { readSdrInventorySettings } from '../../../functions/sdr-inventory/config';

describe('readSdrInventorySettings', () => {
  it('defaults to the largest page and 150 calls per run', () => {
    expect(readSdrInventorySettings({})).toEqual({ pageSize: 200, maxCallsPerRun: 150 });
  });

  it('reads SDR_PAGE_SIZE and SDR_MAX_CALLS_PER_RUN', () => {
    expect(readSdrInventorySettings({ SDR_PAGE_SIZE: '50', SDR_MAX_CALLS_PER_RUN: '20' })).toEqual({
      pageSize: 50,
      maxCallsPerRun: 20,
    });
  });

  it.each([
    [{ SDR_PAGE_SIZE: '201' }, 'SDR_PAGE_SIZE must be a whole number from 1 to 200, got "201"'],
    [{ SDR_PAGE_SIZE: '0' }, 'SDR_PAGE_SIZE'],
    [{ SDR_MAX_CALLS_PER_RUN: '0' }, 'SDR_MAX_CALLS_PER_RUN must be a whole number from 1'],
    [{ SDR_MAX_CALLS_PER_RUN: 'lots' }, 'SDR_MAX_CALLS_PER_RUN'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => readSdrInventorySettings(env)).toThrow(ConfigError);
    expect(() => readSdrInventorySettings(env)).toThrow(message);
  });
});
