import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ENV, METRICS } from '../../functions/core/names';
import { AlertTopic } from '../../lib/constructs/alerts';
import { ArchiveBucket } from '../../lib/constructs/archive';
import { Collector, scheduleExpression } from '../../lib/constructs/collector';
import { constructSnapshot, SKIP_BUNDLING, testApp } from '../support/infra';

const newStack = () =>
  new Stack(testApp(SKIP_BUNDLING, { builtinCloudFormationValidation: false }), 'QualysLake');

describe('ArchiveBucket', () => {
  it.each([
    [400, ['STANDARD_IA', 'GLACIER_IR']],
    [60, ['STANDARD_IA']],
    [20, []],
  ])('keeps only the transitions before a %i-day expiry', (rawRetentionDays, storageClasses) => {
    const stack = newStack();
    new ArchiveBucket(stack, 'Archive', { rawRetentionDays });
    const rule = Template.fromStack(stack).findResources('AWS::S3::Bucket', {
      Properties: {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'raw-pages' })]) },
      },
    });
    const rules = (Object.values(rule)[0] as { Properties: { LifecycleConfiguration: { Rules: unknown[] } } })
      .Properties.LifecycleConfiguration.Rules as { Id: string; Transitions?: { StorageClass: string }[] }[];
    const raw = rules.find((r) => r.Id === 'raw-pages');
    expect((raw?.Transitions ?? []).map((t) => t.StorageClass)).toEqual(storageClasses);
  });

  it.each(['raw/cdr-findings', 'other/x/', 'raw/*/'])('rejects the prefix %s', (prefix) => {
    const stack = newStack();
    const archive = new ArchiveBucket(stack, 'Archive');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => archive.grantPrefixes(role, { write: [prefix] })).toThrow(/must start with one of raw\//);
  });

  it('matches its snapshot, with asset hashes scrubbed', async () => {
    const stack = newStack();
    new ArchiveBucket(stack, 'Archive');
    await expect(constructSnapshot(Template.fromStack(stack), 'Archive')).toMatchFileSnapshot(
      '__snapshots__/archive.template.json',
    );
  });
});

describe('AlertTopic', () => {
  it('matches its snapshot with email and Slack, with asset hashes scrubbed', async () => {
    const stack = newStack();
    new AlertTopic(stack, 'Alerts', {
      emails: ['sec@example.com'],
      slack: { workspaceId: 'T0000', channelId: 'C0000' },
    });
    await expect(constructSnapshot(Template.fromStack(stack), 'Alerts')).toMatchFileSnapshot(
      '__snapshots__/alerts.template.json',
    );
  });

  it('subscribes each email with its own minimum as a filter policy on the rank attribute', () => {
    const stack = newStack();
    new AlertTopic(stack, 'Alerts', {
      emails: ['all@example.com'],
      emailSubscriptions: [
        { address: 'oncall@example.com', minSeverity: 'high' },
        { address: 'ciso@example.com', minSeverity: 4 },
        { address: 'team@example.com' },
      ],
    });
    const subscriptions = Template.fromStack(stack).findResources('AWS::SNS::Subscription');
    const byAddress = Object.fromEntries(
      Object.values(subscriptions).map((resource) => {
        const properties = (resource as { Properties: { Endpoint: string; FilterPolicy?: unknown } })
          .Properties;
        return [properties.Endpoint, properties.FilterPolicy ?? null];
      }),
    );
    expect(byAddress).toEqual({
      'all@example.com': null,
      'oncall@example.com': { rank: [{ numeric: ['>=', 3] }] },
      'ciso@example.com': { rank: [{ numeric: ['>=', 4] }] },
      'team@example.com': null,
    });
  });

  it.each([
    [
      { address: 'a@example.com', minSeverity: 'Severe' },
      /a@example.com: minSeverity must be LOW, MEDIUM, HIGH, CRITICAL or 1 to 4, got "Severe"/,
    ],
    [{ address: 'a@example.com', minSeverity: 9 }, /a@example.com: minSeverity must be/],
    [
      { address: 'all@example.com', minSeverity: 'LOW' },
      /all@example.com is listed in both emails and emailSubscriptions/,
    ],
  ])('refuses %o with an error naming the address', (subscription, message) => {
    const stack = newStack();
    expect(
      () =>
        new AlertTopic(stack, 'Alerts', { emails: ['all@example.com'], emailSubscriptions: [subscription] }),
    ).toThrow(message);
  });
});

describe('Collector', () => {
  const build = (props: {
    publishAlerts?: boolean;
    tracing?: boolean;
    environment?: Record<string, string>;
  }) => {
    const stack = newStack();
    const alerts = new AlertTopic(stack, 'Alerts');
    const collector = new Collector(stack, 'Posture', {
      name: 'sdr-posture',
      description: 'test',
      scheduleMinutes: 60,
      secret: secretsmanager.Secret.fromSecretNameV2(stack, 'Secret', 'test/qualys'),
      archive: new ArchiveBucket(stack, 'Archive'),
      prefixes: { read: ['state/sdr-posture/'], write: ['raw/sdr-posture/', 'state/sdr-posture/'] },
      alerts,
      ...props,
    });
    return { stack, collector, template: Template.fromStack(stack) };
  };

  it('without publishAlerts still alarms to the topic but cannot publish', () => {
    const { template } = build({ publishAlerts: false });
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0]?.Properties
      .Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables)).not.toContain(ENV.alertTopicArn);
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('sns:Publish');
    // Errors, dead-letter queue, rejected items and lag: all but the alerts-refused alarm.
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlertsTopic') }] },
      4,
    );
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: METRICS.alertsRejected }, 0);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 * * * ? *)' });
  });

  it('alarms to the topic when SNS refuses its alerts, on the metric the handler publishes for it', () => {
    const { template } = build({});
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS.namespace,
      MetricName: METRICS.alertsRejected,
      Dimensions: Match.arrayWith([
        { Name: 'collector', Value: 'sdr-posture' },
        { Name: 'service', Value: METRICS.service },
      ]),
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlertsTopic') }],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: METRICS.service,
          POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
        }),
      },
    });
  });

  it('falls back to rate() for an interval that does not divide an hour or a day', () => {
    expect(scheduleExpression(45, 7)).toBeUndefined();
    expect(scheduleExpression(360, 37)?.expressionString).toBe('cron(37 0/6 * * ? *)');
    expect(scheduleExpression(20, 7)?.expressionString).toBe('cron(7/20 * * * ? *)');
  });

  it('with tracing passes cdk-nag (the X-Ray wildcard is acknowledged)', () => {
    const { stack, template } = build({ tracing: true });
    template.hasResourceProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
    const checks = new AwsSolutionsChecks();
    expect(checks.validateScope(stack.node.root).violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('matches its snapshot, with asset hashes scrubbed', async () => {
    const { template } = build({});
    await expect(constructSnapshot(template, 'Posture')).toMatchFileSnapshot(
      '__snapshots__/collector.template.json',
    );
  });

  it('refuses to override the variables it sets', () => {
    expect(() => build({ environment: { [ENV.archiveBucket]: 'elsewhere' } })).toThrow(/ARCHIVE_BUCKET/);
  });
});
