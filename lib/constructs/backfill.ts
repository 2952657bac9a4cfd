import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFAULT_SUBSCRIPTION } from '../../functions/core/subscription';
import { BACKFILL_LIMITS } from '../backfill-limits';
import { acknowledge, wildcardResourceFinding } from '../nag';

export interface BackfillProps {
  /** Each subscription's cdr-findings function, by subscription: invoked with each window event. */
  readonly cdrFindings: Readonly<Record<string, lambda.IFunction>>;
  /** Each subscription's sdr-inventory function: invoked until a fresh snapshot is complete. */
  readonly sdrInventory?: Readonly<Record<string, lambda.IFunction>>;
  /**
   * Every subscription of the stack, for the failure cause of an input that names another.
   * @default the keys of `cdrFindings`
   */
  readonly subscriptions?: readonly string[];
  readonly logRetention: logs.RetentionDays;
}

export { BACKFILL_LIMITS };

/**
 * The windows of a range, as a JSONata expression over the execution input `{startAt, endAt,
 * windowHours?}`: `windowHours` apart, the last one cut at `endAt`. Exported so a unit test can
 * evaluate it with the jsonata library, as Step Functions would.
 */
export const PLAN_WINDOWS = `(
  $start := $toMillis($states.input.startAt);
  $end := $toMillis($states.input.endAt);
  $step := ($exists($states.input.windowHours) ? $states.input.windowHours : ${BACKFILL_LIMITS.defaultWindowHours}) * 3600000;
  $count := $ceil(($end - $start) / $step);
  [$map([0..($count - 1)], function($i) {
    {
      "startAt": $fromMillis($start + $i * $step),
      "endAt": $fromMillis($min([$start + ($i + 1) * $step, $end]))
    }
  })]
)`;

/** Seconds to wait after a run stopped early: what the gateway announced, within the bounds. */
export const WAIT_SECONDS = `$max([${BACKFILL_LIMITS.minWaitSeconds}, $min([${BACKFILL_LIMITS.maxWaitSeconds}, $exists($states.input.summary.rateLimit.toWaitSec) ? $states.input.summary.rateLimit.toWaitSec : 0])])`;

/** Whether the collector's summary says the window is done: a summary, no early stop, every window complete. */
export const WINDOW_DONE = `$exists($states.input.summary.windows) and $not($exists($states.input.summary.stoppedEarly)) and $not($exists($states.input.summary.error)) and $count($states.input.summary.windows[complete = false]) = 0`;

/** The windows of the Map's output that did not complete. `[…]` keeps a list of one a list. */
export const FAILED_WINDOWS = '[$states.input[done = false]]';

/** The execution's failure cause: how many windows failed, and the first of them with their errors. */
export const FAILURE_CAUSE = `$string($count(${FAILED_WINDOWS})) & ' of ' & $string($count($states.input)) & ' windows failed; the first: ' & $join($map(${FAILED_WINDOWS}[[0..${BACKFILL_LIMITS.failuresNamed - 1}]], function($w) { $w.window.startAt & ' to ' & $w.window.endAt & ' (' & $w.error & ')' }), '; ')`;

/**
 * The subscription an execution serves: its input's `subscription`, else the stack's only one, else
 * `default`. Assigned to `$subscription` by the first state, so every later state reads it.
 */
export const subscriptionOfInput = (subscriptions: readonly string[]) =>
  `$exists($states.input.subscription) ? $states.input.subscription : ${JSON.stringify(subscriptions.length === 1 ? subscriptions[0] : DEFAULT_SUBSCRIPTION)}`;

/** A JSONata object literal of functions by subscription; a function ARN is a token until synth. */
const lookupTable = (functions: Readonly<Record<string, lambda.IFunction>>) =>
  `{${Object.entries(functions)
    .map(([name, fn]) => `${JSON.stringify(name)}: '${fn.functionArn}'`)
    .join(', ')}}`;

