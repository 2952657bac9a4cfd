import { PublishBatchCommand, type PublishBatchCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { SnsAlerts } from '../../../functions/aws/sns-alerts';
import { digests } from '../../../functions/core/alert-policy';
import { cdrAlertCandidate } from '../../../functions/core/cdr-alerts';
import { CdrFindingSchema } from '../../../functions/qualys/schemas';
import samplePage from '../fixtures/cdr-findings-page.json';

/**
 * BUG: SnsAlerts packs 10 entries into each PublishBatch whatever their size, but SNS refuses a
 * PublishBatch whose messages add up to more than 262,144 bytes (Amazon SNS API reference,
 * PublishBatch: BatchRequestTooLong). A digest of 500 CDR findings is about 84 KB, so a run
 * with more than 1,500 new alerts (4 digests) makes every flush fail; the outbox keeps them, the
 * next run adds more, and the alerts are never delivered.
 */
const SNS_BATCH_LIMIT_BYTES = 262_144;
const sns = mockClient(SNSClient);

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
      cdrAlertCandidate(
        { ...sample, uuid: `0000${String(n).padStart(4, '0')}-1111-2222-3333-444455556666` },
        {
          bucket: 'qualys-lake-archive',
          curatedKey: 'curated/cdr_findings/dt=2025-05-09/w-offset=0000000.json.gz',
        },
      ),
    );
    const messages = digests(candidates, {
      source: 'cdr-findings',
      noun: 'CDR findings',
      severityAttribute: 'severity',
    });

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
