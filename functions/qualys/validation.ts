import * as v from 'valibot';

/** Describes a valibot failure by its path, e.g. `content.3.uuid: Invalid type`. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => {
      const where = issue.path?.map((item) => String(item.key)).join('.') ?? '(root)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** An item a schema refused: its position on the page, why, and the item as the API sent it. */
export interface Rejected {
  index: number;
  reason: string;
  record: unknown;
}

/**
 * Checks each item of a page on its own: the items `schema` accepts, and the others with their
 * reason, so one bad item is set aside instead of failing the page around it.
 *
 * `plain` is an optional shortcut for a schema that transforms nothing: a cheap check that accepts
 * only items the schema would accept and return unchanged, which are then kept as they are (not
 * copied). Every other item goes to the schema, which stays the judge and gives the reason.
 */
export function screen<S extends v.GenericSchema>(
  items: readonly unknown[],
  schema: S,
  plain?: (item: unknown) => item is v.InferOutput<S>,
): { valid: v.InferOutput<S>[]; rejected: Rejected[] } {
  const valid: v.InferOutput<S>[] = [];
  const rejected: Rejected[] = [];
  items.forEach((record, index) => {
    if (plain?.(record)) {
      valid.push(record);
      return;
    }
    const parsed = v.safeParse(schema, record);
    if (parsed.success) valid.push(parsed.output);
    else rejected.push({ index, reason: describeIssues(parsed.issues), record });
  });
  return { valid, rejected };
}
