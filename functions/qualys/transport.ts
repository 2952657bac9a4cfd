import type { CallBudget } from './budget';
import { BudgetExhaustedError, DeadlineError, QualysApiError } from './errors';
import { refusedRedirect } from './gateway';
import type { HttpFetch, HttpHeaders, HttpResponse } from './http';
import { type CallOptions, type ClientLogger, RetryableError, type RetryPolicy } from './retry';
import type { QualysSession } from './session';

export interface TransportOptions {
  session: QualysSession;
  budget: CallBudget;
  retry: RetryPolicy;
  logger: ClientLogger;
  fetch: HttpFetch;
  now: () => number;
  requestTimeoutMs: number;
}

export interface RequestOptions {
  accept: string;
  /** @default the client's request timeout */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Bound on the 409/429 answers one call waits out (the time bound is the budget's `maxWaitMs`). */
const MAX_REFUSALS = 1_000;

/**
 * One authenticated GET: paced by the call budget, retried on resets, timeouts and 5xx (at most
 * `maxRetries` times), logged in again once on a 401. A redirect is never followed: it fails the
 * call with a QualysRedirectError naming the status and target host. A 409/429 means another consumer of the
 * subscription is using its limits (the ledger let this call start): it is waited out as the
 * gateway says, without using up the retries, for at most the budget's `maxWaitMs` in all; past
 * that the run stops cleanly. Anything but a 2xx becomes a
 * {@link QualysApiError} naming the endpoint and status. A 2xx response is handed to `read`
 * before the call's slot is freed, so a call counts as in flight until its body is read (or, for a
 * download the caller streams, until its headers arrive).
 */
export class Transport {
  constructor(private readonly options: TransportOptions) {}

  async get<T>(
    path: string,
    query: Record<string, string | number | undefined>,
    call: CallOptions,
    request: RequestOptions,
    /** Reads a 2xx response; the call holds its slot until this is done. */
    read: (response: HttpResponse) => Promise<T>,
  ): Promise<T> {
    const { session, budget, retry, logger, requestTimeoutMs, now } = this.options;
    const endpoint = `GET ${path}`;
    let reauthenticated = false;
    let faults = 0;
    let refusedSince: number | undefined;
    for (let refusals = 0; refusals <= MAX_REFUSALS; ) {
      const token = await session.validToken(call);
      const url = new URL(path.replace(/^\//, ''), session.baseUrl);
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) url.searchParams.set(key, String(value));
      }
      retry.ensureTime(call, endpoint);
      const ticket = await budget.acquire(call.deadline - requestTimeoutMs, call.signal);
      // A deadline may move while the slot is awaited (cdr-findings keeps time for its journal's
      // merge, which grows as pages are written): checked again before the call goes out.
      try {
        retry.ensureTime(call, endpoint);
      } catch (error) {
        await budget.release(ticket);
        throw error;
      }
      // The request goes out on the next turn of the event loop: a connection whose answer was just
      // read goes back to the pool only then, and a call started in the same turn (the next page,
      // started as this one lands) would open a connection of its own, a TLS handshake with the gateway.
      await nextTurn();
      let response: HttpResponse | undefined;
      try {
        response = await this.options.fetch(url, {
          headers: { ...request.headers, Authorization: `Bearer ${token}`, Accept: request.accept },
          // A redirect is refused below: followed, it could hand the token or our trust to another host.
          redirect: 'manual',
          signal: retry.timeoutSignal(call, request.timeoutMs),
        });
      } catch (error) {
        await budget.release(ticket);
        if (call.signal?.aborted) throw new DeadlineError(`${endpoint} was cut off by the run deadline`);
        await retry.backoffOrThrow(
          new RetryableError(`request failed (${(error as Error).name}: ${(error as Error).message})`),
          faults++,
          endpoint,
          call,
        );
        continue;
      }
      if (response.ok) {
        try {
          return await read(response);
        } finally {
          await budget.release(ticket, { headers: response.headers });
        }
      }
      const redirect = refusedRedirect(endpoint, response, url);
      if (redirect) {
        await response.body?.cancel().catch(() => undefined);
        await budget.release(ticket, { headers: response.headers });
        throw redirect;
      }
      const refused = response.status === 409 || response.status === 429;
      const waitMs = refused ? this.limitWaitMs(response.headers, refusals) : undefined;
      await response.body?.cancel().catch(() => undefined);
      await budget.release(ticket, { headers: response.headers, refusedForMs: waitMs });
      if (response.status === 401 && !reauthenticated) {
        // The JWT expired or was revoked before our own clock said so: log in again once.
        logger.info('Qualys answered 401; logging in again', { endpoint });
        session.invalidate();
        reauthenticated = true;
        continue;
      }
      if (refused && waitMs !== undefined) {
        refusals++;
        refusedSince ??= now();
        const waited = now() - refusedSince;
        if (
          waited + waitMs > budget.maxWaitMs ||
          refusals > MAX_REFUSALS ||
          now() + waitMs >= call.deadline - requestTimeoutMs
        ) {
          throw new BudgetExhaustedError(
            waitMs,
            `${endpoint} answered ${response.status}: rate limited for ${Math.ceil(waitMs / 1000)} s more ` +
              `after ${Math.round(waited / 1000)} s of waiting (another consumer of the subscription is ` +
              `using its limits; a run waits at most ${Math.round(budget.maxWaitMs / 1000)} s)`,
          );
        }
        // The ledger now holds the wait: the next acquire sits it out, and so do the other runs.
        logger.info('Qualys refused the call (rate limit); waiting it out', {
          endpoint,
          status: response.status,
          waitMs,
          refusals,
        });
        continue;
      }
      if (response.status >= 500) {
        await retry.backoffOrThrow(
          new RetryableError('server error', response.status),
          faults++,
          endpoint,
          call,
        );
        continue;
      }
      throw new QualysApiError(endpoint, response.status, 'the request was refused');
    }
    throw new BudgetExhaustedError(0, `${endpoint}: refused ${MAX_REFUSALS} times by the rate limit`);
  }

  /** What the gateway says to wait (X-RateLimit-ToWait-Sec, Retry-After), else the backoff. */
  private limitWaitMs(headers: HttpHeaders, attempt: number): number {
    const toWait = Number(headers.get('x-ratelimit-towait-sec') ?? headers.get('retry-after') ?? Number.NaN);
    if (Number.isFinite(toWait) && toWait >= 0) return toWait * 1000 + 250;
    return this.options.retry.backoffMs(attempt);
  }
}
