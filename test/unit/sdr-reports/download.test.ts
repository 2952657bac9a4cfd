import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../../functions/core/ports';
import { ReportDownloadsFailedError } from '../../../functions/sdr-reports/collector';
import { archiveReport, errorText, fileNameFromDisposition } from '../../../functions/sdr-reports/download';
import { jsonResponse } from '../../support/fake-qualys';
import { MemoryStore } from '../../support/memory-store';
import {
  brokenBody,
  checkpointOf,
  curatedKey,
  failedRun,
  fileKey,
  listedReport,
  metadataKey,
  metadataOf,
  objectsOf,
  ReportsApi,
  run,
  sha256,
} from '../../support/reports-api';

describe('sdr-reports: archiving one report', () => {
  it('writes the file first, then the curated record, and the metadata object last', async () => {
    const server = new ReportsApi([listedReport('r-1')]);
    const store = new MemoryStore();
    await run(server, store);

    const order = store.writes.filter((key) => key.includes('r-1'));
    expect(order).toEqual([fileKey('r-1'), curatedKey('r-1'), metadataKey('r-1')]);
  });
});

describe('sdr-reports: failed downloads leave nothing that looks archived', () => {
  it('a connection cut mid-stream stores no file, curated record or metadata; the others are still downloaded and the run fails at the end', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2'), listedReport('r-3')]);
    server.answerNext('r-1', (_request, bytes) => server.file('r-1', brokenBody(bytes), bytes.byteLength));
    const store = new MemoryStore();
    const error = await failedRun(server, store);

    expect(error).toBeInstanceOf(ReportDownloadsFailedError);
    expect(error.message).toContain('1 of 3 report downloads failed');
    expect(error.message).toContain(
      'r-1 (GET /sdr/api/v1/report/download/r-1 answered 200: the download broke off after 500 of 1000 bytes (terminated: other side closed))',
    );
    const summary = (error as ReportDownloadsFailedError).summary;
    expect(summary.failedDownloads).toEqual([
      { fileUuid: 'r-1', reason: expect.stringContaining('broke off') },
    ]);
    expect(summary.downloaded).toBe(2);
    expect(objectsOf(store, 'r-1')).toEqual([]);
    expect(metadataOf(store, 'r-2')).toBeDefined();
    expect(metadataOf(store, 'r-3')).toBeDefined();
    // The listing was read to its end; the next pass starts again at page 0 and retries r-1 only.
    expect(checkpointOf(store).pending).toBeUndefined();

    const { summary: next } = await run(server, store);
    expect(next).toMatchObject({ downloaded: 1, alreadyArchived: 2, failedDownloads: [] });
    expect(server.downloadsOf('r-1')).toHaveLength(2);
    expect(server.downloadsOf('r-2')).toHaveLength(1);
    expect(metadataOf(store, 'r-1')?.file.sha256).toBe(sha256(server.files.get('r-1') as Uint8Array));
  });

  it('a body that ends cleanly but short of Content-Length is an error, not a complete report', async () => {
    const server = new ReportsApi([listedReport('r-1')]);
    server.answerNext('r-1', (_request, bytes) =>
      server.file('r-1', bytes.subarray(0, 600), bytes.byteLength),
    );
    const store = new MemoryStore();
    const error = await failedRun(server, store);

    expect(error.message).toContain(
      'the download ended after 600 of the 1000 bytes announced by Content-Length',
    );
    expect(objectsOf(store, 'r-1')).toEqual([]);
  });

  it('an S3 upload failure leaves no curated record or metadata for that report', async () => {
    class FailingStore extends MemoryStore {
      override async upload(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions) {
        if (key.includes('/r-2/')) {
          for await (const _chunk of body) break;
          throw new Error('S3 UploadPart failed: InternalError');
        }
        return super.upload(key, body, options);
      }
    }
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const store = new FailingStore();
    const error = await failedRun(server, store);

    expect((error as ReportDownloadsFailedError).summary.failedDownloads).toEqual([
      { fileUuid: 'r-2', reason: 'S3 UploadPart failed: InternalError' },
    ]);
    expect(objectsOf(store, 'r-2')).toEqual([]);
    expect(metadataOf(store, 'r-1')).toBeDefined();
  });

  it('a download refused by Qualys is counted and named, and the next run retries it', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    server.answerNext('r-1', () => jsonResponse({ error: 'not found' }, 404));
    const store = new MemoryStore();
    const error = await failedRun(server, store);
    expect((error as ReportDownloadsFailedError).summary.failedDownloads).toEqual([
      {
        fileUuid: 'r-1',
        reason: 'GET /sdr/api/v1/report/download/r-1 answered 404: the request was refused',
      },
    ]);

    const { summary } = await run(server, store);
    expect(summary.downloads.map(({ fileUuid }) => fileUuid)).toEqual(['r-1']);
  });
});

describe('fileNameFromDisposition', () => {
  it.each([
    ['attachment; filename="zoom custom csv.csv"', 'zoom custom csv.csv'],
    ['attachment; filename=report.csv', 'report.csv'],
    ['attachment; filename="fallback.csv"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.csv', 'résumé.csv'],
    ['attachment; filename="a \\"quoted\\" name.pdf"', 'a "quoted" name.pdf'],
    ['inline', null],
    [null, null],
  ])('%s → %s', (header, expected) => {
    expect(fileNameFromDisposition(header)).toBe(expected);
  });
});

describe('archiveReport', () => {
  it('refuses a response without a body and writes nothing', async () => {
    const store = new MemoryStore();
    const context = {
      qualys: { getStream: async () => new Response(null, { status: 200 }) },
      store,
      now: () => Date.parse('2025-05-10T00:00:00.000Z'),
      runId: '20250510T000000Z',
      call: { deadline: Date.parse('2025-05-10T00:10:00.000Z') },
      maxBytes: 1024 ** 3,
    };
    const report = { fileUuid: 'r-1', createdAt: '2025-05-08T05:13:37.000Z', fileFormat: 'csv' };

    await expect(archiveReport(context, report)).rejects.toThrow(
      'GET /sdr/api/v1/report/download/r-1 answered 200: the download has no body',
    );
    expect(store.writes).toEqual([]);
  });
});

describe('errorText', () => {
  it('adds the cause fetch hides the socket error in', () => {
    expect(errorText(new TypeError('terminated', { cause: new Error('other side closed') }))).toBe(
      'terminated: other side closed',
    );
    expect(errorText(new Error('plain'))).toBe('plain');
    expect(errorText('a string')).toBe('a string');
  });
});
