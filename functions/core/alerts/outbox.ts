import { createHash } from 'node:crypto';
import { IdSet } from '../id-set';
import { type AlertMessage, AlertPublishError, type AlertSink, type ObjectStore } from '../ports';
import { readJson, writeJson } from '../records';
import { type AlertCandidate, type DigestFormat, digests, type NewAlertCandidate, settle } from './digest';
import type {
  AlertKeys,
  CandidateSource,
  DeliveryCounts,
  FlushResult,
  Outbox,
  OutboxSpill,
  PublishWindow,
  SegmentRef,
} from './outbox-types';
import { fitAlert } from './size';

export type { AlertKeys, CandidateSource, DeliveryCounts, FlushResult, OutboxSpill, PublishWindow };

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

/**
 * Alert delivery shared by every collector. New alerts go to an outbox object in S3 in the same
 * step that marks their records as seen, and the outbox is published and cleared at the end of
 * the run. A run that fails or stops early keeps its outbox, and the next run sends it, so an
 * alert is never lost; it is sent twice only if the process dies between SNS accepting a round and
 * the outbox being saved. Above `maxPerRun` alerts in one run, digests replace the individual
 * messages. Every message is cut to fit SNS's size limit; one SNS refuses for its content anyway
 * is set aside under `rejectedPrefix` with the reason, and the ones behind it go out.
 */
export class AlertOutbox {
  private candidates: AlertCandidate[] = [];
  private segments: SegmentRef[] = [];
  /** How many of {@link candidates} were loaded (the rest were queued by this run). */
  private loadedCount = 0;
  /** Candidates this run queued, counted even once {@link spilled}. */
  private queuedCount = 0;
  /** This run queued more than fits in memory: its candidates are dropped from memory. */
  private spilled = false;
  private loaded = false;
  /**
   * Keys of the candidates held in memory (16 bytes each), so a key is queued once. Once the queue
   * has {@link spilled}, the keys it queues next are not kept: its journal entries hold them, and
   * the segments written from those entries are deduplicated as they are written (a million
   * findings a day queue about 260,000 alerts, 6 MiB of keys that need not stay in memory).
   */
  private queuedKeys = new IdSet();
  /** Candidates queued in memory and not written yet. */
  private unsaved = false;
  /** Kept up to date round by round, so a flush that fails part-way still reports what it did. */
  readonly delivered: DeliveryCounts = { alerts: 0, digests: 0, rejected: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: AlertKeys,
    private readonly maxPerRun: number,
    private readonly spill?: OutboxSpill,
  ) {}

  /** Told once, as soon as the outbox holds something to publish (see {@link whenHolding}). */
  private holding?: () => void;

  /**
   * Calls `callback` once, as soon as the outbox holds an alert (queued now or left by an earlier
   * run), so the run can get the sink ready while it still waits on other calls (AlertSink.prepare).
   */
  whenHolding(callback: () => void): void {
    this.holding = callback;
  }

  private held(): void {
    const callback = this.holding;
    this.holding = undefined;
    callback?.();
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const outbox = await readJson<Outbox>(this.store, this.keys.outbox);
    this.candidates = outbox?.candidates ?? [];
    this.segments = outbox?.segments ?? [];
    if (this.candidates.length > 0 || this.segments.length > 0) this.held();
    this.queuedKeys = keysOf(this.candidates);
    this.loadedCount = this.candidates.length;
    this.loaded = true;
  }

  private async save(): Promise<void> {
    const outbox: Outbox = { candidates: this.candidates };
    if (this.segments.length > 0) outbox.segments = this.segments;
    // Compact: a digest-sized queue is written in one line, not pretty-printed.
    await this.store.put(this.keys.outbox, `${JSON.stringify(outbox)}\n`, {
      contentType: 'application/json',
    });
    this.unsaved = false;
  }

