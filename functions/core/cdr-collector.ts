import { createHash } from 'node:crypto';
import * as v from 'valibot';
import type { CallOptions, QualysClient } from '../qualys/client';
import { isStopSignal } from '../qualys/errors';
import { type CdrFinding, CdrFindingSchema, type Page, PageSchema } from '../qualys/schemas';
import { describeIssues } from '../qualys/validation';
import { AlertOutbox } from './alerts/outbox';
import { cdrAlertCandidate } from './cdr-alerts';
import {
  type Checkpoint,
  CheckpointStore,
  nextWindow,
  type PendingWindow,
  type Window,
  type WindowSettings,
} from './checkpoint';
import { ALERT_SOURCE, CURATED_DATASETS, PREFIX } from './names';
import { offsetPaging } from './paginate';
import type { AlertSink, ObjectStore, RunLogger } from './ports';
import { gzip, keyTime, toNdjsonGzip, utcDate, writeJson } from './records';
import { SeenIndex } from './seen-index';
import { severityLevel } from './severity';

export const CDR_ENDPOINT = '/cdr-api/rest/v1/findings';
const NAME = 'cdr-findings';

/** S3 keys of the CDR collector. Deterministic from the request, so a retried page overwrites. */
export const cdrKeys = {
  checkpoint: `${PREFIX.state}${NAME}/checkpoint.json`,
  outbox: `${PREFIX.state}${NAME}/alert-outbox.json`,
  seenPrefix: `${PREFIX.state}${NAME}/seen/`,
  replayCheckpoint: (window: Window) => `${PREFIX.state}${NAME}/replays/${windowId(window)}.json`,
  raw: (window: Window, offset: number) =>
    `${PREFIX.raw}${NAME}/dt=${utcDate(window.endAt)}/window=${windowId(window)}/offset=${String(offset).padStart(7, '0')}.json.gz`,
  /**
   * A curated object holds the page's findings not curated before, so its content depends on what
   * earlier runs stored: the key carries a digest of those uuids. A retry with the same findings
   * overwrites its own object; a replay or a shifted page with other findings never overwrites
   * (and so never loses) the findings an earlier object holds.
   */
  curated: (day: string, window: Window, offset: number, uuids: readonly string[]) =>
    `${PREFIX.curated}${CURATED_DATASETS.cdrFindings}/dt=${day}/${windowId(window)}-offset=${String(offset).padStart(7, '0')}-${uuidsDigest(uuids)}.json.gz`,
  rejected: (window: Window, offset: number) =>
    `${PREFIX.state}${NAME}/rejected/window=${windowId(window)}/offset=${String(offset).padStart(7, '0')}.json`,
};

