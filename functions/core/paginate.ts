/**
 * Paging as async generators: the caller writes each page as it arrives and may stop at any
 * page (deadline, budget) knowing exactly which cursor to resume from. Every loop is bounded
 * by `maxPages`, so a misbehaving API can never keep a run paging forever.
 */

export interface PageInfo {
  /** Items on this page. */
  count: number;
  /** The API says this is the last page (Spring `last`), when it says so. */
  last?: boolean | null;
}

export interface PageResult<P> {
  /** The cursor this page was fetched with. */
  cursor: number;
  /** The cursor of the page after it, or undefined after the last page. */
  next: number | undefined;
  page: P;
}

export interface PagingOptions<P> {
  /** First cursor (an offset, a page number). */
  start: number;
  fetchPage: (cursor: number) => Promise<P>;
  info: (page: P) => PageInfo;
  /** Cursor after `cursor` given the page just read: offset + limit, or page + 1. */
  advance: (cursor: number, page: P) => number;
  /** A short page ends the listing (offset paging), when the API omits `last`. */
  pageSize?: number;
  maxPages?: number;
}

export async function* pages<P>(options: PagingOptions<P>): AsyncGenerator<PageResult<P>> {
  const maxPages = options.maxPages ?? 10_000;
  let cursor = options.start;
  for (let fetched = 0; fetched < maxPages; fetched++) {
    const page = await options.fetchPage(cursor);
    const { count, last } = options.info(page);
    const ended =
      count === 0 || last === true || (options.pageSize !== undefined && count < options.pageSize);
    const next = ended ? undefined : options.advance(cursor, page);
    yield { cursor, next, page };
    if (next === undefined) return;
    cursor = next;
  }
  throw new Error(`paging stopped after ${maxPages} pages without reaching the last one`);
}

type SpringPage = { content: unknown[]; last?: boolean | null };

/** Spring `Page` responses: a page ends the listing when it says `last`, or is short or empty. */
function springPaging<P extends SpringPage>(
  fetchPage: (cursor: number) => Promise<P>,
  start: number,
  size: number,
  advance: (cursor: number) => number,
  maxPages?: number,
): AsyncGenerator<PageResult<P>> {
  return pages({
    start,
    fetchPage,
    info: (page) => ({ count: page.content.length, last: page.last }),
    advance,
    pageSize: size,
    maxPages,
  });
}

/** CDR findings: `offSet`/`limit` paging. */
export const offsetPaging = <P extends SpringPage>(
  fetchPage: (offset: number) => Promise<P>,
  start: number,
  limit: number,
  maxPages?: number,
) => springPaging(fetchPage, start, limit, (offset) => offset + limit, maxPages);

/** SaaSDR lists: Spring `page` (from 0) and `size` paging. */
export const pageNumberPaging = <P extends SpringPage>(
  fetchPage: (page: number) => Promise<P>,
  start: number,
  size: number,
  maxPages?: number,
) => springPaging(fetchPage, start, size, (page) => page + 1, maxPages);
