import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManager } from './secrets-client';

const SHAPE = 'a JSON object {"baseUrl","username","password"}';

/** How long a secret read once is served from memory across warm invocations. */
export const SECRET_MAX_AGE_MS = 5 * 60_000;

/**
 * Reads the Qualys secret, cached for five minutes across warm invocations. `fresh` bypasses the
 * cache: the client asks for it after a failed login, which is how a rotated password is picked
 * up. Errors name the secret and why it could not be read (the SDK error's name), never its value.
 */
export function secretLoader(
  secretId: string,
  client: SecretsManagerClient = secretsManager,
): (fresh: boolean) => Promise<unknown> {
  let cached: { text: string; until: number } | undefined;
  const read = async (): Promise<string> => {
    let text: string | undefined;
    try {
      ({ SecretString: text } = await client.send(new GetSecretValueCommand({ SecretId: secretId })));
    } catch (error) {
      throw new Error(`could not read the Qualys secret ${secretId}: ${(error as Error).name}`, {
        cause: error,
      });
    }
    if (typeof text !== 'string')
      throw new Error(`the Qualys secret ${secretId} must be ${SHAPE} stored as a string`);
    return text;
  };
  return async (fresh) => {
    if (fresh || !cached || Date.now() >= cached.until) {
      cached = { text: await read(), until: Date.now() + SECRET_MAX_AGE_MS };
    }
    let value: unknown;
    try {
      value = JSON.parse(cached.text);
    } catch {
      throw new Error(`the Qualys secret ${secretId} is not JSON; it must be ${SHAPE}`);
    }
    if (!value || typeof value !== 'object')
      throw new Error(`the Qualys secret ${secretId} must be ${SHAPE}`);
    // The fields are checked once, by the Qualys session (CredentialsSchema), with the same care
    // never to quote a value.
    return value;
  };
}