/** The function ARN of `$subscription` in a table of {@link lookupTable}, or nothing. */
export const functionOf = (table: string) => `$lookup(${table}, $subscription)`;

/**
 * Why an execution cannot run for `$subscription`: it names no subscription of the stack, or one
 * that does not run the collector asked for (`inventorySnapshot` needs sdr-inventory, a range
 * cdr-findings).
 */
export const unknownSubscriptionCause = (subscriptions: readonly string[]) =>
  `($collector := $states.input.inventorySnapshot = true ? 'sdr-inventory' : 'cdr-findings'; $subscription in ${JSON.stringify(subscriptions)} ? 'subscription "' & $subscription & '" runs no ' & $collector & ' collector' : 'unknown subscription "' & $subscription & '": this stack serves ${subscriptions.join(', ')}; name one in the input ("subscription")')`;

/** Whether the execution input is a range the machine can plan: ISO times in order, at most maxWindows windows. */
export const VALID_RANGE = `(
  $iso := /^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$/;
  $hours := $exists($states.input.windowHours) ? $states.input.windowHours : ${BACKFILL_LIMITS.defaultWindowHours};
  $type($states.input.startAt) = 'string' and $type($states.input.endAt) = 'string'
    and $contains($states.input.startAt, $iso) and $contains($states.input.endAt, $iso)
    and $type($hours) = 'number' and $hours > 0
    and $toMillis($states.input.startAt) < $toMillis($states.input.endAt)
    and ($toMillis($states.input.endAt) - $toMillis($states.input.startAt)) / ($hours * 3600000) <= ${BACKFILL_LIMITS.maxWindows}
)`;

/**
 * A Step Functions machine that replays a historical CDR range: it splits the range into windows
 * and invokes the collector with each window event, one window at a time; when a run stops early
 * (budget spent, deadline) it waits in a Wait state (no Lambda time) for as long as the gateway
 * said and invokes the window again, which resumes from its replay checkpoint. A window that
 * still fails after its attempts is recorded and the next one goes on; the execution fails at the
 * end if any did. The same machine takes `{"inventorySnapshot": true}` to run the inventory
 * collector until a fresh snapshot is complete.
 */
export class BackfillMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: BackfillProps) {
    super(scope, id);
    const subscriptions = props.subscriptions ?? Object.keys(props.cdrFindings);
    const cdrTable = lookupTable(props.cdrFindings);
    const inventoryTable = lookupTable(props.sdrInventory ?? {});
    const retryThrottled = (task: sfn.CustomState) =>
      task.addRetry({
        // A scheduled run of the same collector holds its one reserved execution: try again.
        errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.SdkClientException'],
        interval: Duration.seconds(30),
        backoffRate: 2,
        maxAttempts: 8,
        jitterStrategy: sfn.JitterType.FULL,
      });

