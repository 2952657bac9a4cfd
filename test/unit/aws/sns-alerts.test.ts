import 'aws-sdk-client-mock-vitest/extend';
import {
  PublishBatchCommand,
  type PublishBatchCommandInput,
  SNSClient,
  SNSServiceException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { PUBLISH_CONCURRENCY, SnsAlerts } from '../../../functions/aws/sns-alerts';
import { cdrAlertCandidate } from '../../../functions/cdr-findings/alerts';
import { digests, settle } from '../../../functions/core/alerts/digest';
import { type AlertMessage, AlertPublishError } from '../../../functions/core/ports';
import { CdrFindingSchema } from '../../../functions/qualys/schemas';
import samplePage from '../../support/fixtures/cdr-findings-page.json';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:qualys-lake-alerts';
const sns = mockClient(SNSClient);

function message(n: number): AlertMessage {
  return {
    subject: `[HIGH] CDR finding ${n}`,
    email: `Finding ${n}\nSecond line`,
    chat: {
      version: '1.0',
      source: 'custom',
      id: `uuid-${n}`,
      content: { textType: 'client-markdown', title: `Finding ${n}`, description: `*Cloud:* AWS \`${n}\`` },
    },
    attributes: { source: 'cdr-findings', severity: 'HIGH', alertKey: `uuid-${n}` },
  };
}

const inputs = (): PublishBatchCommandInput[] =>
  sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input);
const allSucceed = (input: PublishBatchCommandInput) => ({
  Successful: (input.PublishBatchRequestEntries ?? []).map((entry) => ({
    Id: entry.Id,
    MessageId: `msg-${entry.Id}`,
  })),
  Failed: [],
});

describe('SnsAlerts', () => {
  beforeEach(() => {
    sns.reset();
  });

  const alerts = () => new SnsAlerts(new SNSClient({ region: 'us-east-1' }), TOPIC);

  it('publishes 23 alerts in batches of 10, 10 and 3 to the topic', async () => {
    sns.on(PublishBatchCommand).callsFake(allSucceed);
    await alerts().publish(Array.from({ length: 23 }, (_, n) => message(n)));

    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 3);
    expect(inputs().map((input) => input.PublishBatchRequestEntries?.length)).toEqual([10, 10, 3]);
    expect(inputs().every((input) => input.TopicArn === TOPIC)).toBe(true);
    const ids = inputs().flatMap((input) => input.PublishBatchRequestEntries?.map((entry) => entry.Id) ?? []);
    expect(new Set(ids).size).toBe(23);
  });

  it('sends each alert as a JSON message: Chatbot JSON by default, plain text by email', async () => {
    sns.on(PublishBatchCommand).callsFake(allSucceed);
    const sent = message(7);
    await alerts().publish([sent]);

    const entry = inputs()[0]?.PublishBatchRequestEntries?.[0];
    expect(entry?.MessageStructure).toBe('json');
    expect(entry?.Subject).toBe(sent.subject);
    const body = JSON.parse(entry?.Message ?? '{}') as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['default', 'email']);
    expect(body.default).toBe(JSON.stringify(sent.chat));
    expect(JSON.parse(body.default as string)).toEqual(sent.chat);
    expect(body.email).toBe(sent.email);
    expect(entry?.MessageAttributes).toEqual({
      source: { DataType: 'String', StringValue: 'cdr-findings' },
      severity: { DataType: 'String', StringValue: 'HIGH' },
      alertKey: { DataType: 'String', StringValue: 'uuid-7' },
    });
  });

  it('sends the entries SNS failed once more, and only those', async () => {
    sns
      .on(PublishBatchCommand)
      .callsFakeOnce((input: PublishBatchCommandInput) => ({
        Successful: [],
        Failed: (input.PublishBatchRequestEntries ?? [])
          .filter((entry) => entry.Id === 'm1' || entry.Id === 'm3')
          .map((entry) => ({ Id: entry.Id, Code: 'Throttled', SenderFault: false })),
      }))
      .callsFake(allSucceed);

    await alerts().publish([message(0), message(1), message(2), message(3)]);
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 2);
    expect(
      inputs()[1]?.PublishBatchRequestEntries?.map((entry) => JSON.parse(entry.Message ?? '').email),
    ).toEqual([message(1).email, message(3).email]);
  });

  it('fails, naming the SNS error, when an entry fails twice', async () => {
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
      Successful: [],
      Failed: (input.PublishBatchRequestEntries ?? []).map((entry) => ({
        Id: entry.Id,
        Code: 'InternalError',
        Message: 'try later',
        SenderFault: false,
      })),
    }));

    await expect(alerts().publish([message(0), message(1)])).rejects.toThrow(/InternalError/);
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 2);
  });

  it('fails when SNS rejects the call', async () => {
    sns.on(PublishBatchCommand).rejects(new Error('AuthorizationError'));
    await expect(alerts().publish([message(0)])).rejects.toThrow('AuthorizationError');
  });

  it('names the alerts SNS accepted before a failure, so they are not sent again', async () => {
    sns.on(PublishBatchCommand).resolvesOnce({ Successful: [], Failed: [] }).rejects(new Error('Throttling'));
    const messages = Array.from({ length: 13 }, (_, index) => message(index));
    const error = await alerts()
      .publish(messages)
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AlertPublishError);
    expect([...(error as AlertPublishError).accepted].sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
  });

  it('publishes nothing for no alerts', async () => {
    await alerts().publish([]);
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 0);
  });
});

