import { SingleBar } from 'cli-progress';
import { BACKFILL_LIMITS } from '../../lib/backfill-limits';
import { type BackfillPlan, backfill, lambdaInvoker, planWindows, type WindowInvoker } from './backfill';
import { runOnStateMachine } from './backfill-sfn';
import { deployedSubscriptions, localDir, outputEnding, stackOutputs, UsageError } from './options';

export interface BackfillOptions {
  from: Date;
  to: Date;
  windowHours: number;
  alerts: boolean;
  function?: string;
  subscription?: string;
  stateMachine?: string;
  outputs?: string;
  local?: string | true;
  rateLimit: { limit: number; windowSec: number };
  pageSize: number;
  maxAttempts: number;
  maxWaitMinutes: number;
}

type Print = (text: string) => void;

/** `qualys-lake backfill`: plans the windows, runs them with a progress bar, and says what failed. */
export async function runBackfill(
  options: BackfillOptions,
  print: Print,
  printError: Print,
): Promise<number> {
  const plan: BackfillPlan = {
    from: options.from,
    to: options.to,
    windowHours: options.windowHours,
    alerts: options.alerts,
    maxAttempts: options.maxAttempts,
    maxWaitMs: options.maxWaitMinutes * 60_000,
    // A deployed function may be held by a scheduled run: wait at least a minute, as the machine does.
    minWaitMs: options.local === undefined ? BACKFILL_LIMITS.minWaitSeconds * 1000 : 1_000,
  };
  let windows: number;
  try {
    windows = planWindows(plan.from, plan.to, plan.windowHours).length;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  let invoke: WindowInvoker;
  let finish: () => Promise<string> = async () => '';
  if (options.local !== undefined) {
    const { startLocalBackfill } = await import('./local-backfill');
    const local = await startLocalBackfill(plan.from, options.rateLimit, options.pageSize);
    invoke = local.invoke;
    const dir = localDir(options.local);
    finish = async () => {
      const calls = local.calls();
      const objects = await local.finish(dir);
      return `The simulator served ${calls.requests} calls (${calls.refused} refused with 409/429); ${objects} objects mirrored to ${dir}.`;
    };
  } else if (options.function) {
    invoke = lambdaInvoker(options.function);
  } else {
    const outputs = stackOutputs(options.outputs);
    const arn = options.stateMachine ?? outputEnding(outputs, 'BackfillStateMachineArn');
    if (!arn)
      throw new UsageError(
        'name the stack: --outputs FILE (cdk deploy --outputs-file), --state-machine ARN, or --local',
      );
    const subscription = chooseSubscription(options.subscription, deployedSubscriptions(outputs));
    return runDeployed(arn, { ...plan, ...(subscription && { subscription }) }, windows, print, printError);
  }

  print(describe(plan, windows, ''));
  const bar = progressBar(windows);
  let result: Awaited<ReturnType<typeof backfill>>;
  try {
    result = await backfill(plan, invoke, (progress) => {
      const state =
        progress.waitMs !== undefined
          ? `window ${progress.index + 1} stopped early (${progress.answer?.error ?? progress.answer?.stoppedEarly ?? 'incomplete'}); again in ${Math.round(progress.waitMs / 1000)} s`
          : progress.answer?.error || progress.answer?.stoppedEarly
            ? `window ${progress.index + 1} given up`
            : `window ${progress.index + 1} done`;
      bar.update(progress.waitMs === undefined ? progress.index + 1 : progress.index, {
        findings: progress.sofar.findings,
        fresh: progress.sofar.newFindings,
        state,
      });
    });
  } finally {
    bar.stop();
    const local = await finish();
    if (local) print(local);
  }
  print(
    `${result.done} of ${result.windows} windows done: ${result.pages} pages, ${result.findings} findings read, ${result.newFindings} new in the lake.`,
  );
  for (const failure of result.failed)
    printError(`window ${failure.window.startAt} → ${failure.window.endAt} failed: ${failure.reason}`);
  return result.failed.length ? 1 : 0;
}

/** Starts the stack's backfill state machine and follows the execution with a progress bar. */
async function runDeployed(
  arn: string,
  plan: BackfillPlan,
  windows: number,
  print: Print,
  printError: Print,
): Promise<number> {
  print(describe(plan, windows, ` on ${arn}`));
  const bar = progressBar(windows);
  let result: Awaited<ReturnType<typeof runOnStateMachine>>;
  try {
    result = await runOnStateMachine(arn, plan, (progress) => {
      // Named at once, so an operator who stops watching can find (or stop) the execution.
      if (progress.status === 'STARTING') printError(`started ${progress.executionArn}`);
      bar.update(progress.windowsFinished, {
        findings: '-',
        fresh: '-',
        state: progress.waiting ? 'waiting for the call budget to reopen' : progress.status.toLowerCase(),
      });
    });
  } finally {
    bar.stop();
  }
  if (result.status === 'SUCCEEDED') {
    const fresh = result.windows.reduce((sum, window) => sum + (window.newFindings ?? 0), 0);
    print(
      `Execution ${result.executionArn}: SUCCEEDED; ${result.windows.length} windows done, ${fresh} new findings.`,
    );
  } else {
    // A failed execution has no output; its cause says how many windows failed and which.
    print(`Execution ${result.executionArn}: ${result.status}.`);
    printError(
      `${result.error ?? result.status}: ${result.cause ?? 'see the execution in the Step Functions console'}`,
    );
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

/**
 * The subscription a deployed backfill replays: `--subscription`, which must be one the stack serves;
 * without it, the stack's only one (the machine's own default), or a usage error naming them when
 * there are several. Without the stack's outputs the machine checks the name (it fails an execution
 * for a subscription it lacks).
 */
export function chooseSubscription(
  given: string | undefined,
  deployed: readonly string[] | undefined,
): string | undefined {
  if (given !== undefined && deployed !== undefined && !deployed.includes(given))
    throw new UsageError(`no subscription "${given}" in this stack; it serves ${deployed.join(', ')}`);
  if (given === undefined && deployed !== undefined && deployed.length > 1)
    throw new UsageError(
      `this stack serves ${deployed.join(', ')}: name the one to replay with --subscription`,
    );
  return given;
}

const describe = (plan: BackfillPlan, windows: number, where: string) =>
  `Backfill ${plan.subscription ? `of subscription ${plan.subscription} ` : ''}${plan.from.toISOString()} → ${plan.to.toISOString()}${where}: ${windows} window(s) of ` +
  `${plan.windowHours} h, alerts ${plan.alerts ? 'on' : 'off'}.`;

function progressBar(total: number): SingleBar {
  // The bar goes to stderr, so stdout stays the report a script reads.
  const bar = new SingleBar({
    format: 'windows {bar} {value}/{total} | {findings} findings, {fresh} new | {state}',
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 5_000,
    hideCursor: true,
  });
  bar.start(total, 0, { findings: 0, fresh: 0, state: 'starting' });
  return bar;
}
