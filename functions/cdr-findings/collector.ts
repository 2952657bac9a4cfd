import type { AlertCandidate } from '../core/alerts/digest';
import { AlertOutbox } from '../core/alerts/outbox';
import {
  type Checkpoint,
  CheckpointStore,
  nextWindow,
  type PendingWindow,
  type Window,
} from '../core/checkpoint';
import { PageJournal } from '../core/journal';
import { unreadablePrefix } from '../core/manifest';
import { emptyAlertCounts, emptyRunCounts, Run } from '../core/run';
import { SeenIndex } from '../core/seen-index';
import type { CallOptions } from '../qualys/client';
import { CDR_FINDINGS_DIGEST } from './alerts';
import { cdrFindingsKeys as keys } from './keys';
import { cdrFindingsManifest } from './manifest';
import {
  type CdrFindingsDependencies,
  type CdrFindingsSummary,
  type CdrJournalEntry,
  type RunContext,
  readWindow,
} from './read-window';
import type { CdrFindingsRequest } from './request';
import {
  addHeld,
  type CdrCheckpoint,
  heldMatches,
  PENDING_SLOT,
  type PlannedWindow,
  progressed,
  reconcileDue,
  reconcileWindow,
  settleWindow,
  upgrade,
  type WindowKind,
} from './windows';

export type { CdrFindingsDependencies, CdrFindingsSummary, WindowReport } from './read-window';

/** A scheduled run reads at most this many windows of each kind; the next run carries on. */
const MAX_WINDOWS_PER_RUN = 50;

/**
 * Time kept for the merge at the end of a run, per journal entry it will cover, besides the run's
 * finish margin: the run starts no Qualys call that late, so a large journal is merged in the run
 * that wrote it, not cut off at the timeout and carried, larger, into the next run. A merge that
 * reads its alerts back took about 4.4 s for 1,000 entries on the bench machine, about 15–20 s at a
 * 512 MB function's 0.29 vCPU with S3's round trips (README "How exactly-once works").
 */
export const MERGE_MS_PER_ENTRY = 25;

const mergeTimeMs = (journal: { readonly toMerge: number }) => journal.toMerge * MERGE_MS_PER_ENTRY;

/** `call` with its deadline moved earlier by the time the journal's merge will need, as it grows. */
function keepingMergeTime(call: CallOptions, journal: { readonly toMerge: number }): CallOptions {
  return {
    signal: call.signal,
    get deadline() {
      return call.deadline - mergeTimeMs(journal);
    },
  };
}

/** Runs the CDR findings collector once. See README "CDR findings" for the guarantees. */
export async function runCdrFindings(
  deps: CdrFindingsDependencies,
  request: CdrFindingsRequest,
  call: CallOptions,
): Promise<CdrFindingsSummary> {
  const run = new Run(
    { ...deps, unreadablePrefix: unreadablePrefix(cdrFindingsManifest) },
    emptySummary(request.kind),
  );
  const outbox = new AlertOutbox(
    run.store,
    { outbox: keys.outbox, rejectedPrefix: keys.alertsRejected },
    deps.settings.maxAlertsPerRun,
    { prefix: keys.outboxSegments },
  );
  outbox.whenHolding(() => deps.alerts.prepare?.());
  const journal = new PageJournal<CdrJournalEntry>(run.store, keys.journalPrefix, run.isoNow());
  const context: RunContext = {
    run,
    deps,
    // Qualys calls only: the merge and the alerts after it keep the run's own deadline.
    call: keepingMergeTime(call, journal),
    index: new SeenIndex(run.store, keys.seenPrefix),
    journal,
    outbox,
    alerts: request.kind === 'incremental' || request.alerts,
    alertUnalerted: request.kind === 'incremental',
    journalReplayed: Promise.resolve(),
  };
  await run.steps(async () => {
    // Read back while the first window is planned and its first page fetched (a page is written
    // only once it is applied), and always settled before this step ends and the merge starts.
    const replayed = replayJournal(context);
    // Settled whether it fails or not, from the start: its failure surfaces where it is awaited.
    const replayEnded = replayed.catch(() => undefined);
    context.journalReplayed = replayed;
    try {
      await (request.kind === 'incremental' ? collect(context) : replay(context, request.window));
    } finally {
      await replayEnded;
    }
    await replayed;
  }, 'Stopping early; the checkpoint resumes from the next page');
  if (/deadline/.test(run.summary.stoppedEarly ?? '') && journal.toMerge > 0) {
    // The deadline the Qualys calls stopped at (DeadlineError's messages say "deadline") was the
    // run's, less the time kept for the merge.
    run.summary.stoppedEarly += ` (${(mergeTimeMs(journal) / 1000).toFixed(1)} s kept to merge ${journal.toMerge} journal entries)`;
  }
  // The alerts go out only once the journal is merged: sent before, a failed merge would leave
  // their entries to queue them again in the next run.
  const merged = await mergeJournal(context);
  run.summary.freshAsOf = run.summary.checkpoint?.watermark ?? run.summary.checkpoint?.pending?.startAt;
  return run.finish(
    merged
      ? { outbox, sink: deps.alerts, format: CDR_FINDINGS_DIGEST, counts: run.summary, call }
      : undefined,
  );
}

