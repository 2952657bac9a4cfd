import { describe, expect, it } from 'vitest';
import { readCdrConfig } from '../../../functions/cdr-findings/config';
import { type Checkpoint, nextWindow, type WindowSettings } from '../../../functions/core/checkpoint';

/**
 * BUG: when lookbackMinutes >= maxWindowHours * 60 (a configuration readCdrConfig accepts, e.g.
 * CDR_LOOKBACK_MINUTES=1440 with the default CDR_MAX_WINDOW_HOURS=24), nextWindow caps the whole
 * window (lookback included) at max(maxWindowHours, lookback + 1 min), so each window moves the
 * watermark by ONE MINUTE while re-reading the full lookback. A run with 15 minutes of new time
 * then opens 15 windows (the collector allows 50 per run), each paging through 24 h of findings.
 */
const MINUTE = 60_000;
const NOW = Date.parse('2025-05-10T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('nextWindow with a lookback as long as maxWindowHours', () => {
  it('reads 15 minutes of new time in one window', () => {
    const config = readCdrConfig({ CDR_LOOKBACK_MINUTES: '1440' });
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
