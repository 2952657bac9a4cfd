import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
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
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({
        events: [{ type: 'MapIterationSucceeded', id: 1, timestamp: new Date() }],
        nextToken: 't1',
      })
      .resolvesOnce({ events: [{ type: 'WaitStateEntered', id: 2, timestamp: new Date() }] })
      .resolvesOnce({
        events: [
          { type: 'WaitStateExited', id: 3, timestamp: new Date() },
          { type: 'MapIterationSucceeded', id: 4, timestamp: new Date() },
        ],
      });
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
    // The second look asks only for the events after the first page it read.
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[1]?.args[0].input.nextToken).toBe('t1');
    expect(seen).toEqual([
      { windowsFinished: 0, waiting: false, status: 'STARTING' },
      { windowsFinished: 1, waiting: true, status: 'RUNNING' },
      { windowsFinished: 2, waiting: false, status: 'SUCCEEDED' },
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
});
