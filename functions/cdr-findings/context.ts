import type { AlertCandidate } from '../core/alerts/digest';
import type { AlertOutbox } from '../core/alerts/outbox';
import type { Checkpoint, Window } from '../core/checkpoint';
import type { PageJournal } from '../core/journal';
import type { AlertCounts, AlertingDependencies, Run, RunCounts } from '../core/run';
import type { SeenDelta, SeenIndex } from '../core/seen-index';
import type { CallOptions } from '../qualys/client';
import type { CdrFindingsSettings } from './config';
import type { CdrFindingsRequest } from './request';
import type { WindowKind } from './windows';

/** What a run of the CDR collector works with and reports: shared by its reader and its page writer. */

export type CdrFindingsDependencies = AlertingDependencies<CdrFindingsSettings>;

export interface WindowReport extends Window {
  kind: WindowKind | 'replay';
  pages: number;
  findings: number;
  newFindings: number;
  complete: boolean;
  /** Done after its first page: the API's total equalled what the lake held for those hours. */
  countMatched?: boolean;
}

export interface CdrFindingsSummary extends RunCounts, AlertCounts {
  collector: 'cdr-findings';
  mode: CdrFindingsRequest['kind'];
  windows: WindowReport[];
  pages: number;
  findings: number;
  newFindings: number;
  /** New findings found by settle and reconcile reads: those that reached the API late. */
  lateFindings: number;
  rejected: number;
  /** Findings that would have alerted, curated by a window run without alerts: noted in the seen index. */
  curatedWithoutAlert: number;
  /** Findings a window run without alerts had curated, alerted now by a scheduled read. */
  alertedAfterBackfill: number;
  checkpoint?: Checkpoint;
}

/** What a page changed, recorded in one write: the findings it made seen and the alerts they queued. */
export interface CdrJournalEntry {
  seen: SeenDelta;
  alerts: AlertCandidate[];
}

/** What the steps of one run share. */
export interface RunContext {
  run: Run<CdrFindingsSummary>;
  deps: CdrFindingsDependencies;
  call: CallOptions;
  index: SeenIndex;
  journal: PageJournal<CdrJournalEntry>;
  outbox: AlertOutbox;
  /**
   * Settles once what earlier runs journaled is applied to the index and the outbox: read while the
   * first window is planned and its first page fetched, and awaited before a page is written.
   */
  journalReplayed: Promise<void>;
  /** Whether new severe findings are queued as alerts (a replayed window may say no). */
  alerts: boolean;
  /** Whether findings a backfill curated without their alert are alerted when read (scheduled runs). */
  alertUnalerted: boolean;
}

/** New findings of a page, per hour of event time (hour start → count). */
export type FreshByHour = Map<string, number>;
