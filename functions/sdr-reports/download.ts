import { createHash } from 'node:crypto';
import type { ObjectStore } from '../core/ports';
import { safeKeySegment, toNdjsonGzip, writeJson } from '../core/records';
import { keyInBucket } from '../core/scoped-store';
import type { CallOptions, QualysClient } from '../qualys/client';
import { QualysApiError } from '../qualys/errors';
import type { HttpHeaders } from '../qualys/http';
import { downloadReport, SDR_PATHS } from '../qualys/sdr';
import { contentProblem, peek, ReportContentError } from './content';
import { sdrReportsKeys } from './keys';
import type { ArchivableReport, DownloadedReport, ReportMetadata } from './model';

/** The file name of a Content-Disposition header (RFC 6266: `filename*` first, then `filename`). */
export function fileNameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended.trim());
    } catch {
      // Fall through to the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)?.[1];
  if (quoted !== undefined) return quoted.replace(/\\(.)/g, '$1') || null;
  return /filename\s*=\s*([^;\s]+)/i.exec(header)?.[1] ?? null;
}

function contentLengthOf(headers: HttpHeaders): number | undefined {
  const text = headers.get('content-length');
  if (text === null || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text);
}

/** An error's message, with its cause's message when it has one (a `fetch` puts the socket error there). */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

export interface DownloadContext {
  qualys: Pick<QualysClient, 'getStream'>;
  /** The run's store: every object written here is counted. */
  store: ObjectStore;
  now: () => number;
  /** The listing pass the report was found in. */
  runId: string;
  /** Largest body stored (SDR_REPORT_MAX_BYTES). */
  maxBytes: number;
  call: CallOptions;
}

/**
 * Streams one report into S3: the file (its first bytes checked against the listed format before
 * anything is stored, hashed and counted on the way, checked against Content-Length and
 * SDR_REPORT_MAX_BYTES), then its curated record, then the metadata object, written last: its presence
 * is what "archived" means. Any failure leaves no metadata, so the next pass tries again.
 */
export async function archiveReport(
  context: DownloadContext,
  report: ArchivableReport,
): Promise<DownloadedReport> {
  const { store, now, runId } = context;
  const endpoint = `GET ${SDR_PATHS.reportDownload(report.fileUuid)}`;
  const response = await downloadReport(context.qualys, report.fileUuid, context.call);
  const body = response.body;
  if (!body) throw new QualysApiError(endpoint, response.status, 'the download has no body');
  const expected = contentLengthOf(response.headers);
  const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
  const { maxBytes } = context;
  const hash = createHash('sha256');
  let bytes = 0;
  let complete = false;
  async function* counted(): AsyncGenerator<Uint8Array> {
    const chunks = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw new QualysApiError(
          endpoint,
          response.status,
          `the download broke off after ${bytes}${expected === undefined ? '' : ` of ${expected}`} bytes (${errorText(error)})`,
        );
      }
      if (next.done) break;
      hash.update(next.value);
      bytes += next.value.byteLength;
      // Thrown before the chunk is handed over, so the upload never completes with it.
      if (bytes > maxBytes) throw tooLarge(`more than ${maxBytes} bytes arrived`);
      yield next.value;
    }
    // A body shorter (or longer) than announced is an error even when the stream ended cleanly:
    // throwing here, before the last part is handed over, keeps the upload from completing.
    if (expected !== undefined && bytes !== expected) {
      throw new QualysApiError(
        endpoint,
        response.status,
        `the download ended after ${bytes} of the ${expected} bytes announced by Content-Length`,
      );
    }
    complete = true;
  }
  const tooLarge = (what: string) =>
    new ReportContentError(`${endpoint}: ${what}, above SDR_REPORT_MAX_BYTES; not stored`);

  const fileKey = sdrReportsKeys.file(report);
  let uploaded: { bytes: number };
  try {
    if (expected !== undefined && expected > maxBytes) throw tooLarge(`Content-Length is ${expected} bytes`);
    // Judge the first bytes before anything is stored: an error page must never become the report.
    const { head, stream } = await peek(counted());
    const problem = contentProblem(report.fileFormat, contentType, head);
    if (problem) throw new ReportContentError(`${endpoint}: ${problem}; not stored`);
    uploaded = await store.upload(fileKey, stream, {
      contentType,
      metadata: {
        'qualys-endpoint': SDR_PATHS.reportDownloads,
        'file-uuid': safeKeySegment(report.fileUuid),
      },
    });
  } finally {
    // An upload that failed may have stopped reading: release the connection.
    if (!complete) await body.cancel().catch(() => undefined);
  }
  if (!complete || uploaded.bytes !== bytes) {
    // Only reachable if the store finished without reading the whole body; the file key may hold
    // a short object, but without metadata it does not count as archived and the next run overwrites it.
    throw new Error(`${endpoint}: stored ${uploaded.bytes} bytes of ${bytes} read; not marked archived`);
  }

  const sha256 = hash.digest('hex');
  // What a reader is shown (the record, the metadata, the run summary) is where the file is in the bucket.
  const fileInBucket = keyInBucket(store, fileKey);
  const downloadedAt = new Date(now()).toISOString();
  const fileName = fileNameFromDisposition(response.headers.get('content-disposition'));
  await store.put(
    sdrReportsKeys.curated(report),
    toNdjsonGzip([
      {
        ...report,
        lake_file_key: fileInBucket,
        lake_file_name: fileName,
        lake_content_type: contentType,
        lake_bytes: bytes,
        lake_sha256: sha256,
        lake_downloaded_at: downloadedAt,
        lake_ingested_at: downloadedAt,
        lake_run_id: runId,
      },
    ]),
    { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
  );
  const metadata: ReportMetadata = {
    report,
    file: { key: fileInBucket, contentType, fileName, bytes, sha256 },
    downloadedAt,
    runId,
  };
  await writeJson(store, sdrReportsKeys.metadata(report), metadata);
  return { fileUuid: report.fileUuid, key: fileInBucket, bytes, sha256 };
}
