import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV, FUNCTION_NAMES, type FunctionName, METRICS } from '../../functions/core/names';
import { CONFIG_DEFAULTS, CONTEXT_PREFIX } from '../../lib/config';
import { RECORD_METRICS } from '../../lib/constructs/monitoring';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';
import { FULL_CONTEXT, type Resource, ref, SKIP_BUNDLING, synthStack, testApp } from '../support/infra';

/**
 * What an operator finds in the deployed stack to see how far behind each collector is: the
 * dashboard, the lag alarms and the alarms on what the collectors set aside, all to the alert topic.
 */

const SCHEDULE_MINUTES: Record<FunctionName, number> = {
  'cdr-findings': CONFIG_DEFAULTS.cdrScheduleMinutes,
  'sdr-inventory': CONFIG_DEFAULTS.sdrInventoryScheduleMinutes,
  'sdr-posture': CONFIG_DEFAULTS.sdrPostureScheduleMinutes,
  'sdr-reports': CONFIG_DEFAULTS.sdrReportsScheduleMinutes,
};
const TOPIC = [{ Ref: Match.stringLikeRegexp('^AlertsTopic') }];
const ALERTING: readonly FunctionName[] = ['cdr-findings', 'sdr-posture'];

const alarmsOn = (template: Template, metricName: string) =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metricName } }))
    .map((alarm) => (alarm as Resource).Properties)
    .map((properties) => ({
      collector: (properties.Dimensions as { Name: string; Value: string }[]).find(
        (dimension) => dimension.Name === 'collector',
      )?.Value,
      properties,
    }));

/** The environment of the one function whose logical id starts with `id`. */
const variablesOf = (template: Template, id: string) =>
  (
    (template.findResources('AWS::Lambda::Function')[ref(template, 'AWS::Lambda::Function', id)] as Resource)
      .Properties.Environment as { Variables: Record<string, string> }
  ).Variables;

type Widget = { type: string; properties: { title?: string; metrics?: unknown[][]; alarms?: unknown[] } };

/** The dashboard's widgets, its body's references replaced by a placeholder. */
function dashboardWidgets(template: Template): Widget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Resource[];
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<ref>')).join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

/** Names of the QualysLake metrics the dashboard graphs for `collector`. */
function graphedMetrics(widgets: Widget[], collector: FunctionName): Set<string> {
  const names = new Set<string>();
  for (const widget of widgets) {
    for (const metric of widget.properties.metrics ?? []) {
      const [namespace, name, ...rest] = metric;
      const dimensions = rest.filter((item) => typeof item === 'string');
      if (namespace === METRICS.namespace && dimensions.join(',').includes(`collector,${collector}`)) {
        names.add(String(name));
      }
    }
  }
  return names;
}

describe('monitoring with the default context', () => {
  const { template } = synthStack();

  it('has one lag alarm per collector at three schedule intervals, notifying the alert topic', () => {
    const alarms = alarmsOn(template, METRICS.lagSeconds);
    expect(alarms.map((alarm) => alarm.collector).sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const { collector, properties } of alarms) {
      const schedule = SCHEDULE_MINUTES[collector as FunctionName];
      expect(properties, collector).toMatchObject({
        Namespace: METRICS.namespace,
        Statistic: 'Maximum',
        Threshold: 3 * schedule * 60,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'ignore',
        Period: Math.min(schedule, 60) * 60,
      });
      expect(properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlertsTopic/) }]);
    }
  });

  it('alarms on rejected records for every collector and rejected alerts for the two that alert, to the topic', () => {
    const rejected = alarmsOn(template, METRICS.rejectedItems);
    expect(rejected.map((alarm) => alarm.collector).sort()).toEqual([...FUNCTION_NAMES].sort());
    const refused = alarmsOn(template, METRICS.alertsRejected);
    expect(refused.map((alarm) => alarm.collector).sort()).toEqual([...ALERTING].sort());
    for (const { properties } of [...rejected, ...refused]) {
      expect(properties).toMatchObject({
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect(properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlertsTopic/) }]);
    }
    // Every alarm of the stack tells someone.
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: TOPIC }, 4 * 4 + 2);
  });

  it('has a dashboard with runs, calls, budget left, lag, records, alerts and errors per collector, and every alarm', () => {
    const widgets = dashboardWidgets(template);
    const status = widgets.find((widget) => widget.type === 'alarm');
    expect(status?.properties.alarms).toHaveLength(4 * 4 + 2);
    for (const collector of FUNCTION_NAMES) {
      const graphed = graphedMetrics(widgets, collector);
      const expected = [
        METRICS.runSucceeded,
        'ApiCalls',
        'StoppedEarly',
        METRICS.budgetRemaining,
        METRICS.lagSeconds,
        ...RECORD_METRICS[collector],
        'PagingErrors',
        METRICS.rejectedItems,
        ...(ALERTING.includes(collector)
          ? ['AlertsPublished', 'DigestsPublished', METRICS.alertsRejected]
          : []),
      ];
      expect([...graphed].sort(), collector).toEqual([...new Set(expected)].sort());
    }
    // The lag graph draws the alarm's threshold.
    const lagGraphs = widgets.filter((widget) => widget.properties.title === 'Lag (seconds)');
    expect(lagGraphs).toHaveLength(4);
    expect(JSON.stringify(lagGraphs)).toContain('"value":2700');
  });

  it('graphs only record metrics the collectors publish', async () => {
    const { readFile } = await import('node:fs/promises');
    for (const collector of FUNCTION_NAMES) {
      const handler = await readFile(`functions/${collector}/index.ts`, 'utf8');
      for (const name of RECORD_METRICS[collector])
        expect(handler, collector).toMatch(new RegExp(`\\b${name}:`));
    }
  });

  it('sets none of the context-only variables when their keys are absent', () => {
    const variables = (id: string) => variablesOf(template, id);
    expect(Object.keys(variables('CdrFindings'))).not.toContain(ENV.cdrPageSize);
    expect(Object.keys(variables('SdrPosture'))).not.toContain(ENV.sdrPostureMinCriticality);
    expect(Object.keys(variables('SdrInventory'))).not.toContain(ENV.sdrPageSize);
  });
});

