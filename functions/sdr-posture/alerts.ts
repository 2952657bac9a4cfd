import type { AlertCandidate, DigestFormat } from '../core/alerts/digest';
import { chatCode, chatText } from '../core/alerts/markdown';
import { attribute, clip, sqlString, subjectLine, text } from '../core/alerts/text';
import { ALERT_SOURCE, CURATED_DATASETS } from '../core/names';
import type { AlertMessage } from '../core/ports';
import { severityLabel, severityLevel } from '../core/severity';
import type { ControlObservation, Evidence, RecoveredFailure } from './model';

/** How posture changes are summed up when a run has more than ALERT_MAX_PER_RUN of them. */
export const POSTURE_DIGEST: DigestFormat = {
  source: ALERT_SOURCE.sdrPosture,
  noun: 'SaaS posture changes (failed or recovered control evaluations)',
  severityAttribute: 'criticality',
};

export type PostureAlertKind = 'failed' | 'recovered';

/** Where the alerted rows are, for the alert's "next steps". */
export interface PostureLocation {
  bucket: string;
}

/** Said in the email of a failure whose criticality qualys-lake cannot read (it alerts anyway). */
const UNKNOWN_CRITICALITY =
  'Qualys sent no criticality qualys-lake can read, so it is alerted whatever SDR_POSTURE_MIN_CRITICALITY says.';

/** The API writes absent evidence as the string "null". */
const isNull = (value: string | null) => value === null || value.trim() === '' || value.trim() === 'null';

type Subject = Pick<
  ControlObservation,
  | 'alertKey'
  | 'connectorId'
  | 'connectorType'
  | 'connectorName'
  | 'cid'
  | 'controlName'
  | 'criticality'
  | 'isRemediable'
  | 'lastEvaluatedDate'
  | 'resourceId'
  | 'evidence'
  | 'curatedKey'
>;

function athenaQuery(subject: Subject): string {
  return [
    `SELECT * FROM ${CURATED_DATASETS.sdrPosture}`,
    `WHERE lake_connector_id = ${sqlString(subject.connectorId)} AND cid = ${sqlString(subject.cid)}`,
    subject.resourceId === null ? '' : ` AND resourceId = ${sqlString(subject.resourceId)}`,
    ' ORDER BY lake_ingested_at DESC',
  ]
    .join(' ')
    .replace(/ {2,}/g, ' ');
}

/** Evidence lines for the email: the failing value for a failure, the passing one for a recovery. */
export function evidenceLines(evidence: readonly Evidence[], kind: PostureAlertKind, limit = 500): string[] {
  if (evidence.length === 0) return ['  (no evidence was reported)'];
  return evidence.flatMap((item) => {
    const lines = [`- ${text(item.evidenceKey, 'Evidence')}`];
    const first = kind === 'failed' ? 'evidenceFail' : 'evidenceSuccess';
    const second = kind === 'failed' ? 'evidenceSuccess' : 'evidenceFail';
    lines.push(`    ${first}: ${clip(item[first] ?? 'null', limit)}`);
    if (!isNull(item[second])) lines.push(`    ${second}: ${clip(item[second] ?? '', limit)}`);
    return lines;
  });
}

/** One line per evidence item for the chat message, kept short. */
function chatEvidence(evidence: readonly Evidence[], kind: PostureAlertKind): string {
  if (evidence.length === 0) return '_no evidence reported_';
  return evidence
    .slice(0, 5)
    .map((item) => {
      const value = kind === 'failed' ? item.evidenceFail : item.evidenceSuccess;
      return `• ${chatText(text(item.evidenceKey, 'Evidence'))}: ${chatCode(clip(text(value, 'null'), 200))}`;
    })
    .join('\n');
}

function attributes(subject: Subject, kind: PostureAlertKind): Record<string, string> {
  return {
    source: ALERT_SOURCE.sdrPosture,
    criticality: attribute(severityLabel(subject.criticality)),
    connectorType: attribute(subject.connectorType),
    kind,
  };
}

function connectorLabel(subject: Subject): string {
  return `${text(subject.connectorName, 'connector')} (${text(subject.connectorType)}, id ${String(subject.connectorId)})`;
}

