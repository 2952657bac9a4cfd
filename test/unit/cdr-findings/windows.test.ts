import { describe, expect, it } from 'vitest';
import { readCdrFindingsSettings } from '../../../functions/cdr-findings/config';
import {
  addHeld,
  type CdrCheckpoint,
  heldMatches,
  hourOf,
  type PlannedWindow,
  progressed,
  reconcileDue,
  reconcileWindow,
  settledAfter,
  settleWindow,
  upgrade,
  type WindowKind,
} from '../../../functions/cdr-findings/windows';
import { nextWindow, type Window } from '../../../functions/core/checkpoint';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2025-05-10T12:02:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const settings = readCdrFindingsSettings({});

describe('upgrade', () => {
  it('starts a fresh checkpoint with today reconciled: the first run reads its whole lookback anyway', () => {
    expect(upgrade(undefined, NOW, settings)).toEqual({ version: 2, reconciledOn: '2025-05-10' });
  });

  it('settles a version 1 checkpoint up to the whole hour lateMinutes before its watermark and keeps its pending window', () => {
    const pending = { startAt: iso(NOW - 13 * HOUR), endAt: iso(NOW - HOUR), nextCursor: 300 };
    const v1 = { version: 1, watermark: iso(NOW - 2 * HOUR), pending, updatedAt: iso(NOW - HOUR) };
    expect(upgrade(v1, NOW, settings)).toEqual({
      version: 2,
      watermark: v1.watermark,
      settledUntil: '2025-05-10T08:00:00.000Z',
      pending: { ...pending, plannedAt: v1.updatedAt },
      updatedAt: v1.updatedAt,
    });
  });

  it('leaves a version 2 checkpoint as it is', () => {
    const v2: CdrCheckpoint = { version: 2, watermark: iso(NOW), settledUntil: iso(NOW - 3 * HOUR) };
    expect(upgrade(v2, NOW, settings)).toBe(v2);
  });
});

describe('new windows', () => {
  it('read only new time by default: a later window starts at the watermark', () => {
    const checkpoint: CdrCheckpoint = { version: 2, watermark: iso(NOW - 10 * MINUTE) };
    expect(nextWindow(checkpoint, NOW, settings)).toEqual({
      startAt: iso(NOW - 10 * MINUTE),
      endAt: iso(NOW - 5 * MINUTE),
    });
  });

  it('re-read CDR_LOOKBACK_MINUTES before the watermark when the legacy sliding re-read is set', () => {
    const legacy = readCdrFindingsSettings({ CDR_LOOKBACK_MINUTES: '720' });
    const checkpoint: CdrCheckpoint = { version: 2, watermark: iso(NOW - 10 * MINUTE) };
    expect(nextWindow(checkpoint, NOW, legacy)?.startAt).toBe(iso(NOW - 10 * MINUTE - 12 * HOUR));
  });
});

describe('settleWindow', () => {
  const checkpoint: CdrCheckpoint = {
    version: 2,
    watermark: iso(NOW - 5 * MINUTE),
    settledUntil: '2025-05-10T09:00:00.000Z',
  };

  it('reads the hour after settledUntil once its end is lateMinutes old', () => {
    expect(settleWindow(checkpoint, NOW, settings)).toEqual({
      startAt: '2025-05-10T09:00:00.000Z',
      endAt: '2025-05-10T09:59:59.999Z',
    });
  });

  it('waits while the hour is younger than lateMinutes', () => {
    expect(settleWindow({ ...checkpoint, settledUntil: '2025-05-10T10:00:00.000Z' }, NOW, settings)).toBe(
      undefined,
    );
  });

  it('reads up to the next whole hour from a settledUntil inside an hour', () => {
    expect(settleWindow({ ...checkpoint, settledUntil: '2025-05-10T09:23:17.000Z' }, NOW, settings)).toEqual({
      startAt: '2025-05-10T09:23:17.000Z',
      endAt: '2025-05-10T09:59:59.999Z',
    });
  });

  it('never settles time the new windows have not read yet', () => {
    const behind = { ...checkpoint, watermark: '2025-05-10T09:30:00.000Z' };
    expect(settleWindow(behind, NOW, settings)).toBeUndefined();
  });

  it('reads nothing when CDR_LATE_MINUTES is 0 or before the first window completed', () => {
    const off = readCdrFindingsSettings({ CDR_LATE_MINUTES: '0' });
    expect(settleWindow(checkpoint, NOW, off)).toBeUndefined();
    expect(settleWindow({ version: 2, watermark: checkpoint.watermark }, NOW, settings)).toBeUndefined();
  });
});

