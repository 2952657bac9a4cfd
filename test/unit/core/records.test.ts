import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  fromNdjsonGzip,
  gzipAsync,
  keyTime,
  readJson,
  safeKeySegment,
  toNdjson,
  toNdjsonGzip,
  utcDate,
  writeJson,
} from '../../../functions/core/records';
import { MemoryStore } from '../../support/memory-store';

describe('NDJSON gzip', () => {
  it('round-trips records, one JSON object per line', () => {
    const records = [
      { uuid: 'a', message: 'line one\nline two', nested: { n: 1, list: [1, 2] } },
      { uuid: 'b', text: 'ünïcødé ✓ \u2028', empty: null },
      { uuid: 'c' },
    ];
    const bytes = toNdjsonGzip(records);

    expect(fromNdjsonGzip(bytes)).toEqual(records);
    const lines = gunzipSync(bytes).toString('utf8').split('\n');
    expect(lines).toHaveLength(4); // three records and the final newline
    expect(lines.slice(0, 3).map((line) => JSON.parse(line))).toEqual(records);
    expect(lines[3]).toBe('');
  });

  it('round-trips an empty list', () => {
    expect(fromNdjsonGzip(toNdjsonGzip([]))).toEqual([]);
  });

  it('adds extra fields to each line exactly as a spread would, whatever the record', async () => {
    const extra = { lake_ingested_at: '2026-11-01T00:00:00.000Z', lake_raw_key: 'raw/"quoted"\\key' };
    const records: unknown[] = [
      { uuid: 'a', nested: { n: 1 }, text: 'ünïcødé \u2028 }' },
      {},
      { uuid: 'b', lake_raw_key: 'sent by the API', after: 1 },
      JSON.parse('{"uuid":"c","__proto__":{"x":1},"toJSON":"data"}'),
      Object.assign(Object.create(null), { uuid: 'd' }),
      { uuid: 'e', toJSON: () => ({ replaced: true }) },
      { uuid: 'f', skipped: undefined },
    ];
    const lines = gunzipSync(await gzipAsync(toNdjson(records, extra)))
      .toString('utf8')
      .split('\n');

    expect(lines.slice(0, -1)).toEqual(
      records.map((record) => JSON.stringify({ ...(record as object), ...extra })),
    );
    expect(lines.at(-1)).toBe('');
    // Nothing to add: the records as they are.
    expect(fromNdjsonGzip(await gzipAsync(toNdjson(records.slice(0, 1), { none: undefined })))).toEqual([
      records[0],
    ]);
  });

  it('writes lines of any size and script byte for byte as joined JSON would, one call after another', () => {
    // Larger than the line buffer's first size, and in characters of one to four UTF-8 bytes.
    const big = { uuid: 'big', text: 'aé€😀'.repeat(40_000) };
    const small = [{ uuid: 's', text: '€'.repeat(3) }, { uuid: 't' }];
    for (const records of [[big, ...small], small, [big, big]]) {
      const expected = `${records.map((record) => JSON.stringify(record)).join('\n')}\n`;
      expect(toNdjson(records).toString('utf8')).toBe(expected);
    }
    expect(toNdjson([])).toHaveLength(0);
  });
});

describe('gzipAsync', () => {
  it('gives back the same bytes for inputs from empty to several output buffers, bytes or text', async () => {
    const page = Buffer.from(
      Array.from({ length: 4000 }, (_, i) =>
        JSON.stringify({ i, id: `${i * 7919}`.repeat(9), name: 'Zürich ✓' }),
      ).join('\n'),
    );
    const random = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) % 251));
    for (const input of [Buffer.alloc(0), Buffer.from('{}'), page, random]) {
      expect(gunzipSync(await gzipAsync(input)).equals(input)).toBe(true);
      expect(gunzipSync(await gzipAsync(input, 3)).equals(input)).toBe(true);
    }
    const text = page.toString('utf8');
    expect(gunzipSync(await gzipAsync(text)).toString('utf8')).toBe(text);
  });
});

describe('readJson / writeJson', () => {
  it('reads back what was written, and gzip-compressed JSON too', async () => {
    const store = new MemoryStore();
    await writeJson(store, 'state/a.json', { watermark: '2025-05-10T00:00:00.000Z' });
    await store.put('state/b.json.gz', toNdjsonGzip([{ ids: ['x'] }]), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
    });

    expect(await readJson(store, 'state/a.json')).toEqual({ watermark: '2025-05-10T00:00:00.000Z' });
    expect(await readJson(store, 'state/b.json.gz')).toEqual({ ids: ['x'] });
    expect(await readJson(store, 'state/missing.json')).toBeUndefined();
  });

  it('names the object when it is not JSON', async () => {
    const store = new MemoryStore();
    await store.put('state/cdr-findings/checkpoint.json', '{"watermark": ', {
      contentType: 'application/json',
    });
    await expect(readJson(store, 'state/cdr-findings/checkpoint.json')).rejects.toThrow(
      'state/cdr-findings/checkpoint.json',
    );
  });
});

describe('safeKeySegment', () => {
  const hostile: unknown[] = [
    '../../etc',
    '..',
    '.',
    '...',
    '/',
    'a/b',
    'https://x.sharepoint.com/a b',
    '',
    null,
    undefined,
    '%2F',
    '\u2024\u2024', // one-dot leaders look like dots
    'C:\\Windows\\..',
    'ümlaut/日本',
    'x'.repeat(500),
    `${'/'.repeat(300)}`,
  ];

  it.each(hostile.map((id) => [JSON.stringify(id) ?? String(id), id]))(
    'keeps %s to one safe segment',
    (_label, id) => {
      const segment = safeKeySegment(id);
      expect(segment).not.toBe('');
      expect(segment).not.toBe('.');
      expect(segment).not.toBe('..');
      expect(segment).not.toContain('/');
      expect(segment).not.toContain('\\');
      expect(segment).toMatch(/^[A-Za-z0-9._%~-]+$/);
      expect(segment.length).toBeLessThanOrEqual(200);
    },
  );

  it('keeps plain ids readable', () => {
    expect(safeKeySegment('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6')).toBe(
      'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6',
    );
    expect(safeKeySegment('report_2025.csv')).toBe('report_2025.csv');
    expect(safeKeySegment(42)).toBe('42');
  });

  it('gives different ids different segments', () => {
    const ids = [
      'a b',
      'a%20b',
      'a/b',
      'a%2Fb',
      '..',
      '%2E%2E',
      'x'.repeat(400),
      `${'x'.repeat(399)}y`,
      'https://x.sharepoint.com/a b',
      'https://x.sharepoint.com/a+b',
    ];
    expect(new Set(ids.map(safeKeySegment)).size).toBe(ids.length);
  });
});

describe('key times', () => {
  it('formats a compact UTC time for keys', () => {
    expect(keyTime('2025-05-09T20:00:42.000Z')).toBe('20250509T200042Z');
    expect(keyTime('2025-05-09T22:00:42.123+02:00')).toBe('20250509T200042Z');
    expect(keyTime(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)))).toBe('20250102T030405Z');
  });

  it('gives the UTC date for dt= partitions', () => {
    expect(utcDate('2025-05-09T23:30:00.000-02:00')).toBe('2025-05-10');
    expect(utcDate('2025-05-09T20:00:42.000+00:00')).toBe('2025-05-09');
    expect(utcDate('2025-05-10T00:30:00+01:00')).toBe('2025-05-09');
    expect(utcDate('2025-05-09T23:59:59.999999Z')).toBe('2025-05-09');
  });
});
