import { describe, expect } from 'vitest';
import type { Simulator } from '../simulator/index';
import { refuseKeys } from '../support/failing-s3';
import { type FaultRig, faultRig } from '../support/fault-rig';
import { collectorTest } from '../support/fixtures';
import { servedPosture } from '../support/posture-served';
import { inventoryChecks, postureChecks, reportsChecks } from '../support/sdr-fault-checks';

/**
 * Fault injection against the built SaaSDR bundles (sdr-posture, sdr-inventory, sdr-reports), as
 * fault-injection.test.ts does for cdr-findings: S3 refusing each kind of object a collector writes,
 * on the first write and on a later one, SNS throttling or failing entries of posture alerts, and
 * the gateway answering 5xx or resetting connections mid-listing. After the faulty run the
 * collector runs again (at most six times) until a run ends cleanly, and the invariants of
 * test/support/sdr-fault-checks.ts hold: every record served curated once, every failing posture
 * control alerted once, no state ahead of S3 (after every run), no password or JWT anywhere.
 */

const COMMON = {
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  // One retry: a burst of three 5xx fails a call, and the next call meets the last one.
  QUALYS_MAX_RETRIES: '1',
  QUALYS_CALL_RESERVE: '0',
  SDR_MAX_CALLS_PER_RUN: '100',
  // A refused write is what the Lambda sees once the SDK's retries are spent; retrying it here only waits.
  AWS_MAX_ATTEMPTS: '1',
  POWERTOOLS_LOG_LEVEL: 'DEBUG',
};

/** The served posture is read before any fault is queued (its calls count as requests). */
const postureTest = collectorTest('sdr-posture', {
  ...COMMON,
  // Every failing control alerts, individually: one alert per failing resource.
  SDR_POSTURE_MIN_CRITICALITY: 'Low',
  SDR_POSTURE_BASELINE_SUMMARY: 'false',
  ALERT_MAX_PER_RUN: '1000',
}).extend('faults', async ({ aws, sim, lake, handlerWith }, { onCleanup }) =>
  faultRig({ aws, sim, lake, handlerWith }, onCleanup, postureChecks(lake, await servedPosture(sim))),
);

const inventoryTest = collectorTest('sdr-inventory', { ...COMMON, SDR_PAGE_SIZE: '20' }).extend(
  'faults',
  async ({ aws, sim, lake, handlerWith }, { onCleanup }) =>
    faultRig({ aws, sim, lake, handlerWith }, onCleanup, inventoryChecks(sim, lake)),
);

const REPORTS_PAGE_SIZE = 3;
const reportsTest = collectorTest('sdr-reports', {
  ...COMMON,
  SDR_PAGE_SIZE: String(REPORTS_PAGE_SIZE),
  SDR_REPORTS_MAX_PER_RUN: '20',
}).extend('faults', async ({ aws, sim, lake, handlerWith }, { onCleanup }) =>
  faultRig({ aws, sim, lake, handlerWith }, onCleanup, reportsChecks(sim, lake, REPORTS_PAGE_SIZE)),
);

/** A small tenant: a few pages per list at SDR_PAGE_SIZE 20. */
const SMALL_INVENTORY = { documents: 45, users: 30, groups: 10, applications: 12, meetings: 5 };
/** 8 reports on 3 listing pages, 6 of them completed; small files. */
const SMALL_REPORTS = { reportSizeBytes: 20_000, bigReportSizeBytes: 60_000 };

type When = readonly [string, number];
const FIRST: When = ['on the first write', 0];
const later = (passes: number): When => [`after ${passes} went through`, passes];
type Keys = string | ((key: string) => boolean);
type Case = readonly [string, Keys, readonly When[]];

/**
 * S3 refuses PUTs of `keys` (a prefix or a test) from the (passes + 1)th on, while `when()` holds:
 * the run fails, the next runs land everything once. `redelivered`: the README allows this run's
 * alerts to go out twice (the outbox could not be saved after SNS accepted them).
 */
async function refusedThenSettled(
  faults: FaultRig<{ stoppedEarly?: string }>,
  keys: Keys,
  passes: number,
  options: { when?: () => boolean; redelivered?: boolean } = {},
) {
  const { trial, s3 } = faults;
  const handler = await faults.warm();
  s3.refusePuts(refuseKeys(keys, passes, options.when));
  const first = await trial.run(await handler());
  expect(s3.refused).toBeGreaterThan(0);
  expect(first.error?.message).toBeDefined();
  s3.allow();
  await trial.settleAndCheck(handler, { redelivered: options.redelivered ? first.alertKeys : [] });
}

/** A burst of three 503s, or three connection resets, after `requests` requests of the run. */
const GATEWAY = [
  ['a burst of 503s', (sim: Simulator) => sim.control.failNext(3, 503), 'fail'],
  ['connection resets', (sim: Simulator) => sim.control.resetNext(3), 'reset'],
] as const;

/** The gateway misbehaves after `requests` requests of the run; the next runs land everything once. */
async function gatewayThenSettled(
  [, misbehave, queued]: (typeof GATEWAY)[number],
  sim: Simulator,
  faults: FaultRig<{ stoppedEarly?: string }>,
  requests: number,
) {
  const handler = await faults.warm();
  sim.control.afterRequests(requests, () => misbehave(sim));
  await faults.trial.run(await handler());
  await faults.trial.settleAndCheck(handler);
  expect(sim.control.pending()[queued]).toBe(0);
}

