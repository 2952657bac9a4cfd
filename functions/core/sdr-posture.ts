import * as v from 'valibot';
import type { CallOptions, QualysClient } from '../qualys/client';
import { BudgetExhaustedError, isStopSignal, QualysAuthError } from '../qualys/errors';
import { type ApiRecord, type Page, PageSchema } from '../qualys/schemas';
import {
  CONNECTOR_TYPES,
  type Connector,
  ConnectorSchema,
  type Control,
  ControlSchema,
  type Policy,
  PolicySchema,
  type Reporting,
  ReportingSchema,
  SDR_PATHS,
} from '../qualys/sdr';
import { describeIssues } from '../qualys/validation';
import { AlertOutbox } from './alerts/outbox';
import { CheckpointStore } from './checkpoint';
import { CURATED_DATASETS, collectorPrefix, PREFIX } from './names';
import { pageNumberPaging, pages } from './paginate';
import type { AlertSink, ObjectStore, RunLogger } from './ports';
import { POSTURE_DIGEST, postureFailedCandidate, postureRecoveredCandidate } from './posture-alerts';
import { gzip, safeKeySegment, toNdjsonGzip, utcDate, writeJson } from './records';
import { severityLevel } from './severity';

/**
 * SaaSDR posture: one poll reads `/sdr/api/v1/reporting` for every enabled connector and each
 * policy that applies to it, archives every page, curates one row per control x resource and
 * compares the failing resources with the failure state, so that a failure is alerted once (and
 * its recovery once), not on every poll. A poll may span runs: the checkpoint keeps the pairs
 * still to read and the page each one resumes from, with what its pages observed so far, and a
 * pair is compared only once all its pages are read.
 */
const NAME = 'sdr-posture';
const STATE = collectorPrefix('state', NAME);
const RAW = collectorPrefix('raw', NAME);

/** The reporting sample has no paging fields; a page without controls ends a pair, and this bounds it. */
export const MAX_REPORTING_PAGES = 500;
/** Runs in a row whose read of a pair fails before the poll gives that pair up (its failures stay as they are). */
export const MAX_PAIR_ATTEMPTS = 3;
/** Evidence strings kept in state and alerts; the curated rows keep them whole. */
const EVIDENCE_CHARS = 1000;

export type EvaluationResult = 'Pass' | 'Fail' | 'Error';
export type ObservedResult = EvaluationResult | 'Unknown';

const page5 = (page: number) => String(page).padStart(5, '0');

/** S3 keys of the posture collector, deterministic from the poll and request so a re-read page overwrites. */
export const postureKeys = {
  checkpoint: `${STATE}checkpoint.json`,
  failures: `${STATE}failures.json`,
  outbox: `${STATE}alert-outbox.json`,
  listRaw: (poll: PollRef, list: 'connectors' | 'policies', page: number) =>
    `${RAW}dt=${poll.date}/run=${poll.pollId}/${list}/page=${page5(page)}.json.gz`,
  raw: (poll: PollRef, pair: PairRef, page: number) =>
    `${RAW}dt=${poll.date}/run=${poll.pollId}/connector=${safeKeySegment(pair.connectorId)}/policy=${safeKeySegment(pair.policyId)}/page=${page5(page)}.json.gz`,
  curated: (poll: PollRef, pair: PairRef, page: number) =>
    `${PREFIX.curated}${CURATED_DATASETS.sdrPosture}/dt=${poll.date}/${poll.pollId}-connector=${safeKeySegment(pair.connectorId)}-policy=${safeKeySegment(pair.policyId)}-page=${page5(page)}.json.gz`,
  rejected: (poll: PollRef, where: string, page: number) =>
    `${STATE}rejected/run=${poll.pollId}/${where}/page=${page5(page)}.json`,
};

interface PollRef {
  pollId: string;
  /** UTC date the poll started: the `dt=` of its raw and curated objects. */
  date: string;
}

interface PairRef {
  connectorId: string | number;
  policyId: string | number;
}

