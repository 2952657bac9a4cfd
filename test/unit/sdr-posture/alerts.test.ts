import { describe, expect, it } from 'vitest';
import { AlertOutbox } from '../../../functions/core/alerts/outbox';
import type { AlertMessage } from '../../../functions/core/ports';
import {
  POSTURE_DIGEST,
  postureFailedCandidate,
  postureFailedMessage,
  postureRecoveredCandidate,
  postureRecoveredMessage,
} from '../../../functions/sdr-posture/alerts';
import type { RecoveredFailure } from '../../../functions/sdr-posture/model';
import { MemoryStore } from '../../support/memory-store';
import { failingObservation as failing } from '../../support/posture-samples';

const where = { bucket: 'lake-archive' };
const SITE = "https://qualyssscmsdev.sharepoint.com/sites/Finance/../O'Brien HR";

function recovered(recoveredBy: 'Pass' | 'absent', extra: Partial<RecoveredFailure> = {}): RecoveredFailure {
  const { policyId: _p, policyName: _n, result: _r, pollId: _i, ...detail } = failing();
  return {
    ...detail,
    evidence:
      recoveredBy === 'Pass'
        ? [{ evidenceKey: 'DKIM Signing is enabled', evidenceSuccess: 'true', evidenceFail: 'null' }]
        : [],
    policies: {},
    alerted: true,
    firstFailedPollId: '20250509T000000Z',
    lastFailedPollId: '20250509T000000Z',
    recoveredBy,
    ...extra,
  };
}

function expectValidSubject(message: AlertMessage) {
  expect(message.subject.length).toBeLessThan(100);
  expect(message.subject).toMatch(/^[\x20-\x7E]+$/);
}

