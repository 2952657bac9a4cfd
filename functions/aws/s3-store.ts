import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, PutOptions } from '../core/ports';
import { isAbsent } from './s3-absent';

/** {@link ObjectStore} on one S3 bucket. Objects are encrypted by the bucket's default encryption. */
export class S3Store implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Part size for streamed uploads; S3's minimum is 5 MiB. */
    private readonly partSize = 8 * 1024 * 1024,
  ) {}

  async put(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        ContentEncoding: options.contentEncoding,
        Metadata: options.metadata,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (await isAbsent(this.client, this.bucket, key, error)) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
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
    const upload = new Upload({
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
    await upload.done();
    return { bytes };
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const response = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of response.Contents ?? []) if (item.Key) yield item.Key;
      if (!response.IsTruncated || !response.NextContinuationToken) return;
      token = response.NextContinuationToken;
    }
  }
}
