import { entryBytes, toBatchEntry } from '../../functions/aws/sns-alerts';
import type { AlertMessage } from '../../functions/core/ports';

/** SNS refuses a message over 262,144 bytes, attributes included (Amazon SNS quotas). */
export const SNS_LIMIT = 262_144;

/** A message's size as SnsAlerts would send it (measured on the SNS entry, not by core's count). */
export const publishedBytes = (message: AlertMessage): number => entryBytes(toBatchEntry(message, 'm0'));
