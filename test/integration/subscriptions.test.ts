import { describe, expect, inject, test } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { FunctionName } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { sdrPostureKeys } from '../../functions/sdr-posture/keys';
import { DEFAULT_CREDENTIALS, type Simulator, startSimulator } from '../simulator/index';
import { ledgerKey, readLedger } from '../support/call-budget-ledger';
import { type TestLake, testLake } from '../support/fixtures';
import { lambdaContext, loadHandler } from '../support/invoke';
import { connectLocalAws, type LocalAws, lambdaEnv } from '../support/local-aws';
import { failingKeys, postureKey, servedPosture } from '../support/posture-served';
import { RUN_ENV as ENV } from '../support/subscription-view';

/**
 * Two subscriptions in one deployment: each served by its own Qualys (two simulators with other
 * data), one function per subscription x collector, one bucket and one topic for all. Each
 * subscription's objects are under its own `subscription=` level and hold exactly its own data.
 */
const SUBSCRIPTIONS = ['acme', 'globex'] as const;
type Subscription = (typeof SUBSCRIPTIONS)[number];

interface Deployment {
  aws: LocalAws;
  /** The bucket and topic, seen as a whole. */
  lake: TestLake;
  sims: Record<Subscription, Simulator>;
  run(name: FunctionName, subscription: Subscription): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function deploy(): Promise<Deployment> {
  const aws = await connectLocalAws(inject('fauxqsEndpoint'));
  const shared = await aws.createLake('subscriptions');
  const sims = {
    acme: await startSimulator({ seed: 101 }),
    globex: await startSimulator({ seed: 202 }),
  };
  const secrets = Object.fromEntries(
    SUBSCRIPTIONS.map((subscription) => [
      subscription,
      aws.secrets.put(
        `qualys-lake/${subscription}`,
        JSON.stringify({ baseUrl: sims[subscription].url, ...DEFAULT_CREDENTIALS }),
      ),
    ]),
  ) as Record<Subscription, string>;
  return {
    aws,
    lake: testLake(aws, shared),
    sims,
    async run(name, subscription) {
      const env = lambdaEnv(aws, shared, secrets[subscription], {
        ...ENV,
        QUALYS_SUBSCRIPTION: subscription,
      });
      const handler = await loadHandler(name, env);
      return (await handler({}, lambdaContext())) as Record<string, unknown>;
    },
    async close() {
      await Promise.all(Object.values(sims).map((sim) => sim.close()));
      await aws.close();
    },
  };
}

const level = (subscription: string) => `${SUBSCRIPTION_PARTITION}=${subscription}`;

describe('two subscriptions in one bucket and one topic', () => {
  test('each lands its own data once under its own level, with its own state, ledger and alerts', async ({
    onTestFinished,
  }) => {
    const deployment = await deploy();
    onTestFinished(() => deployment.close());
    const { aws, lake, sims } = deployment;
    const views = Object.fromEntries(
      SUBSCRIPTIONS.map((subscription) => [subscription, testLake(aws, lake, subscription)]),
    ) as Record<Subscription, TestLake>;

    const windows = {} as Record<Subscription, { startAt: string; endAt: string }>;
    for (const subscription of SUBSCRIPTIONS) {
      const cdr = (await deployment.run('cdr-findings', subscription)) as {
        windows: Array<{ startAt: string; endAt: string }>;
      };
      expect(cdr.windows).toHaveLength(1);
      windows[subscription] = cdr.windows[0] as { startAt: string; endAt: string };
      await deployment.run('sdr-posture', subscription);
    }

    // Every object is under a subscription level of one of the two; nothing else is in the bucket.
    const keys = await lake.bucketKeys();
    expect(keys.length).toBeGreaterThan(0);
    const owner = (key: string) =>
      SUBSCRIPTIONS.find((subscription) => key.split('/')[2] === level(subscription));
    expect(keys.filter((key) => owner(key) === undefined)).toEqual([]);

    const cdrOf = {} as Record<Subscription, Set<string>>;
    for (const subscription of SUBSCRIPTIONS) {
      const view = views[subscription];
      const sim = sims[subscription];
      const window = windows[subscription];
      const checkpoint = await view.json<{ watermark: string }>(cdrFindingsKeys.checkpoint);
      expect(checkpoint.watermark).toBe(window.endAt);

      // CDR: exactly this subscription's findings of its window, each once, with its own lineage.
      const records = await view.records<{ uuid: string; lake_raw_key: string }>('curated/cdr_findings/');
      const served = sim.data.findings().filter((finding) => {
        const at = Date.parse(finding.timestamp);
        return at >= Date.parse(window.startAt) && at <= Date.parse(window.endAt);
      });
      expect(served.length).toBeGreaterThan(0);
      expect(records.map((record) => record.uuid).sort()).toEqual(
        served.map((finding) => finding.uuid).sort(),
      );
      cdrOf[subscription] = new Set(records.map((record) => record.uuid));
      const rawKeys = new Set(await lake.bucketKeys(`raw/cdr-findings/${level(subscription)}/`));
      for (const record of records) expect(rawKeys.has(record.lake_raw_key), record.lake_raw_key).toBe(true);

      // Posture: every served control x resource of its own tenant, each once.
      const truth = await servedPosture(sim);
      const rows = await view.records<{ connectorId: unknown; cid: unknown; resourceId: unknown }>(
        'curated/sdr_posture/',
      );
      expect(rows.map(postureKey).sort()).toEqual(truth.map(postureKey).sort());
      expect(await view.keys(sdrPostureKeys.checkpoint)).toEqual([sdrPostureKeys.checkpoint]);
      expect(
        Object.keys((await view.json<{ failures: object }>(sdrPostureKeys.failures)).failures).sort(),
      ).toEqual(failingKeys(truth));

      // Its own call-budget ledger, and no shared one.
      const ledger = await readLedger(aws, lake.bucket, subscription);
      expect(ledger.gateway ?? ledger.inFlight).toBeDefined();
      expect(keys).toContain(ledgerKey(subscription));
    }
    expect(keys).not.toContain('state/qualys/call-budget.json');
    // The two tenants differ: neither subscription holds the other's findings.
    expect([...cdrOf.acme].filter((uuid) => cdrOf.globex.has(uuid))).toEqual([]);

    // Every alert names its subscription: the attribute, and one line of the text.
    const alerts = await lake.alerts();
    expect(alerts.length).toBeGreaterThan(0);
    for (const alert of alerts) {
      const subscription = alert.attributes.subscription as Subscription;
      expect(SUBSCRIPTIONS).toContain(subscription);
      expect(alert.email.split('\n')[0]).toBe(`Qualys subscription: ${subscription}`);
      expect(alert.chat.content.description).toContain(`*Qualys subscription:* ${subscription}`);
      if (alert.attributes.source === 'cdr-findings') {
        expect(cdrOf[subscription].has(alert.attributes.alertKey ?? '')).toBe(true);
        expect(alert.email).toContain(`s3://${lake.bucket}/curated/cdr_findings/${level(subscription)}/`);
      }
    }
    for (const subscription of SUBSCRIPTIONS) {
      const sources = new Set(
        alerts
          .filter((alert) => alert.attributes.subscription === subscription)
          .map((alert) => alert.attributes.source),
      );
      expect(sources).toEqual(new Set(['cdr-findings', 'sdr-posture']));
    }
  });
});
