import { ALERT_RANK_ATTRIBUTE } from '../names';
import { SEVERITY_LEVELS, severityLevel, severityName } from '../severity';

/**
 * What an alert says about its level besides the name: the numeric `rank` attribute an SNS
 * subscription filter policy compares (`{"rank":[{"numeric":[">=",3]}]}`), and the chat icon.
 * CDR severity and SaaSDR criticality share one scale: LOW/Low 1 ... CRITICAL/Critical 4.
 */

/** The message attribute that carries the level as a number. */
export const RANK_ATTRIBUTE = ALERT_RANK_ATTRIBUTE;

/** Attributes sent with DataType `Number`: SNS compares numbers only with those (filter policy constraints). */
export const NUMBER_ATTRIBUTES: ReadonlySet<string> = new Set([RANK_ATTRIBUTE]);

/**
 * The rank of a level qualys-lake cannot read: above CRITICAL, so every subscriber's minimum lets
 * it through, as ALERT_MIN_SEVERITY and SDR_POSTURE_MIN_CRITICALITY do (an unknown level is never a
 * reason to stay silent).
 */
export const UNKNOWN_RANK = SEVERITY_LEVELS.CRITICAL + 1;

/** The `rank` attribute of a severity or criticality as Qualys sends it. */
export function rankOf(value: unknown): number {
  if (severityName(value) === 'UNKNOWN') return UNKNOWN_RANK;
  return severityLevel(value) ?? UNKNOWN_RANK;
}

/** The `rank` attribute value (SNS attribute values are strings, sent with DataType Number). */
export const rankAttribute = (value: unknown): string => String(rankOf(value));

/**
 * The chat title's icon. 🚨 only from `urgentFrom` up (CDR: HIGH, posture: Critical), ⚠️ for the
 * level below it and for a level qualys-lake cannot read, ℹ️ for the rest, so a channel full of Low
 * findings does not look like an incident.
 */
export function levelIcon(value: unknown, urgentFrom: number): string {
  if (severityName(value) === 'UNKNOWN') return ':warning:';
  const level = severityLevel(value) ?? 0;
  if (level >= urgentFrom) return ':rotating_light:';
  if (level >= urgentFrom - 1) return ':warning:';
  return ':information_source:';
}
