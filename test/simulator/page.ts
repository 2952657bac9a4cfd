/** Spring Data `Page` bodies, with the key order of the samples. */

interface Sort {
  sorted: boolean;
  empty: boolean;
  unsorted: boolean;
}

const sortOf = (sorted: boolean): Sort => ({ sorted, empty: !sorted, unsorted: !sorted });

/** CDR findings: offset/limit paging (samples/cdr-findings-page.json). */
export function cdrPage<T>(all: readonly T[], offset: number, limit: number) {
  const content = all.slice(offset, offset + limit);
  const number = Math.floor(offset / limit);
  const totalElements = all.length;
  const sort = sortOf(false);
  return {
    content,
    pageable: { pageNumber: number, pageSize: limit, sort, offset, paged: true, unpaged: false },
    totalPages: Math.ceil(totalElements / limit),
    totalElements,
    last: offset + limit >= totalElements,
    number,
    size: limit,
    numberOfElements: content.length,
    sort,
    first: offset === 0,
    empty: content.length === 0,
  };
}

/** SaaSDR lists: page/size paging (samples/sdr-*-page.json). */
export function sdrPage<T>(all: readonly T[], page: number, size: number, sorted: boolean) {
  const content = all.slice(page * size, (page + 1) * size);
  const totalElements = all.length;
  const totalPages = Math.ceil(totalElements / size);
  const sort = { unsorted: !sorted, sorted, empty: !sorted };
  return {
    content,
    pageable: { sort, pageNumber: page, pageSize: size, offset: page * size, paged: true, unpaged: false },
    last: page + 1 >= totalPages,
    totalPages,
    totalElements,
    first: page === 0,
    sort,
    numberOfElements: content.length,
    size,
    number: page,
    empty: content.length === 0,
  };
}
