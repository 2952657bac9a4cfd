/**
 * Whether a downloaded body is the report it claims to be, judged from its Content-Type and its
 * first bytes before anything is stored: a gateway whose session expired answers 200 with an HTML
 * login page, and that page must never be archived as `report.csv`.
 */

/** A body that is not the report (an HTML page, a pdf without `%PDF-`, too large): retried, then set aside. */
export class ReportContentError extends Error {
  override name = 'ReportContentError';
}

/** Bytes read before the check; every signature below fits in it. */
export const HEAD_BYTES = 4096;

/** Largest report stored unless SDR_REPORT_MAX_BYTES says otherwise: 2 GiB, far above any seen. */
export const DEFAULT_MAX_REPORT_BYTES = 2 * 1024 ** 3;

const ascii = (text: string) => Array.from(text, (char) => char.charCodeAt(0));
const ZIP = [0x50, 0x4b, 0x03, 0x04];

/** The magic bytes a binary format starts with (PDF 1.7 §7.5.2; the ZIP container of Office files). */
const SIGNATURES: Record<string, { bytes: number[]; what: string }> = {
  pdf: { bytes: ascii('%PDF-'), what: '%PDF-' },
  xlsx: { bytes: ZIP, what: 'a ZIP header (PK)' },
  docx: { bytes: ZIP, what: 'a ZIP header (PK)' },
  zip: { bytes: ZIP, what: 'a ZIP header (PK)' },
};
const TEXT_FORMATS = new Set(['csv', 'tsv', 'txt', 'json', 'xml']);

const startsWith = (head: Uint8Array, bytes: number[]) => bytes.every((byte, index) => head[index] === byte);

/** The head as text without a BOM and leading white space, lower-cased; undefined when it is not UTF-8. */
function leadingText(head: Uint8Array): string | undefined {
  try {
    // `stream: true`: a character cut at the end of the head is not an error.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return text
      .replace(/^\uFEFF/, '')
      .trimStart()
      .toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Why the body is not a `format` report, or undefined when it may be. `head` is the first
 * {@link HEAD_BYTES} bytes (fewer when the body is shorter).
 */
export function contentProblem(
  format: string | null | undefined,
  contentType: string | null,
  head: Uint8Array,
): string | undefined {
  const expected = (format ?? '').trim().toLowerCase();
  const label = expected ? `a ${expected} report` : 'a report';
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'text/html' || mediaType === 'application/xhtml+xml') {
    return `the download answered Content-Type ${mediaType}, a web page rather than ${label}`;
  }
  const text = leadingText(head);
  if (text !== undefined && (text.startsWith('<!doctype html') || text.startsWith('<html'))) {
    return `the download is an HTML page rather than ${label}`;
  }
  const signature = SIGNATURES[expected];
  if (signature && !startsWith(head, signature.bytes)) {
    return `the download does not start with ${signature.what}, so it is not ${label}`;
  }
  if (TEXT_FORMATS.has(expected)) {
    if (text === undefined || head.includes(0)) return `the download is not text, so it is not ${label}`;
    if (expected === 'json' && text !== '' && !/^[[{]/.test(text)) {
      return `the download does not start with { or [, so it is not ${label}`;
    }
  }
  return undefined;
}

/**
 * Reads the first bytes of `body` and hands back a stream that yields them again, then the rest:
 * the caller judges the head before it stores anything.
 */
export async function peek(
  body: AsyncIterable<Uint8Array>,
  bytes = HEAD_BYTES,
): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
  const iterator = body[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    seen.push(next.value);
    length += next.value.byteLength;
  }
  const head = Buffer.concat(seen).subarray(0, bytes);
  async function* stream(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (ended) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { head: new Uint8Array(head), stream: stream() };
}
