import type { Checkpoint, PendingWindow, Window, WindowSettings } from '../core/checkpoint';
import { UTC_ISO, utcDate } from '../core/records';

/**
 * Which windows of event time a scheduled CDR run reads, as pure functions of the checkpoint and
 * the clock. Qualys data can reach the API hours after its timestamp, so:
 *
 * - a **new** window reads only time not read before: [watermark, now - lag];
 * - a **settle** window reads one hour of event time once more, once its end is `lateMinutes` old,
 *   and is skipped after its first page when the API's `totalElements` equals what the lake holds;
 * - a **reconcile** window, once per UTC day, re-reads the last `reconcileDays` days up to
 *   `settledUntil` in full, for what arrives later than `lateMinutes`.
 *
 * Window bounds are inclusive. `settledUntil` is exclusive: every instant before it was read at a
 * time it was at least `lateMinutes` old.
 */

export type WindowKind = 'new' | 'settle' | 'reconcile';

export interface LateDataSettings extends WindowSettings {
  /** How late a finding may reach the API and still be caught by a settle read; 0: no settle reads. */
  lateMinutes: number;
  /** `limit` of settle and reconcile reads. */
  settlePageSize: number;
  /** Days a daily reconcile re-reads; 0: none. */
  reconcileDays: number;
}

/** A window with the time it was planned: what was visible then is what its read sees at least. */
export interface PlannedWindow extends PendingWindow {
  plannedAt: string;
}

/** The cdr-findings checkpoint (`state/cdr-findings/checkpoint.json`). */
export interface CdrCheckpoint extends Checkpoint {
  version: 2;
  /** The new window being read (bounds fixed before its first call). */
  pending?: PlannedWindow;
  /** Event time before this has been read once it was `lateMinutes` old. */
  settledUntil?: string;
  settling?: PlannedWindow;
  /** UTC day (YYYY-MM-DD) of the last reconcile. */
  reconciledOn?: string;
  reconciling?: PlannedWindow;
  /** Findings the lake took in per hour of event time (hour start → count), from settledUntil on. */
  held?: Record<string, number>;
}

/** The checkpoint slot of each kind's window in progress. */
export const PENDING_SLOT = {
  new: 'pending',
  settle: 'settling',
  reconcile: 'reconciling',
} as const satisfies Record<WindowKind, keyof CdrCheckpoint>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const floorHour = (ms: number) => Math.floor(ms / HOUR) * HOUR;

/**
 * A saved checkpoint as version 2. A version 1 checkpoint came from runs that re-read 12 hours
 * before the watermark, so what was `lateMinutes` old at the last run counts as settled; its
 * first run reconciles.
 */
export function upgrade(
  saved: Checkpoint | CdrCheckpoint | undefined,
  now: number,
  settings: LateDataSettings,
): CdrCheckpoint {
  // A first run reads its whole initial lookback: the first reconcile is due the next UTC day.
  if (!saved) return { version: 2, reconciledOn: utcDate(now) };
  if (saved.version === 2) return saved as CdrCheckpoint;
  const { watermark, pending, updatedAt } = saved;
  const settledUntil = watermark
    ? iso(floorHour(Date.parse(watermark) - settings.lateMinutes * MINUTE))
    : undefined;
  return {
    version: 2,
    watermark,
    settledUntil,
    pending: pending ? { ...pending, plannedAt: updatedAt ?? pending.endAt } : undefined,
    updatedAt,
  };
}

/** The next hour (or the part of one up to the next whole hour) to settle, once it is due. */
export function settleWindow(
  checkpoint: CdrCheckpoint,
  now: number,
  settings: LateDataSettings,
): Window | undefined {
  if (settings.lateMinutes === 0 || !checkpoint.settledUntil || !checkpoint.watermark) return undefined;
  const start = Date.parse(checkpoint.settledUntil);
  const end = floorHour(start) + HOUR;
  // Only time the new windows have read: settling it sooner would read it twice.
  if (end > now - settings.lateMinutes * MINUTE || end > Date.parse(checkpoint.watermark)) return undefined;
  return { startAt: iso(start), endAt: iso(end - 1) };
}

/** The UTC day whose reconcile is due, or undefined when it ran today or is switched off. */
export function reconcileDue(checkpoint: CdrCheckpoint, now: number, settings: LateDataSettings) {
  const today = utcDate(now);
  if (settings.reconcileDays === 0 || checkpoint.reconciledOn === today) return undefined;
  return today;
}