const failEntries =
  (ids: readonly string[], failure: { Code: string; Message?: string; SenderFault: boolean }) =>
  (input: PublishBatchCommandInput) => ({
    Successful: (input.PublishBatchRequestEntries ?? [])
      .filter((entry) => !ids.includes(entry.Id ?? ''))
      .map((entry) => ({ Id: entry.Id, MessageId: `msg-${entry.Id}` })),
    Failed: (input.PublishBatchRequestEntries ?? [])
      .filter((entry) => ids.includes(entry.Id ?? ''))
      .map((entry) => ({ Id: entry.Id, ...failure })),
  });

const snsError = (name: string, fault: 'client' | 'server' = 'client') =>
  new SNSServiceException({ name, $fault: fault, $metadata: { httpStatusCode: 400 }, message: `${name}!` });

const entryIds = (input: PublishBatchCommandInput | undefined) =>
  input?.PublishBatchRequestEntries?.map((entry) => entry.Id);

describe('SnsAlerts when SNS refuses or fails alerts', () => {
  beforeEach(() => {
    sns.reset();
  });

  const alerts = (signal?: AbortSignal) =>
    new SnsAlerts(new SNSClient({ region: 'us-east-1' }), TOPIC, signal);

  it('names an entry SNS refuses for its content, never sends it again, and delivers the rest', async () => {
    sns
      .on(PublishBatchCommand)
      .callsFake(
        failEntries(['m1'], { Code: 'InvalidParameter', Message: 'Message too long', SenderFault: true }),
      );
    const result = await alerts().publish([message(0), message(1), message(2)]);
    expect(result.refused).toEqual(new Map([[1, 'InvalidParameter: Message too long']]));
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 1);
  });

  it('keeps a throttled entry for the next run after one more try, naming what was delivered', async () => {
    sns.on(PublishBatchCommand).callsFake(failEntries(['m2'], { Code: 'Throttled', SenderFault: false }));
    const error = await alerts()
      .publish([message(0), message(1), message(2)])
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AlertPublishError);
    expect([...(error as AlertPublishError).accepted].sort()).toEqual([0, 1]);
    expect((error as AlertPublishError).refused.size).toBe(0);
    expect(inputs().map(entryIds)).toEqual([['m0', 'm1', 'm2'], ['m2']]);
  });

  it('sends a batch SNS refuses as a whole for its content entry by entry, to find the one at fault', async () => {
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => {
      if (entryIds(input)?.includes('m1')) throw snsError('InvalidParameter');
      return allSucceed(input);
    });
    const result = await alerts().publish([message(0), message(1), message(2)]);
    expect([...result.refused.keys()]).toEqual([1]);
    expect(result.refused.get(1)).toMatch(/^InvalidParameter/);
    expect(inputs().map(entryIds)).toEqual([['m0', 'm1', 'm2'], ['m0'], ['m1'], ['m2']]);
  });

  it('refuses nothing on a permission or KMS error: the alerts stay for the next run', async () => {
    sns.on(PublishBatchCommand).rejects(snsError('AuthorizationError'));
    const error = await alerts()
      .publish([message(0)])
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AlertPublishError);
    expect((error as AlertPublishError).refused.size).toBe(0);
    expect((error as AlertPublishError).accepted.size).toBe(0);
  });

  it('passes the invocation abort signal and the publish window to every PublishBatch', async () => {
    sns.on(PublishBatchCommand).callsFake(allSucceed);
    const invocation = new AbortController();
    const window = new AbortController();
    await alerts(invocation.signal).publish(
      Array.from({ length: 12 }, (_, n) => message(n)),
      window.signal,
    );
    const signals = sns
      .commandCalls(PublishBatchCommand)
      .map((call) => (call.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined);
    expect(signals).toHaveLength(2);
    invocation.abort();
    for (const options of signals) expect(options?.abortSignal?.aborted).toBe(true);
  });

  it('stops sending once the signal is aborted', async () => {
    const invocation = new AbortController();
    invocation.abort();
    const error = await alerts(invocation.signal)
      .publish([message(0)])
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AlertPublishError);
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 0);
  });

  it(`sends batches in parallel, at most ${PUBLISH_CONCURRENCY} at a time`, async () => {
    let inFlight = 0;
    let most = 0;
    const waiting: Array<() => void> = [];
    sns.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return allSucceed(input);
    });
    const publishing = alerts().publish(Array.from({ length: 80 }, (_, n) => message(n)));
    for (
      let round = 0;
      round < 100 && !(await Promise.race([publishing.then(() => true), tick()]));
      round++
    ) {
      for (const resolve of waiting.splice(0)) resolve();
    }
    await publishing;
    expect(most).toBe(PUBLISH_CONCURRENCY);
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 8);
  });
});

