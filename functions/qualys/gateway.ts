import { QualysApiError, QualysRedirectError } from './errors';
import type { HttpResponse } from './http';

/**
 * Which base URLs the client sends credentials to. Redirects are never followed (session.ts,
 * transport.ts), so the base URL's host is the only host the client ever talks to: checking it
 * here is checking every request.
 */

/**
 * The Qualys API gateway of each shared platform, as Qualys' platform identification page listed
 * them on 2026-11-28 (https://www.qualys.com/platform-identification/). The two vendor documents
 * in shared/qualys-api name only US Platform 1, https://gateway.qg1.apps.qualys.com. A private
 * cloud platform or a test gateway is allowed with QUALYS_ALLOWED_HOSTS.
 */
export const QUALYS_GATEWAY_HOSTS: readonly string[] = [
  'gateway.qg1.apps.qualys.com', // US 1
  'gateway.qg2.apps.qualys.com', // US 2
  'gateway.qg3.apps.qualys.com', // US 3
  'gateway.qg4.apps.qualys.com', // US 4
  'gateway.qg1.apps.qualys.eu', // EU 1
  'gateway.qg2.apps.qualys.eu', // EU 2
  'gateway.qg1.apps.qualys.in', // India
  'gateway.qg1.apps.qualys.ca', // Canada
  'gateway.qg1.apps.qualys.ae', // UAE
  'gateway.qg1.apps.qualys.co.uk', // UK
  'gateway.qg1.apps.qualys.com.au', // Australia
  'gateway.qg1.apps.qualysksa.com', // KSA
];

/** Where the client may send credentials, besides the Qualys platforms. */
export interface GatewayPolicy {
  /** Further hosts (a private platform, a test gateway), lower-case, https only. @default none */
  allowedHosts?: readonly string[];
  /** Plain http to a loopback host (the local simulator). @default false */
  allowHttpLoopback?: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The secret's baseUrl if the client may send credentials there: https to a Qualys gateway or an
 * allowed host, or plain http to a loopback host when the policy allows it. The error names the
 * scheme and host only (a URL could carry credentials in its user part or query).
 */
export function checkGateway(baseUrl: string, policy: GatewayPolicy = {}): URL {
  const url = new URL(baseUrl);
  const where = `${url.protocol}//${url.host}`;
  const refuse = (reason: string) => new QualysApiError('secret', undefined, `baseUrl ${where}: ${reason}`);
  if (url.username !== '' || url.password !== '')
    throw refuse('must not carry a user name or password (they belong in the secret fields)');
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (loopback && policy.allowHttpLoopback && (url.protocol === 'http:' || url.protocol === 'https:'))
    return url;
  if (url.protocol !== 'https:') {
    throw refuse(
      loopback
        ? 'plain http is allowed for a loopback host only with QUALYS_ALLOW_HTTP_LOOPBACK=true'
        : 'must use https',
    );
  }
  if (QUALYS_GATEWAY_HOSTS.includes(url.hostname) || policy.allowedHosts?.includes(url.hostname)) return url;
  throw refuse(
    'is not a Qualys API gateway (see "Qualys gateways" in the README); allow another host with QUALYS_ALLOWED_HOSTS',
  );
}

/** The redirect refused when `response` is a 3xx (a redirect is never followed: ./http.ts). */
export function refusedRedirect(
  endpoint: string,
  response: HttpResponse,
  requestUrl: URL,
): QualysRedirectError | undefined {
  if (response.status < 300 || response.status > 399) return undefined;
  const location = response.headers.get('location');
  let target: string | undefined;
  try {
    if (location !== null) {
      const url = new URL(location, requestUrl);
      target = `${url.protocol}//${url.host}`;
    }
  } catch {
    target = undefined;
  }
  return new QualysRedirectError(endpoint, response.status, target);
}
