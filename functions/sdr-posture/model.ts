import type { AlertCounts, RunCounts } from '../core/run';
import type { Connector, Policy } from '../qualys/sdr';

/**
 * What the posture collector keeps and reports: what a poll observed, the open failures, the
 * checkpoint of a poll in progress and the run summary. A poll reads `/sdr/api/v1/reporting` for
 * every enabled connector and each policy that applies to it; it may span runs, and a pair is
 * compared with the failures only once all its pages are read.
 */

export type EvaluationResult = 'Pass' | 'Fail' | 'Error';
export type ObservedResult = EvaluationResult | 'Unknown';

export interface PollRef {
  pollId: string;
  /** UTC date the poll started: the `dt=` of its raw and curated objects. */
  date: string;
}

export interface PairRef {
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
  /** The resource's name where the data has one (see resourceNameOf); absent in state written before it. */
  resourceName?: string | null;
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
  /**
   * (connector, policy) pairs whose first complete read set the baseline: `<connectorId>|<policyId>`
   * → the poll. Absent in a state written before baselines existed: every pair counts as baselined.
   */
  baselines?: Record<string, string>;
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

export interface PairError {
  connectorId: string;
  policyName: string;
  page: number;
  error: string;
  gaveUp: boolean;
}

/** What listing the connectors found: how many take part, and why the others do not. */
export interface ConnectorReport {
  listed: number;
  polled: number;
  disabled: number;
  unknownType: Array<{ id: string; connectorType: string | null }>;
}

export interface SdrPostureSummary extends RunCounts, AlertCounts {
  collector: 'sdr-posture';
  pollId?: string;
  /** This run continued a poll an earlier run started. */
  resumedPoll: boolean;
  pollComplete: boolean;
  /** Set when this run started the poll and listed the connectors. */
  connectors?: ConnectorReport;
  policies?: number;
  pairs: { total: number; done: number; skipped: number; remaining: number; completedThisRun: number };
  pages: number;
  controls: number;
  rows: number;
  rejected: number;
  newFailures: number;
  /** New failures reported in a baseline summary (the first read of their pair) instead of one alert each. */
  baselineFailures: number;
  recoveries: number;
  openFailures: number;
  pairErrors: PairError[];
  /** Why the run ended before the poll was read: budget, deadline, SDR_MAX_CALLS_PER_RUN. */
  stoppedEarly?: string;
}
