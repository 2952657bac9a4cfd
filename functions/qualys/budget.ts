import { randomUUID } from 'node:crypto';
import type { BudgetOptions, CallResult, CallTicket } from './budget-options';
import { PARK_MS, pollMs, refusedReason, remove, sleep, spentReason } from './budget-options';
import { BudgetExhaustedError, DeadlineError } from './errors';
import {
  type CallOutcome,
  concurrencyOf,
  current,
  DEFAULT_CONCURRENCY,
  type Decision,
  decide,
  handOver,
  type LedgerState,
  settle,
} from './ledger';
import { type LedgerStore, MemoryLedgerStore } from './ledger-store';
import { readRateLimitHeaders } from './limits';
import { type ClientLogger, silentLogger } from './retry';

export type { BudgetOptions, CallResult, CallTicket } from './budget-options';
export { sleep } from './budget-options';

/** Attempts at one ledger update when other runs keep writing first (S3 412/409). */
const LEDGER_ATTEMPTS = 10;
/** Bound on the decisions one acquire makes (each waits or polls in between). */
const MAX_ACQUIRE_STEPS = 10_000;

type Step<T> = { save?: LedgerState; result: T } | 'reload';

/**
 * Paces the calls of one process through the subscription's call-budget ledger (./ledger.ts),
 * shared by every run of every collector: before each call it takes a call of the window and a
 * concurrency slot in the ledger, and on each answer it records what the gateway announced and
 * frees the slot. So a run knows before its first call whether the window is spent (for it: a
 * collector leaves `reserve` calls of each window to the others) and when it reopens, and then
 * waits (within `maxWaitMs` and the deadline) or stops the run cleanly with a
 * {@link BudgetExhaustedError}. A slot that ends while this process starts another call passes
 * straight to it, and the two are recorded in one write; writes queued together go as one.
 */
export class CallBudget {
  /** Calls this process has sent (successful or not), for run summaries. */
  callsMade = 0;
  /** Longest wait for the gateway's limits before the run stops instead. */
  readonly maxWaitMs: number;
  private readonly reserve: number;
  private readonly ledger: LedgerStore;
  private readonly collector: string;
  private readonly slotTtlMs: number;
  private readonly parkMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: ClientLogger;
  /** The ledger as this process last read or wrote it, with its version. */
  private known?: { state: LedgerState; version?: string };
  /** Ids of this process's calls in flight. */
  private readonly mine = new Set<string>();
  private readonly waiters: Array<() => void> = [];
  /** Slots of calls that just ended, for {@link PARK_MS} (see {@link release}). */
  private readonly parked: Array<{ ticket: CallTicket; outcome: CallOutcome }> = [];
  /** Calls of this process waiting for one of its own slots: a release hands its slot straight over. */
  private readonly handoffs: Array<(ticket: CallTicket) => void> = [];
  /** Ledger updates of this process run one at a time, so they never conflict with each other. */
  private readonly queued: Array<{
    step: (state: LedgerState, fresh: boolean) => Step<unknown>;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }> = [];
  private writing: Promise<void> | undefined;

  constructor(options: BudgetOptions = {}) {
    this.reserve = options.reserve ?? 0;
    this.maxWaitMs = options.maxWaitMs ?? 180_000;
    this.ledger = options.ledger ?? new MemoryLedgerStore();
    this.collector = options.collector ?? 'qualys-lake';
    this.slotTtlMs = options.slotTtlMs ?? 35_000;
    this.parkMs = options.parkMs ?? PARK_MS;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silentLogger;
  }

  /** The announced limits as the ledger last told this process, for run summaries. */
  get rateLimitReport(): Record<string, number | undefined> {
    const now = this.now();
    const gateway = this.known && current(this.known.state, now).gateway;
    if (!gateway) return {};
    const { limit, windowSec, remaining, concurrencyLimit, reopensAt } = gateway;
    const toWaitSec = remaining === 0 ? Math.ceil(Math.max(0, reopensAt - now) / 1000) : 0;
    return { limit, windowSec, remaining, toWaitSec, concurrencyLimit };
  }

