import { describe, expect, it } from 'vitest';
import { sdrPostureKeys } from '../../../functions/sdr-posture/keys';
import type { FailureState } from '../../../functions/sdr-posture/model';
import { MemoryStore } from '../../support/memory-store';
import { CIS, control, resource, SITE, setup } from '../../support/posture-api';

/** The O365 pair fails on three resources of three criticalities; the Google Workspace pair fails on none. */
function pages() {
  return new Map<string, unknown[][]>([
    [
      `2245|${CIS}`,
      [
        [
          control('70116', [
            resource('QualysSSCMSDev.com', 'Fail'),
            resource('QualysSSCMSDev.onmicrosoft.com', 'Pass'),
          ]),
          control('70121', [resource(SITE, 'Fail')], { criticality: 'Critical' }),
          control('70130', [resource('sub-1', 'Fail')], { criticality: 'Low' }),
        ],
      ],
    ],
    ['2193|Google Workspace Best Practices', [[control('70201', [resource('/Sales/EMEA', 'Pass')])]]],
  ]);
}

describe('posture baseline', () => {
  it('sends one summary for what already fails at the first poll of a pair, then one alert per new failure', async () => {
    const served = pages();
    const { run, json, published } = setup({ pages: served, settings: { baselineSummary: true } });

    const first = await run();
    expect(first).toMatchObject({ newFailures: 3, baselineFailures: 3, alertsPublished: 1 });
    expect(published).toHaveLength(1);
    const summary = published[0];
    expect(summary?.attributes).toEqual({
      source: 'sdr-posture',
      criticality: 'Critical',
      rank: '4',
      connectorType: 'OFFICE365',
      kind: 'baseline',
    });
    expect(summary?.subject).toBe(
      `[Critical] 3 failing resources on O365 p01 at first poll: ${CIS}`.slice(0, 96) + '...',
    );
    expect(summary?.subject.length).toBeLessThan(100);
    expect(summary?.chat.content.title.startsWith(':rotating_light: 3 failing resources on O365 p01')).toBe(
      true,
    );
    // Most severe first, each as a sentence with the resource's name where the data has one.
    const listed = summary?.email.split('What fails:\n')[1]?.split('\n\n')[0]?.split('\n');
    expect(listed).toEqual([
      `- [Critical] Control 70121 (control 70121): "Setting is enabled" is false for ${SITE}; the control passes when it is true.`,
      '- [High] Control 70116 (control 70116): "Setting is enabled" is false for QualysSSCMSDev.com; the control passes when it is true.',
      `- [Low] Control 70130 (control 70130): "Setting is enabled" is false for O365 p01's OFFICE365 subscription (sub-1); the control passes when it is true.`,
    ]);
    expect(summary?.email).toContain('By criticality: Critical 1, High 1, Low 1');
    expect(summary?.email).toMatch(/In Athena: SELECT .* WHERE dt = '\d{4}-\d{2}-\d{2}' AND lake_run_id = '/);

    const state = json<FailureState>(sdrPostureKeys.failures);
    expect(Object.values(state.failures).every((failure) => failure.alerted)).toBe(true);
    expect(Object.keys(state.baselines ?? {}).sort()).toEqual(['2193|81', '2245|cis/../71']);

    // The next poll: nothing new, nothing sent.
    expect(await run()).toMatchObject({ newFailures: 0, alertsPublished: 0 });

    // A resource starts failing: its own alert. A listed one passes: its recovery notice.
    served.set(`2245|${CIS}`, [
      [
        control('70116', [
          resource('QualysSSCMSDev.com', 'Pass'),
          resource('QualysSSCMSDev.onmicrosoft.com', 'Fail'),
        ]),
        control('70121', [resource(SITE, 'Fail')], { criticality: 'Critical' }),
        control('70130', [resource('sub-1', 'Fail')], { criticality: 'Low' }),
      ],
    ]);
    await run();
    expect(
      published.slice(1).map((message) => [message.attributes.kind, message.attributes.alertKey]),
    ).toEqual([
      ['failed', '2245:70116:QualysSSCMSDev.onmicrosoft.com'],
      ['recovered', '2245:70116:QualysSSCMSDev.com'],
    ]);
  });

  it('counts failures below SDR_POSTURE_MIN_CRITICALITY without listing them, and sends nothing for a pair with none', async () => {
    const { run, published } = setup({
      pages: pages(),
      settings: { baselineSummary: true, minCriticality: 3 },
    });
    await run();
    expect(published).toHaveLength(1);
    expect(published[0]?.subject).toMatch(/^\[Critical\] 2 failing resources on O365 p01 /);
    expect(published[0]?.email).toContain(
      'Also failing, below SDR_POSTURE_MIN_CRITICALITY and not listed: 1.',
    );
    expect(published[0]?.email).not.toContain('70130');
  });

  it('treats every pair as baselined in a failure state written before baselines existed', async () => {
    const store = new MemoryStore();
    const legacy: FailureState = { version: 1, failures: {} };
    await store.put(sdrPostureKeys.failures, JSON.stringify(legacy), { contentType: 'application/json' });
    const { run, published, json } = setup({ pages: pages(), settings: { baselineSummary: true }, store });
    await run();
    expect(published.map((message) => message.attributes.kind)).toEqual(['failed', 'failed', 'failed']);
    expect(json<FailureState>(sdrPostureKeys.failures).baselines).toBeUndefined();
  });

  it('alerts each failure of the first poll when SDR_POSTURE_BASELINE_SUMMARY is false, and still records the baseline', async () => {
    const { run, published, json } = setup({ pages: pages(), settings: { baselineSummary: false } });
    await run();
    expect(published.map((message) => message.attributes.kind)).toEqual(['failed', 'failed', 'failed']);
    expect(Object.keys(json<FailureState>(sdrPostureKeys.failures).baselines ?? {})).toHaveLength(2);
  });
});
