import { AlertOutbox } from '../core/alerts/outbox';
import { unreadablePrefix } from '../core/manifest';
import { ENV } from '../core/names';
import { pages } from '../core/paging';
import { gzip, safeKeySegment, toNdjsonGzip, utcDate } from '../core/records';
import {
  type AlertingDependencies,
  emptyAlertCounts,
  emptyRunCounts,
  isStop,
  Run,
  RunError,
} from '../core/run';
import { keyInBucket } from '../core/scoped-store';
import type { CallOptions } from '../qualys/client';
import { QualysAuthError, QualysRedirectError } from '../qualys/errors';
import { CONNECTOR_TYPES, ControlSchema, getReporting, type Reporting, SDR_PATHS } from '../qualys/sdr';
import { screen } from '../qualys/validation';
import { POSTURE_DIGEST, postureFailedCandidate, postureRecoveredCandidate } from './alerts';
import { baselineCandidates } from './baseline';
import { comparePair, criticalityAtLeast } from './compare';
import type { SdrPostureSettings } from './config';
import { curateControls, observe } from './curate';
import { sdrPostureKeys } from './keys';
import { continueListing } from './listing';
import { sdrPostureManifest } from './manifest';
import {
  emptyObservation,
  type PairObservation,
  type PairProgress,
  type Poll,
  pollIdOf,
  type SdrPostureSummary,
} from './model';
import { PostureState } from './state';

/**
 * SaaSDR posture: one poll reads `/sdr/api/v1/reporting` for every enabled connector and each
 * policy that applies to it, archives every page, curates one row per control x resource and
 * compares the failing resources with the failure state, so that a failure is alerted once (and
 * its recovery once), not on every poll. A poll may span runs: the checkpoint keeps the pairs
 * still to read and the page each one resumes from, with what its pages observed so far, and a
 * pair is compared only once all its pages are read.
 */

/** Most /reporting pages read for a pair, whether `totalBatch` or an empty page ends it. */
export const MAX_REPORTING_PAGES = 500;
/** Runs in a row whose read of a pair fails before the poll gives that pair up (its failures stay as they are). */
export const MAX_PAIR_ATTEMPTS = 3;

export type SdrPostureDependencies = AlertingDependencies<SdrPostureSettings>;

const emptySummary = (): SdrPostureSummary => ({
  collector: 'sdr-posture',
  resumedPoll: false,
  pollComplete: false,
  pairs: { total: 0, done: 0, skipped: 0, remaining: 0, completedThisRun: 0 },
  pages: 0,
  controls: 0,
  rows: 0,
  rejected: 0,
  newFailures: 0,
  baselineFailures: 0,
  recoveries: 0,
  openFailures: 0,
  pairErrors: [],
  ...emptyAlertCounts(),
  ...emptyRunCounts(),
});

interface Context {
  run: Run<SdrPostureSummary>;
  qualys: SdrPostureDependencies['qualys'];
  call: CallOptions;
  settings: SdrPostureDependencies['settings'];
  state: PostureState;
  outbox: AlertOutbox;
}

/** The pending poll, or a new one (saved at once, so that its id holds across runs). */
async function startOrResume({ run, state }: Context): Promise<Poll> {
  const pending = state.checkpoint.poll;
  if (pending) {
    run.summary.resumedPoll = true;
    return pending;
  }
  const startedAt = run.isoNow();
  const poll: Poll = {
    pollId: pollIdOf(startedAt),
    date: utcDate(startedAt),
    startedAt,
    listing: { list: 'connectors', nextPage: 0, connectors: [], policies: [] },
    pairs: [],
  };
  state.checkpoint = { ...state.checkpoint, poll };
  await state.saveCheckpoint();
  return poll;
}

