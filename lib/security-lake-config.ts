import {
  SECURITY_LAKE_CLASS_NAMES,
  type SecurityLakeClass,
  type SecurityLakeSource,
} from '../functions/manifests';
import { ConfigError } from '../functions/runtime/env';

/** The context key (README "Amazon Security Lake"). */
export const SECURITY_LAKE_CONTEXT_KEY = 'securityLake';

/** Security Lake's batch requirement: files at intervals between 5 minutes and one day. */
export const SECURITY_LAKE_SCHEDULE = { min: 5, max: 1440, default: 60 } as const;
export const SECURITY_LAKE_LOOKBACK_DAYS = { min: 1, max: 31, default: 3 } as const;

/** The writer of one subscription, as the context configures it. */
export interface SecurityLakeOptions {
  /** The `region=` partition and the bucket's region. @default the stack's region */
  readonly region?: string;
  /** The `accountId=` partition. @default the stack's account */
  readonly accountId?: string;
  /** Minutes between runs (5 to 1440). @default 60 */
  readonly scheduleMinutes: number;
  /** Days of curated partitions each run looks through. @default 3 */
  readonly lookbackDays: number;
  /** The custom source of each class written; classes left out are not written. */
  readonly sources: Readonly<Partial<Record<SecurityLakeClass, SecurityLakeSource>>>;
}

/** Writers by subscription name. */
export type SecurityLakeConfig = Readonly<Record<string, SecurityLakeOptions>>;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const SOURCE_NAME = /^[\w.:-]{1,64}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const LOCATION = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/((?:[^/*]+\/)+)$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ACCOUNT = /^(\d{12}|external(_[\w-]{1,64})?)$/;

const fail = (path: string, problem: string) =>
  new ConfigError(
    `CDK context "${SECURITY_LAKE_CONTEXT_KEY}" ${path}: ${problem}`,
    SECURITY_LAKE_CONTEXT_KEY,
  );

/**
 * `securityLake` from the context: a JSON object (or its text, from `-c`) keyed by subscription
 * name, each naming the custom source of the classes it writes. Undefined when the key is absent:
 * then nothing of the writer is synthesized. Every subscription named must be one of
 * `subscriptionNames` (a deployment without `subscriptions` has one, `default`).
 */
export function parseSecurityLake(
  context: (key: string) => unknown,
  subscriptionNames: readonly string[],
): SecurityLakeConfig | undefined {
  let value = context(SECURITY_LAKE_CONTEXT_KEY);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw fail('(the whole value)', 'is not valid JSON');
    }
  }
  if (!isObject(value)) throw fail('(the whole value)', 'must be an object keyed by subscription name');
  const config: Record<string, SecurityLakeOptions> = {};
  for (const [subscription, entry] of Object.entries(value)) {
    if (!subscriptionNames.includes(subscription)) {
      throw fail(subscription, `is not a configured subscription (${subscriptionNames.join(', ')})`);
    }
    config[subscription] = parseEntry(subscription, entry);
  }
  return config;
}

function parseEntry(path: string, entry: unknown): SecurityLakeOptions {
  if (!isObject(entry)) throw fail(path, 'must be an object with "sources"');
  const bucket = optional(entry, 'bucket', path, BUCKET, 'an S3 bucket name');
  const region = optional(entry, 'region', path, REGION, 'an AWS Region such as us-east-1');
  const accountId = optional(entry, 'accountId', path, ACCOUNT, 'a 12-digit account id or external[_<id>]');
  if (!isObject(entry.sources) || Object.keys(entry.sources).length === 0) {
    throw fail(`${path}.sources`, `must name at least one of ${SECURITY_LAKE_CLASS_NAMES.join(', ')}`);
  }
  const sources: Partial<Record<SecurityLakeClass, SecurityLakeSource>> = {};
  for (const [name, source] of Object.entries(entry.sources)) {
    if (!SECURITY_LAKE_CLASS_NAMES.includes(name as SecurityLakeClass)) {
      throw fail(`${path}.sources.${name}`, `is not a class (${SECURITY_LAKE_CLASS_NAMES.join(', ')})`);
    }
    sources[name as SecurityLakeClass] = parseSource(`${path}.sources.${name}`, source, bucket);
  }
  return {
    ...(region !== undefined && { region }),
    ...(accountId !== undefined && { accountId }),
    scheduleMinutes: whole(entry, 'scheduleMinutes', path, SECURITY_LAKE_SCHEDULE),
    lookbackDays: whole(entry, 'lookbackDays', path, SECURITY_LAKE_LOOKBACK_DAYS),
    sources,
  };
}

/** A source by its name (under the entry's bucket, `ext/<name>/`) or by its location URI. */
function parseSource(path: string, source: unknown, bucket: string | undefined): SecurityLakeSource {
  if (!isObject(source))
    throw fail(path, 'must be an object with roleArn, externalId and sourceName or location');
  const roleArn = required(
    source,
    'roleArn',
    path,
    ROLE_ARN,
    'an IAM role ARN (the provider role of the source)',
  );
  const externalId = required(source, 'externalId', path, EXTERNAL_ID, 'the external id given to the source');
  const location = optional(source, 'location', path, LOCATION, 'an s3://<bucket>/<path>/ URI');
  if (location !== undefined) {
    const [, locationBucket, prefix] = LOCATION.exec(location) as RegExpExecArray;
    return { bucket: locationBucket as string, prefix: prefix as string, roleArn, externalId };
  }
  const sourceName = required(
    source,
    'sourceName',
    path,
    SOURCE_NAME,
    'the custom source name (or give "location")',
  );
  if (bucket === undefined)
    throw fail(path, 'names a sourceName but the entry has no "bucket" (or give "location")');
  return { bucket, prefix: `ext/${sourceName}/`, roleArn, externalId };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optional(
  object: Record<string, unknown>,
  key: string,
  path: string,
  pattern: RegExp,
  expected: string,
): string | undefined {
  const value = object[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !pattern.test(value.trim())) {
    throw fail(`${path}.${key}`, `must be ${expected}, got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

function required(
  object: Record<string, unknown>,
  key: string,
  path: string,
  pattern: RegExp,
  expected: string,
) {
  const value = optional(object, key, path, pattern, expected);
  if (value === undefined) throw fail(`${path}.${key}`, `is required: ${expected}`);
  return value;
}

function whole(
  object: Record<string, unknown>,
  key: string,
  path: string,
  range: { min: number; max: number; default: number },
): number {
  const value = object[key];
  if (value === undefined || value === null || value === '') return range.default;
  const parsed = typeof value === 'string' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < range.min || parsed > range.max) {
    throw fail(
      `${path}.${key}`,
      `must be a whole number from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}
