import * as v from 'valibot';
import { describe, expect, it, vi } from 'vitest';
import {
  QualysClient,
  type QualysClientOptions,
  type QualysCredentials,
} from '../../../functions/qualys/client';
import {
  BudgetExhaustedError,
  DeadlineError,
  isStopSignal,
  QualysApiError,
  QualysAuthError,
  QualysRedirectError,
} from '../../../functions/qualys/errors';
import { MemoryLedgerStore } from '../../../functions/qualys/ledger-store';
import { CdrFindingSchema, PageSchema } from '../../../functions/qualys/schemas';
import { captureLogger, FakeQualys, jsonResponse } from '../../support/fake-qualys';

const ENDPOINT = '/cdr-api/rest/v1/findings';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function setup(options: Partial<QualysClientOptions> = {}) {
  const api = new FakeQualys();
  const logger = captureLogger();
  const loadCredentials = vi.fn(async (_fresh: boolean) => api.credentials());
  const client = new QualysClient({
    loadCredentials,
    fetch: api.fetch,
    now: api.now,
    sleep: api.sleep,
    random: api.random,
    logger,
    ...options,
  });
  /** A run with ten minutes left. */
  const call = () => ({ deadline: api.time + 10 * MINUTE });
  const get = () => client.getJson(ENDPOINT, { query: 'q' }, PageSchema, call());
  return { api, logger, loadCredentials, client, call, get };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

const status = (code: number, headers: Record<string, string> = {}) =>
  new Response(`status ${code}`, { status: code, headers });

describe('QualysClient login and token', () => {
  it('logs in with a form body (username, password, token=true) and sends the JWT as Bearer', async () => {
    const { api, get } = setup();
    await get();

    const [auth, findings] = api.requests;
    expect(auth?.method).toBe('POST');
    expect(auth?.url.href).toBe('https://gateway.qg1.apps.qualys.com/auth');
    expect(auth?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(auth?.body);
    expect(Object.fromEntries(form)).toEqual({
      username: api.username,
      password: api.password,
      token: 'true',
    });

    expect(findings?.method).toBe('GET');
    expect(findings?.url.pathname).toBe(ENDPOINT);
    expect(findings?.headers.get('authorization')).toBe(`Bearer ${api.issuedTokens[0]}`);
  });

  it('sends the query parameters it is given, leaving out undefined ones', async () => {
    const { api, client, call } = setup();
    await client.getJson(
      ENDPOINT,
      {
        query: 'tc.findings.cloudProvider: AWS',
        startAt: '2025-05-09T00:00:00.000Z',
        offSet: 200,
        limit: 100,
        region: undefined,
      },
      PageSchema,
      call(),
    );
    const url = api.apiRequests[0]?.url;
    expect(url && Object.fromEntries(url.searchParams)).toEqual({
      query: 'tc.findings.cloudProvider: AWS',
      startAt: '2025-05-09T00:00:00.000Z',
      offSet: '200',
      limit: '100',
    });
  });

  it('reuses one JWT for many calls', async () => {
    const { api, get, loadCredentials } = setup();
    for (let i = 0; i < 5; i++) await get();

    expect(api.authRequests).toHaveLength(1);
    expect(api.apiRequests).toHaveLength(5);
    expect(loadCredentials).toHaveBeenCalledTimes(1);
  });

  it('logs in again shortly before the JWT exp claim, without waiting for a 401', async () => {
    const { api, get } = setup();
    api.tokenLifetimeSec = 30 * 60;
    await get();
    api.time += 15 * MINUTE;
    await get();
    expect(api.authRequests).toHaveLength(1);

    api.time += 10 * MINUTE; // 5 minutes before exp
    await get();
    expect(api.authRequests).toHaveLength(2);
    expect(api.apiRequests).toHaveLength(3); // no call was refused and repeated
    expect(api.apiRequests[2]?.headers.get('authorization')).toBe(`Bearer ${api.issuedTokens[1]}`);
  });

  it('treats a JWT as valid for at most 4 hours even when its exp is later', async () => {
    const { api, get } = setup();
    api.tokenLifetimeSec = 24 * 60 * 60;
    await get();
    api.time += 3 * HOUR + 45 * MINUTE;
    await get();
    expect(api.authRequests).toHaveLength(1);
    api.time += 10 * MINUTE;
    await get();
    expect(api.authRequests).toHaveLength(2);
  });

  it('logs in exactly once more when a call answers 401 mid-run, and the call succeeds', async () => {
    const { api, get } = setup();
    await get();
    api.revokeTokens();

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(api.authRequests).toHaveLength(2);
    expect(api.apiRequests).toHaveLength(3);
    expect(api.apiRequests[2]?.headers.get('authorization')).toBe(`Bearer ${api.issuedTokens[1]}`);
  });

  it('gives up with a 401 error when the fresh token is refused too, after a single re-login', async () => {
    const { api, get } = setup();
    api.script.push(status(401), status(401), status(401));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysApiError);
    expect((error as QualysApiError).status).toBe(401);
    expect(api.authRequests).toHaveLength(2);
    expect(api.apiRequests).toHaveLength(2);
  });

  it('re-reads the secret once when login fails, and logs in with the rotated password', async () => {
    const { api, get, loadCredentials } = setup();
    // The cached secret still has the old password; only a fresh read sees the rotation.
    loadCredentials.mockImplementation(async (fresh) =>
      fresh ? api.credentials() : api.credentials({ password: 'the-password-before-rotation' }),
    );

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(loadCredentials.mock.calls).toEqual([[false], [true]]);
    expect(api.authRequests.map((request) => new URLSearchParams(request.body).get('password'))).toEqual([
      'the-password-before-rotation',
      api.password,
    ]);
    expect(api.apiRequests).toHaveLength(1);
  });

  it('fails with QualysAuthError when the credentials are wrong before and after re-reading the secret', async () => {
    const wrong = 'Wr0ng-Passw0rd-123';
    const { api, get, loadCredentials } = setup();
    loadCredentials.mockImplementation(async () => api.credentials({ password: wrong }));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysAuthError);
    expect(error.message).toContain('/auth');
    expect(error.message).not.toContain(wrong);
    expect(loadCredentials.mock.calls).toEqual([[false], [true]]);
    expect(api.authRequests).toHaveLength(2);
    expect(api.apiRequests).toHaveLength(0);
  });
});

