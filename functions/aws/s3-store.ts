import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStore, PutBody, PutOptions } from '../core/ports';
import { isAbsent } from './s3-absent';

export interface S3StoreOptions {
  /** Part size for streamed uploads; S3's minimum is 5 MiB. @default 8 MiB */
  partSize?: number;
  /** The invocation's abort signal: every request to S3 stops with it. */
  signal?: AbortSignal;
}

/** Attempts at a put of parts, as the SDK's default (3) for other requests. */
const PARTS_ATTEMPTS = 3;

/** What the SDK would retry: no answer, throttling, or a server error; not a refusal (4xx). */
function worthRetrying(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === undefined || status === 429 || status >= 500;
}

/** {@link ObjectStore} on one S3 bucket. Objects are encrypted by the bucket's default encryption. */
export class S3Store implements ObjectStore {
  private readonly partSize: number;
  private readonly signal?: AbortSignal;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    options: S3StoreOptions = {},
  ) {
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    this.signal = options.signal;
  }

  /** Options of every `send`: the abort signal. */
  private get sendOptions() {
    return { abortSignal: this.signal };
  }

  async put(key: string, body: PutBody, options: PutOptions): Promise<void> {
    const object = {
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      ContentEncoding: options.contentEncoding,
      Metadata: options.metadata,
    };
    if (typeof body === 'string' || body instanceof Uint8Array) {
      await this.client.send(new PutObjectCommand({ ...object, Body: body }), this.sendOptions);
      return;
    }
    // Parts go out as one stream of known length, so they are never joined in memory. With its
    // checksum given, the SDK sends the stream as it is (not aws-chunked); it never retries a
    // stream, so a failed attempt is sent again here, from the start, as the SDK would a buffer.
    const length = body.reduce((sum, part) => sum + part.byteLength, 0);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(body.reduce((crc, part) => crc32(part, crc), 0));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            ...object,
            Body: Readable.from(body, { objectMode: false }),
            ContentLength: length,
            ChecksumCRC32: checksum.toString('base64'),
          }),
          this.sendOptions,
        );
        return;
      } catch (error) {
        if (attempt >= PARTS_ATTEMPTS || this.signal?.aborted || !worthRetrying(error)) throw error;
        await sleep(100 * 2 ** attempt, undefined, { signal: this.signal });
      }
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key }),
        this.sendOptions,
      );
      return response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (await isAbsent(this.client, this.bucket, key, error)) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), this.sendOptions);
      return true;
    } catch (error) {
      if (await isAbsent(this.client, this.bucket, key, error)) return false;
      throw error;
    }
  }

  async upload(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions,
  ): Promise<{ bytes: number }> {
    // Loaded on the first streamed upload, not at import: only sdr-reports streams, and the bundle
    // keeps lib-storage in a chunk of its own (lib/bundle.ts), so no other cold start parses it.
    const { Upload } = await import('@aws-sdk/lib-storage');
    let bytes = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.byteLength;
          yield chunk;
        }
      })(),
    );
    // lib-storage sends one PUT for a body under one part and a multipart upload otherwise; a
    // failed multipart upload is aborted, so no partial object is ever visible under `key`.
    this.signal?.throwIfAborted();
    const abortController = new AbortController();
    const abort = () => abortController.abort(this.signal?.reason);
    this.signal?.addEventListener('abort', abort, { once: true });
    const upload = new Upload({
      abortController,
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: counted,
        ContentType: options.contentType,
        ContentEncoding: options.contentEncoding,
        Metadata: options.metadata,
      },
      partSize: this.partSize,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } finally {
      this.signal?.removeEventListener('abort', abort);
    }
    return { bytes };
  }

  async delete(keys: readonly string[]): Promise<void> {
    // DeleteObjects takes at most 1,000 keys; it answers 200 with per-key errors, checked here.
    for (let start = 0; start < keys.length; start += 1000) {
      const response = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(start, start + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
        this.sendOptions,
      );
      const failed = response.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        throw new Error(
          `S3 did not delete ${failed.length} object(s), e.g. ${first?.Key}: ${first?.Code} ${first?.Message ?? ''}`.trim(),
        );
      }
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const response = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        this.sendOptions,
      );
      for (const item of response.Contents ?? []) if (item.Key) yield item.Key;
      if (!response.IsTruncated || !response.NextContinuationToken) return;
      token = response.NextContinuationToken;
    }
  }
}
