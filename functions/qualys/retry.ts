import { DeadlineError, QualysApiError } from './errors';

/** What the client logs through: the collectors pass the Powertools logger. */
export interface ClientLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: ClientLogger = { debug() {}, info() {}, warn() {} };

export interface CallOptions {
  /**
   * Epoch ms by which the call must have finished; no call starts that could run past it. Read
   * where it is used, never copied: it may be a getter whose value moves earlier during a run.
   */
  readonly deadline: number;
  signal?: AbortSignal;
}

/** Errors worth another attempt: network resets, timeouts, 5xx (and 409/429 at login). */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RetryPolicyOptions {
  maxRetries: number;
  requestTimeoutMs: number;
  logger: ClientLogger;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source for backoff, 0..1. */
  random: () => number;
}

/**
 * When to try a call again and how long to wait first, shared by the login and every request:
 * a bounded number of retries, never one that could run past the run's deadline.
 */
export class RetryPolicy {
  constructor(readonly options: RetryPolicyOptions) {}

  /** Throws a {@link DeadlineError} when a request started now could run past the deadline. */
  ensureTime(call: CallOptions, endpoint: string): void {
    if (this.options.now() + this.options.requestTimeoutMs > call.deadline) {
      throw new DeadlineError(`not enough time left before the deadline to call ${endpoint}`);
    }
  }

  /** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... capped at 20 s. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(20_000, 500 * 2 ** attempt);
    return Math.round(ceiling / 2 + (this.options.random() * ceiling) / 2);
  }

  /** Waits before the next attempt, or throws when the retries or the time are used up. */
  async backoffOrThrow(error: RetryableError, attempt: number, endpoint: string, call: CallOptions) {
    const { maxRetries, requestTimeoutMs, now, logger } = this.options;
    if (attempt >= maxRetries) {
      throw new QualysApiError(
        endpoint,
        error.status,
        `${error.message}; gave up after ${attempt + 1} attempts`,
      );
    }
    const waitMs = this.backoffMs(attempt);
    if (now() + waitMs + requestTimeoutMs > call.deadline) {
      throw new DeadlineError(
        `${endpoint}: ${error.message}, and no time is left to retry before the deadline`,
      );
    }
    logger.warn('Retrying Qualys call', {
      endpoint,
      status: error.status,
      reason: error.message,
      attempt: attempt + 1,
      waitMs,
    });
    await this.options.sleep(waitMs, call.signal);
  }

  /** The per-request timeout, cut short by the run's abort signal. */
  timeoutSignal(call: CallOptions, timeoutMs = this.options.requestTimeoutMs): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
  }
}
