import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { requestHandlerTimeouts } from '../aws/client-timeouts';
import { S3_REQUEST_TIMEOUT_MS } from '../aws/s3-client';
import { S3Store } from '../aws/s3-store';
import type { ObjectStore } from '../core/ports';
import type { SecurityLakeClass, SecurityLakeSource } from './manifest';

/** STS, built once per execution environment (the function's own role calls AssumeRole). */
export const sts = new STSClient({ requestHandler: requestHandlerTimeouts(10_000) });

/**
 * The Security Lake bucket as one custom source's provider role may write it: sts:AssumeRole on the
 * role Security Lake created for the source, with the external id given when the source was
 * created, and an S3 client (in the bucket's region) that signs with the temporary credentials.
 * The function's own role has no access to the Security Lake bucket.
 */
export async function providerRoleStore(
  name: SecurityLakeClass,
  source: SecurityLakeSource,
  region: string,
  signal: AbortSignal | undefined,
  client: STSClient = sts,
): Promise<ObjectStore> {
  const { Credentials: credentials } = await client.send(
    new AssumeRoleCommand({
      RoleArn: source.roleArn,
      ExternalId: source.externalId,
      RoleSessionName: `qualys-lake-${name}`,
    }),
    { abortSignal: signal },
  );
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey) {
    throw new Error(`sts:AssumeRole on ${source.roleArn} returned no credentials`);
  }
  const s3 = new S3Client({
    region,
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
    requestHandler: requestHandlerTimeouts(S3_REQUEST_TIMEOUT_MS),
    credentials: {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
      expiration: credentials.Expiration,
    },
  });
  return new S3Store(s3, source.bucket, { signal });
}
