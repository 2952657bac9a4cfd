import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect } from 'vitest';
import { CONNECTOR_DEFS } from '../simulator/data/sdr';
import { collectorTest } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';
import { drainAlerts, type LocalAws, type ReceivedAlert } from '../support/local-aws';
import { postureKey, type ServedPostureRow, servedPosture } from '../support/posture-served';

/**
 * What people read from the built sdr-posture bundle, on an SQS queue subscribed to the topic:
 * the first poll of each connector and policy as one summary, later failures one by one with
 * their evidence as sentences and the resource's name, subjects that keep count and level within
 * SNS's 100 characters, Athena queries on one `dt` partition, and the `rank` attribute that an
 * email subscription's filter policy (lib/constructs/alerts.ts) compares.
 */
const test = collectorTest('sdr-posture', {
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_MAX_RETRIES: '1',
  QUALYS_CALL_RESERVE: '0',
  SDR_MAX_CALLS_PER_RUN: '100',
  SDR_POSTURE_MIN_CRITICALITY: 'Low',
  ALERT_MAX_PER_RUN: '1000',
});

interface Summary {
  pollId: string;
  pollComplete: boolean;
  newFailures: number;
  baselineFailures: number;
}

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as Summary;

const RANKS: Record<string, number> = { Low: 1, Medium: 2, High: 3, Critical: 4 };
const worstOf = (rows: readonly ServedPostureRow[]) =>
  rows.reduce(
    (worst, row) => ((RANKS[row.criticality] ?? 5) > (RANKS[worst] ?? 5) ? row.criticality : worst),
    'Low',
  );

/** The poll's date, the `dt` of its partition (pollId 20250510T000000123Z). */
const dayOf = (pollId: string) => `${pollId.slice(0, 4)}-${pollId.slice(4, 6)}-${pollId.slice(6, 8)}`;

/** A queue subscribed to the lake's topic with `filterPolicy`, as an email subscription with a minimum is. */
async function filteredQueue(aws: LocalAws, topicArn: string, name: string, filterPolicy: unknown) {
  const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error('fauxqs created no queue');
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await aws.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: Attributes?.QueueArn ?? '',
      Attributes: { FilterPolicy: JSON.stringify(filterPolicy) },
    }),
  );
  return { alerts: () => drainAlerts(aws, QueueUrl) };
}

