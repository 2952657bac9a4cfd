import {
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { NUMBER_ATTRIBUTES } from '../core/alerts/levels';
import { groupBySize, snsMessageBody } from '../core/alerts/size';
import { type AlertMessage, AlertPublishError, type AlertSink, type PublishResult } from '../core/ports';
import { sns } from './sns-client';

/** SNS PublishBatch takes at most 10 entries (Amazon SNS API reference, PublishBatch). */
export const PUBLISH_BATCH_SIZE = 10;

/** PublishBatch calls in flight at once. */
export const PUBLISH_CONCURRENCY = 4;

/**
 * Errors that mean SNS refuses the message itself (too long, an invalid character or attribute):
 * sending it again would be refused again. Anything else (throttling, 5xx, KMS or permission
 * errors, timeouts) is worth another try in the next run.
 */
const CONTENT_ERRORS = new Set([
  'InvalidParameter',
  'InvalidParameterValue',
  'ValidationException',
  'BatchRequestTooLong',
]);

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
    Message: snsMessageBody(message),
    MessageAttributes: Object.fromEntries(
      Object.entries(message.attributes).map(([name, value]) => [
        name,
        { DataType: NUMBER_ATTRIBUTES.has(name) ? 'Number' : 'String', StringValue: value },
      ]),
    ),
  };
}

/**
 * A PublishBatch request carries at most 10 entries and 262,144 bytes of messages and attributes
 * in all (Amazon SNS API reference, PublishBatch); stay under both with some headroom.
 */
const PUBLISH_BATCH_BYTES = 240 * 1024;

/** Bytes SNS counts for one entry: message, subject and each attribute's name, type and value. */
export function entryBytes(entry: PublishBatchRequestEntry): number {
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
export const batches = (entries: readonly PublishBatchRequestEntry[]): PublishBatchRequestEntry[][] =>
  groupBySize(entries, PUBLISH_BATCH_SIZE, PUBLISH_BATCH_BYTES, entryBytes);

/** Runs `work` on every item, at most `limit` at a time; `work` must not throw. */
async function eachInParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const isContentError = (error: unknown) =>
  (error as { $fault?: string }).$fault === 'client' && CONTENT_ERRORS.has((error as Error).name);

/** What one publish call learnt, by index into its messages. */
interface Outcome {
  accepted: Set<number>;
  refused: Map<number, string>;
}

export class SnsAlerts implements AlertSink {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    /** The invocation's abort signal: every call SNS is sent stops with it. */
    private readonly signal?: AbortSignal,
  ) {}

  async publish(messages: readonly AlertMessage[], signal?: AbortSignal): Promise<PublishResult> {
    const signals = [this.signal, signal].filter((item): item is AbortSignal => item !== undefined);
    const abort = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    const outcome: Outcome = { accepted: new Set(), refused: new Map() };
    const failures: unknown[] = [];
    const groups = batches(messages.map((message, index) => toBatchEntry(message, `m${index}`)));
    await eachInParallel(groups, PUBLISH_CONCURRENCY, async (group) => {
      try {
        await this.sendBatch(group, outcome, abort);
      } catch (error) {
        failures.push(error);
      }
    });
    if (failures.length > 0) {
      const first = failures[0] as Error;
      throw new AlertPublishError(
        `SNS PublishBatch failed for ${failures.length} of ${groups.length} batch(es): ${first.message}`,
        outcome.accepted,
        outcome.refused,
        { cause: first },
      );
    }
    return { refused: outcome.refused };
  }

  /**
   * Sends one batch. Entries SNS refuses for their content are noted as refused; entries it failed
   * otherwise (throttling, internal errors) are sent once more before giving up. A whole batch
   * refused for its content is sent entry by entry, to find the one at fault.
   */
  private async sendBatch(
    entries: readonly PublishBatchRequestEntry[],
    outcome: Outcome,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const indexOf = (id: string | undefined) => Number(id?.slice(1));
    let pending = entries;
    for (let attempt = 0; pending.length > 0; attempt++) {
      signal?.throwIfAborted();
      let response: PublishBatchCommandOutput;
      try {
        response = await this.client.send(
          new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: [...pending] }),
          { abortSignal: signal },
        );
      } catch (error) {
        if (!isContentError(error)) throw error;
        if (pending.length === 1) {
          outcome.refused.set(
            indexOf(pending[0]?.Id),
            `${(error as Error).name}: ${(error as Error).message}`,
          );
          return;
        }
        for (const entry of pending) await this.sendBatch([entry], outcome, signal);
        return;
      }
      const failed = new Map((response.Failed ?? []).map((failure) => [failure.Id, failure]));
      for (const entry of pending) {
        const failure = failed.get(entry.Id);
        if (!failure) outcome.accepted.add(indexOf(entry.Id));
        else if (failure.SenderFault && CONTENT_ERRORS.has(failure.Code ?? '')) {
          outcome.refused.set(indexOf(entry.Id), `${failure.Code}: ${failure.Message ?? ''}`.trim());
          failed.delete(entry.Id);
        }
      }
      if (failed.size === 0) return;
      if (attempt >= 1) {
        const first = [...failed.values()][0];
        throw new Error(
          `SNS refused ${failed.size} alert(s): ${first?.Code ?? 'unknown'} ${first?.Message ?? ''}`.trim(),
        );
      }
      pending = pending.filter((entry) => failed.has(entry.Id));
    }
  }
}

/**
 * The alert sink on the SNS client: the SNS client is imported here only, and this module only by
 * sns-alerts-on-demand.ts at a run's first publish, so a collector that does not publish alerts
 * never bundles it and one that does loads it only when it has alerts to send.
 */
export const snsAlerts = (topicArn: string, signal: AbortSignal | undefined): AlertSink =>
  new SnsAlerts(sns, topicArn, signal);