/**
 * A poll's id, part of its keys: the start time to the millisecond (20250510T000000.123Z), so two
 * polls never share keys, even when a run completes a poll and the next starts in the same second.
 */
export const pollIdOf = (startedAt: string): string => new Date(startedAt).toISOString().replace(/[-:]/g, '');

/** `<connectorId>:<cid>:<resourceId>` with the raw ids (never used in a key). */
export const alertKeyOf = (connectorId: unknown, cid: unknown, resourceId: unknown): string =>
  `${String(connectorId)}:${String(cid)}:${resourceId === null || resourceId === undefined ? '' : String(resourceId)}`;

export interface Evidence {
  evidenceKey: string | null;
  evidenceSuccess: string | null;
  evidenceFail: string | null;
}

/** One resource's evaluation for one control, as a (connector, policy) poll saw it. */
export interface ControlObservation {
  alertKey: string;
  pollId: string;
  connectorId: string | number;
  connectorType: string;
  connectorName: string | null;
  policyId: string | number;
  policyName: string;
  cid: string | number;
  controlName: string | null;
  criticality: string | null;
  isRemediable: string | null;
  lastEvaluatedDate: string | null;
  resourceId: string | null;
  result: ObservedResult;
  evidence: Evidence[];
  rawKey: string;
  curatedKey: string;
}

/** What the pages of one (connector, policy) read so far observed. */
export interface PairObservation {
  /** Every failing resource, by alert key. */
  failing: Record<string, ControlObservation>;
  /** Results of open failures of this pair that were not failing on these pages (Pass, Error, Unknown). */
  cleared: Record<string, ControlObservation>;
  /** Some controls could not be read (rejected, repeated pages): absence alone proves no recovery. */
  incomplete: boolean;
}

export const emptyObservation = (): PairObservation => ({ failing: {}, cleared: {}, incomplete: false });

/** An open failure in `state/sdr-posture/failures.json`. */
export interface OpenFailure
  extends Omit<ControlObservation, 'policyId' | 'policyName' | 'result' | 'pollId'> {
  /** Policies whose latest complete read saw it failing: policy id → name. */
  policies: Record<string, string>;
  /** Whether a "failed" alert went out (false while below SDR_POSTURE_MIN_CRITICALITY). */
  alerted: boolean;
  firstFailedPollId: string;
  lastFailedPollId: string;
}

/** A closed failure: the latest read saw it passing, or (a complete read) no longer listed it. */
export interface RecoveredFailure extends OpenFailure {
  recoveredBy: 'Pass' | 'absent';
}

export interface FailureState {
  version: 1;
  failures: Record<string, OpenFailure>;
  updatedAt?: string;
}

export interface PairProgress {
  connectorId: string | number;
  /** As the connector list names it (GSUITE); /reporting gets it through CONNECTOR_TYPES. */
  connectorType: string;
  connectorName: string | null;
  policyId: string | number;
  policyName: string;
  /** Next /reporting pageNumber to read, from 1. */
  nextPage: number;
  status: 'pending' | 'done' | 'skipped';
  observed?: PairObservation;
  /** cids of the last page read, to notice an API that ignores pageNumber. */
  lastPageCids?: string;
  /** Runs in a row whose read failed, and why (no credentials in it: client errors name endpoint and status). */
  attempts?: number;
  lastError?: string;
}

/** A connector as the poll keeps it while listing. */
export type ListedConnector = Pick<Connector, 'id' | 'connectorType' | 'name' | 'isEnabled'> & {
  deleted?: unknown;
};
/** A policy as the poll keeps it while listing. */
export type ListedPolicy = Pick<Policy, 'id' | 'name' | 'connectorType'> & {
  connectors?: Array<{ id?: string | number | null }> | null;
};

/** Listing of connectors, then policies, page by page, so a long listing also resumes. */
export interface Listing {
  list: 'connectors' | 'policies';
  /** Next page (from 0) of `list`. */
  nextPage: number;
  connectors: ListedConnector[];
  policies: ListedPolicy[];
}

export interface Poll extends PollRef {
  startedAt: string;
  /** Present until the connectors and policies are listed; the pairs are known after that. */
  listing?: Listing;
  pairs: PairProgress[];
}

