import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CdrFindingSchema, isPlainCdrFinding, PageSchema } from '../../../functions/qualys/schemas';
import { ReportingSchema } from '../../../functions/qualys/sdr';
import { screen } from '../../../functions/qualys/validation';
import samplePage from '../../support/fixtures/cdr-findings-page.json';

describe('Page metadata, typed loosely', () => {
  it('reads numbers and numeric strings as numbers, booleans and "true"/"false" as booleans', () => {
    const page = v.parse(PageSchema, {
      content: [{ id: 1 }],
      totalElements: '2345',
      totalPages: 64,
      size: ' 37 ',
      number: '0',
      numberOfElements: 1,
      last: 'false',
      empty: false,
    });
    expect(page).toMatchObject({
      totalElements: 2345,
      totalPages: 64,
      size: 37,
      number: 0,
      numberOfElements: 1,
      last: false,
      empty: false,
    });
    expect(v.parse(PageSchema, { content: [], last: 'TRUE' }).last).toBe(true);
  });

  it('takes anything else as not said, and never rejects a page for its metadata', () => {
    const page = v.parse(PageSchema, {
      content: [],
      totalElements: 'many',
      totalPages: -1,
      size: 37.5,
      number: null,
      last: 'yes',
      empty: 0,
      numberOfElements: { n: 1 },
    });
    for (const field of [
      'totalElements',
      'totalPages',
      'size',
      'number',
      'last',
      'empty',
      'numberOfElements',
    ])
      expect(page[field as keyof typeof page]).toBeUndefined();
    expect(v.parse(PageSchema, { content: [] })).toEqual({ content: [] });
  });

  it('takes any items: each is judged on its own after the page is archived', () => {
    const page = v.parse(PageSchema, {
      content: [{ uuid: 'a' }, null, 'oops', 7, [1], { uuid: 'b' }],
      last: true,
    });
    expect(page.content).toEqual([{ uuid: 'a' }, null, 'oops', 7, [1], { uuid: 'b' }]);
    const reporting = v.parse(ReportingSchema, { controlDetailsSummaryDto: [{ cid: 1 }, null, 'x'] });
    expect(reporting.controlDetailsSummaryDto).toEqual([{ cid: 1 }, null, 'x']);
  });

  it('still requires content to be an array', () => {
    expect(v.safeParse(PageSchema, { content: 'oops', last: true }).success).toBe(false);
    expect(v.safeParse(PageSchema, { last: true }).success).toBe(false);
  });

  it('reads /reporting totalBatch loosely', () => {
    expect(v.parse(ReportingSchema, { controlDetailsSummaryDto: [], totalBatch: '3' }).totalBatch).toBe(3);
    expect(
      v.parse(ReportingSchema, { controlDetailsSummaryDto: [], totalBatch: 'n' }).totalBatch,
    ).toBeUndefined();
    expect(v.parse(ReportingSchema, {}).totalBatch).toBeUndefined();
  });
});

describe('isPlainCdrFinding, the shortcut of screen for CDR findings', () => {
  const good = {
    uuid: 'u-1',
    timestamp: '2025-05-09T20:00:42.000+00:00',
    severity: 'HIGH',
    extra: { a: [1] },
  };
  const corpus: unknown[] = [
    ...samplePage.content,
    good,
    { ...good, severity: 4, cloudType: null, cspAccount: 123456789012 },
    { ...good, severity: null, cloudType: 'AWS', cspAccount: '1234' },
    { uuid: 'u', timestamp: '2025-05-09T20:00:42Z' },
    { uuid: 'u', timestamp: '2025-05-09T20:00:42Z', severity: undefined },
    // Each of these the schema refuses, or returns changed: the shortcut must say no.
    null,
    'a string',
    7,
    [good],
    { ...good, uuid: '' },
    { ...good, uuid: 7 },
    { timestamp: good.timestamp },
    { ...good, timestamp: '2025-05-09T20:00:42' },
    { ...good, timestamp: '2025-02-30T00:00:00Z' },
    { ...good, timestamp: 1 },
    { ...good, severity: true },
    { ...good, severity: Number.NaN },
    { ...good, severity: { level: 4 } },
    { ...good, cloudType: 3 },
    { ...good, cspAccount: false },
    JSON.parse('{"uuid":"u","timestamp":"2025-05-09T20:00:42Z","__proto__":{"uuid":"x"}}'),
    { ...good, constructor: 'c' },
    { ...good, prototype: 'p' },
    Object.assign(Object.create(null), good),
    Object.assign(Object.create({ uuid: 'inherited' }), { timestamp: good.timestamp }),
  ];

  it.each(corpus.map((item, index) => [index, item]))(
    'accepts item %i only where the schema accepts it and returns it unchanged',
    (_, item) => {
      const parsed = v.safeParse(CdrFindingSchema, item);
      const unchanged =
        parsed.success &&
        JSON.stringify(Object.entries(parsed.output).sort()) ===
          JSON.stringify(Object.entries(item as object).sort());
      if (isPlainCdrFinding(item)) expect(unchanged).toBe(true);
    },
  );

  it('takes the usual findings, so the shortcut is taken', () => {
    expect(samplePage.content.every(isPlainCdrFinding)).toBe(true);
    expect(isPlainCdrFinding(good)).toBe(true);
  });

  it('screens a page as the schema alone does: the same findings kept, the same reasons', () => {
    const withShortcut = screen(corpus, CdrFindingSchema, isPlainCdrFinding);
    const schemaOnly = screen(corpus, CdrFindingSchema);

    expect(withShortcut).toEqual(schemaOnly);
    expect(withShortcut.rejected.map(({ index }) => index)).toEqual(
      schemaOnly.rejected.map(({ index }) => index),
    );
    expect(withShortcut.rejected.length).toBeGreaterThan(10);
    expect(withShortcut.rejected.find(({ record }) => record === null)?.reason).toMatch(/Expected Object/);
  });
});
