import { clip } from '../core/alerts/text';
import type { ApiRecord } from '../qualys/schemas';
import type { Control, Reporting } from '../qualys/sdr';
import {
  alertKeyOf,
  type ControlObservation,
  type Evidence,
  type ObservedResult,
  type OpenFailure,
  type PairObservation,
  type PairProgress,
  type PollRef,
} from './model';

/** Evidence strings kept in state and alerts; the curated rows keep them whole. */
const EVIDENCE_CHARS = 1000;

/** `Pass`/`Fail`/`Error` whatever the case; anything else (null, new words) is Unknown. */
export function normalizeResult(value: unknown): ObservedResult {
  if (typeof value !== 'string') return 'Unknown';
  const word = value.trim().toLowerCase();
  if (word === 'pass') return 'Pass';
  if (word === 'fail') return 'Fail';
  if (word === 'error') return 'Error';
  return 'Unknown';
}

/** The control's status: the API spells it `controlEvalutaionStatus`; a corrected spelling is accepted too. */
export function controlStatusOf(control: Control): string | null {
  const misspelled = control.controlEvalutaionStatus;
  if (typeof misspelled === 'string') return misspelled;
  const corrected = control.controlEvaluationStatus;
  return typeof corrected === 'string' ? corrected : null;
}

function evidenceText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return clip(typeof value === 'string' ? value : JSON.stringify(value), EVIDENCE_CHARS);
}

/** A resource's evidence as state and alerts keep it: each text clipped, objects as JSON. */
export function evidenceOf(details: readonly ApiRecord[] | null | undefined): Evidence[] {
  return (details ?? []).map((item) => ({
    evidenceKey: evidenceText(item.evidenceKey),
    evidenceSuccess: evidenceText(item.evidenceSuccess),
    evidenceFail: evidenceText(item.evidenceFail),
  }));
}

const stringOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : String(value);

/** Name fields a resource may carry besides its id (none in the vendor sample; taken when present). */
const RESOURCE_NAME_FIELDS = ['resourceName', 'name', 'displayName'] as const;

/**
 * The resource's name where the data has one: its own name field, or, for the resource that is the
 * SaaS subscription itself (its id is the page's `subscriptionId`, as for tenant-wide controls), the
 * connector's name. Ids that are names already (domains, sites, org units) need none.
 */
export function resourceNameOf(
  resource: ApiRecord | undefined,
  resourceId: string | null,
  subscriptionId: string | number | null,
  pair: Pick<PairProgress, 'connectorName' | 'connectorType'>,
): string | null {
  for (const field of RESOURCE_NAME_FIELDS) {
    const value = resource?.[field];
    if (typeof value === 'string' && value.trim() !== '' && value !== resourceId) return value;
  }
  if (resourceId !== null && subscriptionId !== null && resourceId === String(subscriptionId))
    return `${pair.connectorName ?? 'the connector'}'s ${pair.connectorType} subscription`;
  return null;
}

/** Where a /reporting page came from and where it is kept. */
export interface ReportingPage {
  poll: PollRef;
  pair: Pick<PairProgress, 'connectorId' | 'connectorType' | 'connectorName' | 'policyId' | 'policyName'>;
  pageNumber: number;
  /** The raw page's logical key, kept in the posture state. */
  rawKey: string;
  /**
   * Where the raw page is in the bucket: the rows' lineage (`lake_raw_key`).
   * @default rawKey
   */
  rawKeyInBucket?: string;
  curatedKey: string;
  ingestedAt: string;
}

/**
 * One curated row per control x resource (a control without resources makes one row), with the
 * API's fields and the lake's, and what each row says about the resource, for the comparison.
 */
export function curateControls(
  controls: readonly Control[],
  body: Reporting,
  page: ReportingPage,
): { rows: Record<string, unknown>[]; observations: ControlObservation[] } {
  const { poll, pair, pageNumber, rawKey, curatedKey } = page;
  const subscriptionId =
    typeof body.subscriptionId === 'string' || typeof body.subscriptionId === 'number'
      ? body.subscriptionId
      : null;
  const rows: Record<string, unknown>[] = [];
  const observations: ControlObservation[] = [];
  for (const control of controls) {
    const {
      controlEvaluationSummaryDto,
      controlEvalutaionStatus: _misspelled,
      controlEvaluationStatus: _corrected,
      ...controlFields
    } = control;
    const status = controlStatusOf(control);
    const resources = controlEvaluationSummaryDto?.length ? controlEvaluationSummaryDto : [undefined];
    for (const resource of resources) {
      const {
        resourceId = null,
        resourceEvaluationResult = null,
        evidenceDetails = null,
        ...resourceFields
      } = resource ?? {};
      rows.push({
        ...controlFields,
        ...resourceFields,
        connectorId: pair.connectorId,
        connectorType: pair.connectorType,
        connectorName: pair.connectorName,
        subscriptionId,
        policyName: pair.policyName,
        cid: control.cid,
        controlName: control.controlName ?? null,
        criticality: control.criticality ?? null,
        controlEvaluationStatus: status,
        isRemediable: stringOrNull(controlFields.isRemediable),
        lastEvaluatedDate: control.lastEvaluatedDate ?? null,
        firstScannedDate: stringOrNull(controlFields.firstScannedDate),
        resourceId,
        resourceEvaluationResult,
        evidenceDetails,
        lake_run_id: poll.pollId,
        lake_ingested_at: page.ingestedAt,
        lake_raw_key: page.rawKeyInBucket ?? rawKey,
        lake_connector_id: String(pair.connectorId),
        lake_policy_id: String(pair.policyId),
        lake_page: pageNumber,
      });
      observations.push({
        alertKey: alertKeyOf(pair.connectorId, control.cid, resourceId),
        pollId: poll.pollId,
        connectorId: pair.connectorId,
        connectorType: pair.connectorType,
        connectorName: pair.connectorName,
        policyId: pair.policyId,
        policyName: pair.policyName,
        cid: control.cid,
        controlName: control.controlName ?? null,
        criticality: control.criticality ?? null,
        isRemediable: stringOrNull(controlFields.isRemediable),
        lastEvaluatedDate: control.lastEvaluatedDate ?? null,
        resourceId: stringOrNull(resourceId),
        resourceName: resourceNameOf(resource, stringOrNull(resourceId), subscriptionId, pair),
        result: normalizeResult(resource ? resourceEvaluationResult : status),
        evidence: evidenceOf(evidenceDetails),
        rawKey,
        curatedKey,
      });
    }
  }
  return { rows, observations };
}

/**
 * Adds what one resource's evaluation says to the pair's observation: a failure, or (for a failure
 * this policy holds open) a result that is not one, unless another page showed it failing.
 */
export function observe(
  observed: PairObservation,
  seen: ControlObservation,
  failures: Readonly<Record<string, OpenFailure>>,
): void {
  const key = seen.alertKey;
  if (seen.result === 'Fail') {
    observed.failing[key] = seen;
    delete observed.cleared[key];
  } else if (String(seen.policyId) in (failures[key]?.policies ?? {}) && !(key in observed.failing)) {
    observed.cleared[key] = seen;
  }
}