describe('posture failure alert', () => {
  it('has a short ASCII subject naming criticality, control and connector', () => {
    const message = postureFailedMessage(failing(), where);
    expectValidSubject(message);
    expect(message.subject).toBe(
      '[High] SaaS posture failed on O365 p01: Ensure that DKIM is enabled for all Exchange Online Domains',
    );
  });

  it('shortens a long or non-ASCII subject instead of breaking SNS', () => {
    const message = postureFailedMessage(
      failing({
        controlName: `Ensure ${'very long setting '.repeat(10)} — is “on”`,
        connectorName: 'Zoom ü',
      }),
      where,
    );
    expectValidSubject(message);
    expect(message.subject.endsWith('...')).toBe(true);
  });

  it('tells the reader what fails where, with the failing evidence and how to find the rows', () => {
    const { email } = postureFailedMessage(failing(), where);
    expect(email).toContain('Ensure that DKIM is enabled for all Exchange Online Domains');
    expect(email).toContain('Resource:     QualysSSCMSDev.com');
    expect(email).toContain('Connector:    O365 p01 (OFFICE365, id 2245)');
    expect(email).toContain('Policy:       CIS Microsoft 365 Foundations Benchmark, v1.4.0');
    expect(email).toContain('Alert key:    2245:70116:QualysSSCMSDev.com');
    // The evidence as a sentence, not `evidenceFail: false`.
    expect(email).toContain(
      'What fails:\n- "DKIM Signing is enabled" is false for QualysSSCMSDev.com; the control passes when it is true.\n',
    );
    expect(email).not.toMatch(/evidence(Fail|Success)/);
    expect(email).toContain(
      's3://lake-archive/curated/sdr_posture/dt=2025-05-10/20250510T000000Z-connector=2245-policy=71-page=00001.json.gz',
    );
    expect(email).toContain(
      "SELECT * FROM sdr_posture WHERE dt = '2025-05-10' AND lake_connector_id = '2245' AND cid = '70116' AND resourceId = 'QualysSSCMSDev.com'",
    );
  });

  it('names a resource that is the SaaS subscription itself by its connector', () => {
    const message = postureFailedMessage(
      failing({
        resourceId: '64837187-a312-4982-92eb-64049df4ad12',
        resourceName: "O365 p01's OFFICE365 subscription",
        evidence: [
          { evidenceKey: 'List of safe attachment policies', evidenceSuccess: 'null', evidenceFail: '[]' },
        ],
      }),
      where,
    );
    expect(message.email).toContain(
      "Resource:     O365 p01's OFFICE365 subscription (64837187-a312-4982-92eb-64049df4ad12)",
    );
    expect(message.email).toContain(
      `- "List of safe attachment policies": Qualys found none for O365 p01's OFFICE365 subscription (64837187-a312-4982-92eb-64049df4ad12); the control passes once there is at least one.`,
    );
  });

  it('keeps raw resource ids readable and quotes them safely in SQL', () => {
    const message = postureFailedMessage(
      failing({ resourceId: SITE, alertKey: `2245:70121:${SITE}` }),
      where,
    );
    expect(message.email).toContain(`Resource:     ${SITE}`);
    expect(message.email).toContain(
      "resourceId = 'https://qualyssscmsdev.sharepoint.com/sites/Finance/../O''Brien HR'",
    );
    expect(message.attributes.alertKey).toBe(`2245:70121:${SITE}`);
  });

  it('says so when no evidence was reported, and survives null fields', () => {
    const message = postureFailedMessage(
      failing({
        evidence: [],
        controlName: null,
        criticality: null,
        connectorName: null,
        lastEvaluatedDate: null,
      }),
      where,
    );
    expect(message.email).toContain('- Qualys reported no evidence for QualysSSCMSDev.com.');
    expect(message.subject).toBe('[UNKNOWN] SaaS posture failed on 2245: control 70116');
    expect(message.attributes.criticality).toBe('UNKNOWN');
    expect(message.chat.content.description).toContain(
      '• Qualys reported no evidence for QualysSSCMSDev.com.',
    );
  });

  it.each([
    ['Critical', ':rotating_light:'],
    ['High', ':warning:'],
    ['Medium', ':information_source:'],
    ['Low', ':information_source:'],
  ])('gives a %s failure the chat icon %s (🚨 only for the top criticality)', (criticality, icon) => {
    const message = postureFailedMessage(failing({ criticality }), where);
    expect(message.chat.content.title.startsWith(`${icon} ${criticality} `)).toBe(true);
  });

  it('marks a criticality it cannot read as UNKNOWN in subject, body and attribute', () => {
    const message = postureFailedMessage(failing({ criticality: 'Severe' }), where);
    expect(message.subject).toMatch(/^\[UNKNOWN\] /);
    expect(message.email).toMatch(/^Qualys SaaSDR posture: a control fails, criticality UNKNOWN\n/);
    expect(message.email).toContain('Qualys sent no criticality qualys-lake can read');
    expect(message.attributes.criticality).toBe('UNKNOWN');
    expect(message.chat.content.title).toMatch(/^:warning: UNKNOWN /);
    // Above every level, so no subscriber's minimum filters it out.
    expect(message.attributes.rank).toBe('5');
  });

  it('carries the attributes subscribers filter on', () => {
    expect(postureFailedMessage(failing(), where).attributes).toEqual({
      source: 'sdr-posture',
      criticality: 'High',
      rank: '3',
      connectorType: 'OFFICE365',
      kind: 'failed',
      alertKey: '2245:70116:QualysSSCMSDev.com',
    });
  });

  it('is an AWS Chatbot custom notification with the evidence and next steps', () => {
    const { chat } = postureFailedMessage(failing(), where);
    expect(chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        // 🚨 is for Critical only; High is a warning.
        title:
          ':warning: High SaaS posture control failed: Ensure that DKIM is enabled for all Exchange Online Domains',
        keywords: ['High', 'OFFICE365', 'O365 p01'],
      },
      metadata: {
        eventType: 'SdrPostureControlFailed',
        threadId: 'sdr-posture-2245:70116:QualysSSCMSDev.com',
      },
    });
    expect(chat.content.description).toContain(
      '• "DKIM Signing is enabled" is false for QualysSSCMSDev.com; the control passes when it is true.',
    );
    expect(chat.content.nextSteps?.length).toBeGreaterThan(0);
  });

  it('shortens very long evidence (list-style JSON text)', () => {
    const long = JSON.stringify(
      Array.from({ length: 200 }, (_, i) => ({ Id: `policy ${i}`, Enable: false })),
    );
    const message = postureFailedMessage(
      failing({
        evidence: [{ evidenceKey: 'List of policies', evidenceSuccess: 'null', evidenceFail: long }],
      }),
      where,
    );
    expect(message.email.length).toBeLessThan(4000);
    expect(message.chat.content.description.length).toBeLessThan(1500);
  });
});

