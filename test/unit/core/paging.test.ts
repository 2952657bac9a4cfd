import { describe, expect, it } from 'vitest';
import {
  fingerprintOf,
  offsetPaging,
  type PageResult,
  PagingError,
  pageNumberPaging,
  pages,
  type SpringPage,
} from '../../../functions/core/paging';

const ENDPOINT = 'GET /cdr-api/rest/v1/findings';
const LIMIT = 10;

type Meta = Omit<SpringPage, 'content'>;
interface FakePage extends SpringPage {
  content: Array<{ id: number }>;
}

const items = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ id: from + i }));

/**
 * An offset-paged listing of `total` items that serves at most `cap` rows a page (a gateway that caps
 * page size), with the metadata `meta` writes for each page; records the offsets asked for.
 */
function offsetApi(total: number, cap: number, meta: (offset: number, rows: number) => Meta) {
  const asked: number[] = [];
  const fetchPage = async (offset: number): Promise<FakePage> => {
    asked.push(offset);
    const content = items(offset, Math.max(0, Math.min(cap, total - offset)));
    return { content, ...meta(offset, content.length) };
  };
  return { asked, fetchPage };
}

/** A page-number listing of `total` items, `size` a page from page 0, with `meta` per page. */
function pageApi(total: number, size: number, meta: (page: number) => Meta) {
  const asked: number[] = [];
  const fetchPage = async (page: number): Promise<FakePage> => {
    asked.push(page);
    return { content: items(page * size, Math.max(0, Math.min(size, total - page * size))), ...meta(page) };
  };
  return { asked, fetchPage };
}

async function collect<P>(generator: AsyncGenerator<PageResult<P>>, bound = 100): Promise<PageResult<P>[]> {
  const results: PageResult<P>[] = [];
  for await (const result of generator) {
    results.push(result);
    if (results.length >= bound) throw new Error('paging did not stop');
  }
  return results;
}

const ids = (results: PageResult<FakePage>[]) =>
  results.flatMap((result) => result.page.content.map((i) => i.id));
const range = (count: number) => Array.from({ length: count }, (_, i) => i);

const byOffset = (fetchPage: (offset: number) => Promise<FakePage>, start = 0, maxPages?: number) =>
  offsetPaging({ endpoint: ENDPOINT, fetchPage, start, limit: LIMIT, maxPages });
const byPage = (fetchPage: (page: number) => Promise<FakePage>, size: number, start = 0) =>
  pageNumberPaging({ endpoint: 'GET /sdr/api/v1/users', fetchPage, start, size });

/** Collecting `generator` fails with a PagingError; returns it. */
async function pagingError<P>(generator: AsyncGenerator<PageResult<P>>, seen: PageResult<P>[] = []) {
  try {
    for await (const result of generator) {
      seen.push(result);
      if (seen.length > 100) break;
    }
  } catch (error) {
    expect(error).toBeInstanceOf(PagingError);
    return error as PagingError;
  }
  throw new Error('paging ended without a PagingError');
}

