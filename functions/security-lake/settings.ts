import { ENV } from '../core/names';
import { ConfigError, type Env, integer, readSubscription, requiredString } from '../runtime/env';
import {
  SECURITY_LAKE_CLASS_NAMES,
  SECURITY_LAKE_ENV,
  type SecurityLakeClass,
  type SecurityLakeTarget,
} from './manifest';

export interface SecurityLakeSettings {
  bucket: string;
  subscription: string;
  target: SecurityLakeTarget;
  lookbackDays: number;
}

/** The writer's settings, read once at init; a bad variable fails the first invocation naming it. */
export function readSecurityLakeSettings(env: Env): SecurityLakeSettings {
  return {
    bucket: requiredString(env, ENV.archiveBucket),
    subscription: readSubscription(env),
    target: parseTarget(requiredString(env, SECURITY_LAKE_ENV.target)),
    lookbackDays: integer(env, SECURITY_LAKE_ENV.lookbackDays, 3, { min: 1, max: 31 }),
  };
}

/** SECURITY_LAKE_TARGET as the stack writes it (lib/security-lake-config.ts), checked field by field. */
export function parseTarget(text: string): SecurityLakeTarget {
  const name = SECURITY_LAKE_ENV.target;
  const fail = (problem: string) => new ConfigError(`${name} ${problem}`, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('is not valid JSON');
  }
  const target = parsed as Partial<SecurityLakeTarget>;
  if (typeof target?.region !== 'string' || typeof target.accountId !== 'string') {
    throw fail('needs "region" and "accountId" strings');
  }
  const sources = Object.entries(target.sources ?? {});
  if (sources.length === 0) throw fail('names no source: set at least one class');
  for (const [className, source] of sources) {
    if (!SECURITY_LAKE_CLASS_NAMES.includes(className as SecurityLakeClass)) {
      throw fail(`names an unknown class "${className}" (known: ${SECURITY_LAKE_CLASS_NAMES.join(', ')})`);
    }
    for (const field of ['bucket', 'prefix', 'roleArn', 'externalId'] as const) {
      if (typeof source?.[field] !== 'string' || source[field] === '') {
        throw fail(`source ${className} needs a "${field}" string`);
      }
    }
    if (!source.prefix.endsWith('/')) throw fail(`source ${className} prefix must end with "/"`);
  }
  return target as SecurityLakeTarget;
}
