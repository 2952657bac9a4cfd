import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

const SHAPE = 'a JSON object {"baseUrl","username","password"}';

/**
 * Reads the Qualys secret through Powertools Parameters, cached for five minutes across warm
 * invocations. `fresh` bypasses the cache: the client asks for it after a failed login, which
 * is how a rotated password is picked up. Errors name the secret, never its value.
 */
export function secretLoader(secretId: string): (fresh: boolean) => Promise<unknown> {
  return async (fresh) => {
    let text: unknown;
    try {
      text = await getSecret(secretId, { maxAge: 300, forceFetch: fresh });
    } catch (error) {
      // Powertools wraps the SDK error; its cause says whether the secret is missing or access is denied.
      const cause = (error as Error).cause as Error | undefined;
      throw new Error(
        `could not read the Qualys secret ${secretId}: ${cause?.name ?? (error as Error).name}`,
        {
          cause: error,
        },
      );
    }
    if (typeof text !== 'string')
      throw new Error(`the Qualys secret ${secretId} must be ${SHAPE} stored as a string`);
    let value: unknown;
    try {
      value = JSON.parse(text);
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