describe('posture recovery notice', () => {
  it('says the control passes again, with the passing evidence, in the same chat thread', () => {
    const message = postureRecoveredMessage(
      recovered('Pass'),
      { policyName: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0' },
      where,
    );
    expectValidSubject(message);
    expect(message.subject).toBe(
      '[High] SaaS posture recovered on O365 p01: Ensure that DKIM is enabled for all Exchange Online D...',
    );
    expect(message.email).toContain('QualysSSCMSDev.com now passes.');
    expect(message.email).toContain(
      'What passes now:\n- "DKIM Signing is enabled" is now true for QualysSSCMSDev.com.\n',
    );
    expect(message.attributes).toEqual({
      source: 'sdr-posture',
      criticality: 'High',
      // The rank of the failure it closes: whoever got the failure gets its recovery.
      rank: '3',
      connectorType: 'OFFICE365',
      kind: 'recovered',
      alertKey: '2245:70116:QualysSSCMSDev.com',
    });
    expect(message.chat.metadata?.threadId).toBe('sdr-posture-2245:70116:QualysSSCMSDev.com');
    expect(message.chat.content.title).toMatch(/^:white_check_mark: /);
  });

  it('explains a failure that the latest evaluation no longer lists', () => {
    const message = postureRecoveredMessage(
      recovered('absent'),
      { policyName: 'Microsoft Office 365 Best Practices' },
      where,
    );
    expect(message.email).toContain(
      'is no longer reported as failing (the latest evaluation of policy "Microsoft Office 365 Best Practices" does not list it)',
    );
    expect(message.email).not.toContain('What passes now');
  });
});

const KEYS = { outbox: 'state/outbox.json', rejectedPrefix: 'state/alerts-rejected/' };
const OPEN_WINDOW = { publishBy: Number.POSITIVE_INFINITY };
const recorder = (published: AlertMessage[]) => ({
  async publish(messages: readonly AlertMessage[]) {
    published.push(...messages);
    return { refused: new Map<number, string>() };
  },
});

describe('posture alert candidates', () => {
  it('are distinct for a failure, its recovery and a later failure, but repeat-safe within a poll', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, KEYS, 50);
    const poll = { policyName: 'CIS', pollId: '20250511T000000Z' };
    await outbox.add([postureFailedCandidate(failing(), where)]);
    await outbox.add([postureFailedCandidate(failing(), where)]);
    await outbox.add([postureRecoveredCandidate(recovered('Pass'), poll, where)]);
    await outbox.add([postureFailedCandidate(failing({ pollId: '20250512T000000Z' }), where)]);
    const published: AlertMessage[] = [];
    await outbox.flush(recorder(published), POSTURE_DIGEST, OPEN_WINDOW);
    expect(published.map((message) => message.attributes.kind)).toEqual(['failed', 'recovered', 'failed']);
  });

  it('become one digest above the per-run limit, worst criticality first', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, KEYS, 2);
    await outbox.add([
      postureFailedCandidate(failing({ criticality: 'Low', alertKey: '1:1:a' }), where),
      postureFailedCandidate(failing({ criticality: 'Critical', alertKey: '1:2:b' }), where),
      postureRecoveredCandidate(
        recovered('Pass', { alertKey: '1:3:c' }),
        { policyName: 'P', pollId: 'p' },
        where,
      ),
    ]);
    const published: AlertMessage[] = [];
    await outbox.flush(recorder(published), POSTURE_DIGEST, OPEN_WINDOW);
    expect(published).toHaveLength(1);
    expect(published[0]?.attributes).toMatchObject({
      source: 'sdr-posture',
      criticality: 'Critical',
      connectorType: 'OFFICE365',
      kind: 'MULTIPLE',
    });
    expect(published[0]?.email).toContain('FAILED Critical 1:2:b');
    expect(published[0]?.email).toContain('RECOVERED High 1:3:c');
  });
});
