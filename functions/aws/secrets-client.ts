import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requestHandlerTimeouts } from './client-timeouts';

/** Secrets Manager: one GetSecretValue of a small secret. */
export const SECRETS_REQUEST_TIMEOUT_MS = 5_000;

/**
 * The Secrets Manager client, built once per execution environment with the SDK's default
 * configuration, so AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER can point it at an emulator.
 */
export const secretsManager = new SecretsManagerClient({
  requestHandler: requestHandlerTimeouts(SECRETS_REQUEST_TIMEOUT_MS),
});