export interface PostureCheckpoint {
  version: 1;
  /** The poll in progress, when a run stopped before reading every pair. */
  poll?: Poll;
  lastPoll?: { pollId: string; startedAt: string; completedAt: string; pairs: number; skippedPairs: number };
  updatedAt?: string;
}

export interface PostureSettings {
  /** Page size of the connector and policy lists. */
  pageSize: number;
  /** `controlEvaluations`, e.g. ['Pass', 'Fail', 'Error']; must include Fail. */
  evaluations: readonly EvaluationResult[];
  notifyRecovery: boolean;
  /** Numeric criticality (Low 1 ... Critical 4) a failure needs to be alerted. */
  minCriticality: number;
  maxAlertsPerRun: number;
  /** Stop cleanly once this run has made that many Qualys calls. */
  maxCallsPerRun: number;
  bucket: string;
}

export interface PostureDependencies {
  qualys: Pick<QualysClient, 'getJson' | 'budget'>;
  store: ObjectStore;
  alerts: AlertSink;
  logger: RunLogger;
  settings: PostureSettings;
  now?: () => number;
}

export interface PairError {
  connectorId: string;
  policyName: string;
  page: number;
  error: string;
  gaveUp: boolean;
}

export interface PostureRunSummary {
  collector: typeof NAME;
  pollId?: string;
  /** This run continued a poll an earlier run started. */
  resumedPoll: boolean;
  pollComplete: boolean;
  /** Set when this run started the poll and listed the connectors. */
  connectors?: {
    listed: number;
    polled: number;
    disabled: number;
    unknownType: Array<{ id: string; connectorType: string | null }>;
  };
  policies?: number;
  pairs: { total: number; done: number; skipped: number; remaining: number; completedThisRun: number };
  pages: number;
  controls: number;
  rows: number;
  rejected: number;
  newFailures: number;
  recoveries: number;
  openFailures: number;
  pairErrors: PairError[];
  alertsPublished: number;
  digestsPublished: number;
  objectsWritten: number;
  apiCalls: number;
  rateLimit: Record<string, number | undefined>;
  /** Why the run ended before the poll was read: budget, deadline. */
  stoppedEarly?: string;
}

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

const clip = (text: string) =>
  text.length > EVIDENCE_CHARS ? `${text.slice(0, EVIDENCE_CHARS - 1)}…` : text;

function evidenceText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return clip(typeof value === 'string' ? value : JSON.stringify(value));
}

function evidenceOf(details: readonly ApiRecord[] | null | undefined): Evidence[] {
  return (details ?? []).map((item) => ({
    evidenceKey: evidenceText(item.evidenceKey),
    evidenceSuccess: evidenceText(item.evidenceSuccess),
    evidenceFail: evidenceText(item.evidenceFail),
  }));
}

const stringOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : String(value);

/**
 * Compares one complete read of a (connector, policy) pair with the open failures.
 * - A failing resource not yet open opens a failure; it is alerted when its criticality is at or
 *   above `meetsThreshold` (an open, unalerted failure is alerted once its criticality rises).
 * - An open failure of this pair that the read shows passing, or no longer lists (when the read is
 *   complete), is closed for this policy; once no policy sees it failing, it has recovered.
 * - Error and unknown results change nothing: the evaluation did not say.
 * Failures of other connectors or policies are left as they are.
 */
