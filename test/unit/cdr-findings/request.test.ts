import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../../functions/cdr-findings/request';

describe('parseRequest', () => {
  it.each([[{}], [undefined], [null], [{ source: 'aws.events', 'detail-type': 'Scheduled Event' }]])(
    'runs incrementally for %j',
    (event) => {
      expect(parseRequest(event)).toEqual({ kind: 'incremental' });
    },
  );

  it('runs one window, normalised to ISO-8601 UTC, with alerts unless told otherwise', () => {
    expect(parseRequest({ startAt: '2025-05-01T00:00:00+02:00', endAt: '2025-05-02T00:00:00Z' })).toEqual({
      kind: 'window',
      window: { startAt: '2025-04-30T22:00:00.000Z', endAt: '2025-05-02T00:00:00.000Z' },
      alerts: true,
    });
    expect(
      parseRequest({ startAt: '2025-05-01T00:00:00Z', endAt: '2025-05-02T00:00:00Z', alerts: false }),
    ).toMatchObject({ kind: 'window', alerts: false });
  });

  it.each([
    [{ startAt: '2025-05-01T00:00:00Z' }, 'endAt'],
    [{ startAt: 'yesterday', endAt: '2025-05-02T00:00:00Z' }, 'ISO-8601'],
    [{ startAt: '2025-05-02T00:00:00Z', endAt: '2025-05-01T00:00:00Z' }, 'startAt must be before endAt'],
  ])('refuses %j', (event, reason) => {
    expect(() => parseRequest(event)).toThrow(/^invalid window event: /);
    expect(() => parseRequest(event)).toThrow(reason);
  });
});
