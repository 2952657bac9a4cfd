import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { PageSchema } from '../../../functions/qualys/schemas';
import { ReportingSchema } from '../../../functions/qualys/sdr';

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