  /**
   * Takes a call of the window and a concurrency slot in the ledger, waiting while every slot is in
   * flight. Throws BudgetExhaustedError when the window is spent (or a 409/429 asked to wait) and
   * the wait would pass `deadline` or `maxWaitMs`, DeadlineError once the deadline has passed.
   */
  async acquire(deadline: number, signal?: AbortSignal): Promise<CallTicket> {
    const id = randomUUID();
    for (let step = 0, polls = 0; step < MAX_ACQUIRE_STEPS; step++) {
      if (this.now() >= deadline) throw new DeadlineError('the run deadline has passed');
      const parked = this.parked.shift();
      if (parked) {
        const taken = this.takeOver(parked.ticket, parked.outcome);
        if (taken) return taken;
        this.free(parked.ticket, parked.outcome);
        continue;
      }
      if (this.mine.size >= this.knownConcurrency()) {
        const handed = await this.nextHandoff();
        if (handed) return handed;
        continue;
      }
      const decision = await this.update<
        Exclude<Decision, { kind: 'start' }> | { kind: 'start'; now: number }
      >((state, fresh) => {
        const now = this.now();
        const verdict = decide(state, {
          id,
          collector: this.collector,
          reserve: this.reserve,
          now,
          expiresAt: now + this.slotTtlMs,
        });
        if (verdict.kind === 'start') return { save: verdict.state, result: { kind: 'start', now } };
        // Not calling must rest on what the ledger says now, not on what this process last saw.
        return fresh ? { result: verdict } : 'reload';
      });
      switch (decision.kind) {
        case 'start':
          this.mine.add(id);
          this.callsMade++;
          return { id, startedAt: decision.now };
        case 'spent':
          await this.waitUntil(decision.reopensAt, deadline, signal, (waitMs) =>
            spentReason(decision, this.reserve, waitMs),
          );
          break;
        case 'refused':
          await this.waitUntil(decision.until, deadline, signal, refusedReason);
          break;
        case 'busy':
          // A call of this process ended while this one decided: its parked slot is taken next.
          if (this.parked.length > 0) break;
          // Only this process's own calls hold the slots: the next of them to end wakes it. Else
          // the ledger is polled, since other runs' calls end without telling this process.
          if (this.mine.size > 0 && decision.holders.every((holder) => this.mine.has(holder))) {
            await this.nextRelease();
          } else {
            await this.pause(Math.min(pollMs(polls++, this.random), decision.recheckAt - this.now()), signal);
          }
          break;
      }
    }
    throw new BudgetExhaustedError(0, 'gave up waiting for a call slot');
  }

  /**
   * Frees the call's slot and records what its answer announced. Never throws: if the ledger
   * cannot be written, the slot frees itself when it expires.
   */
  async release(ticket: CallTicket, result: CallResult = {}): Promise<void> {
    const outcome = {
      id: ticket.id,
      startedAt: ticket.startedAt,
      announced: result.headers ? readRateLimitHeaders(result.headers) : undefined,
      refusedForMs: result.refusedForMs,
    };
    const waiting = this.handoffs.length > 0 ? this.takeOver(ticket, outcome) : undefined;
    if (waiting) {
      this.handoffs.shift()?.(waiting);
      return;
    }
    // A refusal is recorded at once, for every run to see; so is a slot the calls of this process
    // waiting for one could not take (the window does not allow it): they decide again now.
    if (outcome.refusedForMs || this.handoffs.length > 0) {
      this.free(ticket, outcome);
      return;
    }
    // Parked a moment: a call this process starts meanwhile (the next page of a read-ahead, started
    // as this one lands or once the page before it is written) takes the slot over, and one write
    // records the end and the start; otherwise it is freed then (or when the run settles).
    const parked = { ticket, outcome };
    this.parked.push(parked);
    setTimeout(() => this.unpark(parked), this.parkMs).unref();
    // A call of this process waiting for one of its own slots to end decides again, and takes this one.
    for (const wake of this.waiters.splice(0)) wake();
  }

  private unpark(parked: { ticket: CallTicket; outcome: CallOutcome }): void {
    const index = this.parked.indexOf(parked);
    if (index < 0) return;
    this.parked.splice(index, 1);
    this.free(parked.ticket, parked.outcome);
  }