/**
 * What earlier runs journaled and never merged, applied entry by entry before this run writes a
 * page: the index and the outbox take each entry as a page of this run would, and none is kept.
 */
async function replayJournal({ journal, index, outbox }: RunContext): Promise<void> {
  for await (const entry of journal.pending()) {
    await index.apply(entry.seen);
    await outbox.queue(entry.alerts);
  }
}

/** The alerts journaled, entry by entry, oldest first. */
async function* alertsOf(journal: RunContext['journal']): AsyncIterable<AlertCandidate[]> {
  for await (const entry of journal.entries()) yield entry.alerts;
}

/**
 * Writes the seen index's changed days and the outbox once, then deletes the journal entries they
 * now hold. Returns false when that failed: the entries stay for the next run to merge.
 */
async function mergeJournal({ run, journal, index, outbox }: RunContext): Promise<boolean> {
  let merged = false;
  await run.steps(async () => {
    const name = journal.oldestName;
    // The index and the outbox are written side by side: each is idempotent to write again, and the
    // entries are deleted only once both are saved.
    await journal.merge(async () => {
      await Promise.all([
        index.compact(),
        outbox.saveQueued(name ? { name, source: () => alertsOf(journal) } : undefined),
      ]);
    });
    merged = true;
  }, 'Stopping before the page journal was merged; the next run merges it and sends its alerts');
  return merged;
}

function emptySummary(mode: CdrFindingsRequest['kind']): CdrFindingsSummary {
  return {
    collector: 'cdr-findings',
    mode,
    windows: [],
    pages: 0,
    findings: 0,
    newFindings: 0,
    lateFindings: 0,
    rejected: 0,
    curatedWithoutAlert: 0,
    alertedAfterBackfill: 0,
    ...emptyAlertCounts(),
    ...emptyRunCounts(),
  };
}

/** The incremental checkpoint of one run: loaded once, saved after every change. */
class Progress {
  private constructor(
    private readonly store: CheckpointStore<Checkpoint | CdrCheckpoint>,
    private readonly context: RunContext,
    public checkpoint: CdrCheckpoint,
  ) {
    context.run.summary.checkpoint = checkpoint;
  }

  static async load(context: RunContext, runStart: number): Promise<Progress> {
    const store = new CheckpointStore<Checkpoint | CdrCheckpoint>(context.run.store, keys.checkpoint);
    return new Progress(store, context, upgrade(await store.load(), runStart, context.deps.settings));
  }

  /** The run's clock, ISO-8601. */
  now(): string {
    return this.context.run.isoNow();
  }

  async save(checkpoint: CdrCheckpoint): Promise<void> {
    this.checkpoint = { ...checkpoint, updatedAt: this.now() };
    await this.store.save(this.checkpoint);
    this.context.run.summary.checkpoint = this.checkpoint;
  }
}

