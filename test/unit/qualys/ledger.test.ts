import { describe, expect, it } from 'vitest';
import {
  type Claim,
  current,
  decide,
  emptyLedger,
  type InFlightCall,
  type LedgerState,
  settle,
} from '../../../functions/qualys/ledger';
import { decodeLedger, encodeLedger, MemoryLedgerStore } from '../../../functions/qualys/ledger-store';
import { announcedLedger } from '../../support/memory-ledger';

const T0 = Date.parse('2025-05-10T00:00:00.000Z');
const SECOND = 1_000;

const claim = (overrides: Partial<Claim> = {}): Claim => ({
  id: 'new-call',
  collector: 'cdr-findings',
  reserve: 0,
  now: T0,
  expiresAt: T0 + 35 * SECOND,
  ...overrides,
});

const inFlight = (id: string, expiresAt = T0 + 30 * SECOND): InFlightCall => ({
  id,
  collector: 'sdr-inventory',
  startedAt: T0 - SECOND,
  expiresAt,
});

const announced = (values: Parameters<typeof announcedLedger>[0], at = T0) => announcedLedger(values, at);

describe('decide', () => {
  it('starts a call on an empty ledger and holds it in flight with its collector and expiry', () => {
    const decision = decide(emptyLedger(), claim());
    expect(decision).toEqual({
      kind: 'start',
      state: {
        inFlight: [{ id: 'new-call', collector: 'cdr-findings', startedAt: T0, expiresAt: T0 + 35 * SECOND }],
      },
    });
  });

  it('allows 2 calls in flight before any announcement, and the announced concurrency after', () => {
    const two: LedgerState = { inFlight: [inFlight('a', T0 + 5 * SECOND), inFlight('b')] };
    expect(decide(two, claim())).toEqual({ kind: 'busy', holders: ['a', 'b'], recheckAt: T0 + 5 * SECOND });

    const three = {
      ...announced({ limit: 300, remaining: 100, concurrencyLimit: 3 }),
      inFlight: two.inFlight,
    };
    expect(decide(three, claim()).kind).toBe('start');
    const full = { ...three, inFlight: [...two.inFlight, inFlight('c')] };
    expect(decide(full, claim()).kind).toBe('busy');
  });

  it('gives a collector with reserve R no call once R or fewer remain, saying when the window reopens', () => {
    const state = announced({ limit: 300, windowSec: 3600, remaining: 40 });
    expect(decide(state, claim({ reserve: 40, now: T0 + SECOND }))).toEqual({
      kind: 'spent',
      remaining: 40,
      limit: 300,
      reopensAt: T0 + 3600 * SECOND,
    });
    expect(decide(state, claim({ reserve: 39, now: T0 + SECOND })).kind).toBe('start');
    expect(decide(announced({ limit: 300, remaining: 0 }), claim({ reserve: 0 })).kind).toBe('spent');
  });

  it('counts calls in flight against what remains above the reserve', () => {
    const state = {
      ...announced({ limit: 300, remaining: 5, concurrencyLimit: 5 }),
      inFlight: [inFlight('a')],
    };
    expect(decide(state, claim({ reserve: 3 })).kind).toBe('start');
    const two = { ...state, inFlight: [inFlight('a'), inFlight('b')] };
    expect(decide(two, claim({ reserve: 3 })).kind).toBe('busy');
  });

  it('waits while a refusal holds, and forgets it once it has passed', () => {
    const state: LedgerState = { inFlight: [], refusedUntil: T0 + 20 * SECOND };
    expect(decide(state, claim())).toEqual({ kind: 'refused', until: T0 + 20 * SECOND });
    expect(decide(state, claim({ now: T0 + 20 * SECOND })).kind).toBe('start');
  });

  it('frees the slots of calls past their expiry (a crashed run)', () => {
    const state: LedgerState = { inFlight: [inFlight('a', T0), inFlight('b', T0 - 1)] };
    const decision = decide(state, claim());
    expect(decision.kind).toBe('start');
    expect(decision.kind === 'start' && decision.state.inFlight.map((call) => call.id)).toEqual(['new-call']);
  });

  it('forgets what remained once the window has reopened', () => {
    const spent = announced({ limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 90 });
    expect(decide(spent, claim({ now: T0 + 89 * SECOND })).kind).toBe('spent');
    expect(decide(spent, claim({ now: T0 + 90 * SECOND })).kind).toBe('start');
    expect(current(spent, T0 + 90 * SECOND).gateway).toEqual({
      limit: 300,
      windowSec: 3600,
      observedAt: T0,
      reopensAt: T0 + 90 * SECOND,
    });
  });
});

