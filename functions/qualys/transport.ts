import type { CallBudget } from './budget';
import { BudgetExhaustedError, DeadlineError, QualysApiError } from './errors';
import { type CallOptions, type ClientLogger, RetryableError, type RetryPolicy } from './retry';
import type { QualysSession } from './session';

export interface TransportOptions {
  session: QualysSession;
  budget: CallBudget;
  retry: RetryPolicy;
  logger: ClientLogger;
  fetch: typeof fetch;
  now: () => number;
  requestTimeoutMs: number;
}

export interface RequestOptions {
  accept: string;
  /** @default the client's request timeout */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/**
 * One authenticated GET: paced by the call budget, retried on resets, timeouts, 5xx and 409/429
 * (waiting what the gateway says), logged in again once on a 401. Returns the response once its
 * status is 2xx; anything else becomes a {@link QualysApiError} naming the endpoint and status.
 */
export class Transport {
  constructor(private readonly options: TransportOptions) {}

  async get(
    path: string,
    query: Record<string, string | number | undefined>,
    call: CallOptions,
    request: RequestOptions,
  ): Promise<Response> {
    const { session, budget, retry, logger, requestTimeoutMs } = this.options;
    const endpoint = `GET ${path}`;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      const token = await session.validToken(call);
      const url = new URL(path.replace(/^\//, ''), session.baseUrl);
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) url.searchParams.set(key, String(value));
      }
      retry.ensureTime(call, endpoint);
      await budget.acquire(call.deadline - requestTimeoutMs, call.signal);
      let response: Response | undefined;
      try {
        response = await this.options.fetch(url, {
          headers: { ...request.headers, Authorization: `Bearer ${token}`, Accept: request.accept },
          signal: retry.timeoutSignal(call, request.timeoutMs),
        });
      } catch (error) {
        budget.release();
        if (call.signal?.aborted) throw new DeadlineError(`${endpoint} was cut off by the run deadline`);
        await retry.backoffOrThrow(
          new RetryableError(`request failed (${(error as Error).name}: ${(error as Error).message})`),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      budget.release(response.headers);

      if (response.ok) return response;
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 401 && !reauthenticated) {
        // The JWT expired or was revoked before our own clock said so: log in again once.
        logger.info('Qualys answered 401; logging in again', { endpoint });
        session.invalidate();
        reauthenticated = true;
        attempt--;
        continue;
      }
      if (response.status === 409 || response.status === 429) {
        const waitMs = this.limitWaitMs(response.headers, attempt);
        if (waitMs > budget.maxWaitMs || this.options.now() + waitMs >= call.deadline - requestTimeoutMs) {
          throw new BudgetExhaustedError(
            waitMs,
            `${endpoint} answered ${response.status}: rate limited for ${Math.ceil(waitMs / 1000)} s`,
          );
        }
        await retry.backoffOrThrow(
          new RetryableError('rate limited', response.status, waitMs),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      if (response.status >= 500) {
        await retry.backoffOrThrow(
          new RetryableError('server error', response.status),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      throw new QualysApiError(endpoint, response.status, 'the request was refused');
    }
  }

  /** What the gateway says to wait (X-RateLimit-ToWait-Sec, Retry-After), else the backoff. */
  private limitWaitMs(headers: Headers, attempt: number): number {
    const toWait = Number(headers.get('x-ratelimit-towait-sec') ?? headers.get('retry-after') ?? Number.NaN);
    if (Number.isFinite(toWait) && toWait >= 0) return toWait * 1000 + 250;
    return this.options.retry.backoffMs(attempt);
  }
}