describe('fault injection (sdr-posture)', () => {
  const OUTBOX = 'state/sdr-posture/alert-outbox.json';
  // Per run: 2 listing pages, then 6 connector/policy pairs of 3 to 5 /reporting pages; each pair's
  // end writes the outbox (when it queued alerts), the failure state and the checkpoint.
  describe.each<Case>([
    ['a raw page (the connector list, then a /reporting page)', 'raw/sdr-posture/', [FIRST, later(7)]],
    ['a curated object', 'curated/sdr_posture/', [FIRST, later(4)]],
    ['the checkpoint', 'state/sdr-posture/checkpoint.json', [FIRST, later(6)]],
    ['the failure state', 'state/sdr-posture/failures.json', [FIRST, later(2)]],
    ['the alert outbox', OUTBOX, [FIRST]],
  ])('S3 refuses %s', (_, keys, cases) => {
    postureTest.for(cases)(
      '%s: the run fails, the next runs land everything once',
      async ([, passes], { faults }) => {
        await refusedThenSettled(faults, keys, passes);
      },
    );
  });

  postureTest(
    'S3 refuses the alert outbox after SNS accepted a round: those alerts may arrive twice, no other',
    async ({ faults }) => {
      await refusedThenSettled(faults, OUTBOX, 0, {
        when: () => faults.sns.counts.accepted > 0,
        redelivered: true,
      });
    },
  );

  postureTest(
    'SNS throttles every PublishBatch: the run fails with its alerts queued, the next run sends each once',
    async ({ faults }) => {
      const { trial, sns } = faults;
      const handler = await faults.warm();
      sns.throttle();
      const first = await trial.run(await handler());
      expect(sns.counts.throttled).toBeGreaterThan(0);
      expect(first.error?.message).toBeDefined();
      expect(first.alertKeys).toEqual([]);
      sns.allow();
      await trial.settleAndCheck(handler);
    },
  );

  postureTest(
    'SNS fails the last entries of some batches: they are sent again, none twice',
    async ({ faults }) => {
      const { trial, sns } = faults;
      const handler = await faults.warm();
      sns.failLastEntries(3, 4);
      await trial.run(await handler());
      expect(sns.counts.failedEntries).toBeGreaterThan(0);
      expect(sns.counts.unreadableAnswers).toBe(0);
      sns.allow();
      await trial.settleAndCheck(handler);
    },
  );

  // The connector and policy lists, 4 pages of the first pair: the 7th request reads the second pair.
  postureTest.for(GATEWAY)('the gateway answers %s mid-listing', async (gateway, { sim, faults }) => {
    await gatewayThenSettled(gateway, sim, faults, 6);
  });
});

describe('fault injection (sdr-inventory)', () => {
  inventoryTest.override('simulatorOptions', { sdr: SMALL_INVENTORY });

  // Per snapshot: state and manifest first, then connectors, 5 connectors' scanners, the policy
  // list, 6 policy details, then users (2 pages), groups, applications, meetings, documents (3
  // pages); the state after every page, the manifest after every list; the sdr_snapshots record last.
  describe.each<Case>([
    ['a raw page', 'raw/sdr-inventory/', [FIRST, later(19)]],
    ['a curated object', 'curated/sdr_', [FIRST, later(13)]],
    ['the state', 'state/sdr-inventory/checkpoint.json', [FIRST, later(10)]],
    ['the snapshot manifest', 'state/sdr-inventory/snapshots/', [FIRST, later(3)]],
    ['the sdr_snapshots record', 'curated/sdr_snapshots/', [FIRST]],
  ])('S3 refuses %s', (_, keys, cases) => {
    inventoryTest.for(cases)(
      '%s: the run fails, the next runs land the snapshot once',
      async ([, passes], { faults }) => {
        await refusedThenSettled(faults, keys, passes);
      },
    );
  });

  // Connectors, 5 connectors' scanners, the policy list, 6 details, users page 0: the 15th reads users page 1.
  inventoryTest.for(GATEWAY)('the gateway answers %s mid-listing', async (gateway, { sim, faults }) => {
    await gatewayThenSettled(gateway, sim, faults, 14);
  });
});

describe('fault injection (sdr-reports)', () => {
  const METADATA = '/metadata.json';
  reportsTest.override('simulatorOptions', { sdr: SMALL_REPORTS });

  // Per pass: the checkpoint, then per listing page its raw page, each completed report's file,
  // curated record and metadata (written last), then the checkpoint again.
  describe.each<Case>([
    ['a listing page', 'raw/sdr-reports/', [FIRST, later(1)]],
    ['a report file', (key) => key.startsWith('reports/') && !key.endsWith(METADATA), [FIRST, later(2)]],
    ['report metadata', (key) => key.startsWith('reports/') && key.endsWith(METADATA), [FIRST, later(2)]],
    ['a curated record', 'curated/sdr_reports/', [FIRST, later(2)]],
    ['the checkpoint', 'state/sdr-reports/checkpoint.json', [FIRST, later(1)]],
  ])('S3 refuses %s', (_, keys, cases) => {
    reportsTest.for(cases)(
      '%s: the run fails, the next runs store each report once',
      async ([, passes], { faults }) => {
        await refusedThenSettled(faults, keys, passes);
      },
    );
  });

  // Listing page 0, then the downloads of its two completed reports: the 4th request lists page 1.
  reportsTest.for(GATEWAY)('the gateway answers %s mid-listing', async (gateway, { sim, faults }) => {
    await gatewayThenSettled(gateway, sim, faults, 3);
  });
});
