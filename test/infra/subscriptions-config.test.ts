import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/names';
import { ConfigError } from '../../functions/runtime/env';
import { lagThresholdMinutes, parseConfig, scheduleMinutes } from '../../lib/config';

const parse = (context: Record<string, unknown>) => parseConfig((key) => context[key]);

const TWO = [
  { name: 'prod', secretName: 'qualys-lake/prod' },
  { name: 'emea', secretName: 'qualys-lake/emea' },
];

/** The error parse throws, for a matcher on its message and key. */
const failure = (context: Record<string, unknown>) => {
  try {
    parse(context);
  } catch (error) {
    return error;
  }
  throw new Error('parse accepted the context');
};

describe('the subscriptions context key', () => {
  it('takes a JSON list or its text, each entry with the top-level settings unless it sets its own', () => {
    const context = {
      cdrScheduleMinutes: 30,
      alertMinSeverity: 'MEDIUM',
      cdrPageSize: 500,
      subscriptions: JSON.stringify([
        {
          name: 'prod',
          secretName: 'qualys-lake/prod',
          cdrScheduleMinutes: '5',
          cdrQuery: 'tc.findings.cloudProvider: AWS',
          alertMinSeverity: 'critical',
          alertMaxPerRun: 20,
          sdrPostureMaxCallsPerRun: 40,
          cdrLagAlarmMinutes: 60,
        },
        { name: 'emea', secretName: 'qualys-lake/emea', collectors: ['cdr-findings', 'sdr-posture'] },
      ]),
    };
    const [prod, emea] = parse(context).subscriptions;
    expect(prod).toMatchObject({
      name: 'prod',
      secretName: 'qualys-lake/prod',
      collectors: ['cdr-findings', 'sdr-inventory', 'sdr-posture', 'sdr-reports'],
      cdrScheduleMinutes: 5,
      cdrQuery: 'tc.findings.cloudProvider: AWS',
      alertMinSeverity: 'CRITICAL',
      alertMaxPerRun: 20,
      sdrPostureScheduleMinutes: 60,
    });
    // A setting the entry sets joins the top-level ones it leaves alone.
    expect(prod?.functionSettings['cdr-findings']).toEqual({ [ENV.cdrPageSize]: '500' });
    expect(prod?.functionSettings['sdr-posture']).toEqual({ [ENV.sdrMaxCallsPerRun]: '40' });
    expect(prod && lagThresholdMinutes(prod, 'cdr-findings')).toBe(60);
    expect(emea).toMatchObject({
      collectors: ['cdr-findings', 'sdr-posture'],
      cdrScheduleMinutes: 30,
      alertMinSeverity: 'MEDIUM',
    });
    expect(emea && scheduleMinutes(emea, 'cdr-findings')).toBe(30);
    expect(emea && lagThresholdMinutes(emea, 'cdr-findings')).toBe(90);
    expect(emea).not.toHaveProperty('cdrQuery');
    expect(parse({ subscriptions: TWO }).subscriptions.map((entry) => entry.name)).toEqual(['prod', 'emea']);
  });

  it("mails a subscription's own addresses only its alerts, one SNS subscription per address", () => {
    const config = parse({
      alertEmails: ['all@example.com'],
      subscriptions: [
        { ...TWO[0], alertEmails: ['prod-soc@example.com', 'mssp@example.com:HIGH'] },
        { ...TWO[1], alertEmails: [{ address: 'mssp@example.com', minSeverity: 'high' }] },
      ],
    });
    expect(config.alertEmails).toEqual(['all@example.com']);
    expect(config.alertEmailSubscriptions).toEqual([
      { address: 'prod-soc@example.com', subscriptions: ['prod'] },
      { address: 'mssp@example.com', minSeverity: 'HIGH', subscriptions: ['prod', 'emea'] },
    ]);
  });

  it.each([
    [{ qualysSecretName: 'q', subscriptions: TWO }, /"subscriptions" and "qualysSecretName" are both set/],
    [{ subscriptions: '[{"name":"prod"' }, /"subscriptions" is not valid JSON/],
    [{ subscriptions: [] }, /"subscriptions" must be a non-empty JSON list/],
    [{ subscriptions: ['prod'] }, /entry 1: "" must be an object/],
    [{ subscriptions: [{ secretName: 's' }] }, /entry 1: "name" is required/],
    [
      { subscriptions: [{ name: 'Prod', secretName: 's' }] },
      /entry 1: "name" is not valid: subscription name "Prod"/,
    ],
    [{ subscriptions: [TWO[0], { name: 'emea' }] }, /entry 2 \("emea"\): "secretName" is required/],
    [
      { subscriptions: [{ ...TWO[0], cdrSchedule: 5 }] },
      /entry 1 \("prod"\): "cdrSchedule" is not a subscription setting; an entry takes name, secretName, collectors, alertEmails and the collector settings .*cdrScheduleMinutes/,
    ],
    [
      { subscriptions: [{ ...TWO[0], qualysAllowedHosts: 'x' }] },
      /"qualysAllowedHosts" is not a subscription setting/,
    ],
    [
      { subscriptions: [{ ...TWO[0], cdrScheduleMinutes: 0 }] },
      /entry 1 \("prod"\): "cdrScheduleMinutes" must be an integer >= 1, got 0/,
    ],
    [
      { subscriptions: [{ ...TWO[0], cdrPageSize: 5000 }] },
      /\("prod"\): "cdrPageSize" must be an integer from 1 to 1000/,
    ],
    [
      { subscriptions: [{ ...TWO[0], alertMinSeverity: 'SEVERE' }] },
      /\("prod"\): "alertMinSeverity" must be one of/,
    ],
    [
      { subscriptions: [{ ...TWO[0], collectors: ['cdr-findings', 'cdr'] }] },
      /\("prod"\): "collectors" must be a non-empty list of cdr-findings, sdr-inventory/,
    ],
    [{ subscriptions: [{ ...TWO[0], collectors: [] }] }, /"collectors" must be a non-empty list/],
    [{ subscriptions: [TWO[0], { ...TWO[1], name: 'prod' }] }, /entries 1 and 2 are both named "prod"/],
    [
      { subscriptions: [TWO[0], { ...TWO[1], secretName: 'qualys-lake/prod' }] },
      /entries "prod" and "emea" name the same secretName "qualys-lake\/prod"/,
    ],
    [
      { subscriptions: [{ ...TWO[0], alertEmails: ['not-an-address'] }] },
      /\("prod"\): "alertEmails" must be/,
    ],
    [
      { alertEmails: 'soc@example.com', subscriptions: [{ ...TWO[0], alertEmails: ['SOC@example.com'] }] },
      /entry "prod" lists SOC@example.com in alertEmails, which alertEmails or alertEmailSubscriptions already/,
    ],
    [
      {
        subscriptions: [
          { ...TWO[0], alertEmails: ['a@example.com:HIGH'] },
          { ...TWO[1], alertEmails: ['a@example.com'] },
        ],
      },
      /a@example.com in the alertEmails of "prod" and "emea" with different minSeverity/,
    ],
  ])('rejects %j: %s', (context, message) => {
    const error = failure(context);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ key: expect.any(String), message: expect.stringMatching(message) });
    expect((error as Error).message).toMatch(/^CDK context "subscriptions"/);
  });
});
