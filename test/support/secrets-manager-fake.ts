import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny Secrets Manager stand-in for local runs and tests: GetSecretValue over the AWS JSON 1.1
 * protocol, reached through AWS_ENDPOINT_URL_SECRETS_MANAGER. Secrets are matched by name or ARN.
 */
export interface SecretsManagerFake {
  url: string;
  arnOf(name: string): string;
  put(name: string, value: string): string;
  /** GetSecretValue calls served so far, per secret name. */
  reads: Record<string, number>;
  close(): Promise<void>;
}

export async function startSecretsManagerFake(region = 'us-east-1'): Promise<SecretsManagerFake> {
  const secrets = new Map<string, { value: string; version: number }>();
  const reads: Record<string, number> = {};
  const arnOf = (name: string) => `arn:aws:secretsmanager:${region}:000000000000:secret:${name}-AbCdEf`;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        return reply(400, {
          __type: 'UnknownOperationException',
          message: `${target} is not supported here`,
        });
      }
      let secretId = '';
      try {
        secretId = String(
          (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: unknown }).SecretId ?? '',
        );
      } catch {
        return reply(400, { __type: 'InvalidRequestException', message: 'body is not JSON' });
      }
      const name = [...secrets.keys()].find(
        (candidate) => candidate === secretId || arnOf(candidate) === secretId,
      );
      const secret = name === undefined ? undefined : secrets.get(name);
      if (name === undefined || !secret) {
        return reply(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
      }
      reads[name] = (reads[name] ?? 0) + 1;
      reply(200, {
        ARN: arnOf(name),
        Name: name,
        SecretString: secret.value,
        VersionId: `v${secret.version}`,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arnOf,
    reads,
    put(name, value) {
      secrets.set(name, { value, version: (secrets.get(name)?.version ?? 0) + 1 });
      return arnOf(name);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