export function comparePair(
  failures: Readonly<Record<string, OpenFailure>>,
  pair: { connectorId: string | number; policyId: string | number; policyName: string },
  observed: PairObservation,
  pollId: string,
  meetsThreshold: (criticality: string | null) => boolean,
): { failures: Record<string, OpenFailure>; failed: ControlObservation[]; recovered: RecoveredFailure[] } {
  const next: Record<string, OpenFailure> = { ...failures };
  const failed: ControlObservation[] = [];
  const recovered: RecoveredFailure[] = [];
  const policyId = String(pair.policyId);
  for (const [key, seen] of Object.entries(observed.failing)) {
    const { policyId: _policyId, policyName, result: _result, pollId: _pollId, ...detail } = seen;
    const open = failures[key];
    const alert = !open?.alerted && meetsThreshold(seen.criticality);
    if (alert) failed.push(seen);
    next[key] = {
      ...detail,
      policies: { ...open?.policies, [policyId]: policyName },
      alerted: (open?.alerted ?? false) || alert,
      firstFailedPollId: open?.firstFailedPollId ?? pollId,
      lastFailedPollId: pollId,
    };
  }
  for (const [key, open] of Object.entries(failures)) {
    if (String(open.connectorId) !== String(pair.connectorId) || !(policyId in open.policies)) continue;
    if (key in observed.failing) continue;
    const seen = observed.cleared[key];
    if (seen && seen.result !== 'Pass') continue;
    if (!seen && observed.incomplete) continue;
    const { [policyId]: _closed, ...policies } = open.policies;
    if (Object.keys(policies).length > 0) {
      next[key] = { ...open, policies };
      continue;
    }
    delete next[key];
    if (!open.alerted) continue;
    recovered.push(
      seen
        ? {
            ...open,
            evidence: seen.evidence,
            lastEvaluatedDate: seen.lastEvaluatedDate,
            rawKey: seen.rawKey,
            curatedKey: seen.curatedKey,
            recoveredBy: 'Pass',
          }
        : { ...open, evidence: [], recoveredBy: 'absent' },
    );
  }
  return { failures: next, failed, recovered };
}

/** Whether a connector takes part: enabled, not deleted, of a type /reporting knows. */
function connectorVerdict(connector: ListedConnector): 'poll' | 'disabled' | 'unknownType' {
  if (!(connector.isEnabled === 1 || connector.isEnabled === true) || connector.deleted === true)
    return 'disabled';
  return connector.connectorType && connector.connectorType in CONNECTOR_TYPES ? 'poll' : 'unknownType';
}

/** A policy applies when it lists the connector, or is of the connector's type. */
export function policyApplies(policy: ListedPolicy, connector: ListedConnector): boolean {
  if (
    policy.connectors?.some(
      (item) => item.id !== null && item.id !== undefined && String(item.id) === String(connector.id),
    )
  )
    return true;
  const type = connector.connectorType;
  if (!type || !policy.connectorType) return false;
  return policy.connectorType === type || CONNECTOR_TYPES[policy.connectorType] === CONNECTOR_TYPES[type];
}