describe('offsetPaging: where a listing ends', () => {
  it('ends on the page the API marks last=true, even when it is full', async () => {
    const api = offsetApi(30, LIMIT, (offset) => ({ last: offset + LIMIT >= 30 }));
    const results = await collect(byOffset(api.fetchPage));

    expect(api.asked).toEqual([0, 10, 20]);
    expect(results.map((result) => [result.cursor, result.next])).toEqual([
      [0, 10],
      [10, 20],
      [20, undefined],
    ]);
    expect(ids(results)).toEqual(range(30));
  });

  it('goes on after a short page the API marks last=false, and moves offSet by the rows received', async () => {
    // A gateway capping pages at 3 rows although 10 were asked for.
    const api = offsetApi(11, 3, (offset, rows) => ({ last: offset + rows >= 11, size: 3 }));
    const results = await collect(byOffset(api.fetchPage));

    expect(api.asked).toEqual([0, 3, 6, 9]);
    expect(ids(results)).toEqual(range(11));
  });

  it('ends where totalElements says when the API omits last, short pages or not', async () => {
    const api = offsetApi(11, 3, () => ({ totalElements: 11 }));
    const results = await collect(byOffset(api.fetchPage));

    expect(api.asked).toEqual([0, 3, 6, 9]);
    expect(ids(results)).toEqual(range(11));
    expect(results.at(-1)?.next).toBeUndefined();
  });

  it('trusts last over totalElements: last=false goes on, last=true ends', async () => {
    const goesOn = offsetApi(20, LIMIT, (offset) => ({ last: offset >= 10, totalElements: 5 }));
    expect(ids(await collect(byOffset(goesOn.fetchPage)))).toEqual(range(20));

    const ends = offsetApi(20, LIMIT, () => ({ last: true, totalElements: 20 }));
    await collect(byOffset(ends.fetchPage));
    expect(ends.asked).toEqual([0]);
  });

  it('ends on a short page only when the API says nothing, judged against its size when it sends one', async () => {
    const silent = offsetApi(25, LIMIT, () => ({}));
    expect(ids(await collect(byOffset(silent.fetchPage)))).toEqual(range(25));
    expect(silent.asked).toEqual([0, 10, 20]);

    // size=3 from the server: a page of 3 is full although 10 were asked for.
    const sized = offsetApi(8, 3, () => ({ size: 3 }));
    expect(ids(await collect(byOffset(sized.fetchPage)))).toEqual(range(8));
    expect(sized.asked).toEqual([0, 3, 6]);
  });

  it('ends on an empty page when the API says nothing and the listing is a multiple of the page size', async () => {
    const api = offsetApi(20, LIMIT, () => ({}));
    const results = await collect(byOffset(api.fetchPage));

    expect(api.asked).toEqual([0, 10, 20]);
    expect(results.at(-1)?.page.content).toEqual([]);
    expect(results.at(-1)?.next).toBeUndefined();
  });

  it('resumes from a saved offset and uses offsets as cursors', async () => {
    const api = offsetApi(45, LIMIT, () => ({}));
    const results = await collect(byOffset(api.fetchPage, 20));

    expect(api.asked).toEqual([20, 30, 40]);
    expect(results[0]?.page.content[0]).toEqual({ id: 20 });
  });

  it('fetches no page beyond the one the caller stopped at', async () => {
    const api = offsetApi(100, LIMIT, (offset) => ({ last: offset + LIMIT >= 100 }));
    for await (const result of byOffset(api.fetchPage)) if (result.cursor === 10) break;
    expect(api.asked).toEqual([0, 10]);
  });

  it('does not throw when the last page is exactly the maxPages-th', async () => {
    const api = offsetApi(50, LIMIT, (offset) => ({ last: offset + LIMIT >= 50 }));
    await expect(collect(byOffset(api.fetchPage, 0, 5))).resolves.toHaveLength(5);
  });
});

describe('offsetPaging: anomalies stop the listing with a PagingError', () => {
  it('an empty page that says last=false (it used to end the listing silently)', async () => {
    const api = offsetApi(10, LIMIT, () => ({ last: false, totalElements: 40 }));
    const seen: PageResult<FakePage>[] = [];
    const error = await pagingError(byOffset(api.fetchPage), seen);

    expect(seen.map((result) => result.cursor)).toEqual([0]);
    expect(error.endpoint).toBe(ENDPOINT);
    expect(error.cursor).toBe('offSet=10');
    expect(error.said).toMatchObject({ rows: 0, last: false, totalElements: 40 });
    expect(error.message).toMatch(
      /^GET \/cdr-api\/rest\/v1\/findings at offSet=10: the page is empty although the API says there is more \(the API said rows=0, last=false, totalElements=40\)/,
    );
  });

  it('an empty page before totalElements is reached, when the API omits last', async () => {
    const api = offsetApi(10, LIMIT, () => ({ totalElements: 25 }));
    const error = await pagingError(byOffset(api.fetchPage));
    expect(error.cursor).toBe('offSet=10');
    expect(error.problem).toMatch(/empty/);
  });

  it('a page with the same items as the one before (a gateway that ignores offSet)', async () => {
    const asked: number[] = [];
    const stuck = async (offset: number): Promise<FakePage> => {
      asked.push(offset);
      return { content: items(0, LIMIT), last: false, totalElements: 100, size: LIMIT };
    };
    const seen: PageResult<FakePage>[] = [];
    const error = await pagingError(byOffset(stuck), seen);

    expect(asked).toEqual([0, 10]);
    expect(seen.map((result) => result.cursor)).toEqual([0]);
    expect(error.cursor).toBe('offSet=10');
    expect(error.message).toContain('the page repeats the previous one (the same 10 items)');
    expect(error.message).toContain('last=false, totalElements=100, size=10');
  });

  it('no end within maxPages', async () => {
    let calls = 0;
    const endless = byOffset(
      async (offset) => {
        calls++;
        return { content: items(offset, LIMIT), last: false };
      },
      0,
      5,
    );
    const error = await pagingError(endless);
    expect(error.message).toMatch(/did not end within 5 pages/);
    expect(error.cursor).toBe('offSet=50');
    expect(calls).toBe(5);
  });
});

