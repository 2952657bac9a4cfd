import type { RateLimitSnapshot } from './limits';

/**
 * The call-budget ledger of one Qualys subscription, as pure state transitions. Every run of every
 * collector reads and updates one ledger (README, "The Qualys call budget"): what the gateway last
 * announced, and which calls are in flight. A run asks {@link decide} before each call and records
 * each answer with {@link settle}; the caller persists the result atomically (./ledger-store.ts).
 * All times are epoch milliseconds.
 */

/** What the gateway last announced (X-RateLimit-*, X-Concurrency-Limit-Limit) and when. */
export interface GatewayLimits {
  limit?: number;
  windowSec?: number;
  /** Calls left in the window when observed; unknown once the window may have reopened. */
  remaining?: number;
  concurrencyLimit?: number;
  observedAt: number;
  /**
   * When the window reopens: the announced X-RateLimit-ToWait-Sec once the window is spent, else
   * the latest it can be (a whole window after the observation). `remaining` lapses then.
   */
  reopensAt: number;
}

/** A call some run has started and not yet recorded. */
export interface InFlightCall {
  id: string;
  /** The collector that started it (its function name). */
  collector: string;
  startedAt: number;
  /** After this the slot frees itself: the run that holds it has crashed or hung. */
  expiresAt: number;
}

export interface LedgerState {
  gateway?: GatewayLimits;
  /** A 409/429 asked everyone to wait until then: no run starts a call before. */
  refusedUntil?: number;
  inFlight: readonly InFlightCall[];
}

/** Concurrent calls assumed until the gateway announces its own (Qualys' documented default). */
export const DEFAULT_CONCURRENCY = 2;
/** The documented default window (300 calls per 3,600 s), assumed when none is announced. */
const DEFAULT_WINDOW_SEC = 3_600;

export const emptyLedger = (): LedgerState => ({ inFlight: [] });

/** A run asking to start one call. */
export interface Claim {
  id: string;
  collector: string;
  /** Calls of the window this collector leaves to the others: it starts none when remaining <= reserve. */
  reserve: number;
  now: number;
  /** When the slot frees itself if the call is never recorded. */
  expiresAt: number;
}

export type Decision =
  /** Start the call: `state` holds it in flight. */
  | { kind: 'start'; state: LedgerState }
  /** A 409/429 asked to wait until `until`. */
  | { kind: 'refused'; until: number }
  /** The window is spent for this collector (remaining <= reserve) until `reopensAt`. */
  | { kind: 'spent'; remaining: number; limit?: number; reopensAt: number }
  /** Every slot (or every call left above the reserve) is in flight, held by `holders` (call ids);
   *  the first of them expires at `recheckAt`. */
  | { kind: 'busy'; holders: string[]; recheckAt: number };

/** The state as of `now`: expired slots, a lapsed refusal and a reopened window's count dropped. */
export function current(state: LedgerState, now: number): LedgerState {
  const gateway =
    state.gateway && state.gateway.remaining !== undefined && now >= state.gateway.reopensAt
      ? { ...state.gateway, remaining: undefined }
      : state.gateway;
  return withoutUndefined({
    gateway,
    refusedUntil:
      state.refusedUntil !== undefined && state.refusedUntil > now ? state.refusedUntil : undefined,
    inFlight: state.inFlight.filter((call) => call.expiresAt > now),
  });
}

/** The concurrency limit in force: announced, else the default. */
export function concurrencyOf(state: LedgerState): number {
  const announced = state.gateway?.concurrencyLimit;
  return announced !== undefined && announced > 0 ? announced : DEFAULT_CONCURRENCY;
}

