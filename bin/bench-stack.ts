/**
 * The settings a collector gets when deployed with the stack's defaults, read from the synthesised
 * template (no bundling) rather than copied: alert settings, NODE_OPTIONS, timeout, memory and the
 * schedule, so the bench runs what `cdk deploy` would.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { FunctionName } from '../functions/core/names';
import { PROJECT_ROOT } from '../lib/bundle';
import { QualysLakeStack } from '../lib/qualys-lake-stack';

export interface DeployedCollector {
  /** The function's environment variables with a literal value (references to resources left out). */
  env: Record<string, string>;
  timeoutSeconds: number;
  memoryMiB: number;
}

export interface StackDefaults {
  collectors: Record<FunctionName, DeployedCollector>;
  cdrScheduleMinutes: number;
}

export function stackDefaults(): StackDefaults {
  const cdkContext = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
  const app = new App({
    context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], qualysSecretName: 'bench/qualys' },
  });
  const stack = new QualysLakeStack(app, 'QualysLakeBench');
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<
    string,
    {
      Properties: {
        Environment?: { Variables?: Record<string, unknown> };
        Timeout: number;
        MemorySize: number;
      };
    }
  >;
  const collectors = {} as Record<FunctionName, DeployedCollector>;
  for (const name of stack.collectors.keys()) {
    const id = stack.getLogicalId(stack.collectors.get(name)?.function.node.defaultChild as never);
    const resource = functions[id];
    if (!resource) throw new Error(`no Lambda function ${id} for ${name} in the synthesised stack`);
    const variables = resource.Properties.Environment?.Variables ?? {};
    collectors[name] = {
      env: Object.fromEntries(
        Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      ),
      timeoutSeconds: resource.Properties.Timeout,
      memoryMiB: resource.Properties.MemorySize,
    };
  }
  return { collectors, cdrScheduleMinutes: stack.config.cdrScheduleMinutes };
}
