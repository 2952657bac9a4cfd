import { describe, expect, vi } from 'vitest';
import { DEFAULT_CREDENTIALS, type Simulator } from '../simulator/index';
import { faultRig } from '../support/fault-rig';
import { cdrChecks } from '../support/fault-trial';
import { collectorTest } from '../support/fixtures';

/**
 * Fault injection against the built cdr-findings bundle: a fault in S3, SNS, the Qualys gateway or
 * the secret during a run, then runs again (at most a few) until one returns cleanly, and the
 * invariants of test/support/fault-trial.ts: every finding of the window curated once, every
 * alert-worthy finding alerted once, the checkpoint never ahead of S3 (after every run), no
 * password or JWT anywhere.
 */
const HOUR = 3_600_000;
const MINUTE = 60_000;
const OUTBOX = 'state/cdr-findings/alert-outbox.json';
const JOURNAL = 'state/cdr-findings/journal/';

/**
 * Per test: the fault proxies in front of S3 (`s3`) and SNS (`sns`), the captured output, the
 * passwords used so far, the trial, and `warm(extra)`: one handler instance (one execution
 * environment) for every run of the test. Adds two findings whose severity cannot be read, so every
 * window holds UNKNOWN alerts too.
 */
const test = collectorTest('cdr-findings', {
  CDR_PAGE_SIZE: '10',
  CDR_LAG_MINUTES: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  // Individual alerts only: invariant (2) counts one alert per finding.
  ALERT_MAX_PER_RUN: '1000',
  POWERTOOLS_LOG_LEVEL: 'DEBUG',
}).extend('faults', async ({ aws, sim, lake, handlerWith }, { onCleanup }) => {
  const now = Date.now();
  sim.control.addFindings([
    { severity: null as unknown as number, timestamp: new Date(now - 3 * HOUR).toISOString() },
    { severity: 'urgent' as unknown as number, timestamp: new Date(now - 5 * HOUR).toISOString() },
  ]);
  // The first run reads CDR_INITIAL_LOOKBACK_HOURS (24) back from its start, which is after this.
  const since = new Date(now - 24 * HOUR).toISOString();
  return faultRig({ aws, sim, lake, handlerWith }, onCleanup, cdrChecks(sim, lake, since));
});

/** Refuses PUTs under `prefix` once `passes` of them went through (0: from the first). */
function refuseAfter(prefix: string, passes: number) {
  let seen = 0;
  return (path: string) => {
    if (!path.split('/').slice(2).join('/').startsWith(prefix)) return false;
    return ++seen > passes;
  };
}

describe('fault injection (cdr-findings)', () => {
  // 12 h of history at 6 an hour, inside the first 24 h window: 8 pages of 10; no late data.
  test.override('simulatorOptions', { cdr: { historyHours: 12, findingsPerHour: 6, lateFindings: 0 } });

  // Raw pages, curated objects and journal entries are written page by page; the seen index and the
  // outbox once a run, when it merges its journal (and the outbox again after each publish round).
  type When = readonly [string, number];
  const FIRST: When = ['on the first write', 0];
  const MIDDLE: When = ['on a middle page', 3];
  describe.each<[string, string, When[]]>([
    ['a raw page', 'raw/cdr-findings/', [FIRST, MIDDLE]],
    ['a curated object', 'curated/cdr_findings/', [FIRST, MIDDLE]],
    ['the page journal', JOURNAL, [FIRST, MIDDLE]],
    ['the seen index', 'state/cdr-findings/seen/', [FIRST]],
    ['the alert outbox', OUTBOX, [FIRST, ['after the first publish round', 1]]],
    ['the checkpoint', 'state/cdr-findings/checkpoint.json', [FIRST, MIDDLE]],
  ])('S3 refuses %s', (_, prefix, cases) => {
    test.for(cases)(
      '%s: the run fails, the next runs land everything once',
      async ([, passes], { faults }) => {
        const { trial, s3 } = faults;
        const handler = await faults.warm();
        s3.refusePuts(refuseAfter(prefix, passes));
        const first = await trial.run(await handler());
        expect(s3.refused).toBeGreaterThan(0);
        expect(first.error?.message).toBeDefined();
        s3.allow();
        // README "Alerts": an alert can go out twice when the outbox cannot be saved after SNS took it.
        const redelivered = prefix === OUTBOX ? first.alertKeys : [];
        await trial.settleAndCheck(handler, { redelivered });
      },
    );
  });
});