  /** Frees the call's slot in the ledger (a queued write) and wakes this process's waiting calls. */
  private free(ticket: CallTicket, outcome: CallOutcome): void {
    // Queued, not awaited: the caller goes on with the answer while the ledger is written, and
    // this process's next start is queued behind it, so it decides from the freed slot. A run
    // awaits settled() before it ends.
    this.update((state) => ({ save: settle(state, outcome, this.now()), result: undefined })).catch(
      (error: unknown) => this.unrecorded(error),
    );
    this.mine.delete(ticket.id);
    // Wake every waiter: each decides again, and one that gives up must not strand the rest.
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Calls that may be in flight at once across the subscription: announced by the gateway, else 2. */
  get concurrencyLimit(): number {
    return this.knownConcurrency();
  }

  private knownConcurrency(): number {
    return this.known ? concurrencyOf(this.known.state) : DEFAULT_CONCURRENCY;
  }

  /**
   * Queues `step` for the next read-modify-write of the ledger and resolves with its result. Steps
   * queued while a write is in flight (a call's release and the next call's start, say) go into
   * one write together, applied in order; see {@link writeBatch}.
   */
  private update<T>(step: (state: LedgerState, fresh: boolean) => Step<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ step, resolve: resolve as (value: unknown) => void, reject });
      // Started on the next turn of the event loop, so a call woken by a release queues its start
      // first and both go into one write.
      if (!this.writing) this.writing = new Promise((ready) => setImmediate(ready)).then(() => this.drain());
    });
  }

  /** Writes the queued steps, batch by batch, until none are left. */
  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0);
        try {
          const results = await this.writeBatch(batch.map((item) => item.step));
          for (const [index, item] of batch.entries()) item.resolve(results[index]);
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /**
   * One read-modify-write of the ledger for `steps`: each decides from the state the ones before
   * it left (`fresh` when just read) and may return the state to save. When another run wrote
   * first, reads again and decides again after a jittered pause; gives up (a stop signal) after
   * {@link LEDGER_ATTEMPTS}.
   */
  private async writeBatch(steps: ReadonlyArray<(state: LedgerState, fresh: boolean) => Step<unknown>>) {
    for (let attempt = 0; attempt < LEDGER_ATTEMPTS; attempt++) {
      const fresh = this.known === undefined;
      const known = this.known ?? (await this.load());
      this.known = known;
      let state = known.state;
      let changed = false;
      let reload = false;
      const results: unknown[] = [];
      for (const step of steps) {
        const next = step(state, fresh);
        if (next === 'reload') {
          reload = true;
          break;
        }
        if (next.save) {
          state = next.save;
          changed = true;
        }
        results.push(next.result);
      }
      if (reload) {
        this.known = undefined;
        continue;
      }
      if (!changed) return results;
      const saved = await this.ledger.save(state, known.version);
      if (saved.ok) {
        this.known = saved.version === undefined ? undefined : { state, version: saved.version };
        return results;
      }
      this.known = undefined;
      await this.sleep(Math.round(5 + this.random() * Math.min(500, 20 * 2 ** attempt)));
    }
    throw new BudgetExhaustedError(
      0,
      `the call-budget ledger changed before each of ${LEDGER_ATTEMPTS} attempts to update it ` +
        '(other runs were updating it too); the next run carries on',
    );
  }

  /** A ledger write of a call's end failed: the slot frees itself when it expires. */
  private unrecorded(error: unknown): void {
    this.known = undefined;
    this.logger.warn('Could not record a Qualys call in the call-budget ledger; its slot frees itself', {
      error: (error as Error).message,
      expiresInMs: this.slotTtlMs,
    });
  }

  /** Frees the slots still parked; resolves once every ledger write queued so far is made (a run awaits it). */
  async settled(): Promise<void> {
    for (const parked of [...this.parked]) this.unpark(parked);
    while (this.writing) await this.writing;
  }

  private async load(): Promise<{ state: LedgerState; version?: string }> {
    const loaded = await this.ledger.load();
    if (loaded.problem) {
      this.logger.warn('The call-budget ledger could not be read; starting it afresh', {
        problem: loaded.problem,
      });
    }
    return { state: loaded.state, version: loaded.version };
  }

  /** Waits until `until` when that fits the bound and the deadline, else stops the run cleanly. */
  private async waitUntil(
    until: number,
    deadline: number,
    signal: AbortSignal | undefined,
    describe: (waitMs: number) => string,
  ): Promise<void> {
    const waitMs = Math.max(0, until - this.now());
    if (waitMs > this.maxWaitMs || this.now() + waitMs >= deadline) {
      throw new BudgetExhaustedError(waitMs, describe(waitMs));
    }
    this.logger.info('Waiting for the Qualys limits', { reason: describe(waitMs), waitMs });
    await this.sleep(waitMs, signal);
  }

  /** Pauses `ms`, or less when a call of this process ends first. */
  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    const done = new AbortController();
    const timer = this.sleep(
      Math.max(0, ms),
      signal ? AbortSignal.any([signal, done.signal]) : done.signal,
    ).catch(() => undefined);
    await (this.mine.size > 0 ? Promise.race([timer, this.nextRelease()]) : timer);
    done.abort();
    if (signal?.aborted) throw new DeadlineError('the run deadline cut off the wait for a Qualys call slot');
  }

  /** Resolves with a slot handed over by a release, or undefined when woken to decide again. */
  private nextHandoff(): Promise<CallTicket | undefined> {
    return new Promise((resolve) => {
      // Each way out removes the other, so only calls still waiting can be handed a slot.
      const handoff = (ticket: CallTicket) => {
        remove(this.waiters, wake);
        resolve(ticket);
      };
      const wake = () => {
        remove(this.handoffs, handoff);
        resolve(undefined);
      };
      this.handoffs.push(handoff);
      this.waiters.push(wake);
    });
  }

  /**
   * Passes the slot of a call that ended straight to another call of this process, when what this
   * process knows of the ledger lets a call start: from the ledger's side the slot was never free,
   * so no other run can have taken it, and the next call goes out without waiting for a ledger
   * write. One write, queued, records both the end and the start. Undefined when the window does
   * not allow a call (then the slot is freed as usual).
   */
  private takeOver(ticket: CallTicket, outcome: CallOutcome): CallTicket | undefined {
    const known = this.known;
    if (!known) return undefined;
    const now = this.now();
    const id = randomUUID();
    const claim = {
      id,
      collector: this.collector,
      reserve: this.reserve,
      now,
      expiresAt: now + this.slotTtlMs,
    };
    if (decide(settle(known.state, outcome, now), claim).kind !== 'start') return undefined;
    this.mine.delete(ticket.id);
    this.mine.add(id);
    this.callsMade++;
    this.update((state) => ({ save: handOver(state, outcome, claim, this.now()), result: undefined })).catch(
      (error: unknown) => this.unrecorded(error),
    );
    return { id, startedAt: now };
  }

  private nextRelease(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
