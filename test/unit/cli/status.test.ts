import { describe, expect, it } from 'vitest';
import { formatStatus, lakeStatus, subscriptionPlans } from '../../../bin/cli/status';
import { parseConfig } from '../../../lib/config';

/** A lake of a few JSON objects, as `status` reads them. */
function lakeOf(objects: Record<string, unknown>) {
  return {
    where: 'memory',
    get: async (key: string) =>
      key in objects ? new TextEncoder().encode(JSON.stringify(objects[key])) : undefined,
    list: async (prefix: string) => Object.keys(objects).filter((key) => key.startsWith(prefix)),
  };
}

const config = parseConfig(
  (key) =>
    ({
      cdrScheduleMinutes: 30,
      subscriptions: [
        { name: 'prod', secretName: 'qualys-lake/prod', cdrScheduleMinutes: 5 },
        { name: 'emea', secretName: 'qualys-lake/emea', collectors: ['cdr-findings', 'sdr-posture'] },
      ],
    })[key],
);

describe('status of a stack with several subscriptions', () => {
  it('plans each subscription with its collectors and its own lag thresholds, or only the one asked for', () => {
    const plans = subscriptionPlans(config, ['prod', 'emea']);
    expect(plans.map((plan) => [plan.name, plan.collectors, plan.thresholds['cdr-findings']])).toEqual([
      ['prod', ['cdr-findings', 'sdr-inventory', 'sdr-posture', 'sdr-reports'], 15],
      ['emea', ['cdr-findings', 'sdr-posture'], 90],
    ]);
    expect(subscriptionPlans(config, undefined, 'emea').map((plan) => plan.name)).toEqual(['emea']);
    expect(() => subscriptionPlans(config, ['prod', 'emea'], 'apac')).toThrow(
      'no subscription "apac" here; the subscriptions are prod, emea',
    );
  });

  it("reads each subscription's own checkpoint and call-budget ledger, under subscription=<name>/", async () => {
    const lake = lakeOf({
      'state/cdr-findings/subscription=emea/checkpoint.json': { watermark: '2026-11-29T03:00:00.000Z' },
      'state/cdr-findings/subscription=prod/checkpoint.json': { watermark: '2026-11-28T03:00:00.000Z' },
      'state/qualys/subscription=emea/call-budget.json': { gateway: { limit: 300, remaining: 12 } },
    });
    const [, emea] = subscriptionPlans(config, ['prod', 'emea']);
    if (!emea) throw new Error('no emea plan');
    const status = await lakeStatus(
      lake,
      emea.thresholds,
      Date.parse('2026-11-29T03:20:00Z'),
      undefined,
      emea,
    );
    expect(status.subscription).toBe('emea');
    expect(status.collectors.map((collector) => collector.collector)).toEqual([
      'cdr-findings',
      'sdr-posture',
    ]);
    expect(status.collectors[0]).toMatchObject({ freshAsOf: '2026-11-29T03:00:00.000Z', lagMinutes: 20 });
    expect(status.budget).toMatchObject({ limit: 300, remaining: 12 });
    expect(formatStatus(status, emea.thresholds)).toMatch(/^Lake memory, subscription emea, at /);
  });
});
