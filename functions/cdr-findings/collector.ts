import { AlertOutbox } from '../core/alerts/outbox';
import {
  type Checkpoint,
  CheckpointStore,
  nextWindow,
  type PendingWindow,
  type Window,
} from '../core/checkpoint';
import { offsetPaging } from '../core/paginate';
import { gzip, toNdjsonGzip, utcDate } from '../core/records';
import { type AlertCounts, type AlertingDependencies, Run, type RunCounts } from '../core/run';
import { SeenIndex } from '../core/seen-index';
import { alertsAt } from '../core/severity';
import { CDR_FINDINGS_PATH, listFindings } from '../qualys/cdr';
import type { CallOptions } from '../qualys/client';
import { type CdrFinding, CdrFindingSchema, type Page } from '../qualys/schemas';
import { screen } from '../qualys/validation';
import { CDR_FINDINGS_DIGEST, cdrAlertCandidate } from './alerts';
import type { CdrFindingsSettings } from './config';
import { cdrFindingsKeys as keys } from './keys';
import type { CdrFindingsRequest } from './request';

export type CdrFindingsDependencies = AlertingDependencies<CdrFindingsSettings>;

export interface WindowReport extends Window {
  pages: number;
  findings: number;
  newFindings: number;
  complete: boolean;
}

export interface CdrFindingsSummary extends RunCounts, AlertCounts {
  collector: 'cdr-findings';
  mode: CdrFindingsRequest['kind'];
  windows: WindowReport[];
  pages: number;
  findings: number;
  newFindings: number;
  rejected: number;
  checkpoint?: Checkpoint;
}

/** What the steps of one run share. */
interface RunContext {
  run: Run<CdrFindingsSummary>;
  deps: CdrFindingsDependencies;
  call: CallOptions;
  index: SeenIndex;
  outbox: AlertOutbox;
  /** Whether new severe findings are queued as alerts (a replayed window may say no). */
  alerts: boolean;
}

type FindingWithDay = { finding: CdrFinding; day: string };
type RawPage = Page & { raw: Uint8Array };
/** Saves progress after a page: the pending window from its next page, or undefined once done. */
type SaveProgress = (pending: PendingWindow | undefined) => Promise<void>;

/** Incremental runs stop after this many windows; the next run carries on from the watermark. */
const MAX_WINDOWS_PER_RUN = 50;

/** Runs the CDR findings collector once. See README "CDR findings" for the guarantees. */
export async function runCdrFindings(
  deps: CdrFindingsDependencies,
  request: CdrFindingsRequest,
  call: CallOptions,
): Promise<CdrFindingsSummary> {
  const run = new Run(deps, emptySummary(request.kind));
  const outbox = new AlertOutbox(
    run.store,
    { outbox: keys.outbox, rejectedPrefix: keys.alertsRejected },
    deps.settings.maxAlertsPerRun,
  );
  const context: RunContext = {
    run,
    deps,
    call,
    index: new SeenIndex(run.store, keys.seenPrefix),
    outbox,
    alerts: request.kind === 'incremental' || request.alerts,
  };
  await run.steps(
    () => (request.kind === 'incremental' ? catchUp(context) : replay(context, request.window)),
    'Stopping early; the checkpoint resumes from the next page',
  );
  return run.finish({ outbox, sink: deps.alerts, format: CDR_FINDINGS_DIGEST, counts: run.summary, call });
}

function emptySummary(mode: CdrFindingsRequest['kind']): CdrFindingsSummary {
  return {
    collector: 'cdr-findings',
    mode,
    windows: [],
    pages: 0,
    findings: 0,
    newFindings: 0,
    rejected: 0,
    alertsPublished: 0,
    digestsPublished: 0,
    alertsRejected: 0,
    objectsWritten: 0,
    apiCalls: 0,
    rateLimit: {},
  };
}

/** The scheduled run: reads from the checkpoint on, window by window, moving it after each page. */
async function catchUp(context: RunContext): Promise<void> {
  const { run, deps } = context;
  const checkpoints = new CheckpointStore<Checkpoint>(run.store, keys.checkpoint);
  let checkpoint: Checkpoint = (await checkpoints.load()) ?? { version: 1 };
  run.summary.checkpoint = checkpoint;
  // Finish a pending window first, then open new ones until caught up with the time the run
  // started: measuring against a moving "now" would re-read the lookback for every minute a
  // slow window took.
  const runStart = run.now();
  for (let windows = 0; windows < MAX_WINDOWS_PER_RUN; windows++) {
    const pending = checkpoint.pending;
    const window = pending ?? nextWindow(checkpoint, runStart, deps.settings);
    if (!window) break;
    await readWindow(context, window, pending?.nextCursor ?? 0, async (next) => {
      checkpoint = advance(checkpoint, window, next, run.isoNow());
      await checkpoints.save(checkpoint);
      run.summary.checkpoint = checkpoint;
    });
    if (Date.parse(window.endAt) >= runStart - deps.settings.lagMinutes * 60_000) break;
  }
}

