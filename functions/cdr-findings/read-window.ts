import type { AlertCandidate } from '../core/alerts/digest';
import type { AlertOutbox } from '../core/alerts/outbox';
import type { Checkpoint, Window } from '../core/checkpoint';
import type { PageJournal } from '../core/journal';
import { offsetPaging } from '../core/paging';
import { gzipAsync, RAW_GZIP_LEVEL, toNdjsonGzipAsync, utcDate } from '../core/records';
import type { AlertCounts, AlertingDependencies, Run, RunCounts } from '../core/run';
import { keyInBucket } from '../core/scoped-store';
import type { SeenDelta, SeenIndex } from '../core/seen-index';
import { alertsAt } from '../core/severity';
import { CDR_FINDINGS_PATH, listFindings } from '../qualys/cdr';
import type { CallOptions } from '../qualys/client';
import { type CdrFinding, CdrFindingSchema, isPlainCdrFinding, type Page } from '../qualys/schemas';
import { screen } from '../qualys/validation';
import { cdrAlertCandidate } from './alerts';
import type { CdrFindingsSettings } from './config';
import { cdrFindingsKeys as keys } from './keys';
import type { CdrFindingsRequest } from './request';
import { hourOf, type WindowKind } from './windows';

/**
 * The one reader of a CDR window, whatever its kind (new, settle, reconcile, explicit replay):
 * pages are archived, screened, curated and alerted as they arrive, and progress is handed to the
 * caller after each page to save.
 */

export type CdrFindingsDependencies = AlertingDependencies<CdrFindingsSettings>;

export interface WindowReport extends Window {
  kind: WindowKind | 'replay';
  pages: number;
  findings: number;
  newFindings: number;
  complete: boolean;
  /** Done after its first page: the API's total equalled what the lake held for those hours. */
  countMatched?: boolean;
}

export interface CdrFindingsSummary extends RunCounts, AlertCounts {
  collector: 'cdr-findings';
  mode: CdrFindingsRequest['kind'];
  windows: WindowReport[];
  pages: number;
  findings: number;
  newFindings: number;
  /** New findings found by settle and reconcile reads: those that reached the API late. */
  lateFindings: number;
  rejected: number;
  /** Findings that would have alerted, curated by a window run without alerts: noted in the seen index. */
  curatedWithoutAlert: number;
  /** Findings a window run without alerts had curated, alerted now by a scheduled read. */
  alertedAfterBackfill: number;
  checkpoint?: Checkpoint;
}

/** What a page changed, recorded in one write: the findings it made seen and the alerts they queued. */
export interface CdrJournalEntry {
  seen: SeenDelta;
  alerts: AlertCandidate[];
}

/** What the steps of one run share. */
export interface RunContext {
  run: Run<CdrFindingsSummary>;
  deps: CdrFindingsDependencies;
  call: CallOptions;
  index: SeenIndex;
  journal: PageJournal<CdrJournalEntry>;
  outbox: AlertOutbox;
  /**
   * Settles once what earlier runs journaled is applied to the index and the outbox: read while the
   * first window is planned and its first page fetched, and awaited before a page is written.
   */
  journalReplayed: Promise<void>;
  /** Whether new severe findings are queued as alerts (a replayed window may say no). */
  alerts: boolean;
  /** Whether findings a backfill curated without their alert are alerted when read (scheduled runs). */
  alertUnalerted: boolean;
}

/** New findings of a page, per hour of event time (hour start → count). */
export type FreshByHour = Map<string, number>;

export interface WindowRead {
  window: Window;
  kind: WindowReport['kind'];
  /** Cursor (offset) of the first page to read. */
  cursor: number;
  /** `limit` of each call. */
  pageSize: number;
  /** After a page is written: true when the rest of the window can be skipped. */
  enough?: (page: Page, offset: number, fresh: FreshByHour) => boolean;
  /** Saves progress after a page: the next cursor, or undefined once the window is done. */
  save: (next: number | undefined, fresh: FreshByHour) => Promise<void>;
}

type FindingWithDay = { finding: CdrFinding; day: string };
type RawPage = Page & { raw: Uint8Array };

/** Reads one window from `read.cursor` to its end, or until a stop signal; saves after each page. */
export async function readWindow(context: RunContext, read: WindowRead): Promise<WindowReport> {
  const { run, deps, call } = context;
  const { window } = read;
  const report: WindowReport = {
    ...window,
    kind: read.kind,
    pages: 0,
    findings: 0,
    newFindings: 0,
    complete: false,
  };
  run.summary.windows.push(report);
  const fetchPage = async (offset: number, landed: () => Promise<void>): Promise<RawPage> => {
    const query = {
      query: deps.settings.query,
      startAt: window.startAt,
      endAt: window.endAt,
      offSet: offset,
      limit: read.pageSize,
    };
    const { body, raw } = await listFindings(deps.qualys, query, call, landed);
    return { ...body, raw };
  };
  // A settle read may stop after its first page (the count matched): read ahead only once it did not.
  let readAhead = read.enough === undefined;
  // Progress past pages that added nothing is saved with the next page that does, or at the end:
  // the checkpoint is written when it matters, and a run cut off in between reads those pages again.
  let unsaved: (() => Promise<void>) | undefined;
  try {
    for await (const { cursor: offset, next, page } of offsetPaging({
      endpoint: `GET ${CDR_FINDINGS_PATH} (window ${window.startAt} to ${window.endAt})`,
      fetchPage,
      start: read.cursor,
      limit: read.pageSize,
      concurrency: () => (readAhead ? deps.qualys.budget.concurrencyLimit : 0),
    })) {
      const fresh = await writePage(context, window, offset, page);
      for (const counts of [report, run.summary]) {
        counts.pages++;
        counts.findings += page.content.length;
        counts.newFindings += fresh.length;
      }
      if (read.kind === 'settle' || read.kind === 'reconcile') run.summary.lateFindings += fresh.length;
      const freshByHour = countByHour(fresh);
      const matched = next !== undefined && (read.enough?.(page, offset, freshByHour) ?? false);
      readAhead = !matched;
      const save = () => read.save(matched ? undefined : next, freshByHour);
      if (matched) report.countMatched = true;
      if (matched || next === undefined || fresh.length > 0) {
        unsaved = undefined;
        await save();
      } else {
        unsaved = save;
      }
      if (matched || next === undefined) {
        report.complete = true;
        break;
      }
    }
  } finally {
    await unsaved?.().catch((error: unknown) =>
      run.logger.warn(
        'Could not save the cursor past pages that added nothing; the next run reads them again',
        {
          error: (error as Error).message,
        },
      ),
    );
  }
  return report;
}

