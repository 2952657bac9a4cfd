import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import type { AlertMessage, AlertSink } from '../core/ports';

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

export class SnsAlerts implements AlertSink {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(messages: readonly AlertMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += PUBLISH_BATCH_SIZE) {
      let entries = messages
        .slice(start, start + PUBLISH_BATCH_SIZE)
        .map((message, offset) => toBatchEntry(message, `m${start + offset}`));
      // Entries SNS failed (throttling, internal errors) are sent again once before giving up.
      for (let attempt = 0; entries.length > 0; attempt++) {
        const response = await this.client.send(
          new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: entries }),
        );
        const failed = new Set((response.Failed ?? []).map((failure) => failure.Id));
        if (failed.size === 0) break;
        if (attempt >= 1) {
          const first = response.Failed?.[0];
          throw new Error(
            `SNS refused ${failed.size} alert(s): ${first?.Code ?? 'unknown'} ${first?.Message ?? ''}`.trim(),
          );
        }
        entries = entries.filter((entry) => failed.has(entry.Id));
      }
    }
  }
}