describe('QualysClient retries and errors', () => {
  it('retries a 5xx and returns the answer that follows', async () => {
    const { api, get } = setup();
    api.script.push(status(503), status(502));

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(api.apiRequests).toHaveLength(3);
    expect(api.waits).toHaveLength(2);
  });

  it('gives up on a persistent 5xx after maxRetries retries, naming the endpoint and status', async () => {
    const { api, get } = setup({ maxRetries: 2 });
    for (let i = 0; i < 10; i++) api.script.push(status(503));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain(`GET ${ENDPOINT}`);
    expect(error.message).toContain('503');
    expect((error as QualysApiError).status).toBe(503);
    expect(api.apiRequests).toHaveLength(3);
  });

  it('retries a network error', async () => {
    const { api, get } = setup();
    api.script.push(new TypeError('fetch failed'));

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(api.apiRequests).toHaveLength(2);
  });

  it('gives up on persistent network errors after maxRetries retries, naming the endpoint', async () => {
    const { api, get } = setup({ maxRetries: 1 });
    for (let i = 0; i < 10; i++) api.script.push(new TypeError('fetch failed'));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain(`GET ${ENDPOINT}`);
    expect(api.apiRequests).toHaveLength(2);
  });

  it('does not retry a 4xx that no retry can fix', async () => {
    const { api, get } = setup();
    api.script.push(status(400));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain(`GET ${ENDPOINT}`);
    expect(error.message).toContain('400');
    expect(api.apiRequests).toHaveLength(1);
  });

  it('reports a body that is not JSON with the endpoint and status', async () => {
    const { api, get } = setup();
    api.script.push(new Response('<html><body>Service maintenance</body></html>', { status: 200 }));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain(`GET ${ENDPOINT}`);
    expect(error.message).toContain('200');
    expect(error.message).toMatch(/not JSON/);
  });

  it('reports a body that breaks the schema with the endpoint, status and field path', async () => {
    const { api, client, call } = setup();
    const schema = v.looseObject({ content: v.array(CdrFindingSchema) });
    api.script.push(
      jsonResponse({
        content: [
          { uuid: 'a', timestamp: '2025-05-09T20:00:42.000+00:00' },
          { timestamp: '2025-05-09T20:00:42.000+00:00' },
        ],
      }),
    );

    const error = await failure(client.getJson(ENDPOINT, {}, schema, call()));
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain(`GET ${ENDPOINT}`);
    expect(error.message).toContain('200');
    expect(error.message).toContain('content.1.uuid');
  });

  it('returns the validated body with the bytes exactly as sent, unknown fields kept', async () => {
    const { api, get } = setup();
    const text = '{"content":[{"uuid":"u-1","extra":{"nested":true}}],  "last":true,"vendorField":"é"}';
    api.script.push(new Response(text, { status: 200 }));

    const response = await get();
    expect(Buffer.from(response.raw).toString('utf8')).toBe(text);
    expect(response.body.content[0]).toEqual({ uuid: 'u-1', extra: { nested: true } });
    expect(response.body.vendorField).toBe('é');
  });

  it('says a call has landed once its body is in and its slot free, before decoding it', async () => {
    const { api, client, call } = setup();
    // The gateway allows one call at a time: a call started on landing gets the slot just freed.
    const oneAtATime = { 'x-concurrency-limit-limit': '1', 'x-concurrency-limit-running': '1' };
    api.script.push(jsonResponse({ content: [] }, 200, oneAtATime));
    await client.getJson(ENDPOINT, {}, PageSchema, call());
    const text = JSON.stringify({ content: [{ uuid: 'u-1' }], last: true });
    api.script.push(new Response(text, { status: 200, headers: oneAtATime }));
    api.script.push(jsonResponse({ content: [] }, 200, oneAtATime));

    const events: string[] = [];
    const decoded = v.pipe(
      PageSchema,
      v.check(() => events.push('decoded') > 0),
    );
    let next: Promise<unknown> | undefined;
    const landed = async () => {
      events.push('landed');
      next = client.getJson(ENDPOINT, {}, PageSchema, call());
      for (let turn = 0; turn < 50 && api.apiRequests.length < 3; turn++)
        await new Promise((resolve) => setImmediate(resolve));
      if (api.apiRequests.length === 3) events.push('next call sent');
    };
    const response = await client.getJson(ENDPOINT, {}, decoded, call(), landed);
    await next;

    expect(events).toEqual(['landed', 'next call sent', 'decoded']);
    expect(Buffer.from(response.raw).toString('utf8')).toBe(text);
  });

  it('refuses a plain-http baseUrl that is not loopback, before sending anything', async () => {
    const { api, get, loadCredentials } = setup();
    loadCredentials.mockImplementation(async () =>
      api.credentials({ baseUrl: 'http://gateway.qg1.apps.qualys.com' }),
    );

    const error = await failure(get());
    expect(error.message).toMatch(/https/);
    expect(api.requests).toHaveLength(0);
  });

  it.each(['http://127.0.0.1:8080', 'http://localhost:3000', 'http://[::1]:8080'])(
    'accepts plain http for the loopback simulator at %s when allowed',
    async (baseUrl) => {
      const { api, get, loadCredentials } = setup({ gateway: { allowHttpLoopback: true } });
      loadCredentials.mockImplementation(async () => api.credentials({ baseUrl }));

      await expect(get()).resolves.toMatchObject({ status: 200 });
      expect(api.requests.map((request) => request.url.origin)).toEqual([baseUrl, baseUrl]);
    },
  );
});

