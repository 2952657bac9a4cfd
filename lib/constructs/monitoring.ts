import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { type FunctionName, METRICS } from '../../functions/core/names';
import type { Collector } from './collector';

/**
 * What each collector counts as its records (metric names its handler publishes, see
 * functions/<name>/index.ts): shown in the dashboard's Records graph.
 */
export const RECORD_METRICS: Record<FunctionName, readonly string[]> = {
  'cdr-findings': ['Findings', 'NewFindings', 'LateFindings'],
  'sdr-inventory': ['Records', 'SnapshotsCompleted'],
  'sdr-posture': ['PostureRows', 'NewFailures', 'Recoveries'],
  'sdr-reports': ['ReportsListed', 'ReportsDownloaded'],
};

export interface MonitoringProps {
  readonly collectors: readonly Collector[];
  /**
   * Name of the CloudWatch dashboard.
   * @default `<stack name>-collectors`
   */
  readonly dashboardName?: string;
}

/** Graph width for a row of `count` graphs on the dashboard's 24 columns. */
const widthOf = (count: number) => Math.floor(24 / count);
const HOUR = Duration.hours(1);

/**
 * One CloudWatch dashboard for the collectors: every alarm's state on top (one widget per
 * subscription, as one widget shows at most 100 alarms), then one row per collector of each
 * subscription with its runs, Qualys calls, the budget left, its lag against the alarm's
 * threshold, its records, its alerts and its errors.
 */
export class Monitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${Stack.of(this).stackName}-collectors`,
      defaultInterval: Duration.days(2),
    });
    const subscriptions = [...new Set(props.collectors.map((collector) => collector.subscription))];
    for (const subscription of subscriptions) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({
          title: subscriptions.length === 1 ? 'Alarms' : `Alarms of subscription ${subscription}`,
          width: 24,
          alarms: props.collectors
            .filter((collector) => collector.subscription === subscription)
            .flatMap((collector) => collector.alarms),
        }),
      );
    }
    for (const collector of props.collectors) this.addCollector(collector, subscriptions.length > 1);
  }

  private addCollector(collector: Collector, nameSubscription: boolean): void {
    const sum = (name: string, label: string) => collector.metric(name, { period: HOUR, label });
    const graphs: cloudwatch.GraphWidgetProps[] = [
      graph('Runs', [
        collector.function.metricInvocations({ period: HOUR, label: 'Invocations' }),
        sum(METRICS.runSucceeded, 'Succeeded'),
        collector.function.metricErrors({ period: HOUR, label: 'Failed (Lambda errors)' }),
      ]),
      graph('Qualys calls', [sum('ApiCalls', 'API calls'), sum('StoppedEarly', 'Runs stopped early')]),
      graph('Budget left', [
        collector.metric(METRICS.budgetRemaining, {
          period: HOUR,
          statistic: cloudwatch.Stats.MINIMUM,
          label: 'Calls left in the window (lowest)',
        }),
      ]),
      {
        title: 'Lag (seconds)',
        left: [
          collector.metric(METRICS.lagSeconds, {
            period: HOUR,
            statistic: cloudwatch.Stats.MAXIMUM,
            label: 'Lag',
          }),
        ],
        leftAnnotations: [
          {
            value: collector.lagAlarmThreshold.toSeconds(),
            label: `Alarm above ${collector.lagAlarmThreshold.toHumanString()}`,
            color: cloudwatch.Color.RED,
          },
        ],
        leftYAxis: { min: 0 },
      },
      graph(
        'Records',
        RECORD_METRICS[collector.name].map((name) => sum(name, name)),
      ),
      ...(collector.publishesAlerts
        ? [
            graph('Alerts', [
              sum('AlertsPublished', 'Alerts'),
              sum('DigestsPublished', 'Digests'),
              sum(METRICS.alertsRejected, 'Refused by SNS'),
            ]),
          ]
        : []),
      graph('Errors', [
        collector.function.metricErrors({ period: HOUR, label: 'Failed runs' }),
        sum('PagingErrors', 'Paging errors'),
        sum(METRICS.rejectedItems, 'Items set aside'),
      ]),
    ];
    const width = widthOf(graphs.length);
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `### ${collector.name}${nameSubscription ? ` · subscription ${collector.subscription}` : ''}`,
        width: 24,
        height: 1,
      }),
    );
    this.dashboard.addWidgets(
      ...graphs.map((graphProps) => new cloudwatch.GraphWidget({ ...graphProps, width })),
    );
  }
}

function graph(title: string, left: cloudwatch.IMetric[]): cloudwatch.GraphWidgetProps {
  return { title, left, leftYAxis: { min: 0 } };
}
