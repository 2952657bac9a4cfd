import { crc32 } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3Store } from '../../../functions/aws/s3-store';

const s3 = mockClient(S3Client);
const store = () => new S3Store(new S3Client({ region: 'us-east-1' }), 'archive');

const serviceError = (name: string, status: number, message: string) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
const noSuchKey = () => serviceError('NoSuchKey', 404, 'x');
const accessDenied = () => serviceError('AccessDenied', 403, 'Access Denied');
const serverError = () => serviceError('InternalError', 500, 'We encountered an internal error');

describe('S3Store reading objects that may not exist', () => {
  beforeEach(() => {
    s3.reset();
  });

  it('reads a missing key as undefined when S3 answers 404', async () => {
    s3.on(GetObjectCommand).rejects(noSuchKey());
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

describe('S3Store bound to an invocation', () => {
  beforeEach(() => {
    s3.reset();
  });

  it('passes the abort signal to every request it sends', async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(HeadObjectCommand).resolves({});
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'state/a' }] });
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const invocation = new AbortController();
    const bound = new S3Store(new S3Client({ region: 'us-east-1' }), 'archive', {
      signal: invocation.signal,
    });
    await bound.put('state/a', '{}', { contentType: 'application/json' });
    await bound.get('state/b');
    await bound.exists('state/a');
    for await (const _key of bound.list('state/')) {
      // listing only
    }
    const calls = s3.calls();
    expect(calls).toHaveLength(4);
    for (const call of calls) {
      expect((call.args as unknown[])[1]).toEqual({ abortSignal: invocation.signal });
    }
  });

  it('starts no upload once the invocation is aborted', async () => {
    const invocation = new AbortController();
    invocation.abort(new Error('the Lambda deadline is near'));
    const bound = new S3Store(new S3Client({ region: 'us-east-1' }), 'archive', {
      signal: invocation.signal,
    });
    const body = (async function* () {
      yield new Uint8Array([1, 2, 3]);
    })();
    await expect(bound.upload('reports/x', body, { contentType: 'text/csv' })).rejects.toThrow(
      'deadline is near',
    );
    expect(s3.calls()).toHaveLength(0);
  });

  it('stops an upload in progress when the invocation is aborted', async () => {
    s3.on(PutObjectCommand).resolves({});
    const invocation = new AbortController();
    const bound = new S3Store(new S3Client({ region: 'us-east-1' }), 'archive', {
      signal: invocation.signal,
    });
    const body = (async function* () {
      yield new Uint8Array([1, 2, 3]);
      invocation.abort(new Error('the Lambda deadline is near'));
      yield new Uint8Array([4, 5, 6]);
    })();
    await expect(bound.upload('reports/x', body, { contentType: 'text/csv' })).rejects.toThrow();
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('S3Store writing an object given in parts', () => {
  beforeEach(() => {
    s3.reset();
  });

  const parts = [Buffer.from('QLS1'), Buffer.alloc(20_000, 7), Buffer.from('tail')];
  const whole = Buffer.concat(parts);

  /** The body of each PutObject sent, read back whole. */
  async function bodiesSent(): Promise<Buffer[]> {
    const bodies: Buffer[] = [];
    for (const call of s3.commandCalls(PutObjectCommand)) {
      const chunks: Buffer[] = [];
      for await (const chunk of call.args[0].input.Body as AsyncIterable<Buffer>) chunks.push(chunk);
      bodies.push(Buffer.concat(chunks));
    }
    return bodies;
  }

  it('streams the parts back to back with their length and CRC32, so nothing is joined or chunk-encoded', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().put('state/cdr-findings/seen/dt=2025-05-09.bin', parts, {
      contentType: 'application/octet-stream',
    });
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ ContentLength: whole.byteLength, ContentType: 'application/octet-stream' });
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(whole));
    expect(input?.ChecksumCRC32).toBe(crc.toString('base64'));
    expect(await bodiesSent()).toEqual([whole]);
  });

  it('sends the whole object again after a server error, and gives up on a refusal', async () => {
    s3.on(PutObjectCommand).rejectsOnce(serverError()).resolves({});
    await store().put('state/a.bin', parts, { contentType: 'application/octet-stream' });
    expect(await bodiesSent()).toEqual([whole, whole]);

    s3.reset();
    s3.on(PutObjectCommand).rejects(accessDenied());
    await expect(
      store().put('state/a.bin', parts, { contentType: 'application/octet-stream' }),
    ).rejects.toThrow('Access Denied');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
  });
});