function uuidsDigest(uuids: readonly string[]): string {
  return createHash('sha256')
    .update([...uuids].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
}

function windowId(window: Window): string {
  return `${keyTime(window.startAt)}_${keyTime(window.endAt)}`;
}

export interface CdrSettings extends WindowSettings {
  query: string;
  pageSize: number;
  minSeverity: number;
  maxAlertsPerRun: number;
  bucket: string;
}

export interface CdrDependencies {
  qualys: Pick<QualysClient, 'getJson' | 'budget'>;
  store: ObjectStore;
  alerts: AlertSink;
  logger: RunLogger;
  settings: CdrSettings;
  now?: () => number;
}

/** The scheduled event runs incrementally; `{startAt, endAt}` runs one explicit window. */
export type CdrRequest = { kind: 'incremental' } | { kind: 'window'; window: Window; alerts: boolean };

export interface WindowReport extends Window {
  pages: number;
  findings: number;
  newFindings: number;
  complete: boolean;
}

export interface CdrRunSummary {
  collector: typeof NAME;
  mode: CdrRequest['kind'];
  windows: WindowReport[];
  pages: number;
  findings: number;
  newFindings: number;
  rejected: number;
  alertsPublished: number;
  digestsPublished: number;
  objectsWritten: number;
  apiCalls: number;
  rateLimit: Record<string, number | undefined>;
  /** Why the run ended before catching up, when it did: budget, deadline. */
  stoppedEarly?: string;
  checkpoint?: Checkpoint;
}

type FindingWithDay = { finding: CdrFinding; day: string };

/** Runs the CDR findings collector once. See README "CDR findings" for the guarantees. */
export async function runCdrCollector(
  deps: CdrDependencies,
  request: CdrRequest,
  call: CallOptions,
): Promise<CdrRunSummary> {
  const { store, settings, logger } = deps;
  const now = deps.now ?? Date.now;
  const index = new SeenIndex(store, cdrKeys.seenPrefix);
  const outbox = new AlertOutbox(store, cdrKeys.outbox, settings.maxAlertsPerRun);
  const callsBefore = deps.qualys.budget.callsMade;
  const summary: CdrRunSummary = {
    collector: NAME,
    mode: request.kind,
    windows: [],
    pages: 0,
    findings: 0,
    newFindings: 0,
    rejected: 0,
    alertsPublished: 0,
    digestsPublished: 0,
    objectsWritten: 0,
    apiCalls: 0,
    rateLimit: {},
  };
  const put: ObjectStore['put'] = async (key, body, options) => {
    await store.put(key, body, options);
    summary.objectsWritten++;
  };

  /** Reads one window from `cursor` to its end or until a stop signal; saves progress per page. */
  async function readWindow(
    window: Window,
    cursor: number,
    save: (pending: PendingWindow | undefined) => Promise<void>,
  ) {
    const report: WindowReport = { ...window, pages: 0, findings: 0, newFindings: 0, complete: false };
    summary.windows.push(report);
    const fetchPage = async (offset: number) => {
      const response = await deps.qualys.getJson(
        CDR_ENDPOINT,
        {
          query: settings.query,
          startAt: window.startAt,
          endAt: window.endAt,
          offSet: offset,
          limit: settings.pageSize,
        },
        PageSchema,
        call,
      );
      return { ...response.body, raw: response.raw };
    };
    for await (const { cursor: offset, next, page } of offsetPaging(fetchPage, cursor, settings.pageSize)) {
      await writePage(window, offset, page, report);
      await save(next === undefined ? undefined : { ...window, nextCursor: next });
      if (next === undefined) report.complete = true;
    }
  }

  async function writePage(
    window: Window,
    offset: number,
    page: Page & { raw: Uint8Array },
    report: WindowReport,
  ) {
    await put(cdrKeys.raw(window, offset), gzip(page.raw), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: {
        'qualys-endpoint': CDR_ENDPOINT,
        'window-start': window.startAt,
        'window-end': window.endAt,
        offset: String(offset),
      },
    });
    const valid: FindingWithDay[] = [];
    const rejected: Array<{ index: number; reason: string; record: unknown }> = [];
    page.content.forEach((record, position) => {
      const parsed = v.safeParse(CdrFindingSchema, record);
      if (parsed.success) valid.push({ finding: parsed.output, day: utcDate(parsed.output.timestamp) });
      else rejected.push({ index: position, reason: describeIssues(parsed.issues), record });
    });
    if (rejected.length > 0) {
      // The raw page is archived already; keep the rejects beside the state for inspection.
      logger.warn('Findings without a usable uuid or timestamp were not curated', {
        window,
        offset,
        rejected: rejected.length,
        firstReason: rejected[0]?.reason,
      });
      await writeJson(store, cdrKeys.rejected(window, offset), {
        endpoint: CDR_ENDPOINT,
        window,
        offset,
        rejected,
      });
      summary.objectsWritten++;
      summary.rejected += rejected.length;
    }

    const fresh = await index.unseen(
      valid,
      (item) => item.finding.uuid,
      (item) => item.day,
    );
    const ingestedAt = new Date(now()).toISOString();
    const byDay = new Map<string, FindingWithDay[]>();
    for (const item of fresh) byDay.set(item.day, [...(byDay.get(item.day) ?? []), item]);
    const curatedKeyOf = new Map<string, string>();
    for (const [day, items] of byDay) {
      const key = cdrKeys.curated(
        day,
        window,
        offset,
        items.map(({ finding }) => finding.uuid),
      );
      curatedKeyOf.set(day, key);
      const records = items.map(({ finding }) => ({
        ...finding,
        lake_ingested_at: ingestedAt,
        lake_raw_key: cdrKeys.raw(window, offset),
      }));
      await put(key, toNdjsonGzip(records), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
    }
    const severe = fresh.filter(
      ({ finding }) => (severityLevel(finding.severity) ?? 0) >= settings.minSeverity,
    );
    if (request.kind === 'incremental' || request.alerts) {
      await outbox.add(
        severe.map(({ finding, day }) =>
          cdrAlertCandidate(finding, { bucket: settings.bucket, curatedKey: curatedKeyOf.get(day) ?? '' }),
        ),
      );
    }
    await index.add(
      fresh,
      (item) => item.finding.uuid,
      (item) => item.day,
    );

    report.pages++;
    report.findings += page.content.length;
    report.newFindings += fresh.length;
    summary.pages++;
    summary.findings += page.content.length;
    summary.newFindings += fresh.length;
  }

  let failure: unknown;
  try {
    if (request.kind === 'incremental') {
      const checkpoints = new CheckpointStore<Checkpoint>(store, cdrKeys.checkpoint);
      let checkpoint: Checkpoint = (await checkpoints.load()) ?? { version: 1 };
      const saveCheckpoint = async (next: Checkpoint) => {
        checkpoint = { ...next, updatedAt: new Date(now()).toISOString() };
        await checkpoints.save(checkpoint);
        summary.checkpoint = checkpoint;
      };
      summary.checkpoint = checkpoint;
      // Finish a pending window first, then open new ones until caught up with the time the run
      // started: measuring against a moving "now" would re-read the lookback for every minute a
      // slow window took.
      const runStart = now();
      for (let windows = 0; windows < 50; windows++) {
        const pending = checkpoint.pending;
        const window = pending ?? nextWindow(checkpoint, runStart, settings);
        if (!window) break;
        await readWindow(window, pending?.nextCursor ?? 0, async (nextPending) => {
          await saveCheckpoint(
            nextPending
              ? { ...checkpoint, pending: nextPending }
              : { version: 1, watermark: window.endAt, pending: undefined },
          );
        });
        if (Date.parse(window.endAt) >= runStart - settings.lagMinutes * 60_000) break;
      }
    } else {
      const checkpoints = new CheckpointStore<PendingWindow | { completedAt: string }>(
        store,
        cdrKeys.replayCheckpoint(request.window),
      );
      const saved = await checkpoints.load();
      const cursor = saved && 'nextCursor' in saved ? saved.nextCursor : 0;
      await readWindow(request.window, cursor, async (nextPending) => {
        await checkpoints.save(nextPending ?? { completedAt: new Date(now()).toISOString() });
      });
    }
  } catch (error) {
    if (isStopSignal(error)) {
      summary.stoppedEarly = error.message;
      logger.info('Stopping early; the checkpoint resumes from the next page', { reason: error.message });
    } else {
      failure = error;
    }
  }

  // Alerts queued by this run (or left by an earlier one) go out even when the run failed later.
  try {
    const sent = await outbox.flush(deps.alerts, {
      source: ALERT_SOURCE.cdrFindings,
      noun: 'CDR findings at or above the alert severity',
      severityAttribute: 'severity',
    });
    summary.alertsPublished = sent.alerts;
    summary.digestsPublished = sent.digests;
  } catch (error) {
    logger.error('Publishing alerts failed; they stay queued for the next run', {
      error: (error as Error).message,
    });
    failure ??= error;
  }
  summary.apiCalls = deps.qualys.budget.callsMade - callsBefore;
  summary.rateLimit = deps.qualys.budget.rateLimitReport;
  if (failure) throw failure;
  return summary;
}
