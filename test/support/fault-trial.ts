import { gunzipSync } from 'node:zlib';
import { expect, vi } from 'vitest';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import type { CdrCheckpoint } from '../../functions/cdr-findings/windows';
import type { CdrFinding } from '../simulator/data/cdr';
import type { Simulator } from '../simulator/index';
import type { TestLake } from './fixtures';
import { type Handler, lambdaContext } from './invoke';
import type { ReceivedAlert } from './local-aws';

/**
 * Runs of a built collector bundle under injected faults, and the invariants that must hold
 * whatever the fault: every record served is curated once, every alert-worthy one alerts once and
 * nothing else does, the collector's state never claims data that is not in S3 (checked after
 * every run), and no password or JWT reaches a log line, an object or an alert. The trial is
 * generic ({@link collectorTrial}); each collector brings its own {@link TrialChecks}
 * (cdr-findings: {@link cdrChecks}; the SaaSDR collectors: sdr-fault-checks.ts).
 */
export interface RunSummary {
  windows: Array<{ startAt: string; endAt: string; complete: boolean }>;
  stoppedEarly?: string;
}

export type Outcome<S = RunSummary> = (
  | { summary: S; error?: undefined }
  | { summary?: undefined; error: Error }
) & {
  /** The alertKeys of the alerts this run published. */
  alertKeys: string[];
};

export interface SettleOptions {
  /** At most this many runs after the faulty one (default 6). */
  maxRuns?: number;
  /**
   * Alerts the README allows to go out twice (an S3 write failing between publishing them and
   * saving the outbox): each may arrive at most twice; every other alert exactly once.
   */
  redelivered?: readonly string[];
}

export interface FaultTrial<S = RunSummary> {
  /** One run: its outcome, the alerts it published (drained) and the state check. */
  run(handler: Handler): Promise<Outcome<S>>;
  /**
   * Runs `handler()` again, at most `maxRuns` times, until a run returns settled (by default:
   * without stopping early), then checks every invariant. Returns the runs it took.
   */
  settleAndCheck(handler: () => Promise<Handler>, options?: SettleOptions): Promise<number>;
  /** Every log line and error written so far. */
  readonly output: string[];
}

/** What one collector's trial checks. */
export interface TrialChecks<S> {
  /** (3) After every run: nothing the collector's state claims is read is missing from S3. */
  stateBacked(alerts: readonly ReceivedAlert[]): Promise<void>;
  /** Whether a run that returned `summary` ends the trial; default: it did not stop early. */
  settled?(summary: S): boolean;
  /** (1) and (2) once settled: the data landed once; each alert of the trial went out once. */
  landed(alerts: readonly ReceivedAlert[], redelivered: readonly string[]): Promise<void>;
}

/** The key an alert is counted by: its alertKey, or `(a digest)`. */
export const alertKeyOf = (alert: ReceivedAlert) => alert.attributes.alertKey ?? '(a digest)';

/**
 * (2) Each of `expected` alerted exactly once (those in `redelivered` at most twice), nothing else,
 * and no digest.
 */
export function expectAlertedOnce(
  alerts: readonly ReceivedAlert[],
  expected: readonly string[],
  redelivered: readonly string[],
): void {
  const times = new Map<string, number>();
  for (const key of alerts.map(alertKeyOf)) times.set(key, (times.get(key) ?? 0) + 1);
  const twice = [...times].filter(([key, count]) => count > (redelivered.includes(key) ? 2 : 1));
  expect(twice, 'alerts sent more often than allowed').toEqual([]);
  expect([...times.keys()].sort()).toEqual([...expected].sort());
}

const CHECKPOINT_SLOTS = ['pending', 'settling', 'reconciling'] as const;

/**
 * Alert-worthy at ALERT_MIN_SEVERITY=HIGH (the default): severity 3 or 4, and any severity
 * qualys-lake cannot read, which alerts as UNKNOWN whatever the minimum (README "Severity mapping").
 */
export function alertWorthy(finding: CdrFinding): boolean {
  const severity = finding.severity as unknown;
  const readable =
    typeof severity === 'number' && Number.isInteger(severity) && severity >= 1 && severity <= 4;
  return !readable || severity >= 3;
}

/** The API's order within a window: timestamp desc, then uuid asc (test/simulator/README.md). */
const apiOrder = (a: CdrFinding, b: CdrFinding) =>
  Date.parse(b.timestamp) - Date.parse(a.timestamp) || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);

const between = (findings: CdrFinding[], startAt: string, endAt: string) =>
  findings.filter((finding) => {
    const at = Date.parse(finding.timestamp);
    return at >= Date.parse(startAt) && at <= Date.parse(endAt);
  });

/** Captures stdout and stderr (Powertools logs there) until the returned function is called. */
export function captureOutput(output: string[]): () => void {
  const capture = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  return () => {
    stdout.mockRestore();
    stderr.mockRestore();
  };
}

const text = (bytes: Uint8Array) =>
  bytes[0] === 0x1f && bytes[1] === 0x8b
    ? gunzipSync(bytes).toString('utf8')
    : Buffer.from(bytes).toString('utf8');

