import { createHash } from 'node:crypto';
import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientConfig } from '../../../functions/aws/s3-client';
import { type RecordingServer, startRecordingServer } from '../../support/recording-server';

describe('the S3 client the functions build', () => {
  let server: RecordingServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startRecordingServer(
      '<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>',
    );
    client = new S3Client({
      ...s3ClientConfig(),
      endpoint: server.url,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  it('signs a PUT with the SHA-256 of its body and adds no CRC32 of its own', async () => {
    const body = '{"uuid":"a"}\n{"uuid":"b"}\n';
    for (const key of ['one.json', 'two.json']) {
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body }));
    }
    const puts = server.received.filter((request) => request.method === 'PUT');
    expect(puts.map((request) => request.url)).toEqual([
      '/lake/one.json?x-id=PutObject',
      '/lake/two.json?x-id=PutObject',
    ]);
    for (const put of puts) {
      expect(put.body).toBe(body);
      expect(put.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
      expect(Object.keys(put.headers).filter((name) => name.startsWith('x-amz-checksum-'))).toEqual([]);
      expect(put.headers['x-amz-sdk-checksum-algorithm']).toBeUndefined();
    }
  });

  it('still sends the checksum S3 requires of a DeleteObjects', async () => {
    await client.send(
      new DeleteObjectsCommand({ Bucket: 'lake', Delete: { Objects: [{ Key: 'one.json' }] } }),
    );
    const deleted = server.received.find((request) => request.method === 'POST');
    const checksums = Object.keys(deleted?.headers ?? {}).filter(
      (name) => name.startsWith('x-amz-checksum-') || name === 'content-md5',
    );
    expect(checksums.length).toBeGreaterThan(0);
  });

  it('resolves its middleware once per command class, not on every send', () => {
    expect(client.config.cacheMiddleware).toBe(true);
  });
});
