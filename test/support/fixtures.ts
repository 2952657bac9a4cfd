import { expect, inject, test } from 'vitest';
import type { FunctionName } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopedGrants } from '../../functions/core/subscription';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';
import {
  DEFAULT_CREDENTIALS,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../simulator/index';
import { type Handler, loadHandler } from './invoke';
import {
  connectLocalAws,
  curatedRecords,
  drainAlerts,
  getBytes,
  getJson,
  type Lake,
  type LocalAws,
  lambdaEnv,
  listKeys,
  type ReceivedAlert,
} from './local-aws';
import { logical, placed } from './subscription-view';

/**
 * The lake of one test, with what a test reads from it: the archive bucket's keys and objects and
 * the alerts on the queue subscribed to the topic. Keys are a collector's logical keys, read in the
 * layout of the test's subscription (`default`): `keys('state/cdr-findings/')` lists
 * `state/cdr-findings/subscription=default/…` and names them without the level, and `json(key)`
 * reads the object there (a key that already has the level, as lineage fields give it, is read as it
 * is). A listing above the level (`keys()`, `keys('raw/')`) names every other key as it is in the
 * bucket. `bucketKeys` lists the bucket as it is.
 */
export interface TestLake extends Lake {
  readonly subscription: string;
  keys(prefix?: string): Promise<string[]>;
  bucketKeys(prefix?: string): Promise<string[]>;
  bytes(key: string): Promise<Uint8Array>;
  /** A JSON object, gunzipped if it is gzip. */
  json<T = unknown>(key: string): Promise<T>;
  /** Every record of every curated object under a prefix. */
  records<T = Record<string, unknown>>(prefix: string): Promise<T[]>;
  /** Receives and deletes every alert on the queue. */
  alerts(): Promise<ReceivedAlert[]>;
}

export function testLake(aws: LocalAws, lake: Lake, subscription = DEFAULT_SUBSCRIPTION): TestLake {
  return {
    ...lake,
    subscription,
    keys: async (prefix = '') =>
      (await listKeys(aws, lake.bucket, placed(prefix, subscription)))
        .map((key) => logical(key, subscription))
        .sort(),
    bucketKeys: (prefix) => listKeys(aws, lake.bucket, prefix),
    bytes: (key) => getBytes(aws, lake.bucket, placed(key, subscription)),
    json: (key) => getJson(aws, lake.bucket, placed(key, subscription)),
    records: (prefix) => curatedRecords(aws, lake.bucket, placed(prefix, subscription)),
    alerts: () => drainAlerts(aws, lake.queueUrl),
  };
}

/** Keys outside every prefix of `writes`. */
const strayKeys = (keys: readonly string[], writes: readonly string[]): string[] =>
  keys.filter((key) => !writes.some((prefix) => key.startsWith(prefix)));

/** Handler runs that returned, per lake: a run that returned has written at least its state. */
const completedRuns = new WeakMap<Lake, number>();

/**
 * The bucket after a test: every key under a prefix the collector's role may write (its
 * manifest's `writes` for the test's subscription, which the stack grants), and not empty once a
 * run has returned.
 */
async function expectOnlyWritablePrefixes(name: FunctionName, lake: TestLake): Promise<void> {
  const { write: writes } = scopedGrants(COLLECTOR_MANIFESTS[name], lake.subscription);
  const keys = await lake.bucketKeys();
  const runs = completedRuns.get(lake) ?? 0;
  if (runs > 0) {
    expect(keys, `${runs} ${name} run(s) returned, yet ${lake.bucket} holds no object`).not.toEqual([]);
  }
  expect(
    strayKeys(keys, writes),
    `${name} wrote keys outside the prefixes its role may write (${writes.join(', ')})`,
  ).toEqual([]);
}

/**
 * A Qualys simulator started with the test's `simulatorOptions` (set them with
 * `test.override('simulatorOptions', …)` in a describe), closed after the test.
 */
async function startSim(
  { simulatorOptions }: { simulatorOptions: SimulatorOptions },
  { onCleanup }: { onCleanup(cleanup: () => Promise<void>): void },
): Promise<Simulator> {
  const sim = await startSimulator(simulatorOptions);
  onCleanup(() => sim.close());
  return sim;
}

/** A test with a simulator, `sim`: for unit tests that run a collector against it in memory. */
export const simulatorTest = test
  .extend<'simulatorOptions', SimulatorOptions>('simulatorOptions', {})
  .extend('sim', startSim);

/**
 * The integration-test setup of one collector Lambda, as vitest fixtures: the local AWS clients
 * (`aws`, one per file, on the fauxqs of globalSetup) and per test a `lake`, a simulator (`sim`, as
 * in `simulatorTest`), the Qualys secret pointing at it (`secretId`), the Lambda's environment
 * (`env(extra)`, `extra` over `defaults`) and a fresh instance of the built handler
 * (`handlerWith(extra)`). After each test the simulator is closed and the lake is checked: every
 * key must fall under a prefix the collector's role may write.
 *
 * Fixtures are resolved in the order registered below and torn down in reverse, so the lake is
 * checked last: a failing check cannot leave the simulator running.
 */
export function collectorTest(name: FunctionName, defaults: Record<string, string> = {}) {
  return (
    test
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
      .extend('aws', { scope: 'file' }, async ({}, { onCleanup }) => {
        const aws = await connectLocalAws(inject('fauxqsEndpoint'));
        onCleanup(() => aws.close());
        return aws;
      })
      .extend('lake', async ({ aws }, { onCleanup }) => {
        const lake = testLake(aws, await aws.createLake(name));
        onCleanup(() => expectOnlyWritablePrefixes(name, lake));
        return lake;
      })
      .extend<'simulatorOptions', SimulatorOptions>('simulatorOptions', {})
      .extend('sim', startSim)
      .extend('secretId', ({ aws, lake, sim }) =>
        aws.secrets.put(
          `qualys-${lake.bucket}`,
          JSON.stringify({ baseUrl: sim.url, ...DEFAULT_CREDENTIALS }),
        ),
      )
      // The collector's defaults under each call's `extra`: the settings of one call never reach the next.
      .extend(
        'env',
        ({ aws, lake, secretId }) =>
          (extra: Record<string, string> = {}) =>
            lambdaEnv(aws, lake, secretId, { ...defaults, ...extra }),
      )
      // A fresh (cold) instance of the built bundle, as a new execution environment would load it.
      .extend(
        'handlerWith',
        ({ lake, env }) =>
          async (extra: Record<string, string> = {}): Promise<Handler> => {
            const loaded = await loadHandler(name, env(extra));
            return async (event, context) => {
              const result = await loaded(event, context);
              completedRuns.set(lake, (completedRuns.get(lake) ?? 0) + 1);
              return result;
            };
          },
      )
  );
}
