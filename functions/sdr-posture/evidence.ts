import { clip } from '../core/alerts/text';
import type { Evidence } from './model';

/**
 * Posture evidence as sentences a person can act on. /reporting gives each resource's evidence as
 * `evidenceKey` (what was checked, e.g. "DKIM Signing is enabled") with `evidenceFail` and
 * `evidenceSuccess` as text: "true"/"false", a JSON list (`[]`, `[{"Id":..,"Name":..}]`), another
 * value, or the string "null" for none (vendor sample, samples/sdr-reporting.json).
 */

export type EvidenceKind = 'failed' | 'recovered';

/** Longest value quoted in a sentence; the curated rows keep the whole evidence. */
const VALUE_CHARS = 300;
/** Entries of a list named in a sentence. */
const LIST_NAMES = 5;

/** The API writes absent evidence as the string "null". */
export const isNullEvidence = (value: string | null | undefined) =>
  value === null || value === undefined || value.trim() === '' || value.trim() === 'null';

/** A list entry's name: its Name, name, displayName or Id, else the entry as JSON. */
function entryName(entry: unknown): string {
  if (entry !== null && typeof entry === 'object') {
    const record = entry as Record<string, unknown>;
    for (const field of ['Name', 'name', 'displayName', 'DisplayName', 'Id', 'id']) {
      const value = record[field];
      if (typeof value === 'string' && value.trim() !== '') return value;
      if (typeof value === 'number') return String(value);
    }
  }
  return clip(typeof entry === 'string' ? entry : JSON.stringify(entry), 80);
}

function parseList(value: string): unknown[] | undefined {
  const trimmed = value.trim();
  if (!trimmed.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function listed(entries: readonly unknown[]): string {
  const names = entries.slice(0, LIST_NAMES).map(entryName);
  const more = entries.length > LIST_NAMES ? `, and ${entries.length - LIST_NAMES} more` : '';
  return `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} (${names.join(', ')}${more})`;
}

/**
 * One sentence for one evidence item of `resource`: for a failure what fails and what passing
 * needs, for a recovery what passes now.
 */
export function evidenceSentence(item: Evidence, kind: EvidenceKind, resource: string): string {
  const checked = isNullEvidence(item.evidenceKey) ? 'The check' : `"${item.evidenceKey}"`;
  const value = kind === 'failed' ? item.evidenceFail : item.evidenceSuccess;
  if (isNullEvidence(value)) return `${checked}: Qualys reported no value for ${resource}.`;
  const text = (value ?? '').trim();
  const word = text.toLowerCase();
  if (word === 'true' || word === 'false') {
    const expected = word === 'true' ? 'false' : 'true';
    return kind === 'failed'
      ? `${checked} is ${word} for ${resource}; the control passes when it is ${expected}.`
      : `${checked} is now ${word} for ${resource}.`;
  }
  const list = parseList(text);
  if (list?.length === 0) {
    return kind === 'failed'
      ? `${checked}: Qualys found none for ${resource}; the control passes once there is at least one.`
      : `${checked}: none for ${resource}, which the control accepts now.`;
  }
  if (list) {
    return kind === 'failed'
      ? `${checked} for ${resource} lists ${listed(list)}, which the control does not accept.`
      : `${checked} for ${resource} now lists ${listed(list)}.`;
  }
  return kind === 'failed'
    ? `${checked} for ${resource} is "${clip(text, VALUE_CHARS)}", which the control does not accept.`
    : `${checked} for ${resource} is now "${clip(text, VALUE_CHARS)}".`;
}

/** Every evidence item as a sentence, or one saying there was none. */
export function evidenceSentences(
  evidence: readonly Evidence[],
  kind: EvidenceKind,
  resource: string,
): string[] {
  if (evidence.length === 0) return [`Qualys reported no evidence for ${resource}.`];
  return evidence.map((item) => evidenceSentence(item, kind, resource));
}
