import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SUBSCRIPTIONS_OUTPUT } from '../../lib/stack-names';

/** Options and values shared by the verbs. */
export const DEFAULT_LAKE = 'local-lake';
export const DEFAULT_OUTPUTS = 'cdk-outputs.json';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function positive(flag: string) {
  return (value: string) => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0)
      throw new UsageError(`${flag} must be a positive number, not "${value}"`);
    return number;
  };
}

export function isoTime(flag: string) {
  return (value: string) => {
    const time = new Date(value);
    // An offset is required: without one, the time would be read in this machine's time zone.
    if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(time.getTime()))
      throw new UsageError(
        `${flag} must be an ISO 8601 time with its offset, such as 2026-11-01T00:00:00Z, not "${value}"`,
      );
    return time;
  };
}

export const localDir = (value: string | true) => path.resolve(value === true ? DEFAULT_LAKE : value);

/** The stack's outputs as `cdk deploy --outputs-file` wrote them: the first stack's values. */
export function stackOutputs(file: string | undefined): Record<string, string> {
  const where = path.resolve(file ?? DEFAULT_OUTPUTS);
  if (!existsSync(where)) {
    if (file) throw new UsageError(`no outputs file at ${where}`);
    return {};
  }
  const all = JSON.parse(readFileSync(where, 'utf8')) as Record<string, Record<string, string>>;
  return Object.values(all)[0] ?? {};
}

export const outputEnding = (outputs: Record<string, string>, suffix: string) =>
  Object.entries(outputs).find(([key]) => key.endsWith(suffix))?.[1];

/** `300/3600`: calls per window of seconds. */
export function rateLimit(value: string): { limit: number; windowSec: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const limit = Number(match?.[1]);
  const windowSec = Number(match?.[2]);
  if (!match || limit < 1 || windowSec < 1)
    throw new UsageError(`--rate-limit must be calls/seconds such as 300/3600, not "${value}"`);
  return { limit, windowSec };
}

/** The subscriptions the stack serves, from its `SubscriptionNames` output; undefined without it. */
export function deployedSubscriptions(outputs: Record<string, string>): string[] | undefined {
  const names = outputs[SUBSCRIPTIONS_OUTPUT];
  return names === undefined ? undefined : names.split(',').filter(Boolean);
}
