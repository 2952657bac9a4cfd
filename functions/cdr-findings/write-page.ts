import type { AlertCandidate } from '../core/alerts/digest';
import type { Window } from '../core/checkpoint';
import { gzipAhead, gzipAsync, RAW_GZIP_LEVEL, toNdjson, utcDate } from '../core/records';
import { keyInBucket } from '../core/scoped-store';
import type { SeenDelta } from '../core/seen-index';
import { alertsAt } from '../core/severity';
import { CDR_FINDINGS_PATH } from '../qualys/cdr';
import { type CdrFinding, CdrFindingSchema, isPlainCdrFinding, type Page } from '../qualys/schemas';
import { type Rejected, screen } from '../qualys/validation';
import { cdrAlertCandidate } from './alerts';
import type { FreshByHour, RunContext } from './context';
import { cdrFindingsKeys as keys } from './keys';
import { hourOf } from './windows';

/** A page as served: its parsed body and the bytes it came as, for the archive. */
export type RawPage = Page & { raw: Uint8Array };

/** What a page added, as the reader counts it. */
export interface PageOutcome {
  /** Findings the lake did not hold before. */
  fresh: number;
  freshByHour: FreshByHour;
}

/** A page judged: everything its writes need, and none of its findings. */
interface PageWrites {
  /** One curated object per day of event time: its key and its NDJSON, being gzipped. */
  curated: Array<{ key: string; gzipped: Promise<Uint8Array> }>;
  rejected: Rejected[];
  /** Admitted to the outbox as it stood when judged; a candidate's message is built or left out. */
  alerts: AlertCandidate[];
  seen: SeenDelta;
  outcome: PageOutcome;
  curatedWithoutAlert: number;
  alertedAfterBackfill: number;
}

type FindingWithDay = { finding: CdrFinding; day: string };

/**
 * Archives a page, sets its unusable findings aside, curates and alerts the findings not seen
 * before (and, on a scheduled read, those a backfill curated without alert), then marks them seen.
 *
 * The page is judged first, in one step that leaves only what the writes need (the NDJSON bytes,
 * the keys, the alerts, the uuids), and its findings are let go before the first write: a
 * thousand findings kept alive across a page's S3 round trips outlive the young generation's
 * collections and are copied into the old one, which then needs full collections every page or
 * two (README "Benchmarks").
 */
export async function writePage(
  context: RunContext,
  window: Window,
  offset: number,
  page: RawPage,
): Promise<PageOutcome> {
  const { run } = context;
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
  const writes = await judge(context, window, offset, page, rawKey);
  // The page's items are no longer needed: the reader keeps the page (its paging fields) until the
  // next one, so its findings are dropped here.
  (page.content as unknown[]).length = 0;
  for (const { key, gzipped } of writes.curated) {
    await run.store.put(key, await gzipped, {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
  }
  await archived;
  // The raw page is archived; keep the rejects beside the state for inspection.
  await run.setAside(
    keys.rejected(window, offset),
    { endpoint: CDR_FINDINGS_PATH, window, offset },
    writes.rejected,
    'Findings without a usable uuid or timestamp were not curated',
    { window, offset },
  );
  const { alerts } = writes;
  if (Object.keys(writes.seen).length > 0 || alerts.length > 0) {
    // The one write that records the page: its findings seen and their alerts queued, together. If
    // it fails, neither happened, and the retried page finds the same findings new again.
    await context.journal.append({ seen: writes.seen, alerts });
    await context.index.apply(writes.seen);
    await context.outbox.queue(alerts);
  }
  run.summary.curatedWithoutAlert += writes.curatedWithoutAlert;
  run.summary.alertedAfterBackfill += writes.alertedAfterBackfill;
  return writes.outcome;
}

/** Screens the page's items and decides what it writes; nothing is written or changed here. */
async function judge(
  context: RunContext,
  window: Window,
  offset: number,
  page: RawPage,
  rawKey: string,
): Promise<PageWrites> {
  const { run, deps, index } = context;
  const { valid, rejected } = screen(page.content, CdrFindingSchema, isPlainCdrFinding);
  const items = valid.map((finding): FindingWithDay => ({ finding, day: utcDate(finding.timestamp) }));
  const fresh = await index.unseen(items, uuidOf, dayOf);
  // Curated by a backfill without alerts, and never alerted: a scheduled read alerts them now.
  const unalerted = context.alertUnalerted ? await index.unalerted(items, uuidOf, dayOf) : [];

  const lineage = { lake_ingested_at: run.isoNow(), lake_raw_key: keyInBucket(run.store, rawKey) };
  const curated: PageWrites['curated'] = [];
  const keyOfDay = new Map<string, string>();
  for (const [day, findings] of byDay(fresh)) {
    const key = keys.curated(
      day,
      window,
      offset,
      findings.map((finding) => finding.uuid),
    );
    keyOfDay.set(day, key);
    // gzipped in the thread pool while the rest of the page is judged; awaited before its PUT.
    curated.push({ key, gzipped: gzipAhead(toNdjson(findings, lineage)) });
  }

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
        ...severe.map(({ finding, day }) => cdrAlertCandidate(finding, where(keyOfDay.get(day) ?? ''))),
        ...caughtUp.map(({ record, curatedKey }) => cdrAlertCandidate(record.finding, where(curatedKey))),
      ]
    : [];
  // Without alerts, what would have alerted is noted, with where it is curated, for a later read.
  const withoutAlert = context.alerts
    ? undefined
    : new Map(severe.map((item) => [item, keyOfDay.get(item.day) ?? '']));
  const seen = index.delta(fresh, uuidOf, dayOf, {
    withoutAlert,
    alerted: unalerted.map(({ record }) => record),
  });
  return {
    curated,
    rejected,
    // Admitted here, not after the writes: a candidate's message, until it is built, holds its finding.
    alerts: await context.outbox.admit(candidates),
    seen,
    outcome: { fresh: fresh.length, freshByHour: countByHour(fresh) },
    curatedWithoutAlert: withoutAlert?.size ?? 0,
    alertedAfterBackfill: caughtUp.length,
  };
}

const uuidOf = (item: FindingWithDay) => item.finding.uuid;
const dayOf = (item: FindingWithDay) => item.day;

function byDay(items: readonly FindingWithDay[]): Map<string, CdrFinding[]> {
  const days = new Map<string, CdrFinding[]>();
  for (const { finding, day } of items) {
    const findings = days.get(day);
    if (findings) findings.push(finding);
    else days.set(day, [finding]);
  }
  return days;
}

function countByHour(fresh: readonly FindingWithDay[]): FreshByHour {
  const hours: FreshByHour = new Map();
  for (const { finding } of fresh) {
    const hour = hourOf(finding.timestamp);
    hours.set(hour, (hours.get(hour) ?? 0) + 1);
  }
  return hours;
}
