/** Spring Data `Page` bodies, with the key order of the samples, served as `PagingBehaviour` says. */

import type { PagingBehaviour } from './types';

interface Sort {
  sorted: boolean;
  empty: boolean;
  unsorted: boolean;
}

const sortOf = (sorted: boolean): Sort => ({ sorted, empty: !sorted, unsorted: !sorted });

/** The cursor the gateway serves for `requested`: never past `stuckAt`, never below `first`. */
export function servedCursor(requested: number, paging: PagingBehaviour, first = 0): number {
  return paging.stuckAt === undefined ? requested : Math.max(first, Math.min(requested, paging.stuckAt));
}

/** Whether the gateway answers `requested` with an empty page that says there is more. */
export const emptied = (requested: number, paging: PagingBehaviour): boolean =>
  paging.emptyFrom !== undefined && requested >= paging.emptyFrom;

const PAGE_FIELDS = [
  'totalPages',
  'totalElements',
  'last',
  'first',
  'number',
  'size',
  'numberOfElements',
  'empty',
];

/** Drops `last` and turns the paging fields (and `extra`) into strings, as `paging` asks. */
export function shaped(body: object, paging: PagingBehaviour, extra: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if (paging.omitLast) delete out.last;
  if (paging.metadataAsStrings) {
    for (const field of [...PAGE_FIELDS, ...extra]) if (field in out) out[field] = String(out[field]);
  }
  return out;
}

/**
 * The rows the gateway serves for a request at `requested` (an offset, or a page number when `perPage`),
 * asking for `asked` rows, under `cap`: the page size it uses, the offset it serves and the rows.
 */
function slice<T>(
  all: readonly T[],
  request: { requested: number; asked: number; cap: number | undefined; perPage: boolean },
  paging: PagingBehaviour,
) {
  const size = Math.min(request.asked, request.cap ?? request.asked);
  const cursor = servedCursor(request.requested, paging);
  const offset = request.perPage ? cursor * size : cursor;
  const empty = emptied(request.requested, paging);
  return { size, offset, empty, content: empty ? [] : all.slice(offset, offset + size) };
}

/** CDR findings: offset/limit paging (samples/cdr-findings-page.json). */
export function cdrPage<T>(
  all: readonly T[],
  requested: number,
  limit: number,
  paging: PagingBehaviour = {},
) {
  const { size, offset, empty, content } = slice(
    all,
    { requested, asked: limit, cap: paging.cdrPageCap, perPage: false },
    paging,
  );
  const number = Math.floor(offset / size);
  const totalElements = all.length;
  const sort = sortOf(false);
  return shaped(
    {
      content,
      pageable: { pageNumber: number, pageSize: size, sort, offset, paged: true, unpaged: false },
      totalPages: Math.ceil(totalElements / size),
      totalElements,
      last: !empty && offset + size >= totalElements,
      number,
      size,
      numberOfElements: content.length,
      sort,
      first: offset === 0,
      empty: content.length === 0,
    },
    paging,
  );
}

/** SaaSDR lists: page/size paging (samples/sdr-*-page.json). */
export function sdrPage<T>(
  all: readonly T[],
  requested: number,
  asked: number,
  sorted: boolean,
  paging: PagingBehaviour = {},
) {
  const { size, offset, empty, content } = slice(
    all,
    { requested, asked, cap: paging.sdrPageCap, perPage: true },
    paging,
  );
  const page = offset / size;
  const totalElements = all.length;
  const totalPages = Math.ceil(totalElements / size);
  const sort = { unsorted: !sorted, sorted, empty: !sorted };
  return shaped(
    {
      content,
      pageable: { sort, pageNumber: page, pageSize: size, offset, paged: true, unpaged: false },
      last: !empty && page + 1 >= totalPages,
      totalPages,
      totalElements,
      first: page === 0,
      sort,
      numberOfElements: content.length,
      size,
      number: page,
      empty: content.length === 0,
    },
    paging,
  );
}
