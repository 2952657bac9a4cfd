import { describe, expect, it } from 'vitest';
import { QualysClient, type QualysCredentials } from '../../../functions/qualys/client';
import { PageSchema } from '../../../functions/qualys/schemas';
import { FakeQualys } from '../support/fake-qualys';

/**
 * BUG: a secret whose password is a JSON number (`"password": 20250509`, easy to type in the
 * console's plaintext editor) makes the client throw "the Qualys secret is not valid:
 * password: Invalid type: Expected string but received 20250509" — the password itself ends up in
 * the error message, hence in CloudWatch Logs and the Lambda error result.
 * Cause: CredentialsSchema uses `v.string()` without a custom message, and describeIssues copies
 * valibot's default message, which quotes the received value.
 */
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
