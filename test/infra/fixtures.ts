import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
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