/** The checkpoint after a page of `window`: still pending at `next`, or done up to its end. */
function advance(
  checkpoint: Checkpoint,
  window: Window,
  next: PendingWindow | undefined,
  updatedAt: string,
): Checkpoint {
  const moved: Checkpoint = next
    ? { ...checkpoint, pending: next }
    : { version: 1, watermark: window.endAt, pending: undefined };
  return { ...moved, updatedAt };
}

/** An explicit window, with its own checkpoint: the incremental one is left alone. */
async function replay(context: RunContext, window: Window): Promise<void> {
  const { run } = context;
  const checkpoints = new CheckpointStore<PendingWindow | { completedAt: string }>(
    run.store,
    keys.replayCheckpoint(window),
  );
  const saved = await checkpoints.load();
  const cursor = saved && 'nextCursor' in saved ? saved.nextCursor : 0;
  await readWindow(context, window, cursor, (next) =>
    checkpoints.save(next ?? { completedAt: run.isoNow() }),
  );
}

/** Reads one window from `cursor` to its end or until a stop signal; saves progress per page. */
async function readWindow(
  context: RunContext,
  window: Window,
  cursor: number,
  save: SaveProgress,
): Promise<void> {
  const { run, deps, call } = context;
  const report: WindowReport = { ...window, pages: 0, findings: 0, newFindings: 0, complete: false };
  run.summary.windows.push(report);
  const fetchPage = async (offset: number): Promise<RawPage> => {
    const query = {
      query: deps.settings.query,
      startAt: window.startAt,
      endAt: window.endAt,
      offSet: offset,
      limit: deps.settings.pageSize,
    };
    const { body, raw } = await listFindings(deps.qualys, query, call);
    return { ...body, raw };
  };
  for await (const { cursor: offset, next, page } of offsetPaging(
    fetchPage,
    cursor,
    deps.settings.pageSize,
  )) {
    const newFindings = await writePage(context, window, offset, page);
    for (const counts of [report, run.summary]) {
      counts.pages++;
      counts.findings += page.content.length;
      counts.newFindings += newFindings;
    }
    await save(next === undefined ? undefined : { ...window, nextCursor: next });
    if (next === undefined) report.complete = true;
  }
}

/**
 * Archives a page, sets its unusable findings aside, curates and alerts the findings not seen
 * before, then marks them seen. Returns how many were new.
 */
async function writePage(
  context: RunContext,
  window: Window,
  offset: number,
  page: RawPage,
): Promise<number> {
  const { run, deps, index } = context;
  const rawKey = keys.raw(window, offset);
  await run.store.put(rawKey, gzip(page.raw), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: {
      'qualys-endpoint': CDR_FINDINGS_PATH,
      'window-start': window.startAt,
      'window-end': window.endAt,
      offset: String(offset),
    },
  });
  const { valid, rejected } = screen(page.content, CdrFindingSchema);
  // The raw page is archived already; keep the rejects beside the state for inspection.
  run.summary.rejected += await run.setAside(
    keys.rejected(window, offset),
    { endpoint: CDR_FINDINGS_PATH, window, offset },
    rejected,
    'Findings without a usable uuid or timestamp were not curated',
    { window, offset },
  );

  const items = valid.map((finding): FindingWithDay => ({ finding, day: utcDate(finding.timestamp) }));
  const fresh = await index.unseen(items, uuidOf, dayOf);
  const curatedKeys = await curate(run, window, offset, fresh, rawKey);
  if (context.alerts) {
    const severe = fresh.filter(({ finding }) => alertsAt(finding.severity, deps.settings.minSeverity));
    await context.outbox.add(
      severe.map(({ finding, day }) =>
        cdrAlertCandidate(finding, { bucket: deps.settings.bucket, curatedKey: curatedKeys.get(day) ?? '' }),
      ),
    );
  }
  await index.add(fresh, uuidOf, dayOf);
  return fresh.length;
}

const uuidOf = (item: FindingWithDay) => item.finding.uuid;
const dayOf = (item: FindingWithDay) => item.day;

/** Writes new findings, one object per day of event time; returns each day's key. */
async function curate(
  run: Run<CdrFindingsSummary>,
  window: Window,
  offset: number,
  fresh: readonly FindingWithDay[],
  rawKey: string,
): Promise<Map<string, string>> {
  const ingestedAt = run.isoNow();
  const keyOfDay = new Map<string, string>();
  for (const [day, findings] of byDay(fresh)) {
    const key = keys.curated(
      day,
      window,
      offset,
      findings.map((finding) => finding.uuid),
    );
    keyOfDay.set(day, key);
    const records = findings.map((finding) => ({
      ...finding,
      lake_ingested_at: ingestedAt,
      lake_raw_key: rawKey,
    }));
    await run.store.put(key, toNdjsonGzip(records), {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
  }
  return keyOfDay;
}

function byDay(items: readonly FindingWithDay[]): Map<string, CdrFinding[]> {
  const days = new Map<string, CdrFinding[]>();
  for (const { finding, day } of items) days.set(day, [...(days.get(day) ?? []), finding]);
  return days;
}
