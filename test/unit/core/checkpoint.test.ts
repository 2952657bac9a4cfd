import { describe, expect, it } from 'vitest';
import { readCdrFindingsSettings } from '../../../functions/cdr-findings/config';
import {
  type Checkpoint,
  CheckpointStore,
  nextWindow,
  type WindowSettings,
} from '../../../functions/core/checkpoint';
import { MemoryStore } from '../../support/memory-store';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2025-05-10T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const settings: WindowSettings = {
  lagMinutes: 5,
  lookbackMinutes: 60,
  initialLookbackHours: 24,
  maxWindowHours: 48,
};

describe('nextWindow', () => {
  it('starts the first run initialLookbackHours ago and ends lagMinutes before now', () => {
    expect(nextWindow({ version: 1 }, NOW, settings)).toEqual({
      startAt: iso(NOW - 24 * HOUR),
      endAt: iso(NOW - 5 * MINUTE),
    });
  });

  it('starts a later run lookbackMinutes before the watermark', () => {
    const checkpoint: Checkpoint = { version: 1, watermark: iso(NOW - 2 * HOUR) };
    expect(nextWindow(checkpoint, NOW, settings)).toEqual({
      startAt: iso(NOW - 3 * HOUR),
      endAt: iso(NOW - 5 * MINUTE),
    });
  });

  it('caps a long catch-up by maxWindowHours and still moves past the watermark', () => {
    const capped = { ...settings, maxWindowHours: 6 };
    const watermark = NOW - 3 * 24 * HOUR;
    const window = nextWindow({ version: 1, watermark: iso(watermark) }, NOW, capped);
    const start = Date.parse(window?.startAt ?? '');
    const end = Date.parse(window?.endAt ?? '');

    expect(start).toBe(watermark - HOUR);
    expect(end).toBeGreaterThan(watermark);
    expect(end - start).toBeLessThanOrEqual(6 * HOUR + HOUR); // at most maxWindowHours of new time
    expect(end).toBeLessThan(NOW - 5 * MINUTE);
  });

  it('caps the first run too', () => {
    const window = nextWindow({ version: 1 }, NOW, {
      ...settings,
      initialLookbackHours: 72,
      maxWindowHours: 24,
    });
    expect(window).toEqual({ startAt: iso(NOW - 72 * HOUR), endAt: iso(NOW - 48 * HOUR) });
  });

  it('still moves forward when maxWindowHours is shorter than the lookback', () => {
    const watermark = NOW - 24 * HOUR;
    const window = nextWindow({ version: 1, watermark: iso(watermark) }, NOW, {
      ...settings,
      lookbackMinutes: 180,
      maxWindowHours: 1,
    });
    expect(window).toBeDefined();
    expect(Date.parse(window?.endAt ?? '')).toBeGreaterThan(watermark);
  });

  it('catches up to now - lag in a bounded number of windows', () => {
    const capped = { ...settings, maxWindowHours: 6 };
    let checkpoint: Checkpoint = { version: 1, watermark: iso(NOW - 3 * 24 * HOUR) };
    let windows = 0;
    for (; windows < 100; windows++) {
      const window = nextWindow(checkpoint, NOW, capped);
      if (!window) break;
      checkpoint = { version: 1, watermark: window.endAt };
    }
    expect(checkpoint.watermark).toBe(iso(NOW - 5 * MINUTE));
    expect(windows).toBeLessThanOrEqual(Math.ceil((3 * 24 * HOUR - 5 * MINUTE) / (5 * HOUR)));
  });

  it('returns undefined when less than a minute of new time has passed', () => {
    const end = NOW - 5 * MINUTE;
    expect(nextWindow({ version: 1, watermark: iso(end - 30_000) }, NOW, settings)).toBeUndefined();
    expect(nextWindow({ version: 1, watermark: iso(end) }, NOW, settings)).toBeUndefined();
    expect(nextWindow({ version: 1, watermark: iso(end + HOUR) }, NOW, settings)).toBeUndefined();
    expect(nextWindow({ version: 1, watermark: iso(end - 2 * MINUTE) }, NOW, settings)).toEqual({
      startAt: iso(end - 2 * MINUTE - HOUR),
      endAt: iso(end),
    });
  });
});

describe('CheckpointStore', () => {
  it('loads nothing before the first save, then what was saved', async () => {
    const store = new MemoryStore();
    const checkpoints = new CheckpointStore<Checkpoint>(store, 'state/cdr-findings/checkpoint.json');
    expect(await checkpoints.load()).toBeUndefined();

    const saved: Checkpoint = {
      version: 1,
      watermark: '2025-05-10T11:55:00.000Z',
      pending: { startAt: '2025-05-10T10:00:00.000Z', endAt: '2025-05-10T11:55:00.000Z', nextCursor: 300 },
    };
    await checkpoints.save(saved);
    expect(await new CheckpointStore<Checkpoint>(store, checkpoints.key).load()).toEqual(saved);
  });
});

// readCdrFindingsSettings accepts a lookback as long as the longest window; each window must still
// move the watermark by all the new time, not one minute while re-reading the whole lookback.
describe('nextWindow with a lookback as long as maxWindowHours', () => {
  it('reads 15 minutes of new time in one window', () => {
    const config = readCdrFindingsSettings({ CDR_LOOKBACK_MINUTES: '1440' });
    const settings: WindowSettings = config;
    const end = NOW - config.lagMinutes * MINUTE;
    let checkpoint: Checkpoint = { version: 1, watermark: iso(end - 15 * MINUTE) };

    let windows = 0;
    for (; windows < 50; windows++) {
      const window = nextWindow(checkpoint, NOW, settings);
      if (!window) break;
      checkpoint = { version: 1, watermark: window.endAt };
    }
    expect(checkpoint.watermark).toBe(iso(end));
    expect(windows).toBe(1);
  });
});
