import * as v from 'valibot';
import { DeadlineError, QualysApiError, QualysAuthError } from './errors';
import { checkGateway, type GatewayPolicy, refusedRedirect } from './gateway';
import type { HttpFetch, HttpResponse } from './http';
import { type CallOptions, type ClientLogger, RetryableError, type RetryPolicy } from './retry';
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

/** A JWT from /auth lasts 4 hours (Qualys Gateway API documentation); refresh 10 minutes early. */
const TOKEN_TTL_MS = 4 * 60 * 60 * 1000;
const TOKEN_REFRESH_MARGIN_MS = 10 * 60 * 1000;

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

export interface SessionOptions {
  /** Reads the secret (any JSON value); `fresh` asks to bypass any cache (after a failed login: rotation). */
  loadCredentials: (fresh: boolean) => Promise<unknown>;
  /** The hosts the secret's baseUrl may name. */
  gatewayPolicy: GatewayPolicy;
  retry: RetryPolicy;
  logger: ClientLogger;
  fetch: HttpFetch;
  now: () => number;
}

/**
 * The login: validates the secret (once, here), posts it to /auth, and keeps the JWT until shortly
 * before it expires. After a refused login it re-reads the secret once, for a rotated password.
 */
export class QualysSession {
  private token?: { value: string; expiresAt: number };
  private credentials?: QualysCredentials;
  private gateway?: URL;

  constructor(private readonly options: SessionOptions) {}

  /** The gateway's base URL with a trailing slash; known once the secret was read. */
  get baseUrl(): URL | undefined {
    return this.gateway;
  }

  /** Forgets the JWT (the gateway answered 401): the next call logs in again. */
  invalidate(): void {
    this.token = undefined;
  }

  /** A JWT valid for a while yet, logging in when needed. */
  async validToken(call: CallOptions): Promise<string> {
    if (this.token && this.token.expiresAt - TOKEN_REFRESH_MARGIN_MS > this.options.now())
      return this.token.value;
    if (!this.credentials) this.useCredentials(await this.options.loadCredentials(false));
    try {
      return await this.login(call);
    } catch (error) {
      if (!(error instanceof QualysAuthError)) throw error;
      // The secret may have been rotated since it was cached: read it again and retry once.
      this.options.logger.info('Qualys login failed; re-reading the secret');
      this.useCredentials(await this.options.loadCredentials(true));
      return await this.login(call);
    }
  }

  private useCredentials(secret: unknown): void {
    const parsed = v.safeParse(CredentialsSchema, secret);
    if (!parsed.success) {
      throw new QualysApiError(
        'secret',
        undefined,
        `the Qualys secret is not valid: ${describeIssues(parsed.issues)}`,
      );
    }
    const url = checkGateway(parsed.output.baseUrl, this.options.gatewayPolicy);
    this.gateway = new URL(url.href.replace(/\/?$/, '/'));
    this.credentials = parsed.output;
  }

  private async login(call: CallOptions): Promise<string> {
    const credentials = this.credentials;
    const endpoint = 'POST /auth';
    if (!credentials || !this.gateway) throw new QualysApiError(endpoint, undefined, 'no credentials');
    const { retry, now } = this.options;
    for (let attempt = 0; ; attempt++) {
      retry.ensureTime(call, endpoint);
      const url = new URL('auth', this.gateway);
      let response: HttpResponse;
      try {
        response = await this.options.fetch(url, {
          method: 'POST',
          // A redirect would carry the form (the password) to wherever it points.
          redirect: 'manual',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Accept: 'text/plain, application/json',
          },
          body: new URLSearchParams({
            username: credentials.username,
            password: credentials.password,
            token: 'true',
          }),
          signal: retry.timeoutSignal(call),
        });
      } catch (error) {
        if (call.signal?.aborted) throw new DeadlineError('POST /auth was cut off by the run deadline');
        await retry.backoffOrThrow(
          new RetryableError(`request failed (${(error as Error).name})`),
          attempt,
          endpoint,
          call,
        );
        continue;
      }
      const redirect = refusedRedirect(endpoint, response, url);
      if (redirect) {
        await response.body?.cancel().catch(() => undefined);
        throw redirect;
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
        await retry.backoffOrThrow(
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
      const expiresAt = Math.min(jwtExpiry(text) ?? Number.POSITIVE_INFINITY, now() + TOKEN_TTL_MS);
      this.token = { value: text, expiresAt };
      this.options.logger.debug('Logged in to Qualys', { expiresAt: new Date(expiresAt).toISOString() });
      return text;
    }
  }
}