/** Archives and curates one /reporting page, and adds what it shows to `observed`. */
async function readReportingPage(
  { run, state }: Context,
  poll: Poll,
  pair: PairProgress,
  pageNumber: number,
  body: Reporting,
  raw: Uint8Array,
  observed: PairObservation,
): Promise<void> {
  const rawKey = sdrPostureKeys.raw(poll, pair, pageNumber);
  const curatedKey = sdrPostureKeys.curated(poll, pair, pageNumber);
  await run.store.put(rawKey, gzip(raw), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: {
      'qualys-endpoint': SDR_PATHS.reporting,
      'connector-id': safeKeySegment(pair.connectorId),
      'policy-id': safeKeySegment(pair.policyId),
      page: String(pageNumber),
    },
  });
  run.summary.pages++;
  const controls = body.controlDetailsSummaryDto ?? [];
  if (controls.length === 0) return;

  const { valid, rejected } = screen(controls, ControlSchema);
  if (rejected.length > 0) observed.incomplete = true;
  await run.setAside(
    sdrPostureKeys.rejectedControls(poll, pair, pageNumber),
    {
      endpoint: `GET ${SDR_PATHS.reporting}`,
      connectorId: pair.connectorId,
      policyName: pair.policyName,
      pageNumber,
    },
    rejected,
    'Controls that do not match the reporting schema were set aside',
    { connectorId: pair.connectorId, policyId: pair.policyId, page: pageNumber },
  );

  const page = {
    poll,
    pair,
    pageNumber,
    rawKey,
    rawKeyInBucket: keyInBucket(run.store, rawKey),
    curatedKey,
    ingestedAt: run.isoNow(),
  };
  const { rows, observations } = curateControls(valid, body, page);
  for (const seen of observations) observe(observed, seen, state.failures);
  if (rows.length > 0) {
    await run.store.put(curatedKey, toNdjsonGzip(rows), {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
  }
  run.summary.controls += controls.length;
  run.summary.rows += rows.length;
}

/** Compares a fully read pair with the failure state, queues its alerts and marks it done. */
async function completePair(
  { run, settings, state, outbox }: Context,
  poll: Poll,
  pair: PairProgress,
  observed: PairObservation,
): Promise<void> {
  const meetsThreshold = criticalityAtLeast(settings.minCriticality);
  const result = comparePair(state.failures, pair, observed, poll.pollId, meetsThreshold);
  const recovered = settings.notifyRecovery ? result.recovered : [];
  const where = { bucket: settings.bucket, keyInBucket: (key: string) => keyInBucket(run.store, key) };
  const firstRead = !state.hasBaseline(pair);
  // The first read of a pair: what already fails goes out as one summary, not one alert each.
  const summarize = firstRead && settings.baselineSummary;
  const failed = summarize
    ? baselineCandidates({ pair, poll, failing: result.failed, observed, meetsThreshold, settings }, where)
    : result.failed.map((seen) => postureFailedCandidate(seen, where));
  try {
    await outbox.add([
      ...failed,
      ...recovered.map((failure) =>
        postureRecoveredCandidate(failure, { policyName: pair.policyName, pollId: poll.pollId }, where),
      ),
    ]);
    await state.saveFailures(result.failures, firstRead ? { pair, pollId: poll.pollId } : undefined);
  } catch (error) {
    state.holdAlerts = true;
    throw error;
  }
  run.summary.newFailures += result.failed.length;
  if (summarize) run.summary.baselineFailures += result.failed.length;
  run.summary.recoveries += result.recovered.length;
  pair.status = 'done';
  pair.observed = undefined;
  pair.lastPageCids = undefined;
  pair.attempts = undefined;
  pair.lastError = undefined;
  run.summary.pairs.completedThisRun++;
  await state.saveCheckpoint();
}

/** Reads a pair's /reporting pages from where it stopped, saving after each; compares it once read whole. */
async function readPair(context: Context, poll: Poll, pair: PairProgress): Promise<void> {
  const { run, qualys, call, settings, state } = context;
  const observed = pair.observed ?? emptyObservation();
  const start = pair.nextPage;
  if (start > MAX_REPORTING_PAGES) {
    throw new Error(`the reporting listing did not end within ${MAX_REPORTING_PAGES} pages`);
  }
  const query = {
    policyName: pair.policyName,
    connectorId: String(pair.connectorId),
    connectorType: CONNECTOR_TYPES[pair.connectorType] ?? pair.connectorType,
    controlEvaluations: settings.evaluations.join(','),
  };
  const fetchPage = async (pageNumber: number) => {
    run.spendCall(
      `reading page ${pageNumber} of policy "${pair.policyName}" for connector ${String(pair.connectorId)}`,
    );
    return getReporting(qualys, { ...query, pageNumber }, call);
  };
  for await (const { cursor, next, page, fingerprint } of pages({
    endpoint: `GET ${SDR_PATHS.reporting} (connector ${String(pair.connectorId)}, policy "${pair.policyName}")`,
    cursorName: 'pageNumber',
    kind: 'page',
    firstPage: 1,
    start,
    fetchPage,
    info: ({ body }) => {
      const controls = body.controlDetailsSummaryDto ?? [];
      // A control may be anything here (null, a string): it is screened once archived.
      const cids = controls.map((control) => String((control as { cid?: unknown } | null)?.cid)).join(',');
      return { rows: controls.length, totalPages: body.totalBatch, fingerprint: cids };
    },
    // An API that ignored pageNumber would serve page 1 forever; the last page's cids catch a repeat across runs.
    previousFingerprint: pair.lastPageCids,
    maxPages: MAX_REPORTING_PAGES - start + 1,
  })) {
    await readReportingPage(context, poll, pair, cursor, page.body, page.raw, observed);
    if (next === undefined) {
      await completePair(context, poll, pair, observed);
    } else {
      pair.nextPage = next;
      pair.observed = observed;
      pair.lastPageCids = fingerprint;
      await state.saveCheckpoint();
    }
  }
}

/** Notes a failed read of a pair: the next run retries it from the same page, up to MAX_PAIR_ATTEMPTS runs. */
async function notePairError({ run, state }: Context, pair: PairProgress, error: Error): Promise<void> {
  run.countPagingError(error);
  pair.attempts = (pair.attempts ?? 0) + 1;
  pair.lastError = error.message;
  const gaveUp = pair.attempts >= MAX_PAIR_ATTEMPTS;
  if (gaveUp) {
    pair.status = 'skipped';
    pair.observed = undefined;
  }
  run.summary.pairErrors.push({
    connectorId: String(pair.connectorId),
    policyName: pair.policyName,
    page: pair.nextPage,
    error: pair.lastError,
    gaveUp,
  });
  run.logger.error(
    gaveUp
      ? 'Giving up a connector/policy pair for this poll; its open failures stay as they are'
      : 'Reading a connector/policy pair failed; the next run retries it from the same page',
    {
      connectorId: pair.connectorId,
      policyId: pair.policyId,
      page: pair.nextPage,
      attempts: pair.attempts,
      error: pair.lastError,
    },
  );
  await state.saveCheckpoint();
}

const countPairs = (pairs: readonly PairProgress[], status: PairProgress['status']) =>
  pairs.filter((pair) => pair.status === status).length;

/** Ends a poll whose pairs are all read (or given up): the checkpoint keeps only its record. */
async function completePoll({ run, state }: Context, poll: Poll): Promise<void> {
  run.summary.pollComplete = true;
  state.checkpoint = {
    version: 1,
    lastPoll: {
      pollId: poll.pollId,
      startedAt: poll.startedAt,
      completedAt: run.isoNow(),
      pairs: poll.pairs.length,
      skippedPairs: countPairs(poll.pairs, 'skipped'),
    },
  };
  await state.saveCheckpoint();
}

/** Runs the posture collector once: continues the pending poll, or starts a new one. */
export async function runSdrPosture(
  deps: SdrPostureDependencies,
  call: CallOptions,
): Promise<SdrPostureSummary> {
  const { settings } = deps;
  const run = new Run<SdrPostureSummary>(
    {
      store: deps.store,
      logger: deps.logger,
      qualys: deps.qualys,
      now: deps.now,
      unreadablePrefix: unreadablePrefix(sdrPostureManifest),
      callLimit: { limit: settings.maxCallsPerRun, setting: ENV.sdrMaxCallsPerRun },
    },
    emptySummary(),
  );
  const state = new PostureState(run);
  const outbox = new AlertOutbox(
    run.store,
    { outbox: sdrPostureKeys.outbox, rejectedPrefix: sdrPostureKeys.alertsRejected },
    settings.maxAlertsPerRun,
  );
  outbox.whenHolding(() => deps.alerts.prepare?.());
  const context: Context = { run, qualys: deps.qualys, call, settings, state, outbox };
  const { summary } = run;

  await run.steps(async () => {
    await state.load();
    const poll = await startOrResume(context);
    state.poll = poll;
    summary.pollId = poll.pollId;
    if (poll.listing) await continueListing(context, poll, poll.listing);
    for (const pair of poll.pairs) {
      if (pair.status !== 'pending') continue;
      try {
        await readPair(context, poll, pair);
      } catch (error) {
        // A refused login or a redirect is the gateway's, not the pair's: every pair would fail alike.
        if (isStop(error) || error instanceof QualysAuthError || error instanceof QualysRedirectError)
          throw error;
        // One pair's bad page must not hold up the others: keep its bytes, note it, go on.
        await run.keepUnreadable(error);
        await notePairError(context, pair, error as Error);
      }
    }
    if (!poll.listing && poll.pairs.every((pair) => pair.status !== 'pending'))
      await completePoll(context, poll);
  }, 'Stopping early; the next run continues this poll');

  if (state.poll) {
    const { pairs } = state.poll;
    summary.pairs.total = pairs.length;
    summary.pairs.done = countPairs(pairs, 'done');
    summary.pairs.skipped = countPairs(pairs, 'skipped');
    summary.pairs.remaining = countPairs(pairs, 'pending');
  }
  summary.openFailures = Object.keys(state.failures).length;
  summary.freshAsOf = state.checkpoint.lastPoll?.completedAt ?? state.checkpoint.poll?.startedAt;
  const alerts = { outbox, sink: deps.alerts, format: POSTURE_DIGEST, counts: summary, call };
  if (state.holdAlerts)
    run.logger.error('Alerts stay queued: the failure state was not saved; the next run sends them');
  await run.finish(state.holdAlerts ? undefined : alerts);
  if (summary.pairErrors.length > 0) {
    run.logger.error('Posture run finished with unreadable connector/policy pairs', { summary });
    const first = summary.pairErrors[0];
    throw new RunError(
      `sdr-posture: ${summary.pairErrors.length} connector/policy pair(s) could not be read ` +
        `(first: connector ${first?.connectorId}, policy "${first?.policyName}", page ${first?.page}: ${first?.error}); ` +
        'everything read before is in S3 and the next run retries from the failed page',
      summary,
    );
  }
  return summary;
}
