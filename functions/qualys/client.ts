import * as v from 'valibot';
import { type BudgetOptions, CallBudget, sleep } from './budget';
import { BudgetExhaustedError, DeadlineError, QualysApiError, QualysAuthError } from './errors';
import { describeIssues } from './validation';

/** The JSON secret the collectors read: `{"baseUrl","username","password"}`. */
export interface QualysCredentials {
  baseUrl: string;
  username: string;
  password: string;
}

// Every check carries its own message: valibot's defaults quote the received value, and the
// value here may be the password.
export const CredentialsSchema = v.object(
  {
    baseUrl: v.pipe(
      v.string('baseUrl must be a string'),
      v.url('baseUrl must be a URL such as https://gateway.qg1.apps.qualys.com'),
    ),
    username: v.pipe(v.string('username must be a string'), v.nonEmpty('username must not be empty')),
    password: v.pipe(v.string('password must be a string'), v.nonEmpty('password must not be empty')),
  },
  'the secret must be a JSON object {"baseUrl","username","password"}',
);

export interface ClientLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export interface QualysClientOptions {
  /** Reads the secret; `fresh` asks to bypass any cache (after a failed login: rotation). */
  loadCredentials: (fresh: boolean) => Promise<QualysCredentials>;
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
  /** Retries of one call on 5xx, resets, timeouts and 409/429. @default 4 */
  maxRetries?: number;
  budget?: BudgetOptions;
  logger?: ClientLogger;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source for backoff, 0..1. */
  random?: () => number;
}

export interface CallOptions {
  /** Epoch ms by which the call must have finished; no call starts that could run past it. */
  deadline: number;
  signal?: AbortSignal;
}

export interface JsonResponse<T> {
  /** The validated body. */
  body: T;
  /** The bytes exactly as the API sent them, for the archive. */
  raw: Uint8Array;
  status: number;
  url: string;
}

/** A JWT from /auth lasts 4 hours (Qualys Gateway API documentation); refresh 10 minutes early. */
const TOKEN_TTL_MS = 4 * 60 * 60 * 1000;
const TOKEN_REFRESH_MARGIN_MS = 10 * 60 * 1000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

const silentLogger: ClientLogger = { debug() {}, info() {}, warn() {} };

/** Reads `exp` from a JWT without verifying it (the gateway verifies; we only schedule refresh). */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the secret's baseUrl: https, or plain http only for a loopback host (the simulator). */
export function checkBaseUrl(baseUrl: string): URL {
  const url = new URL(baseUrl);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new QualysApiError(
    'secret',
    undefined,
    `baseUrl must use https (plain http is allowed only for a loopback host), got ${url.protocol}//${url.host}`,
  );
}

/** Errors worth another attempt: network resets, timeouts and 5xx. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly waitMs?: number,
  ) {
    super(message);
  }
}

/**
 * The one Qualys client: logs in with the secret, keeps the JWT across warm invocations,
 * paces calls with {@link CallBudget}, retries what is worth retrying and validates every body.
 */
