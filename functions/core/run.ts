import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { CallBudget } from '../qualys/budget';
import type { CallOptions, QualysClient } from '../qualys/client';
import { isStopSignal, QualysApiError } from '../qualys/errors';
import type { Rejected } from '../qualys/validation';
import type { DigestFormat } from './alerts/digest';
import type { AlertOutbox } from './alerts/outbox';
import { PagingError } from './paging';
import type { AlertSink, ObjectStore, PutOptions, RunLogger } from './ports';
import { writeJson } from './records';
import { keyInBucket } from './scoped-store';

/**
 * The skeleton every collector run shares: a store that counts what the run writes, one call cap,
 * one way to stop cleanly (budget, deadline, call cap), rejected items set aside with their reason,
 * and a finish that publishes the alert outbox even after a failure and fills the summary's
 * `apiCalls` and `rateLimit`.
 */

/** What a collector's run takes: the Qualys client, the store, a logger, its settings and a clock. */
export interface CollectorDependencies<Settings, Client extends keyof QualysClient = 'getJson'> {
  qualys: Pick<QualysClient, Client | 'budget'>;
  store: ObjectStore;
  logger: RunLogger;
  settings: Settings;
  now?: () => number;
}

/** A collector that alerts: its settings carry the bucket the alerts link to. */
export interface AlertingDependencies<Settings> extends CollectorDependencies<Settings & { bucket: string }> {
  alerts: AlertSink;
}

/** What every run summary reports. */
export interface RunCounts {
  /** Objects this run wrote to S3 (every PUT: data, state, rejects, outbox). */
  objectsWritten: number;
  apiCalls: number;
  rateLimit: Record<string, number | undefined>;
  /** Why the run ended before it was done, when it did: budget, deadline, call cap. */
  stoppedEarly?: string;
  /** Listings stopped because the API's paging contradicted itself ({@link PagingError}); 0 set by {@link Run}. */
  pagingErrors?: number;
  /** Items set aside under `state/<collector>/rejected/` ({@link Run.setAside}); 0 set by {@link Run}. */
  rejected?: number;
  /** ISO time the lake holds this collector's data complete up to; its age is the `LagSeconds` metric. */
  freshAsOf?: string;
}

/** The counts every summary starts from. */
export const emptyRunCounts = (): RunCounts => ({ objectsWritten: 0, apiCalls: 0, rateLimit: {} });

export interface AlertCounts {
  alertsPublished: number;
  digestsPublished: number;
  /** Alerts SNS refused for their content, set aside under `state/<collector>/alerts-rejected/`. */
  alertsRejected: number;
}

export const emptyAlertCounts = (): AlertCounts => ({
  alertsPublished: 0,
  digestsPublished: 0,
  alertsRejected: 0,
});

/**
 * How the end of an invocation is shared out (T is the Lambda timeout): Qualys calls end by the
 * run's deadline, T - FINISH_MARGIN_MS; alert publishing rounds end by T - ABORT_MARGIN_MS -
 * OUTBOX_SAVE_MS, which leaves time to save the outbox; at T - ABORT_MARGIN_MS middy aborts
 * whatever still runs (runtime/handler.ts).
 */
export const FINISH_MARGIN_MS = 10_000;
export const ABORT_MARGIN_MS = 2_000;
const OUTBOX_SAVE_MS = 2_000;

/** When alert publishing must be over, for a run whose Qualys calls end by `deadline`. */
export const publishDeadline = (deadline: number): number =>
  deadline + FINISH_MARGIN_MS - ABORT_MARGIN_MS - OUTBOX_SAVE_MS;

/** The run made as many Qualys calls as its setting (e.g. SDR_MAX_CALLS_PER_RUN) allows. */
export class CallLimitReached extends Error {
  override name = 'CallLimitReached';
  constructor(
    readonly limit: number,
    /** The variable that sets the limit, e.g. SDR_MAX_CALLS_PER_RUN. */
    readonly setting: string,
    /** The call it stopped before, e.g. `listing page 3`. */
    next?: string,
  ) {
    super(
      `call limit of ${limit} per run (${setting}) reached${next ? ` before ${next}` : ''}; the next run resumes here`,
    );
  }
}

