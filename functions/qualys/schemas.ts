import * as v from 'valibot';

/**
 * Response schemas. They check what the collectors rely on and let every other field through
 * untouched (valibot `looseObject`), so a new field from Qualys never breaks ingestion and the
 * curated copy keeps the API's fields unchanged.
 */

/** Spring Data `Page` paging fields shared by the CDR and SaaSDR list endpoints. */
const pageFields = {
  totalPages: v.optional(v.nullable(v.number())),
  totalElements: v.optional(v.nullable(v.number())),
  last: v.optional(v.nullable(v.boolean())),
  number: v.optional(v.nullable(v.number())),
  size: v.optional(v.nullable(v.number())),
  numberOfElements: v.optional(v.nullable(v.number())),
  empty: v.optional(v.nullable(v.boolean())),
};

/** A Page whose items are kept as plain objects; items are checked one by one later. */
export const PageSchema = v.looseObject({
  content: v.array(v.looseObject({})),
  ...pageFields,
});
export type Page = v.InferOutput<typeof PageSchema>;
export type ApiRecord = Record<string, unknown>;

/** What a CDR finding must have to be curated, deduplicated and alerted on. */
export const CdrFindingSchema = v.looseObject({
  uuid: v.pipe(v.string(), v.nonEmpty('uuid must not be empty')),
  timestamp: v.pipe(
    v.string(),
    v.check((text) => !Number.isNaN(Date.parse(text)), 'timestamp must be an ISO-8601 date-time'),
  ),
  severity: v.optional(v.nullable(v.union([v.number(), v.string()]))),
  cloudType: v.optional(v.nullable(v.string())),
  cspAccount: v.optional(v.nullable(v.union([v.string(), v.number()]))),
});
export type CdrFinding = v.InferOutput<typeof CdrFindingSchema>;
