import { createHash } from 'node:crypto';
import { DEFAULT_SUBSCRIPTION } from '../functions/core/subscription';

/**
 * A stack name's words, lower case: `QualysLake-EMEA2` → qualys, lake, emea2. Names that must be
 * unique in an account and region are built from them, so a second stack never collides.
 */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Lambda's limit on a function name. */
const FUNCTION_NAME_LENGTH = 64;

/**
 * A collector function's name: the stack's words, the subscription and the collector
 * (`qualys-lake-prod-cdr-findings`). A stack name too long for the 64 characters is cut and
 * followed by a hash of the whole name, so two long names that start alike still differ.
 */
export function functionName(stackName: string, subscription: string, collector: string): string {
  const tail = `-${subscription}-${collector}`;
  const head = nameWords(stackName).join('-');
  if (head.length + tail.length <= FUNCTION_NAME_LENGTH) return `${head}${tail}`;
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, 6);
  const room = FUNCTION_NAME_LENGTH - tail.length - hash.length - 1;
  return `${head.slice(0, room).replace(/-+$/, '')}-${hash}${tail}`;
}

/** `cdr-findings` → `CdrFindings`. */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The stack output listing the subscriptions it serves, comma-separated. */
export const SUBSCRIPTIONS_OUTPUT = 'SubscriptionNames';

/**
 * The stack output naming a collector's function: `CdrFindingsFunctionName` for the subscription
 * `default` (as before subscriptions), `prodCdrFindingsFunctionName` for `prod`. Output ids are
 * letters and digits only: a hyphen is written `X` (names are lowercase, so no other
 * name gives the same id): `eu-1` gives `euX1CdrFindingsFunctionName`.
 */
export function functionOutputId(subscription: string, collector: string): string {
  return `${outputPrefix(subscription)}${pascalCase(collector)}FunctionName`;
}

/**
 * The stack output naming a subscription's Qualys secret (`QualysSecretName` for `default`,
 * `prodQualysSecretName` for `prod`): what `qualys-lake doctor --subscription` checks.
 */
export const secretOutputId = (subscription: string) => `${outputPrefix(subscription)}QualysSecretName`;

/** Nothing for `default` (its output ids are those from before subscriptions), else the name, `-` as `X`. */
const outputPrefix = (subscription: string) =>
  subscription === DEFAULT_SUBSCRIPTION ? '' : subscription.replaceAll('-', 'X');