/** True when an error means "stop now, the checkpoint resumes": budget, deadline or call cap. */
export function isStop(error: unknown): error is Error {
  return isStopSignal(error) || error instanceof CallLimitReached;
}

/** A run failed after saving what it could; `summary` says what it did before. */
export class RunError<S = unknown> extends Error {
  override name = 'RunError';
  constructor(
    message: string,
    readonly summary: S,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RunOptions {
  store: ObjectStore;
  logger: RunLogger;
  qualys: {
    budget: Pick<CallBudget, 'callsMade' | 'rateLimitReport'> & Partial<Pick<CallBudget, 'settled'>>;
  };
  now?: () => number;
  /** Stop cleanly once this run has made `limit` calls; `setting` names the variable in messages. */
  callLimit?: { limit: number; setting: string };
  /**
   * Where a response body that could not be used (not JSON, not a page) is archived before the run
   * fails on it: `raw/<collector>/unreadable/`. @default not archived
   */
  unreadablePrefix?: string;
}

export class Run<S extends RunCounts> {
  /** The store every write of the run goes through; it counts `objectsWritten`. */
  readonly store: ObjectStore;
  readonly logger: RunLogger;
  readonly now: () => number;
  private readonly callsBefore: number;
  /** Calls this run announced through {@link spendCall}. */
  private callsStarted = 0;
  private firstFailure: unknown;

  constructor(
    private readonly options: RunOptions,
    readonly summary: S,
  ) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.callsBefore = options.qualys.budget.callsMade;
    this.summary.pagingErrors ??= 0;
    this.summary.rejected ??= 0;
    this.store = countingStore(options.store, () => {
      this.summary.objectsWritten++;
    });
  }

  /** Qualys calls made by this run so far. */
  get callsMade(): number {
    return this.options.qualys.budget.callsMade - this.callsBefore;
  }

  /** The current time as ISO-8601. */
  isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * Call before each Qualys call, naming it (`listing page 3`): throws {@link CallLimitReached} once
   * the run's cap is spent, so the run checkpoints and stops cleanly.
   */
  spendCall(next?: string): void {
    const cap = this.options.callLimit;
    // Calls read ahead are started before the budget counts them, and retries are counted without
    // a new spendCall: the larger of the two is what this run has spent.
    if (cap && Math.max(this.callsMade, this.callsStarted) >= cap.limit)
      throw new CallLimitReached(cap.limit, cap.setting, next);
    this.callsStarted++;
  }

  /** Counts `error` in the summary's `pagingErrors` when it is a {@link PagingError}. */
  countPagingError(error: unknown): void {
    if (error instanceof PagingError) this.summary.pagingErrors = (this.summary.pagingErrors ?? 0) + 1;
  }

  /** The error a step failed with, if one did (not a stop signal). */
  get failure(): unknown {
    return this.firstFailure;
  }

  /**
   * Keeps items a schema refused under `key` (with `detail` saying where they came from), counts
   * them in the summary's `rejected` and warns once with the first reason. The raw page is archived
   * already; nothing is written when none were refused. Returns how many were set aside.
   */
  async setAside(
    key: string,
    detail: Record<string, unknown>,
    rejected: readonly Rejected[],
    warning: string,
    context: Record<string, unknown> = {},
  ): Promise<number> {
    if (rejected.length === 0) return 0;
    this.logger.warn(warning, { ...context, rejected: rejected.length, firstReason: rejected[0]?.reason });
    await writeJson(this.store, key, { ...detail, rejected });
    this.summary.rejected = (this.summary.rejected ?? 0) + rejected.length;
    return rejected.length;
  }

  /**
   * Runs the collector's work. A stop signal ends it cleanly and is noted as `stoppedEarly`; any
   * other error is kept, and {@link finish} throws it once the alerts went out.
   */
  async steps(work: () => Promise<void>, stopMessage: string): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (isStop(error)) {
        this.summary.stoppedEarly = error.message;
        this.logger.info(stopMessage, { reason: error.message });
      } else {
        this.countPagingError(error);
        await this.keepUnreadable(error);
        this.firstFailure ??= error;
      }
    }
  }

  /**
   * Archives the body of a response that failed for its content (not JSON, not the expected
   * shape) under {@link RunOptions.unreadablePrefix}, as it was served: archive first, then judge.
   * Returns its key; never throws (the failure it records is the one that matters).
   */
  async keepUnreadable(error: unknown): Promise<string | undefined> {
    const prefix = this.options.unreadablePrefix;
    if (!prefix || !(error instanceof QualysApiError) || !error.body) return undefined;
    const at = this.isoNow();
    const digest = createHash('sha256').update(error.body).digest('hex').slice(0, 12);
    const key = `${prefix}dt=${at.slice(0, 10)}/${at.replace(/[-:.]/g, '')}-${digest}.gz`;
    try {
      await this.store.put(key, gzipSync(error.body), {
        contentType: 'application/octet-stream',
        contentEncoding: 'gzip',
        metadata: {
          'qualys-endpoint': encodeURIComponent(error.endpoint),
          status: String(error.status ?? ''),
          reason: encodeURIComponent(error.message.slice(0, 1000)),
        },
      });
      this.logger.warn('Archived a response that could not be used', {
        key: keyInBucket(this.store, key),
        endpoint: error.endpoint,
      });
      return key;
    } catch (writeError) {
      this.logger.warn('Could not archive a response that could not be used', {
        endpoint: error.endpoint,
        error: (writeError as Error).message,
      });
      return undefined;
    }
  }

  /**
   * Ends the run: publishes what the outbox holds (alerts queued by this run or left by an earlier
   * one go out even when the run failed later) until the publish deadline of `call`, fills
   * `apiCalls` and `rateLimit`, then throws the first failure, or returns the summary. A
   * {@link PagingError} is thrown as a {@link RunError} carrying the summary, so the handler still
   * publishes `PagingErrors`.
   */
  async finish(alerts?: {
    outbox: AlertOutbox;
    sink: AlertSink;
    format: DigestFormat;
    counts: AlertCounts;
    call: CallOptions;
  }): Promise<S> {
    if (alerts) {
      try {
        const sent = await alerts.outbox.flush(alerts.sink, alerts.format, {
          publishBy: publishDeadline(alerts.call.deadline),
          signal: alerts.call.signal,
          now: this.now,
        });
        if (sent.stoppedEarly) {
          this.summary.stoppedEarly ??= sent.stoppedEarly;
          this.logger.info('Stopping alert publishing; the next run sends the rest', {
            reason: sent.stoppedEarly,
          });
        }
      } catch (error) {
        this.logger.error('Publishing alerts failed; they stay queued for the next run', {
          error: (error as Error).message,
        });
        this.firstFailure ??= error;
      }
      const { delivered } = alerts.outbox;
      alerts.counts.alertsPublished = delivered.alerts;
      alerts.counts.digestsPublished = delivered.digests;
      alerts.counts.alertsRejected = delivered.rejected;
      if (delivered.rejected > 0) {
        this.logger.error('SNS refused alerts for their content; they are set aside', {
          alertsRejected: delivered.rejected,
        });
      }
    }
    // The ledger writes of the last answers are made before the run ends, so no slot is left taken.
    await this.options.qualys.budget.settled?.();
    this.summary.apiCalls = this.callsMade;
    this.summary.rateLimit = this.options.qualys.budget.rateLimitReport;
    const failure = this.firstFailure;
    if (failure instanceof PagingError) throw new RunError(failure.message, this.summary, { cause: failure });
    if (failure !== undefined) throw failure;
    return this.summary;
  }
}

/** An ObjectStore that calls `counted` after each successful write. */
function countingStore(store: ObjectStore, counted: () => void): ObjectStore {
  return {
    put: async (key, body, options: PutOptions) => {
      await store.put(key, body, options);
      counted();
    },
    upload: async (key, body, options) => {
      const result = await store.upload(key, body, options);
      counted();
      return result;
    },
    get: (key) => store.get(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (keys) => store.delete(keys),
    keyInBucket: (key) => keyInBucket(store, key),
  };
}