const controlLabel = (subject: Subject) => text(subject.controlName, `control ${String(subject.cid)}`);

/** The alert for a resource that newly fails a control, with the failing evidence. */
export function postureFailedMessage(seen: ControlObservation, where: PostureLocation): AlertMessage {
  const criticality = severityLabel(seen.criticality);
  const control = controlLabel(seen);
  const resource = text(seen.resourceId, '(the control as a whole)');
  const connector = connectorLabel(seen);
  const athena = athenaQuery(seen);
  const s3Path = `s3://${where.bucket}/${seen.curatedKey}`;
  const email = [
    `Qualys SaaSDR posture: a control fails, criticality ${criticality}`,
    ...(criticality === 'UNKNOWN' ? [UNKNOWN_CRITICALITY] : []),
    '',
    control,
    '',
    `Control:      ${String(seen.cid)} (criticality ${criticality}, remediable ${text(seen.isRemediable)})`,
    `Resource:     ${resource}`,
    `Connector:    ${connector}`,
    `Policy:       ${seen.policyName}`,
    `Evaluated:    ${text(seen.lastEvaluatedDate)}`,
    `Alert key:    ${seen.alertKey}`,
    '',
    'Failing evidence:',
    ...evidenceLines(seen.evidence, 'failed'),
    '',
    'Next steps:',
    `- Fix the setting for ${resource} in the ${text(seen.connectorType)} admin console, or accept the risk in Qualys SaaSDR.`,
    `- Rows of this poll: ${s3Path}`,
    `- In Athena: ${athena}`,
    '',
    'Sent by qualys-lake. A failing control is alerted once per connector, control and resource, not on every poll.',
    '',
  ].join('\n');
  return {
    // Connector first: when the subject is too long, the end of the control name is what is cut.
    subject: subjectLine(
      `[${criticality}] SaaS posture failed on ${text(seen.connectorName, String(seen.connectorId))}: ${control}`,
    ),
    email,
    chat: {
      version: '1.0',
      source: 'custom',
      id: seen.alertKey,
      content: {
        textType: 'client-markdown',
        title: `:rotating_light: ${criticality} SaaS posture control failed: ${chatText(clip(control, 150))}`,
        description: [
          `*Resource:* ${chatCode(clip(resource, 200))}`,
          `*Connector:* ${chatText(connector)}`,
          `*Policy:* ${chatText(seen.policyName)}`,
          `*Control:* ${chatText(String(seen.cid))}, evaluated ${chatText(text(seen.lastEvaluatedDate))}`,
          `*Failing evidence:*`,
          chatEvidence(seen.evidence, 'failed'),
        ].join('\n'),
        nextSteps: [
          `Fix the setting for ${chatCode(clip(resource, 200))} in the ${chatText(text(seen.connectorType))} admin console`,
          `Athena: ${chatCode(athena)}`,
        ],
        keywords: [
          criticality,
          chatText(text(seen.connectorType)),
          chatText(text(seen.connectorName, String(seen.connectorId))),
        ],
      },
      metadata: {
        threadId: `sdr-posture-${seen.alertKey}`,
        summary: chatText(
          `${criticality} SaaS posture control ${String(seen.cid)} failed on ${text(seen.connectorName, String(seen.connectorId))}`,
        ),
        eventType: 'SdrPostureControlFailed',
        relatedResources: [chatText(resource)],
        additionalContext: { alertKey: seen.alertKey, cid: String(seen.cid), kind: 'failed' },
      },
    },
    attributes: { ...attributes(seen, 'failed'), alertKey: seen.alertKey },
    keep: [s3Path, athena, chatCode(athena)],
  };
}

