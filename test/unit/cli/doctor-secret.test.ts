import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subscriptionSecretId } from '../../../bin/cli/doctor-secret';
import { main } from '../../../bin/cli/main';

/** The outputs `cdk deploy --outputs-file` writes for a stack of two subscriptions. */
const OUTPUTS = {
  SubscriptionNames: 'prod,emea',
  prodQualysSecretName: 'qualys-lake/prod',
  emeaQualysSecretName: 'qualys-lake/emea',
  prodCdrFindingsFunctionName: 'qualys-lake-prod-cdr-findings',
};

describe('subscriptionSecretId', () => {
  it("reads the named subscription's secret from the stack outputs", () => {
    expect(subscriptionSecretId('emea', OUTPUTS, 'cdk-outputs.json')).toBe('qualys-lake/emea');
    expect(subscriptionSecretId('prod', OUTPUTS, 'cdk-outputs.json')).toBe('qualys-lake/prod');
    expect(
      subscriptionSecretId('default', { SubscriptionNames: 'default', QualysSecretName: 'q' }, 'f'),
    ).toBe('q');
  });

  it('refuses a subscription the stack lacks, and says where to find a secret it cannot', () => {
    expect(() => subscriptionSecretId('apac', OUTPUTS, 'cdk-outputs.json')).toThrow(
      'no subscription "apac" in this stack; it serves prod, emea',
    );
    expect(() => subscriptionSecretId('prod', {}, 'out.json')).toThrow(
      'the stack outputs (out.json) name no secret of subscription "prod" (output prodQualysSecretName)',
    );
  });
});

describe('qualys-lake doctor --subscription', () => {
  const secrets = mockClient(SecretsManagerClient);
  let dir: string;
  beforeEach(async () => {
    secrets.reset();
    dir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-doctor-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const doctor = async (...flags: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['node', 'qualys-lake', 'doctor', '--no-cdr', '--no-saasdr', ...flags],
      (text) => out.push(text),
      (text) => err.push(text),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it("checks the subscription's own secret, and --secret-id still wins", async () => {
    const outputs = path.join(dir, 'outputs.json');
    await writeFile(outputs, JSON.stringify({ QualysLake: OUTPUTS }));
    secrets.on(GetSecretValueCommand).resolves({
      // A host no gateway check accepts: the check stops before any network call.
      SecretString: JSON.stringify({ baseUrl: 'https://qualys.example.test', username: 'u', password: 'p' }),
    });
    const result = await doctor('--subscription', 'emea', '--outputs', outputs);
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).toEqual([
      'qualys-lake/emea',
    ]);
    expect(result.code).toBe(1);
    expect(result.out).toContain('qualys.example.test');

    await doctor('--subscription', 'emea', '--outputs', outputs, '--secret-id', 'other/secret');
    expect(secrets.commandCalls(GetSecretValueCommand).at(-1)?.args[0].input.SecretId).toBe('other/secret');
  });

  it('is a usage error (exit 2) for a subscription the outputs do not know', async () => {
    const outputs = path.join(dir, 'outputs.json');
    await writeFile(outputs, JSON.stringify({ QualysLake: OUTPUTS }));
    const result = await doctor('--subscription', 'apac', '--outputs', outputs);
    expect(result.code).toBe(2);
    expect(result.err).toContain('no subscription "apac" in this stack');
    expect(secrets.commandCalls(GetSecretValueCommand)).toEqual([]);
  });
});
