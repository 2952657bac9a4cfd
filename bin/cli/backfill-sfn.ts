/**
 * `qualys-lake backfill` against a deployed stack: starts the backfill state machine
 * (lib/constructs/backfill.ts) and follows its execution — windows done from the Map's iteration
 * events, waits for the budget from its Wait states — until it ends.
 */
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { BackfillPlan, Window } from './backfill';

export interface ExecutionProgress {
  executionArn: string;
  /** Windows the machine has finished (done, given up or failed). */
  windowsFinished: number;
  /** The machine is waiting in a Wait state for the budget to reopen. */
  waiting: boolean;
  status: ExecutionStatus | 'STARTING';
}

export interface ExecutionResult {
  executionArn: string;
  status: ExecutionStatus;
  /** Per window, from the machine's output when it succeeded. */
  windows: { window: Window; done: boolean; findings?: number; newFindings?: number; error?: unknown }[];
  error?: string;
  cause?: string;
}

export interface FollowOptions {
  client?: SFNClient;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export async function runOnStateMachine(
  stateMachineArn: string,
  plan: BackfillPlan,
  progress: (event: ExecutionProgress) => void,
  options: FollowOptions = {},
): Promise<ExecutionResult> {
  const client = options.client ?? new SFNClient({});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const stamp = (date: Date) => date.toISOString().replace(/[-:]/g, '').slice(0, 13);
  const { executionArn } = await client.send(
    new StartExecutionCommand({
      stateMachineArn,
      // Names are unique per machine for 90 days and at most 80 characters.
      name: `backfill-${plan.subscription ? `${plan.subscription}-` : ''}${stamp(plan.from)}-${stamp(plan.to)}-${now().toString(36)}`,
      input: JSON.stringify({
        ...(plan.subscription && { subscription: plan.subscription }),
        startAt: plan.from.toISOString(),
        endAt: plan.to.toISOString(),
        windowHours: plan.windowHours,
        alerts: plan.alerts,
      }),
    }),
  );
  if (!executionArn) throw new Error('Step Functions started no execution');
  progress({ executionArn, windowsFinished: 0, waiting: false, status: 'STARTING' });

  let windowsFinished = 0;
  let waiting = false;
  /** The newest event already counted: each look reads back from the newest to it, no further. */
  let seenUpTo = 0;
  const newEvents = async (): Promise<HistoryEvent[]> => {
    const fresh: HistoryEvent[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await client.send(
        new GetExecutionHistoryCommand({
          executionArn,
          nextToken: token,
          maxResults: 500,
          reverseOrder: true,
        }),
      );
      const events = page.events ?? [];
      const unseen = events.filter((event) => (event.id ?? 0) > seenUpTo);
      fresh.push(...unseen);
      token = page.nextToken;
      if (!token || unseen.length < events.length) break;
    }
    seenUpTo = Math.max(seenUpTo, ...fresh.map((event) => event.id ?? 0));
    return fresh.reverse();
  };
  for (;;) {
    for (const event of await newEvents()) {
      if (event.type === 'MapIterationSucceeded' || event.type === 'MapIterationFailed') windowsFinished++;
      if (event.type === 'WaitStateEntered') waiting = true;
      if (event.type === 'WaitStateExited' || event.type === 'TaskStateEntered') waiting = false;
    }
    const execution = await client.send(new DescribeExecutionCommand({ executionArn }));
    const status = execution.status ?? 'RUNNING';
    progress({ executionArn, windowsFinished, waiting, status });
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE') {
      const output = execution.output ? (JSON.parse(execution.output) as ExecutionResult['windows']) : [];
      return {
        executionArn,
        status,
        windows: Array.isArray(output) ? output : [],
        error: execution.error,
        cause: execution.cause,
      };
    }
    await sleep(options.pollMs ?? 5_000);
  }
}