describe('pageNumberPaging', () => {
  it('goes on past pages capped below the size asked for while the API says last=false', async () => {
    const api = pageApi(100, 37, (page) => ({ last: page >= 2, size: 37, number: page, totalPages: 3 }));
    const results = await collect(byPage(api.fetchPage, 200));

    expect(api.asked).toEqual([0, 1, 2]);
    expect(ids(results)).toEqual(range(100));
  });

  it('ends at the last of totalPages when the API omits last, without asking past it', async () => {
    const api = pageApi(100, 37, () => ({ totalPages: 3 }));
    const results = await collect(byPage(api.fetchPage, 200));

    expect(api.asked).toEqual([0, 1, 2]);
    expect(ids(results)).toEqual(range(100));
  });

  it('ends on a short page only when the API says nothing', async () => {
    const api = pageApi(45, 20, () => ({}));
    expect(ids(await collect(byPage(api.fetchPage, 20)))).toEqual(range(45));
    expect(api.asked).toEqual([0, 1, 2]);
  });

  it('stops when the API serves another page number than the one asked for', async () => {
    // A gateway that will not go past page 1: it serves page 1 again for page 2.
    const api = pageApi(100, 10, (page) => ({ last: false, number: Math.min(page, 1) }));
    const clamped = async (page: number) => ({ ...(await api.fetchPage(page)), number: Math.min(page, 1) });
    const error = await pagingError(byPage(clamped, 10));
    expect(error.cursor).toBe('page=2');
    expect(error.message).toContain('the API served page number 1 instead');
  });

  it('stops on a repeated page and on an empty page that totalPages says is not the last', async () => {
    const repeated = await pagingError(byPage(async () => ({ content: items(0, 5), totalPages: 9 }), 5));
    expect(repeated.cursor).toBe('page=1');
    expect(repeated.problem).toMatch(/repeats/);

    const empty = await pagingError(
      byPage(async (page) => ({ content: page ? [] : items(0, 5), totalPages: 9 }), 5),
    );
    expect(empty.cursor).toBe('page=1');
    expect(empty.problem).toMatch(/empty/);
  });
});