  /**
   * Alerts queued, in memory and in segments. Past the spill and before the segments are written, a
   * key its journal holds twice (a page retried after its entry was written) counts twice.
   */
  get size(): number {
    return (
      this.candidates.length +
      (this.spilled ? this.queuedCount : 0) +
      this.segments.reduce((sum, segment) => sum + segment.count, 0)
    );
  }

  /** Queues candidates (ignoring keys already queued) and saves the outbox. */
  async add(candidates: readonly NewAlertCandidate[]): Promise<void> {
    await this.queue(candidates);
    await this.saveQueued();
  }

  /**
   * The candidates as {@link queue} would add them, without queuing them: keys not queued yet, and
   * past `maxPerRun` without their individual message (digests replace them). What a page
   * journals before it queues.
   */
  async admit(candidates: readonly NewAlertCandidate[]): Promise<AlertCandidate[]> {
    await this.load();
    const admitted: AlertCandidate[] = [];
    const inBatch = new Set<string>();
    const queued = this.size;
    for (const candidate of candidates) {
      if (this.queuedKeys.has(candidate.key) || inBatch.has(candidate.key)) continue;
      inBatch.add(candidate.key);
      const keepMessage = queued + admitted.length < this.maxPerRun;
      admitted.push(settle(candidate, keepMessage));
    }
    return admitted;
  }

  /**
   * Queues candidates (ignoring keys already queued) in memory only: their page's journal entry
   * holds them until {@link saveQueued} writes the outbox once, when the run merges its journal.
   * With {@link OutboxSpill}, past `maxInMemory` this run's candidates leave memory (their journal
   * entries hold them) and only their count stays.
   */
  async queue(candidates: readonly NewAlertCandidate[]): Promise<void> {
    for (const candidate of await this.admit(candidates)) {
      this.held();
      this.queuedCount++;
      this.unsaved = true;
      if (this.spilled) continue;
      this.queuedKeys.add(candidate.key);
      this.candidates.push(candidate);
    }
    if (this.spill && !this.spilled && this.queuedCount > (this.spill.maxInMemory ?? 5000)) {
      this.spilled = true;
      this.candidates.length = this.loadedCount;
      this.queuedKeys = keysOf(this.candidates);
    }
  }

  /**
   * Writes the outbox when something was queued since it was last written. When this run's queue
   * left memory, `queued` reads it back in order and it is written in segments named after `name`
   * (the same name and candidates give the same objects, so saving again overwrites them).
   */
  async saveQueued(queued?: { name: string; source: CandidateSource }): Promise<void> {
    if (!this.unsaved) return;
    if (this.spilled) {
      if (!this.spill || !queued) throw new Error('the alert outbox spilled but cannot read its queue back');
      await this.writeSegments(this.spill, queued.name, queued.source);
      // Counted in the segments now, once each.
      this.queuedCount = 0;
    }
    await this.save();
  }

  private async writeSegments(spill: OutboxSpill, name: string, source: CandidateSource): Promise<void> {
    const size = spill.segmentSize ?? 2000;
    const named = `${spill.prefix}${name}-`;
    // Saved again (the entries it came from could not be deleted), the same parts are overwritten.
    this.segments = this.segments.filter((segment) => !segment.key.startsWith(named));
    let batch: AlertCandidate[] = [];
    let sequence = 0;
    const flushBatch = async () => {
      const key = `${named}${String(sequence++).padStart(6, '0')}.json`;
      await this.store.put(key, `${JSON.stringify({ candidates: batch })}\n`, {
        contentType: 'application/json',
      });
      this.segments.push({ key, count: batch.length });
      batch = [];
    };
    // Every key once: the journal may hold a key twice (a page retried after its entry was written).
    const inOutbox = keysOf(this.candidates);
    for await (const candidates of source()) {
      for (const candidate of candidates) {
        if (!inOutbox.add(candidate.key)) continue;
        batch.push(candidate);
        if (batch.length >= size) await flushBatch();
      }
    }
    if (batch.length > 0) await flushBatch();
  }

