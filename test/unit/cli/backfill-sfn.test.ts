import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { chooseSubscription } from '../../../bin/cli/backfill-command';
import { type ExecutionProgress, runOnStateMachine } from '../../../bin/cli/backfill-sfn';

const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:QualysLakeBackfill';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:QualysLakeBackfill:backfill-1';
const plan = {
  from: new Date('2026-11-20T00:00:00Z'),
  to: new Date('2026-11-21T00:00:00Z'),
  windowHours: 12,
  alerts: false,
  maxAttempts: 6,
  maxWaitMs: 3_900_000,
};

beforeEach(() => sfn.reset());

describe('runOnStateMachine', () => {
  it('starts the machine with the range and follows its Map iterations and waits to the end', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    // As the real API answers: the whole history each time, newest first with reverseOrder.
    const event = (id: number, type: string) => ({ id, type, timestamp: new Date() }) as never;
    const first = [
      event(3, 'WaitStateEntered'),
      event(2, 'MapIterationSucceeded'),
      event(1, 'ExecutionStarted'),
    ];
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: first })
      .resolvesOnce({ events: [event(5, 'MapIterationSucceeded'), event(4, 'WaitStateExited'), ...first] });
    const windows = [
      {
        window: { startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T12:00:00.000Z' },
        done: true,
        newFindings: 7,
      },
      {
        window: { startAt: '2026-11-20T12:00:00.000Z', endAt: '2026-11-21T00:00:00.000Z' },
        done: true,
        newFindings: 3,
      },
    ];
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'SUCCEEDED', output: JSON.stringify(windows) } as never);
    const seen: ExecutionProgress[] = [];
    const sleeps: number[] = [];
    const result = await runOnStateMachine(ARN, plan, (progress) => seen.push(progress), {
      client: new SFNClient({ region: 'eu-west-1' }),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const [start] = sfn.commandCalls(StartExecutionCommand);
    expect(start?.args[0].input).toMatchObject({ stateMachineArn: ARN });
    expect(JSON.parse(start?.args[0].input.input ?? '{}')).toEqual({
      startAt: '2026-11-20T00:00:00.000Z',
      endAt: '2026-11-21T00:00:00.000Z',
      windowHours: 12,
      alerts: false,
    });
    expect(start?.args[0].input.name).toMatch(/^backfill-20261120T0000-20261121T0000-[0-9a-z]+$/);
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input).toMatchObject({
      reverseOrder: true,
    });
    expect(seen).toEqual([
      { executionArn: EXECUTION, windowsFinished: 0, waiting: false, status: 'STARTING' },
      // Each window counted once, though every look returns the whole history.
      { executionArn: EXECUTION, windowsFinished: 1, waiting: true, status: 'RUNNING' },
      { executionArn: EXECUTION, windowsFinished: 2, waiting: false, status: 'SUCCEEDED' },
    ]);
    expect(sleeps).toEqual([5_000]);
    expect(result).toMatchObject({ status: 'SUCCEEDED', windows });
  });

  it('reports a failed execution with its error and cause', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'BackfillWindowsFailed',
      cause: '[{"startAt":"2026-11-20T00:00:00.000Z"}]',
    } as never);
    const result = await runOnStateMachine(ARN, plan, () => undefined, {
      client: new SFNClient({ region: 'eu-west-1' }),
    });
    expect(result).toMatchObject({ status: 'FAILED', error: 'BackfillWindowsFailed', windows: [] });
  });

  it("names the subscription in the execution's input and name", async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '[]' } as never);
    await runOnStateMachine(ARN, { ...plan, subscription: 'emea' }, () => undefined, {
      client: new SFNClient({ region: 'eu-west-1' }),
    });
    const [start] = sfn.commandCalls(StartExecutionCommand);
    expect(JSON.parse(start?.args[0].input.input ?? '{}')).toMatchObject({ subscription: 'emea' });
    expect(start?.args[0].input.name).toMatch(/^backfill-emea-20261120T0000-20261121T0000-[0-9a-z]+$/);
  });
});

describe('chooseSubscription', () => {
  it('takes the one named, or none for a stack of one (the machine defaults to it)', () => {
    expect(chooseSubscription('emea', ['prod', 'emea'])).toBe('emea');
    expect(chooseSubscription(undefined, ['default'])).toBeUndefined();
    expect(chooseSubscription('prod', undefined)).toBe('prod');
  });

  it('asks for --subscription when the stack serves several, and refuses one it lacks', () => {
    expect(() => chooseSubscription(undefined, ['prod', 'emea'])).toThrow(
      'this stack serves prod, emea: name the one to replay with --subscription',
    );
    expect(() => chooseSubscription('apac', ['prod', 'emea'])).toThrow(
      'no subscription "apac" in this stack; it serves prod, emea',
    );
  });
});