/** The notice for an alerted failure that passes again (or that the latest evaluation no longer lists). */
export function postureRecoveredMessage(
  failure: RecoveredFailure,
  poll: { policyName: string },
  where: PostureLocation,
): AlertMessage {
  const criticality = severityLabel(failure.criticality);
  const control = controlLabel(failure);
  const resource = text(failure.resourceId, '(the control as a whole)');
  const connector = connectorLabel(failure);
  const how =
    failure.recoveredBy === 'Pass'
      ? 'now passes'
      : `is no longer reported as failing (the latest evaluation of policy "${poll.policyName}" does not list it)`;
  const athena = athenaQuery(failure);
  const s3Path = `s3://${where.bucket}/${failure.curatedKey}`;
  const email = [
    `Qualys SaaSDR posture: a failing control passes again, criticality ${criticality}`,
    '',
    control,
    '',
    `${resource} ${how}.`,
    '',
    `Control:      ${String(failure.cid)} (criticality ${criticality})`,
    `Resource:     ${resource}`,
    `Connector:    ${connector}`,
    `Policy:       ${poll.policyName}`,
    `Evaluated:    ${text(failure.lastEvaluatedDate)}`,
    `Alert key:    ${failure.alertKey}`,
    '',
    ...(failure.recoveredBy === 'Pass'
      ? [
          'Passing evidence:',
          ...evidenceLines(failure.evidence, 'recovered'),
          '',
          `Rows of this poll: ${s3Path}`,
        ]
      : []),
    `In Athena: ${athena}`,
    '',
    'Sent by qualys-lake, which alerted this failure earlier. No action is needed.',
    '',
  ].join('\n');
  return {
    subject: subjectLine(
      `[${criticality}] SaaS posture recovered on ${text(failure.connectorName, String(failure.connectorId))}: ${control}`,
    ),
    email,
    chat: {
      version: '1.0',
      source: 'custom',
      id: `${failure.alertKey}:recovered`,
      content: {
        textType: 'client-markdown',
        title: `:white_check_mark: SaaS posture control passes again: ${chatText(clip(control, 150))}`,
        description: [
          `*Resource:* ${chatCode(clip(resource, 200))} ${chatText(how)}`,
          `*Connector:* ${chatText(connector)}`,
          `*Policy:* ${chatText(poll.policyName)}`,
          ...(failure.recoveredBy === 'Pass'
            ? ['*Passing evidence:*', chatEvidence(failure.evidence, 'recovered')]
            : []),
        ].join('\n'),
        keywords: [criticality, chatText(text(failure.connectorType)), 'recovered'],
      },
      metadata: {
        threadId: `sdr-posture-${failure.alertKey}`,
        summary: chatText(
          `SaaS posture control ${String(failure.cid)} recovered on ${text(failure.connectorName, String(failure.connectorId))}`,
        ),
        eventType: 'SdrPostureControlRecovered',
        relatedResources: [chatText(resource)],
        additionalContext: { alertKey: failure.alertKey, cid: String(failure.cid), kind: 'recovered' },
      },
    },
    attributes: { ...attributes(failure, 'recovered'), alertKey: failure.alertKey },
    keep: [s3Path, athena],
  };
}

/**
 * Outbox keys carry the kind and the poll: a failure, its recovery and a later failure of the same
 * resource are distinct alerts, while a comparison repeated within one poll (a run that died
 * after queueing) is queued once.
 */
export const outboxKey = (alertKey: string, kind: PostureAlertKind, pollId: string) =>
  `${alertKey}|${kind}|${pollId}`;

export function postureFailedCandidate(seen: ControlObservation, where: PostureLocation): AlertCandidate {
  return {
    key: outboxKey(seen.alertKey, 'failed', seen.pollId),
    rank: severityLevel(seen.criticality) ?? 0,
    line: `FAILED ${severityLabel(seen.criticality)} ${seen.alertKey} ${controlLabel(seen)} (${seen.policyName})`,
    attributes: attributes(seen, 'failed'),
    message: postureFailedMessage(seen, where),
  };
}

export function postureRecoveredCandidate(
  failure: RecoveredFailure,
  poll: { policyName: string; pollId: string },
  where: PostureLocation,
): AlertCandidate {
  return {
    key: outboxKey(failure.alertKey, 'recovered', poll.pollId),
    // A recovery is good news: it never makes a digest look more severe.
    rank: 0,
    line: `RECOVERED ${severityLabel(failure.criticality)} ${failure.alertKey} ${controlLabel(failure)}`,
    attributes: attributes(failure, 'recovered'),
    message: postureRecoveredMessage(failure, poll, where),
  };
}
