import type { DigestFormat, NewAlertCandidate } from '../core/alerts/digest';
import { levelIcon, RANK_ATTRIBUTE, rankAttribute } from '../core/alerts/levels';
import { chatCode, chatText } from '../core/alerts/markdown';
import { attribute, sqlString, subjectLine, text } from '../core/alerts/text';
import { ALERT_SOURCE } from '../core/names';
import type { AlertMessage } from '../core/ports';
import { utcDate } from '../core/records';
import { SEVERITY_LEVELS, severityLevel, severityName } from '../core/severity';
import type { CdrFinding } from '../qualys/schemas';

/** How a run's CDR alerts are summed up when there are more than ALERT_MAX_PER_RUN. */
export const CDR_FINDINGS_DIGEST: DigestFormat = {
  source: ALERT_SOURCE.cdrFindings,
  noun: 'CDR findings at or above the alert severity',
  severityAttribute: 'severity',
  urgentFrom: SEVERITY_LEVELS.HIGH,
};

interface RemoteIp {
  ipAddress?: unknown;
  city?: unknown;
  country?: unknown;
}

/** Where to find a finding again: its curated object, for the alert's "next steps". */
export interface FindingLocation {
  bucket: string;
  curatedKey: string;
}

export function cdrAlertMessage(finding: CdrFinding, where: FindingLocation): AlertMessage {
  const severity = severityName(finding.severity);
  const remote = (finding.remoteIpDetails ?? {}) as RemoteIp;
  const category = text(finding.threatCategory);
  const account = text(finding.cspAccount);
  const cloud = text(finding.cloudType);
  const resourceType = text(finding.resourceType, 'resource');
  const resourceId = text(finding.resourceId ?? finding.affectedResource);
  const resource = `${resourceType} ${resourceId}`;
  const remoteText =
    remote.ipAddress === undefined || remote.ipAddress === null
      ? 'none reported'
      : `${text(remote.ipAddress)} (${[remote.city, remote.country].filter(Boolean).join(', ') || 'location unknown'})`;
  // The dt filter lets Athena read one day's partition instead of the whole history.
  const athena = `SELECT * FROM cdr_findings WHERE dt = '${utcDate(finding.timestamp)}' AND uuid = ${sqlString(finding.uuid)}`;
  const s3Path = `s3://${where.bucket}/${where.curatedKey}`;
  const eventMessage = text(finding.eventMessage, 'No event message.');

  const email = [
    `Qualys CDR threat finding, severity ${severity} (${text(finding.severity)})`,
    ...(severity === 'UNKNOWN'
      ? ['Qualys sent no severity qualys-lake can read, so it is alerted whatever the alert severity.']
      : []),
    '',
    eventMessage,
    '',
    `Category:      ${category} (${text(finding.threatClass)})`,
    `When:          ${finding.timestamp}`,
    `Cloud:         ${cloud} account ${account}, region ${text(finding.cspRegion)}`,
    `Resource:      ${resource}`,
    `Remote IP:     ${remoteText}`,
    `Finding uuid:  ${finding.uuid}`,
    '',
    'Next steps:',
    `- Review the activity of ${resource} in ${cloud} account ${account}.`,
    `- Full record: ${s3Path}`,
    `- In Athena: ${athena}`,
    '',
    'Sent by qualys-lake. Each finding is alerted once.',
    '',
  ].join('\n');

  return {
    subject: subjectLine(`[${severity}] CDR ${category} on ${cloud} ${account}`),
    email,
    chat: {
      version: '1.0',
      source: 'custom',
      id: finding.uuid,
      content: {
        textType: 'client-markdown',
        title: `${levelIcon(finding.severity, SEVERITY_LEVELS.HIGH)} ${severity} CDR finding: ${chatText(category)}`,
        description: [
          chatText(eventMessage),
          `*Cloud:* ${chatText(cloud)} ${chatCode(account)} ${chatText(text(finding.cspRegion))}`,
          `*Resource:* ${chatText(resourceType)} ${chatCode(resourceId)}`,
          `*Remote IP:* ${chatText(remoteText)}`,
          `*When:* ${chatText(finding.timestamp)}`,
        ].join('\n'),
        nextSteps: [
          `Review ${chatText(resourceType)} ${chatCode(resourceId)} in ${chatText(cloud)} account ${chatCode(account)}`,
          `Athena: ${chatCode(athena)}`,
        ],
        keywords: [severity, chatText(cloud), chatText(account)],
      },
      metadata: {
        threadId: `cdr-${cloud}-${account}`,
        summary: chatText(`${severity} CDR finding ${category} on ${cloud} ${account}`),
        eventType: 'CdrFinding',
        relatedResources: [chatText(resourceId)],
        additionalContext: { uuid: finding.uuid, severity },
      },
    },
    attributes: cdrAttributes(finding, { alertKey: finding.uuid }),
    keep: [s3Path, athena, chatCode(athena)],
  };
}

function cdrAttributes(finding: CdrFinding, extra: Record<string, string> = {}): Record<string, string> {
  return {
    source: ALERT_SOURCE.cdrFindings,
    severity: severityName(finding.severity),
    [RANK_ATTRIBUTE]: rankAttribute(finding.severity),
    cloudType: attribute(finding.cloudType),
    cspAccount: attribute(finding.cspAccount),
    ...extra,
  };
}

export function cdrAlertCandidate(finding: CdrFinding, where: FindingLocation): NewAlertCandidate {
  const severity = severityName(finding.severity);
  return {
    key: finding.uuid,
    rank: severityLevel(finding.severity) ?? 0,
    line: `${finding.uuid} ${severity} ${text(finding.threatCategory)} ${text(finding.cloudType)} ${text(finding.cspAccount)} ${finding.timestamp}`,
    attributes: cdrAttributes(finding),
    message: () => cdrAlertMessage(finding, where),
  };
}
