import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import {
  BACKFILL_LIMITS,
  FAILURE_CAUSE,
  functionOf,
  PLAN_WINDOWS,
  subscriptionOfInput,
  unknownSubscriptionCause,
  VALID_RANGE,
  WAIT_SECONDS,
  WINDOW_DONE,
} from '../../lib/constructs/backfill';
import { type Resource, SKIP_BUNDLING, stateMachineDefinition, synthStack } from '../support/infra';

/**
 * Evaluates an expression of the machine as Step Functions would, with `$states.input` bound and
 * the variables the machine assigns (`$subscription`).
 */
const evaluate = (expression: string, input: unknown, variables: Record<string, unknown> = {}) =>
  jsonata(expression).evaluate({}, { states: { input }, ...variables });

/** The machine's definition, its function ARNs written `<LogicalId.Arn>`. */
function definitionOf(template: ReturnType<typeof synthStack>['template']) {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
    Properties: { DefinitionString: unknown };
  }[];
  return stateMachineDefinition<{ StartAt: string; States: Record<string, State> }>(
    (machine as NonNullable<typeof machine>).Properties.DefinitionString,
  );
}

interface State {
  Type: string;
  [key: string]: unknown;
}

describe('the backfill state machine', () => {
  const { template } = synthStack();
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
    Properties: { TracingConfiguration?: unknown; LoggingConfiguration?: unknown };
  }[];
  // The definition is a Fn::Join of strings and function ARNs: the ARNs become placeholders.
  const definition = definitionOf(template) as ReturnType<typeof definitionOf> & { QueryLanguage: string };

  it('is JSONata, traced and logged, and plans the range in the Map of windows, one at a time', () => {
    expect(definition.QueryLanguage).toBe('JSONata');
    expect(machine?.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine?.Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: false,
    });
    const map = definition.States.Windows as State & { ItemProcessor: { States: Record<string, State> } };
    expect(map).toMatchObject({ Type: 'Map', MaxConcurrency: 1, Items: `{% ${PLAN_WINDOWS} %}` });
    const run = map.ItemProcessor.States.RunWindow as State;
    expect(run.Resource).toBe('arn:<AWS::Partition>:states:::lambda:invoke');
    // The function of the execution's subscription, looked up at run time: here the only one.
    expect((run.Arguments as { FunctionName: string }).FunctionName).toMatch(
      /^\{% \$lookup\(\{"default": '<CdrFindingsFunction[0-9A-F]{8}\.Arn>'\}, \$subscription\) %\}$/,
    );
    expect(run.Arguments).toMatchObject({
      Payload: {
        startAt: '{% $states.input.window.startAt %}',
        endAt: '{% $states.input.window.endAt %}',
        alerts: '{% $states.input.alerts %}',
      },
    });
    expect(run.Retry).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['Lambda.TooManyRequestsException']),
          MaxAttempts: 8,
        }),
      ]),
    );
    expect(run.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'RunFailed' })]);
    // A failed run goes to the same choice as one that stopped early: wait, then try again.
    expect(map.ItemProcessor.States.RunFailed).toMatchObject({ Type: 'Pass', Next: 'WindowComplete' });
    expect(map.ItemProcessor.States.WaitForBudget).toMatchObject({
      Type: 'Wait',
      Seconds: `{% ${WAIT_SECONDS} %}`,
      Next: 'RunWindow',
    });
    expect(map.ItemProcessor.States.WindowComplete).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Condition: `{% ${WINDOW_DONE} %}`, Next: 'WindowDone' },
        {
          Condition: `{% $states.input.attempt >= ${BACKFILL_LIMITS.attemptsPerWindow} or $states.input.runs >= ${BACKFILL_LIMITS.runsPerWindow} %}`,
          Next: 'WindowGaveUp',
        },
      ],
      Default: 'WaitForBudget',
    });
    // Alerts are off unless the input asks for them.
    expect((map.ItemSelector as Record<string, unknown>).alerts).toBe(
      '{% $exists($states.input.alerts) ? $states.input.alerts : false %}',
    );
  });

  it('splits a range into windows of the hours asked for, the last one cut at the end', async () => {
    expect(
      await evaluate(PLAN_WINDOWS, {
        startAt: '2026-11-20T00:00:00Z',
        endAt: '2026-11-21T06:00:00Z',
        windowHours: 12,
      }),
    ).toEqual([
      { startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T12:00:00.000Z' },
      { startAt: '2026-11-20T12:00:00.000Z', endAt: '2026-11-21T00:00:00.000Z' },
      { startAt: '2026-11-21T00:00:00.000Z', endAt: '2026-11-21T06:00:00.000Z' },
    ]);
    expect(
      await evaluate(PLAN_WINDOWS, { startAt: '2026-11-20T00:00:00Z', endAt: '2026-11-20T01:00:00Z' }),
    ).toEqual([{ startAt: '2026-11-20T00:00:00.000Z', endAt: '2026-11-20T01:00:00.000Z' }]);
  });

  it('waits as long as the gateway said, within bounds, and knows a window done from one stopped early', async () => {
    const summary = (extra: object) => ({ summary: { windows: [{ complete: true }], ...extra } });
    expect(await evaluate(WAIT_SECONDS, summary({ rateLimit: { toWaitSec: 900 } }))).toBe(900);
    expect(await evaluate(WAIT_SECONDS, summary({ rateLimit: { toWaitSec: 99_999 } }))).toBe(
      BACKFILL_LIMITS.maxWaitSeconds,
    );
    expect(await evaluate(WAIT_SECONDS, summary({ rateLimit: {} }))).toBe(BACKFILL_LIMITS.minWaitSeconds);
    expect(await evaluate(WINDOW_DONE, summary({}))).toBe(true);
    expect(await evaluate(WINDOW_DONE, summary({ stoppedEarly: 'the call budget is spent' }))).toBe(false);
    expect(
      await evaluate(WINDOW_DONE, { summary: { windows: [{ complete: true }, { complete: false }] } }),
    ).toBe(false);
  });

  it('plans only ranges it can finish: ISO times with an offset, in order, a positive window, at most 1000 windows', async () => {
    const range = { startAt: '2026-11-20T00:00:00Z', endAt: '2026-11-21T00:00:00+01:00' };
    expect(await evaluate(VALID_RANGE, range)).toBe(true);
    for (const bad of [
      { ...range, windowHours: 0 },
      { ...range, windowHours: '6' },
      { ...range, startAt: 'yesterday' },
      { ...range, startAt: '2026-11-20T00:00:00' },
      { startAt: range.endAt, endAt: range.startAt },
      { startAt: '2020-01-01T00:00:00Z', endAt: '2026-11-21T00:00:00Z', windowHours: 1 },
      { inventorySnapshot: true },
    ]) {
      expect(await evaluate(VALID_RANGE, bad), JSON.stringify(bad)).toBe(false);
    }
    const start = definition.States.What as State & {
      Choices: { Condition: string; Next: string }[];
    };
    expect(start.Choices).toContainEqual({ Condition: `{% ${VALID_RANGE} %}`, Next: 'Windows' });
    expect(start.Default).toBe('InvalidRange');
  });

  it("sums what a window's runs found, and counts only runs without progress as attempts", async () => {
    const map = definition.States.Windows as State & { ItemProcessor: { States: Record<string, State> } };
    const outputs = map.ItemProcessor.States.RunWindow?.Output as Record<string, string>;
    const evaluateOutput = async (name: string, input: object, payload: object) =>
      jsonata(outputs[name]?.slice(3, -3) ?? '').evaluate(
        {},
        { states: { input, result: { Payload: payload } } },
      );
    const before = { attempt: 3, runs: 4, findings: 10, newFindings: 7 };
    expect(await evaluateOutput('findings', before, { findings: 5, pages: 1 })).toBe(15);
    expect(await evaluateOutput('newFindings', before, { errorMessage: 'no counts' })).toBe(7);
    expect(await evaluateOutput('attempt', before, { pages: 2 })).toBe(0);
    expect(await evaluateOutput('attempt', before, { pages: 0, stoppedEarly: 'budget' })).toBe(4);
    expect(await evaluateOutput('runs', before, { pages: 0 })).toBe(5);
  });

  it('fails at the end naming how many windows failed and the first of them, with their errors', async () => {
    const windows = Array.from({ length: 30 }, (_, index) => ({
      window: { startAt: `s${index}`, endAt: `e${index}` },
      done: index % 10 === 0,
      ...(index % 10 === 0 ? {} : { error: `Error ${index}` }),
    }));
    const cause = (await evaluate(FAILURE_CAUSE, windows)) as string;
    expect(cause).toMatch(
      /^27 of 30 windows failed; the first: s1 to e1 \(Error 1\); s2 to e2 \(Error 2\); /,
    );
    expect(cause.split('; ').length).toBe(BACKFILL_LIMITS.failuresNamed + 1);
    expect(await evaluate(FAILURE_CAUSE, [windows[1]])).toBe(
      '1 of 1 windows failed; the first: s1 to e1 (Error 1)',
    );
    expect(definition.States.AllWindowsDone).toMatchObject({
      Choices: [{ Next: 'WindowsFailed' }],
      Default: 'Backfilled',
    });
  });

  it('takes an inventory snapshot on demand, running the inventory collector until it is complete', () => {
    const start = definition.States.What as State & {
      Choices: { Condition: string; Next: string }[];
    };
    expect(start.Choices.map((choice) => choice.Next)).toContain('RunInventory');
    expect(definition.States.SnapshotComplete).toMatchObject({
      Choices: [
        { Condition: "{% $states.input.summary.snapshotStatus = 'complete' %}", Next: 'SnapshotTaken' },
        {},
      ],
      Default: 'WaitBetweenInventoryRuns',
    });
  });
});