describe('pages from 1 with a batch count (/reporting pageNumber and totalBatch)', () => {
  const reporting = (total: number, totalBatch: number | undefined, perPage = 10) => {
    const asked: number[] = [];
    const fetchPage = async (pageNumber: number) => {
      asked.push(pageNumber);
      return {
        controls: items(
          (pageNumber - 1) * perPage,
          Math.max(0, Math.min(perPage, total - (pageNumber - 1) * perPage)),
        ),
        totalBatch,
      };
    };
    return { asked, fetchPage };
  };
  const read = (api: ReturnType<typeof reporting>, previousFingerprint?: string, start = 1) =>
    pages({
      endpoint: 'GET /sdr/api/v1/reporting',
      cursorName: 'pageNumber',
      kind: 'page',
      firstPage: 1,
      start,
      fetchPage: api.fetchPage,
      info: (page) => ({
        rows: page.controls.length,
        totalPages: page.totalBatch,
        fingerprint: fingerprintOf(page.controls),
      }),
      previousFingerprint,
      maxPages: 50,
    });

  it('reads pages 1 to totalBatch and asks for none past it', async () => {
    const api = reporting(30, 3);
    await collect(read(api));
    expect(api.asked).toEqual([1, 2, 3]);
  });

  it('without totalBatch, reads until a page without controls, short or not', async () => {
    const api = reporting(25, undefined);
    const results = await collect(read(api));
    expect(api.asked).toEqual([1, 2, 3, 4]);
    expect(results.at(-1)?.page.controls).toEqual([]);
  });

  it('catches a page repeated across runs from the fingerprint saved with the checkpoint', async () => {
    // The previous run read page 1 and saved its fingerprint; the API now serves page 1 for page 2.
    const api = reporting(30, undefined);
    const page1 = await api.fetchPage(1);
    const stuck = { asked: api.asked, fetchPage: () => api.fetchPage(1) };
    const error = await pagingError(read(stuck, fingerprintOf(page1.controls), 2));
    expect(error.cursor).toBe('pageNumber=2');

    // Without the saved fingerprint the first page of the run is taken as it is.
    const fresh = reporting(30, undefined);
    const results = await collect(read(fresh, undefined, 2));
    expect(fresh.asked).toEqual([2, 3, 4]);
    expect(results).toHaveLength(3);
  });
});

describe('fingerprintOf', () => {
  it('names items by their id in order, and items without one by their JSON', () => {
    expect(fingerprintOf([{ uuid: 'a', id: 1 }, { cid: 70116 }, { name: 'x' }])).toBe(
      'uuid=a\ncid=70116\n{"name":"x"}',
    );
    expect(fingerprintOf([{ id: 1 }, { id: 2 }])).not.toBe(fingerprintOf([{ id: 2 }, { id: 1 }]));
  });
});

