import { classification, metadata, type OcsfClass, type OcsfEvent } from './event';
import { compact, FieldsTaken, type LakeRecord, OcsfMappingError, text, zoneOffsetMinutes } from './fields';
import { takeSeverity } from './severity';
import { QUALYS_PRODUCTS } from './version';

/**
 * A row of curated/sdr_posture (functions/sdr-posture/curate.ts, README "Tables"): one control x
 * resource evaluation of one poll. Only the fields the mapping reads are typed; the rest of the
 * API's control and resource fields travel along and end in `unmapped`.
 */
export interface CuratedPostureRow extends LakeRecord {
  cid: string | number;
  controlName?: string | null;
  criticality?: string | null;
  controlEvaluationStatus?: string | null;
  lastEvaluatedDate?: string | null;
  firstScannedDate?: string | null;
  connectorType?: string | null;
  subscriptionId?: string | number | null;
  policyName?: string | null;
  resourceId?: string | number | null;
  resourceEvaluationResult?: string | null;
  lake_run_id: string;
  lake_ingested_at: string;
  lake_connector_id: string;
  lake_policy_id: string;
}

/** events/findings/compliance_finding.json (OCSF 1.1.0): category Findings (2), class uid 3. */
export const COMPLIANCE_FINDING: OcsfClass = {
  category_uid: 2,
  category_name: 'Findings',
  class_uid: 2003,
  class_name: 'Compliance Finding',
};

/**
 * objects/compliance.json `status_id`: 1 Pass, 2 Warning (no result: SaaSDR's Error), 3 Fail;
 * 0 Unknown (dictionary.json) for a result qualys-lake cannot read.
 */
const COMPLIANCE_STATUS: Record<string, { status_id: number; status: string }> = {
  pass: { status_id: 1, status: 'Pass' },
  error: { status_id: 2, status: 'Warning' },
  fail: { status_id: 3, status: 'Fail' },
};
const UNKNOWN_STATUS = { status_id: 0, status: 'Unknown' };

export interface ComplianceFinding extends OcsfEvent {
  finding_info: {
    uid: string;
    title: string;
    first_seen_time?: number;
    last_seen_time?: number;
  };
  status_id: number;
  status: string;
  compliance: {
    standards: string[];
    control: string;
    status_id: number;
    status: string;
    status_code?: string;
  };
  resource?: { uid: string };
}

/**
 * One posture row as an OCSF Compliance Finding. Each poll reports every control x resource
 * again, so `finding_info.uid` names the evaluation (connector, policy, control, resource) and is
 * the same in every poll, while `metadata.uid` adds the poll. The finding is New (1) while the
 * check does not pass and Resolved (4) once it passes, as Security Hub resolves a control finding
 * whose compliance status is PASSED.
 */
export function postureComplianceFinding(row: CuratedPostureRow): ComplianceFinding {
  const record: LakeRecord = row;
  const taken = new FieldsTaken(record);
  const control = taken.text('cid');
  if (!control) throw new OcsfMappingError('posture row without cid: it cannot become a Compliance Finding');
  const resourceId = taken.text('resourceId');
  const uid = [row.lake_connector_id, row.lake_policy_id, control, resourceId ?? '-'].join('/');
  const lastEvaluated = taken.time('lastEvaluatedDate');
  const ingested = taken.time('lake_ingested_at');
  const time = lastEvaluated ?? ingested;
  if (time === undefined) {
    throw new OcsfMappingError(
      `posture row ${uid}: neither lastEvaluatedDate nor lake_ingested_at is an ISO-8601 date-time with a zone`,
    );
  }
  const compliance = complianceStatusOf(record, taken);
  const resolved = compliance.status_id === 1;
  const account = taken.text('subscriptionId');
  const event: ComplianceFinding = {
    ...classification(COMPLIANCE_FINDING, 1, 'Create'),
    ...takeSeverity(taken, 'criticality', record.criticality),
    time,
    timezone_offset: zoneOffsetMinutes(
      lastEvaluated === undefined ? record.lake_ingested_at : record.lastEvaluatedDate,
    ),
    status_id: resolved ? 4 : 1,
    status: resolved ? 'Resolved' : 'New',
    finding_info: compact({
      uid,
      title: taken.text('controlName') ?? `SaaSDR control ${control}`,
      first_seen_time: taken.time('firstScannedDate'),
      last_seen_time: lastEvaluated,
    }),
    compliance: compact({
      standards: [taken.text('policyName') ?? `SaaSDR policy ${row.lake_policy_id}`],
      control,
      ...compliance,
    }),
    resource: resourceId ? { uid: resourceId } : undefined,
    metadata: metadata(QUALYS_PRODUCTS.saasdr, 'sdr_posture', {
      uid: `${uid}@${row.lake_run_id}`,
      original_time: text(record.lastEvaluatedDate),
      logged_time: ingested,
    }),
    cloud: compact({
      provider: taken.text('connectorType') ?? 'Unknown',
      account: account ? { uid: account } : undefined,
    }),
    unmapped: {},
  };
  return taken.finish(event);
}

/**
 * The check's result: the resource's, or for a control without resources the control's. The
 * word Qualys sent is `status_code`; an unreadable one maps to Unknown and stays in `unmapped`.
 */
function complianceStatusOf(record: LakeRecord, taken: FieldsTaken) {
  const field =
    record.resourceEvaluationResult != null ? 'resourceEvaluationResult' : 'controlEvaluationStatus';
  const word = text(record[field]);
  const status = COMPLIANCE_STATUS[word?.trim().toLowerCase() ?? ''];
  if (!status) return UNKNOWN_STATUS;
  return { ...status, status_code: taken.take(field, word) };
}
