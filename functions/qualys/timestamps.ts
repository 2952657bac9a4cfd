import * as v from 'valibot';

/**
 * Timestamps from API data, read strictly: an ISO-8601 date-time with a zone (`Z` or ±hh:mm), as
 * the vendor samples write them (`2025-05-09T20:00:42.000+00:00`). `Date.parse` would also take
 * `"1"` (2001-01-01), `"May 9"`, a date without a time, or a time without a zone read in the
 * machine's zone, and roll `2025-02-30` over into March: a record dated that way lands in the
 * wrong partition or window, or looks expired, so it is refused instead.
 */
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** Epoch ms of a strict ISO-8601 date-time with a zone, or undefined for anything else. */
export function parseInstant(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = ISO_INSTANT.exec(text);
  if (!match) return undefined;
  // Groups 1 to 5 always match; seconds, fraction and offset are optional.
  const part = (group: number) => Number(match[group] ?? 0);
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = [1, 2, 3, 4, 5, 6].map(part);
  const [offsetHours, offsetMinutes] = [part(10), part(11)];
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!valid) return undefined;
  const millis = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  const offset = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return date.getTime() - (match[8] ? 0 : offset);
}

/** A valibot check: the string is a strict ISO-8601 date-time with a zone (issues name the field by their path). */
export const isoInstant = () =>
  v.check<string, string>(
    (text) => parseInstant(text) !== undefined,
    'must be an ISO-8601 date-time with a zone (Z or ±hh:mm)',
  );