    // What a run reports, summed over a window's runs; `attempt` counts runs in a row without progress.
    const tally = (summary: string) => ({
      findings: `{% $sum([$states.input.findings, ${summary}.findings]) %}`,
      newFindings: `{% $sum([$states.input.newFindings, ${summary}.newFindings]) %}`,
      runs: '{% $states.input.runs + 1 %}',
    });
    const runWindow = this.invoke('RunWindow', functionOf(cdrTable), {
      payload: {
        startAt: '{% $states.input.window.startAt %}',
        endAt: '{% $states.input.window.endAt %}',
        alerts: '{% $states.input.alerts %}',
      },
      outputs: {
        window: '{% $states.input.window %}',
        alerts: '{% $states.input.alerts %}',
        attempt: '{% $states.result.Payload.pages > 0 ? 0 : $states.input.attempt + 1 %}',
        ...tally('$states.result.Payload'),
        summary: '{% $states.result.Payload %}',
      },
    });
    retryThrottled(runWindow);
    // A run that failed (the function threw, or timed out) counts as an attempt without progress,
    // and is tried again after a wait like a run that stopped early; only its error's name and the
    // start of its cause are kept, so a window's state stays small.
    const runFailed = sfn.Pass.jsonata(this, 'RunFailed', {});
    runWindow.addCatch(runFailed, {
      errors: ['States.ALL'],
      outputs: {
        window: '{% $states.input.window %}',
        alerts: '{% $states.input.alerts %}',
        attempt: '{% $states.input.attempt + 1 %}',
        findings: '{% $states.input.findings %}',
        newFindings: '{% $states.input.newFindings %}',
        runs: '{% $states.input.runs + 1 %}',
        summary: {
          error:
            '{% $states.errorOutput.Error & ": " & $substring($string($states.errorOutput.Cause), 0, 300) %}',
        },
      },
    });
    const result = (done: boolean, error?: string) =>
      sfn.Pass.jsonata(this, done ? 'WindowDone' : 'WindowGaveUp', {
        outputs: {
          window: '{% $states.input.window %}',
          done,
          runs: '{% $states.input.runs %}',
          findings: '{% $states.input.findings %}',
          newFindings: '{% $states.input.newFindings %}',
          ...(error ? { error } : {}),
        },
      });
    const windowDone = result(true);
    const gaveUp = result(
      false,
      "{% $exists($states.input.summary.error) ? $states.input.summary.error : $exists($states.input.summary.stoppedEarly) ? $substring($string($states.input.summary.stoppedEarly), 0, 300) : 'the window did not complete' %}",
    );
    const waitForBudget = sfn.Wait.jsonata(this, 'WaitForBudget', {
      time: sfn.WaitTime.seconds(`{% ${WAIT_SECONDS} %}`),
    });
    waitForBudget.next(runWindow);
    const windowComplete = sfn.Choice.jsonata(this, 'WindowComplete')
      .when(sfn.Condition.jsonata(`{% ${WINDOW_DONE} %}`), windowDone)
      .when(
        sfn.Condition.jsonata(
          `{% $states.input.attempt >= ${BACKFILL_LIMITS.attemptsPerWindow} or $states.input.runs >= ${BACKFILL_LIMITS.runsPerWindow} %}`,
        ),
        gaveUp,
      )
      .otherwise(waitForBudget);
    runFailed.next(windowComplete);
    const oneWindow = runWindow.next(windowComplete);

    const windows = sfn.Map.jsonata(this, 'Windows', {
      items: sfn.ProvideItems.jsonata(`{% ${PLAN_WINDOWS} %}`),
      maxConcurrency: 1,
      itemSelector: {
        window: '{% $states.context.Map.Item.Value %}',
        alerts: '{% $exists($states.input.alerts) ? $states.input.alerts : false %}',
        attempt: 0,
        runs: 0,
        findings: 0,
        newFindings: 0,
      },
    });
    windows.itemProcessor(oneWindow);

    const failedWindows = FAILED_WINDOWS;
    const cdr = windows.next(
      sfn.Choice.jsonata(this, 'AllWindowsDone')
        .when(
          sfn.Condition.jsonata(`{% $count(${failedWindows}) > 0 %}`),
          sfn.Fail.jsonata(this, 'WindowsFailed', {
            error: 'BackfillWindowsFailed',
            cause: `{% ${FAILURE_CAUSE} %}`,
          }),
        )
        .otherwise(sfn.Succeed.jsonata(this, 'Backfilled', { outputs: '{% $states.input %}' })),
    );

