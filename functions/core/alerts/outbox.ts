import { createHash } from 'node:crypto';
import { type AlertMessage, AlertPublishError, type AlertSink, type ObjectStore } from '../ports';
import { readJson, writeJson } from '../records';
import { type AlertCandidate, type DigestFormat, digests } from './digest';
import { fitAlert } from './size';

/**
 * Alert delivery shared by every collector. New alerts go to an outbox object in S3 in the same
 * step that marks their records as seen, and the outbox is published and cleared at the end of
 * the run. A run that fails or stops early keeps its outbox, and the next run sends it, so an
 * alert is never lost; it is sent twice only if the process dies between SNS accepting a round and
 * the outbox being saved. Above `maxPerRun` alerts in one run, digests replace the individual
 * messages. Every message is cut to fit SNS's size limit; one SNS refuses for its content anyway
 * is set aside under `rejectedPrefix` with the reason, and the ones behind it go out.
 */
interface Outbox {
  candidates: AlertCandidate[];
}

/** Where a collector keeps its alert outbox and the alerts SNS refused. */
export interface AlertKeys {
  /** `state/<collector>/alert-outbox.json` */
  outbox: string;
  /** `state/<collector>/alerts-rejected/` */
  rejectedPrefix: string;
}

/** When publishing must end, so the outbox is saved before the invocation is cut off. */
export interface PublishWindow {
  /** Epoch ms by which every publish round must be over (rounds still running then are aborted). */
  publishBy: number;
  /** The invocation's abort signal. */
  signal?: AbortSignal;
  now?: () => number;
}

/** What the outbox has sent so far: individual alerts, digests, messages SNS refused (set aside). */
export interface DeliveryCounts {
  alerts: number;
  digests: number;
  rejected: number;
}

export interface FlushResult extends DeliveryCounts {
  /** Keys of every candidate the outbox held when the flush began. */
  keys: string[];
  /** Set when the publish window closed with alerts still queued. */
  stoppedEarly?: string;
}

/**
 * Messages published between two saves of the outbox: four SNS PublishBatch calls of ten, sent in
 * parallel by the sink.
 */