describe('fault injection (cdr-findings), SNS and the Qualys gateway', () => {
  test.override('simulatorOptions', { cdr: { historyHours: 12, findingsPerHour: 6, lateFindings: 0 } });

  test('SNS throttles every PublishBatch: the run fails with its alerts queued, the next run sends each once', async ({
    faults,
  }) => {
    const { trial, sns } = faults;
    const handler = await faults.warm();
    sns.throttle();
    const first = await trial.run(await handler());
    expect(sns.counts.throttled).toBeGreaterThan(0);
    expect(first.error?.message).toBeDefined();
    expect(first.alertKeys).toEqual([]);
    sns.allow();
    await trial.settleAndCheck(handler);
  });

  test('SNS fails the last entries of some batches: they are sent again, none twice', async ({ faults }) => {
    const { trial, sns } = faults;
    const handler = await faults.warm();
    sns.failLastEntries(3, 4);
    await trial.run(await handler());
    expect(sns.counts.failedEntries).toBeGreaterThan(0);
    expect(sns.counts.unreadableAnswers).toBe(0);
    sns.allow();
    await trial.settleAndCheck(handler);
  });

  test.for([
    ['a burst of 503s', (sim: Simulator) => sim.control.failNext(5, 503), 'fail'],
    ['connection resets', (sim: Simulator) => sim.control.resetNext(3), 'reset'],
    ['responses slower than the request timeout', (sim: Simulator) => sim.control.slowNext(2, 2_500), 'slow'],
  ] as const)('the gateway answers %s mid-run', async ([, misbehave, queued], { sim, faults }) => {
    const { trial } = faults;
    const handler = await faults.warm({ QUALYS_REQUEST_TIMEOUT_MS: '1000' });
    sim.control.afterRequests(3, () => misbehave(sim));
    await trial.run(await handler());
    expect(sim.control.pending()[queued]).toBe(0);
    await trial.settleAndCheck(handler);
  });

  test('the JWT expires mid-run: it logs in again and carries on', async ({ sim, faults }) => {
    const { trial } = faults;
    const handler = await faults.warm();
    sim.control.afterRequests(4, () => sim.control.expireTokens());
    await trial.run(await handler());
    expect(sim.stats.authCalls).toBeGreaterThanOrEqual(2);
    await trial.settleAndCheck(handler);
  });

  test('the password is rotated between runs, in Qualys before the secret: one run fails, the next logs in with the new secret', async ({
    aws,
    sim,
    lake,
    faults,
    onTestFinished,
  }) => {
    const rotated = { ...DEFAULT_CREDENTIALS, password: 'rotated-password-7f3a' };
    faults.passwords.push(rotated.password);
    const { trial } = faults;
    const handler = await faults.warm();
    const before = await trial.run(await handler());
    expect(before.summary?.stoppedEarly).toBeUndefined();

    // Ten minutes on (collector and simulator clocks), with new findings and the old JWT expired.
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    vi.setSystemTime(Date.now() + 10 * MINUTE);
    sim.control.addFindings(
      [4, 3, 1, 2].map((severity, n) => ({
        severity,
        timestamp: new Date(Date.now() - (n + 1) * MINUTE).toISOString(),
      })),
    );
    sim.control.expireTokens();
    sim.control.setCredentials(rotated);
    const refused = await trial.run(await handler());
    expect(refused.error?.message).toBeDefined();

    aws.secrets.put(`qualys-${lake.bucket}`, JSON.stringify({ baseUrl: sim.url, ...rotated }));
    const authCalls = sim.stats.authCalls;
    await trial.settleAndCheck(handler);
    expect(sim.stats.authCalls).toBeGreaterThan(authCalls);
  });
});