/** (4) No password of `passwords` nor any JWT the simulator issued in the output, an alert or an object. */
async function expectNoSecrets(
  sim: Simulator,
  lake: TestLake,
  output: readonly string[],
  alerts: readonly ReceivedAlert[],
  passwords: readonly string[],
): Promise<void> {
  const tokens = sim.data.issuedTokens();
  expect(tokens.length).toBeGreaterThan(0);
  expect(passwords.length).toBeGreaterThan(0);
  expect(output.join('').length).toBeGreaterThan(0);
  const haystacks = [output.join('\n'), ...alerts.map((alert) => JSON.stringify(alert))];
  for (const key of await lake.keys()) haystacks.push(`${key}\n${text(await lake.bytes(key))}`);
  for (const haystack of haystacks) {
    for (const secret of [...passwords, ...tokens]) {
      expect(haystack.includes(secret), `a secret in: ${haystack.slice(0, 200)}`).toBe(false);
    }
  }
}

/**
 * A trial of one collector against `sim` and `lake`, judged by `checks`. `secrets()` lists every
 * password the trial used (rotations included): none may appear anywhere. The caller captures the
 * output (see {@link captureOutput}).
 */
export function collectorTrial<S extends { stoppedEarly?: string }>(
  sim: Simulator,
  lake: TestLake,
  options: { output: string[]; secrets: () => string[]; checks: TrialChecks<S> },
): FaultTrial<S> {
  const { output, secrets, checks } = options;
  const settled = checks.settled ?? ((summary: S) => !summary.stoppedEarly);
  const alerts: ReceivedAlert[] = [];

  async function run(handler: Handler): Promise<Outcome<S>> {
    let result: { summary: S } | { error: Error };
    try {
      result = { summary: (await handler({}, lambdaContext())) as S };
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      output.push(failure.message, String(failure.stack));
      result = { error: failure };
    }
    const published = await lake.alerts();
    alerts.push(...published);
    await checks.stateBacked(alerts);
    return { ...result, alertKeys: published.map(alertKeyOf) };
  }

  return {
    output,
    run,
    async settleAndCheck(handler, { maxRuns = 6, redelivered = [] } = {}) {
      for (let attempt = 1; attempt <= maxRuns; attempt++) {
        const outcome = await run(await handler());
        if (outcome.summary && settled(outcome.summary)) {
          await checks.landed(alerts, redelivered);
          await expectNoSecrets(sim, lake, output, alerts, secrets());
          return attempt;
        }
      }
      throw new Error(`the collector did not recover in ${maxRuns} runs`);
    },
  };
}

/**
 * The invariants of a cdr-findings trial. The window they cover starts at `since` (at or before the
 * first run's first window: the first run reads CDR_INITIAL_LOOKBACK_HOURS back) and ends at the
 * checkpoint's watermark.
 */
export function cdrChecks(sim: Simulator, lake: TestLake, since: string): TrialChecks<RunSummary> {
  const curatedUuids = async () =>
    (await lake.records<{ uuid: string }>('curated/cdr_findings/')).map((record) => record.uuid);

  /** (3) Nothing the checkpoint says is read is missing from the curated objects. */
  async function expectCheckpointBacked(): Promise<void> {
    const keys = await lake.keys(cdrFindingsKeys.checkpoint);
    if (keys.length === 0) return;
    const checkpoint = await lake.json<CdrCheckpoint>(cdrFindingsKeys.checkpoint);
    const planned = CHECKPOINT_SLOTS.flatMap((slot) => (checkpoint[slot] ? [checkpoint[slot]] : []));
    const served = sim.data.findings();
    const claimed = checkpoint.watermark ? between(served, since, checkpoint.watermark) : [];
    for (const window of planned) {
      claimed.push(
        ...between(served, window.startAt, window.endAt).sort(apiOrder).slice(0, window.nextCursor),
      );
    }
    const curated = new Set(await curatedUuids());
    const missing = claimed.filter((finding) => !curated.has(finding.uuid)).map((finding) => finding.uuid);
    expect(missing, `the checkpoint ${JSON.stringify(checkpoint)} claims findings not curated`).toEqual([]);
  }

  async function expectLanded(alerts: readonly ReceivedAlert[], redelivered: readonly string[]) {
    const checkpoint = await lake.json<CdrCheckpoint>(cdrFindingsKeys.checkpoint);
    if (!checkpoint.watermark) throw new Error('no window was completed');
    const served = between(sim.data.findings(), since, checkpoint.watermark);
    const worthy = served.filter(alertWorthy);
    // Never vacuous: the window holds findings, alert-worthy ones, and unreadable severities.
    expect(served.length).toBeGreaterThan(20);
    expect(worthy.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(worthy.length);

    // (1) Every finding served for the window curated exactly once, nothing else.
    const curated = await curatedUuids();
    expect(curated.length - new Set(curated).size, 'duplicate uuids among curated objects').toBe(0);
    expect([...curated].sort()).toEqual(served.map((finding) => finding.uuid).sort());

    // (2) One alert per alert-worthy finding, none for anything else, no digest.
    expectAlertedOnce(
      alerts,
      worthy.map((finding) => finding.uuid),
      redelivered,
    );
  }

  return { stateBacked: expectCheckpointBacked, landed: expectLanded };
}