describe('sdr-posture alerts people read', () => {
  test('the first poll sends one summary per connector and policy; a later failure gets its own alert', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const served = await servedPosture(sim);
    const handler = await handlerWith();
    const first = await run(handler);
    expect(first.pollComplete).toBe(true);

    // One summary per pair with failures, none per failure. Pairs are read in listing order (as
    // served), and a resource two policies see failing is listed under the first only.
    const failingByPair = new Map<string, ServedPostureRow[]>();
    const listedBefore = new Set<string>();
    for (const row of served.filter((item) => item.result === 'Fail')) {
      if (listedBefore.has(postureKey(row))) continue;
      listedBefore.add(postureKey(row));
      const pair = `${row.connectorId}|${row.policyId}`;
      failingByPair.set(pair, [...(failingByPair.get(pair) ?? []), row]);
    }
    expect(failingByPair.size).toBeGreaterThan(1);
    const summaries = await lake.alerts();
    expect(summaries.map((alert) => alert.attributes.kind)).toEqual(summaries.map(() => 'baseline'));
    const byPair = new Map(
      summaries.map((alert) => [String(alert.chat.id).split('|').slice(0, 2).join('|'), alert]),
    );
    expect([...byPair.keys()].sort()).toEqual([...failingByPair.keys()].sort());
    expect(first.baselineFailures).toBe(listedBefore.size);

    for (const [pair, rows] of failingByPair) {
      const summary = byPair.get(pair) as ReceivedAlert;
      const worst = worstOf(rows);
      // Level and count first, whatever the connector and policy names.
      expect(summary.subject?.length).toBeLessThan(100);
      expect(summary.subject).toMatch(new RegExp(`^\\[${worst}\\] ${rows.length} failing resources? on `));
      expect(summary.attributes).toMatchObject({ criticality: worst, rank: String(RANKS[worst]) });
      expect(summary.chat.content.title.startsWith(worst === 'Critical' ? ':rotating_light: ' : ':')).toBe(
        true,
      );
      if (worst !== 'Critical') expect(summary.chat.content.title).not.toContain(':rotating_light:');
      // Every failure listed as a sentence, none as raw evidence fields.
      const listed = summary.email.split('What fails:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
      expect(listed).toHaveLength(rows.length);
      for (const line of listed)
        expect(line).toMatch(
          /^- \[\w+\] .+: ".+"( is false for .+; the control passes when it is true|: Qualys found none for .+; the control passes once there is at least one)\.$/,
        );
      expect(summary.email).not.toMatch(/evidence(Fail|Success)/);
      expect(summary.email).toContain(
        `WHERE dt = '${dayOf(first.pollId)}' AND lake_run_id = '${first.pollId}'`,
      );
    }

    // An unchanged poll sends nothing.
    await run(handler);
    expect(await lake.alerts()).toEqual([]);

    // A resource that is the SaaS subscription itself starts failing: its own alert, naming it.
    const o365 = CONNECTOR_DEFS.find((connector) => connector.type === 'OFFICE365');
    const tenantRow = served.find(
      (row) =>
        row.result === 'Pass' && row.connectorId === o365?.id && row.resourceId === o365?.subscriptionId,
    );
    if (!o365 || !tenantRow) throw new Error('the simulator serves no passing tenant-wide O365 control');
    sim.control.setControlResult(tenantRow.connectorId, tenantRow.cid, tenantRow.resourceId, 'Fail');
    const third = await run(handler);
    const [alert, ...others] = await lake.alerts();
    expect(others).toEqual([]);
    expect(alert?.attributes).toMatchObject({ kind: 'failed', alertKey: postureKey(tenantRow) });
    expect(alert?.subject).toMatch(
      new RegExp(`^\\[${tenantRow.criticality}\\] SaaS posture failed on ${o365.name}: `),
    );
    expect(alert?.subject?.length).toBeLessThan(100);
    const named = `${o365.name}'s OFFICE365 subscription (${o365.subscriptionId})`;
    expect(alert?.email).toContain(`Resource:     ${named}`);
    expect(alert?.email).toMatch(
      new RegExp(`What fails:\\n- ".+"(: Qualys found none| is false) for ${named.replace(/[()]/g, '\\$&')}`),
    );
    expect(alert?.email).toContain(
      `WHERE dt = '${dayOf(third.pollId)}' AND lake_connector_id = '${o365.id}' AND cid = '${tenantRow.cid}'`,
    );
  });

  test('an email subscription with a minimum gets only the alerts at or above it', async ({
    aws,
    sim,
    lake,
    handlerWith,
  }) => {
    const served = await servedPosture(sim);
    // The filter policy AlertTopic makes of `{ address, minSeverity: 'MEDIUM' }` (its form is asserted
    // in test/infra): the simulator's failing controls are Low and Medium.
    const mediumAndAbove = await filteredQueue(aws, lake.topicArn, `${lake.bucket}-medium`, {
      rank: [{ numeric: ['>=', 2] }],
    });
    await run(await handlerWith({ SDR_POSTURE_BASELINE_SUMMARY: 'false' }));

    const keysOf = (alerts: ReceivedAlert[]) => alerts.map((alert) => alert.attributes.alertKey).sort();
    const failing = served.filter((row) => row.result === 'Fail');
    const severe = failing.filter((row) => (RANKS[row.criticality] ?? 5) >= 2);
    expect(severe.length).toBeGreaterThan(0);
    expect(severe.length).toBeLessThan(failing.length);
    expect(keysOf(await mediumAndAbove.alerts())).toEqual([...new Set(severe.map(postureKey))].sort());
    expect(keysOf(await lake.alerts())).toEqual([...new Set(failing.map(postureKey))].sort());
  });

  test('digests keep the count and the most severe criticality at the start of the subject', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const served = await servedPosture(sim);
    await run(await handlerWith({ SDR_POSTURE_BASELINE_SUMMARY: 'false', ALERT_MAX_PER_RUN: '5' }));
    const failing = [...new Set(served.filter((row) => row.result === 'Fail').map(postureKey))];
    const [digest, ...more] = await lake.alerts();
    expect(more).toEqual([]);
    const worst = worstOf(served.filter((row) => row.result === 'Fail'));
    expect(digest?.subject).toMatch(new RegExp(`^\\[${worst}\\] ${failing.length} new SaaS posture changes`));
    expect(digest?.subject?.length).toBeLessThan(100);
    expect(digest?.attributes).toMatchObject({ criticality: worst, rank: String(RANKS[worst]) });
  });
});
