/**
 * The CPU floor of ingesting CDR findings (issue 10): on the raw pages a collector run received,
 * the least any collector must do with them: decode the bytes, JSON.parse the page, write its
 * findings as NDJSON (JSON.stringify per finding) and gzip that at level 6 (zlib's default, as
 * the collector gzips its curated objects; it archives the raw page at level 3). Fetching the archived page from S3 and un-gzipping the archive copy
 * are outside the timed part: the collector got those bytes off the wire.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface FloorRequest {
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
}

export interface FloorResult {
  pages: number;
  findings: number;
  cpuMs: number;
  wallMs: number;
}

export async function floor({ endpoint, region, bucket, prefix }: FloorRequest): Promise<FloorResult> {
  // Imported here so the collector's process never loads a second S3 client.
  const { GetObjectCommand, ListObjectsV2Command, S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const keys: string[] = [];
  let token: string | undefined;
  for (let listing = 0; listing < 10_000; listing++) {
    const answer = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(answer.Contents ?? []).flatMap((item) => (item.Key ? [item.Key] : [])));
    if (!answer.IsTruncated) break;
    token = answer.NextContinuationToken;
  }
  const decoder = new TextDecoder();
  const result: FloorResult = { pages: 0, findings: 0, cpuMs: 0, wallMs: 0 };
  for (const key of keys.filter((name) => !name.includes('/unreadable/'))) {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const raw = gunzipSync(await (answer.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    const cpu = process.cpuUsage();
    const started = performance.now();
    const page = JSON.parse(decoder.decode(raw)) as { content?: unknown[] };
    const content = page.content ?? [];
    const ndjson = `${content.map((finding) => JSON.stringify(finding)).join('\n')}\n`;
    gzipSync(ndjson, { level: 6 });
    result.wallMs += performance.now() - started;
    const used = process.cpuUsage(cpu);
    result.cpuMs += (used.user + used.system) / 1000;
    result.pages++;
    result.findings += content.length;
  }
  s3.destroy();
  return result;
}