export const PUBLISH_ROUND = 40;
/** A round starts only with this much of the window left (normally it takes well under a second). */
export const ROUND_MS = 2_000;
/** Node's timers take at most 2^31 - 1 ms; a longer window is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Group {
  message: AlertMessage;
  covers: readonly AlertCandidate[];
}

export class AlertOutbox {
  private candidates: AlertCandidate[] = [];
  private loaded = false;
  /** Keys of {@link candidates}. */
  private readonly queuedKeys = new Set<string>();
  /** Candidates queued in memory and not written yet. */
  private unsaved = false;
  /** Kept up to date round by round, so a flush that fails part-way still reports what it did. */
  readonly delivered: DeliveryCounts = { alerts: 0, digests: 0, rejected: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: AlertKeys,
    private readonly maxPerRun: number,
  ) {}

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.candidates = (await readJson<Outbox>(this.store, this.keys.outbox))?.candidates ?? [];
    for (const candidate of this.candidates) this.queuedKeys.add(candidate.key);
    this.loaded = true;
  }

  private async save(): Promise<void> {
    // Compact: a digest-sized queue is written in one line, not pretty-printed.
    await this.store.put(
      this.keys.outbox,
      `${JSON.stringify({ candidates: this.candidates } satisfies Outbox)}\n`,
      {
        contentType: 'application/json',
      },
    );
    this.unsaved = false;
  }

  get size(): number {
    return this.candidates.length;
  }

  /** Queues candidates (ignoring keys already queued) and saves the outbox. */
  async add(candidates: readonly AlertCandidate[]): Promise<void> {
    await this.queue(candidates);
    await this.saveQueued();
  }

  /**
   * The candidates as {@link queue} would add them, without queuing them: keys not queued yet, and
   * past `maxPerRun` without their individual message (digests replace them). What a page
   * journals before it queues.
   */
  async admit(candidates: readonly AlertCandidate[]): Promise<AlertCandidate[]> {
    await this.load();
    const admitted: AlertCandidate[] = [];
    const inBatch = new Set<string>();
    for (const candidate of candidates) {
      if (this.queuedKeys.has(candidate.key) || inBatch.has(candidate.key)) continue;
      inBatch.add(candidate.key);
      const keepMessage = this.candidates.length + admitted.length < this.maxPerRun;
      admitted.push(keepMessage ? candidate : { ...candidate, message: undefined });
    }
    return admitted;
  }

  /**
   * Queues candidates (ignoring keys already queued) in memory only: their page's journal entry
   * holds them until {@link saveQueued} writes the outbox once, when the run merges its journal.
   */
  async queue(candidates: readonly AlertCandidate[]): Promise<void> {
    for (const candidate of await this.admit(candidates)) {
      this.candidates.push(candidate);
      this.queuedKeys.add(candidate.key);
      this.unsaved = true;
    }
  }

  /** Writes the outbox when something was queued since it was last written. */
  async saveQueued(): Promise<void> {
    if (this.unsaved) await this.save();
  }

  /**
   * Publishes what is queued (individually, or as digests above the limit), round by round: after
   * each round the outbox is saved without what SNS accepted or refused, so a failure or the end
   * of the window leaves exactly the unsent alerts queued. A round starts only while the window
   * has ROUND_MS left, and is aborted when it closes.
   */
  async flush(sink: AlertSink, format: DigestFormat, window: PublishWindow): Promise<FlushResult> {
    await this.load();
    const now = window.now ?? Date.now;
    const ready = [...this.candidates];
    const keys = ready.map((candidate) => candidate.key);
    const individual = ready.length <= this.maxPerRun && ready.every((c) => c.message);
    const groups: Group[] = individual
      ? ready.map((candidate) => ({
          message: candidate.message as AlertMessage,
          covers: [candidate],
        }))
      : digests(ready, format);
    const before = { ...this.delivered };
    let stoppedEarly: string | undefined;
    for (let start = 0; start < groups.length && stoppedEarly === undefined; start += PUBLISH_ROUND) {
      if (window.signal?.aborted || now() + ROUND_MS > window.publishBy) {
        stoppedEarly = `${this.candidates.length} alert(s) stay queued: no time was left to publish them`;
        break;
      }
      stoppedEarly = await this.publishRound(
        sink,
        groups.slice(start, start + PUBLISH_ROUND),
        individual,
        window,
      );
    }
    return {
      alerts: this.delivered.alerts - before.alerts,
      digests: this.delivered.digests - before.digests,
      rejected: this.delivered.rejected - before.rejected,
      keys,
      ...(stoppedEarly && { stoppedEarly }),
    };
  }

  /**
   * Publishes one round, sets aside what SNS refused and saves the outbox without what it accepted
   * or refused. Returns why it stopped when the window closed during the round (the rest stays
   * queued); throws when SNS failed otherwise.
   */
  private async publishRound(
    sink: AlertSink,
    round: readonly Group[],
    individual: boolean,
    window: PublishWindow,
  ): Promise<string | undefined> {
    const now = window.now ?? Date.now;
    const messages = round.map((group) => fitAlert(group.message));
    const closes = AbortSignal.timeout(Math.min(MAX_TIMER_MS, Math.max(0, window.publishBy - now())));
    const signal = window.signal ? AbortSignal.any([window.signal, closes]) : closes;
    let accepted: ReadonlySet<number>;
    let refused: ReadonlyMap<number, string>;
    let failure: AlertPublishError | undefined;
    try {
      refused = (await sink.publish(messages, signal)).refused;
      accepted = new Set(round.keys());
    } catch (error) {
      if (!(error instanceof AlertPublishError)) throw error;
      ({ accepted, refused } = error);
      failure = error;
    }
    this.delivered.rejected += await this.setAside(round, messages, refused, now);
    const sent = round.filter((_, index) => accepted.has(index) && !refused.has(index)).length;
    if (individual) this.delivered.alerts += sent;
    else this.delivered.digests += sent;
    await this.forget(round.filter((_, index) => refused.has(index) || accepted.has(index)));
    if (failure === undefined) return undefined;
    // A round cut off by the end of the window is a stop, not a failure: the rest stays queued.
    if (closes.aborted && !window.signal?.aborted) {
      return `${this.candidates.length} alert(s) stay queued: the publish window closed`;
    }
    throw failure;
  }

  private async forget(groups: readonly Group[]): Promise<void> {
    if (groups.length === 0) return;
    const done = new Set(groups.flatMap((group) => group.covers.map((candidate) => candidate.key)));
    this.candidates = this.candidates.filter((candidate) => !done.has(candidate.key));
    for (const key of done) this.queuedKeys.delete(key);
    await this.save();
  }

  /** Keeps each message SNS refused, with its reason and the keys it covers; returns how many. */
  private async setAside(
    round: readonly Group[],
    messages: readonly AlertMessage[],
    refused: ReadonlyMap<number, string>,
    now: () => number,
  ): Promise<number> {
    for (const [index, reason] of refused) {
      const group = round[index];
      if (!group) continue;
      const keys = group.covers.map((candidate) => candidate.key);
      const digest = createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 16);
      const rejectedAt = new Date(now()).toISOString();
      await writeJson(this.store, `${this.keys.rejectedPrefix}dt=${rejectedAt.slice(0, 10)}/${digest}.json`, {
        reason,
        rejectedAt,
        keys,
        message: messages[index],
      });
    }
    return refused.size;
  }
}
