import * as v from 'valibot';
import type { CuratedPostureRow } from '../../../functions/ocsf/compliance-finding';
import type { CuratedCdrFinding } from '../../../functions/ocsf/detection-finding';
import type { CuratedSdrUser } from '../../../functions/ocsf/user-inventory';
import { CdrFindingSchema } from '../../../functions/qualys/schemas';
import { ControlSchema, ReportingSchema } from '../../../functions/qualys/sdr';
import { curateControls } from '../../../functions/sdr-posture/curate';
import cdrPage from '../../support/fixtures/cdr-findings-page.json';
// Copies of /work/shared/qualys-api/samples (the vendor guides' response samples), unchanged.
import reporting from './samples/sdr-reporting.json';
import usersPage from './samples/sdr-users-page.json';

export const INGESTED_AT = '2025-05-10T00:05:00.000Z';

/** The vendor sample's CDR findings as curated/cdr_findings stores them. */
export function curatedCdrFindings(): CuratedCdrFinding[] {
  return cdrPage.content.map((item) => ({
    ...v.parse(CdrFindingSchema, item),
    lake_ingested_at: INGESTED_AT,
    lake_raw_key: 'raw/cdr-findings/dt=2025-05-09/page.json.gz',
  }));
}

/** One sample finding with some fields replaced (a masked value made real, a runtime field added). */
export const cdrFinding = (changes: Record<string, unknown> = {}): CuratedCdrFinding => {
  const [first] = curatedCdrFindings();
  return { ...(first as CuratedCdrFinding), ...changes };
};

/** The vendor sample's /reporting page as curated/sdr_posture stores it (sdr-posture's own curate). */
export function curatedPostureRows(pollId = '20250510T000000.000Z'): CuratedPostureRow[] {
  const body = v.parse(ReportingSchema, reporting);
  const controls = v.parse(v.array(ControlSchema), body.controlDetailsSummaryDto);
  const { rows } = curateControls(controls, body, {
    poll: { pollId, date: '2025-05-10' },
    pair: {
      connectorId: reporting.connectorId,
      connectorType: reporting.connectorType,
      connectorName: reporting.connectorName,
      policyId: 61,
      policyName: reporting.policyName,
    },
    pageNumber: 1,
    rawKey: 'raw/sdr-posture/page.json.gz',
    curatedKey: 'curated/sdr_posture/page.json.gz',
    ingestedAt: INGESTED_AT,
  });
  return rows as CuratedPostureRow[];
}

/** The vendor sample's user as curated/sdr_users stores it. */
export function curatedUsers(): CuratedSdrUser[] {
  return usersPage.content.map((user) => ({
    ...user,
    lake_snapshot_id: '20250510T000000Z',
    lake_ingested_at: INGESTED_AT,
    lake_raw_key: 'raw/sdr-inventory/users/page.json.gz',
  }));
}