/** What the reconcile of `day` reads: its last `reconcileDays` days up to settledUntil, if any. */
export function reconcileWindow(
  checkpoint: CdrCheckpoint,
  day: string,
  settings: LateDataSettings,
): Window | undefined {
  if (!checkpoint.settledUntil) return undefined;
  const start = Date.parse(day) - settings.reconcileDays * DAY;
  const end = Date.parse(checkpoint.settledUntil);
  return end > start ? { startAt: iso(start), endAt: iso(end - 1) } : undefined;
}

/**
 * How far event time is settled once `window`, planned at `plannedAt`, is read completely: up to
 * its end, or to the whole hour before `plannedAt - lateMinutes` if that is earlier, provided it
 * starts at or before the current mark (settled time has no gaps). A first run's long window, a catch-up
 * after an outage or a sliding re-read settle what was old enough when they were read.
 */
export function settledAfter(
  settledUntil: string | undefined,
  window: Window,
  plannedAt: string,
  lateMinutes: number,
): string | undefined {
  const from = settledUntil === undefined ? Date.parse(window.startAt) : Date.parse(settledUntil);
  if (Date.parse(window.startAt) > from) return settledUntil;
  // Up to its end when all of it was old enough (the next window of a catch-up starts there),
  // else to a whole hour, where the settle reads take over.
  const reach = Math.min(
    Date.parse(window.endAt) + 1,
    floorHour(Date.parse(plannedAt) - lateMinutes * MINUTE),
  );
  return iso(Math.max(from, reach));
}

/** The hour (its start, ISO-8601) a finding's timestamp falls in. */
export const hourOf = (timestamp: string) =>
  // A UTC timestamp names its hour (the usual case, once per new finding); any other is parsed.
  UTC_ISO.test(timestamp) ? `${timestamp.slice(0, 13)}:00:00.000Z` : iso(floorHour(Date.parse(timestamp)));

/** `held` plus the new findings of a page (hour → count), without the hours before `settledUntil`. */
export function addHeld(
  held: Record<string, number> | undefined,
  fresh: ReadonlyMap<string, number>,
  settledUntil: string | undefined,
): Record<string, number> {
  const next: Record<string, number> = { ...held };
  for (const [hour, count] of fresh) next[hour] = (next[hour] ?? 0) + count;
  const from = settledUntil === undefined ? Number.NEGATIVE_INFINITY : Date.parse(settledUntil);
  for (const hour of Object.keys(next)) if (Date.parse(hour) < from) delete next[hour];
  return next;
}

/**
 * True when the first page of a settle window says the API holds exactly as many findings as the
 * lake took in for those hours: the rest of the window would bring nothing new. Only whole hours
 * compare (a partial first hour is read in full).
 */
export function heldMatches(
  window: Window,
  totalElements: unknown,
  held: Record<string, number> | undefined,
): boolean {
  const start = Date.parse(window.startAt);
  const end = Date.parse(window.endAt) + 1;
  // Page metadata may come as a number or a numeric string.
  const total =
    typeof totalElements === 'string' && totalElements.trim() !== '' ? Number(totalElements) : totalElements;
  if (typeof total !== 'number' || start !== floorHour(start) || end !== floorHour(end)) return false;
  let count = 0;
  for (let hour = start; hour < end; hour += HOUR) count += held?.[iso(hour)] ?? 0;
  return count === total;
}

/**
 * The checkpoint after a page of `window` (a `kind` window) is written: the window still pending
 * at `next`, or done (the watermark, the settled mark or the reconcile day moved on), with the
 * page's new findings counted per hour.
 */
export function progressed(
  checkpoint: CdrCheckpoint,
  kind: WindowKind,
  window: PlannedWindow,
  next: number | undefined,
  fresh: ReadonlyMap<string, number>,
  lateMinutes: number,
): CdrCheckpoint {
  const slot = PENDING_SLOT[kind];
  if (next !== undefined) {
    return {
      ...checkpoint,
      [slot]: { ...window, nextCursor: next },
      held: addHeld(checkpoint.held, fresh, checkpoint.settledUntil),
    };
  }
  const settledUntil = settledAfter(checkpoint.settledUntil, window, window.plannedAt, lateMinutes);
  return {
    ...checkpoint,
    [slot]: undefined,
    watermark: kind === 'new' ? window.endAt : checkpoint.watermark,
    reconciledOn: kind === 'reconcile' ? utcDate(window.plannedAt) : checkpoint.reconciledOn,
    settledUntil,
    held: addHeld(checkpoint.held, fresh, settledUntil),
  };
}
