import { type AlertMessage, AlertPublishError, type AlertSink, type ObjectStore } from './ports';
import { readJson, writeJson } from './records';

/**
 * Alert delivery shared by every collector. New alerts go to an outbox object in S3 in the same
 * step that marks their records as seen, and the outbox is published and cleared at the end of
 * the run. A run that fails or stops early keeps its outbox, and the next run sends it, so an
 * alert is never lost; it is sent twice only if the process dies between SNS accepting the batch
 * and the outbox being cleared. Above `maxPerRun` alerts in one run, one digest (per 500 alerts)
 * replaces the individual messages.
 */
export interface AlertCandidate {
  /** Dedupe key (a finding uuid, `<connectorId>:<cid>:<resourceId>`). */
  key: string;
  /** Higher is more severe; the digest reports the most severe. */
  rank: number;
  /** One line for the digest. */
  line: string;
  /** Message attributes without alertKey (the publisher adds it to individual messages). */
  attributes: Record<string, string>;
  /** The individual message; kept only for the first `maxPerRun` candidates of a run. */
  message?: AlertMessage;
}

interface Outbox {
  candidates: AlertCandidate[];
}

export interface DigestFormat {
  source: string;
  /** What one alert is called in the digest ("CDR findings", "failed controls"). */
  noun: string;
  /** Attribute that carries the severity, e.g. `severity` or `criticality`. */
  severityAttribute: string;
}

/** Alerts per digest: with lines and keys clipped below, a digest stays far under SNS's 256 KiB. */
export const DIGEST_CHUNK = 200;
const DIGEST_LINE_LIMIT = 300;
const clip = (text: string) =>
  text.length > DIGEST_LINE_LIMIT ? `${text.slice(0, DIGEST_LINE_LIMIT - 1)}…` : text;
/** Messages published between two saves of the outbox: one SNS PublishBatch. */
const FLUSH_GROUP = 10;
const SUBJECT_LIMIT = 99;

/** SNS subjects: ASCII printable, no line breaks, under 100 characters. */
export function subjectLine(text: string): string {
  const clean = text
    .replace(/[^\x20-\x7E]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > SUBJECT_LIMIT ? `${clean.slice(0, SUBJECT_LIMIT - 3)}...` : clean;
}

export class AlertOutbox {
  private candidates: AlertCandidate[] = [];
  private loaded = false;

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
   * Publishes what is queued (individually, or as digests above the limit) and clears it. Messages
   * go out ten at a time and the outbox is saved after each group, so a failure part-way leaves
   * only the unsent alerts queued.
   */
  async flush(
    sink: AlertSink,
    format: DigestFormat,
  ): Promise<{ alerts: number; digests: number; keys: string[] }> {
    await this.load();
    if (this.candidates.length === 0) return { alerts: 0, digests: 0, keys: [] };
    const keys = this.candidates.map((candidate) => candidate.key);
    const individual = this.candidates.length <= this.maxPerRun && this.candidates.every((c) => c.message);
    // Each message and the candidates it covers: one each, or up to DIGEST_CHUNK per digest.
    const groups = individual
      ? this.candidates.map((candidate) => ({
          message: candidate.message as AlertMessage,
          covers: [candidate],
        }))
      : digests(this.candidates, format).map((message, part) => ({
          message,
          covers: this.candidates.slice(part * DIGEST_CHUNK, (part + 1) * DIGEST_CHUNK),
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

/** One value when every candidate agrees, else MULTIPLE. */
function common(candidates: readonly AlertCandidate[], name: string): string {
  const values = new Set(candidates.map((candidate) => candidate.attributes[name] ?? 'UNKNOWN'));
  return values.size === 1 ? ([...values][0] ?? 'UNKNOWN') : 'MULTIPLE';
}

export function digests(candidates: readonly AlertCandidate[], format: DigestFormat): AlertMessage[] {
  const messages: AlertMessage[] = [];
  const parts = Math.ceil(candidates.length / DIGEST_CHUNK);
  for (let part = 0; part < parts; part++) {
    const chunk = candidates.slice(part * DIGEST_CHUNK, (part + 1) * DIGEST_CHUNK);
    const worst = chunk.reduce((a, b) => (b.rank > a.rank ? b : a));
    const attributes: Record<string, string> = {};
    for (const name of Object.keys(worst.attributes)) attributes[name] = common(chunk, name);
    attributes.source = format.source;
    attributes[format.severityAttribute] = worst.attributes[format.severityAttribute] ?? 'UNKNOWN';
    const partLabel = parts > 1 ? ` (part ${part + 1} of ${parts})` : '';
    const title = `${candidates.length} new ${format.noun}${partLabel}, most severe ${attributes[format.severityAttribute]}`;
    const lines = chunk.map((candidate) => `- ${clip(candidate.line)}`);
    messages.push({
      subject: subjectLine(`[qualys-lake] ${title}`),
      email: [
        `qualys-lake found ${candidates.length} new ${format.noun} in one run, more than the per-run limit`,
        `for individual alerts. They are listed below by key; the curated data in S3 / Athena has the detail.`,
        '',
        `Source: ${format.source}`,
        '',
        ...lines,
        '',
        'Keys covered by this digest:',
        ...chunk.map((candidate) => clip(candidate.key)),
        '',
      ].join('\n'),
      chat: {
        version: '1.0',
        source: 'custom',
        content: {
          textType: 'client-markdown',
          title: `:rotating_light: ${title}`,
          description:
            lines.slice(0, 20).join('\n') + (chunk.length > 20 ? `\n…and ${chunk.length - 20} more` : ''),
          keywords: [format.source, 'digest'],
        },
        metadata: {
          summary: title,
          eventType: `${format.source}-digest`,
          additionalContext: { count: String(chunk.length) },
        },
      },
      attributes,
    });
  }
  return messages;
}
