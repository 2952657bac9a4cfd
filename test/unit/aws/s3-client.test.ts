import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordingServer, startRecordingServer } from '../../support/recording-server';

describe('the S3 client the functions build', () => {
  let server: RecordingServer;
  let s3: typeof import('../../../functions/aws/s3-client').s3;
  const saved = { ...process.env };

  beforeAll(async () => {
    server = await startRecordingServer('');
    // The module builds its client at import, from the environment, as a Lambda does.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: server.url,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    ({ s3 } = await import('../../../functions/aws/s3-client'));
  });
  afterAll(async () => {
    s3.destroy();
    await server.close();
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  // A checksum on every PUT is what a bucket with S3 Object Lock requires, and objects stored with
  // it are checked on read with zlib's CRC32; the signature's SHA-256 alone satisfies neither.
  it('sends a PUT signed with the SHA-256 of its body and with its CRC32', async () => {
    const body = '{"uuid":"a"}\n{"uuid":"b"}\n';
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'one.json', Body: body }));
    const [put] = server.received.filter((request) => request.method === 'PUT');
    expect(put?.url).toBe('/lake/one.json?x-id=PutObject');
    expect(put?.body).toBe(body);
    expect(put?.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(put?.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
  });
});