describe('QualysClient rate limits and deadline', () => {
  it.each([
    ['only X-RateLimit-ToWait-Sec', { 'X-RateLimit-ToWait-Sec': '7' }],
    [
      'the full set of rate-limit headers',
      {
        'X-RateLimit-Limit': '300',
        'X-RateLimit-Window-Sec': '3600',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-ToWait-Sec': '7',
      },
    ],
  ])('waits out a 429 carrying %s, once, then retries', async (_name, headers) => {
    const { api, get } = setup();
    api.script.push(status(429, headers));

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(api.apiRequests).toHaveLength(2);
    expect(api.waits[0]).toBeGreaterThanOrEqual(7000);
    const waited = api.waits.reduce((sum, ms) => sum + ms, 0);
    expect(waited).toBeGreaterThanOrEqual(7000);
    expect(waited).toBeLessThan(8000);
  });

  it('stops the run with BudgetExhaustedError when the 429 wait would pass the deadline', async () => {
    const { api, get } = setup();
    api.script.push(status(429, { 'X-RateLimit-ToWait-Sec': '3600' }));

    const error = await failure(get());
    expect(error).toBeInstanceOf(BudgetExhaustedError);
    expect(isStopSignal(error)).toBe(true);
    expect(api.apiRequests).toHaveLength(1);
    expect(api.waits.every((ms) => ms < HOUR)).toBe(true);
  });

  it('waits out a run of 429s from another consumer without using up the retries meant for faults', async () => {
    const { api, get } = setup({ maxRetries: 1 });
    // Another tool holds both concurrency slots for 20 s: every call meets a 429 with Retry-After 1.
    for (let i = 0; i < 16; i++) api.script.push(status(429, { 'Retry-After': '1' }));
    api.script.push(status(503));

    await expect(get()).resolves.toMatchObject({ status: 200 });
    expect(api.apiRequests).toHaveLength(18);
    const waited = api.waits.reduce((sum, ms) => sum + ms, 0);
    expect(waited).toBeGreaterThanOrEqual(16 * 1000);
    expect(waited).toBeLessThan(30_000);
  });

  it('stops the run cleanly, never as a failure, once the 409/429s outlast the wait bound', async () => {
    const { api, get } = setup({ maxRetries: 0, budget: { maxWaitMs: 5_000 } });
    for (let i = 0; i < 40; i++) api.script.push(status(409, { 'X-RateLimit-ToWait-Sec': '1' }));
    const start = api.time;

    const error = await failure(get());
    expect(error).toBeInstanceOf(BudgetExhaustedError);
    expect(isStopSignal(error)).toBe(true);
    expect(error.message).toMatch(/answered 409: rate limited .* a run waits at most 5 s/);
    expect(api.time - start).toBeLessThanOrEqual(5_000);
    expect(api.apiRequests.length).toBeGreaterThan(2);
    expect(api.apiRequests.length).toBeLessThan(10);
  });

  it('throws DeadlineError and sends nothing when too little time is left for one request', async () => {
    const { api, client } = setup({ requestTimeoutMs: 30_000 });

    const error = await failure(client.getJson(ENDPOINT, {}, PageSchema, { deadline: api.time + 20_000 }));
    expect(error).toBeInstanceOf(DeadlineError);
    expect(api.requests).toHaveLength(0);
  });

  it('sends nothing when its deadline moved earlier while it took its slot', async () => {
    let moved = () => {};
    // The claim of the call's slot is written; meanwhile the run's deadline moves (cdr-findings keeps
    // time for its journal's merge, which grows as pages are written).
    class MovingLedger extends MemoryLedgerStore {
      override async save(...args: Parameters<MemoryLedgerStore['save']>) {
        const saved = await super.save(...args);
        moved();
        return saved;
      }
    }
    const { api, client } = setup({ requestTimeoutMs: 30_000, budget: { ledger: new MovingLedger() } });
    let deadline = api.time + 10 * MINUTE;
    moved = () => {
      deadline = api.time + 20_000;
    };

    const error = await failure(
      client.getJson(ENDPOINT, {}, PageSchema, {
        get deadline() {
          return deadline;
        },
      }),
    );
    expect(error).toBeInstanceOf(DeadlineError);
    expect(api.apiRequests).toHaveLength(0);
  });

  it('throws DeadlineError without a request when the token is cached but time is short', async () => {
    const { api, client, get } = setup({ requestTimeoutMs: 30_000 });
    await get();
    const before = api.requests.length;

    const error = await failure(client.getJson(ENDPOINT, {}, PageSchema, { deadline: api.time + 20_000 }));
    expect(error).toBeInstanceOf(DeadlineError);
    expect(api.requests).toHaveLength(before);
  });

  it('stops with a stop signal instead of retrying past the deadline', async () => {
    const { api, client } = setup({ requestTimeoutMs: 30_000, maxRetries: 10 });
    for (let i = 0; i < 20; i++) api.script.push(status(503));
    const deadline = api.time + 40_000;

    const error = await failure(client.getJson(ENDPOINT, {}, PageSchema, { deadline }));
    expect(isStopSignal(error)).toBe(true);
    expect(api.time).toBeLessThanOrEqual(deadline);
    expect(api.apiRequests.length).toBeLessThan(20);
  });
});