/** Resolves false after the current macrotask, so queued sends can start. */
const tick = () => new Promise<false>((resolve) => setImmediate(() => resolve(false)));

// SNS refuses a PublishBatch over 262,144 bytes in all (API reference, PublishBatch:
// BatchRequestTooLong): large digests must be split by size as well as by count.
const SNS_BATCH_LIMIT_BYTES = 262_144;

const entryBytes = (input: PublishBatchCommandInput) =>
  (input.PublishBatchRequestEntries ?? []).reduce(
    (sum, entry) =>
      sum +
      Buffer.byteLength(entry.Message ?? '') +
      Object.entries(entry.MessageAttributes ?? {}).reduce(
        (bytes, [name, value]) =>
          bytes +
          Buffer.byteLength(name) +
          Buffer.byteLength(value.DataType ?? '') +
          Buffer.byteLength(value.StringValue ?? ''),
        0,
      ),
    0,
  );

describe('SnsAlerts with large digests', () => {
  it('keeps every PublishBatch call under the SNS aggregate size limit', async () => {
    sns.reset();
    sns.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
      Successful: (input.PublishBatchRequestEntries ?? []).map((entry) => ({ Id: entry.Id, MessageId: 'x' })),
      Failed: [],
    }));
    const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
    const candidates = Array.from({ length: 2000 }, (_, n) =>
      settle(
        cdrAlertCandidate(
          { ...sample, uuid: `0000${String(n).padStart(4, '0')}-1111-2222-3333-444455556666` },
          {
            bucket: 'qualys-lake-archive',
            curatedKey: 'curated/cdr_findings/dt=2025-05-09/w-offset=0000000.json.gz',
          },
        ),
      ),
    );
    const messages = digests(candidates, {
      source: 'cdr-findings',
      noun: 'CDR findings',
      severityAttribute: 'severity',
    }).map((digest) => digest.message);

    await new SnsAlerts(
      new SNSClient({ region: 'us-east-1' }),
      'arn:aws:sns:us-east-1:123456789012:alerts',
    ).publish(messages);

    const calls = sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input);
    const published = calls.flatMap((input) => input.PublishBatchRequestEntries ?? []);
    expect(published).toHaveLength(messages.length);
    for (const input of calls) expect(entryBytes(input)).toBeLessThanOrEqual(SNS_BATCH_LIMIT_BYTES);
  });
});
