import { clearCaches } from '@aws-lambda-powertools/parameters';
import {
  DecryptionFailure,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { secretLoader } from '../../../functions/aws/secret';

/**
 * BUG: when the secret cannot be read, the error only says "GetParameterError" — the name of
 * Powertools' wrapper — so the operator cannot tell a missing secret from a missing IAM or KMS
 * permission. The AWS error is on `error.cause`, which secretLoader drops.
 */
const SECRET_ID = 'qualys-lake/qualys-api';
const secretsManager = mockClient(SecretsManagerClient);

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the secret read to fail');
}

describe('secretLoader when Secrets Manager refuses', () => {
  beforeEach(() => {
    secretsManager.reset();
    clearCaches();
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
