import { type Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';
import { FULL_CONTEXT, SECURITY_LAKE_CONTEXT, SKIP_BUNDLING, testApp } from '../support/infra';

/**
 * cdk-nag 3 is a policy validation plugin: `app.synth()` throws a ValidationFailed report when a
 * finding of level ERROR is not acknowledged, and `validateScope` lists every unacknowledged finding
 * (warnings included), which is what we assert on so the failure message names the rule and path.
 */
function findings(context: Record<string, unknown>, extra?: (stack: Stack) => void): string[] {
  // CDK's built-in CloudFormation schema validation is not what this test is about and costs ~7 s to
  // load; `cdk synth` runs it.
  const app = testApp(context, { builtinCloudFormationValidation: false });
  const stack = new QualysLakeStack(app, 'QualysLake');
  extra?.(stack);
  const checks = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(checks);
  try {
    app.synth();
  } catch (error) {
    // Fall through: the report below names each finding, the exception only summarises them.
    if (!String(error).includes('ValidationFailed')) throw error;
  }
  return checks
    .validateScope(app)
    .violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => `${violation.ruleName} at ${resource.constructPath}`),
    );
}

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings with email and Slack', () => {
    expect(findings(FULL_CONTEXT)).toEqual([]);
  });

  it('has no unacknowledged findings without them', () => {
    expect(findings({ ...SKIP_BUNDLING, qualysSecretName: 'test/qualys' })).toEqual([]);
  });

  it('has no unacknowledged findings with the Security Lake writer on', () => {
    expect(findings({ ...FULL_CONTEXT, securityLake: SECURITY_LAKE_CONTEXT })).toEqual([]);
  });

  it('has no unacknowledged findings with the compaction on', () => {
    expect(findings({ ...FULL_CONTEXT, compaction: true })).toEqual([]);
  });

  it('would report a finding (the check is not vacuous)', () => {
    const reported = findings(FULL_CONTEXT, (stack) => new s3.Bucket(stack, 'Unhardened'));
    expect(reported).toContain('AwsSolutions-S1 at QualysLake/Unhardened/Resource');
  });
});
