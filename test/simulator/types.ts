import type { CdrFinding } from './data/cdr';
import type { EvaluationResult } from './data/posture';
import type { SdrDataset } from './data/sdr';

export interface SimulatorOptions {
  /** Default 42; the same seed and anchor give the same data. */
  seed?: number;
  /**
   * Default: now floored to the minute. CDR findings span [anchor - cdr.historyHours, anchor].
   * The simulator clock starts at `anchor` when given, else at the real time, then runs in real time.
   */
  anchor?: Date;
  /** Default DEFAULT_CREDENTIALS. */
  credentials?: { username: string; password: string };
  /** JWT lifetime, default 14400 (4 h). */
  tokenTtlSec?: number;
  /** Default undefined: no rate-limit headers, no limits enforced. */
  rateLimit?: RateLimitOptions;
  cdr?: CdrOptions;
  sdr?: SdrOptions;
  /** Default 0: added to every response, /auth included. */
  latencyMs?: number;
  /** Default: honest Spring pages of the size asked for. */
  paging?: PagingBehaviour;
}

/**
 * How the gateway pages: the caps, metadata shapes and faults a real gateway may show (issue 8).
 * Cursors are `offSet` (CDR), `page` (SaaSDR lists) and `pageNumber` (/reporting), each in its unit.
 */
export interface PagingBehaviour {
  /** CDR findings serve min(limit, cap) rows; `size`, `last`, `totalPages`, `number` are computed on the cap. */
  cdrPageCap?: number;
  /** SaaSDR lists serve min(size, cap) rows a page, page p holding rows [p*cap, (p+1)*cap), metadata on the cap. */
  sdrPageCap?: number;
  /** Page fields (and /reporting `totalBatch`) as strings: `"totalElements":"2345"`, `"last":"false"`. */
  metadataAsStrings?: boolean;
  /** Spring pages without `last`. */
  omitLast?: boolean;
  /** /reporting answers carry `totalBatch`: the number of pages of the listing (pageNumber runs 1..totalBatch). */
  reportingTotalBatch?: boolean;
  /**
   * The gateway will not go past this cursor: a later one is served this one's page again, with its
   * metadata. 0 ignores offSet/page altogether (pageNumber never goes below 1).
   */
  stuckAt?: number;
  /** From this cursor on, every page is empty while its metadata says there is more (`last: false`). */
  emptyFrom?: number;
}

export interface CdrOptions {
  /** Default 48. */
  historyHours?: number;
  /** Default 6. */
  findingsPerHour?: number;
  /**
   * Default 0: findings go on at `findingsPerHour` for this long after the anchor, each visible once
   * the simulator clock reaches its timestamp (or later, see lateFraction): advance the clock to let
   * a long series of scheduled runs see new data.
   */
  futureHours?: number;
  /**
   * Default 0: this fraction of the generated findings (history and future; seeded) reaches the API
   * late, a delay drawn uniformly from (0, lateMaxMinutes] after its timestamp.
   */
  lateFraction?: number;
  /** Default 120: the longest delay of a `lateFraction` finding. */
  lateMaxMinutes?: number;
  /**
   * Default 4: findings in the last `lateDelayMinutes` before the anchor (less 10 minutes, so none
   * turns visible in the clock's first 10 minutes) that reach the API `lateDelayMinutes` late.
   */
  lateFindings?: number;
  /** Default 120: late findings become visible this long after their timestamp. */
  lateDelayMinutes?: number;
}

export interface SdrOptions {
  /** Default 450. */
  documents?: number;
  /** Default 120. */
  users?: number;
  /** Default 30. */
  groups?: number;
  /** Default 40. */
  applications?: number;
  /** Default 12. */
  meetings?: number;
  /** Default 8 (index 1 is the big one, 2 is `inprogress`, 3 is `failed`). */
  reports?: number;
  /** Default false: adds connector 2400 of type DROPBOX (and a few DROPBOX users and documents). */
  includeUnknownConnectorType?: boolean;
  /** Size of each completed report file, default 200_000 bytes (the file is at most this big). */
  reportSizeBytes?: number;
  /** Size of the big report (reports[1]), default 12 MiB. */
  bigReportSizeBytes?: number;
  /** Controls per /sdr/api/v1/reporting page, default 10. */
  reportingPageSize?: number;
}

export interface RateLimitOptions {
  /** Calls per window. */
  limit: number;
  windowSec: number;
  /** Default 2. */
  concurrency?: number;
  /** Default 429. */
  overLimitStatus?: 409 | 429;
}

export interface QueuedMisbehaviour {
  fail: number;
  malformed: number;
  invalid: number;
  slow: number;
  reset: number;
  truncatedDownloads: number;
  errorPageDownloads: number;
}

