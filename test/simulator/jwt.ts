import { createHmac, timingSafeEqual } from 'node:crypto';

export interface JwtClaims {
  iss: string;
  sub: string;
  /** Serial number of the token; expireTokens() invalidates every serial issued so far. */
  jti: string;
  iat: number;
  exp: number;
  [claim: string]: unknown;
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Returns the claims when the signature is valid (expiry is checked by the caller), else undefined. */
export function verifyJwt(token: string, secret: string): JwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JwtClaims;
    return typeof claims.exp === 'number' && typeof claims.jti === 'string' ? claims : undefined;
  } catch {
    return undefined;
  }
}
