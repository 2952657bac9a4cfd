/**
 * Paging as async generators: the caller writes each page as it arrives and may stop at any page
 * (deadline, budget) knowing exactly which cursor to resume from.
 *
 * Where a listing ends is what the API says, not what we infer (README, "Paging"):
 * - `last: true` ends it; `last: false` goes on, even after a short page (a gateway may serve fewer
 *   rows than asked for and say so only in its metadata);
 * - without `last`: `totalElements` for offset paging (ends once offset + rows >= totalElements),
 *   `totalPages` for page paging (ends at its last page);
 * - only when the API says none of these does a short page (against the server's `size`, else
 *   the size asked for) or an empty page end it.
 * An offset moves by the rows received, never by the limit asked for. A page that contradicts
 * what the API said stops the listing with a {@link PagingError}: the same items as the page
 * before, an empty page while the API says there is more, another page number than the one asked
 * for, or no end within `maxPages`.
 */

/** What a page says about the listing (Spring `Page` fields); absent means the API did not say. */
export interface PageMeta {
  last?: boolean;
  totalElements?: number;
  totalPages?: number;
  /** The page size the server used, which may be smaller than the one asked for. */
  size?: number;
  /** The page the server says it served (Spring `number`, counted from 0). */
  number?: number;
}

export interface PageInfo extends PageMeta {
  /** Rows on this page. */
  rows: number;
  /** The page's items in order; the same on two pages in a row means the API served a page again. */
  fingerprint: string;
}

export interface Listing {
  /** What is listed, for errors: `GET /cdr-api/rest/v1/findings`, with its window or pair. */
  endpoint: string;
  /** How the cursor is sent, for errors: `offSet`, `page`, `pageNumber`. */
  cursorName: string;
  /** `offset`: moves by the rows received; `page`: a page number, moves by one. */
  kind: 'offset' | 'page';
  /** The first page's number (0 for Spring, 1 for /reporting); `totalPages` counts from it. */
  firstPage?: number;
  /** Rows asked for per page; without it only an empty page ends a listing the API does not mark. */
  requestedSize?: number;
}

/**
 * Fetches the page at `cursor`. A fetcher that can tell when its call's answer is in (its bytes
 * read, its call slot free) calls `landed` then and awaits it before decoding the page: the
 * read-ahead starts the next call at once, and the decoding waits until that call's request is
 * out, so answers that arrive together all send their successors before any of them is decoded.
 * A page read ahead is decoded only once the caller takes it: until then it waits as the bytes
 * it came as, not as the objects it parses into, which the garbage collector would copy again
 * and again while the pages before it are written. `landed` rejects when the page is not
 * needed after all (the listing stopped, or the prediction that asked for it was dropped).
 */
export type FetchPage<P> = (cursor: number, landed: () => Promise<void>) => Promise<P>;

export interface PagingOptions<P> extends Listing {
  /** First cursor (an offset, a page number). */
  start: number;
  fetchPage: FetchPage<P>;
  info: (page: P) => PageInfo;
  /** Fingerprint of the page read just before `start`, when a later run resumes the listing. */
  previousFingerprint?: string;
  maxPages?: number;
  /**
   * Calls that may be in flight at once (the subscription's concurrency limit): that many pages
   * after the current one are fetched while it is written. @default 0, no read-ahead
   */
  concurrency?: () => number;
}

export interface PageResult<P> {
  /** The cursor this page was fetched with. */
  cursor: number;
  /** The cursor of the page after it, or undefined after the last page. */
  next: number | undefined;
  page: P;
  fingerprint: string;
}

/** The API's paging contradicts itself: the listing stops before it could lose or repeat rows. */
export class PagingError extends Error {
  override name = 'PagingError';
  constructor(
    readonly endpoint: string,
    /** Where the listing stopped, e.g. `offSet=37`; the checkpoint stays there. */
    readonly cursor: string,
    readonly problem: string,
    /** What the API said on the page that stopped it. */
    readonly said: PageMeta & { rows?: number },
  ) {
    super(
      `${endpoint} at ${cursor}: ${problem} (the API said ${describe(said)}). ` +
        `The listing stopped: the pages before are saved and the next run starts again at ${cursor}`,
    );
  }
}

const DEFAULT_MAX_PAGES = 10_000;

export async function* pages<P>(options: PagingOptions<P>): AsyncGenerator<PageResult<P>> {
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  const ahead = new ReadAhead(options);
  let cursor = options.start;
  let previous = options.previousFingerprint;
  let said: PageInfo | undefined;
  try {
    for (let fetched = 0; fetched < maxPages; fetched++) {
      const page = await ahead.take(cursor);
      said = options.info(page);
      checkServed(options, cursor, said, previous);
      const next = nextCursor(options, cursor, said);
      // The pages after this one are fetched while the caller writes it.
      if (next !== undefined) ahead.plan(next, said, maxPages - fetched - 1);
      yield { cursor, next, page, fingerprint: said.fingerprint };
      if (next === undefined) return;
      cursor = next;
      previous = said.fingerprint;
    }
  } finally {
    // Nothing keeps running once the listing ends or the caller stops reading it.
    await ahead.settle();
  }
  throw new PagingError(
    options.endpoint,
    at(options, cursor),
    `the listing did not end within ${maxPages} pages`,
    metaOf(said),
  );
}

