/**
 * `qualys-lake backfill`: replays a historical CDR range, window by window, through the collector's
 * window event (`{startAt, endAt, alerts}`) — the same code path as a scheduled run, so nothing is
 * curated or alerted twice and the incremental checkpoint never moves. A window the collector stops
 * early (budget spent, deadline) keeps its replay checkpoint; it is invoked again after the wait the
 * gateway announced, and resumes where it stopped.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

export interface Window {
  startAt: string;
  endAt: string;
}

/** What the backfill reads of the collector's answer (a CdrFindingsSummary). */
export interface WindowAnswer {
  error?: string;
  stoppedEarly?: string;
  pages?: number;
  newFindings?: number;
  findings?: number;
  rateLimit?: { toWaitSec?: number };
  windows?: { complete: boolean }[];
}

/** Runs one window event and returns the collector's summary. */
export type WindowInvoker = (event: Window & { alerts: boolean }) => Promise<WindowAnswer>;

export interface BackfillPlan {
  /** The subscription whose collector replays the range (the state machine's input). */
  subscription?: string;
  from: Date;
  to: Date;
  windowHours: number;
  alerts: boolean;
  /** Invocations of one window before the backfill gives up on it. */
  maxAttempts: number;
  /** The longest wait between two attempts of one window. */
  maxWaitMs: number;
  /** The shortest: a minute for a deployed function (a scheduled run may hold it), less locally. */
  minWaitMs?: number;
}

export interface BackfillProgress {
  window: Window;
  index: number;
  /** The backfill so far, this answer included. */
  sofar: Pick<BackfillResult, 'findings' | 'newFindings'>;
  total: number;
  attempt: number;
  answer?: WindowAnswer;
  /** The wait before the next attempt of this window, when it stopped early. */
  waitMs?: number;
}

export interface BackfillResult {
  windows: number;
  done: number;
  failed: { window: Window; reason: string }[];
  findings: number;
  newFindings: number;
  pages: number;
}

/** SDK errors that no retry fixes. */
const FINAL_ERRORS =
  /^(ResourceNotFoundException|AccessDeniedException|AccessDenied|UnrecognizedClientException|InvalidSignatureException|CredentialsProviderError|ExpiredTokenException)$/;

/** The range in windows of `windowHours`, the last one cut at `to`. */
export function planWindows(from: Date, to: Date, windowHours: number): Window[] {
  if (!(from.getTime() < to.getTime())) throw new RangeError('--from must be before --to');
  const step = windowHours * 3600_000;
  const windows: Window[] = [];
  for (let start = from.getTime(); start < to.getTime(); start += step) {
    windows.push({
      startAt: new Date(start).toISOString(),
      endAt: new Date(Math.min(start + step, to.getTime())).toISOString(),
    });
  }
  return windows;
}

export async function backfill(
  plan: BackfillPlan,
  invoke: WindowInvoker,
  progress: (event: BackfillProgress) => void,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<BackfillResult> {
  const windows = planWindows(plan.from, plan.to, plan.windowHours);
  const result: BackfillResult = {
    windows: windows.length,
    done: 0,
    failed: [],
    findings: 0,
    newFindings: 0,
    pages: 0,
  };
  for (const [index, window] of windows.entries()) {
    for (let attempt = 1; ; attempt++) {
      let answer: WindowAnswer;
      try {
        answer = await invoke({ ...window, alerts: plan.alerts });
      } catch (error) {
        // Trying again cannot help (no such function, no permission, no credentials): stop here.
        if (FINAL_ERRORS.test((error as Error).name)) throw error;
        answer = { error: `${(error as Error).name}: ${(error as Error).message}` };
      }
      result.findings += answer.findings ?? 0;
      result.newFindings += answer.newFindings ?? 0;
      result.pages += answer.pages ?? 0;
      const complete =
        !answer.error && !answer.stoppedEarly && (answer.windows ?? []).every((w) => w.complete);
      if (complete) {
        result.done++;
        progress({ window, index, total: windows.length, attempt, answer, sofar: result });
        break;
      }
      if (attempt >= plan.maxAttempts) {
        result.failed.push({
          window,
          reason: answer.error ?? answer.stoppedEarly ?? 'the window did not complete',
        });
        progress({ window, index, total: windows.length, attempt, answer, sofar: result });
        break;
      }
      // Budget spent: wait for the window to reopen, as the gateway said; otherwise back off.
      const announced = (answer.rateLimit?.toWaitSec ?? 0) * 1000;
      const waitMs = Math.min(
        plan.maxWaitMs,
        Math.max(announced, plan.minWaitMs ?? 0, 1000 * 2 ** (attempt - 1)),
      );
      progress({ window, index, total: windows.length, attempt, answer, waitMs, sofar: result });
      await sleep(waitMs);
    }
  }
  return result;
}

/** The deployed cdr-findings function, invoked synchronously with each window event. */
export function lambdaInvoker(
  functionName: string,
  client: LambdaClient = new LambdaClient({}),
): WindowInvoker {
  return async (event) => {
    const answer = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '{}';
    if (answer.FunctionError) {
      const failure = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      return { error: `${failure.errorType ?? 'Error'}: ${failure.errorMessage ?? 'the function failed'}` };
    }
    return JSON.parse(text) as WindowAnswer;
  };
}