/** Whether `claim` may start its call now, and if not, what it waits for. */
export function decide(state: LedgerState, claim: Claim): Decision {
  const now = claim.now;
  const live = current(state, now);
  if (live.refusedUntil !== undefined) return { kind: 'refused', until: live.refusedUntil };
  const gateway = live.gateway;
  const remaining = gateway?.remaining;
  if (gateway && remaining !== undefined && remaining <= claim.reserve) {
    return { kind: 'spent', remaining, limit: gateway.limit, reopensAt: gateway.reopensAt };
  }
  const inFlight = live.inFlight.length;
  const full = inFlight >= concurrencyOf(live);
  // Calls in flight will each spend one of what remains: only the rest is free above the reserve.
  const leftAboveReserve =
    remaining === undefined ? Number.POSITIVE_INFINITY : remaining - inFlight - claim.reserve;
  if (full || leftAboveReserve <= 0) {
    return {
      kind: 'busy',
      holders: live.inFlight.map((call) => call.id),
      recheckAt: Math.min(...live.inFlight.map((call) => call.expiresAt)),
    };
  }
  return { kind: 'start', state: startCall(live, claim) };
}

/**
 * A call ended and its slot went straight to the claim's call (CallBudget's hand-over): the end is
 * recorded and the new call is in flight, whatever the limits say now, since it is under way.
 */
export function handOver(state: LedgerState, outcome: CallOutcome, claim: Claim, now: number): LedgerState {
  const ended = settle(state, outcome, now);
  const verdict = decide(ended, { ...claim, now });
  return verdict.kind === 'start' ? verdict.state : startCall(ended, claim);
}

/** The state with the claim's call in flight, whatever the limits say (a call already under way). */
function startCall(state: LedgerState, claim: Claim): LedgerState {
  const call: InFlightCall = {
    id: claim.id,
    collector: claim.collector,
    startedAt: claim.now,
    expiresAt: claim.expiresAt,
  };
  return { ...state, inFlight: [...state.inFlight, call] };
}

/** How one call ended, as the run that made it saw it. */
export interface CallOutcome {
  id: string;
  startedAt: number;
  /** What the response announced; undefined (or empty) when no usable answer arrived. */
  announced?: RateLimitSnapshot;
  /** The gateway refused the call (409/429) and said, or we chose, to wait this long. */
  refusedForMs?: number;
}

/** Records a call's outcome: its slot is freed and what its response announced is kept. */
export function settle(state: LedgerState, outcome: CallOutcome, now: number): LedgerState {
  const live = current(state, now);
  const refusedUntil =
    outcome.refusedForMs !== undefined && outcome.refusedForMs > 0
      ? Math.max(live.refusedUntil ?? 0, now + outcome.refusedForMs)
      : live.refusedUntil;
  return withoutUndefined({
    gateway: observe(live.gateway, outcome, now),
    refusedUntil,
    inFlight: live.inFlight.filter((call) => call.id !== outcome.id),
  });
}

function observe(
  previous: GatewayLimits | undefined,
  outcome: CallOutcome,
  now: number,
): GatewayLimits | undefined {
  const announced = outcome.announced ?? {};
  const limits = withoutUndefined({
    limit: announced.limit ?? previous?.limit,
    windowSec: announced.windowSec ?? previous?.windowSec,
    concurrencyLimit: announced.concurrencyLimit ?? previous?.concurrencyLimit,
  });
  if (announced.remaining === undefined) {
    // No count on the answer (no answer at all, or one without the headers): assume the gateway
    // counted the call anyway, so the ledger never believes more remains than does.
    if (!previous)
      return Object.keys(limits).length === 0 ? undefined : { ...limits, observedAt: now, reopensAt: now };
    const remaining = previous.remaining === undefined ? undefined : Math.max(0, previous.remaining - 1);
    return withoutUndefined({ ...previous, ...limits, remaining });
  }
  // Within a window the count only goes down: the answer to a call sent before the last
  // observation may be older news than it, and must not raise what remains.
  if (
    previous?.remaining !== undefined &&
    outcome.startedAt < previous.observedAt &&
    announced.remaining > previous.remaining
  ) {
    return { ...previous, ...limits };
  }
  const windowMs = (limits.windowSec ?? DEFAULT_WINDOW_SEC) * 1000;
  const toWaitMs = (announced.toWaitSec ?? 0) * 1000;
  const reopensAt = announced.remaining <= 0 && toWaitMs > 0 ? now + toWaitMs : now + windowMs;
  return { ...limits, remaining: Math.max(0, announced.remaining), observedAt: now, reopensAt };
}

/** Drops keys whose value is undefined, so states compare and serialise cleanly. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
