import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client } from '@aws-sdk/client-s3';

/** Where `status` and `query` read the lake from: a deployed bucket or the local mirror. */
export interface LakeSource {
  /** For the report's first line: `s3://bucket` or the folder. */
  readonly where: string;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys under `prefix`, at most `limit` (a count, not a listing of the whole lake). */
  list(prefix: string, limit?: number): Promise<string[]>;
}

/** The local lake `npm start` mirrors to ./local-lake (or any folder with the bucket's layout). */
export function localSource(dir: string): LakeSource {
  if (!existsSync(dir))
    throw new Error(`no local lake at ${dir}: run \`npm start\` first, or name the folder`);
  return {
    where: dir,
    async get(key) {
      try {
        return new Uint8Array(await readFile(path.join(dir, ...key.split('/'))));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async list(prefix, limit = 10_000) {
      const folder = path.join(dir, ...prefix.split('/').filter(Boolean));
      const keys: string[] = [];
      const walk = async (at: string, key: string): Promise<void> => {
        let entries: import('node:fs').Dirent[];
        try {
          entries = await readdir(at, { withFileTypes: true });
        } catch {
          return;
        }
        for (const entry of entries) {
          if (keys.length >= limit) return;
          if (entry.isDirectory()) await walk(path.join(at, entry.name), `${key}${entry.name}/`);
          else keys.push(`${key}${entry.name}`);
        }
      };
      await walk(folder, prefix.endsWith('/') ? prefix : `${prefix}/`);
      return keys;
    },
  };
}

/** A deployed stack's bucket, read with the caller's AWS credentials (read-only calls). */
export function bucketSource(bucket: string, client: S3Client = new S3Client({})): LakeSource {
  return {
    where: `s3://${bucket}`,
    async get(key) {
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return answer.Body ? await answer.Body.transformToByteArray() : undefined;
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw new Error(`could not read s3://${bucket}/${key}: ${(error as Error).name}`, { cause: error });
      }
    },
    async list(prefix, limit = 10_000) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const item of page.Contents ?? []) if (item.Key && keys.length < limit) keys.push(item.Key);
        token = page.IsTruncated && keys.length < limit ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
  };
}

export async function readJsonObject<T>(source: LakeSource, key: string): Promise<T | undefined> {
  const bytes = await source.get(key);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new Error(`${source.where}/${key} is not JSON`);
  }
}