  /**
   * Publishes what is queued (individually, or as digests above the limit), round by round: after
   * each round the outbox is saved without what SNS accepted or refused, so a failure or the end
   * of the window leaves exactly the unsent alerts queued. A round starts only while the window
   * has ROUND_MS left, and is aborted when it closes. Segments are read and published one at a
   * time, each saved (or deleted once empty) after each of its rounds.
   */
  async flush(sink: AlertSink, format: DigestFormat, window: PublishWindow): Promise<FlushResult> {
    await this.load();
    const before = { ...this.delivered };
    const individual =
      this.segments.length === 0 &&
      this.candidates.length <= this.maxPerRun &&
      this.candidates.every((candidate) => candidate.message);
    const publish = { sink, format, window, individual };
    let stoppedEarly = await this.publishPart(publish, [...this.candidates], (done) => this.forget(done));
    for (const segment of [...this.segments]) {
      if (stoppedEarly !== undefined) break;
      const stored = await readJson<{ candidates: AlertCandidate[] }>(this.store, segment.key);
      let left = stored?.candidates ?? [];
      stoppedEarly = await this.publishPart(publish, left, async (done) => {
        left = left.filter((candidate) => !done.has(candidate.key));
        await this.saveSegment(segment, left);
      });
    }
    return {
      alerts: this.delivered.alerts - before.alerts,
      digests: this.delivered.digests - before.digests,
      rejected: this.delivered.rejected - before.rejected,
      ...(stoppedEarly && { stoppedEarly }),
    };
  }

  /** Publishes one part of the queue round by round; `forget` removes what a round settled. */
  private async publishPart(
    publish: {
      sink: AlertSink;
      format: DigestFormat;
      window: PublishWindow;
      individual: boolean;
    },
    ready: readonly AlertCandidate[],
    forget: (done: ReadonlySet<string>) => Promise<void>,
  ): Promise<string | undefined> {
    const { sink, format, window, individual } = publish;
    const now = window.now ?? Date.now;
    const groups: Group[] = individual
      ? ready.map((candidate) => ({ message: candidate.message as AlertMessage, covers: [candidate] }))
      : digests(ready, format);
    for (let start = 0; start < groups.length; start += PUBLISH_ROUND) {
      if (window.signal?.aborted || now() + ROUND_MS > window.publishBy) {
        return `${this.size} alert(s) stay queued: no time was left to publish them`;
      }
      const stopped = await this.publishRound(
        sink,
        groups.slice(start, start + PUBLISH_ROUND),
        individual,
        window,
        forget,
      );
      if (stopped !== undefined) return stopped;
    }
    return undefined;
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
    forget: (done: ReadonlySet<string>) => Promise<void>,
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
    const settled = round.filter((_, index) => refused.has(index) || accepted.has(index));
    if (settled.length > 0) {
      await forget(new Set(settled.flatMap((group) => group.covers.map((candidate) => candidate.key))));
    }
    if (failure === undefined) return undefined;
    // A round cut off by the end of the window is a stop, not a failure: the rest stays queued.
    if (closes.aborted && !window.signal?.aborted) {
      return `${this.size} alert(s) stay queued: the publish window closed`;
    }
    throw failure;
  }

  private async forget(done: ReadonlySet<string>): Promise<void> {
    this.candidates = this.candidates.filter((candidate) => !done.has(candidate.key));
    await this.save();
  }

  /** Rewrites a segment with what is left of it, or deletes it once empty; then saves the outbox. */
  private async saveSegment(segment: SegmentRef, left: readonly AlertCandidate[]): Promise<void> {
    if (left.length === 0) {
      await this.store.delete([segment.key]);
      this.segments = this.segments.filter((other) => other.key !== segment.key);
    } else {
      await this.store.put(segment.key, `${JSON.stringify({ candidates: left })}\n`, {
        contentType: 'application/json',
      });
      segment.count = left.length;
    }
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

function keysOf(candidates: readonly AlertCandidate[]): IdSet {
  const keys = new IdSet(candidates.length);
  for (const candidate of candidates) keys.add(candidate.key);
  return keys;
}