    const badRange = sfn.Fail.jsonata(this, 'InvalidRange', {
      error: 'InvalidRange',
      cause: `startAt and endAt must be ISO 8601 times with an offset (Z or +hh:mm), startAt before endAt, windowHours a positive number, and at most ${BACKFILL_LIMITS.maxWindows} windows`,
    });
    const unknownSubscription = sfn.Fail.jsonata(this, 'UnknownSubscription', {
      error: 'UnknownSubscription',
      cause: `{% ${unknownSubscriptionCause(subscriptions)} %}`,
    });
    const what = sfn.Choice.jsonata(this, 'What')
      .when(
        sfn.Condition.jsonata(
          `{% $states.input.inventorySnapshot = true and $exists(${functionOf(inventoryTable)}) %}`,
        ),
        this.inventorySnapshot(functionOf(inventoryTable), retryThrottled),
      )
      .when(
        sfn.Condition.jsonata(
          `{% $states.input.inventorySnapshot = true or $not($exists(${functionOf(cdrTable)})) %}`,
        ),
        unknownSubscription,
      )
      .when(sfn.Condition.jsonata(`{% ${VALID_RANGE} %}`), cdr)
      .otherwise(badRange);
    // Every later state, those of the Map's iterations included, reads the subscription from here.
    const start = sfn.Pass.jsonata(this, 'Subscription', {
      assign: { subscription: `{% ${subscriptionOfInput(subscriptions)} %}` },
    }).next(what);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    acknowledge(
      this.stateMachine,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, …) and the log delivery actions (logs:CreateLogDelivery, …) accept no resource ARN',
    );
    // lambda:InvokeFunction on each function and on its versions (<arn>:*), as LambdaInvoke grants.
    for (const fn of [...Object.values(props.cdrFindings), ...Object.values(props.sdrInventory ?? {})]) {
      fn.grantInvoke(this.stateMachine);
      acknowledge(
        this.stateMachine,
        wildcardResourceFinding(this, `${fn.functionArn}:*`),
        'Step Functions invokes the function by ARN; its versions (<arn>:*) are granted with it',
      );
    }
  }

  /**
   * A synchronous Lambda invocation (the optimized integration, as LambdaInvoke renders it) of the
   * function a JSONata expression names: the subscription's, looked up at run time, which
   * LambdaInvoke cannot do (it takes one function). Retries what LambdaInvoke retries by default.
   */
  private invoke(
    id: string,
    functionArn: string,
    options: { payload: Record<string, unknown>; outputs: Record<string, unknown> },
  ): sfn.CustomState {
    const task = new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Arguments: { FunctionName: `{% ${functionArn} %}`, Payload: options.payload },
        Output: options.outputs,
      },
    });
    task.addRetry({
      errors: [
        'Lambda.ClientExecutionTimeoutException',
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
      ],
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
    });
    return task;
  }

  /** Runs the inventory collector until its snapshot says complete, waiting between runs. */
  private inventorySnapshot(functionArn: string, retry: (task: sfn.CustomState) => void): sfn.IChainable {
    const run = this.invoke('RunInventory', functionArn, {
      payload: {},
      outputs: {
        runs: '{% ($exists($states.input.runs) ? $states.input.runs : 0) + 1 %}',
        summary: '{% $states.result.Payload %}',
      },
    });
    retry(run);
    const pause = sfn.Wait.jsonata(this, 'WaitBetweenInventoryRuns', {
      time: sfn.WaitTime.seconds(`{% ${WAIT_SECONDS} %}`),
    });
    pause.next(run);
    return run.next(
      sfn.Choice.jsonata(this, 'SnapshotComplete')
        .when(
          sfn.Condition.jsonata("{% $states.input.summary.snapshotStatus = 'complete' %}"),
          sfn.Succeed.jsonata(this, 'SnapshotTaken', { outputs: '{% $states.input.summary %}' }),
        )
        .when(
          sfn.Condition.jsonata(`{% $states.input.runs >= ${BACKFILL_LIMITS.inventoryRuns} %}`),
          sfn.Fail.jsonata(this, 'SnapshotUnfinished', {
            error: 'SnapshotUnfinished',
            cause: `the snapshot was not complete after ${BACKFILL_LIMITS.inventoryRuns} runs`,
          }),
        )
        .otherwise(pause),
    );
  }
}