/** Runs the posture collector once: continues the pending poll, or starts a new one. */
export async function runPostureCollector(
  deps: PostureDependencies,
  call: CallOptions,
): Promise<PostureRunSummary> {
  const { store, settings, logger, qualys } = deps;
  const now = deps.now ?? Date.now;
  const checkpoints = new CheckpointStore<PostureCheckpoint>(store, postureKeys.checkpoint);
  const failureStore = new CheckpointStore<FailureState>(store, postureKeys.failures);
  const outbox = new AlertOutbox(store, postureKeys.outbox, settings.maxAlertsPerRun);
  const callsBefore = qualys.budget.callsMade;
  const meetsThreshold = (criticality: string | null) =>
    (severityLevel(criticality) ?? Number.POSITIVE_INFINITY) >= settings.minCriticality;
  const summary: PostureRunSummary = {
    collector: NAME,
    resumedPoll: false,
    pollComplete: false,
    pairs: { total: 0, done: 0, skipped: 0, remaining: 0, completedThisRun: 0 },
    pages: 0,
    controls: 0,
    rows: 0,
    rejected: 0,
    newFailures: 0,
    recoveries: 0,
    openFailures: 0,
    pairErrors: [],
    alertsPublished: 0,
    digestsPublished: 0,
    objectsWritten: 0,
    apiCalls: 0,
    rateLimit: {},
  };
  const put: ObjectStore['put'] = async (key, body, options) => {
    await store.put(key, body, options);
    summary.objectsWritten++;
  };
  let checkpoint: PostureCheckpoint = { version: 1 };
  let failures: Record<string, OpenFailure> = {};
  const saveCheckpoint = async () => {
    checkpoint = { ...checkpoint, updatedAt: new Date(now()).toISOString() };
    await checkpoints.save(checkpoint);
  };

  /** SDR_MAX_CALLS_PER_RUN: a stop signal like a spent window, so the run checkpoints and ends cleanly. */
  const spendCall = () => {
    const made = qualys.budget.callsMade - callsBefore;
    if (made >= settings.maxCallsPerRun) {
      throw new BudgetExhaustedError(
        0,
        `this run made ${made} Qualys calls, its limit (SDR_MAX_CALLS_PER_RUN)`,
      );
    }
  };

  async function writeRejects(
    poll: PollRef,
    where: string,
    page: number,
    detail: Record<string, unknown>,
    rejected: unknown[],
  ) {
    if (rejected.length === 0) return;
    await writeJson(store, postureKeys.rejected(poll, where, page), { ...detail, rejected });
    summary.objectsWritten++;
    summary.rejected += rejected.length;
  }

  /** Archives one page of a SaaSDR list and returns the items `schema` accepts (the others are set aside). */
  async function listPage<S extends typeof ConnectorSchema | typeof PolicySchema>(
    poll: PollRef,
    list: 'connectors' | 'policies',
    schema: S,
    pageNumber: number,
    page: Page & { raw: Uint8Array },
  ): Promise<v.InferOutput<S>[]> {
    const path = list === 'connectors' ? SDR_PATHS.connectors : SDR_PATHS.policies;
    await put(postureKeys.listRaw(poll, list, pageNumber), gzip(page.raw), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: { 'qualys-endpoint': path, page: String(pageNumber) },
    });
    const items: v.InferOutput<S>[] = [];
    const rejected: Array<{ index: number; reason: string; record: unknown }> = [];
    page.content.forEach((record, index) => {
      const parsed = v.safeParse(schema, record);
      if (parsed.success) items.push(parsed.output);
      else rejected.push({ index, reason: describeIssues(parsed.issues), record });
    });
    if (rejected.length > 0) {
      logger.warn(`SaaSDR ${list} without a usable id or name were set aside`, {
        page: pageNumber,
        rejected: rejected.length,
        firstReason: rejected[0]?.reason,
      });
    }
    await writeRejects(poll, list, pageNumber, { endpoint: `GET ${path}`, page: pageNumber }, rejected);
    return items;
  }

  /** Lists connectors, then policies, from where the listing stopped; saves after every page. */
  async function continueListing(poll: Poll, listing: Listing) {
    for (const list of ['connectors', 'policies'] as const) {
      if (listing.list !== list) continue;
      const path = list === 'connectors' ? SDR_PATHS.connectors : SDR_PATHS.policies;
      const fetchPage = async (page: number) => {
        spendCall();
        const response = await qualys.getJson(path, { page, size: settings.pageSize }, PageSchema, call);
        return { ...response.body, raw: response.raw };
      };
      for await (const { cursor, next, page } of pageNumberPaging(
        fetchPage,
        listing.nextPage,
        settings.pageSize,
      )) {
        if (list === 'connectors') {
          for (const item of await listPage(poll, list, ConnectorSchema, cursor, page)) {
            const { id, connectorType, name, isEnabled, deleted } = item;
            listing.connectors.push({ id, connectorType, name, isEnabled, deleted });
          }
        } else {
          for (const item of await listPage(poll, list, PolicySchema, cursor, page)) {
            const { id, name, connectorType, connectors } = item;
            listing.policies.push({
              id,
              name,
              connectorType,
              connectors: connectors?.map((c) => ({ id: c.id })),
            });
          }
        }
        if (next !== undefined) {
          listing.nextPage = next;
        } else if (list === 'connectors') {
          listing.list = 'policies';
          listing.nextPage = 0;
        } else {
          poll.pairs = pairsOf(listing);
          poll.listing = undefined;
        }
        await saveCheckpoint();
      }
    }
  }

  /** The (connector, policy) pairs of a finished listing. */
  function pairsOf(listing: Listing): PairProgress[] {
    const report = {
      listed: listing.connectors.length,
      polled: 0,
      disabled: 0,
      unknownType: [] as Array<{ id: string; connectorType: string | null }>,
    };
    const pairs: PairProgress[] = [];
    for (const connector of listing.connectors) {
      const verdict = connectorVerdict(connector);
      if (verdict === 'disabled') {
        report.disabled++;
        continue;
      }
      if (verdict === 'unknownType') {
        report.unknownType.push({ id: String(connector.id), connectorType: connector.connectorType ?? null });
        logger.warn('Skipping a connector of a type /sdr/api/v1/reporting does not know', {
          connectorId: connector.id,
          connectorType: connector.connectorType ?? null,
          knownTypes: Object.keys(CONNECTOR_TYPES),
        });
        continue;
      }
      report.polled++;
      for (const policy of listing.policies) {
        if (!policyApplies(policy, connector)) continue;
        pairs.push({
          connectorId: connector.id,
          connectorType: connector.connectorType ?? '',
          connectorName: connector.name ?? null,
          policyId: policy.id,
          policyName: policy.name,
          nextPage: 1,
          status: 'pending',
        });
      }
    }
    summary.connectors = report;
    summary.policies = listing.policies.length;
    logger.info('Listed the connector/policy pairs of a posture poll', {
      pairs: pairs.length,
      connectors: report,
    });
    return pairs;
  }

  /** Archives and curates one /reporting page, and adds what it shows to `observed`. */
  async function writeReportingPage(
    poll: Poll,
    pair: PairProgress,
    pageNumber: number,
    body: Reporting,
    raw: Uint8Array,
    observed: PairObservation,
  ) {
    const rawKey = postureKeys.raw(poll, pair, pageNumber);
    const curatedKey = postureKeys.curated(poll, pair, pageNumber);
    await put(rawKey, gzip(raw), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      metadata: {
        'qualys-endpoint': SDR_PATHS.reporting,
        'connector-id': safeKeySegment(pair.connectorId),
        'policy-id': safeKeySegment(pair.policyId),
        page: String(pageNumber),
      },
    });
    summary.pages++;
    const controls = body.controlDetailsSummaryDto ?? [];
    if (controls.length === 0) return;

    const valid: Control[] = [];
    const rejected: Array<{ index: number; reason: string; record: unknown }> = [];
    controls.forEach((record, index) => {
      const parsed = v.safeParse(ControlSchema, record);
      if (parsed.success) valid.push(parsed.output);
      else rejected.push({ index, reason: describeIssues(parsed.issues), record });
    });
    if (rejected.length > 0) {
      observed.incomplete = true;
      logger.warn('Controls that do not match the reporting schema were set aside', {
        connectorId: pair.connectorId,
        policyId: pair.policyId,
        page: pageNumber,
        rejected: rejected.length,
        firstReason: rejected[0]?.reason,
      });
    }
    await writeRejects(
      poll,
      `connector=${safeKeySegment(pair.connectorId)}/policy=${safeKeySegment(pair.policyId)}`,
      pageNumber,
      {
        endpoint: `GET ${SDR_PATHS.reporting}`,
        connectorId: pair.connectorId,
        policyName: pair.policyName,
        pageNumber,
      },
      rejected,
    );

    const ingestedAt = new Date(now()).toISOString();
    const subscriptionId =
      typeof body.subscriptionId === 'string' || typeof body.subscriptionId === 'number'
        ? body.subscriptionId
        : null;
    const rows: Record<string, unknown>[] = [];
    for (const control of valid) {
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
          lake_ingested_at: ingestedAt,
          lake_raw_key: rawKey,
          lake_connector_id: String(pair.connectorId),
          lake_policy_id: String(pair.policyId),
          lake_page: pageNumber,
        });
        const alertKey = alertKeyOf(pair.connectorId, control.cid, resourceId);
        const result = normalizeResult(resource ? resourceEvaluationResult : status);
        const seen: ControlObservation = {
          alertKey,
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
          result,
          evidence: evidenceOf(evidenceDetails),
          rawKey,
          curatedKey,
        };
        if (result === 'Fail') {
          observed.failing[alertKey] = seen;
          delete observed.cleared[alertKey];
        } else if (
          String(pair.policyId) in (failures[alertKey]?.policies ?? {}) &&
          !(alertKey in observed.failing)
        ) {
          observed.cleared[alertKey] = seen;
        }
      }
    }
    if (rows.length > 0) {
      await put(curatedKey, toNdjsonGzip(rows), {
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
    }
    summary.controls += controls.length;
    summary.rows += rows.length;
  }

  /** Compares a fully read pair with the failure state, queues its alerts and marks it done. */
  async function completePair(poll: Poll, pair: PairProgress, observed: PairObservation) {
    const result = comparePair(failures, pair, observed, poll.pollId, meetsThreshold);
    const recovered = settings.notifyRecovery ? result.recovered : [];
    await outbox.add([
      ...result.failed.map((seen) => postureFailedCandidate(seen, { bucket: settings.bucket })),
      ...recovered.map((failure) =>
        postureRecoveredCandidate(
          failure,
          { policyName: pair.policyName, pollId: poll.pollId },
          { bucket: settings.bucket },
        ),
      ),
    ]);
    failures = result.failures;
    await failureStore.save({ version: 1, failures, updatedAt: new Date(now()).toISOString() });
    summary.objectsWritten++;
    summary.newFailures += result.failed.length;
    summary.recoveries += result.recovered.length;
    pair.status = 'done';
    pair.observed = undefined;
    pair.lastPageCids = undefined;
    pair.attempts = undefined;
    pair.lastError = undefined;
    summary.pairs.completedThisRun++;
    await saveCheckpoint();
  }

  async function readPair(poll: Poll, pair: PairProgress) {
    const observed = pair.observed ?? emptyObservation();
    const start = pair.nextPage;
    if (start > MAX_REPORTING_PAGES) {
      throw new Error(`the reporting listing did not end within ${MAX_REPORTING_PAGES} pages`);
    }
    const connectorType = CONNECTOR_TYPES[pair.connectorType] ?? pair.connectorType;
    const fetchPage = async (pageNumber: number) => {
      spendCall();
      const response = await qualys.getJson(
        SDR_PATHS.reporting,
        {
          policyName: pair.policyName,
          connectorId: String(pair.connectorId),
          connectorType,
          controlEvaluations: settings.evaluations.join(','),
          pageNumber,
        },
        ReportingSchema,
        call,
      );
      const controls = response.body.controlDetailsSummaryDto ?? [];
      const cids = controls.map((control) => String((control as { cid?: unknown }).cid)).join(',');
      // An API that ignored pageNumber would serve page 1 forever: a repeated page ends the listing.
      const repeated = controls.length > 0 && cids === pair.lastPageCids;
      return { body: response.body, raw: response.raw, cids, repeated };
    };
    for await (const { cursor, next, page } of pages({
      start,
      fetchPage,
      info: (page) => ({ count: page.repeated ? 0 : (page.body.controlDetailsSummaryDto ?? []).length }),
      advance: (pageNumber) => pageNumber + 1,
      maxPages: MAX_REPORTING_PAGES - start + 1,
    })) {
      if (page.repeated) {
        observed.incomplete = true;
        logger.warn(
          '/sdr/api/v1/reporting served the same controls for two page numbers; ending the listing',
          {
            connectorId: pair.connectorId,
            policyId: pair.policyId,
            pageNumber: cursor,
          },
        );
      } else {
        await writeReportingPage(poll, pair, cursor, page.body, page.raw, observed);
      }
      if (next === undefined) {
        await completePair(poll, pair, observed);
      } else {
        pair.nextPage = next;
        pair.observed = observed;
        pair.lastPageCids = page.cids;
        await saveCheckpoint();
      }
    }
  }

  let failure: unknown;
  try {
    checkpoint = (await checkpoints.load()) ?? { version: 1 };
    failures = (await failureStore.load())?.failures ?? {};
    let poll = checkpoint.poll;
    if (poll) {
      summary.resumedPoll = true;
    } else {
      const startedAt = new Date(now()).toISOString();
      poll = {
        pollId: pollIdOf(startedAt),
        date: utcDate(startedAt),
        startedAt,
        listing: { list: 'connectors', nextPage: 0, connectors: [], policies: [] },
        pairs: [],
      };
      checkpoint = { ...checkpoint, poll };
      await saveCheckpoint();
    }
    summary.pollId = poll.pollId;
    if (poll.listing) await continueListing(poll, poll.listing);
    for (const pair of poll.pairs) {
      if (pair.status !== 'pending') continue;
      try {
        await readPair(poll, pair);
      } catch (error) {
        if (isStopSignal(error) || error instanceof QualysAuthError) throw error;
        // One pair's bad page must not hold up the others: note it, keep its page, go on.
        pair.attempts = (pair.attempts ?? 0) + 1;
        pair.lastError = (error as Error).message;
        const gaveUp = pair.attempts >= MAX_PAIR_ATTEMPTS;
        if (gaveUp) {
          pair.status = 'skipped';
          pair.observed = undefined;
        }
        summary.pairErrors.push({
          connectorId: String(pair.connectorId),
          policyName: pair.policyName,
          page: pair.nextPage,
          error: pair.lastError,
          gaveUp,
        });
        logger.error(
          gaveUp
            ? 'Giving up a connector/policy pair for this poll; its open failures stay as they are'
            : 'Reading a connector/policy pair failed; the next run retries it from the same page',
          {
            connectorId: pair.connectorId,
            policyId: pair.policyId,
            page: pair.nextPage,
            attempts: pair.attempts,
            error: pair.lastError,
          },
        );
        await saveCheckpoint();
      }
    }
    if (!poll.listing && poll.pairs.every((pair) => pair.status !== 'pending')) {
      summary.pollComplete = true;
      checkpoint = {
        version: 1,
        lastPoll: {
          pollId: poll.pollId,
          startedAt: poll.startedAt,
          completedAt: new Date(now()).toISOString(),
          pairs: poll.pairs.length,
          skippedPairs: poll.pairs.filter((pair) => pair.status === 'skipped').length,
        },
      };
      await saveCheckpoint();
    }
    countPairs(poll);
  } catch (error) {
    if (checkpoint.poll) countPairs(checkpoint.poll);
    if (isStopSignal(error)) {
      summary.stoppedEarly = error.message;
      logger.info('Stopping early; the next run continues this poll', { reason: error.message });
    } else {
      failure = error;
    }
  }

  function countPairs(poll: Poll) {
    summary.pairs.total = poll.pairs.length;
    summary.pairs.done = poll.pairs.filter((pair) => pair.status === 'done').length;
    summary.pairs.skipped = poll.pairs.filter((pair) => pair.status === 'skipped').length;
    summary.pairs.remaining = poll.pairs.filter((pair) => pair.status === 'pending').length;
  }

  // Alerts queued by this run (or left by an earlier one) go out even when the run failed later.
  try {
    const sent = await outbox.flush(deps.alerts, POSTURE_DIGEST);
    summary.alertsPublished = sent.alerts;
    summary.digestsPublished = sent.digests;
  } catch (error) {
    logger.error('Publishing alerts failed; they stay queued for the next run', {
      error: (error as Error).message,
    });
    failure ??= error;
  }
  summary.openFailures = Object.keys(failures).length;
  summary.apiCalls = qualys.budget.callsMade - callsBefore;
  summary.rateLimit = qualys.budget.rateLimitReport;
  if (failure) throw failure;
  if (summary.pairErrors.length > 0) {
    logger.error('Posture run finished with unreadable connector/policy pairs', { summary });
    const first = summary.pairErrors[0];
    throw new Error(
      `sdr-posture: ${summary.pairErrors.length} connector/policy pair(s) could not be read ` +
        `(first: connector ${first?.connectorId}, policy "${first?.policyName}", page ${first?.page}: ${first?.error}); ` +
        'everything read before is in S3 and the next run retries from the failed page',
    );
  }
  return summary;
}
