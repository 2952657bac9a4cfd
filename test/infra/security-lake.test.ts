import { describe, expect, it } from 'vitest';
import { parseSecurityLake } from '../../lib/security-lake-config';
import {
  actionsOf,
  allowStatements,
  CDR_ROLE,
  FULL_CONTEXT,
  objectSuffix,
  POSTURE_ROLE,
  type Resource,
  ref,
  resourcesOf,
  SECURITY_LAKE_CONTEXT,
  synthStack,
} from '../support/infra';

/** The sources of SECURITY_LAKE_CONTEXT as the writer receives them: one by name, one by location. */
const PARSED_SOURCES = {
  detectionFinding: {
    bucket: 'aws-security-data-lake-eu-west-1-abcdef',
    prefix: 'ext/qualys-cdr/',
    roleArn: CDR_ROLE,
    externalId: 'qualys-lake-cdr',
  },
  complianceFinding: {
    bucket: 'aws-security-data-lake-eu-west-1-abcdef',
    prefix: 'ext/qualys-posture/1.0/',
    roleArn: POSTURE_ROLE,
    externalId: 'qualys-lake-posture',
  },
};
const context = (value: unknown) => (key: string) => (key === 'securityLake' ? value : undefined);

describe('parseSecurityLake', () => {
  it('is off without the key', () => {
    expect(parseSecurityLake(context(undefined), ['default'])).toBeUndefined();
  });

  it('reads a source by name under the bucket and by its location, with the defaults', () => {
    const parsed = parseSecurityLake(context(JSON.stringify(SECURITY_LAKE_CONTEXT)), ['default']);
    expect(parsed?.default).toEqual({
      region: 'eu-west-1',
      accountId: '111122223333',
      scheduleMinutes: 30,
      lookbackDays: 3,
      sources: PARSED_SOURCES,
    });
  });

  it.each([
    [
      { other: SECURITY_LAKE_CONTEXT.default },
      /securityLake" other: is not a configured subscription \(default\)/,
    ],
    [
      { default: { ...SECURITY_LAKE_CONTEXT.default, scheduleMinutes: 2 } },
      /default.scheduleMinutes: must be a whole number from 5 to 1440/,
    ],
    [{ default: { ...SECURITY_LAKE_CONTEXT.default, scheduleMinutes: 1441 } }, /from 5 to 1440, got 1441/],
    [
      { default: { ...SECURITY_LAKE_CONTEXT.default, sources: { vulnerability: {} } } },
      /sources.vulnerability: is not a class/,
    ],
    [{ default: { ...SECURITY_LAKE_CONTEXT.default, sources: {} } }, /sources: must name at least one of/],
    [
      {
        default: { sources: { detectionFinding: { sourceName: 'x', roleArn: CDR_ROLE, externalId: 'abc' } } },
      },
      /names a sourceName but the entry has no "bucket"/,
    ],
    [
      {
        default: {
          ...SECURITY_LAKE_CONTEXT.default,
          sources: { detectionFinding: { sourceName: 'x', roleArn: 'role/x', externalId: 'abc' } },
        },
      },
      /detectionFinding.roleArn: must be an IAM role ARN/,
    ],
    [
      {
        default: {
          ...SECURITY_LAKE_CONTEXT.default,
          sources: { detectionFinding: { sourceName: 'x', roleArn: CDR_ROLE } },
        },
      },
      /detectionFinding.externalId: is required/,
    ],
  ])('refuses %j naming what is wrong', (value, message) => {
    expect(() => parseSecurityLake(context(value), ['default'])).toThrow(message);
  });
});

const ON = { ...FULL_CONTEXT, securityLake: SECURITY_LAKE_CONTEXT };

describe('the Security Lake writer in the stack', () => {
  it('is not synthesized without securityLake: no function, no role, no schedule', () => {
    const { template } = synthStack(FULL_CONTEXT);
    const resources = Object.keys(template.toJSON().Resources as Record<string, unknown>);
    expect(resources.filter((id) => id.startsWith('SecurityLake'))).toEqual([]);
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies.includes('sts:AssumeRole'), 'a policy grants sts:AssumeRole').toBe(false);
    expect(Object.keys(template.toJSON().Outputs as Record<string, unknown>)).not.toContain(
      'SecurityLakeDefaultFunctionName',
    );
  });

  it('runs the security-lake bundle on a schedule with the target, the subscription and no secret', () => {
    const { template } = synthStack(ON);
    const id = ref(template, 'AWS::Lambda::Function', 'SecurityLakeDefault');
    const fn = template.findResources('AWS::Lambda::Function')[id] as Resource;
    const environment = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(environment.QUALYS_SUBSCRIPTION).toBe('default');
    expect(environment).not.toHaveProperty('QUALYS_SECRET_ID');
    // As every function of the stack (runEnvironment): glibc's mmap threshold fixed.
    expect(environment.MALLOC_MMAP_THRESHOLD_).toBe('131072');
    expect(JSON.parse(String(environment.SECURITY_LAKE_TARGET))).toEqual({
      region: 'eu-west-1',
      accountId: '111122223333',
      sources: PARSED_SOURCES,
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0/30 * * * ? *)',
      Description: 'Writes a Security Lake batch of default every 30 minutes',
    });
  });

  it('may assume exactly the provider roles, read the curated prefixes of its classes and its state, write only its state', () => {
    const { template } = synthStack(ON);
    const fnId = ref(template, 'AWS::Lambda::Function', 'SecurityLakeDefault');
    const bucketId = ref(template, 'AWS::S3::Bucket', 'ArchiveBucket');
    const statements = allowStatements(template, fnId);
    const byAction = (action: string) =>
      statements.filter((statement) => actionsOf(statement).includes(action)).flatMap(resourcesOf);

    expect(byAction('sts:AssumeRole').sort()).toEqual([CDR_ROLE, POSTURE_ROLE].sort());
    expect(
      byAction('s3:GetObject')
        .map((resource) => objectSuffix(resource, bucketId))
        .sort(),
    ).toEqual([
      '/curated/cdr_findings/subscription=default/*',
      '/curated/sdr_posture/subscription=default/*',
      '/state/security-lake/subscription=default/*',
    ]);
    expect(byAction('s3:PutObject').map((resource) => objectSuffix(resource, bucketId))).toEqual([
      '/state/security-lake/subscription=default/*',
    ]);
    expect(byAction('s3:DeleteObject')).toEqual([]);
    const everything = JSON.stringify(statements);
    expect(everything).not.toContain('aws-security-data-lake');
    expect(everything).not.toContain('secretsmanager');
  });
});
