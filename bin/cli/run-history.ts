/**
 * When each collector last ran and last succeeded, from the `RunSucceeded` metric every run
 * publishes (1, or 0 for a run that failed with its summary): for `status` on a deployed stack.
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { FUNCTION_NAMES, type FunctionName, METRIC_DIMENSIONS, METRICS } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION } from '../../functions/core/subscription';

export interface RunHistory {
  lastRun?: string;
  lastSuccess?: string;
}

/** How far back to look: a collector that did not run for this long shows "none". */
const LOOKBACK_MS = 3 * 24 * 3600_000;
const PERIOD_SECONDS = 300;

export async function runHistory(
  client: CloudWatchClient = new CloudWatchClient({}),
  now = Date.now(),
  /** The `service` dimension: the stack's name in kebab case (output `MetricsServiceName`). */
  service: string = METRICS.service,
  /** The `subscription` dimension: whose collectors. */
  subscription: string = DEFAULT_SUBSCRIPTION,
): Promise<Record<FunctionName, RunHistory>> {
  const query = (name: FunctionName, index: number, stat: 'SampleCount' | 'Maximum'): MetricDataQuery => ({
    Id: `${stat === 'SampleCount' ? 'runs' : 'best'}${index}`,
    MetricStat: {
      Metric: {
        Namespace: METRICS.namespace,
        MetricName: METRICS.runSucceeded,
        Dimensions: [
          { Name: METRIC_DIMENSIONS.service, Value: service },
          { Name: METRIC_DIMENSIONS.collector, Value: name },
          { Name: METRIC_DIMENSIONS.subscription, Value: subscription },
        ],
      },
      Period: PERIOD_SECONDS,
      Stat: stat,
    },
  });
  const queries = FUNCTION_NAMES.flatMap((name, index) => [
    query(name, index, 'SampleCount'),
    query(name, index, 'Maximum'),
  ]);
  const history = Object.fromEntries(FUNCTION_NAMES.map((name) => [name, {} as RunHistory])) as Record<
    FunctionName,
    RunHistory
  >;
  let token: string | undefined;
  do {
    const page = await client.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(now - LOOKBACK_MS),
        EndTime: new Date(now),
        ScanBy: 'TimestampDescending',
        NextToken: token,
      }),
    );
    for (const result of page.MetricDataResults ?? []) {
      const index = Number(result.Id?.replace(/^\D+/, ''));
      const name = FUNCTION_NAMES[index];
      if (!name) continue;
      const entry = history[name];
      // Timestamps come newest first: the first one with a run, or with a success, is the last.
      (result.Timestamps ?? []).forEach((time, at) => {
        const value = result.Values?.[at] ?? 0;
        const iso = time.toISOString();
        if (result.Id?.startsWith('runs') && value > 0 && (!entry.lastRun || iso > entry.lastRun))
          entry.lastRun = iso;
        if (result.Id?.startsWith('best') && value >= 1 && (!entry.lastSuccess || iso > entry.lastSuccess))
          entry.lastSuccess = iso;
      });
    }
    token = page.NextToken;
  } while (token);
  return history;
}
