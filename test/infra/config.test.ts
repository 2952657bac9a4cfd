import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/runtime/env';
import { parseConfig } from '../../lib/config';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';
import { SKIP_BUNDLING, testApp } from '../support/infra';

const parse = (context: Record<string, unknown>) => parseConfig((key) => context[key]);

describe('parseConfig', () => {
  it('applies the defaults: one subscription, default, with the top-level settings', () => {
    const collectorDefaults = {
      alertMinSeverity: 'HIGH',
      alertMaxPerRun: 50,
      cdrScheduleMinutes: 15,
      sdrInventoryScheduleMinutes: 360,
      sdrPostureScheduleMinutes: 60,
      sdrReportsScheduleMinutes: 360,
      functionSettings: { 'cdr-findings': {}, 'sdr-inventory': {}, 'sdr-posture': {}, 'sdr-reports': {} },
      lagAlarmMinutes: {},
    };
    expect(parse({ qualysSecretName: 'qualys-lake/qualys' })).toEqual({
      stackName: 'QualysLake',
      qualysSecretName: 'qualys-lake/qualys',
      subscriptions: [
        {
          name: 'default',
          secretName: 'qualys-lake/qualys',
          collectors: ['cdr-findings', 'sdr-inventory', 'sdr-posture', 'sdr-reports'],
          ...collectorDefaults,
        },
      ],
      qualysAllowedHosts: [],
      alertEmails: [],
      alertEmailSubscriptions: [],
      alertMinSeverity: 'HIGH',
      alertMaxPerRun: 50,
      cdrScheduleMinutes: 15,
      rawRetentionDays: 400,
      logRetention: RetentionDays.THREE_MONTHS,
      sdrInventoryScheduleMinutes: 360,
      sdrPostureScheduleMinutes: 60,
      sdrReportsScheduleMinutes: 360,
      functionSettings: { 'cdr-findings': {}, 'sdr-inventory': {}, 'sdr-posture': {}, 'sdr-reports': {} },
      lagAlarmMinutes: {},
      athenaScanCutoffMiB: 10240,
      compaction: { enabled: false, everyHours: 1, curatedRetentionDays: 30 },
    });
  });

  it('accepts the string forms that `-c key=value` produces', () => {
    const config = parse({
      qualysSecretName: 'q',
      alertEmails: 'a@example.com, b@example.com',
      alertMinSeverity: 'critical',
      alertMaxPerRun: '10',
      slackWorkspaceId: 'T1',
      slackChannelId: 'C1',
      logRetentionDays: '30',
      qualysAllowedHosts: 'Qualys.Example.Internal, 10.0.0.5',
    });
    expect(config).toMatchObject({
      qualysAllowedHosts: ['qualys.example.internal', '10.0.0.5'],
      alertEmails: ['a@example.com', 'b@example.com'],
      alertMinSeverity: 'CRITICAL',
      alertMaxPerRun: 10,
      slack: { workspaceId: 'T1', channelId: 'C1' },
      logRetention: RetentionDays.ONE_MONTH,
    });
    expect(
      parse({ qualysSecretName: 'q', alertEmails: '["c@example.com"]', alertMinSeverity: 3 }),
    ).toMatchObject({ alertEmails: ['c@example.com'], alertMinSeverity: '3' });
    expect(
      parse({
        qualysSecretName: 'q',
        alertEmailSubscriptions: 'oncall@example.com:critical, team@example.com',
      }),
    ).toMatchObject({
      alertEmailSubscriptions: [
        { address: 'oncall@example.com', minSeverity: 'critical' },
        { address: 'team@example.com' },
      ],
    });
    expect(
      parse({
        qualysSecretName: 'q',
        alertEmailSubscriptions: '[{"address":"a@example.com","minSeverity":3}]',
      }),
    ).toMatchObject({ alertEmailSubscriptions: [{ address: 'a@example.com', minSeverity: 3 }] });
    expect(parse({ qualysSecretName: 'q', qualysAllowedHosts: ['gw.example.org'] })).toMatchObject({
      qualysAllowedHosts: ['gw.example.org'],
    });
  });

  it.each([
    [{ qualysSecretName: 'q', slackWorkspaceId: 'T1' }, 'slackChannelId', /set both or neither/],
    [{ qualysSecretName: 'q', slackChannelId: 'C1' }, 'slackWorkspaceId', /set both or neither/],
    [
      { qualysSecretName: 'q', alertMinSeverity: 'SEVERE' },
      'alertMinSeverity',
      /LOW, MEDIUM, HIGH, CRITICAL/,
    ],
    [{ qualysSecretName: 'q', alertEmails: ['not-an-address'] }, 'alertEmails', /not-an-address/],
    [
      { qualysSecretName: 'q', alertEmailSubscriptions: 'oncall@example.com:SEVERE' },
      'alertEmailSubscriptions',
      /minSeverity "SEVERE" for oncall@example.com/,
    ],
    [
      { qualysSecretName: 'q', alertEmailSubscriptions: [{ minSeverity: 'HIGH' }] },
      'alertEmailSubscriptions',
      /no valid address/,
    ],
    [{ qualysSecretName: 'q', stackName: 'qualys_lake' }, 'stackName', /CloudFormation stack name/],
    [
      { qualysSecretName: 'q', alertEmailSubscriptions: 'a@example.com:HIGH, A@example.com:LOW' },
      'alertEmailSubscriptions',
      /lists A@example.com twice/,
    ],
    [{ qualysSecretName: 'q', cdrScheduleMinutes: '0' }, 'cdrScheduleMinutes', /integer >= 1/],
    [{ qualysSecretName: 'q', logRetentionDays: 100 }, 'logRetentionDays', /retention periods/],
    [
      { qualysSecretName: 'q', qualysAllowedHosts: 'https://gw.example.org' },
      'qualysAllowedHosts',
      /host names \(no scheme, port or path\)/,
    ],
    [
      { qualysSecretName: 'q', qualysAllowedHosts: ['gw.example.org:8443'] },
      'qualysAllowedHosts',
      /host names/,
    ],
    [{ qualysSecretName: 'q', qualysAllowedHosts: '*.example.org' }, 'qualysAllowedHosts', /host names/],
  ])('rejects %j naming %s', (context, key, message) => {
    const error = (() => {
      try {
        parse(context);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ key, message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(`"${key}"`);
  });

  it('names the secret qualys-lake/qualys when the context names none (what cdk.json used to set)', () => {
    expect(parse({}).subscriptions).toMatchObject([{ name: 'default', secretName: 'qualys-lake/qualys' }]);
    expect(parse({ qualysSecretName: '  ' }).subscriptions).toMatchObject([
      { secretName: 'qualys-lake/qualys' },
    ]);
  });

  it('fails the synth with the key name', () => {
    const app = testApp({ ...SKIP_BUNDLING, alertMaxPerRun: 0 });
    expect(() => new QualysLakeStack(app, 'QualysLake')).toThrow(/CDK context "alertMaxPerRun"/);
    const app2 = testApp({ ...SKIP_BUNDLING, slackWorkspaceId: 'T1' });
    expect(() => new QualysLakeStack(app2, 'QualysLake')).toThrow(/CDK context "slackChannelId"/);
  });
});
