import type { ObjectStore } from './ports';
import { readJson, writeJson } from './records';

/**
 * Incremental windows over event time (both bounds inclusive). A window starts at the end of the
 * last completed one (the watermark), minus `lookbackMinutes` when a sliding re-read is configured,
 * and ends `lagMinutes` before now. A window's bounds are fixed and saved as `pending` (cursor 0)
 * before its first call; a window that does not finish in one run keeps the cursor of its next
 * page there, and the next run finishes it, with the same bounds and so the same S3 keys, before
 * opening a new one. The watermark only moves once every page of a window is in S3.
 */
export interface Window {
  startAt: string;
  endAt: string;
}

export interface PendingWindow extends Window {
  /** Cursor (offset) of the first page not yet written. */
  nextCursor: number;
}

export interface Checkpoint {
  /** 1: watermark and pending only; 2 (cdr-findings) adds what the settle and reconcile reads need. */
  version: number;
  /** End of the last completed window. */
  watermark?: string;
  pending?: PendingWindow;
  updatedAt?: string;
}

export interface WindowSettings {
  lagMinutes: number;
  /** Legacy sliding re-read: each window also re-reads this much before the watermark (0: none). */
  lookbackMinutes: number;
  initialLookbackHours: number;
  /** Longest window opened at once; a long outage is caught up window by window. */
  maxWindowHours: number;
}

const MINUTE = 60_000;

/** The next window to read, or undefined when less than a minute of new time has passed. */
export function nextWindow(
  checkpoint: Checkpoint,
  now: number,
  settings: WindowSettings,
): Window | undefined {
  const end = now - settings.lagMinutes * MINUTE;
  const watermark = checkpoint.watermark
    ? Date.parse(checkpoint.watermark)
    : now - settings.initialLookbackHours * 60 * MINUTE;
  if (end - watermark < MINUTE) return undefined;
  const start = checkpoint.watermark ? watermark - settings.lookbackMinutes * MINUTE : watermark;
  // The cap limits new time only, so each window moves the watermark by up to maxWindowHours.
  const cappedEnd = Math.min(end, watermark + settings.maxWindowHours * 60 * MINUTE);
  return { startAt: new Date(start).toISOString(), endAt: new Date(cappedEnd).toISOString() };
}

export class CheckpointStore<T> {
  constructor(
    private readonly store: ObjectStore,
    readonly key: string,
  ) {}

  async load(): Promise<T | undefined> {
    return readJson<T>(this.store, this.key);
  }

  async save(value: T): Promise<void> {
    await writeJson(this.store, this.key, value);
  }
}
