import type { AlertCandidate, DigestFormat } from '../core/alerts/digest';
import { attribute, sqlString, subjectLine, text } from '../core/alerts/text';
import { ALERT_SOURCE } from '../core/names';
import type { AlertMessage } from '../core/ports';
import { utcDate } from '../core/records';
import { severityLevel, severityName } from '../core/severity';
import type { CdrFinding } from '../qualys/schemas';

/** How a run's CDR alerts are summed up when there are more than ALERT_MAX_PER_RUN. */
export const CDR_FINDINGS_DIGEST: DigestFormat = {
  source: ALERT_SOURCE.cdrFindings,
  noun: 'CDR findings at or above the alert severity',
  severityAttribute: 'severity',
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
  const resource = `${text(finding.resourceType, 'resource')} ${text(finding.resourceId ?? finding.affectedResource)}`;
  const remoteText =
    remote.ipAddress === undefined || remote.ipAddress === null
      ? 'none reported'
      : `${text(remote.ipAddress)} (${[remote.city, remote.country].filter(Boolean).join(', ') || 'location unknown'})`;
  // The dt filter lets Athena read one day's partition instead of the whole history.
  const athena = `SELECT * FROM cdr_findings WHERE dt = '${utcDate(finding.timestamp)}' AND uuid = ${sqlString(finding.uuid)}`;

  const email = [
    `Qualys CDR threat finding, severity ${severity} (${text(finding.severity)})`,
    '',
    text(finding.eventMessage, 'No event message.'),
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
    `- Full record: s3://${where.bucket}/${where.curatedKey}`,
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
        title: `:rotating_light: ${severity} CDR finding: ${category}`,
        description: [
          text(finding.eventMessage, 'No event message.'),
          `*Cloud:* ${cloud} \`${account}\` ${text(finding.cspRegion)}`,
          `*Resource:* ${resource}`,
          `*Remote IP:* ${remoteText}`,
          `*When:* ${finding.timestamp}`,
        ].join('\n'),
        nextSteps: [`Review ${resource} in ${cloud} account ${account}`, `Athena: \`${athena}\``],
        keywords: [severity, cloud, account],
      },
      metadata: {
        threadId: `cdr-${cloud}-${account}`,
        summary: `${severity} CDR finding ${category} on ${cloud} ${account}`,
        eventType: 'CdrFinding',
        relatedResources: [text(finding.resourceId ?? finding.affectedResource)],
        additionalContext: { uuid: finding.uuid, severity },
      },
    },
    attributes: cdrAttributes(finding, { alertKey: finding.uuid }),
  };
}

function cdrAttributes(finding: CdrFinding, extra: Record<string, string> = {}): Record<string, string> {
  return {
    source: ALERT_SOURCE.cdrFindings,
    severity: severityName(finding.severity),
    cloudType: attribute(finding.cloudType),
    cspAccount: attribute(finding.cspAccount),
    ...extra,
  };
}

export function cdrAlertCandidate(finding: CdrFinding, where: FindingLocation): AlertCandidate {
  const severity = severityName(finding.severity);
  return {
    key: finding.uuid,
    rank: severityLevel(finding.severity) ?? 0,
    line: `${finding.uuid} ${severity} ${text(finding.threatCategory)} ${text(finding.cloudType)} ${text(finding.cspAccount)} ${finding.timestamp}`,
    attributes: cdrAttributes(finding),
    message: cdrAlertMessage(finding, where),
  };
}
