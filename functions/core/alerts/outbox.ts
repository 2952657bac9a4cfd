import { type AlertMessage, AlertPublishError, type AlertSink, type ObjectStore } from '../ports';
import { readJson, writeJson } from '../records';
import { type AlertCandidate, DIGEST_CHUNK, type DigestFormat, digests } from './digest';

/**
 * Alert delivery shared by every collector. New alerts go to an outbox object in S3 in the same
 * step that marks their records as seen, and the outbox is published and cleared at the end of
 * the run. A run that fails or stops early keeps its outbox, and the next run sends it, so an
 * alert is never lost; it is sent twice only if the process dies between SNS accepting the batch
 * and the outbox being cleared. Above `maxPerRun` alerts in one run, digests of up to
 * DIGEST_CHUNK alerts each replace the individual messages.
 */
interface Outbox {
  candidates: AlertCandidate[];
}

/** Messages published between two saves of the outbox: one SNS PublishBatch. */
const FLUSH_GROUP = 10;

export class AlertOutbox {
  private candidates: AlertCandidate[] = [];
  private loaded = false;
  private readonly withheld = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    private readonly maxPerRun: number,
  ) {}

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.candidates = (await readJson<Outbox>(this.store, this.key))?.candidates ?? [];
    this.loaded = true;
  }

  get size(): number {
    return this.candidates.length;
  }

  /** Queues candidates (ignoring keys already queued) and saves the outbox. */
  async add(candidates: readonly AlertCandidate[]): Promise<void> {
    await this.load();
    if (candidates.length === 0) return;
    const queued = new Set(this.candidates.map((candidate) => candidate.key));
    for (const candidate of candidates) {
      if (queued.has(candidate.key)) continue;
      queued.add(candidate.key);
      const keepMessage = this.candidates.length < this.maxPerRun;
      this.candidates.push(keepMessage ? candidate : { ...candidate, message: undefined });
    }
    await writeJson(this.store, this.key, { candidates: this.candidates } satisfies Outbox);
  }

  /**
   * Keeps `keys` queued but out of this run's flush: their records could not be marked seen, so
   * the retried page finds them new again and queues them once more (same keys, so once). Sending
   * them now would send them twice.
   */
  withhold(keys: Iterable<string>): void {
    for (const key of keys) this.withheld.add(key);
  }

  /**
   * Publishes what is queued (individually, or as digests above the limit) and clears it. Messages
   * go out ten at a time and the outbox is saved after each group, so a failure part-way leaves
   * only the unsent alerts queued.
   */
  async flush(
    sink: AlertSink,
    format: DigestFormat,
  ): Promise<{ alerts: number; digests: number; keys: string[] }> {
    await this.load();
    const ready = this.candidates.filter((candidate) => !this.withheld.has(candidate.key));
    if (ready.length === 0) return { alerts: 0, digests: 0, keys: [] };
    const keys = ready.map((candidate) => candidate.key);
    const individual = ready.length <= this.maxPerRun && ready.every((c) => c.message);
    // Each message and the candidates it covers: one each, or up to DIGEST_CHUNK per digest.
    const groups = individual
      ? ready.map((candidate) => ({
          message: candidate.message as AlertMessage,
          covers: [candidate],
        }))
      : digests(ready, format).map((message, part) => ({
          message,
          covers: ready.slice(part * DIGEST_CHUNK, (part + 1) * DIGEST_CHUNK),
        }));
    let sent = 0;
    const forget = async (delivered: typeof groups) => {
      const published = new Set(delivered.flatMap((item) => item.covers.map((candidate) => candidate.key)));
      this.candidates = this.candidates.filter((candidate) => !published.has(candidate.key));
      await writeJson(this.store, this.key, { candidates: this.candidates } satisfies Outbox);
    };
    for (let start = 0; start < groups.length; start += FLUSH_GROUP) {
      const group = groups.slice(start, start + FLUSH_GROUP);
      try {
        await sink.publish(group.map((item) => item.message));
      } catch (error) {
        // Keep only what SNS did not take, so a retry never sends an alert twice.
        if (error instanceof AlertPublishError)
          await forget(group.filter((_, index) => error.accepted.has(index)));
        throw error;
      }
      sent += group.length;
      await forget(group);
    }
    return { alerts: individual ? sent : 0, digests: individual ? 0 : sent, keys };
  }
}
