import { existsSync, readFileSync } from 'node:fs';
import { parseConfig } from '../../lib/config';
import type { LakeSource } from './lake-source';
import { deployedSubscriptions, outputEnding, stackOutputs } from './options';
import { runHistory } from './run-history';
import { formatStatus, type LakeStatus, lakeStatus, statusExitCode, subscriptionPlans } from './status';

export interface StatusOptions {
  local?: string | true;
  outputs?: string;
  metrics: boolean;
  subscription?: string;
  json?: boolean;
}

/**
 * `qualys-lake status`: one report per subscription of the stack (its `SubscriptionNames` output,
 * else the context's), or of `--subscription` alone; with CloudWatch's last run and success for a
 * deployed stack. Returns the exit code: 1 when any collector is behind.
 */
export async function runStatus(
  options: StatusOptions,
  source: LakeSource,
  print: (text: string) => void,
): Promise<number> {
  const outputs = options.local === undefined ? stackOutputs(options.outputs) : {};
  const plans = subscriptionPlans(contextConfig(), deployedSubscriptions(outputs), options.subscription);
  const statuses: LakeStatus[] = [];
  const printed: string[] = [];
  for (const plan of plans) {
    let history: Awaited<ReturnType<typeof runHistory>> | undefined;
    let historyProblem: string | undefined;
    if (options.local === undefined && options.metrics) {
      try {
        history = await runHistory(
          undefined,
          Date.now(),
          outputEnding(outputs, 'MetricsServiceName'),
          plan.name,
        );
      } catch (error) {
        historyProblem = `could not read CloudWatch (${(error as Error).name}): last run and last success are not shown`;
      }
    }
    const status = {
      ...(await lakeStatus(source, plan.thresholds, Date.now(), history, plan)),
      historyProblem,
    };
    statuses.push(status);
    printed.push(formatStatus(status, plan.thresholds));
  }
  print(
    options.json
      ? JSON.stringify(statuses.length === 1 ? statuses[0] : statuses, null, 2)
      : printed.join('\n\n'),
  );
  return Math.max(0, ...statuses.map(statusExitCode));
}

/**
 * The deployment's settings as the stack reads them from cdk.json's context: `status` calls a
 * collector behind exactly when its alarm would fire, and knows which collectors each subscription runs.
 */
function contextConfig() {
  const context = existsSync('cdk.json')
    ? ((JSON.parse(readFileSync('cdk.json', 'utf8')).context ?? {}) as Record<string, unknown>)
    : {};
  return parseConfig((key) => context[key]);
}