export class QualysClient {
  readonly budget: CallBudget;
  private token?: { value: string; expiresAt: number };
  private credentials?: QualysCredentials;
  private baseUrl?: URL;
  private readonly requestTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly logger: ClientLogger;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: QualysClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 4;
    this.logger = options.logger ?? silentLogger;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    this.budget = new CallBudget({ now: this.now, sleep: this.sleep, ...options.budget });
  }

  /** GET a JSON endpoint, validate it with `schema`, and keep the raw bytes. */
  async getJson<S extends v.GenericSchema>(
    path: string,
    query: Record<string, string | number | undefined>,
    schema: S,
    call: CallOptions,
  ): Promise<JsonResponse<v.InferOutput<S>>> {
    const response = await this.request(path, query, 'application/json', call);
    const endpoint = `GET ${path}`;
    let raw: Uint8Array;
    try {
      raw = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new QualysApiError(
        endpoint,
        response.status,
        `the body could not be read (${(error as Error).message})`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      throw new QualysApiError(endpoint, response.status, `the body is not JSON (${raw.byteLength} bytes)`);
    }
    const result = v.safeParse(schema, json);
    if (!result.success) {
      throw new QualysApiError(
        endpoint,
        response.status,
        `unexpected response: ${describeIssues(result.issues)}`,
      );
    }
    return { body: result.output, raw, status: response.status, url: response.url };
  }

  /**
   * GET an endpoint whose body the caller streams (report downloads). The caller must consume
   * or cancel `response.body`; the call slot is released when the headers arrive.
   */
  async getStream(path: string, call: CallOptions): Promise<Response> {
    // The request timeout would also cut the body off mid-stream; a download may take until the
    // deadline. `identity`: fetch would otherwise ask for gzip and unzip the body, so the bytes
    // read would no longer match Content-Length, which is how a cut download is recognised.
    return this.request(path, {}, '*/*', call, Math.max(this.requestTimeoutMs, call.deadline - this.now()), {
      'Accept-Encoding': 'identity',
    });
  }

  private async request(
    path: string,
    query: Record<string, string | number | undefined>,
    accept: string,
    call: CallOptions,
    timeoutMs = this.requestTimeoutMs,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const endpoint = `GET ${path}`;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.validToken(call);
      const url = new URL(path.replace(/^\//, ''), `${this.baseUrl?.href.replace(/\/?$/, '/')}`);
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) url.searchParams.set(key, String(value));
      }
      this.ensureTime(call, endpoint);
      await this.budget.acquire(call.deadline - this.requestTimeoutMs, call.signal);
      let response: Response | undefined;
      try {
        response = await this.fetch(url, {
          headers: { ...extraHeaders, Authorization: `Bearer ${token}`, Accept: accept },
          signal: this.timeoutSignal(call, timeoutMs),
        });
      } catch (error) {
        this.budget.release();
        if (call.signal?.aborted) throw new DeadlineError(`${endpoint} was cut off by the run deadline`);
        await this.backoffOrThrow(
          new RetryableError(`request failed (${(error as Error).name}: ${(error as Error).message})`),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      this.budget.release(response.headers);

      if (response.ok) return response;
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 401 && !reauthenticated) {
        // The JWT expired or was revoked before our own clock said so: log in again once.
        this.logger.info('Qualys answered 401; logging in again', { endpoint });
        this.token = undefined;
        reauthenticated = true;
        attempt--;
        continue;
      }
      if (response.status === 409 || response.status === 429) {
        const waitMs = this.limitWaitMs(response.headers, attempt);
        if (waitMs > this.budget.maxWaitMs || this.now() + waitMs >= call.deadline - this.requestTimeoutMs) {
          throw new BudgetExhaustedError(
            waitMs,
            `${endpoint} answered ${response.status}: rate limited for ${Math.ceil(waitMs / 1000)} s`,
          );
        }
        await this.backoffOrThrow(
          new RetryableError('rate limited', response.status, waitMs),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      if (response.status >= 500) {
        await this.backoffOrThrow(
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

  private timeoutSignal(call: CallOptions, timeoutMs = this.requestTimeoutMs): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
  }

  private ensureTime(call: CallOptions, endpoint: string): void {
    if (this.now() + this.requestTimeoutMs > call.deadline) {
      throw new DeadlineError(`not enough time left before the deadline to call ${endpoint}`);
    }
  }

  private limitWaitMs(headers: Headers, attempt: number): number {
    const toWait = Number(headers.get('x-ratelimit-towait-sec') ?? headers.get('retry-after') ?? Number.NaN);
    if (Number.isFinite(toWait) && toWait >= 0) return toWait * 1000 + 250;
    return this.backoffMs(attempt);
  }

  /** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... capped at 20 s. */
  private backoffMs(attempt: number): number {
    const ceiling = Math.min(20_000, 500 * 2 ** attempt);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private async backoffOrThrow(error: RetryableError, attempt: number, endpoint: string, call: CallOptions) {
    if (attempt >= this.maxRetries) {
      throw new QualysApiError(
        endpoint,
        error.status,
        `${error.message}; gave up after ${attempt + 1} attempts`,
      );
    }
    const waitMs = error.waitMs ?? this.backoffMs(attempt);
    if (this.now() + waitMs + this.requestTimeoutMs > call.deadline) {
      throw new DeadlineError(
        `${endpoint}: ${error.message}, and no time is left to retry before the deadline`,
      );
    }
    this.logger.warn('Retrying Qualys call', {
      endpoint,
      status: error.status,
      reason: error.message,
      attempt: attempt + 1,
      waitMs,
    });
    await this.sleep(waitMs, call.signal);
  }

  private async validToken(call: CallOptions): Promise<string> {
    if (this.token && this.token.expiresAt - TOKEN_REFRESH_MARGIN_MS > this.now()) return this.token.value;
    if (!this.credentials) this.useCredentials(await this.options.loadCredentials(false));
    try {
      return await this.login(call);
    } catch (error) {
      if (!(error instanceof QualysAuthError)) throw error;
      // The secret may have been rotated since it was cached: read it again and retry once.
      this.logger.info('Qualys login failed; re-reading the secret');
      this.useCredentials(await this.options.loadCredentials(true));
      return await this.login(call);
    }
  }

  private useCredentials(credentials: QualysCredentials): void {
    const parsed = v.safeParse(CredentialsSchema, credentials);
    if (!parsed.success) {
      throw new QualysApiError(
        'secret',
        undefined,
        `the Qualys secret is not valid: ${describeIssues(parsed.issues)}`,
      );
    }
    this.baseUrl = checkBaseUrl(parsed.output.baseUrl);
    this.credentials = parsed.output;
  }

  private async login(call: CallOptions): Promise<string> {
    const credentials = this.credentials;
    if (!credentials || !this.baseUrl) throw new QualysApiError('POST /auth', undefined, 'no credentials');
    const endpoint = 'POST /auth';
    for (let attempt = 0; ; attempt++) {
      this.ensureTime(call, endpoint);
      let response: Response;
      try {
        response = await this.fetch(new URL('auth', this.baseUrl.href.replace(/\/?$/, '/')), {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Accept: 'text/plain, application/json',
          },
          body: new URLSearchParams({
            username: credentials.username,
            password: credentials.password,
            token: 'true',
          }),
          signal: this.timeoutSignal(call),
        });
      } catch (error) {
        if (call.signal?.aborted) throw new DeadlineError('POST /auth was cut off by the run deadline');
        await this.backoffOrThrow(
          new RetryableError(`request failed (${(error as Error).name})`),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      const text = (await response.text()).trim();
      if (response.status === 401 || response.status === 403) {
        throw new QualysAuthError(
          endpoint,
          response.status,
          `login refused for user "${credentials.username}"`,
        );
      }
      if (response.status >= 500 || response.status === 429 || response.status === 409) {
        await this.backoffOrThrow(
          new RetryableError('login failed', response.status),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      if (!response.ok || text === '' || /\s/.test(text)) {
        throw new QualysApiError(endpoint, response.status, 'the login response did not carry a token');
      }
      const expiresAt = Math.min(jwtExpiry(text) ?? Number.POSITIVE_INFINITY, this.now() + TOKEN_TTL_MS);
      this.token = { value: text, expiresAt };
      this.logger.debug('Logged in to Qualys', { expiresAt: new Date(expiresAt).toISOString() });
      return text;
    }
  }
}
