import { describe, expect, it } from 'vitest';
import { CallBudget, type CallTicket } from '../../../functions/qualys/budget';
import { BudgetExhaustedError, DeadlineError, isStopSignal } from '../../../functions/qualys/errors';
import { readRateLimitHeaders } from '../../../functions/qualys/limits';
import { TestLedgerStore } from '../../support/memory-ledger';

const HOUR = 3_600_000;

/**
 * A clock that sleep advances, and the waits asked for. Each sleep also lets other macrotasks run,
 * as a real one would, so runs sharing a ledger take turns.
 */
function clock(start = Date.parse('2025-05-10T00:00:00.000Z')) {
  const state = { time: start, waits: [] as number[] };
  return {
    state,
    now: () => state.time,
    sleep: async (ms: number) => {
      state.waits.push(ms);
      state.time += ms;
      await new Promise<void>((resolve) => setImmediate(resolve));
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

/** A budget on `ledger` (a fresh one by default) whose ledger already holds `announced`. */
async function budgetWith(
  time: ReturnType<typeof clock>,
  announced?: Parameters<typeof limitHeaders>[0],
  options: ConstructorParameters<typeof CallBudget>[0] = {},
) {
  const ledger = (options.ledger as TestLedgerStore | undefined) ?? new TestLedgerStore();
  if (announced) await ledger.announce(readRateLimitHeaders(limitHeaders(announced)), time.now());
  const budget = new CallBudget({ now: time.now, sleep: time.sleep, random: () => 0.5, ...options, ledger });
  return { budget, ledger };
}

/**
 * A subscription's call counter: each call spends one and the response announces what is left;
 * `running` counts calls between start and answer across every caller, and `most` its peak.
 */
function subscription(remaining: number, limit = 300, concurrency?: number) {
  const state = { remaining, calls: 0, lowest: remaining, running: 0, most: 0, refused: 0 };
  return {
    state,
    start() {
      state.running++;
      state.most = Math.max(state.most, state.running);
    },
    call(): Headers {
      state.running = Math.max(0, state.running - 1);
      state.calls++;
      if (state.remaining <= 0) state.refused++;
      state.remaining--;
      state.lowest = Math.min(state.lowest, state.remaining);
      return limitHeaders({
        limit,
        windowSec: 3600,
        remaining: Math.max(0, state.remaining),
        toWaitSec: 0,
        concurrency,
      });
    },
  };
}

const ticks = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

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
    const { budget } = await budgetWith(time, undefined, { reserve: 3 });
    const api = subscription(12);
    let stop: unknown;
    for (let i = 0; i < 50 && stop === undefined; i++) {
      try {
        const ticket = await budget.acquire(time.now() + HOUR / 2);
        await budget.release(ticket, { headers: api.call() });
      } catch (error) {
        stop = error;
      }
    }
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect((stop as Error).message).toMatch(
      /^call budget spent: 3 of 300 calls left in the window \(3 reserved for other collectors\)/,
    );
    expect(api.state.lowest).toBe(3);
    expect(api.state.calls).toBe(9);
    expect(budget.callsMade).toBe(9);
  });

  it('counts calls in flight so concurrent callers never spend the reserve', async () => {
    const time = clock();
    const { budget } = await budgetWith(
      time,
      { limit: 300, windowSec: 3600, remaining: 10, concurrency: 3 },
      { reserve: 2 },
    );
    const api = subscription(10);
    const worker = async () => {
      for (let i = 0; i < 50; i++) {
        let ticket: CallTicket;
        try {
          ticket = await budget.acquire(time.now() + HOUR / 2);
        } catch (error) {
          if (error instanceof BudgetExhaustedError) return;
          throw error;
        }
        await ticks(1);
        await budget.release(ticket, { headers: api.call() });
      }
    };
    await Promise.race([Promise.all([worker(), worker(), worker()]), ticks(2_000)]);
    expect(api.state.lowest).toBeGreaterThanOrEqual(2);
    expect(api.state.calls).toBe(8);
  });

  it('sleeps until the window reopens when that fits before the deadline, then lets the call go', async () => {
    const time = clock();
    const { budget } = await budgetWith(time, { limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 });

    await budget.acquire(time.now() + 5 * 60_000);
    expect(time.state.waits).toEqual([20_000]);
    expect(budget.callsMade).toBe(1);
  });

  it('counts the time already passed since the window was announced', async () => {
    const time = clock();
    const { budget } = await budgetWith(time, { limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 });
    time.state.time += 15_000;

    await budget.acquire(time.now() + 5 * 60_000);
    expect(time.state.waits).toEqual([5_000]);
  });

  it('throws BudgetExhaustedError without sleeping when the window reopens after the deadline', async () => {
    const time = clock();
    const { budget } = await budgetWith(time, { limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 20 });

    const stop = await failure(budget.acquire(time.now() + 10_000));
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect((stop as BudgetExhaustedError).waitMs).toBe(20_000);
    expect(time.state.waits).toEqual([]);
    expect(budget.callsMade).toBe(0);
  });

  it('throws BudgetExhaustedError when the window reopens later than maxWaitMs', async () => {
    const time = clock();
    const { budget } = await budgetWith(
      time,
      { limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 1800 },
      { maxWaitMs: 60_000 },
    );

    await expect(budget.acquire(time.now() + 2 * HOUR)).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(time.state.waits).toEqual([]);
  });

  it('assumes a whole window when the budget is spent and no ToWait is announced', async () => {
    const time = clock();
    const { budget } = await budgetWith(
      time,
      { limit: 30, windowSec: 300, remaining: 0 },
      { maxWaitMs: 10 * 60_000 },
    );

    await budget.acquire(time.now() + HOUR);
    expect(time.state.waits).toEqual([300_000]);
  });

  it('throws DeadlineError once the deadline has passed', async () => {
    const time = clock();
    const { budget } = await budgetWith(time);
    await expect(budget.acquire(time.now() - 1)).rejects.toBeInstanceOf(DeadlineError);
  });

  it.each([
    ['announced by X-Concurrency-Limit-Limit', 3, 3],
    ['by default, before any announcement', undefined, 2],
  ])('never has more calls in flight than allowed (%s)', async (_name, announced, allowed) => {
    const time = clock();
    const { budget } = await budgetWith(
      time,
      announced === undefined ? undefined : { limit: 300, remaining: 200, concurrency: announced },
    );
    let inFlight = 0;
    let most = 0;
    const task = async () => {
      const ticket = await budget.acquire(time.now() + HOUR);
      inFlight++;
      most = Math.max(most, inFlight);
      await ticks(2);
      inFlight--;
      await budget.release(ticket);
    };

    await Promise.all(Array.from({ length: 8 }, task));
    expect(most).toBe(allowed);
    expect(budget.callsMade).toBe(8);
  });
});