describe('reconcile', () => {
  const checkpoint: CdrCheckpoint = {
    version: 2,
    watermark: iso(NOW - 5 * MINUTE),
    settledUntil: '2025-05-10T09:00:00.000Z',
    reconciledOn: '2025-05-09',
  };

  it('is due once per UTC day', () => {
    expect(reconcileDue(checkpoint, NOW, settings)).toBe('2025-05-10');
    expect(reconcileDue({ ...checkpoint, reconciledOn: '2025-05-10' }, NOW, settings)).toBeUndefined();
  });

  it('is off with CDR_RECONCILE_DAYS=0', () => {
    expect(
      reconcileDue(checkpoint, NOW, readCdrFindingsSettings({ CDR_RECONCILE_DAYS: '0' })),
    ).toBeUndefined();
  });

  it('re-reads the last reconcileDays days up to settledUntil', () => {
    expect(reconcileWindow(checkpoint, '2025-05-10', settings)).toEqual({
      startAt: '2025-05-08T00:00:00.000Z',
      endAt: '2025-05-10T08:59:59.999Z',
    });
  });

  it('has nothing to read when nothing in those days has settled', () => {
    expect(
      reconcileWindow({ ...checkpoint, settledUntil: '2025-05-07T23:00:00.000Z' }, '2025-05-10', settings),
    ).toBeUndefined();
    expect(reconcileWindow({ version: 2 }, '2025-05-10', settings)).toBeUndefined();
  });
});

describe('settledAfter', () => {
  const window = (startAt: string, endAt: string): Window => ({ startAt, endAt });

  it('settles a first long window up to the whole hour lateMinutes before it was planned', () => {
    const first = window(iso(NOW - 24 * HOUR), iso(NOW - 5 * MINUTE));
    expect(settledAfter(undefined, first, iso(NOW), 120)).toBe('2025-05-10T10:00:00.000Z');
  });

  it('settles a catch-up after an outage window by window, then up to a whole hour', () => {
    const planned = iso(NOW);
    let settled: string | undefined = '2025-05-07T09:00:00.000Z';
    let start = Date.parse('2025-05-07T09:17:00.000Z') - 30 * MINUTE;
    for (const hours of [24, 24, 24]) {
      const end = start + hours * HOUR;
      settled = settledAfter(settled, window(iso(start), iso(end)), planned, 120);
      expect(settled).toBe(iso(end + 1));
      start = end;
    }
    const last = window(iso(start), iso(NOW - 5 * MINUTE));
    expect(settledAfter(settled, last, planned, 120)).toBe('2025-05-10T10:00:00.000Z');
  });

  it('moves to the end of a settle window', () => {
    const hour = window('2025-05-10T09:00:00.000Z', '2025-05-10T09:59:59.999Z');
    expect(settledAfter('2025-05-10T09:00:00.000Z', hour, iso(NOW), 120)).toBe('2025-05-10T10:00:00.000Z');
  });

  it('does not move for a recent new window, nor past a gap', () => {
    const recent = window(iso(NOW - 10 * MINUTE), iso(NOW - 5 * MINUTE));
    expect(settledAfter('2025-05-10T09:00:00.000Z', recent, iso(NOW), 120)).toBe('2025-05-10T09:00:00.000Z');
    const afterGap = window('2025-05-10T10:00:00.000Z', '2025-05-10T10:59:59.999Z');
    expect(settledAfter('2025-05-10T09:00:00.000Z', afterGap, iso(NOW + 3 * HOUR), 120)).toBe(
      '2025-05-10T09:00:00.000Z',
    );
  });

  it('moves with a sliding re-read that covers settledUntil, so the legacy mode never settles', () => {
    const sliding = window(iso(NOW - 12 * HOUR), iso(NOW - 5 * MINUTE));
    expect(settledAfter('2025-05-10T07:00:00.000Z', sliding, iso(NOW), 120)).toBe('2025-05-10T10:00:00.000Z');
  });

  it('never moves back', () => {
    const old = window('2025-05-10T01:00:00.000Z', '2025-05-10T01:59:59.999Z');
    expect(settledAfter('2025-05-10T09:00:00.000Z', old, iso(NOW), 120)).toBe('2025-05-10T09:00:00.000Z');
  });
});

