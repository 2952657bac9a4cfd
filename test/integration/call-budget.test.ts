import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3LedgerStore } from '../../functions/aws/s3-ledger';
import type { CdrFindingsSummary } from '../../functions/cdr-findings/collector';
import { type FunctionName, INVENTORY_DATASETS } from '../../functions/core/names';
import { emptyLedger } from '../../functions/qualys/ledger';
import type { SdrInventorySummary } from '../../functions/sdr-inventory/collector';
import { sdrInventoryKeys } from '../../functions/sdr-inventory/keys';
import type { InventoryCheckpoint } from '../../functions/sdr-inventory/snapshot';
import type { SdrPostureSummary } from '../../functions/sdr-posture/model';
import { type Simulator, type SimulatorOptions, startSimulator } from '../simulator/index';
import { ageLedger, readLedger, writeLedger } from '../support/call-budget-ledger';
import { type ConditionalS3Proxy, startConditionalS3Proxy } from '../support/conditional-s3-proxy';
import { multiset, servedInventory, untagged } from '../support/inventory-served';
import { type Handler, lambdaContext, loadHandler } from '../support/invoke';
import {
  connectLocalAws,
  curatedRecords,
  getJson,
  type Lake,
  type LocalAws,
  lambdaEnv,
} from '../support/local-aws';
import { placed } from '../support/subscription-view';

/**
 * One call budget for every run and collector of a subscription (README, "The Qualys call
 * budget"): the built bundles against one Qualys simulator that enforces the limits across all its
 * clients, and fauxqs behind a proxy that enforces S3's conditional writes, so the ledger's
 * updates are as atomic here as in S3.
 */

const HOUR = 3_600_000;

let aws: LocalAws;
let proxy: ConditionalS3Proxy;
let sim: Simulator | undefined;
let lake: Lake;
let secretId: string;

beforeAll(async () => {
  aws = await connectLocalAws(inject('fauxqsEndpoint'));
  proxy = await startConditionalS3Proxy(aws.endpoint);
});
afterAll(async () => {
  await proxy.close();
  await aws.close();
});
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setUp(options: SimulatorOptions): Promise<Simulator> {
  const started = await startSimulator(options);
  sim = started;
  lake = await aws.createLake('call-budget');
  secretId = aws.secrets.put(
    `qualys-${lake.bucket}`,
    JSON.stringify({ baseUrl: started.url, username: 'qualys-lake-demo', password: 'demo-password' }),
  );
  return started;
}

/** A fresh execution environment of a collector, its S3 calls through the conditional-write proxy. */
const handlerFor = (name: FunctionName, extra: Record<string, string> = {}): Promise<Handler> =>
  loadHandler(
    name,
    lambdaEnv(aws, lake, secretId, {
      AWS_ENDPOINT_URL_S3: proxy.url,
      QUALYS_REQUEST_TIMEOUT_MS: '5000',
      QUALYS_CALL_RESERVE: '0',
      ...extra,
    }),
  );

const invoke = async <S>(handler: Handler, remainingMs?: number) =>
  (await handler({}, lambdaContext(remainingMs))) as S;

/** An hour passes: the simulator's window reopens, and the ledger (read by the collectors' clock) ages. */
async function nextHour(target: Simulator) {
  target.control.advanceClock(HOUR);
  await ageLedger(aws, lake.bucket, HOUR);
}

/** Another consumer takes both slots for `ms` once `calls` of ours were served; await the result for its end. */
function holdBothSlotsAfter(target: Simulator, calls: number, ms: number): { released(): Promise<void> } {
  let held: Promise<void> | undefined;
  target.control.afterRequests(calls, () => {
    held = target.control.holdSlots(2, ms);
  });
  return { released: () => held ?? Promise.reject(new Error('the other consumer never started')) };
}

/** Every curated inventory table holds exactly what the simulator serves, each record once. */
async function expectWholeTenant(target: Simulator) {
  const served = servedInventory(target.data.sdr);
  for (const table of INVENTORY_DATASETS) {
    const records = await curatedRecords(aws, lake.bucket, placed(`curated/${table}/`));
    expect(multiset(records.map(untagged)), table).toEqual(multiset(served[table]));
  }
}