describe('QualysClient never follows a redirect', () => {
  const redirect = (status: number, location: string) =>
    new Response('moved', { status, headers: { location } });

  it.each([301, 302, 307, 308])(
    'fails the login on %i naming status and host: the password goes nowhere else',
    async (code) => {
      const { api, get, loadCredentials } = setup();
      api.authScript.push(redirect(code, 'http://collector.evil.example/auth?u=qualys-api-user'));

      const error = await failure(get());
      expect(error).toBeInstanceOf(QualysRedirectError);
      expect(error.message).toBe(
        `POST /auth answered ${code}: redirect to host http://collector.evil.example refused: ` +
          'qualys-lake follows no redirect (check baseUrl in the Qualys secret)',
      );
      // One request, to the gateway, with fetch told not to follow; no retry, no re-read of the secret.
      expect(api.requests.map((request) => [request.url.href, request.redirect])).toEqual([
        ['https://gateway.qg1.apps.qualys.com/auth', 'manual'],
      ]);
      expect(loadCredentials).toHaveBeenCalledTimes(1);
    },
  );

  it('fails a call answered with a redirect, naming status and host, without retrying or following it', async () => {
    const ledger = new MemoryLedgerStore();
    const { api, client, get } = setup({ maxRetries: 4, budget: { ledger } });
    api.script.push(redirect(302, 'https://mirror.evil.example:8443/cdr-api/rest/v1/findings?offSet=0'));

    const error = await failure(get());
    expect(error).toBeInstanceOf(QualysRedirectError);
    expect(error.message).toBe(
      `GET ${ENDPOINT} answered 302: redirect to host https://mirror.evil.example:8443 refused: ` +
        'qualys-lake follows no redirect (check baseUrl in the Qualys secret)',
    );
    expect(api.apiRequests).toHaveLength(1);
    expect(api.requests.every((request) => request.redirect === 'manual')).toBe(true);
    expect(api.requests.every((request) => request.url.host === 'gateway.qg1.apps.qualys.com')).toBe(true);
    // The call's slot went back to the ledger.
    await client.budget.settled();
    expect((await ledger.load()).state.inFlight).toEqual([]);
  });

  it('sends nothing to a baseUrl outside the Qualys gateways and the allowed hosts', async () => {
    const { api, get, loadCredentials } = setup();
    loadCredentials.mockImplementation(async () =>
      api.credentials({ baseUrl: 'https://qualys.example.org' }),
    );
    expect((await failure(get())).message).toMatch(/QUALYS_ALLOWED_HOSTS/);
    expect(api.requests).toHaveLength(0);

    const allowed = setup({ gateway: { allowedHosts: ['qualys.example.org'] } });
    allowed.loadCredentials.mockImplementation(async () =>
      allowed.api.credentials({ baseUrl: 'https://qualys.example.org' }),
    );
    await expect(allowed.get()).resolves.toMatchObject({ status: 200 });
  });
});

