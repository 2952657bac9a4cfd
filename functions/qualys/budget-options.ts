import type { HttpHeaders } from './http';
import type { Decision } from './ledger';
import type { LedgerStore } from './ledger-store';
import type { ClientLogger } from './retry';

/**
 * How long the slot of a call that ended waits for this process's next call before it is freed:
 * a page of a first run is written in about 50 ms, after which its reader starts the next call.
 * Holding a slot with no call in it only ever leaves the gateway less busy than the ledger says.
 */
export const PARK_MS = 250;

/** How a {@link import('./budget').CallBudget} is set up. */
export interface BudgetOptions {
  /** Calls of each window left for other collectors of the same subscription. @default 0 */
  reserve?: number;
  /**
   * Longest a run waits for the gateway's limits (a spent window to reopen, a 409/429 from another
   * consumer) before it checkpoints and stops. @default 180 s
   */
  maxWaitMs?: number;
  /** The subscription's ledger. @default one kept in this process only */
  ledger?: LedgerStore;
  /** Whose calls these are, as the ledger's in-flight entries name them. @default 'qualys-lake' */
  collector?: string;
  /** How long a slot stays taken if its call is never recorded (the run crashed). @default 35 s */
  slotTtlMs?: number;
  /**
   * How long the slot of a call that ended stays with this process, for its next call to take over
   * in the same ledger write, before it is freed with a write of its own. @default {@link PARK_MS}
   */
  parkMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source, 0..1. */
  random?: () => number;
  logger?: ClientLogger;
}

/** A call the ledger let start; hand it back to {@link CallBudget.release}. */
export interface CallTicket {
  readonly id: string;
  readonly startedAt: number;
}

/** How a call ended: the answer's headers (none when no answer came), and a refusal's wait. */
export interface CallResult {
  headers?: HttpHeaders;
  /** The gateway refused the call (409/429): nobody calls for this long. */
  refusedForMs?: number;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Why a run waits or stops: the window is spent. */
export function spentReason(
  decision: Extract<Decision, { kind: 'spent' }>,
  reserve: number,
  waitMs: number,
): string {
  return [
    `call budget spent: ${decision.remaining} of ${decision.limit ?? '?'} calls left in the window`,
    reserve > 0 ? ` (${reserve} reserved for other collectors)` : '',
    `; the window reopens in ${Math.ceil(waitMs / 1000)} s`,
  ].join('');
}

/** Why a run waits or stops: the gateway refused calls. */
export const refusedReason = (waitMs: number): string =>
  `the Qualys gateway refused calls (409/429) for ${Math.ceil(waitMs / 1000)} s more: ` +
  'another consumer of the subscription is using its limits';

/** Polling interval while other runs hold the slots: 100 ms growing to 1 s, jittered. */
export const pollMs = (polls: number, random: () => number): number =>
  Math.round(Math.min(1_000, 100 * 1.5 ** polls) * (0.5 + random() / 2));

export function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}