/**
 * Fetches the pages after the current one while it is written, once the API has said how far the
 * listing goes (`totalElements`, `totalPages`): those cursors are independent. Up to
 * `concurrency()` calls are in flight at once, and each call that lands starts the next one at
 * once, whether or not the caller has taken the pages before it: the caller's writes never hold a
 * slot idle. At most `concurrency()` landed pages wait for the caller, which bounds memory. An
 * offset listing is predicted to go on in steps of the rows the last page taken held; when a page
 * holds fewer, the predictions after it are dropped and made again, so a page is only ever used at
 * the cursor the rules above give. Pages are handed over in order. A call has landed when its
 * fetcher says so (see {@link FetchPage}) or, failing that, when its page is decoded.
 */
interface Fetch<P> {
  page: Promise<P>;
  /** Lets a landed page be decoded (the caller takes it), or tells its fetcher it is not needed. */
  release(taken: boolean): void;
}

/** Why `landed` rejects: the page read ahead is not needed after all. */
class NotNeeded extends Error {
  override name = 'NotNeeded';
}

class ReadAhead<P> {
  private readonly fetches = new Map<number, Fetch<P>>();
  private readonly dropped: Promise<unknown>[] = [];
  private basis: { next: number; page: PageInfo; budget: number } | undefined;
  /** The last cursor handed to the caller: nothing at or before it is fetched again. */
  private taken: number | undefined;
  /** Calls started and not landed, taken or not. */
  private running = 0;
  private closed = false;

  constructor(private readonly options: PagingOptions<P>) {}

  take(cursor: number): Promise<P> {
    this.taken = cursor;
    const fetch = this.fetches.get(cursor) ?? this.start(cursor);
    this.fetches.delete(cursor);
    fetch.release(true);
    return fetch.page;
  }

  /** Reads ahead from `next` on, as far as the API said the listing goes and `budget` pages allow. */
  plan(next: number, page: PageInfo, budget: number): void {
    this.basis = { next, page, budget };
    const wanted = new Set(this.wanted());
    for (const [cursor, fetch] of this.fetches) {
      if (wanted.has(cursor)) continue;
      this.fetches.delete(cursor);
      fetch.release(false);
      this.dropped.push(fetch.page);
    }
    this.pump();
  }

  /** The cursors worth having: as many as may run at once, and as many again landed and waiting. */
  private wanted(): number[] {
    const width = this.options.concurrency?.() ?? 0;
    if (!this.basis || width <= 0) return [];
    const { next, page, budget } = this.basis;
    const cursors = predictCursors(this.options, next, page, Math.min(2 * width, budget));
    const taken = this.taken;
    return taken === undefined ? cursors : cursors.filter((cursor) => cursor > taken);
  }

  /** Starts calls for the wanted cursors in order while fewer than `concurrency()` are running. */
  private pump(): void {
    if (this.closed) return;
    const limit = this.options.concurrency?.() ?? 0;
    for (const cursor of this.wanted()) {
      if (this.running >= limit) return;
      if (!this.fetches.has(cursor)) this.fetches.set(cursor, this.start(cursor));
    }
  }

  /** Starts the call for `cursor`; when it lands, the next one starts. */
  private start(cursor: number): Fetch<P> {
    this.running++;
    let done = false;
    const land = () => {
      if (done) return;
      done = true;
      this.running--;
      this.pump();
    };
    let release: (taken: boolean) => void = () => {};
    const wanted = new Promise<void>((resolve, reject) => {
      release = (taken) =>
        taken ? resolve() : reject(new NotNeeded('the listing no longer needs this page'));
    });
    // Observed here so a page never taken is not an "unhandled" rejection.
    wanted.catch(() => undefined);
    const page = this.options.fetchPage(cursor, () => {
      // A microtask: a fetcher that says so at once must not start calls from inside this one.
      queueMicrotask(land);
      // Two turns: the call started on landing sends its request on the next one (the Qualys
      // transport waits a turn for its connection), and this page is decoded after that, once taken.
      return nextTurn()
        .then(nextTurn)
        .then(() => wanted);
    });
    // Handled here so a failure is not "unhandled" before its turn; take() still sees it.
    page.then(land, land);
    return { page, release };
  }

  async settle(): Promise<void> {
    this.closed = true;
    for (const fetch of this.fetches.values()) fetch.release(false);
    await Promise.allSettled([...[...this.fetches.values()].map((fetch) => fetch.page), ...this.dropped]);
    this.fetches.clear();
  }
}

/** Resolves after the I/O already waiting has been handled (Node's check phase). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Up to `width` cursors from `next` on that the API said exist. */
function predictCursors(listing: Listing, next: number, page: PageInfo, width: number): number[] {
  const cursors: number[] = [];
  if (listing.kind === 'offset') {
    if (page.totalElements === undefined || page.rows === 0) return cursors;
    for (let cursor = next; cursor < page.totalElements && cursors.length < width; cursor += page.rows)
      cursors.push(cursor);
    return cursors;
  }
  if (page.totalPages === undefined) return cursors;
  const end = (listing.firstPage ?? 0) + page.totalPages;
  for (let cursor = next; cursor < end && cursors.length < width; cursor++) cursors.push(cursor);
  return cursors;
}

