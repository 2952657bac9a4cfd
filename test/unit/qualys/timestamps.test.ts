import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CdrFindingSchema } from '../../../functions/qualys/schemas';
import { parseInstant } from '../../../functions/qualys/timestamps';
import { describeIssues } from '../../../functions/qualys/validation';

describe('parseInstant: ISO-8601 date-times with a zone only', () => {
  it.each([
    ['2025-05-09T20:00:42.000+00:00', '2025-05-09T20:00:42.000Z'],
    ['2025-05-09T20:00:42Z', '2025-05-09T20:00:42.000Z'],
    ['2025-05-09T20:00Z', '2025-05-09T20:00:00.000Z'],
    ['2025-05-09T20:00:42.123456Z', '2025-05-09T20:00:42.123Z'],
    ['2025-05-09T22:00:42.5+02:00', '2025-05-09T20:00:42.500Z'],
    ['2025-05-09T14:30:42-05:30', '2025-05-09T20:00:42.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T23:59:59.999Z', '2000-02-29T23:59:59.999Z'],
    ['0099-12-31T23:59:59Z', '0099-12-31T23:59:59.000Z'],
    // Year 0 is a leap year (proleptic Gregorian, as Date.parse reads it), not 1900.
    ['0000-02-29T12:00:00Z', '0000-02-29T12:00:00.000Z'],
    ['0001-01-01T00:00:00+01:00', '0000-12-31T23:00:00.000Z'],
    ['9999-12-31T23:59:59.9Z', '9999-12-31T23:59:59.900Z'],
  ])('reads %j as %s', (text, iso) => {
    expect(parseInstant(text)).toBe(Date.parse(iso));
  });

  it.each([
    '1',
    '2025',
    '2025-05-09',
    'May 9',
    'May 9, 2025 20:00:42 GMT',
    '2025-05-09T20:00:42',
    '2025-05-09 20:00:42Z',
    '2025-05-09T20:00:42+0000',
    '2025-02-30T00:00:00Z',
    '2025-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2025-04-31T00:00:00Z',
    '2025-05-09T24:00:00Z',
    '2025-05-09T20:60:00Z',
    '2025-13-01T00:00:00Z',
    ' 2025-05-09T20:00:42Z',
    '',
  ])('refuses %j (Date.parse would read some of these)', (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });

  it('refuses what is not a string', () => {
    for (const value of [null, undefined, 1746820842000, {}]) expect(parseInstant(value)).toBeUndefined();
  });

  it('makes a CDR finding with a timestamp without a zone a rejected item, naming the field', () => {
    const result = v.safeParse(CdrFindingSchema, { uuid: 'u', timestamp: '2025-05-09T20:00:42' });
    expect(result.success).toBe(false);
    expect(describeIssues(result.issues ?? [])).toBe(
      'timestamp: must be an ISO-8601 date-time with a zone (Z or ±hh:mm)',
    );
    expect(v.safeParse(CdrFindingSchema, { uuid: 'u', timestamp: '2025-05-09T20:00:42Z' }).success).toBe(
      true,
    );
  });
});
