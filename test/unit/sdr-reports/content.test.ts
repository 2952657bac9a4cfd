import { describe, expect, it } from 'vitest';
import { contentProblem, HEAD_BYTES, peek } from '../../../functions/sdr-reports/content';
import { MemoryStore } from '../../support/memory-store';
import { failedRun, fileKey, listedReport, metadataKey, ReportsApi, run } from '../../support/reports-api';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const LOGIN_PAGE = '<!DOCTYPE html><html><body>Session expired. Please log in.</body></html>';

describe('contentProblem: is the body the report it claims to be', () => {
  it('accepts csv text, a pdf that starts with %PDF- and an xlsx zip', () => {
    expect(contentProblem('csv', 'text/csv', bytes('a,b\n1,2\n'))).toBeUndefined();
    expect(contentProblem('pdf', 'application/pdf', bytes('%PDF-1.7\n...'))).toBeUndefined();
    expect(contentProblem('xlsx', 'application/octet-stream', bytes('PK\u0003\u0004rest'))).toBeUndefined();
    expect(contentProblem('json', null, bytes(' [{"a":1}]'))).toBeUndefined();
  });

  it('refuses an HTML page by its Content-Type or its first bytes, whatever the format', () => {
    expect(contentProblem('csv', 'text/html; charset=utf-8', bytes('a,b'))).toMatch(
      /Content-Type text\/html/,
    );
    expect(contentProblem('csv', 'text/csv', bytes(`\uFEFF  ${LOGIN_PAGE}`))).toMatch(/HTML page/);
    expect(contentProblem(undefined, 'application/octet-stream', bytes('<html><body>'))).toMatch(/HTML page/);
  });

  it('refuses a pdf without %PDF-, a csv that is not text and json that does not start like json', () => {
    expect(contentProblem('pdf', 'application/pdf', bytes('a,b\n'))).toMatch(/does not start with %PDF-/);
    expect(contentProblem('csv', 'text/csv', new Uint8Array([0x61, 0x00, 0x62]))).toMatch(/not text/);
    expect(contentProblem('csv', 'text/csv', new Uint8Array([0xff, 0xfe, 0xfd]))).toMatch(/not text/);
    expect(contentProblem('json', 'application/json', bytes('oops'))).toMatch(/does not start with \{ or \[/);
  });

  it('does not mistake a UTF-8 character cut at the end of the head for binary', () => {
    const head = bytes(`${'x'.repeat(10)}é`).subarray(0, 11);
    expect(contentProblem('csv', 'text/csv', head)).toBeUndefined();
  });
});

describe('peek', () => {
  async function* chunks(...parts: string[]) {
    for (const part of parts) yield bytes(part);
  }
  const text = async (stream: AsyncIterable<Uint8Array>) => {
    const all: Uint8Array[] = [];
    for await (const chunk of stream) all.push(chunk);
    return Buffer.concat(all).toString('utf8');
  };

  it('hands back the head and then the whole body, once', async () => {
    const big = 'y'.repeat(HEAD_BYTES);
    const { head, stream } = await peek(chunks('ab', big, 'tail'));
    expect(head.byteLength).toBe(HEAD_BYTES);
    expect(Buffer.from(head).toString('utf8')).toBe(`ab${big}`.slice(0, HEAD_BYTES));
    expect(await text(stream)).toBe(`ab${big}tail`);
  });

  it('works for a body shorter than the head', async () => {
    const { head, stream } = await peek(chunks('short'));
    expect(Buffer.from(head).toString('utf8')).toBe('short');
    expect(await text(stream)).toBe('short');
  });
});

describe('sdr-reports: a body that is not the report is never archived', () => {
  const loginPage = () => new Response(LOGIN_PAGE, { status: 200, headers: { 'content-type': 'text/html' } });

  it('stores nothing for a 200 text/html login page, fails the run, and archives the real file next run', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    server.answerNext('r-1', loginPage);
    const store = new MemoryStore();

    const error = await failedRun(server, store);
    expect(error.message).toMatch(/r-1 .*HTML page|r-1 .*text\/html/);
    expect(store.objects.has(fileKey('r-1'))).toBe(false);
    expect(store.objects.has(metadataKey('r-1'))).toBe(false);
    expect(store.objects.has(metadataKey('r-2'))).toBe(true);

    const { summary } = await run(server, store);
    expect(summary.downloaded).toBe(1);
    expect(Buffer.from(store.objects.get(fileKey('r-1'))?.body ?? []).toString('utf8')).toMatch(/^r-1,/);
  });

  it('sets a report aside after three bodies that were not the report; later runs skip it and do not fail', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    for (let i = 0; i < 3; i++) server.answerNext('r-1', loginPage);
    const store = new MemoryStore();

    await failedRun(server, store);
    await failedRun(server, store);
    const { summary } = await run(server, store);
    expect(summary.setAside).toEqual([{ fileUuid: 'r-1', reason: expect.stringMatching(/text\/html/) }]);
    expect(summary.failedDownloads).toEqual([]);
    const setAside = [...store.objects.keys()].filter((key) =>
      key.startsWith('state/sdr-reports/set-aside/'),
    );
    expect(setAside).toEqual(['state/sdr-reports/set-aside/r-1.json']);
    expect(
      JSON.parse(Buffer.from(store.objects.get(setAside[0] ?? '')?.body ?? []).toString('utf8')),
    ).toMatchObject({
      report: { fileUuid: 'r-1' },
      attempts: 3,
    });
    expect(store.objects.has(fileKey('r-1'))).toBe(false);

    const downloadsBefore = server.downloadsOf('r-1').length;
    const { summary: later } = await run(server, store);
    expect(later.skippedSetAside).toBe(1);
    expect(server.downloadsOf('r-1')).toHaveLength(downloadsBefore);
  });

  it('stops a body above SDR_REPORT_MAX_BYTES before it is stored, whether announced or not', async () => {
    const server = new ReportsApi([listedReport('r-1'), listedReport('r-2')]);
    const big = new Uint8Array(2 * 1024 * 1024).fill(0x61);
    server.answerNext('r-1', () => server.file('r-1', big));
    server.answerNext(
      'r-2',
      () => new Response(big, { status: 200, headers: { 'content-type': 'text/csv' } }),
    );
    const store = new MemoryStore();

    const error = await failedRun(server, store, { maxReportBytes: 1024 * 1024 });
    expect(error.message).toMatch(/r-1 .*Content-Length is 2097152 bytes, above SDR_REPORT_MAX_BYTES/);
    expect(error.message).toMatch(/r-2 .*more than 1048576 bytes arrived, above SDR_REPORT_MAX_BYTES/);
    expect([...store.objects.keys()].filter((key) => key.startsWith('reports/'))).toEqual([]);
  });
});