/** The cursor after `page`, read at `cursor`, or undefined when it ends the listing. */
export function nextCursor(listing: Listing, cursor: number, page: PageInfo): number | undefined {
  const more = saysMore(listing, cursor, page);
  if (page.rows === 0) {
    if (more) {
      throw new PagingError(
        listing.endpoint,
        at(listing, cursor),
        'the page is empty although the API says there is more',
        metaOf(page),
      );
    }
    return undefined;
  }
  if (more !== undefined) return more ? advance(listing, cursor, page) : undefined;
  const size = page.size ?? listing.requestedSize;
  return size !== undefined && page.rows < size ? undefined : advance(listing, cursor, page);
}

/** Whether the API says more pages follow; undefined when it does not say. */
function saysMore(listing: Listing, cursor: number, page: PageInfo): boolean | undefined {
  if (page.last !== undefined) return !page.last;
  if (listing.kind === 'offset') {
    return page.totalElements === undefined ? undefined : cursor + page.rows < page.totalElements;
  }
  return page.totalPages === undefined ? undefined : pageIndex(listing, cursor) + 1 < page.totalPages;
}

const advance = (listing: Listing, cursor: number, page: PageInfo) =>
  listing.kind === 'offset' ? cursor + page.rows : cursor + 1;

const pageIndex = (listing: Listing, cursor: number) => cursor - (listing.firstPage ?? 0);

/** Throws when the page is not the one asked for: the previous one again, or another page number. */
function checkServed(listing: Listing, cursor: number, page: PageInfo, previous: string | undefined): void {
  const stop = (problem: string) =>
    new PagingError(listing.endpoint, at(listing, cursor), problem, metaOf(page));
  if (page.rows > 0 && page.fingerprint === previous) {
    throw stop(
      `the page repeats the previous one (the same ${page.rows} item${page.rows === 1 ? '' : 's'}): ` +
        `the API ignores ${listing.cursorName} or will not go past it`,
    );
  }
  if (listing.kind === 'page' && page.number !== undefined && page.number !== pageIndex(listing, cursor)) {
    throw stop(`the API served page number ${page.number} instead: it will not go past it`);
  }
}

const at = (listing: Listing, cursor: number) => `${listing.cursorName}=${cursor}`;

function metaOf(page: PageInfo | undefined): PageMeta & { rows?: number } {
  if (!page) return {};
  const { fingerprint: _, ...meta } = page;
  return meta;
}

function describe(said: PageMeta & { rows?: number }): string {
  const fields = Object.entries(said).filter(([, value]) => value !== undefined);
  return fields.length ? fields.map(([name, value]) => `${name}=${String(value)}`).join(', ') : 'nothing';
}

/** Items in order, each by its id where it has one (`uuid`, `id`, `cid`, `fileUuid`), else as JSON. */
export function fingerprintOf(items: readonly unknown[]): string {
  return items.map(identity).join('\n');
}

const ID_FIELDS = ['uuid', 'id', 'cid', 'fileUuid'] as const;

function identity(item: unknown): string {
  if (item && typeof item === 'object') {
    for (const field of ID_FIELDS) {
      const value = (item as Record<string, unknown>)[field];
      if (typeof value === 'string' || typeof value === 'number') return `${field}=${value}`;
    }
  }
  return JSON.stringify(item) ?? String(item);
}

/** The Spring `Page` fields paging reads (the schemas make numeric strings numbers, nonsense absent). */
export interface SpringPage {
  content: readonly unknown[];
  last?: boolean | null;
  totalElements?: number | null;
  totalPages?: number | null;
  size?: number | null;
  number?: number | null;
}

function springInfo(page: SpringPage): PageInfo {
  return {
    rows: page.content.length,
    last: page.last ?? undefined,
    totalElements: page.totalElements ?? undefined,
    totalPages: page.totalPages ?? undefined,
    size: page.size ?? undefined,
    number: page.number ?? undefined,
    fingerprint: fingerprintOf(page.content),
  };
}

interface SpringPaging<P> {
  endpoint: string;
  fetchPage: FetchPage<P>;
  start: number;
  maxPages?: number;
  concurrency?: () => number;
}

/** CDR findings: `offSet`/`limit` paging; the offset moves by the rows received. */
export const offsetPaging = <P extends SpringPage>(options: SpringPaging<P> & { limit: number }) =>
  pages({
    ...options,
    cursorName: 'offSet',
    kind: 'offset',
    requestedSize: options.limit,
    info: springInfo,
  });

/** SaaSDR lists: Spring `page` (from 0) and `size` paging. */
export const pageNumberPaging = <P extends SpringPage>(options: SpringPaging<P> & { size: number }) =>
  pages({
    ...options,
    cursorName: 'page',
    kind: 'page',
    firstPage: 0,
    requestedSize: options.size,
    info: springInfo,
  });
