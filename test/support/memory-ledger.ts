import { emptyLedger, type LedgerState, settle } from '../../functions/qualys/ledger';
import { type LoadedLedger, MemoryLedgerStore, type SaveResult } from '../../functions/qualys/ledger-store';
import type { RateLimitSnapshot } from '../../functions/qualys/limits';

/**
 * The call-budget ledger in memory, for unit tests: one instance shared by several CallBudgets is
 * one subscription seen by several runs. Counts reads and writes, and can make the next writes
 * lose to "another run" (a conflict, as S3 answers 412) or fail outright.
 */
export class TestLedgerStore extends MemoryLedgerStore {
  loads = 0;
  saves = 0;
  conflicts = 0;
  private forcedConflicts = 0;
  private forcedFailures = 0;

  /** The next `count` saves lose to another writer. */
  conflictNext(count: number): void {
    this.forcedConflicts += count;
  }

  /** The next `count` saves throw, as an unreachable store would. */
  failNext(count: number): void {
    this.forcedFailures += count;
  }

  override async load(): Promise<LoadedLedger> {
    this.loads++;
    return super.load();
  }

  override async save(state: LedgerState, expected: string | undefined): Promise<SaveResult> {
    if (this.forcedFailures > 0) {
      this.forcedFailures--;
      throw new Error('the ledger store is unreachable');
    }
    if (this.forcedConflicts > 0) {
      this.forcedConflicts--;
      this.conflicts++;
      // Another run writes first: the stored version moves on.
      await super.save((await super.load()).state, (await super.load()).version);
      return { ok: false };
    }
    const result = await super.save(state, expected);
    if (result.ok) this.saves++;
    else this.conflicts++;
    return result;
  }

  /** The ledger as stored, without counting a read. */
  async peek(): Promise<LedgerState> {
    return (await super.load()).state;
  }

  /** Replaces the stored ledger, as another run would. */
  async put(state: LedgerState): Promise<void> {
    await super.save(state, (await super.load()).version);
  }

  /** Stores what the gateway announced at `now`, as if some run had just recorded an answer. */
  async announce(announced: RateLimitSnapshot, now: number): Promise<void> {
    await this.put(announcedLedger(announced, now));
  }
}

/** A ledger holding only what the gateway announced at `now`. */
export const announcedLedger = (announced: RateLimitSnapshot, now: number): LedgerState =>
  settle(emptyLedger(), { id: 'preset', startedAt: now, announced }, now);
