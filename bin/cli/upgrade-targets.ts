import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

/** One object as the upgrade compares it: its size and a digest of its content where one is known. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** S3's ETag (an MD5 of the content for an object sent in one part), or the MD5 of a file. */
  etag?: string;
}

/** The lake the upgrade works on: a bucket (server-side copies) or a local folder (file copies). */
export interface UpgradeTarget {
  /** `s3://bucket` or the folder, for what is printed. */
  readonly where: string;
  /** Every object under `prefix`, with its size and digest. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  head(key: string): Promise<ObjectInfo | undefined>;
  copy(from: string, to: string): Promise<void>;
  put(key: string, body: string): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
}

/** DeleteObjects takes at most 1,000 keys (Amazon S3 API reference, DeleteObjects). */
const DELETE_BATCH = 1000;
/** ListObjectsV2 pages followed at most: 10 million objects. */
const MAX_LIST_PAGES = 10_000;

const isNotFound = (error: unknown) => {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NotFound' || name === 'NoSuchKey' || $metadata?.httpStatusCode === 404;
};

/** A deployed stack's archive bucket, with the caller's AWS credentials. */
export function bucketTarget(bucket: string, client: S3Client = new S3Client({})): UpgradeTarget {
  return {
    where: `s3://${bucket}`,
    async *list(prefix) {
      let token: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const answer = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const item of answer.Contents ?? []) {
          if (item.Key) yield { key: item.Key, size: item.Size ?? 0, etag: item.ETag };
        }
        if (!answer.IsTruncated) return;
        token = answer.NextContinuationToken;
      }
      throw new Error(`s3://${bucket}/${prefix} lists more than ${MAX_LIST_PAGES} pages`);
    },
    async head(key) {
      try {
        const answer = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { key, size: answer.ContentLength ?? 0, etag: answer.ETag };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async copy(from, to) {
      // Server-side, with the object's metadata, content type and encoding (MetadataDirective COPY).
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: to,
          CopySource: `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    },
    async put(key, body) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
      );
    },
    async delete(keys) {
      for (let start = 0; start < keys.length; start += DELETE_BATCH) {
        const batch = keys.slice(start, start + DELETE_BATCH);
        const answer = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = answer.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(
            `could not delete ${failed.length} legacy object(s), first ${failed[0]?.Key}: ${failed[0]?.Code}`,
          );
        }
      }
    },
  };
}

/** A local lake (`npm start`'s ./local-lake, or any folder with the bucket's layout). */
export function folderTarget(dir: string): UpgradeTarget {
  const file = (key: string) => path.join(dir, ...key.split('/'));
  const info = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      const bytes = await readFile(file(key));
      return { key, size: bytes.byteLength, etag: createHash('md5').update(bytes).digest('hex') };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  async function* walk(folder: string, key: string): AsyncIterable<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) yield* walk(path.join(folder, entry.name), `${key}${entry.name}/`);
      else if (entry.isFile()) yield `${key}${entry.name}`;
    }
  }
  return {
    where: dir,
    async *list(prefix) {
      // Prefixes the upgrade lists are folders (`state/`, `curated/`, `reports/`).
      for await (const key of walk(file(prefix), prefix)) {
        const found = await info(key);
        if (found) yield found;
      }
    },
    head: info,
    async copy(from, to) {
      await mkdir(path.dirname(file(to)), { recursive: true });
      await copyFile(file(from), file(to));
    },
    async put(key, body) {
      await mkdir(path.dirname(file(key)), { recursive: true });
      await writeFile(file(key), body);
    },
    async delete(keys) {
      for (const key of keys) await rm(file(key), { force: true });
    },
  };
}

/** Whether the folder exists and is one (for a clear error before anything is listed). */
export async function isFolder(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}
