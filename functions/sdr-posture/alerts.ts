import type { AlertCandidate, DigestFormat } from '../core/alerts/digest';
import { levelIcon, RANK_ATTRIBUTE, rankAttribute } from '../core/alerts/levels';
import { chatCode, chatText } from '../core/alerts/markdown';
import { attribute, clip, sqlString, subjectLine, text } from '../core/alerts/text';
import { ALERT_SOURCE, CURATED_DATASETS } from '../core/names';
import type { AlertMessage } from '../core/ports';
import { SEVERITY_LEVELS, severityLabel, severityLevel } from '../core/severity';
import { evidenceSentences } from './evidence';
import { curatedDate } from './keys';
import type { ControlObservation, RecoveredFailure } from './model';

/** 🚨 only for the top criticality (Critical); High gets ⚠️, Medium and Low ℹ️. */
export const POSTURE_URGENT_FROM = SEVERITY_LEVELS.CRITICAL;

/** How posture changes are summed up when a run has more than ALERT_MAX_PER_RUN of them. */
export const POSTURE_DIGEST: DigestFormat = {
  source: ALERT_SOURCE.sdrPosture,
  noun: 'SaaS posture changes (failed or recovered control evaluations)',
  severityAttribute: 'criticality',
  urgentFrom: POSTURE_URGENT_FROM,
};

export type PostureAlertKind = 'failed' | 'recovered' | 'baseline';

/** Where the alerted rows are, for the alert's "next steps". */
export interface PostureLocation {
  bucket: string;
  /**
   * The key in the bucket of a logical key (the run's store adds the subscription level).
   * @default the key itself
   */
  keyInBucket?: (key: string) => string;
}

/** An object's address in an alert: where it is in the bucket. */
export const s3PathOf = (where: PostureLocation, key: string): string =>
  `s3://${where.bucket}/${where.keyInBucket ? where.keyInBucket(key) : key}`;

/** Said in the email of a failure whose criticality qualys-lake cannot read (it alerts anyway). */
const UNKNOWN_CRITICALITY =
  'Qualys sent no criticality qualys-lake can read, so it is alerted whatever SDR_POSTURE_MIN_CRITICALITY says.';

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
  | 'resourceName'
  | 'evidence'
  | 'curatedKey'
>;

/** The query for the alerted rows: the `dt` of their poll first, so Athena reads one day's partition. */
function athenaQuery(subject: Subject): string {
  const day = curatedDate(subject.curatedKey);
  return [
    `SELECT * FROM ${CURATED_DATASETS.sdrPosture}`,
    `WHERE ${day === undefined ? '' : `dt = ${sqlString(day)} AND `}lake_connector_id = ${sqlString(subject.connectorId)} AND cid = ${sqlString(subject.cid)}`,
    subject.resourceId === null ? '' : ` AND resourceId = ${sqlString(subject.resourceId)}`,
    ' ORDER BY lake_ingested_at DESC',
  ]
    .join(' ')
    .replace(/ {2,}/g, ' ');
}

/** The resource as a person knows it: its name where the data has one, with the id Qualys uses. */
export function resourceLabel(subject: Pick<Subject, 'resourceId' | 'resourceName'>): string {
  if (subject.resourceId === null) return 'the control as a whole';
  return subject.resourceName ? `${subject.resourceName} (${subject.resourceId})` : subject.resourceId;
}

/** Evidence for the email: one sentence per item. */
const evidenceLines = (subject: Subject, kind: 'failed' | 'recovered') =>
  evidenceSentences(subject.evidence, kind, resourceLabel(subject)).map((sentence) => `- ${sentence}`);

/** Evidence for the chat message, kept short. */
function chatEvidence(subject: Subject, kind: 'failed' | 'recovered'): string {
  const sentences = evidenceSentences(subject.evidence, kind, resourceLabel(subject));
  return sentences
    .slice(0, 5)
    .map((sentence) => `• ${chatText(clip(sentence, 300))}`)
    .join('\n');
}

/** What a subscription filter policy can match: the criticality by name and as a number (`rank`). */
export function postureAttributes(
  subject: Pick<Subject, 'criticality' | 'connectorType'>,
  kind: PostureAlertKind,
): Record<string, string> {
  return {
    source: ALERT_SOURCE.sdrPosture,
    criticality: attribute(severityLabel(subject.criticality)),
    [RANK_ATTRIBUTE]: rankAttribute(subject.criticality),
    connectorType: attribute(subject.connectorType),
    kind,
  };
}

export function connectorLabel(
  subject: Pick<Subject, 'connectorName' | 'connectorType' | 'connectorId'>,
): string {
  return `${text(subject.connectorName, 'connector')} (${text(subject.connectorType)}, id ${String(subject.connectorId)})`;
}

export const controlLabel = (subject: Pick<Subject, 'controlName' | 'cid'>) =>
  text(subject.controlName, `control ${String(subject.cid)}`);

/** The alert for a resource that newly fails a control, with the failing evidence. */
export function postureFailedMessage(seen: ControlObservation, where: PostureLocation): AlertMessage {
  const criticality = severityLabel(seen.criticality);
  const control = controlLabel(seen);
  const resource = resourceLabel(seen);
  const connector = connectorLabel(seen);
  const athena = athenaQuery(seen);
  const s3Path = s3PathOf(where, seen.curatedKey);
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
    'What fails:',
    ...evidenceLines(seen, 'failed'),
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
        title: `${levelIcon(seen.criticality, POSTURE_URGENT_FROM)} ${criticality} SaaS posture control failed: ${chatText(clip(control, 150))}`,
        description: [
          `*Resource:* ${chatCode(clip(resource, 200))}`,
          `*Connector:* ${chatText(connector)}`,
          `*Policy:* ${chatText(seen.policyName)}`,
          `*Control:* ${chatText(String(seen.cid))}, evaluated ${chatText(text(seen.lastEvaluatedDate))}`,
          `*What fails:*`,
          chatEvidence(seen, 'failed'),
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
    attributes: { ...postureAttributes(seen, 'failed'), alertKey: seen.alertKey },
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
  const resource = resourceLabel(failure);
  const connector = connectorLabel(failure);
  const how =
    failure.recoveredBy === 'Pass'
      ? 'now passes'
      : `is no longer reported as failing (the latest evaluation of policy "${poll.policyName}" does not list it)`;
  const athena = athenaQuery(failure);
  const s3Path = s3PathOf(where, failure.curatedKey);
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
      ? ['What passes now:', ...evidenceLines(failure, 'recovered'), '', `Rows of this poll: ${s3Path}`]
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
            ? ['*What passes now:*', chatEvidence(failure, 'recovered')]
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
    attributes: { ...postureAttributes(failure, 'recovered'), alertKey: failure.alertKey },
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
    attributes: postureAttributes(seen, 'failed'),
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
    attributes: postureAttributes(failure, 'recovered'),
    message: postureRecoveredMessage(failure, poll, where),
  };
}
