import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  CDR_FINDINGS_DIGEST,
  cdrAlertCandidate,
  cdrAlertMessage,
} from '../../../functions/cdr-findings/alerts';
import { settle } from '../../../functions/core/alerts/digest';
import { CdrFindingSchema } from '../../../functions/qualys/schemas';
import samplePage from '../../support/fixtures/cdr-findings-page.json';

/** content[0] of the vendor's sample response (Qualys CDR findings API document). */
const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
const where = {
  bucket: 'qualys-lake-archive',
  curatedKey: 'curated/cdr_findings/dt=2025-05-09/w-offset=0000000.json.gz',
};

describe('cdrAlertMessage for the vendor sample finding', () => {
  const message = cdrAlertMessage(sample, where);

  it('has a short ASCII subject naming severity, category and account', () => {
    expect(message.subject.length).toBeLessThan(100);
    expect(message.subject).toMatch(/^[\x20-\x7E]+$/);
    expect(message.subject).toContain('HIGH');
    expect(message.subject).toContain('Recon_MaliciousIPCaller.Custom');
    expect(message.subject).toContain('9xxxxxxxxxx5');
  });

  it('carries the filterable attributes, with severity 3 as HIGH and the uuid as alertKey', () => {
    expect(message.attributes).toEqual({
      source: 'cdr-findings',
      severity: 'HIGH',
      rank: '3',
      cloudType: 'AWS',
      cspAccount: '9xxxxxxxxxx5',
      alertKey: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6',
    });
  });

  it('tells the email reader what happened, where, and how to find the record', () => {
    expect(message.email).toContain(
      'The reconnaissance API DescribeInstances was invoked from an IP address on a custom threat list.',
    );
    expect(message.email).toContain('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6');
    expect(message.email).toContain('us-west-2');
    expect(message.email).toContain('OktaSSO_Compute');
    expect(message.email).toContain('7x.xxx.xxx.xx6 (Oakland, United States)');
    expect(message.email).toContain(`s3://${where.bucket}/${where.curatedKey}`);
  });

  it('is an AWS Chatbot custom notification', () => {
    expect(message.chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown' },
    });
    expect(message.chat.content.title).toContain('HIGH');
    expect(message.chat.content.title).toContain('Recon_MaliciousIPCaller.Custom');
    expect(message.chat.content.description).toContain('DescribeInstances');
    expect(message.chat.content.description).toContain('9xxxxxxxxxx5');
    // The default body must survive JSON round trip unchanged (SNS carries it as a string).
    expect(JSON.parse(JSON.stringify(message.chat))).toEqual(message.chat);
  });
});

describe('cdrAlertMessage for unusual findings', () => {
  it('keeps the subject short and ASCII for long non-ASCII categories', () => {
    const message = cdrAlertMessage(
      { ...sample, threatCategory: `Ünusual—${'Very_Long_Category.'.repeat(10)}\nsecond line`, severity: 9 },
      where,
    );
    expect(message.subject.length).toBeLessThan(100);
    expect(message.subject).toMatch(/^[\x20-\x7E]+$/);
    expect(message.attributes.severity).toBe('CRITICAL');
  });

  it('gives every attribute a non-empty value when fields are missing', () => {
    const message = cdrAlertMessage(
      { uuid: 'u-1', timestamp: '2025-05-09T20:00:42.000+00:00', cloudType: null, cspAccount: '' },
      where,
    );
    for (const value of Object.values(message.attributes)) expect(value).not.toBe('');
    expect(message.attributes.severity).toBe('UNKNOWN');
    expect(message.email).toContain('No event message.');
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['an unknown word', 'urgent'],
  ])('marks a %s severity as UNKNOWN in subject, body and attribute', (_case, severity) => {
    const message = cdrAlertMessage({ ...sample, severity }, where);
    expect(message.subject).toMatch(/^\[UNKNOWN\] /);
    expect(message.email).toMatch(/^Qualys CDR threat finding, severity UNKNOWN /);
    expect(message.email).toContain('Qualys sent no severity qualys-lake can read');
    expect(message.chat.content.title).toContain('UNKNOWN');
    expect(message.attributes.severity).toBe('UNKNOWN');
  });

  it('escapes quotes in the Athena query of the email', () => {
    const message = cdrAlertMessage({ ...sample, uuid: "x' OR '1'='1" }, where);
    expect(message.email).toContain("WHERE dt = '2025-05-09' AND uuid = 'x'' OR ''1''=''1'");
  });
});

describe('cdrAlertCandidate', () => {
  it('keys on the uuid, ranks by severity and leaves alertKey out of the shared attributes', () => {
    const candidate = settle(cdrAlertCandidate({ ...sample, severity: 4 }, where));
    expect(candidate.key).toBe(sample.uuid);
    expect(candidate.rank).toBe(4);
    expect(candidate.attributes).not.toHaveProperty('alertKey');
    expect(candidate.attributes.severity).toBe('CRITICAL');
    expect(candidate.line).toContain(sample.uuid);
    expect(candidate.message?.attributes.alertKey).toBe(sample.uuid);
  });
});

describe('CDR_FINDINGS_DIGEST', () => {
  it('names the source, the alerts and the severity attribute of a CDR digest', () => {
    expect(CDR_FINDINGS_DIGEST).toEqual({
      source: 'cdr-findings',
      noun: 'CDR findings at or above the alert severity',
      severityAttribute: 'severity',
      urgentFrom: 3,
    });
  });
});
