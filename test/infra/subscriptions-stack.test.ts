import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/names';
import { functionName } from '../../lib/stack-names';
import {
  actionsOf,
  allowStatements,
  emailSubscriptions,
  objectSuffix,
  type Resource,
  ref,
  resourcesOf,
  SKIP_BUNDLING,
  synthStack,
} from '../support/infra';

/**
 * A stack serving two Qualys subscriptions: one function per subscription and collector, each with
 * its own subscription in its environment, its own secret, its own scoped prefixes, its own
 * schedule and alarms; the bucket, topic, tables and dashboard shared.
 */
const SUBSCRIPTIONS = [
  {
    name: 'prod',
    secretName: 'qualys-lake/prod',
    cdrScheduleMinutes: 5,
    alertMinSeverity: 'CRITICAL',
    cdrQuery: 'tc.findings.cloudProvider: AWS',
    alertEmails: ['prod-soc@example.com'],
  },
  {
    name: 'emea',
    secretName: 'qualys-lake/emea',
    collectors: ['cdr-findings', 'sdr-posture'],
    alertEmails: ['emea-soc@example.com:HIGH'],
  },
];

describe('QualysLakeStack with two subscriptions', () => {
  const { template } = synthStack({
    ...SKIP_BUNDLING,
    alertEmails: ['all@example.com'],
    subscriptions: JSON.stringify(SUBSCRIPTIONS),
  });
  const bucket = ref(template, 'AWS::S3::Bucket', 'ArchiveBucket');
  const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
  const collectorIds = Object.keys(functions).filter((id) =>
    JSON.stringify(functions[id] ?? {}).includes(ENV.qualysSecretId),
  );
  const variables = (id: string) =>
    (functions[id]?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)
      ?.Variables ?? {};

  it('runs one function per subscription and collector it runs, named after the stack, subscription and collector', () => {
    const byName = Object.fromEntries(
      collectorIds.map((id) => [functions[id]?.Properties.FunctionName, variables(id)[ENV.subscription]]),
    );
    expect(byName).toEqual({
      'qualys-lake-prod-cdr-findings': 'prod',
      'qualys-lake-prod-sdr-inventory': 'prod',
      'qualys-lake-prod-sdr-posture': 'prod',
      'qualys-lake-prod-sdr-reports': 'prod',
      'qualys-lake-emea-cdr-findings': 'emea',
      'qualys-lake-emea-sdr-posture': 'emea',
    });
  });

  it("gives each function its subscription's secret and settings, the others the top-level defaults", () => {
    const prod = variables(ref(template, 'AWS::Lambda::Function', 'prodCdrFindingsFunction'));
    const emea = variables(ref(template, 'AWS::Lambda::Function', 'emeaCdrFindingsFunction'));
    expect(prod).toMatchObject({
      [ENV.qualysSecretId]: 'qualys-lake/prod',
      [ENV.subscription]: 'prod',
      [ENV.alertMinSeverity]: 'CRITICAL',
      [ENV.cdrQuery]: 'tc.findings.cloudProvider: AWS',
    });
    expect(emea).toMatchObject({
      [ENV.qualysSecretId]: 'qualys-lake/emea',
      [ENV.subscription]: 'emea',
      [ENV.alertMinSeverity]: 'HIGH',
    });
    expect(emea).not.toHaveProperty(ENV.cdrQuery);
  });

  it('lets each function read only its own secret and its own subscription prefixes', () => {
    for (const id of collectorIds) {
      const subscription = variables(id)[ENV.subscription] as string;
      const other = subscription === 'prod' ? 'emea' : 'prod';
      const statements = allowStatements(template, id);
      const secrets = statements
        .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
        .flatMap(resourcesOf)
        .map((resource) => JSON.stringify(resource));
      expect(secrets, id).toHaveLength(1);
      expect(secrets[0], id).toMatch(new RegExp(`:secret:qualys-lake/${subscription}-\\?{6}"`));
      const suffixes = statements.flatMap((s) =>
        resourcesOf(s)
          .map((resource) => objectSuffix(resource, bucket))
          .filter((suffix) => suffix !== undefined),
      );
      expect(suffixes.length, id).toBeGreaterThan(0);
      for (const suffix of suffixes) {
        expect(suffix, id).toMatch(
          new RegExp(`^/[a-z]+/[a-z_-]+/subscription=${subscription}/([a-z-]+/)?\\*$`),
        );
        expect(suffix, id).not.toContain(other);
      }
      const list = statements.find((s) => actionsOf(s).includes('s3:ListBucket')) as
        | { Condition: { StringLike: { 's3:prefix': string[] } } }
        | undefined;
      expect(list, id).toBeDefined();
      for (const prefix of list?.Condition.StringLike['s3:prefix'] ?? [])
        expect(prefix, id).toContain(`/subscription=${subscription}/`);
    }
  });

  it("starts each function on its subscription's schedule", () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')) as Resource[];
    const expressionOf = (functionId: string) =>
      schedules.find(
        (schedule) =>
          JSON.stringify((schedule.Properties.Target as { Arn: unknown }).Arn) ===
          JSON.stringify({ 'Fn::GetAtt': [functionId, 'Arn'] }),
      )?.Properties.ScheduleExpression;
    expect(schedules).toHaveLength(6);
    expect(expressionOf(ref(template, 'AWS::Lambda::Function', 'prodCdrFindingsFunction'))).toBe(
      'cron(0/5 * * * ? *)',
    );
    expect(expressionOf(ref(template, 'AWS::Lambda::Function', 'emeaCdrFindingsFunction'))).toBe(
      'cron(0/15 * * * ? *)',
    );
  });

  it("mails each subscription's team only its alerts, and the shared address everything", () => {
    const subscriptions = emailSubscriptions(template);
    expect(subscriptions).toEqual(
      expect.arrayContaining([
        ['all@example.com', null],
        ['prod-soc@example.com', { subscription: ['prod'] }],
        ['emea-soc@example.com', { subscription: ['emea'], rank: [{ numeric: ['>=', 3] }] }],
      ]),
    );
    expect(subscriptions).toHaveLength(3);
  });

  it('alarms on each function with its subscription in the metric dimensions', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const lag = alarms.filter((alarm) => alarm.Properties.MetricName === 'LagSeconds');
    expect(lag).toHaveLength(6);
    const dimensions = lag.map((alarm) =>
      Object.fromEntries(
        (alarm.Properties.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]),
      ),
    );
    expect(dimensions).toContainEqual({
      service: 'qualys-lake',
      collector: 'sdr-posture',
      subscription: 'emea',
    });
    expect(dimensions).toContainEqual({
      service: 'qualys-lake',
      collector: 'sdr-reports',
      subscription: 'prod',
    });
  });

  it('projects both subscriptions in every Glue table, before dt', () => {
    const tables = Object.values(template.findResources('AWS::Glue::Table')) as Resource[];
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) {
      const input = table.Properties.TableInput as {
        PartitionKeys: { Name: string }[];
        Parameters: Record<string, unknown>;
      };
      expect(input.PartitionKeys.map((key) => key.Name)).toEqual(['subscription', 'dt']);
      expect(input.Parameters['projection.subscription.values']).toBe('prod,emea');
    }
  });

  it('outputs the subscriptions and each function, so the command finds them', () => {
    template.hasOutput('SubscriptionNames', { Value: 'prod,emea' });
    template.hasOutput('prodCdrFindingsFunctionName', {
      Value: { Ref: ref(template, 'AWS::Lambda::Function', 'prodCdrFindingsFunction') },
    });
    template.hasOutput('emeaSdrPostureFunctionName', {
      Value: { Ref: ref(template, 'AWS::Lambda::Function', 'emeaSdrPostureFunction') },
    });
    expect(Object.keys(template.findOutputs('*')).filter((id) => id.endsWith('FunctionName'))).toHaveLength(
      6,
    );
    // `doctor --subscription` reads the secret of each from these.
    template.hasOutput('prodQualysSecretName', { Value: 'qualys-lake/prod' });
    template.hasOutput('emeaQualysSecretName', { Value: 'qualys-lake/emea' });
  });
});

