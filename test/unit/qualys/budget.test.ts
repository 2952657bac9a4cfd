import { describe, expect, it } from 'vitest';
import { CallBudget, readRateLimitHeaders } from '../../../functions/qualys/budget';
import { BudgetExhaustedError, DeadlineError } from '../../../functions/qualys/errors';

const HOUR = 3_600_000;

/** A clock that sleep advances, and the waits asked for. */
function clock(start = Date.parse('2025-05-10T00:00:00.000Z')) {
  const state = { time: start, waits: [] as number[] };
  return {
    state,
    now: () => state.time,
    sleep: async (ms: number) => {
      state.waits.push(ms);
      state.time += ms;
    },
  };
}

function limitHeaders(values: {
  limit?: number;
  remaining?: number;
  windowSec?: number;
  toWaitSec?: number;
  concurrency?: number;
}): Headers {
  const headers = new Headers();
  if (values.limit !== undefined) headers.set('X-RateLimit-Limit', String(values.limit));
  if (values.windowSec !== undefined) headers.set('X-RateLimit-Window-Sec', String(values.windowSec));
  if (values.remaining !== undefined) headers.set('X-RateLimit-Remaining', String(values.remaining));
  if (values.toWaitSec !== undefined) headers.set('X-RateLimit-ToWait-Sec', String(values.toWaitSec));
  if (values.concurrency !== undefined) headers.set('X-Concurrency-Limit-Limit', String(values.concurrency));
  return headers;
}

/** A subscription's call counter: each call spends one and the response announces what is left. */
function subscription(remaining: number, limit = 300) {
  const state = { remaining, calls: 0, lowest: remaining };
  return {
    state,
    call(): Headers {
      state.calls++;
      state.remaining--;
      state.lowest = Math.min(state.lowest, state.remaining);
      return limitHeaders({ limit, windowSec: 3600, remaining: Math.max(0, state.remaining), toWaitSec: 0 });
    },
  };
}

const ticks = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('readRateLimitHeaders', () => {
  it('reads the Qualys limit headers as numbers and ignores missing or garbled ones', () => {
    const headers = limitHeaders({ limit: 300, windowSec: 3600, remaining: 12, concurrency: 2 });
    headers.set('X-RateLimit-ToWait-Sec', 'soon');
    expect(readRateLimitHeaders(headers)).toEqual({
      limit: 300,
      windowSec: 3600,
      remaining: 12,
      toWaitSec: undefined,
      concurrencyLimit: 2,
      concurrencyRunning: undefined,
    });
  });
});