describe('hourOf', () => {
  it.each([
    ['2025-05-09T20:00:42.000Z', '2025-05-09T20:00:00.000Z'],
    ['2025-05-09T20:59Z', '2025-05-09T20:00:00.000Z'],
    ['2025-05-09T23:59:59.999999Z', '2025-05-09T23:00:00.000Z'],
    ['2025-05-09T20:00:42.000+00:00', '2025-05-09T20:00:00.000Z'],
    ['2025-05-09T23:30:00-02:30', '2025-05-10T02:00:00.000Z'],
    ['2025-05-10T00:10:00+01:00', '2025-05-09T23:00:00.000Z'],
  ])('%s is in the UTC hour %s', (timestamp, hour) => {
    expect(hourOf(timestamp)).toBe(hour);
  });
});

describe('held counts', () => {
  const hour = { startAt: '2025-05-10T09:00:00.000Z', endAt: '2025-05-10T09:59:59.999Z' };

  it('match the API total of whole hours only', () => {
    const held = { '2025-05-10T09:00:00.000Z': 7, '2025-05-10T10:00:00.000Z': 3 };
    expect(heldMatches(hour, 7, held)).toBe(true);
    expect(heldMatches(hour, '7', held)).toBe(true);
    expect(heldMatches(hour, 8, held)).toBe(false);
    expect(heldMatches(hour, undefined, held)).toBe(false);
    expect(heldMatches({ ...hour, endAt: '2025-05-10T10:59:59.999Z' }, 10, held)).toBe(true);
    expect(heldMatches({ ...hour, startAt: '2025-05-10T09:30:00.000Z' }, 7, held)).toBe(false);
    expect(heldMatches(hour, 0, undefined)).toBe(true);
  });

  it('add up per hour and forget the hours before settledUntil', () => {
    const fresh = new Map([
      ['2025-05-10T08:00:00.000Z', 2],
      ['2025-05-10T09:00:00.000Z', 1],
    ]);
    expect(addHeld({ '2025-05-10T09:00:00.000Z': 4 }, fresh, '2025-05-10T09:00:00.000Z')).toEqual({
      '2025-05-10T09:00:00.000Z': 5,
    });
  });
});