describe('the S3 stand-in of these tests', () => {
  it('refuses conditional writes that lost the race, as S3 does: one of five writers of a version wins', async () => {
    await setUp({});
    const client = new S3Client({
      region: aws.region,
      endpoint: proxy.url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const store = new S3LedgerStore(client, lake.bucket);
    try {
      expect((await store.save(emptyLedger(), undefined)).ok).toBe(true);
      expect(await store.save(emptyLedger(), undefined)).toEqual({ ok: false });
      const { version } = await store.load();
      const writers = Array.from({ length: 5 }, (_, index) =>
        store.save(
          {
            inFlight: [
              {
                id: `writer-${index}`,
                collector: 'test',
                startedAt: Date.now(),
                expiresAt: Date.now() + HOUR,
              },
            ],
          },
          version,
        ),
      );
      const results = await Promise.all(writers);
      expect(results.filter((result) => result.ok)).toHaveLength(1);
      const winner = results.findIndex((result) => result.ok);
      expect((await store.load()).state.inFlight.map((call) => call.id)).toEqual([`writer-${winner}`]);
      expect(await store.save(emptyLedger(), version)).toEqual({ ok: false });
    } finally {
      client.destroy();
    }
  });
});

describe('one call budget for every run and collector', () => {
  it('collectors started at the same moment share the window and the slots: none refused, CDR gets the last calls', async () => {
    const target = await setUp({ rateLimit: { limit: 40, windowSec: 3600, concurrency: 2 }, latencyMs: 20 });
    const inventoryEnv = { QUALYS_CALL_RESERVE: '6', SDR_PAGE_SIZE: '50' };
    const postureEnv = { QUALYS_CALL_RESERVE: '3', SDR_PAGE_SIZE: '50' };
    const inventory = await handlerFor('sdr-inventory', inventoryEnv);
    const posture = await handlerFor('sdr-posture', postureEnv);
    const cdr = await handlerFor('cdr-findings');
    const conditionalPutsBefore = proxy.stats.conditionalPuts;

    const [first, poll, findings] = await Promise.all([
      invoke<SdrInventorySummary>(inventory),
      invoke<SdrPostureSummary>(posture),
      invoke<CdrFindingsSummary>(cdr),
    ]);
    expect(target.stats.rateLimited).toBe(0);
    expect(target.stats.maxConcurrent).toBeLessThanOrEqual(2);
    expect(target.stats.requests).toBeLessThanOrEqual(40);
    // The bulk collectors stop at their reserves; CDR, which reserves nothing, finishes its windows.
    expect(first.stoppedEarly).toMatch(/^call budget spent: \d+ of 40 calls left in the window \(6 reserved/);
    if (!poll.pollComplete) expect(poll.stoppedEarly).toMatch(/\(3 reserved for other collectors\)/);
    expect(findings.stoppedEarly).toBeUndefined();
    expect(findings.windows.every((window) => window.complete)).toBe(true);
    // The ledger knows exactly what the gateway has left, and no call is left in flight.
    const ledger = await readLedger(aws, lake.bucket);
    expect(ledger.gateway?.remaining).toBe(40 - target.stats.requests);
    expect(ledger.inFlight).toEqual([]);
    // Each call was recorded with a conditional write: its start, or its start and the end of the
    // call before it together when it took that call's slot over (more when runs collided).
    expect(proxy.stats.conditionalPuts - conditionalPutsBefore).toBeGreaterThanOrEqual(target.stats.requests);

    // Later windows: the two bulk collectors, again at the same moment, until both are done.
    let inventoryDone = first.completedSnapshot;
    let postureDone = poll.pollComplete;
    for (let hour = 0; hour < 6 && !(inventoryDone && postureDone); hour++) {
      await nextHour(target);
      const runs: Promise<void>[] = [];
      if (!inventoryDone) {
        const handler = await handlerFor('sdr-inventory', inventoryEnv);
        runs.push(
          invoke<SdrInventorySummary>(handler).then((summary) => {
            inventoryDone = summary.completedSnapshot;
          }),
        );
      }
      if (!postureDone) {
        const handler = await handlerFor('sdr-posture', postureEnv);
        runs.push(
          invoke<SdrPostureSummary>(handler).then((summary) => {
            postureDone = summary.pollComplete;
          }),
        );
      }
      await Promise.all(runs);
    }
    expect(inventoryDone && postureDone).toBe(true);
    expect(target.stats.rateLimited).toBe(0);
    expect(target.stats.maxConcurrent).toBeLessThanOrEqual(2);
    await expectWholeTenant(target);
  });

  it('an inventory snapshot spread over short runs: a run knows before its first call that the window is spent', async () => {
    const target = await setUp({ rateLimit: { limit: 12, windowSec: 3600, concurrency: 2 } });
    const env = { SDR_MAX_CALLS_PER_RUN: '4', SDR_PAGE_SIZE: '50' };
    const summaries: SdrInventorySummary[] = [];
    for (let runs = 0; runs < 40 && !summaries.at(-1)?.completedSnapshot; runs++) {
      const summary = await invoke<SdrInventorySummary>(await handlerFor('sdr-inventory', env));
      summaries.push(summary);
      if (/call budget spent/.test(summary.stoppedEarly ?? '')) await nextHour(target);
    }
    expect(summaries.at(-1)?.completedSnapshot).toBe(true);
    expect(target.stats.rateLimited).toBe(0);
    const blocked = summaries.filter((summary) => summary.apiCalls === 0);
    expect(blocked.length).toBeGreaterThan(0);
    for (const summary of blocked) {
      expect(summary.stoppedEarly).toMatch(
        /^call budget spent: 0 of 12 calls left in the window; the window reopens in \d+ s/,
      );
    }
    expect(new Set(summaries.map((summary) => summary.snapshotId)).size).toBe(1);
    await expectWholeTenant(target);
  });

  it('waits out another consumer holding both slots, without using up the retries, and finishes', async () => {
    const target = await setUp({ rateLimit: { limit: 1000, windowSec: 3600, concurrency: 2 } });
    // Another tool takes both slots for 4 s after our third call (the 20 s, scaled down).
    const other = holdBothSlotsAfter(target, 3, 4_000);
    const summary = await invoke<SdrInventorySummary>(
      await handlerFor('sdr-inventory', { QUALYS_MAX_RETRIES: '1', SDR_PAGE_SIZE: '50' }),
    );
    await other.released();

    expect(target.stats.otherConsumerCalls).toBe(2);
    expect(target.stats.rateLimited).toBeGreaterThan(1);
    expect(summary.stoppedEarly).toBeUndefined();
    expect(summary.completedSnapshot).toBe(true);
    await expectWholeTenant(target);
  });

  it('stops cleanly with its checkpoint when the hold outlasts QUALYS_MAX_LIMIT_WAIT_SECONDS; the next run finishes', async () => {
    const target = await setUp({ rateLimit: { limit: 1000, windowSec: 3600, concurrency: 2 } });
    const other = holdBothSlotsAfter(target, 3, 6_000);
    const env = { QUALYS_MAX_LIMIT_WAIT_SECONDS: '2', SDR_PAGE_SIZE: '50' };
    // Resolves: a stop, not a failed run.
    const stopped = await invoke<SdrInventorySummary>(await handlerFor('sdr-inventory', env));
    expect(stopped.completedSnapshot).toBe(false);
    expect(stopped.stoppedEarly).toMatch(/answered 429: rate limited .*a run waits at most 2 s/);
    const checkpoint = await getJson<InventoryCheckpoint>(aws, lake.bucket, placed(sdrInventoryKeys.state));
    expect(checkpoint.current?.snapshotId).toBe(stopped.snapshotId);
    expect(await curatedRecords(aws, lake.bucket, placed('curated/sdr_connectors/'))).toHaveLength(
      target.data.sdr.connectors.length,
    );
    await other.released();

    const resumed = await invoke<SdrInventorySummary>(await handlerFor('sdr-inventory', env));
    expect(resumed).toMatchObject({ snapshotId: stopped.snapshotId, completedSnapshot: true });
    expect(resumed.stoppedEarly).toBeUndefined();
    await expectWholeTenant(target);
  });

  it("does not let a crashed run's slots block the next run past their expiry", async () => {
    const target = await setUp({ rateLimit: { limit: 1000, windowSec: 3600, concurrency: 2 } });
    const now = Date.now();
    const crashed = (id: string, expiresAt: number) => ({
      id,
      collector: 'sdr-posture',
      startedAt: now - 40_000,
      expiresAt,
    });
    await writeLedger(aws, lake.bucket, {
      gateway: {
        limit: 1000,
        windowSec: 3600,
        remaining: 900,
        concurrencyLimit: 2,
        observedAt: now - 60_000,
        reopensAt: now + HOUR - 60_000,
      },
      inFlight: [
        crashed('long-gone', now - 5_000),
        crashed('ending-1', now + 3_000),
        crashed('ending-2', now + 3_000),
      ],
    });
    // The crashed run's last two calls are still being served for a moment.
    const serving = target.control.holdSlots(2, 1_500);

    // With 40 s left a run that waited for good would stop at its deadline instead of finishing.
    const summary = await invoke<SdrInventorySummary>(
      await handlerFor('sdr-inventory', { SDR_PAGE_SIZE: '200' }),
      40_000,
    );
    await serving;
    expect(summary.stoppedEarly).toBeUndefined();
    expect(summary.completedSnapshot).toBe(true);
    // It waited for the slots the ledger showed taken instead of calling into them.
    expect(target.stats.rateLimited).toBe(0);
    expect((await readLedger(aws, lake.bucket)).inFlight).toEqual([]);
    await expectWholeTenant(target);
  });
});
