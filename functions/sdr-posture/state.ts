import { CheckpointStore } from '../core/checkpoint';
import type { Run } from '../core/run';
import { sdrPostureKeys } from './keys';
import type { FailureState, OpenFailure, PairRef, Poll, PostureCheckpoint, SdrPostureSummary } from './model';

/** A pair's key in the failure state's `baselines`. */
export const pairKey = (pair: PairRef) => `${String(pair.connectorId)}|${String(pair.policyId)}`;

/** The checkpoint and the open failures, as this run reads and saves them. */
export class PostureState {
  checkpoint: PostureCheckpoint = { version: 1 };
  failures: Record<string, OpenFailure> = {};
  /** Pairs whose baseline is set; undefined when a state written before baselines counts every pair as set. */
  baselines?: Record<string, string> = {};
  /** The poll this run works on (also once it completed and left the checkpoint). */
  poll?: Poll;
  /** A pair's alerts were queued but its failures not saved: the next run queues them again, so none may go out now. */
  holdAlerts = false;
  private readonly checkpoints: CheckpointStore<PostureCheckpoint>;
  private readonly failureStore: CheckpointStore<FailureState>;

  constructor(private readonly run: Run<SdrPostureSummary>) {
    this.checkpoints = new CheckpointStore(run.store, sdrPostureKeys.checkpoint);
    this.failureStore = new CheckpointStore(run.store, sdrPostureKeys.failures);
  }

  async load(): Promise<void> {
    this.checkpoint = (await this.checkpoints.load()) ?? { version: 1 };
    const stored = await this.failureStore.load();
    this.failures = stored?.failures ?? {};
    this.baselines = stored ? stored.baselines : {};
  }

  /** Whether the pair's first complete read already set its baseline. */
  hasBaseline(pair: PairRef): boolean {
    return this.baselines === undefined || pairKey(pair) in this.baselines;
  }

  async saveCheckpoint(): Promise<void> {
    this.checkpoint = { ...this.checkpoint, updatedAt: this.run.isoNow() };
    await this.checkpoints.save(this.checkpoint);
  }

  /** Saves the failures, with `baselineOf` (a pair read whole for the first time) marked as baselined by `pollId`. */
  async saveFailures(
    failures: Record<string, OpenFailure>,
    baselineOf?: { pair: PairRef; pollId: string },
  ): Promise<void> {
    const baselines =
      this.baselines === undefined || baselineOf === undefined
        ? this.baselines
        : { ...this.baselines, [pairKey(baselineOf.pair)]: baselineOf.pollId };
    this.failures = failures;
    this.baselines = baselines;
    await this.failureStore.save({
      version: 1,
      failures,
      ...(baselines === undefined ? {} : { baselines }),
      updatedAt: this.run.isoNow(),
    });
  }
}
