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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) =>
  month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
/** 400 Gregorian years, exactly: Date.UTC reads years 0–99 as 1900–1999, so it is given year + 400. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;
const numberOf = (digits: string | undefined) => (digits === undefined ? 0 : Number(digits));

/**
 * Epoch ms of a strict ISO-8601 date-time with a zone, or undefined for anything else. Called for
 * every finding, so it allocates nothing but the match (README "Benchmarks").
 */
export function parseInstant(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = ISO_INSTANT.exec(text);
  if (!match) return undefined;
  // Groups 1 to 5 always match; seconds, fraction and offset are optional.
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = numberOf(match[6]);
  const offsetHours = numberOf(match[10]);
  const offsetMinutes = numberOf(match[11]);
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
  const fraction = match[7];
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  const utc = Date.UTC(year + 400, month - 1, day, hour, minute, second, millis) - FOUR_CENTURIES_MS;
  if (match[8]) return utc;
  return utc - (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/** A valibot check: the string is a strict ISO-8601 date-time with a zone (issues name the field by their path). */
export const isoInstant = () =>
  v.check<string, string>(
    (text) => parseInstant(text) !== undefined,
    'must be an ISO-8601 date-time with a zone (Z or ±hh:mm)',
  );