// A waiter that gives up (window spent, deadline) must not strand the others queued behind it.
describe('CallBudget with several callers when the budget runs out', () => {
  it('settles every queued acquire() once the window is spent', async () => {
    const time = clock();
    const { budget } = await budgetWith(time, { limit: 300, remaining: 1, concurrency: 1 });
    const deadline = time.now() + 10 * 60_000;

    const last = await budget.acquire(deadline); // the last call of the window, in flight
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
    await budget.release(last, { headers: limitHeaders({ limit: 300, remaining: 0, toWaitSec: 3600 }) });
    await Promise.race([Promise.all(queued), ticks(200)]);

    expect(outcomes).toHaveLength(3);
    expect(outcomes.every((outcome) => outcome.endsWith('BudgetExhaustedError'))).toBe(true);
  });
});

describe('CallBudget on a ledger shared by several runs', () => {
  it('knows before its first call that an earlier run spent the window, and when it reopens', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    const earlier = (await budgetWith(time, undefined, { ledger })).budget;
    const api = subscription(2, 5);
    for (let i = 0; i < 2; i++) {
      const ticket = await earlier.acquire(time.now() + HOUR);
      await earlier.release(ticket, { headers: api.call() });
    }
    // The gateway's last answer: the window is spent (and reopens at the latest in an hour).
    const ticket = await earlier.acquire(time.now() + HOUR).catch((error: unknown) => error);
    expect(ticket).toBeInstanceOf(BudgetExhaustedError);

    time.state.time += 60_000;
    const next = new CallBudget({ ledger, now: time.now, sleep: time.sleep });
    const stop = await failure(next.acquire(time.now() + HOUR));
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect((stop as Error).message).toMatch(/^call budget spent: 0 of 5 calls left in the window;/);
    expect(next.callsMade).toBe(0);
    expect(next.rateLimitReport).toMatchObject({ limit: 5, remaining: 0 });
  });

  it('waits for the reopening another run recorded when it fits, then calls', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    await ledger.announce({ limit: 5, windowSec: 3600, remaining: 0, toWaitSec: 90 }, time.now());
    const budget = new CallBudget({ ledger, now: time.now, sleep: time.sleep });

    await budget.acquire(time.now() + HOUR);
    expect(time.state.waits).toEqual([90_000]);
    expect((await ledger.peek()).inFlight).toHaveLength(1);
  });

  it('gives a collector with reserve R no call once R remain, and the last calls to one with none', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    await ledger.announce({ limit: 300, windowSec: 3600, remaining: 4 }, time.now());
    const bulk = new CallBudget({ ledger, reserve: 3, now: time.now, sleep: time.sleep, collector: 'bulk' });
    const cdr = new CallBudget({ ledger, reserve: 0, now: time.now, sleep: time.sleep, collector: 'cdr' });
    const api = subscription(4);

    const spend = async (budget: CallBudget) => {
      const ticket = await budget.acquire(time.now() + HOUR);
      await budget.release(ticket, { headers: api.call() });
    };
    await spend(bulk);
    await expect(spend(bulk)).rejects.toThrow(/3 reserved for other collectors/);
    for (let i = 0; i < 3; i++) await spend(cdr);
    await expect(spend(cdr)).rejects.toBeInstanceOf(BudgetExhaustedError);

    expect(api.state.calls).toBe(4);
    expect(api.state.refused).toBe(0);
    expect(bulk.callsMade).toBe(1);
    expect(cdr.callsMade).toBe(3);
  });

  it('never lets runs sharing the ledger exceed the concurrency limit or spend more than remains', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    const api = subscription(20, 300, 2);
    const runs = ['a', 'b', 'c'].map(
      (collector) =>
        new CallBudget({ ledger, collector, now: time.now, sleep: time.sleep, random: () => 0.5 }),
    );
    const worker = async (budget: CallBudget) => {
      for (let i = 0; i < 30; i++) {
        let ticket: CallTicket;
        try {
          ticket = await budget.acquire(time.now() + HOUR);
        } catch (error) {
          if (error instanceof BudgetExhaustedError) return;
          throw error;
        }
        api.start();
        await ticks(3);
        await budget.release(ticket, { headers: api.call() });
      }
    };

    await Promise.race([Promise.all(runs.flatMap((run) => [worker(run), worker(run)])), ticks(20_000)]);
    expect(api.state.calls).toBe(20);
    expect(api.state.refused).toBe(0);
    expect(api.state.most).toBe(2);
    expect(runs.reduce((sum, run) => sum + run.callsMade, 0)).toBe(20);
    expect((await ledger.peek()).inFlight).toEqual([]);
  });

  it('lets a slot left by a crashed run go once it expires, and not before', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    const start = time.now();
    await ledger.put({
      inFlight: [
        { id: 'crashed-1', collector: 'sdr-inventory', startedAt: start - 60_000, expiresAt: start - 1 },
        { id: 'crashed-2', collector: 'sdr-inventory', startedAt: start - 1_000, expiresAt: start + 4_000 },
        { id: 'crashed-3', collector: 'sdr-inventory', startedAt: start - 1_000, expiresAt: start + 9_000 },
      ],
    });
    const budget = new CallBudget({ ledger, now: time.now, sleep: time.sleep, random: () => 0.5 });

    const ticket = await budget.acquire(start + HOUR);
    expect(ticket.startedAt).toBeGreaterThanOrEqual(start + 4_000);
    expect(ticket.startedAt).toBeLessThan(start + 9_000);
    expect((await ledger.peek()).inFlight.map((call) => call.id)).toEqual(['crashed-3', ticket.id]);
  });

  it('reads again and decides again when another run wrote first', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50 });
    ledger.conflictNext(3);

    const ticket = await budget.acquire(time.now() + HOUR);
    expect(ledger.conflicts).toBe(3);
    expect((await ledger.peek()).inFlight.map((call) => call.id)).toEqual([ticket.id]);
    // Jittered pauses between the attempts, and nothing else.
    expect(time.state.waits).toHaveLength(3);
  });

  it('stops the run cleanly when the ledger keeps changing under it', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50 });
    ledger.conflictNext(100);

    const stop = await failure(budget.acquire(time.now() + HOUR));
    expect(isStopSignal(stop)).toBe(true);
    expect((stop as Error).message).toMatch(/ledger changed before each of 10 attempts/);
    expect(budget.callsMade).toBe(0);
  });

  it('does one ledger write per call: a release and the next start share it; no read while nobody else writes', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50 });
    for (let i = 0; i < 5; i++) {
      const ticket = await budget.acquire(time.now() + HOUR);
      await budget.release(ticket, { headers: limitHeaders({ limit: 300, remaining: 49 - i }) });
    }
    await budget.settled();
    expect(ledger.loads).toBe(1);
    // At most: start 1, then (release n + start n+1) four times, then release 5. A slot a call ends
    // is taken over by the next call in the same write, and writes queued together go as one.
    expect(ledger.saves).toBeGreaterThanOrEqual(1);
    expect(ledger.saves).toBeLessThanOrEqual(6);
    expect((await ledger.peek()).inFlight).toEqual([]);
  });

  it('keeps the slot of a call that ended for the next call that comes within parkMs: one write records both', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50 }, { parkMs: 1_000 });
    const first = await budget.acquire(time.now() + HOUR);
    const savesBefore = ledger.saves;
    await budget.release(first, { headers: limitHeaders({ limit: 300, remaining: 49 }) });
    // The page of the first call is written before the next call starts: several turns later.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await budget.acquire(time.now() + HOUR);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // One write: the first call's end (with what it announced) and the second's start.
    expect(ledger.saves - savesBefore).toBe(1);
    const state = await ledger.peek();
    expect(state.inFlight.map((call) => call.id)).toEqual([second.id]);
    expect(state.gateway?.remaining).toBe(49);
    await budget.release(second);
    await budget.settled();
    expect((await ledger.peek()).inFlight).toEqual([]);
  });

  it('frees a slot nobody took over once parkMs has passed, without waiting for the run to settle', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50 }, { parkMs: 10 });
    const ticket = await budget.acquire(time.now() + HOUR);
    await budget.release(ticket, { headers: limitHeaders({ limit: 300, remaining: 49 }) });
    expect((await ledger.peek()).inFlight).toHaveLength(1);
    for (let waited = 0; waited < 200 && (await ledger.peek()).inFlight.length > 0; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await ledger.peek()).inFlight).toEqual([]);
    expect((await ledger.peek()).gateway?.remaining).toBe(49);
  });

  it('hands the slot of a call that ends straight to a call of this process waiting for one', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50, concurrency: 1 });
    const first = await budget.acquire(time.now() + HOUR);
    await budget.release(first, { headers: limitHeaders({ limit: 300, remaining: 49, concurrency: 1 }) });
    await budget.settled();
    const second = await budget.acquire(time.now() + HOUR);
    const waiting = budget.acquire(time.now() + HOUR);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await budget.release(second, { headers: limitHeaders({ limit: 300, remaining: 48, concurrency: 1 }) });
    const third = await waiting;
    await budget.settled();
    // The ledger holds exactly the call that took the slot over, never two.
    expect((await ledger.peek()).inFlight.map((call) => call.id)).toEqual([third.id]);
    await budget.release(third);
    await budget.settled();
    expect((await ledger.peek()).inFlight).toEqual([]);
    expect(budget.callsMade).toBe(3);
  });

  it('a waiting call woken to decide again is never handed a slot later: no slot is stranded', async () => {
    const time = clock();
    const { budget, ledger } = await budgetWith(time, { limit: 300, remaining: 50, concurrency: 1 });
    const first = await budget.acquire(time.now() + HOUR);
    const waiting = budget.acquire(time.now() + HOUR);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // A refusal frees the slot the usual way and wakes the waiting call, which waits out the refusal.
    await budget.release(first, { refusedForMs: 1_000 });
    const second = await waiting;
    await budget.release(second);
    await budget.settled();
    expect((await ledger.peek()).inFlight).toEqual([]);
  });

  it('does not fail a call whose release cannot be written; the slot is left to expire', async () => {
    const warnings: string[] = [];
    const time = clock();
    const { budget, ledger } = await budgetWith(time, undefined, {
      logger: { debug() {}, info() {}, warn: (message) => void warnings.push(message) },
    });
    const ticket = await budget.acquire(time.now() + HOUR);
    ledger.failNext(1);

    await expect(budget.release(ticket)).resolves.toBeUndefined();
    await budget.settled();
    expect(warnings).toEqual([expect.stringMatching(/slot frees itself/)]);
    expect((await ledger.peek()).inFlight.map((call) => call.id)).toEqual([ticket.id]);
  });

  it('waits out a refusal another run recorded, within the bound, and stops past it', async () => {
    const time = clock();
    const ledger = new TestLedgerStore();
    const other = new CallBudget({ ledger, now: time.now, sleep: time.sleep });
    const refused = await other.acquire(time.now() + HOUR);
    await other.release(refused, {
      headers: limitHeaders({ limit: 300, remaining: 120 }),
      refusedForMs: 20_000,
    });

    const patient = new CallBudget({ ledger, now: time.now, sleep: time.sleep, maxWaitMs: 60_000 });
    const hasty = new CallBudget({ ledger, now: time.now, sleep: time.sleep, maxWaitMs: 5_000 });
    const stop = await failure(hasty.acquire(time.now() + HOUR));
    expect(stop).toBeInstanceOf(BudgetExhaustedError);
    expect((stop as Error).message).toMatch(/refused calls \(409\/429\) for 20 s more/);

    await patient.acquire(time.now() + HOUR);
    expect(time.state.waits).toEqual([20_000]);
  });
});
