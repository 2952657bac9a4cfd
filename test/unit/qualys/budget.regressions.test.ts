import { describe, expect, it } from 'vitest';
import { CallBudget } from '../../../functions/qualys/budget';

/**
 * BUG: callers queued for a call slot are never woken when the caller that was woken before
 * them gives up. release() wakes one waiter; that waiter finds the window spent, throws
 * BudgetExhaustedError (or DeadlineError) and does not pass the wake-up on, so every other
 * acquire() stays pending forever and its caller hangs until the Lambda times out.
 */
const ticks = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

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
