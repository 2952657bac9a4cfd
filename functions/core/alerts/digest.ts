import type { AlertMessage } from '../ports';
import { levelIcon, RANK_ATTRIBUTE, UNKNOWN_RANK } from './levels';
import { chatText } from './markdown';
import { ALERT_MAX_BYTES, groupBySize } from './size';
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

/**
 * A candidate as a collector makes it: its message may be a function, called only for the
 * candidates that keep one (the first `maxPerRun`), so an alert storm does not build messages
 * that digests replace.
 */
export type NewAlertCandidate = Omit<AlertCandidate, 'message'> & {
  message?: AlertMessage | (() => AlertMessage);
};

/** The candidate with its message built (`keep`) or left out. */
export function settle(candidate: NewAlertCandidate, keep = true): AlertCandidate {
  const { message, ...rest } = candidate;
  if (!keep || message === undefined) return rest;
  return { ...rest, message: typeof message === 'function' ? message() : message };
}

export interface DigestFormat {
  source: string;
  /** What one alert is called in the digest ("CDR findings", "failed controls"). */
  noun: string;
  /** Attribute that carries the severity, e.g. `severity` or `criticality`. */
  severityAttribute: string;
  /**
   * Lowest level whose chat title gets 🚨 (see levelIcon).
   * @default 3 (HIGH)
   */
  urgentFrom?: number;
}

/** One digest message and the candidates it covers. */
export interface Digest {
  message: AlertMessage;
  covers: readonly AlertCandidate[];
}

/** Alerts per digest at most; fewer when their lines are long (see DIGEST_LIST_BYTES). */
export const DIGEST_CHUNK = 200;
const DIGEST_LINE_LIMIT = 300;
/** Lines of a digest shown in chat; the email lists them all. */
const CHAT_LINES = 20;
/**
 * Bytes the listed lines and keys of one digest may take: the rest of the SNS message limit holds
 * the header, the chat body (at most CHAT_LINES lines) and the attributes, so a digest is never cut.
 */
const DIGEST_LIST_BYTES = ALERT_MAX_BYTES - 64 * 1024;

const listLine = (candidate: AlertCandidate) => `- ${clip(candidate.line, DIGEST_LINE_LIMIT)}`;
const listKey = (candidate: AlertCandidate) => clip(candidate.key, DIGEST_LINE_LIMIT);
/** Bytes a text adds to the email body once JSON-escaped, with its line break. */
const bodyBytes = (text: string) => Buffer.byteLength(JSON.stringify(`${text}\n`)) - 2;

/** Candidates in digest-sized chunks: at most DIGEST_CHUNK each and DIGEST_LIST_BYTES of lines. */
export const digestChunks = (candidates: readonly AlertCandidate[]): AlertCandidate[][] =>
  groupBySize(
    candidates,
    DIGEST_CHUNK,
    DIGEST_LIST_BYTES,
    (candidate) => bodyBytes(listLine(candidate)) + bodyBytes(listKey(candidate)),
  );

/** The highest `rank` attribute of the chunk: a subscriber's minimum lets the digest through if any alert in it would. */
function highestRank(candidates: readonly AlertCandidate[]): string {
  const ranks = candidates.map((candidate) => Number(candidate.attributes[RANK_ATTRIBUTE] ?? UNKNOWN_RANK));
  return String(Math.max(...ranks.map((rank) => (Number.isFinite(rank) ? rank : UNKNOWN_RANK))));
}

/** One value when every candidate agrees, else MULTIPLE. */
function common(candidates: readonly AlertCandidate[], name: string): string {
  const values = new Set(candidates.map((candidate) => candidate.attributes[name] ?? 'UNKNOWN'));
  return values.size === 1 ? ([...values][0] ?? 'UNKNOWN') : 'MULTIPLE';
}

export function digests(candidates: readonly AlertCandidate[], format: DigestFormat): Digest[] {
  const chunks = digestChunks(candidates);
  return chunks.map((chunk, part) => {
    const worst = chunk.reduce((a, b) => (b.rank > a.rank ? b : a));
    const attributes: Record<string, string> = {};
    for (const name of Object.keys(worst.attributes)) attributes[name] = common(chunk, name);
    attributes.source = format.source;
    const level = worst.attributes[format.severityAttribute] ?? 'UNKNOWN';
    attributes[format.severityAttribute] = level;
    if (chunk.some((candidate) => RANK_ATTRIBUTE in candidate.attributes))
      attributes[RANK_ATTRIBUTE] = highestRank(chunk);
    const partLabel = chunks.length > 1 ? ` (part ${part + 1} of ${chunks.length})` : '';
    const title = `${candidates.length} new ${format.noun}${partLabel}, most severe ${level}`;
    const lines = chunk.map(listLine);
    const message: AlertMessage = {
      // Level and count first: SNS email subjects stop at 100 characters, and subjectLine cuts the end.
      subject: subjectLine(
        `[${level}] ${candidates.length} new ${format.noun}${partLabel} (qualys-lake digest)`,
      ),
      email: [
        `qualys-lake found ${candidates.length} new ${format.noun} in one run, more than the per-run limit`,
        `for individual alerts. They are listed below by key; the curated data in S3 / Athena has the detail.`,
        '',
        `Source: ${format.source}`,
        '',
        ...lines,
        '',
        'Keys covered by this digest:',
        ...chunk.map(listKey),
        '',
      ].join('\n'),
      chat: {
        version: '1.0',
        source: 'custom',
        content: {
          textType: 'client-markdown',
          title: `${levelIcon(level, format.urgentFrom ?? 3)} ${chatText(title)}`,
          description:
            lines.slice(0, CHAT_LINES).map(chatText).join('\n') +
            (chunk.length > CHAT_LINES ? `\n…and ${chunk.length - CHAT_LINES} more` : ''),
          keywords: [format.source, 'digest'],
        },
        metadata: {
          summary: chatText(title),
          eventType: `${format.source}-digest`,
          additionalContext: { count: String(chunk.length) },
        },
      },
      attributes,
    };
    return { message, covers: chunk };
  });
}