describe('the backfill state machine of a stack with two subscriptions', () => {
  const { template } = synthStack({
    ...SKIP_BUNDLING,
    subscriptions: [
      { name: 'prod', secretName: 'qualys-lake/prod' },
      { name: 'emea', secretName: 'qualys-lake/emea', collectors: ['cdr-findings'] },
    ],
  });
  const definition = definitionOf(template);
  const functionId = (prefix: string) => {
    const ids = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) =>
      id.startsWith(prefix),
    );
    expect(ids).toHaveLength(1);
    return ids[0] as string;
  };
  const prodCdr = functionId('prodCdrFindingsFunction');
  const emeaCdr = functionId('emeaCdrFindingsFunction');
  const prodInventory = functionId('prodSdrInventoryFunction');
  const cdrTable = `{"prod": '<${prodCdr}.Arn>', "emea": '<${emeaCdr}.Arn>'}`;
  const inventoryTable = `{"prod": '<${prodInventory}.Arn>'}`;

  it("first takes the input's subscription, which every later state reads", async () => {
    expect(definition.StartAt).toBe('Subscription');
    expect(definition.States.Subscription).toMatchObject({
      Type: 'Pass',
      Assign: { subscription: `{% ${subscriptionOfInput(['prod', 'emea'])} %}` },
      Next: 'What',
    });
    // Several subscriptions: an input without one is the subscription `default`, which this stack lacks.
    expect(await evaluate(subscriptionOfInput(['prod', 'emea']), { subscription: 'emea' })).toBe('emea');
    expect(await evaluate(subscriptionOfInput(['prod', 'emea']), {})).toBe('default');
    // One subscription: it is the default, whatever its name.
    expect(await evaluate(subscriptionOfInput(['prod']), {})).toBe('prod');
  });

  it("invokes the subscription's own cdr-findings function for each window, and its inventory function", async () => {
    const map = definition.States.Windows as State & { ItemProcessor: { States: Record<string, State> } };
    const run = map.ItemProcessor.States.RunWindow as State & { Arguments: { FunctionName: string } };
    expect(run.Arguments.FunctionName).toBe(`{% ${functionOf(cdrTable)} %}`);
    const inventory = definition.States.RunInventory as State & { Arguments: { FunctionName: string } };
    expect(inventory.Arguments.FunctionName).toBe(`{% ${functionOf(inventoryTable)} %}`);
    expect(await evaluate(functionOf(cdrTable), {}, { subscription: 'emea' })).toBe(`<${emeaCdr}.Arn>`);
    expect(await evaluate(functionOf(cdrTable), {}, { subscription: 'apac' })).toBeUndefined();
  });

  it('fails an execution for a subscription the stack lacks, or one without the collector, saying which', async () => {
    const what = definition.States.What as State & { Choices: { Condition: string; Next: string }[] };
    const unknown = what.Choices.find((choice) => choice.Next === 'UnknownSubscription');
    expect(unknown?.Condition).toBe(
      `{% $states.input.inventorySnapshot = true or $not($exists(${functionOf(cdrTable)})) %}`,
    );
    // The inventory choice comes first and needs the subscription's inventory function.
    expect(what.Choices[0]?.Condition).toBe(
      `{% $states.input.inventorySnapshot = true and $exists(${functionOf(inventoryTable)}) %}`,
    );
    const cause = unknownSubscriptionCause(['prod', 'emea']);
    expect(definition.States.UnknownSubscription).toEqual({
      Type: 'Fail',
      Error: 'UnknownSubscription',
      Cause: `{% ${cause} %}`,
    });
    expect(await evaluate(cause, { startAt: 'x' }, { subscription: 'apac' })).toBe(
      'unknown subscription "apac": this stack serves prod, emea; name one in the input ("subscription")',
    );
    expect(await evaluate(cause, { inventorySnapshot: true }, { subscription: 'emea' })).toBe(
      'subscription "emea" runs no sdr-inventory collector',
    );
  });

  it('may invoke those three functions (and their versions), no other', () => {
    const roleIds = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) =>
      id.startsWith('BackfillStateMachineRole'),
    );
    expect(roleIds).toHaveLength(1);
    const invoked = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleIds[0] }]))
      .flatMap(
        (policy) =>
          (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] })
            .Statement,
      )
      .filter((statement) => JSON.stringify(statement.Action).includes('lambda:InvokeFunction'))
      .flatMap((statement) => (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]))
      .map((resource) => JSON.stringify(resource));
    const functions = new Set(invoked.map((resource) => /"([A-Za-z0-9]+)","Arn"/.exec(resource)?.[1]));
    expect([...functions].sort()).toEqual([emeaCdr, prodCdr, prodInventory].sort());
  });
});
