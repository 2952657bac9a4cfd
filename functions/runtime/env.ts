import { ENV } from '../core/names';
import { DEFAULT_SUBSCRIPTION, SUBSCRIPTION_NAME, SUBSCRIPTION_NAME_RULE } from '../core/subscription';

/**
 * Reads configuration from environment variables once, at init. Every error names the
 * variable and says what was expected, so a misconfigured deployment fails on its first
 * invocation with a message that tells the operator what to fix.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    message: string,
    /** The setting at fault (an environment variable, a CDK context key), when the thrower names one. */
    readonly key?: string,
  ) {
    super(message);
  }
}

export type Env = Record<string, string | undefined>;

export function requiredString(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required but not set`, name);
  return value;
}

export function optionalString(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

export function integer(
  env: Env,
  name: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(
      `${name} must be a whole number from ${range.min} to ${range.max}, got "${text}"`,
      name,
    );
  }
  return value;
}

export function parsed<T>(
  env: Env,
  name: string,
  fallback: string,
  parse: (text: string) => T | undefined,
  expected: string,
): T {
  const text = optionalString(env, name, fallback);
  const value = parse(text);
  if (value === undefined) throw new ConfigError(`${name} must be ${expected}, got "${text}"`, name);
  return value;
}

export function parseBoolean(textValue: string): boolean | undefined {
  const word = textValue.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  return undefined;
}

/** A host name or IPv4 address: no scheme, port, path or wildcard. */
const HOST_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A comma list of host names, lower-cased (empty for ""); undefined when an entry is not a bare host name. */
export function parseHostList(text: string): string[] | undefined {
  const hosts = text
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  return hosts.every((host) => HOST_NAME.test(host)) ? [...new Set(hosts)] : undefined;
}

/** QUALYS_SUBSCRIPTION: the one subscription a function serves (`default` when unset). */
export function readSubscription(env: Env): string {
  return parsed(
    env,
    ENV.subscription,
    DEFAULT_SUBSCRIPTION,
    (name) => (SUBSCRIPTION_NAME.test(name) ? name : undefined),
    SUBSCRIPTION_NAME_RULE,
  );
}
