import type { ClientLogger, QualysCredentials } from '../../functions/qualys/client';

/** An unsigned JWT carrying `exp` (seconds); the client only reads the claim. */
export function makeJwt(claims: { exp?: number; jti?: string }): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'collector', ...claims })}.c2lnbmF0dXJl`;
}

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
  /** fetch's `redirect` option as the client set it. */
  redirect: RequestInit['redirect'];
}

/** One scripted answer to a GET: a response, a thrown network error, or a function of the request. */
export type Scripted = Response | Error | ((request: RecordedRequest) => Response);

export const BASE_URL = 'https://gateway.qg1.apps.qualys.com';

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export const emptyPage = () => ({
  content: [],
  last: true,
  number: 0,
  size: 100,
  numberOfElements: 0,
  empty: true,
});

/**
 * A scripted Qualys gateway for the client's injected `fetch`, with a clock that `sleep` advances.
 * /auth accepts `username`/`password` and issues a JWT with `exp`; GETs need a live token, then
 * answer from `script` in order (an empty page when the script is used up).
 */
export class FakeQualys {
  time = Date.parse('2025-05-10T00:00:00.000Z');
  username = 'qualys-api-user';
  password = 'Pa55-w0rd-that-must-not-leak';
  /** Lifetime of issued tokens, in seconds (their `exp` claim). */
  tokenLifetimeSec = 4 * 60 * 60;
  readonly requests: RecordedRequest[] = [];
  readonly waits: number[] = [];
  readonly issuedTokens: string[] = [];
  readonly script: Scripted[] = [];
  /** Answers to /auth before it logs in as usual, in order. */
  readonly authScript: Response[] = [];
  private readonly liveTokens = new Set<string>();

  now = (): number => this.time;

  sleep = async (ms: number): Promise<void> => {
    this.waits.push(ms);
    this.time += ms;
  };

  /** Deterministic jitter. */
  random = (): number => 0.5;

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const request: RecordedRequest = {
      method: init?.method ?? 'GET',
      url,
      headers: new Headers(init?.headers),
      body: init?.body === undefined || init.body === null ? undefined : String(init.body),
      redirect: init?.redirect,
    };
    this.requests.push(request);
    if (request.method === 'POST' && url.pathname === '/auth')
      return this.authScript.shift() ?? this.login(request);
    const bearer = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
    if (!this.liveTokens.has(bearer)) return new Response('token expired', { status: 401 });
    const next = this.script.shift();
    if (next === undefined) return jsonResponse(emptyPage());
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next(request) : next;
  };

  private login(request: RecordedRequest): Response {
    const form = new URLSearchParams(request.body ?? '');
    if (form.get('username') !== this.username || form.get('password') !== this.password) {
      return new Response('Invalid credentials', { status: 401 });
    }
    const token = makeJwt({
      exp: Math.floor(this.time / 1000) + this.tokenLifetimeSec,
      jti: String(this.issuedTokens.length + 1),
    });
    this.issuedTokens.push(token);
    this.liveTokens.add(token);
    return new Response(token, { status: 200, headers: { 'content-type': 'text/plain' } });
  }

  /** The gateway forgets every token it issued (expiry or revocation before our clock says so). */
  revokeTokens(): void {
    this.liveTokens.clear();
  }

  get authRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.url.pathname === '/auth');
  }

  get apiRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.url.pathname !== '/auth');
  }

  credentials(overrides: Partial<QualysCredentials> = {}): QualysCredentials {
    return { baseUrl: BASE_URL, username: this.username, password: this.password, ...overrides };
  }
}

export interface LoggedCall {
  level: 'debug' | 'info' | 'warn';
  message: string;
  extra?: Record<string, unknown>;
}

/** A logger that keeps every call, to check what would reach CloudWatch. */
export function captureLogger(): ClientLogger & { calls: LoggedCall[] } {
  const calls: LoggedCall[] = [];
  return {
    calls,
    debug: (message, extra) => calls.push({ level: 'debug', message, extra }),
    info: (message, extra) => calls.push({ level: 'info', message, extra }),
    warn: (message, extra) => calls.push({ level: 'warn', message, extra }),
  };
}
