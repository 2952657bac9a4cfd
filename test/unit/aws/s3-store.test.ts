import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3Store } from '../../../functions/aws/s3-store';

const s3 = mockClient(S3Client);
const store = () => new S3Store(new S3Client({ region: 'us-east-1' }), 'archive');

const accessDenied = () =>
  new S3ServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'Access Denied',
  });

describe('S3Store reading objects that may not exist', () => {
  beforeEach(() => {
    s3.reset();
  });

  it('reads a missing key as undefined when S3 answers 404', async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'NoSuchKey',
        $fault: 'client',
        $metadata: { httpStatusCode: 404 },
        message: 'x',
      }),
    );
    expect(await store().get('state/cdr-findings/checkpoint.json')).toBeUndefined();
  });

  it('reads a missing key as undefined when S3 answers 403 for want of bucket-wide listing', async () => {
    s3.on(GetObjectCommand).rejects(accessDenied());
    s3.on(HeadObjectCommand).rejects(accessDenied());
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    expect(await store().get('state/cdr-findings/checkpoint.json')).toBeUndefined();
    expect(await store().exists('reports/sdr-reports/x/metadata.json')).toBe(false);
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Prefix: 'state/cdr-findings/checkpoint.json',
    });
  });

  it('keeps a real permission error when the key exists', async () => {
    s3.on(GetObjectCommand).rejects(accessDenied());
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'state/cdr-findings/checkpoint.json' }] });
    await expect(store().get('state/cdr-findings/checkpoint.json')).rejects.toThrow('Access Denied');
  });
});