describe('operations settings from the context', () => {
  it('reach the functions, the lag alarm and the workgroup', () => {
    const { template } = synthStack({
      ...FULL_CONTEXT,
      [`${CONTEXT_PREFIX['cdr-findings']}LagAlarmMinutes`]: '90',
      sdrPostureMinCriticality: 'High',
      sdrPostureNotifyRecovery: false,
      sdrPageSize: '50',
      sdrInventoryMaxCallsPerRun: 40,
      cdrPageSize: 500,
      athenaScanCutoffMiB: '1024',
    });
    const variables = (id: string) => variablesOf(template, id);
    expect(variables('SdrPosture')).toMatchObject({
      [ENV.sdrPostureMinCriticality]: 'High',
      [ENV.sdrPostureNotifyRecovery]: 'false',
      [ENV.sdrPageSize]: '50',
    });
    expect(Object.keys(variables('SdrPosture'))).not.toContain(ENV.sdrMaxCallsPerRun);
    expect(variables('SdrInventory')).toMatchObject({
      [ENV.sdrPageSize]: '50',
      [ENV.sdrMaxCallsPerRun]: '40',
    });
    expect(variables('SdrReports')).toMatchObject({ [ENV.sdrPageSize]: '50' });
    expect(variables('CdrFindings')).toMatchObject({ [ENV.cdrPageSize]: '500' });
    expect(Object.keys(variables('CdrFindings'))).not.toContain(ENV.sdrPageSize);

    const lag = alarmsOn(template, METRICS.lagSeconds);
    expect(lag.find((alarm) => alarm.collector === 'cdr-findings')?.properties.Threshold).toBe(90 * 60);
    expect(lag.find((alarm) => alarm.collector === 'sdr-posture')?.properties.Threshold).toBe(3 * 60 * 60);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 1024 ** 3 }),
    });
  });

  it.each([
    [{ sdrPageSize: 500 }, /CDK context "sdrPageSize" must be an integer from 1 to 200, got 500/],
    [{ sdrPostureMinCriticality: 'Severe' }, /CDK context "sdrPostureMinCriticality" must be one of Low/],
    [{ sdrPostureNotifyRecovery: 'maybe' }, /CDK context "sdrPostureNotifyRecovery" must be true or false/],
    [{ sdrReportsLagAlarmMinutes: '0' }, /CDK context "sdrReportsLagAlarmMinutes" must be an integer >= 1/],
    [{ athenaScanCutoffMiB: 5 }, /CDK context "athenaScanCutoffMiB" must be an integer >= 10/],
  ])('%j fails the synth naming the key', (context, message) => {
    const app = testApp({ ...SKIP_BUNDLING, qualysSecretName: 'test/qualys', ...context });
    expect(() => new QualysLakeStack(app, 'QualysLake')).toThrow(message);
  });
});
