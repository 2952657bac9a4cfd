import { describe, expect, it } from 'vitest';
import { type BackfillPlan, backfill, planWindows, type WindowAnswer } from '../../../bin/cli/backfill';

const plan = (overrides: Partial<BackfillPlan> = {}): BackfillPlan => ({
  from: new Date('2026-11-20T00:00:00Z'),
  to: new Date('2026-11-21T00:00:00Z'),
  windowHours: 8,
  alerts: false,
  maxAttempts: 3,
  maxWaitMs: 65 * 60_000,
  ...overrides,
});

const done = (findings: number): WindowAnswer => ({
  findings,
  newFindings: findings,
  pages: 1,
  windows: [{ complete: true }],
});

describe('planWindows', () => {
  it('covers the range in windows of the given hours, the last one cut at the end', () => {
    expect(planWindows(new Date('2026-11-20T00:00:00Z'), new Date('2026-11-20T10:00:00Z'), 4)).toEqual([
      { startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T04:00:00.000Z' },
      { startAt: '2026-11-20T04:00:00.000Z', endAt: '2026-11-20T08:00:00.000Z' },
      { startAt: '2026-11-20T08:00:00.000Z', endAt: '2026-11-20T10:00:00.000Z' },
    ]);
  });

  it('refuses a range that does not go forward', () => {
    const at = new Date('2026-11-20T00:00:00Z');
    expect(() => planWindows(at, at, 4)).toThrow('--from must be before --to');
  });
});

describe('backfill', () => {
  it('invokes each window once with alerts off, in order', async () => {
    const events: unknown[] = [];
    const result = await backfill(
      plan(),
      async (event) => {
        events.push(event);
        return done(10);
      },
      () => undefined,
    );
    expect(events).toEqual([
      { startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T08:00:00.000Z', alerts: false },
      { startAt: '2026-11-20T08:00:00.000Z', endAt: '2026-11-20T16:00:00.000Z', alerts: false },
      { startAt: '2026-11-20T16:00:00.000Z', endAt: '2026-11-21T00:00:00.000Z', alerts: false },
    ]);
    expect(result).toMatchObject({ windows: 3, done: 3, failed: [], findings: 30, newFindings: 30 });
  });

  it('waits as long as the gateway said when a window stops for want of budget, then resumes it', async () => {
    const waits: number[] = [];
    const answers: WindowAnswer[] = [
      {
        stoppedEarly: 'the call budget is spent until 01:00',
        rateLimit: { toWaitSec: 900 },
        findings: 4,
        windows: [{ complete: false }],
      },
      done(6),
      done(1),
      done(1),
    ];
    const result = await backfill(
      plan(),
      async () => answers.shift() ?? done(0),
      () => undefined,
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(waits).toEqual([900_000]);
    expect(result).toMatchObject({ done: 3, failed: [], findings: 12 });
  });

  it('never waits longer than the bound, and gives a window up after its attempts, going on with the next', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await backfill(
      plan({ maxAttempts: 2, maxWaitMs: 60_000 }),
      async () => {
        calls++;
        return calls <= 2 ? { error: 'Error: Task timed out', rateLimit: { toWaitSec: 3600 } } : done(2);
      },
      () => undefined,
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(waits).toEqual([60_000]);
    expect(result.failed).toEqual([
      {
        window: { startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T08:00:00.000Z' },
        reason: 'Error: Task timed out',
      },
    ]);
    expect(result).toMatchObject({ done: 2, findings: 4 });
  });
});
