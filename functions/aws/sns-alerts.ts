import {
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { type AlertMessage, AlertPublishError, type AlertSink } from '../core/ports';

/** SNS PublishBatch takes at most 10 entries (Amazon SNS API reference, PublishBatch). */
export const PUBLISH_BATCH_SIZE = 10;

/**
 * Publishes alerts with `MessageStructure: 'json'`: email subscribers get the plain-text
 * `email` body, every other protocol (AWS Chatbot for Slack, SQS, Lambda) gets `default`,
 * which is the Chatbot custom-notification JSON.
 */
export function toBatchEntry(message: AlertMessage, id: string): PublishBatchRequestEntry {
  return {
    Id: id,
    Subject: message.subject,
    MessageStructure: 'json',
    Message: JSON.stringify({ default: JSON.stringify(message.chat), email: message.email }),
    MessageAttributes: Object.fromEntries(
      Object.entries(message.attributes).map(([name, value]) => [
        name,
        { DataType: 'String', StringValue: value },
      ]),
    ),
  };
}

/**
 * A PublishBatch request carries at most 10 entries and 262,144 bytes of messages and attributes
 * in all (Amazon SNS API reference, PublishBatch); stay under both with some headroom.
 */
const PUBLISH_BATCH_BYTES = 240 * 1024;

function entryBytes(entry: PublishBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.Message ?? '') + Buffer.byteLength(entry.Subject ?? '');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes +=
      Buffer.byteLength(name) +
      Buffer.byteLength(value.DataType ?? '') +
      Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** Splits entries into PublishBatch-sized groups: by count and by total size. */
export function batches(entries: readonly PublishBatchRequestEntry[]): PublishBatchRequestEntry[][] {
  const groups: PublishBatchRequestEntry[][] = [];
  let current: PublishBatchRequestEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = entryBytes(entry);
    if (current.length > 0 && (current.length === PUBLISH_BATCH_SIZE || size + bytes > PUBLISH_BATCH_BYTES)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export class SnsAlerts implements AlertSink {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(messages: readonly AlertMessage[]): Promise<void> {
    const accepted = new Set<number>();
    const indexOf = (id: string | undefined) => Number(id?.slice(1));
    for (const group of batches(messages.map((message, index) => toBatchEntry(message, `m${index}`)))) {
      let entries = group;
      // Entries SNS failed (throttling, internal errors) are sent again once before giving up.
      for (let attempt = 0; entries.length > 0; attempt++) {
        let response: PublishBatchCommandOutput;
        try {
          response = await this.client.send(
            new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: entries }),
          );
        } catch (error) {
          throw new AlertPublishError(`SNS PublishBatch failed: ${(error as Error).message}`, accepted, {
            cause: error,
          });
        }
        const failed = new Set((response.Failed ?? []).map((failure) => failure.Id));
        for (const entry of entries) if (!failed.has(entry.Id)) accepted.add(indexOf(entry.Id));
        if (failed.size === 0) break;
        if (attempt >= 1) {
          const first = response.Failed?.[0];
          throw new AlertPublishError(
            `SNS refused ${failed.size} alert(s): ${first?.Code ?? 'unknown'} ${first?.Message ?? ''}`.trim(),
            accepted,
          );
        }
        entries = entries.filter((entry) => failed.has(entry.Id));
      }
    }
  }
}
