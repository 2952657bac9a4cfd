import { BudgetExhaustedError, DeadlineError } from './errors';

/**
 * Qualys limits are per subscription: calls per window (default 300 per 3,600 s) and concurrent
 * calls (default 2), announced on every counted response in X-RateLimit-* and
 * X-Concurrency-Limit-* headers (Qualys API limits documentation). The budget paces calls from
 * those headers so that a run whose limits are announced never draws a 409/429: it holds back
 * `reserve` calls of each window for the other collectors of the subscription, counts the calls
 * it has in flight against what the last response said remained, and waits out the window (or
 * stops the run) instead of spending the last call.
 */
export interface RateLimitSnapshot {
  limit?: number;
  windowSec?: number;
  remaining?: number;
  toWaitSec?: number;
  concurrencyLimit?: number;
  concurrencyRunning?: number;
}

export interface BudgetOptions {
  /** Calls of each window left for other collectors of the same subscription. @default 0 */
  reserve?: number;
  /** Concurrency used until the API announces its own. @default 2 */
  defaultConcurrency?: number;
  /** Longest a run waits for the window to reopen before it checkpoints and stops. @default 60 s */
  maxWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function headerNumber(headers: Headers, name: string): number | undefined {
  const text = headers.get(name);
  if (text === null || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export function readRateLimitHeaders(headers: Headers): RateLimitSnapshot {
  return {
    limit: headerNumber(headers, 'x-ratelimit-limit'),
    windowSec: headerNumber(headers, 'x-ratelimit-window-sec'),
    remaining: headerNumber(headers, 'x-ratelimit-remaining'),
    toWaitSec: headerNumber(headers, 'x-ratelimit-towait-sec'),
    concurrencyLimit: headerNumber(headers, 'x-concurrency-limit-limit'),
    concurrencyRunning: headerNumber(headers, 'x-concurrency-limit-running'),
  };
}

export class CallBudget {
  /** Calls this process has sent (successful or not), for run summaries. */
  callsMade = 0;
  private state: RateLimitSnapshot = {};
  private observedAt = 0;
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly reserve: number;
  private readonly defaultConcurrency: number;
  /** Longest wait for the window to reopen before the run stops instead. */
  readonly maxWaitMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: BudgetOptions = {}) {
    this.reserve = options.reserve ?? 0;
    this.defaultConcurrency = options.defaultConcurrency ?? 2;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
  }

  /** The announced limits as a run summary reports them. */
  get rateLimitReport(): Record<string, number | undefined> {
    const { limit, windowSec, remaining, toWaitSec, concurrencyLimit } = this.state;
    return { limit, windowSec, remaining, toWaitSec, concurrencyLimit };
  }

  /** Calls that may be in flight at once: announced by the gateway, else the default (2). */
  get concurrencyLimit(): number {
    return this.concurrency();
  }

  private concurrency(): number {
    const announced = this.state.concurrencyLimit;
    return announced !== undefined && announced > 0 ? announced : this.defaultConcurrency;
  }

  /** Calls this collector may still start in the current window, or undefined when not announced. */
  private available(): number | undefined {
    if (this.state.remaining === undefined) return undefined;
    return this.state.remaining - this.inFlight - this.reserve;
  }

  /** Milliseconds until the current window reopens, as far as the headers tell. */
  private windowWaitMs(): number {
    const elapsed = this.now() - this.observedAt;
    if (this.state.toWaitSec !== undefined && this.state.toWaitSec > 0) {
      return Math.max(0, this.state.toWaitSec * 1000 - elapsed);
    }
    // Remaining is spent but no ToWait was given: assume the worst case, a full window.
    return Math.max(0, (this.state.windowSec ?? 60) * 1000 - elapsed);
  }

  /**
   * Waits for a concurrency slot and a call of the window, then counts the call as in flight.
   * Throws BudgetExhaustedError when the window is spent and reopening would pass `deadline`
   * (or the wait limit), DeadlineError when the deadline has already passed.
   */
  async acquire(deadline: number, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (this.now() >= deadline) throw new DeadlineError('the run deadline has passed');
      const available = this.available();
      if (available !== undefined && available <= 0) {
        if (this.inFlight > 0) {
          await this.waitForSlot();
          continue;
        }
        const waitMs = this.windowWaitMs();
        if (waitMs > this.maxWaitMs || this.now() + waitMs >= deadline) {
          throw new BudgetExhaustedError(
            waitMs,
            `call budget spent: ${this.state.remaining} of ${this.state.limit ?? '?'} calls left in the window` +
              (this.reserve > 0 ? ` (${this.reserve} reserved for other collectors)` : '') +
              `; the window reopens in ${Math.ceil(waitMs / 1000)} s`,
          );
        }
        await this.sleep(waitMs, signal);
        // The window has reopened; the next response will announce the new remaining.
        this.state = { ...this.state, remaining: undefined, toWaitSec: undefined };
        continue;
      }
      if (this.inFlight >= this.concurrency()) {
        await this.waitForSlot();
        continue;
      }
      this.inFlight++;
      this.callsMade++;
      return;
    }
    throw new BudgetExhaustedError(0, 'gave up waiting for a call slot');
  }

  /** Marks a call done and records what its response announced. */
  release(headers?: Headers): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (headers) this.observe(headers);
    // Wake every waiter: each re-checks the budget, and one that gives up must not strand the rest.
    for (const wake of this.waiters.splice(0)) wake();
  }

  observe(headers: Headers): void {
    const announced = readRateLimitHeaders(headers);
    if (
      announced.limit === undefined &&
      announced.remaining === undefined &&
      announced.concurrencyLimit === undefined
    ) {
      return;
    }
    this.state = { ...this.state, ...announced };
    this.observedAt = this.now();
  }

  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
