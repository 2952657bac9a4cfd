import 'aws-sdk-client-mock-vitest/extend';
import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { snsAlertsOnDemand } from '../../../functions/aws/sns-alerts-on-demand';
import { type AlertMessage, AlertPublishError } from '../../../functions/core/ports';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:qualys-lake-alerts';
const sns = mockClient(SNSClient);

const message = (n: number): AlertMessage => ({
  subject: `[HIGH] CDR finding ${n}`,
  email: `Finding ${n}`,
  chat: {
    version: '1.0',
    source: 'custom',
    id: `uuid-${n}`,
    content: { textType: 'client-markdown', title: `Finding ${n}`, description: `${n}` },
  },
  attributes: { source: 'cdr-findings', severity: 'HIGH', alertKey: `uuid-${n}` },
});

describe('snsAlertsOnDemand', () => {
  beforeEach(() => {
    sns.reset();
  });

  it('publishes to the topic through the SNS adapter once loaded, and says what SNS refused', async () => {
    sns.on(PublishBatchCommand).resolves({
      Successful: [{ Id: 'm0', MessageId: 'msg-0' }],
      Failed: [{ Id: 'm1', Code: 'InvalidParameter', SenderFault: true, Message: 'too long' }],
    });
    const { refused } = await snsAlertsOnDemand(TOPIC, undefined).publish([message(0), message(1)]);

    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishBatchCommand, { TopicArn: TOPIC });
    expect([...refused]).toEqual([[1, 'InvalidParameter: too long']]);
  });

  it("stops with the invocation's abort signal, before anything is sent", async () => {
    sns.on(PublishBatchCommand).resolves({ Successful: [], Failed: [] });
    const invocation = new AbortController();
    invocation.abort();

    await expect(snsAlertsOnDemand(TOPIC, invocation.signal).publish([message(0)])).rejects.toThrow(
      AlertPublishError,
    );
    expect(sns).toHaveReceivedCommandTimes(PublishBatchCommand, 0);
  });
});
