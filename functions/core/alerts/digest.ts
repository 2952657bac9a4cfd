import type { AlertMessage } from '../ports';
import { clip, subjectLine } from './text';

/** Above ALERT_MAX_PER_RUN alerts in one run, digests replace the individual messages. */

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
    const lines = chunk.map((candidate) => `- ${clip(candidate.line, DIGEST_LINE_LIMIT)}`);
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
        ...chunk.map((candidate) => clip(candidate.key, DIGEST_LINE_LIMIT)),
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