describe('CallBudget', () => {
  it('stops sequential calls while the subscription still has the reserve left', async () => {
    const time = clock();
    const budget = new CallBudget({ reserve: 3, now: time.now, sleep: time.sleep });
    const api = subscription(12);
    let stop: unknown;
    for (let i = 0; i < 50 && stop === undefined; i++) {
      try {
        await budget.acquire(time.now() + HOUR / 2);
        budget.release(api.call());
      } catch (error) {
        stop = error;
      }
    }
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect(api.state.lowest).toBe(3);
    expect(api.state.calls).toBe(9);
    expect(budget.callsMade).toBe(9);
  });

  it('counts calls in flight so concurrent callers never spend the reserve', async () => {
    const time = clock();
    const budget = new CallBudget({ reserve: 2, now: time.now, sleep: time.sleep });
    const api = subscription(10);
    budget.observe(limitHeaders({ limit: 300, windowSec: 3600, remaining: 10, concurrency: 3 }));
    const worker = async () => {
      for (let i = 0; i < 50; i++) {
        try {
          await budget.acquire(time.now() + HOUR / 2);
        } catch (error) {
          if (error instanceof BudgetExhaustedError) return;
          throw error;
        }
        await ticks(1);
        budget.release(api.call());
      }
    };
    // Bounded: a worker left waiting for a slot never settles (see budget.bug.test.ts).
    await Promise.race([Promise.all([worker(), worker(), worker()]), ticks(500)]);
    expect(api.state.lowest).toBeGreaterThanOrEqual(2);
    expect(api.state.calls).toBe(8);
  });

  it('sleeps until the window reopens when that fits before the deadline, then lets the call go', async () => {
    const time = clock();
    const budget = new CallBudget({ now: time.now, sleep: time.sleep });
    budget.observe(limitHeaders({ limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 }));

    await budget.acquire(time.now() + 5 * 60_000);
    expect(time.state.waits).toEqual([20_000]);
    expect(budget.callsMade).toBe(1);
  });

  it('counts the time already passed since the window was announced', async () => {
    const time = clock();
    const budget = new CallBudget({ now: time.now, sleep: time.sleep });
    budget.observe(limitHeaders({ limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 }));
    time.state.time += 15_000;

    await budget.acquire(time.now() + 5 * 60_000);
    expect(time.state.waits).toEqual([5_000]);
  });

  it('throws BudgetExhaustedError without sleeping when the window reopens after the deadline', async () => {
    const time = clock();
    const budget = new CallBudget({ now: time.now, sleep: time.sleep });
    budget.observe(limitHeaders({ limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 }));

    const stop = await budget.acquire(time.now() + 10_000).catch((error: unknown) => error);
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect((stop as BudgetExhaustedError).waitMs).toBe(20_000);
    expect(time.state.waits).toEqual([]);
    expect(budget.callsMade).toBe(0);
  });

  it('throws BudgetExhaustedError when the window reopens later than maxWaitMs', async () => {
    const time = clock();
    const budget = new CallBudget({ maxWaitMs: 60_000, now: time.now, sleep: time.sleep });
    budget.observe(limitHeaders({ limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 1800 }));

    await expect(budget.acquire(time.now() + 2 * HOUR)).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(time.state.waits).toEqual([]);
  });

  it('assumes a whole window when the budget is spent and no ToWait is announced', async () => {
    const time = clock();
    const budget = new CallBudget({ maxWaitMs: 10 * 60_000, now: time.now, sleep: time.sleep });
    budget.observe(limitHeaders({ limit: 30, windowSec: 300, remaining: 0 }));

    await budget.acquire(time.now() + HOUR);
    expect(time.state.waits).toEqual([300_000]);
  });

  it('throws DeadlineError once the deadline has passed', async () => {
    const time = clock();
    const budget = new CallBudget({ now: time.now, sleep: time.sleep });
    await expect(budget.acquire(time.now() - 1)).rejects.toBeInstanceOf(DeadlineError);
  });

  it.each([
    ['announced by X-Concurrency-Limit-Limit', 3, 3],
    ['by default, before any announcement', undefined, 2],
  ])('never has more calls in flight than allowed (%s)', async (_name, announced, allowed) => {
    const time = clock();
    const budget = new CallBudget({ now: time.now, sleep: time.sleep });
    if (announced !== undefined)
      budget.observe(limitHeaders({ limit: 300, remaining: 200, concurrency: announced }));
    let inFlight = 0;
    let most = 0;
    const task = async () => {
      await budget.acquire(time.now() + HOUR);
      inFlight++;
      most = Math.max(most, inFlight);
      await ticks(2);
      inFlight--;
      budget.release();
    };

    await Promise.all(Array.from({ length: 8 }, task));
    expect(most).toBe(allowed);
    expect(budget.callsMade).toBe(8);
  });
});

// A waiter that gives up (window spent, deadline) must not strand the others queued behind it.
describe('CallBudget with several callers when the budget runs out', () => {
  it('settles every queued acquire() once the window is spent', async () => {
    let time = Date.parse('2025-05-10T00:00:00.000Z');
    const budget = new CallBudget({
      now: () => time,
      sleep: async (ms) => {
        time += ms;
      },
    });
    const deadline = time + 10 * 60_000;
    budget.observe(
      new Headers({
        'X-RateLimit-Limit': '300',
        'X-RateLimit-Remaining': '1',
        'X-Concurrency-Limit-Limit': '1',
      }),
    );

    await budget.acquire(deadline); // the last call of the window, in flight
    const outcomes: string[] = [];
    const queued = [1, 2, 3].map((n) =>
      budget.acquire(deadline).then(
        () => outcomes.push(`${n}: acquired`),
        (error: unknown) => outcomes.push(`${n}: ${(error as Error).name}`),
      ),
    );
    await ticks(5);
    expect(outcomes).toEqual([]); // all three wait for the slot

    // The call returns: the window is spent and reopens in an hour, after the deadline.
    budget.release(
      new Headers({
        'X-RateLimit-Limit': '300',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-ToWait-Sec': '3600',
      }),
    );
    await Promise.race([Promise.all(queued), ticks(200)]);

    expect(outcomes).toHaveLength(3);
    expect(outcomes.every((outcome) => outcome.endsWith('BudgetExhaustedError'))).toBe(true);
  });
});