describe('progressed', () => {
  const base: CdrCheckpoint = {
    version: 2,
    watermark: '2025-05-10T11:50:00.000Z',
    settledUntil: '2025-05-10T09:00:00.000Z',
    reconciledOn: '2025-05-09',
  };
  const planned = (kind: WindowKind, startAt: string, endAt: string): [WindowKind, PlannedWindow] => [
    kind,
    { startAt, endAt, nextCursor: 0, plannedAt: iso(NOW) },
  ];
  const fresh = new Map([['2025-05-10T11:00:00.000Z', 3]]);

  it('keeps a window pending at the next cursor and counts its new findings', () => {
    const [kind, window] = planned('new', '2025-05-10T11:50:00.000Z', '2025-05-10T11:57:00.000Z');
    expect(progressed({ ...base, pending: window }, kind, window, 100, fresh, 120)).toEqual({
      ...base,
      pending: { ...window, nextCursor: 100 },
      held: { '2025-05-10T11:00:00.000Z': 3 },
    });
  });

  it('moves the watermark when a new window is done', () => {
    const [kind, window] = planned('new', '2025-05-10T11:50:00.000Z', '2025-05-10T11:57:00.000Z');
    const done = progressed({ ...base, pending: window }, kind, window, undefined, fresh, 120);
    expect(done).toMatchObject({ watermark: window.endAt, settledUntil: base.settledUntil });
    expect(done.pending).toBeUndefined();
  });

  it('moves settledUntil when a settle window is done, forgetting the hours before it', () => {
    const [kind, window] = planned('settle', '2025-05-10T09:00:00.000Z', '2025-05-10T09:59:59.999Z');
    const before = { ...base, settling: window, held: { '2025-05-10T09:00:00.000Z': 4 } };
    const done = progressed(before, kind, window, undefined, new Map(), 120);
    expect(done).toMatchObject({
      watermark: base.watermark,
      settledUntil: '2025-05-10T10:00:00.000Z',
      held: {},
    });
    expect(done.settling).toBeUndefined();
  });

  it('records the day a reconcile was planned once it is done', () => {
    const [kind, window] = planned('reconcile', '2025-05-08T00:00:00.000Z', '2025-05-10T08:59:59.999Z');
    const done = progressed({ ...base, reconciling: window }, kind, window, undefined, new Map(), 120);
    expect(done).toMatchObject({ reconciledOn: '2025-05-10', settledUntil: base.settledUntil });
    expect(done.reconciling).toBeUndefined();
  });
});

/** Plans the windows of `hours` of 5-minute runs, each read as soon as planned. */
function plan(start: number, hours: number, config = settings) {
  const counts = { new: 0, settle: 0, reconcile: 0 };
  let checkpoint = upgrade(undefined, start, config);
  const none = new Map<string, number>();
  const read = (kind: WindowKind, window: Window, now: number) => {
    counts[kind]++;
    const planned = { ...window, nextCursor: 0, plannedAt: iso(now) };
    checkpoint = progressed(checkpoint, kind, planned, undefined, none, config.lateMinutes);
  };
  for (let now = start; now < start + hours * HOUR; now += 5 * MINUTE) {
    const fresh = nextWindow(checkpoint, now, config);
    if (fresh) read('new', fresh, now);
    for (
      let settle = settleWindow(checkpoint, now, config);
      settle;
      settle = settleWindow(checkpoint, now, config)
    )
      read('settle', settle, now);
    const day = reconcileDue(checkpoint, now, config);
    const reconcile = day ? reconcileWindow(checkpoint, day, config) : undefined;
    if (reconcile) read('reconcile', reconcile, now);
    else if (day) checkpoint = { ...checkpoint, reconciledOn: day };
  }
  return { counts, checkpoint };
}

describe('twelve hours of 5-minute runs', () => {
  const start = Date.parse('2025-05-10T18:00:00.000Z');

  it('read each minute once as new time, each hour once more after it settled, and reconcile once a day', () => {
    const { counts, checkpoint } = plan(start, 12);
    expect(counts).toEqual({ new: 144, settle: 11, reconcile: 1 });
    // From 16:00 (two hours before the first run) to 03:00 (the last run, at 05:55, less two hours).
    expect(checkpoint.settledUntil).toBe('2025-05-11T03:00:00.000Z');
  });

  it('re-read nothing with the legacy sliding re-read: the lookback settles as it goes', () => {
    const legacy = readCdrFindingsSettings({ CDR_LOOKBACK_MINUTES: '720', CDR_RECONCILE_DAYS: '0' });
    expect(plan(start, 12, legacy).counts).toEqual({ new: 144, settle: 0, reconcile: 0 });
  });
});
