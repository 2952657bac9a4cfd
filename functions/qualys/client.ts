import * as v from 'valibot';
import { type BudgetOptions, CallBudget, sleep } from './budget';
import { QualysApiError } from './errors';
import type { GatewayPolicy } from './gateway';
import { type HttpFetch, type HttpResponse, httpFetch } from './http';
import { type CallOptions, type ClientLogger, RetryPolicy, silentLogger } from './retry';
import { QualysSession } from './session';
import { Transport } from './transport';
import { describeIssues } from './validation';

export type { GatewayPolicy } from './gateway';
export type { CallOptions, ClientLogger } from './retry';
export type { QualysCredentials } from './session';

export interface QualysClientOptions {
  /** Reads the secret; `fresh` asks to bypass any cache (after a failed login: rotation). */
  loadCredentials: (fresh: boolean) => Promise<unknown>;
  /** Hosts besides the Qualys gateways, and plain http to loopback. @default Qualys gateways, https only */
  gateway?: GatewayPolicy;
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
  /** Retries of one call on 5xx, resets and timeouts (409/429 are waited out instead). @default 4 */
  maxRetries?: number;
  /** Reserve, wait bound and the shared ledger; the clock, sleep, jitter and logger come from here. */
  budget?: Pick<BudgetOptions, 'reserve' | 'maxWaitMs' | 'ledger' | 'collector'>;
  logger?: ClientLogger;
  /** @default {@link httpFetch} (node:https); a real `fetch` fits too. */
  fetch?: HttpFetch;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source for backoff, 0..1. */
  random?: () => number;
}

export interface JsonResponse<T> {
  /** The validated body. */
  body: T;
  /** The bytes exactly as the API sent them, for the archive. */
  raw: Uint8Array;
  status: number;
  url: string;
}

/**
 * The one Qualys client: a session (login, JWT), a transport (pacing by the call budget, retries)
 * and the decoding of responses. Typed endpoints (./cdr.ts, ./sdr.ts) call it.
 */
export class QualysClient {
  readonly budget: CallBudget;
  private readonly transport: Transport;
  private readonly requestTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: QualysClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
    const logger = options.logger ?? silentLogger;
    const fetchImpl = options.fetch ?? httpFetch;
    const sleepImpl = options.sleep ?? sleep;
    const random = options.random ?? Math.random;
    this.budget = new CallBudget({
      ...options.budget,
      // A slot is released when the answer's headers arrive; one left by a crashed run frees itself
      // shortly after the request would have timed out.
      slotTtlMs: this.requestTimeoutMs + 5_000,
      now: this.now,
      sleep: sleepImpl,
      random,
      logger,
    });
    const retry = new RetryPolicy({
      maxRetries: options.maxRetries ?? 4,
      requestTimeoutMs: this.requestTimeoutMs,
      logger,
      now: this.now,
      sleep: sleepImpl,
      random,
    });
    const session = new QualysSession({
      loadCredentials: options.loadCredentials,
      gatewayPolicy: options.gateway ?? {},
      retry,
      logger,
      fetch: fetchImpl,
      now: this.now,
    });
    this.transport = new Transport({
      session,
      budget: this.budget,
      retry,
      logger,
      fetch: fetchImpl,
      now: this.now,
      requestTimeoutMs: this.requestTimeoutMs,
    });
  }

  /**
   * GET a JSON endpoint, validate it with `schema`, and keep the raw bytes. `landed`, when given,
   * is called once the body is read and the call's slot is free, and awaited before the body is
   * decoded: a read-ahead starts its next call there (see FetchPage in core/paging.ts).
   */
  async getJson<S extends v.GenericSchema>(
    path: string,
    query: Record<string, string | number | undefined>,
    schema: S,
    call: CallOptions,
    landed?: () => Promise<void>,
  ): Promise<JsonResponse<v.InferOutput<S>>> {
    const endpoint = `GET ${path}`;
    const { raw, status, url } = await this.transport.get(
      path,
      query,
      call,
      { accept: 'application/json' },
      async (response) => {
        try {
          return {
            raw: new Uint8Array(await response.arrayBuffer()),
            status: response.status,
            url: response.url,
          };
        } catch (error) {
          throw new QualysApiError(
            endpoint,
            response.status,
            `the body could not be read (${(error as Error).message})`,
          );
        }
      },
    );
    await landed?.();
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      throw new QualysApiError(endpoint, status, `the body is not JSON (${raw.byteLength} bytes)`, raw);
    }
    const result = v.safeParse(schema, json);
    if (!result.success) {
      throw new QualysApiError(
        endpoint,
        status,
        `unexpected response: ${describeIssues(result.issues)}`,
        raw,
      );
    }
    return { body: result.output, raw, status, url };
  }

  /**
   * GET an endpoint whose body the caller streams (report downloads). The caller must consume
   * or cancel `response.body`; the call's slot is freed when the headers arrive (a download may
   * stream until the deadline, and a slot held that long would stall every other collector).
   */
  async getStream(path: string, call: CallOptions): Promise<HttpResponse> {
    // The request timeout would also cut the body off mid-stream; a download may take until the
    // deadline. `identity`: asked for gzip, the gateway could send it and the body would be unzipped,
    // so the bytes read would no longer match Content-Length, which is how a cut download is recognised.
    return this.transport.get(
      path,
      {},
      call,
      {
        accept: '*/*',
        timeoutMs: Math.max(this.requestTimeoutMs, call.deadline - this.now()),
        headers: { 'Accept-Encoding': 'identity' },
      },
      async (response) => response,
    );
  }
}
