import * as v from 'valibot';
import { emptyLedger, type LedgerState, withoutUndefined } from './ledger';
import { describeIssues } from './validation';

/**
 * Where the call-budget ledger is kept, as a port: read it with its version, and write it only if
 * nobody wrote since that version (compare-and-swap). functions/aws/s3-ledger.ts implements it on
 * S3 conditional writes; {@link MemoryLedgerStore} keeps it in one process.
 */
export interface LedgerStore {
  /** The ledger and its version; no version when none is stored yet. */
  load(): Promise<LoadedLedger>;
  /**
   * Writes `state` if the stored version is still `expected` (no version: only if none is stored).
   * `conflict` means someone else wrote first: read again and decide again.
   */
  save(state: LedgerState, expected: string | undefined): Promise<SaveResult>;
}

export interface LoadedLedger {
  state: LedgerState;
  version?: string;
  /** The stored ledger could not be read and was replaced by an empty one: why. */
  problem?: string;
}

export type SaveResult = { ok: true; version?: string } | { ok: false };

/** The stored form is JSON with ISO-8601 times, so a person can read and, if need be, fix it. */
const Instant = v.pipe(
  v.string(),
  v.transform((text) => Date.parse(text)),
  v.check((ms) => Number.isFinite(ms), 'must be an ISO-8601 time'),
);
const Count = v.pipe(v.number(), v.finite());

const LedgerDocument = v.looseObject({
  format: v.literal(1),
  gateway: v.optional(
    v.looseObject({
      limit: v.optional(Count),
      windowSec: v.optional(Count),
      remaining: v.optional(Count),
      concurrencyLimit: v.optional(Count),
      observedAt: Instant,
      reopensAt: Instant,
    }),
  ),
  refusedUntil: v.optional(Instant),
  inFlight: v.array(
    v.looseObject({ id: v.string(), collector: v.string(), startedAt: Instant, expiresAt: Instant }),
  ),
});

const iso = (ms: number) => new Date(ms).toISOString();

export function encodeLedger(state: LedgerState): string {
  const { gateway, refusedUntil, inFlight } = state;
  const document = {
    format: 1,
    gateway: gateway && {
      ...gateway,
      observedAt: iso(gateway.observedAt),
      reopensAt: iso(gateway.reopensAt),
    },
    refusedUntil: refusedUntil === undefined ? undefined : iso(refusedUntil),
    inFlight: inFlight.map((call) => ({
      id: call.id,
      collector: call.collector,
      startedAt: iso(call.startedAt),
      expiresAt: iso(call.expiresAt),
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Reads a stored ledger. One that is not valid JSON or not a ledger is replaced by an empty one
 * (with `problem` saying why), so a damaged object never blocks every collector: the next answer
 * from the gateway refills it, and slots it held would have expired anyway.
 */
export function decodeLedger(text: string): { state: LedgerState; problem?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: emptyLedger(), problem: `the ledger is not JSON (${text.length} characters)` };
  }
  const parsed = v.safeParse(LedgerDocument, json);
  if (!parsed.success) {
    return { state: emptyLedger(), problem: `the ledger is not valid: ${describeIssues(parsed.issues)}` };
  }
  const { gateway, refusedUntil, inFlight } = parsed.output;
  const state: LedgerState = {
    inFlight: inFlight.map(({ id, collector, startedAt, expiresAt }) => ({
      id,
      collector,
      startedAt,
      expiresAt,
    })),
  };
  if (gateway) {
    const { limit, windowSec, remaining, concurrencyLimit, observedAt, reopensAt } = gateway;
    state.gateway = withoutUndefined({
      limit,
      windowSec,
      remaining,
      concurrencyLimit,
      observedAt,
      reopensAt,
    });
  }
  if (refusedUntil !== undefined) state.refusedUntil = refusedUntil;
  return { state };
}

/**
 * The ledger of one process: what a client uses when no shared ledger is wired in (unit tests,
 * scripts). Stored in its encoded form, so it behaves exactly like the persisted one.
 */
export class MemoryLedgerStore implements LedgerStore {
  private stored?: { text: string; version: string };
  private writes = 0;

  async load(): Promise<LoadedLedger> {
    if (!this.stored) return { state: emptyLedger() };
    return { ...decodeLedger(this.stored.text), version: this.stored.version };
  }

  async save(state: LedgerState, expected: string | undefined): Promise<SaveResult> {
    if (expected !== this.stored?.version) return { ok: false };
    this.stored = { text: encodeLedger(state), version: `"${++this.writes}"` };
    return { ok: true, version: this.stored.version };
  }
}
