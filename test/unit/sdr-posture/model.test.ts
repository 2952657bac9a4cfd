import { describe, expect, it } from 'vitest';
import { alertKeyOf, pollIdOf } from '../../../functions/sdr-posture/model';

describe('sdr-posture model helpers', () => {
  it('makes a poll id of the start time to the millisecond', () => {
    expect(pollIdOf('2025-05-10T00:00:00.123Z')).toBe('20250510T000000.123Z');
    expect(pollIdOf('2025-05-10T00:00:00Z')).toBe('20250510T000000.000Z');
  });

  it('keys an alert by the raw connector, control and resource ids', () => {
    expect(alertKeyOf(2245, '70121', 'https://x/../HR')).toBe('2245:70121:https://x/../HR');
    expect(alertKeyOf(2245, 70102, null)).toBe('2245:70102:');
    expect(alertKeyOf('2245', '70102', undefined)).toBe('2245:70102:');
  });
});
