import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundle';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';

/** The context of cdk.json (feature flags and defaults), so tests synthesise what `cdk synth` does. */
const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

/** Skips asset bundling in every stack, so a synth takes a second instead of an esbuild run. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

export const FULL_CONTEXT = {
  ...SKIP_BUNDLING,
  qualysSecretName: 'test/qualys',
  alertEmails: ['sec@example.com'],
  slackWorkspaceId: 'T0000',
  slackChannelId: 'C0000',
};

export const CDR_ROLE = 'arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-qualys-cdr-eu-west-1';
export const POSTURE_ROLE =
  'arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-qualys-posture-eu-west-1';
/** A `securityLake` context of the default subscription: one source by name, one by location. */
export const SECURITY_LAKE_CONTEXT = {
  default: {
    bucket: 'aws-security-data-lake-eu-west-1-abcdef',
    region: 'eu-west-1',
    accountId: '111122223333',
    scheduleMinutes: 30,
    sources: {
      detectionFinding: { sourceName: 'qualys-cdr', roleArn: CDR_ROLE, externalId: 'qualys-lake-cdr' },
      complianceFinding: {
        location: 's3://aws-security-data-lake-eu-west-1-abcdef/ext/qualys-posture/1.0/',
        roleArn: POSTURE_ROLE,
        externalId: 'qualys-lake-posture',
      },
    },
  },
};
/** A fresh App with cdk.json's context, overridden by `context`. */
export function testApp(context: Record<string, unknown> = FULL_CONTEXT, props: AppProps = {}): App {
  return new App({ ...props, context: { ...CDK_JSON_CONTEXT, ...context } });
}

export function synthStack(context: Record<string, unknown> = FULL_CONTEXT): {
  app: App;
  stack: QualysLakeStack;
  template: Template;
} {
  const app = testApp(context);
  const stack = new QualysLakeStack(app, 'QualysLake');
  return { app, stack, template: Template.fromStack(stack) };
}

export type Resource = { Properties: Record<string, unknown> };
export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The logical id of the one resource of `type` whose id starts with `pathPart`. */
export const ref = (template: Template, type: string, pathPart: string) => {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(pathPart));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

/** Allow statements of the policies attached to one function's execution role. */
export const allowStatements = (template: Template, functionId: string): Statement[] => {
  const fn = template.findResources('AWS::Lambda::Function')[functionId] as Resource;
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) =>
      ((policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement ?? []).filter(
        (statement) => statement.Effect === 'Allow',
      ),
    );
};

/** Each email subscription of the template: its address and its filter policy (null: none). */
export const emailSubscriptions = (template: Template) =>
  Object.values(template.findResources('AWS::SNS::Subscription')).map((resource) => {
    const properties = (resource as Resource).Properties;
    return [properties.Endpoint, properties.FilterPolicy ?? null];
  });

export const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
export const resourcesOf = (statement: Statement) =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];

/** `arn-of-the-bucket/suffix` written as CloudFormation, or undefined for any other resource. */
export const objectSuffix = (resource: unknown, bucketId: string): string | undefined => {
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return undefined;
  const [head, tail] = join[1];
  const getAtt = (head as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
  return getAtt?.[0] === bucketId && typeof tail === 'string' ? tail : undefined;
};

/**
 * What a construct's snapshot keeps: the resources whose logical ids start with the construct's id
 * (the construct and nothing it was given), as JSON with asset hashes scrubbed; `replacer` may
 * shorten what other tests already pin down.
 */
export function constructSnapshot(
  template: Template,
  id: string,
  replacer?: (key: string, value: unknown) => unknown,
): string {
  const resources = Object.fromEntries(
    Object.entries(template.toJSON().Resources as Record<string, unknown>).filter(([logicalId]) =>
      logicalId.startsWith(id),
    ),
  );
  expect(Object.keys(resources).length).toBeGreaterThan(0);
  return `${JSON.stringify({ Resources: resources }, replacer, 2).replace(/[0-9a-f]{64}/g, '<asset-hash>')}\n`;
}

/**
 * A state machine's definition as JSON: its DefinitionString is a Fn::Join of strings and tokens
 * (ARNs, the bucket name), which become `<Logical.Attribute>` placeholders.
 */
export function stateMachineDefinition<T>(definitionString: unknown): T {
  const join = (definitionString as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  const text = join
    ? join[1]
        .map((part) =>
          typeof part === 'string'
            ? part
            : `<${Object.values(part as object)
                .flat()
                .join('.')}>`,
        )
        .join('')
    : (definitionString as string);
  return JSON.parse(text) as T;
}
