import { describe, expect, it } from 'vitest';
import { QualysApiError, QualysRedirectError } from '../../../functions/qualys/errors';
import { checkGateway, QUALYS_GATEWAY_HOSTS, refusedRedirect } from '../../../functions/qualys/gateway';

const refusal = (baseUrl: string, policy = {}) => {
  try {
    checkGateway(baseUrl, policy);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${baseUrl} was accepted`);
};

describe('checkGateway', () => {
  it.each(QUALYS_GATEWAY_HOSTS)('accepts the Qualys gateway https://%s', (host) => {
    expect(checkGateway(`https://${host}`).hostname).toBe(host);
  });

  it('refuses another https host unless QUALYS_ALLOWED_HOSTS names it', () => {
    const error = refusal('https://gateway.qg1.apps.qualys.com.evil.example/');
    expect(error).toBeInstanceOf(QualysApiError);
    expect(error.message).toContain('https://gateway.qg1.apps.qualys.com.evil.example');
    expect(error.message).toMatch(/not a Qualys API gateway.*QUALYS_ALLOWED_HOSTS/);
    expect(refusal('https://gateway.p26.eng.in03.qualys.com').message).toMatch(/not a Qualys API gateway/);

    const policy = { allowedHosts: ['gateway.p26.eng.in03.qualys.com'] };
    expect(checkGateway('https://gateway.p26.eng.in03.qualys.com', policy).host).toBe(
      'gateway.p26.eng.in03.qualys.com',
    );
  });

  it('refuses plain http to a Qualys gateway or an allowed host, whatever the policy says', () => {
    const policy = { allowedHosts: ['gw.example.org'], allowHttpLoopback: true };
    expect(refusal('http://gateway.qg1.apps.qualys.com', policy).message).toMatch(/must use https/);
    expect(refusal('http://gw.example.org', policy).message).toMatch(/must use https/);
  });

  it.each(['http://127.0.0.1:8080', 'http://localhost:3000', 'http://[::1]:8080'])(
    'refuses %s unless QUALYS_ALLOW_HTTP_LOOPBACK=true',
    (baseUrl) => {
      expect(refusal(baseUrl).message).toMatch(/QUALYS_ALLOW_HTTP_LOOPBACK=true/);
      expect(checkGateway(baseUrl, { allowHttpLoopback: true }).origin).toBe(baseUrl);
    },
  );

  it('refuses a URL with a user part without repeating it', () => {
    const error = refusal('https://user:s3cret@gateway.qg1.apps.qualys.com');
    expect(error.message).toMatch(/must not carry a user name or password/);
    expect(error.message).not.toContain('s3cret');
    expect(error.message).not.toContain('user:');
  });
});

describe('refusedRedirect', () => {
  const request = new URL('https://gateway.qg1.apps.qualys.com/auth');
  const answer = (status: number, location?: string) =>
    new Response(null, { status, headers: location === undefined ? {} : { location } });

  it.each([301, 302, 303, 307, 308])('names the status %i and the target scheme and host only', (status) => {
    const error = refusedRedirect(
      'POST /auth',
      answer(status, 'http://user:pw@collector.evil.example:8080/steal?password=x#frag'),
      request,
    );
    expect(error).toBeInstanceOf(QualysRedirectError);
    expect(error?.status).toBe(status);
    expect(error?.message).toContain(`POST /auth answered ${status}`);
    expect(error?.message).toContain('host http://collector.evil.example:8080 refused');
    for (const hidden of ['user', 'pw@', '/steal', 'password=x', 'frag'])
      expect(error?.message).not.toContain(hidden);
  });

  it('resolves a relative Location against the request, and says when there is none', () => {
    expect(refusedRedirect('POST /auth', answer(302, '/login?next=1'), request)?.target).toBe(
      'https://gateway.qg1.apps.qualys.com',
    );
    expect(refusedRedirect('POST /auth', answer(302), request)?.message).toContain(
      'redirect to an unreadable location refused',
    );
  });

  it('leaves any other status alone', () => {
    for (const status of [200, 204, 401, 404, 429, 500]) {
      expect(refusedRedirect('GET /x', new Response(null, { status }), request)).toBeUndefined();
    }
  });
});
