import * as v from 'valibot';
import { isoInstant, parseInstant } from './timestamps';

/**
 * Response schemas. They check what the collectors rely on and let every other field through
 * untouched (valibot `looseObject`), so a new field from Qualys never breaks ingestion and the
 * curated copy keeps the API's fields unchanged.
 */

/** A count sent as a number or a numeric string ("37"); anything else counts as not said. */
function toCount(value: unknown): number | undefined {
  const count =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(count) && count >= 0 ? count : undefined;
}

/** A flag sent as a boolean or "true"/"false"; anything else counts as not said. */
function toFlag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

/**
 * Paging metadata, typed loosely: a gateway that sends `"totalElements": "2345"` or `"last": "false"`
 * still pages right, and one that sends nonsense leaves paging to the fallbacks in core/paging.ts.
 * Metadata never rejects a page.
 */
export const looseCount = v.optional(v.pipe(v.unknown(), v.transform(toCount)));
const looseFlag = v.optional(v.pipe(v.unknown(), v.transform(toFlag)));

/** Spring Data `Page` paging fields shared by the CDR and SaaSDR list endpoints. */
const pageFields = {
  totalPages: looseCount,
  totalElements: looseCount,
  last: looseFlag,
  number: looseCount,
  size: looseCount,
  numberOfElements: looseCount,
  empty: looseFlag,
};

/**
 * A Page as paging needs it: `content` an array (of anything) and the paging fields. Nothing about
 * an item can reject its page: each is checked on its own once the page is archived, and a bad one
 * is set aside (validation.ts `screen`).
 */
export const PageSchema = v.looseObject({
  content: v.array(v.unknown()),
  ...pageFields,
});
export type Page = v.InferOutput<typeof PageSchema>;
export type ApiRecord = Record<string, unknown>;

/** A list item curated as the API sent it: any JSON object (not null, a string, a number or an array). */
export const ApiRecordSchema = v.custom<ApiRecord>(
  (item) => typeof item === 'object' && item !== null && !Array.isArray(item),
  (issue) => `Invalid type: Expected Object but received ${issue.received}`,
);

/** What a CDR finding must have to be curated, deduplicated and alerted on. */
export const CdrFindingSchema = v.looseObject({
  uuid: v.pipe(v.string(), v.nonEmpty('uuid must not be empty')),
  timestamp: v.pipe(v.string(), isoInstant()),
  severity: v.optional(v.nullable(v.union([v.number(), v.string()]))),
  cloudType: v.optional(v.nullable(v.string())),
  cspAccount: v.optional(v.nullable(v.union([v.string(), v.number()]))),
});
export type CdrFinding = v.InferOutput<typeof CdrFindingSchema>;

/**
 * The shortcut of `screen` for {@link CdrFindingSchema}: true only for a finding the schema accepts
 * and returns unchanged (test/unit/qualys/schemas.test.ts holds the two together). A plain object
 * (as JSON.parse makes it) without the keys valibot drops from a loose object (`__proto__`,
 * `prototype`, `constructor`), whose checked fields have the types the schema asks for. The one
 * difference is the order of the fields: the API's, where the schema puts its own first.
 */
export function isPlainCdrFinding(item: unknown): item is CdrFinding {
  if (typeof item !== 'object' || item === null || Object.getPrototypeOf(item) !== Object.prototype)
    return false;
  const finding = item as Record<string, unknown>;
  const { uuid, timestamp, severity, cloudType, cspAccount } = finding;
  return (
    typeof uuid === 'string' &&
    uuid !== '' &&
    parseInstant(timestamp) !== undefined &&
    absentOr(severity, 'number', 'string') &&
    absentOr(cloudType, 'string') &&
    absentOr(cspAccount, 'string', 'number') &&
    !Object.hasOwn(finding, '__proto__') &&
    !Object.hasOwn(finding, 'prototype') &&
    !Object.hasOwn(finding, 'constructor')
  );
}

/** Undefined, null, or one of `types` (a number that is not NaN, as valibot's `number()`). */
function absentOr(value: unknown, ...types: ('string' | 'number')[]): boolean {
  if (value === undefined || value === null) return true;
  const type = typeof value;
  return (type === 'string' || (type === 'number' && !Number.isNaN(value))) && types.includes(type);
}
