import { describe, expect, it } from 'vitest';
import { offsetPaging, type PageResult, pages } from '../../../functions/core/paginate';

interface FakePage {
  content: number[];
  last?: boolean | null;
}

/** A listing of `total` items served `limit` at a time from `offset`; records the offsets asked for. */
function listing(total: number, options: { withLast: boolean }) {
  const asked: number[] = [];
  const fetchPage = async (offset: number): Promise<FakePage> => {
    asked.push(offset);
    const content = Array.from(
      { length: Math.max(0, Math.min(LIMIT, total - offset)) },
      (_, i) => offset + i,
    );
    return options.withLast ? { content, last: offset + LIMIT >= total } : { content };
  };
  return { asked, fetchPage };
}

const LIMIT = 10;

async function collect<P>(generator: AsyncGenerator<PageResult<P>>, bound = 100): Promise<PageResult<P>[]> {
  const results: PageResult<P>[] = [];
  for await (const result of generator) {
    results.push(result);
    if (results.length >= bound) throw new Error('paging did not stop');
  }
  return results;
}

describe('offsetPaging', () => {
  it('stops on the page the API marks last=true, even when it is full', async () => {
    const api = listing(30, { withLast: true });
    const results = await collect(offsetPaging(api.fetchPage, 0, LIMIT));

    expect(api.asked).toEqual([0, 10, 20]);
    expect(results.map((result) => [result.cursor, result.next])).toEqual([
      [0, 10],
      [10, 20],
      [20, undefined],
    ]);
    expect(results.flatMap((result) => result.page.content)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('stops on a short page when the API omits last', async () => {
    const api = listing(25, { withLast: false });
    const results = await collect(offsetPaging(api.fetchPage, 0, LIMIT));

    expect(api.asked).toEqual([0, 10, 20]);
    expect(results.at(-1)?.next).toBeUndefined();
    expect(results.flatMap((result) => result.page.content)).toHaveLength(25);
  });

  it('stops on an empty page when the listing is an exact multiple of the page size', async () => {
    const api = listing(20, { withLast: false });
    const results = await collect(offsetPaging(api.fetchPage, 0, LIMIT));

    expect(api.asked).toEqual([0, 10, 20]);
    expect(results.at(-1)?.page.content).toEqual([]);
    expect(results.at(-1)?.next).toBeUndefined();
  });

  it('stops on an empty page even when the API says last=false', async () => {
    const results = await collect(offsetPaging(async () => ({ content: [], last: false }), 0, LIMIT));
    expect(results).toHaveLength(1);
  });

  it('resumes from a saved offset and uses offsets as cursors', async () => {
    const api = listing(45, { withLast: false });
    const results = await collect(offsetPaging(api.fetchPage, 20, LIMIT));

    expect(api.asked).toEqual([20, 30, 40]);
    expect(results.map((result) => result.cursor)).toEqual([20, 30, 40]);
    expect(results[0]?.page.content[0]).toBe(20);
  });

  it('throws after maxPages when the API never ends the listing', async () => {
    let calls = 0;
    const endless = offsetPaging(
      async () => {
        calls++;
        return { content: Array.from({ length: LIMIT }, () => 1), last: false };
      },
      0,
      LIMIT,
      5,
    );

    await expect(collect(endless)).rejects.toThrow(/5 pages/);
    expect(calls).toBe(5);
  });

  it('does not throw when the last page is exactly the maxPages-th', async () => {
    const api = listing(50, { withLast: true });
    await expect(collect(offsetPaging(api.fetchPage, 0, LIMIT, 5))).resolves.toHaveLength(5);
  });

  it('fetches no page beyond the one the caller stopped at', async () => {
    const api = listing(100, { withLast: true });
    for await (const result of offsetPaging(api.fetchPage, 0, LIMIT)) {
      if (result.cursor === 10) break;
    }
    expect(api.asked).toEqual([0, 10]);
  });
});

describe('pages', () => {
  it('pages by page number with a custom advance', async () => {
    const asked: number[] = [];
    const results = await collect(
      pages({
        start: 1,
        fetchPage: async (page: number) => {
          asked.push(page);
          return { controls: page < 3 ? ['a', 'b'] : [] };
        },
        info: (page) => ({ count: page.controls.length }),
        advance: (cursor) => cursor + 1,
      }),
    );
    expect(asked).toEqual([1, 2, 3]);
    expect(results.map((result) => result.next)).toEqual([2, 3, undefined]);
  });
});