describe('QualysLakeStack without subscriptions', () => {
  const { template } = synthStack({ ...SKIP_BUNDLING, qualysSecretName: 'test/qualys' });

  it('keeps the logical ids and outputs of a deployment from before subscriptions', () => {
    const ids = Object.keys(template.findResources('AWS::Lambda::Function'));
    for (const id of [
      'CdrFindingsFunction',
      'SdrInventoryFunction',
      'SdrPostureFunction',
      'SdrReportsFunction',
    ])
      expect(
        ids.filter((logicalId) => logicalId.startsWith(id)),
        id,
      ).toHaveLength(1);
    for (const id of [
      'CdrFindingsSchedule',
      'CdrFindingsDeadLetterQueue',
      'CdrFindingsLogs',
      'CdrFindingsRole',
    ])
      expect(JSON.stringify(Object.keys(template.toJSON().Resources))).toContain(`"${id}`);
    template.hasOutput('CdrFindingsFunctionName', {});
    template.hasOutput('SubscriptionNames', { Value: 'default' });
    template.hasOutput('QualysSecretName', { Value: 'test/qualys' });
  });

  it('serves the one subscription default with the secret of qualysSecretName', () => {
    const fn = ref(template, 'AWS::Lambda::Function', 'SdrPostureFunction');
    const properties = (template.findResources('AWS::Lambda::Function')[fn] as Resource).Properties;
    expect(properties.FunctionName).toBe('qualys-lake-default-sdr-posture');
    expect((properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [ENV.qualysSecretId]: 'test/qualys',
      [ENV.subscription]: 'default',
    });
  });
});

describe('functionName', () => {
  it('fits the 64 characters of a Lambda name, keeping two long stack names apart', () => {
    const long = 'QualysLakeForTheEuropeanSubsidiaryOfAVeryLargeCompany';
    const first = functionName(long, 'subscription-with-a-long', 'sdr-inventory');
    const second = functionName(`${long}2`, 'subscription-with-a-long', 'sdr-inventory');
    for (const name of [first, second]) {
      expect(name.length).toBeLessThanOrEqual(64);
      expect(name).toMatch(/^qualys-lake-[a-z-]+-[0-9a-f]{6}-subscription-with-a-long-sdr-inventory$/);
    }
    expect(first).not.toBe(second);
    expect(functionName('QualysLakeEmea', 'prod', 'cdr-findings')).toBe('qualys-lake-emea-prod-cdr-findings');
  });
});