function countByHour(fresh: readonly FindingWithDay[]): FreshByHour {
  const hours: FreshByHour = new Map();
  for (const { finding } of fresh) {
    const hour = hourOf(finding.timestamp);
    hours.set(hour, (hours.get(hour) ?? 0) + 1);
  }
  return hours;
}

/**
 * Archives a page, sets its unusable findings aside, curates and alerts the findings not seen
 * before (and, on a scheduled read, those a backfill curated without alert), then marks them seen.
 * Returns the new ones.
 */
async function writePage(
  context: RunContext,
  window: Window,
  offset: number,
  page: RawPage,
): Promise<FindingWithDay[]> {
  const { run, deps, index } = context;
  await context.journalReplayed;
  const rawKey = keys.raw(window, offset);
  // The raw page is written while the page is judged and curated, and is in S3 before anything is
  // set aside or recorded in the journal: a page whose archive failed is never marked seen.
  const archived = (async () =>
    run.store.put(rawKey, await gzipAsync(page.raw, RAW_GZIP_LEVEL), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: {
        'qualys-endpoint': CDR_FINDINGS_PATH,
        'window-start': window.startAt,
        'window-end': window.endAt,
        offset: String(offset),
      },
    }))();
  archived.catch(() => undefined);
  const { valid, rejected } = screen(page.content, CdrFindingSchema, isPlainCdrFinding);
  const items = valid.map((finding): FindingWithDay => ({ finding, day: utcDate(finding.timestamp) }));
  const fresh = await index.unseen(items, uuidOf, dayOf);
  // Curated by a backfill without alerts, and never alerted: a scheduled read alerts them now.
  const unalerted = context.alertUnalerted ? await index.unalerted(items, uuidOf, dayOf) : [];
  const curatedKeys = await curate(run, window, offset, fresh, rawKey);
  await archived;
  // The raw page is archived; keep the rejects beside the state for inspection.
  await run.setAside(
    keys.rejected(window, offset),
    { endpoint: CDR_FINDINGS_PATH, window, offset },
    rejected,
    'Findings without a usable uuid or timestamp were not curated',
    { window, offset },
  );

  const where = (curatedKey: string) => ({
    bucket: deps.settings.bucket,
    curatedKey: keyInBucket(run.store, curatedKey),
  });
  const severe = fresh.filter(({ finding }) => alertsAt(finding.severity, deps.settings.minSeverity));
  const caughtUp = unalerted.filter(({ record }) =>
    alertsAt(record.finding.severity, deps.settings.minSeverity),
  );
  const candidates = context.alerts
    ? [
        ...severe.map(({ finding, day }) => cdrAlertCandidate(finding, where(curatedKeys.get(day) ?? ''))),
        ...caughtUp.map(({ record, curatedKey }) => cdrAlertCandidate(record.finding, where(curatedKey))),
      ]
    : [];
  // Without alerts, what would have alerted is noted, with where it is curated, for a later read.
  const withoutAlert = context.alerts
    ? undefined
    : new Map(severe.map((item) => [item, curatedKeys.get(item.day) ?? '']));
  const seen = index.delta(fresh, uuidOf, dayOf, {
    withoutAlert,
    alerted: unalerted.map(({ record }) => record),
  });
  const alerts = await context.outbox.admit(candidates);
  if (Object.keys(seen).length > 0 || alerts.length > 0) {
    // The one write that records the page: its findings seen and their alerts queued, together. If
    // it fails, neither happened, and the retried page finds the same findings new again.
    await context.journal.append({ seen, alerts });
    await index.apply(seen);
    await context.outbox.queue(alerts);
  }
  run.summary.curatedWithoutAlert += withoutAlert?.size ?? 0;
  run.summary.alertedAfterBackfill += caughtUp.length;
  return fresh;
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
    const lineage = { lake_ingested_at: ingestedAt, lake_raw_key: keyInBucket(run.store, rawKey) };
    await run.store.put(key, await toNdjsonGzipAsync(findings, lineage), {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
  }
  return keyOfDay;
}

function byDay(items: readonly FindingWithDay[]): Map<string, CdrFinding[]> {
  const days = new Map<string, CdrFinding[]>();
  for (const { finding, day } of items) {
    const findings = days.get(day);
    if (findings) findings.push(finding);
    else days.set(day, [finding]);
  }
  return days;
}