/** Switchable misbehaviour; it affects only counted API requests (not /auth). */
export interface SimulatorControl {
  /**
   * Runs `action` once `n` more requests have passed auth and the rate limit, just before the
   * next one is handled: a way to misbehave mid-run (`afterRequests(3, () => malformedNext(1))`).
   */
  afterRequests(n: number, action: () => void): void;
  /** The next n requests answer `status` (default 503) with a small JSON error body. */
  failNext(n: number, status?: number): void;
  /** The next n requests answer 200 with a truncated, non-JSON body (content-type application/json). */
  malformedNext(n: number): void;
  /** The next n requests answer 200 with valid JSON missing required fields: `{"content":"oops"}`. */
  invalidNext(n: number): void;
  /** The next n requests are delayed by delayMs before being handled. */
  slowNext(n: number, delayMs: number): void;
  /** The next n requests have their socket destroyed without a response. */
  resetNext(n: number): void;
  /** The next report download sends its headers and `afterBytes` bytes (default half the file), then the socket is destroyed. */
  truncateNextDownload(afterBytes?: number): void;
  /** The next n report downloads answer 200 `text/html` with a "Session expired" login page instead of the file. */
  errorPageNextDownloads(n: number): void;
  /**
   * Every POST /auth answers `status` (default 308) with `Location: location` until called with
   * undefined: a gateway that sends logins elsewhere. Counted in `stats.authCalls`; no token is issued.
   */
  redirectAuth(location: string | undefined, status?: number): void;
  /** The next n requests answer `status` (default 302) with `Location` = the same path and query on `origin`. */
  redirectNext(n: number, origin: string, status?: number): void;
  /**
   * Serves `items` (anything: null, strings, records with bad ids or dates) in every answer of the
   * list at `path`, inserted at index `at` (default 0) of its data, counted in its totals: CDR
   * findings whatever the window, a SaaSDR list, scanners or reports. `[]` stops it.
   */
  injectItems(path: string, items: readonly unknown[], at?: number): void;
  /** Every JWT issued so far becomes invalid (401 `{"error":"token expired"}`). */
  expireTokens(): void;
  /** From now on /auth accepts only these credentials (a rotated password); tokens issued before stay valid. */
  setCredentials(credentials: { username: string; password: string }): void;
  setRateLimit(opts: RateLimitOptions | undefined): void;
  /** Replaces the paging behaviour (undefined: honest pages again), e.g. mid-run from afterRequests. */
  setPaging(behaviour: PagingBehaviour | undefined): void;
  /**
   * Another consumer of the subscription (another tool) starts `count` calls that run for `forMs`
   * of real time: each spends a call of the window (while any is left) and holds a concurrency slot
   * until then, so our calls meet the limits as they would. Resolves when the slots are free again.
   */
  holdSlots(count: number, forMs: number): Promise<void>;
  /** Moves the simulator clock (token expiry, rate-limit windows, late-data visibility) forward. */
  advanceClock(ms: number): void;
  /** The simulator clock. */
  now(): Date;
  /** Adds findings visible immediately; missing fields are filled in deterministically. */
  addFindings(partial: Partial<CdrFinding>[]): CdrFinding[];
  /** Findings stamped `opts.timestamp` (+0..4 s) that become visible at opts.timestamp + delayMinutes. */
  addLateFindings(count: number, opts: { timestamp: Date; delayMinutes: number }): CdrFinding[];
  /** Changes one resource's evaluation; a control's status is Fail if any resource fails, else Error if any errs. */
  setControlResult(connectorId: number, cid: string, resourceId: string, result: EvaluationResult): void;
  /** Counts of queued misbehaviours. */
  pending(): QueuedMisbehaviour;
  /** Clears queued misbehaviours. */
  reset(): void;
}

export interface SimulatorStats {
  /** Counted API calls: every request but /auth and rate-limited ones (401s included). */
  requests: number;
  /** POST /auth calls, successful or not. */
  authCalls: number;
  /** Every request by pathname (/auth and rate-limited ones included). */
  byPath: Record<string, number>;
  /** 409/429 over-limit answers, live: every client's calls (several collectors and runs) count. */
  rateLimited: number;
  /** Most requests in flight at once, across all clients and the other consumer's held slots. */
  maxConcurrent: number;
  /** TCP connections opened by clients (a client that reuses its connections opens few). */
  connections: number;
  /** Counted requests that passed auth and the rate limit, in order: path and query parameters. */
  calls: Array<{ path: string; query: Record<string, string> }>;
  /** Calls made by the other consumer of {@link SimulatorControl.holdSlots}. */
  otherConsumerCalls: number;
  issuedTokens: number;
  reset(): void;
}

/** Read-only view of the generated data, for assertions. */
export interface SimulatorData {
  readonly anchor: Date;
  /** Copies of the findings, newest first; only the ones visible now unless includeInvisible. */
  findings(includeInvisible?: boolean): CdrFinding[];
  /** The CDR cloud accounts (cspAccount values). */
  cdrAccounts(): string[];
  /** Every JWT issued so far, to check that none leaks into logs, S3 or alerts. */
  issuedTokens(): string[];
  /** The SaaSDR records as served (do not mutate). */
  readonly sdr: SdrDataset;
  /** Byte size of a completed report's file, undefined otherwise. */
  reportSize(fileUuid: string): number | undefined;
}

export interface Simulator {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
  control: SimulatorControl;
  /** Live object. */
  stats: SimulatorStats;
  data: SimulatorData;
}