describe('settle', () => {
  const running: LedgerState = { inFlight: [inFlight('a'), inFlight('b')] };

  it("frees the call's slot, keeps the others, and records what the answer announced", () => {
    const state = settle(
      running,
      {
        id: 'a',
        startedAt: T0,
        announced: { limit: 300, windowSec: 3600, remaining: 212, toWaitSec: 0, concurrencyLimit: 2 },
      },
      T0 + SECOND,
    );
    expect(state).toEqual({
      gateway: {
        limit: 300,
        windowSec: 3600,
        remaining: 212,
        concurrencyLimit: 2,
        observedAt: T0 + SECOND,
        reopensAt: T0 + SECOND + 3600 * SECOND,
      },
      inFlight: [inFlight('b')],
    });
  });

  it('takes the reopening from X-RateLimit-ToWait-Sec once the window is spent', () => {
    const state = settle(
      running,
      { id: 'a', startedAt: T0, announced: { limit: 300, windowSec: 3600, remaining: 0, toWaitSec: 75 } },
      T0,
    );
    expect(state.gateway).toMatchObject({ remaining: 0, reopensAt: T0 + 75 * SECOND });
  });

  it('never raises what remains on older news, but does on an answer sent after the last one', () => {
    const observed = settle(
      running,
      { id: 'b', startedAt: T0 + SECOND, announced: { limit: 300, remaining: 10 } },
      T0 + 2 * SECOND,
    );
    // Call a was sent before that observation; its answer (11 left) is older news.
    const older = settle(
      observed,
      { id: 'a', startedAt: T0, announced: { limit: 300, remaining: 11 } },
      T0 + 3 * SECOND,
    );
    expect(older.gateway?.remaining).toBe(10);
    // A call sent after it finds the window reopened: that is news.
    const newer = settle(
      { ...observed, inFlight: [inFlight('c')] },
      { id: 'c', startedAt: T0 + 3 * SECOND, announced: { limit: 300, remaining: 299 } },
      T0 + 4 * SECOND,
    );
    expect(newer.gateway?.remaining).toBe(299);
    // Lower counts are always taken.
    const lower = settle(observed, { id: 'a', startedAt: T0, announced: { remaining: 7 } }, T0 + 3 * SECOND);
    expect(lower.gateway).toMatchObject({ remaining: 7, limit: 300 });
  });

  it('counts a call that got no usable answer as spent', () => {
    const known = announced({ limit: 300, remaining: 10 });
    const state = settle({ ...known, inFlight: [inFlight('a')] }, { id: 'a', startedAt: T0 }, T0 + SECOND);
    expect(state.gateway?.remaining).toBe(9);
    expect(state.inFlight).toEqual([]);
    expect(settle({ inFlight: [inFlight('a')] }, { id: 'a', startedAt: T0 }, T0)).toEqual({ inFlight: [] });
  });

  it('holds every run back after a 409/429 for as long as the refusal asked', () => {
    const state = settle(running, { id: 'a', startedAt: T0, refusedForMs: 1_250 }, T0 + SECOND);
    expect(state.refusedUntil).toBe(T0 + 2_250);
    const longer = settle(
      { ...state, refusedUntil: T0 + 60 * SECOND },
      { id: 'b', startedAt: T0, refusedForMs: 1 },
      T0 + SECOND,
    );
    expect(longer.refusedUntil).toBe(T0 + 60 * SECOND);
  });
});

describe('the stored ledger', () => {
  const state: LedgerState = {
    gateway: {
      limit: 300,
      windowSec: 3600,
      remaining: 12,
      concurrencyLimit: 2,
      observedAt: T0,
      reopensAt: T0 + 3600 * SECOND,
    },
    refusedUntil: T0 + 5 * SECOND,
    inFlight: [inFlight('a')],
  };

  it('is JSON with ISO-8601 times, and reads back as it was written', () => {
    const text = encodeLedger(state);
    expect(JSON.parse(text)).toEqual({
      format: 1,
      gateway: {
        limit: 300,
        windowSec: 3600,
        remaining: 12,
        concurrencyLimit: 2,
        observedAt: '2025-05-10T00:00:00.000Z',
        reopensAt: '2025-05-10T01:00:00.000Z',
      },
      refusedUntil: '2025-05-10T00:00:05.000Z',
      inFlight: [
        {
          id: 'a',
          collector: 'sdr-inventory',
          startedAt: '2025-05-09T23:59:59.000Z',
          expiresAt: '2025-05-10T00:00:30.000Z',
        },
      ],
    });
    expect(decodeLedger(text)).toEqual({ state });
    expect(decodeLedger(encodeLedger(emptyLedger()))).toEqual({ state: emptyLedger() });
  });

  it.each([
    ['not JSON', '{"format":1,"inFl', /not JSON/],
    [
      'a time that is not one',
      encodeLedger(state).replace('2025-05-10T01:00:00.000Z', 'soon'),
      /gateway\.reopensAt/,
    ],
    ['another format', JSON.stringify({ format: 2, inFlight: [] }), /format/],
  ])('is replaced by an empty one, with the reason, when it is %s', (_name, text, reason) => {
    const decoded = decodeLedger(text);
    expect(decoded.state).toEqual(emptyLedger());
    expect(decoded.problem).toMatch(reason);
  });

  it('in memory, saves only over the version it was read at', async () => {
    const store = new MemoryLedgerStore();
    const first = await store.load();
    expect(first.version).toBeUndefined();
    const created = await store.save(state, undefined);
    expect(created.ok).toBe(true);
    expect(await store.save(emptyLedger(), undefined)).toEqual({ ok: false });
    expect(await store.save(emptyLedger(), 'stale')).toEqual({ ok: false });
    expect(await store.load()).toEqual({ state, version: created.ok ? created.version : '' });
  });
});
