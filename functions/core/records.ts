import { promisify } from 'node:util';
import { gunzipSync, gzip as gzipCallback, gzipSync } from 'node:zlib';
import type { ObjectStore } from './ports';
import { keyInBucket } from './scoped-store';

/** Encodes records as gzip-compressed NDJSON: one JSON object per line, Athena's JSON SerDe input. */
export function toNdjsonGzip(records: readonly unknown[]): Uint8Array {
  return gzipSync(toNdjson(records));
}

/** Lines are written here, then copied out at their size: it grows to the largest page and stays. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The NDJSON of `records` (with `extra`'s fields on each line, as `{ ...record, ...extra }`) as
 * bytes of its own, written line by line instead of joined into one string first: a page of
 * findings is a megabyte, and a string that size (and the flat copy zlib would make of it) is
 * allocated straight in V8's old generation, which then needs full collections far more often
 * (README "Benchmarks").
 */
export function toNdjson(records: readonly unknown[], extra?: Record<string, unknown>): Buffer {
  const line = extra ? withFields(extra) : (record: unknown) => JSON.stringify(record);
  let length = 0;
  const write = (text: string) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; Buffer#write would cut a longer text short.
    const most = length + text.length * 3;
    if (most > scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * scratch.length, most));
      scratch.copy(grown, 0, 0, length);
      scratch = grown;
    }
    length += scratch.write(text, length, 'utf8');
  };
  for (const record of records) {
    write(line(record));
    write('\n');
  }
  return Buffer.from(scratch.subarray(0, length));
}

/**
 * The JSON of `{ ...record, ...extra }` without copying the record: its JSON with extra's appended
 * before the closing brace (a page of findings is copied and collected once less). A record that
 * already has one of extra's fields, or is not a plain object, is spread as written.
 */
function withFields(extra: Record<string, unknown>): (record: unknown) => string {
  const names = Object.keys(extra);
  const fields = JSON.stringify(extra).slice(1, -1);
  return (record) => {
    if (fields === '' || !isPlainRecord(record) || names.some((name) => Object.hasOwn(record, name)))
      return JSON.stringify({ ...(record as object), ...extra });
    const text = JSON.stringify(record);
    return text === '{}' ? `{${fields}}` : `${text.slice(0, -1)},${fields}}`;
  };
}

/** An object whose JSON is its own enumerable fields (as JSON.parse makes them): no toJSON, no class. */
function isPlainRecord(record: unknown): record is Record<string, unknown> {
  if (typeof record !== 'object' || record === null) return false;
  const prototype = Object.getPrototypeOf(record);
  return (prototype === Object.prototype || prototype === null) && !('toJSON' in record);
}

export function fromNdjsonGzip(bytes: Uint8Array): unknown[] {
  return gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

export const gzip = (bytes: Uint8Array | string): Uint8Array => gzipSync(bytes);

const gzipInPool = promisify(gzipCallback);
const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;

/**
 * gzip in zlib's thread pool: the event loop stays free for the calls in flight. The output buffer
 * is sized from the input (a quarter of it, 16 KiB to 1 MiB; JSON shrinks far more) rather than
 * zlib's 16 KiB: each time it fills, the thread pool hands back to the event loop and is given the
 * next one, and for a page of a megabyte that round trip cost about as much CPU on the event loop
 * as the rest of the page's gzip did there, and a fifth more in all (README "Benchmarks").
 */
export const gzipAsync = async (bytes: Uint8Array | string, level?: number): Promise<Uint8Array> => {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  const chunkSize = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(size / 4)));
  // An undefined level is zlib's default (6).
  return gzipInPool(bytes, { level, chunkSize });
};

/**
 * {@link gzipAsync} started now and awaited later (while other work goes on): a failure before
 * the await must not become an unhandled rejection; the await still sees it.
 */
export function gzipAhead(bytes: Uint8Array | string): Promise<Uint8Array> {
  const gzipped = gzipAsync(bytes);
  gzipped.catch(() => undefined);
  return gzipped;
}

/**
 * gzip level of raw pages as served (README "Benchmarks"): the archive is read back rarely (a
 * replay, an audit), so it is compressed at 3, which costs less than half of zlib's default 6 for
 * about a quarter more bytes on CDR pages; curated objects, which Athena scans, stay at 6.
 */
export const RAW_GZIP_LEVEL = 3;

/** Reads a JSON state object (gzip or plain), or undefined when it does not exist. */
export async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  if (!bytes) return undefined;
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const text = (isGzip ? gunzipSync(bytes) : Buffer.from(bytes)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(
      `s3 object ${keyInBucket(store, key)} is not valid JSON; delete or repair it to continue`,
    );
  }
}

export async function writeJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
}

/** Compact UTC timestamp for keys: 2025-05-09T20:00:42.000Z → 20250509T200042Z. */
export function keyTime(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** An ISO-8601 timestamp in UTC (`Z` or `+00:00`, as Qualys writes them): its text names its date and hour. */
export const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|\+00:00)$/;

/** The UTC date (YYYY-MM-DD) of a timestamp, for `dt=` partitions. */
export function utcDate(timestamp: string | number | Date): string {
  // A UTC ISO-8601 timestamp carries its date already (the common case, once per finding).
  if (typeof timestamp === 'string' && UTC_ISO.test(timestamp)) return timestamp.slice(0, 10);
  return new Date(timestamp).toISOString().slice(0, 10);
}

/**
 * Makes any id safe as one S3 key segment: keeps [A-Za-z0-9._-], percent-encodes the rest, and
 * never yields `.` or `..`, so ids like SharePoint URLs cannot climb or split the key.
 */
export function safeKeySegment(id: unknown): string {
  const text = id === null || id === undefined || id === '' ? '_' : String(id);
  const encoded = Array.from(new TextEncoder().encode(text))
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9_-]/.test(char) || (char === '.' && byte < 0x80)
        ? char
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  const segment = encoded === '.' || encoded === '..' ? encoded.replace(/\./g, '%2E') : encoded;
  return segment.length > 200 ? `${segment.slice(0, 180)}~${hash(text)}` : segment;
}

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}
