import {
  DEFAULT_SUBSCRIPTION,
  SUBSCRIPTION_PARTITION,
  scopeKey,
  unscopeKey,
} from '../../functions/core/subscription';

/**
 * The tests read a bucket as the collectors of one subscription (`default` unless a test names
 * another) name its keys: logical keys, without the `subscription=` level.
 */

/** The bucket key of a logical key (or prefix) of `subscription`; keys above the level, or already under it, as they are. */
export function placed(key: string, subscription = DEFAULT_SUBSCRIPTION): string {
  const levels = key.split('/');
  if (levels.length < 3 || levels[2]?.startsWith(`${SUBSCRIPTION_PARTITION}=`)) return key;
  return scopeKey(key, subscription);
}

/** The logical key of a bucket key of `subscription`; any other key as it is. */
export function logical(key: string, subscription = DEFAULT_SUBSCRIPTION): string {
  return key.split('/')[2] === `${SUBSCRIPTION_PARTITION}=${subscription}`
    ? unscopeKey(key, subscription)
    : key;
}

/** How the subscription and upgrade tests run cdr-findings and sdr-posture: a day of findings, a whole poll, one alert each. */
export const RUN_ENV = {
  CDR_PAGE_SIZE: '25',
  CDR_LAG_MINUTES: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_CALL_RESERVE: '0',
  ALERT_MAX_PER_RUN: '1000',
  SDR_MAX_CALLS_PER_RUN: '200',
  SDR_POSTURE_MIN_CRITICALITY: 'Low',
  SDR_POSTURE_BASELINE_SUMMARY: 'false',
};