describe('QualysClient secrecy', () => {
  it('never puts the password or a JWT in an error message or a log call', async () => {
    const { api, client, get, logger } = setup({ maxRetries: 1 });
    const errors: Error[] = [];
    const attempt = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        errors.push(error as Error);
      }
    };

    await attempt(get());
    api.revokeTokens(); // re-login
    await attempt(get());
    api.script.push(status(503), new TypeError('fetch failed'), status(503)); // retries, then gives up
    await attempt(get());
    api.script.push(new Response('not json', { status: 200 }));
    await attempt(get());
    api.script.push(status(401), status(401)); // refused even after re-login
    await attempt(get());
    api.script.push(status(429, { 'X-RateLimit-ToWait-Sec': '3600' }));
    await attempt(get());
    await attempt(client.getJson(ENDPOINT, {}, PageSchema, { deadline: api.time + 1000 }));

    const wrongPassword = 'An0ther-Secret-Pa55word';
    const locked = new QualysClient({
      loadCredentials: async () => api.credentials({ password: wrongPassword }),
      fetch: api.fetch,
      now: api.now,
      sleep: api.sleep,
      logger,
    });
    await attempt(locked.getJson(ENDPOINT, {}, PageSchema, { deadline: api.time + HOUR }));

    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(logger.calls.length).toBeGreaterThan(0);
    expect(api.issuedTokens.length).toBeGreaterThanOrEqual(2);
    const said = [
      ...errors.map((error) => `${error.name} ${error.message} ${error.stack ?? ''}`),
      ...logger.calls.map((entry) => JSON.stringify(entry)),
    ].join('\n');
    for (const secret of [api.password, wrongPassword, ...api.issuedTokens]) {
      expect(said).not.toContain(secret);
    }
  });
});

// A numeric password (easy to type in the console's plaintext editor) must not be quoted by the
// schema error that reports it.
describe('QualysClient with a malformed secret', () => {
  it('does not quote a non-string password in its error', async () => {
    const api = new FakeQualys();
    const numericPassword = 20250509;
    const client = new QualysClient({
      loadCredentials: async () =>
        ({
          baseUrl: api.credentials().baseUrl,
          username: api.username,
          password: numericPassword,
        }) as unknown as QualysCredentials,
      fetch: api.fetch,
      now: api.now,
      sleep: api.sleep,
    });

    let message = '';
    try {
      await client.getJson('/cdr-api/rest/v1/findings', {}, PageSchema, { deadline: api.time + 600_000 });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('password');
    expect(message).not.toContain(String(numericPassword));
  });
});