/**
 * The scheduled run. In order of priority, so a short budget or deadline goes to the newest data
 * first: new time up to the time the run started (measuring against a moving "now" would open a
 * window per minute a slow read took), then the hours that have settled, then the daily
 * reconcile. Each kind finishes its pending window before planning another.
 */
async function collect(context: RunContext): Promise<void> {
  const { run, deps } = context;
  const settings = deps.settings;
  const runStart = run.now();
  const progress = await Progress.load(context, runStart);
  const lagEnd = runStart - settings.lagMinutes * 60_000;
  await readEach(
    context,
    progress,
    'new',
    () => nextWindow(progress.checkpoint, runStart, settings),
    (window) => Date.parse(window.endAt) >= lagEnd,
  );
  await readEach(context, progress, 'settle', () => settleWindow(progress.checkpoint, runStart, settings));
  const day = reconcileDue(progress.checkpoint, runStart, settings);
  const reconcile = await pendingOrPlanned(progress, 'reconcile', () =>
    day ? reconcileWindow(progress.checkpoint, day, settings) : undefined,
  );
  if (reconcile) await read(context, progress, 'reconcile', reconcile);
  else if (day) await progress.save({ ...progress.checkpoint, reconciledOn: day });
}

/** Reads the kind's windows one after the other until none is due (or `last` says so), bounded. */
async function readEach(
  context: RunContext,
  progress: Progress,
  kind: WindowKind,
  plan: () => Window | undefined,
  last: (window: Window) => boolean = () => false,
): Promise<void> {
  for (let windows = 0; windows < MAX_WINDOWS_PER_RUN; windows++) {
    const window = await pendingOrPlanned(progress, kind, plan);
    if (!window) return;
    await read(context, progress, kind, window);
    if (last(window)) return;
  }
}

/**
 * The kind's window in progress, or the next one `plan` gives with its bounds fixed and saved
 * (cursor 0) before its first call: a run that fails on that call retries the same window, and
 * its pages overwrite what they wrote before instead of landing beside it under new keys.
 */
async function pendingOrPlanned(
  progress: Progress,
  kind: WindowKind,
  plan: () => Window | undefined,
): Promise<PlannedWindow | undefined> {
  const pending = progress.checkpoint[PENDING_SLOT[kind]];
  if (pending) return pending;
  const planned = plan();
  if (!planned) return undefined;
  const window: PlannedWindow = { ...planned, nextCursor: 0, plannedAt: progress.now() };
  await progress.save({ ...progress.checkpoint, [PENDING_SLOT[kind]]: window });
  return window;
}

async function read(context: RunContext, progress: Progress, kind: WindowKind, window: PlannedWindow) {
  const { settings } = context.deps;
  await readWindow(context, {
    window: { startAt: window.startAt, endAt: window.endAt },
    kind,
    cursor: window.nextCursor,
    pageSize: kind === 'new' ? settings.pageSize : settings.settlePageSize,
    enough:
      kind === 'settle'
        ? (page, offset, fresh) =>
            offset === 0 &&
            heldMatches(window, page.totalElements, addHeld(progress.checkpoint.held, fresh, undefined))
        : undefined,
    save: (next, fresh) =>
      progress.save(progressed(progress.checkpoint, kind, window, next, fresh, settings.lateMinutes)),
  });
}

/** An explicit window, with its own checkpoint: the incremental one (and its held counts) is left alone. */
async function replay(context: RunContext, window: Window): Promise<void> {
  const { run } = context;
  const checkpoints = new CheckpointStore<PendingWindow | { completedAt: string }>(
    run.store,
    keys.replayCheckpoint(window),
  );
  const saved = await checkpoints.load();
  const cursor = saved && 'nextCursor' in saved ? saved.nextCursor : 0;
  // Its bounds come from the request; saved as in progress before the first call, as every window.
  if (cursor === 0) await checkpoints.save({ ...window, nextCursor: 0 });
  await readWindow(context, {
    window,
    kind: 'replay',
    cursor,
    pageSize: context.deps.settings.pageSize,
    save: (next) =>
      checkpoints.save(next === undefined ? { completedAt: run.isoNow() } : { ...window, nextCursor: next }),
  });
}
