import { describe, expect, it } from 'vitest';
import { UnsafePathSegmentError } from '../../../functions/qualys/errors';
import { pathSegment, pathSegmentProblem } from '../../../functions/qualys/path-segment';
import { SDR_PATHS } from '../../../functions/qualys/sdr';

describe('path segments from API data', () => {
  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['.', /dot segment "\."/],
    ['..', /dot segment "\.\."/],
    ['%2e%2e', /dot segment "\.\." once percent-decoded/],
    ['%2E', /dot segment "\." once percent-decoded/],
    ['.%2e', /once percent-decoded/],
    ['%252e%252e', /once percent-decoded/],
    ['%20', /empty once percent-decoded/],
  ])('refuses %j', (value, reason) => {
    expect(pathSegmentProblem(value)).toMatch(reason);
  });

  it.each([
    '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    2193,
    '...',
    'a.b',
    '..a',
    'tenant/../a b',
    '100%',
    '%zz',
  ])('lets %j through, encoded as one segment', (value) => {
    expect(pathSegmentProblem(value)).toBeUndefined();
    expect(pathSegment(value, 'id')).toBe(encodeURIComponent(String(value)));
  });

  it('builds no request path from a refused id, naming the id and why', () => {
    expect(() => SDR_PATHS.reportDownload('..')).toThrow(UnsafePathSegmentError);
    expect(() => SDR_PATHS.reportDownload('..')).toThrow('fileUuid ".." cannot be used in a request path');
    expect(() => SDR_PATHS.scanners('%2e%2e')).toThrow(/connectorId "%2e%2e".*once percent-decoded/);
    expect(() => SDR_PATHS.policy('')).toThrow(/policyId "" .*empty/);
    expect(SDR_PATHS.scanners(2193)).toBe('/sdr/api/v1/connectors/2193/scanners');
  });
});
