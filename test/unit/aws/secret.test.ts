import 'aws-sdk-client-mock-vitest/extend';
import {
  DecryptionFailure,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SECRET_MAX_AGE_MS, secretLoader } from '../../../functions/aws/secret';

const SECRET_ID = 'qualys-lake/qualys-api';
const secretsManager = mockClient(SecretsManagerClient);
const creds = (password: string) =>
  JSON.stringify({ baseUrl: 'https://gateway.qg1.apps.qualys.com', username: 'api-user', password });

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the secret read to fail');
}

describe('secretLoader', () => {
  beforeEach(() => {
    secretsManager.reset();
    process.env.AWS_REGION ??= 'us-east-1';
  });

  it('returns the parsed credentials of the secret', async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: SECRET_ID })
      .resolves({ SecretString: creds('s3cret-1') });

    await expect(secretLoader(SECRET_ID)(false)).resolves.toEqual({
      baseUrl: 'https://gateway.qg1.apps.qualys.com',
      username: 'api-user',
      password: 's3cret-1',
    });
  });

  it('serves warm reads from its cache and reads again when asked for a fresh value (rotation)', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: creds('before') })
      .resolves({
        SecretString: creds('after-rotation'),
      });
    const loader = secretLoader(SECRET_ID);
    const load = async (fresh: boolean) => (await loader(fresh)) as { password: string };

    expect((await load(false)).password).toBe('before');
    expect((await load(false)).password).toBe('before');
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect((await load(true)).password).toBe('after-rotation');
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  describe('after five minutes', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('reads the secret again', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      secretsManager
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: creds('before') })
        .resolves({ SecretString: creds('after-rotation') });
      const loader = secretLoader(SECRET_ID);
      const load = async () => ((await loader(false)) as { password: string }).password;

      expect(await load()).toBe('before');
      vi.advanceTimersByTime(SECRET_MAX_AGE_MS - 1);
      expect(await load()).toBe('before');
      vi.advanceTimersByTime(1);
      expect(await load()).toBe('after-rotation');
      expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });
  });

  it('refuses a secret that is not JSON without quoting it', async () => {
    const plain = 'api-user:Plain-Text-Password-99';
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: plain });

    const error = await failure(secretLoader(SECRET_ID)(false));
    expect(error.message).toContain(SECRET_ID);
    expect(error.message).toMatch(/JSON/);
    expect(error.message).not.toContain('Plain-Text-Password-99');
    expect(error.message).not.toContain(plain);
  });

  it('refuses JSON that is not an object without quoting it', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: '"Quoted-Password-77"' });

    const error = await failure(secretLoader(SECRET_ID)(false));
    expect(error.message).toContain(SECRET_ID);
    expect(error.message).not.toContain('Quoted-Password-77');
  });
});

// The error must say why the read failed (missing secret, KMS, IAM).
describe('secretLoader when Secrets Manager refuses', () => {
  beforeEach(() => {
    secretsManager.reset();
    process.env.AWS_REGION ??= 'us-east-1';
  });

  it.each([
    [
      'ResourceNotFoundException',
      new ResourceNotFoundException({ message: "can't find the secret", $metadata: {} }),
    ],
    ['DecryptionFailure', new DecryptionFailure({ message: 'no kms:Decrypt on the key', $metadata: {} })],
    [
      'AccessDeniedException',
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'not authorized to perform secretsmanager:GetSecretValue',
        $metadata: {},
      }),
    ],
  ])('says why the secret could not be read (%s)', async (name, awsError) => {
    secretsManager.on(GetSecretValueCommand).rejects(awsError);

    const error = await failure(secretLoader(SECRET_ID)(false));
    expect(error.message).toContain(SECRET_ID);
    expect(error.message).toContain(name);
  });
});
