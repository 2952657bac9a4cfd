import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SecurityLakeSource } from '../../../functions/security-lake/manifest';
import { providerRoleStore } from '../../../functions/security-lake/provider-role';

const sts = mockClient(STSClient);
const s3 = mockClient(S3Client);

const SOURCE: SecurityLakeSource = {
  bucket: 'aws-security-data-lake-eu-west-1-abc',
  prefix: 'ext/qualys-cdr/',
  roleArn: 'arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-qualys-cdr-eu-west-1',
  externalId: 'qualys-lake-7f3a',
};
const EXPIRATION = new Date('2025-05-10T13:00:00Z');

describe('the provider role', () => {
  beforeEach(() => {
    sts.reset();
    s3.reset();
  });

  it('is assumed with its external id, and the writes to the Security Lake bucket sign with its credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAPROVIDER',
        SecretAccessKey: 'provider-secret',
        SessionToken: 'provider-token',
        Expiration: EXPIRATION,
      },
    });
    s3.on(PutObjectCommand).resolves({});

    const store = await providerRoleStore(
      'detectionFinding',
      SOURCE,
      'eu-west-1',
      undefined,
      new STSClient({}),
    );
    await store.put('ext/qualys-cdr/region=eu-west-1/x.parquet', new Uint8Array([1]), {
      contentType: 'application/vnd.apache.parquet',
    });

    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toEqual([
      {
        RoleArn: SOURCE.roleArn,
        ExternalId: SOURCE.externalId,
        RoleSessionName: 'qualys-lake-detectionFinding',
      },
    ]);
    const [put] = s3.commandCalls(PutObjectCommand);
    expect(put?.args[0].input).toMatchObject({
      Bucket: SOURCE.bucket,
      Key: 'ext/qualys-cdr/region=eu-west-1/x.parquet',
    });
    const client = put?.thisValue as S3Client;
    expect(await client.config.credentials()).toMatchObject({
      accessKeyId: 'ASIAPROVIDER',
      secretAccessKey: 'provider-secret',
      sessionToken: 'provider-token',
      expiration: EXPIRATION,
    });
    expect(await client.config.region()).toBe('eu-west-1');
  });

  it('fails naming the role when STS returns no credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({});
    await expect(
      providerRoleStore('detectionFinding', SOURCE, 'eu-west-1', undefined, new STSClient({})),
    ).rejects.toThrow(`sts:AssumeRole on ${SOURCE.roleArn} returned no credentials`);
    expect(s3.calls()).toHaveLength(0);
  });
});
