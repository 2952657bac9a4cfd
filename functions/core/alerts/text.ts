/** Text helpers every alert body uses: SNS subjects, attribute values, clipped lines. */

const SUBJECT_LIMIT = 99;

/** SNS subjects: ASCII printable, no line breaks, under 100 characters. */
export function subjectLine(text: string): string {
  const clean = text
    .replace(/[^\x20-\x7E]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > SUBJECT_LIMIT ? `${clean.slice(0, SUBJECT_LIMIT - 3)}...` : clean;
}

/** A value as text for a message body; null, undefined and '' become `fallback`. */
export const text = (value: unknown, fallback = 'unknown'): string =>
  value === null || value === undefined || value === '' ? fallback : String(value);

/** SNS attribute values must be non-empty strings of at most 256 characters here. */
export const attribute = (value: unknown): string => text(value, 'UNKNOWN').slice(0, 256);

/** Cuts `value` to `limit` characters, marking the cut with an ellipsis. */
export const clip = (value: string, limit: number): string =>
  value.length > limit ? `${value.slice(0, limit - 1)}…` : value;

/** A string literal for an Athena query shown in an alert. */
export const sqlString = (value: unknown): string => `'${String(value).replace(/'/g, "''")}'`;
