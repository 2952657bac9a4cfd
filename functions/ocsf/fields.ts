import { parseInstant } from '../qualys/timestamps';

/** A record the lake stores: the API's fields and qualys-lake's `lake_*` fields. */
export type LakeRecord = Readonly<Record<string, unknown>>;

/** A record the mapping cannot turn into an event, with the field at fault. */
export class OcsfMappingError extends Error {
  override readonly name = 'OcsfMappingError';
}

/** Text of a field, or undefined for null, missing, empty or non-scalar values. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Epoch milliseconds (OCSF `timestamp_t`) of an ISO-8601 date-time with a zone, else undefined. */
export const epochMillis = (value: unknown): number | undefined => parseInstant(value);

const ZONE = /(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** OCSF `timezone_offset`: minutes ahead of UTC that a timestamp was written in (`+02:00` is 120). */
export function zoneOffsetMinutes(value: unknown): number | undefined {
  if (typeof value !== 'string' || epochMillis(value) === undefined) return undefined;
  const match = ZONE.exec(value);
  if (!match) return undefined;
  if (match[1]) return 0;
  return (match[2] === '-' ? -1 : 1) * (Number(match[3]) * 60 + Number(match[4]));
}

/**
 * The record's fields the event does not carry, as `unmapped`: a flat map of dotted paths to text
 * (strings as they are, numbers and booleans as text, arrays as JSON), nulls left out. A map of
 * strings keeps one Parquet column type per class however Qualys changes its records.
 */
export function unmappedOf(record: LakeRecord, mapped: ReadonlySet<string>): Record<string, string> {
  const unmapped: Record<string, string> = {};
  const visit = (value: unknown, path: string) => {
    if (mapped.has(path) || value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) visit(inner, `${path}.${key}`);
    } else {
      unmapped[path] = typeof value === 'string' ? value : JSON.stringify(value);
    }
  };
  for (const [key, value] of Object.entries(record)) visit(value, key);
  return unmapped;
}

/** Reads a record's fields and remembers which ones the event took, for its `unmapped`. */
export class FieldsTaken {
  readonly paths = new Set<string>();

  constructor(private readonly record: LakeRecord) {}

  /** The value; marks `path` taken when the value is used (not undefined). */
  take<T>(path: string, value: T | undefined): T | undefined {
    if (value !== undefined) this.paths.add(path);
    return value;
  }

  /** A top-level field as text ({@link text}), marked taken when it has one. */
  text(field: string): string | undefined {
    return this.take(field, text(this.record[field]));
  }

  /** A top-level field as epoch milliseconds ({@link epochMillis}), marked taken when it reads. */
  time(field: string): number | undefined {
    return this.take(field, epochMillis(this.record[field]));
  }

  /** The event without undefined attributes, its `unmapped` the record's fields not taken ({@link unmappedOf}). */
  finish<E extends { unmapped: Record<string, string> }>(event: E): E {
    return { ...compact(event), unmapped: unmappedOf(this.record, this.paths) };
  }
}

/** Drops undefined values, so events carry only the attributes that have a value. */
export function compact<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}
