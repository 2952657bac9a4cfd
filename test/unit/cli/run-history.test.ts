import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { runHistory } from '../../../bin/cli/run-history';
import { formatStatus, type LakeStatus, lakeStatus } from '../../../bin/cli/status';

const cloudwatch = mockClient(CloudWatchClient);
beforeEach(() => cloudwatch.reset());

const at = (text: string) => new Date(text);

describe('runHistory', () => {
  it('reads the last run and the last success of each collector from RunSucceeded, newest first', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        // cdr-findings: runs in both periods, the newest one failed (Maximum 0).
        { Id: 'runs0', Timestamps: [at('2026-11-29T03:15:00Z'), at('2026-11-29T03:00:00Z')], Values: [1, 1] },
        { Id: 'best0', Timestamps: [at('2026-11-29T03:15:00Z'), at('2026-11-29T03:00:00Z')], Values: [0, 1] },
        // sdr-posture ran once and succeeded; the others did not run.
        { Id: 'runs2', Timestamps: [at('2026-11-29T02:00:00Z')], Values: [1] },
        { Id: 'best2', Timestamps: [at('2026-11-29T02:00:00Z')], Values: [1] },
      ],
    });
    const history = await runHistory(
      new CloudWatchClient({ region: 'eu-west-1' }),
      Date.parse('2026-11-29T03:20:00Z'),
    );
    expect(history).toEqual({
      'cdr-findings': { lastRun: '2026-11-29T03:15:00.000Z', lastSuccess: '2026-11-29T03:00:00.000Z' },
      'sdr-inventory': {},
      'sdr-posture': { lastRun: '2026-11-29T02:00:00.000Z', lastSuccess: '2026-11-29T02:00:00.000Z' },
      'sdr-reports': {},
    });
    const [call] = cloudwatch.commandCalls(GetMetricDataCommand);
    const queries = call?.args[0].input.MetricDataQueries ?? [];
    expect(queries).toHaveLength(8);
    expect(queries[0]?.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'QualysLake',
        MetricName: 'RunSucceeded',
        Dimensions: [
          { Name: 'service', Value: 'qualys-lake' },
          { Name: 'collector', Value: 'cdr-findings' },
          { Name: 'subscription', Value: 'default' },
        ],
      },
      Stat: 'SampleCount',
    });
  });

  it('puts them on each collector of the status it is given to', async () => {
    const empty = { where: 's3://archive', get: async () => undefined, list: async () => [] };
    const thresholds = { 'cdr-findings': 45, 'sdr-inventory': 1080, 'sdr-posture': 180, 'sdr-reports': 1080 };
    const status = await lakeStatus(empty, thresholds, Date.parse('2026-11-29T03:20:00Z'), {
      'cdr-findings': { lastRun: '2026-11-29T03:15:00.000Z', lastSuccess: '2026-11-29T03:00:00.000Z' },
    });
    expect(status.historyRead).toBe(true);
    expect(status.collectors.find((item) => item.collector === 'cdr-findings')).toMatchObject({
      lastRun: '2026-11-29T03:15:00.000Z',
      lastSuccess: '2026-11-29T03:00:00.000Z',
    });
  });

  it('shows them in the status of a deployed stack', () => {
    const status: LakeStatus = {
      where: 's3://archive',
      subscription: 'default',
      historyRead: true,
      at: '2026-11-29T03:20:00.000Z',
      collectors: [
        {
          collector: 'cdr-findings',
          freshness: 'watermark (findings read up to)',
          freshAsOf: '2026-11-29T03:10:00.000Z',
          lagMinutes: 10,
          behind: false,
          details: [],
          alertsWaiting: 0,
          lastRun: '2026-11-29T03:15:00.000Z',
          lastSuccess: '2026-11-29T03:00:00.000Z',
        },
      ],
    };
    const thresholds = { 'cdr-findings': 45, 'sdr-inventory': 1080, 'sdr-posture': 180, 'sdr-reports': 1080 };
    expect(formatStatus(status, thresholds)).toContain(
      'last run 2026-11-29T03:15:00.000Z, last success 2026-11-29T03:00:00.000Z (CloudWatch, 5-minute periods)',
    );
    expect(formatStatus({ ...status, historyRead: false }, thresholds)).not.toContain('last run');
  });
});