describe('reading ahead: pages after the current one are fetched while it is written', () => {
  /** An offset listing whose fetches wait for `release()`; tracks how many are in flight at once. */
  function slowOffsetApi(total: number, rowsAt: (offset: number) => number) {
    const asked: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const fetchPage = async (offset: number): Promise<FakePage> => {
      asked.push(offset);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      const content = items(offset, Math.max(0, Math.min(rowsAt(offset), total - offset)));
      return { content, totalElements: total };
    };
    return {
      asked,
      fetchPage,
      get maxInFlight() {
        return maxInFlight;
      },
      get inFlight() {
        return inFlight;
      },
    };
  }
  const ahead = (api: { fetchPage: (offset: number) => Promise<FakePage> }, concurrency: number, start = 0) =>
    offsetPaging({
      endpoint: ENDPOINT,
      fetchPage: api.fetchPage,
      start,
      limit: LIMIT,
      concurrency: () => concurrency,
    });

  it('keeps up to `concurrency` calls in flight once the total is known, and hands pages over in order', async () => {
    const api = slowOffsetApi(95, () => LIMIT);
    const results = await collect(ahead(api, 3));
    expect(results.map((result) => result.cursor)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(ids(results)).toEqual(range(95));
    expect(api.maxInFlight).toBe(3);
    expect(new Set(api.asked).size).toBe(api.asked.length);
  });

  it('fetches one page at a time without concurrency, or before the API says how far it goes', async () => {
    const api = slowOffsetApi(45, () => LIMIT);
    await collect(ahead(api, 1));
    expect(api.maxInFlight).toBe(1);
    expect(api.asked).toEqual([0, 10, 20, 30, 40]);
  });

  it('drops predictions when a page holds fewer rows than the one before, and uses each page only at its own offset', async () => {
    // A gateway that caps at 10 but serves 4 rows at offset 20 (not the last page).
    const api = slowOffsetApi(50, (offset) => (offset === 20 ? 4 : LIMIT));
    const results = await collect(ahead(api, 3));
    expect(results.map((result) => result.cursor)).toEqual([0, 10, 20, 24, 34, 44]);
    expect(ids(results)).toEqual(range(50));
    // Offsets 30 and 40 were asked for on the first prediction and then dropped, never used.
    expect(api.asked).toContain(30);
  });

  it('waits for calls still in flight when the caller stops reading', async () => {
    const api = slowOffsetApi(200, () => LIMIT);
    for await (const result of ahead(api, 4)) {
      if (result.cursor === 20) break;
    }
    expect(api.inFlight).toBe(0);
  });

  it('a failed fetch ahead surfaces at its turn, after the pages before it', async () => {
    const api = slowOffsetApi(60, () => LIMIT);
    const failing = async (offset: number) => {
      if (offset === 30) throw new Error('503 at offset 30');
      return api.fetchPage(offset);
    };
    const seen: number[] = [];
    await expect(async () => {
      for await (const result of ahead({ fetchPage: failing }, 3)) seen.push(result.cursor);
    }).rejects.toThrow('503 at offset 30');
    expect(seen).toEqual([0, 10, 20]);
  });

  /** A fetcher that logs `decode <offset>` once its answer is in and `landed` lets it decode. */
  const decodingFetcher =
    (events: string[], total: number, answer: (offset: number) => Promise<unknown>) =>
    async (offset: number, landed: () => Promise<void>): Promise<FakePage> => {
      await answer(offset);
      await landed();
      events.push(`decode ${offset}`);
      return { content: items(offset, LIMIT), totalElements: total };
    };
  const twoAhead = (fetchPage: ReturnType<typeof decodingFetcher>) =>
    offsetPaging({ endpoint: ENDPOINT, fetchPage, start: 0, limit: LIMIT, concurrency: () => 2 });

  it('starts the calls after answers that land together before decoding any of them', async () => {
    // Offsets 10 and 20 are read ahead (concurrency 2) and answer at the same moment.
    const events: string[] = [];
    const answers = new Map<number, () => void>();
    const answered = (offset: number) => new Promise<void>((resolve) => answers.set(offset, resolve));
    const listing = twoAhead(
      decodingFetcher(events, 50, async (offset) => {
        events.push(`start ${offset}`);
        if (offset === 10 || offset === 20) await answered(offset);
      }),
    );
    const reading = collect(listing);
    for (let turn = 0; turn < 100 && answers.size < 2; turn++)
      await new Promise((done) => setImmediate(done));
    for (const answer of answers.values()) answer();
    const results = await reading;

    expect(results.map((result) => result.cursor)).toEqual([0, 10, 20, 30, 40]);
    const at = (event: string) => events.indexOf(event);
    expect(at('start 30')).toBeLessThan(at('decode 10'));
    expect(at('start 40')).toBeLessThan(at('decode 10'));
    expect(at('start 40')).toBeLessThan(at('decode 20'));
  });

  it('decodes a page read ahead only when the caller takes it, and never one it does not take', async () => {
    const events: string[] = [];
    const listing = twoAhead(
      decodingFetcher(events, 100, () => new Promise((resolve) => setTimeout(resolve, 1))),
    );
    for await (const { cursor } of listing) {
      // Time for every call read ahead to land while this page is "written".
      await new Promise((resolve) => setTimeout(resolve, 30));
      events.push(`took ${cursor}`);
      if (cursor === 20) break;
    }

    expect(events).toEqual(['decode 0', 'took 0', 'decode 10', 'took 10', 'decode 20', 'took 20']);
  });

  it('counts a call as landed when its page is decoded if the fetcher never says so', async () => {
    const api = slowOffsetApi(95, () => LIMIT);
    const results = await collect(ahead({ fetchPage: (offset) => api.fetchPage(offset) }, 3));
    expect(ids(results)).toEqual(range(95));
    expect(api.maxInFlight).toBe(3);
  });

  it('reads ahead by page number up to totalPages', async () => {
    const asked: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const fetchPage = async (page: number): Promise<FakePage> => {
      asked.push(page);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { content: items(page * 5, page < 6 ? 5 : 2), totalPages: 7, number: page };
    };
    const results = await collect(
      pageNumberPaging({ endpoint: ENDPOINT, fetchPage, start: 0, size: 5, concurrency: () => 2 }),
    );
    expect(results.map((result) => result.cursor)).toEqual(range(7));
    expect(asked.sort((a, b) => a - b)).toEqual(range(7));
    expect(maxInFlight).toBe(2);
  });
});
