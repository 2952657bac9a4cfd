import { SingleBar } from 'cli-progress';
import { type BackfillPlan, backfill, lambdaInvoker, planWindows, type WindowInvoker } from './backfill';
import { localDir, outputEnding, stackOutputs, UsageError } from './options';

export interface BackfillOptions {
  from: Date;
  to: Date;
  windowHours: number;
  alerts: boolean;
  function?: string;
  outputs?: string;
  local?: string | true;
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
    const local = await startLocalBackfill(plan.from);
    invoke = local.invoke;
    const dir = localDir(options.local);
    finish = async () => {
      const calls = local.calls();
      const objects = await local.finish(dir);
      return `The simulator served ${calls.requests} calls (${calls.refused} refused with 409/429); ${objects} objects mirrored to ${dir}.`;
    };
  } else {
    const name = options.function ?? outputEnding(stackOutputs(options.outputs), 'CdrFindingsFunctionName');
    if (!name) throw new UsageError('name the function: --function NAME, --outputs FILE, or --local');
    invoke = lambdaInvoker(name);
  }

  print(
    `Backfill ${plan.from.toISOString()} → ${plan.to.toISOString()}: ${windows} window(s) of ${plan.windowHours} h, ` +
      `alerts ${plan.alerts ? 'on' : 'off'}.`,
  );
  // The bar goes to stderr, so stdout stays the report a script reads.
  const bar = new SingleBar({
    format: 'windows {bar} {value}/{total} | {findings} findings, {fresh} new | {state}',
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 5_000,
    hideCursor: true,
  });
  bar.start(windows, 0, { findings: 0, fresh: 0, state: 'starting' });
  let findings = 0;
  let fresh = 0;
  let result: Awaited<ReturnType<typeof backfill>>;
  try {
    result = await backfill(plan, invoke, (progress) => {
      findings += progress.answer?.findings ?? 0;
      fresh += progress.answer?.newFindings ?? 0;
      const state =
        progress.waitMs !== undefined
          ? `window ${progress.index + 1} stopped early (${progress.answer?.error ?? progress.answer?.stoppedEarly ?? 'incomplete'}); again in ${Math.round(progress.waitMs / 1000)} s`
          : `window ${progress.index + 1} done`;
      bar.update(progress.waitMs === undefined ? progress.index + 1 : progress.index, {
        findings,
        fresh,
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
