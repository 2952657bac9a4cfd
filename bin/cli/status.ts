/**
 * `qualys-lake status`: what the collectors' state in the lake says — per subscription and
 * collector how far behind now it is, what it last completed and saved, what waits to be sent — and
 * each subscription's call budget. It reads state objects only (a few GETs and LISTs), so it is safe
 * against a running deployment.
 */
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import { CALL_BUDGET_LEDGER_KEY, FUNCTION_NAMES, type FunctionName } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopeKey } from '../../functions/core/subscription';
import { sdrInventoryKeys } from '../../functions/sdr-inventory/keys';
import type { InventoryCheckpoint } from '../../functions/sdr-inventory/snapshot';
import { sdrPostureKeys } from '../../functions/sdr-posture/keys';
import { sdrReportsKeys } from '../../functions/sdr-reports/keys';
import { lagThresholdMinutes, type QualysLakeConfig } from '../../lib/config';
import { type LakeSource, readJsonObject } from './lake-source';
import { UsageError } from './options';
import type { RunHistory } from './run-history';

export interface CollectorStatus {
  collector: FunctionName;
  /** What "fresh as of" means for this collector. */
  freshness: string;
  /** The instant the collector's data is complete up to, or undefined before its first success. */
  freshAsOf?: string;
  lagMinutes?: number;
  /** Behind when the lag passes the collector's lag-alarm threshold (three schedule periods by default). */
  behind: boolean;
  /** When the collector last saved progress. */
  lastSaved?: string;
  /** From CloudWatch (`RunSucceeded`), for a deployed stack: the 5-minute period of its last run and success. */
  lastRun?: string;
  lastSuccess?: string;
  details: string[];
  alertsWaiting: number;
}

export interface BudgetStatus {
  limit?: number;
  windowSec?: number;
  remaining?: number;
  observedAt?: string;
  reopensAt?: string;
  concurrencyLimit?: number;
  inFlight: number;
}

export interface LakeStatus {
  where: string;
  /** The subscription whose collectors these are (their keys carry `subscription=<name>/`). */
  subscription: string;
  /** Whether the run history was read from CloudWatch (a deployed stack). */
  historyRead: boolean;
  /** Why the run history is missing, when it was asked for and could not be read. */
  historyProblem?: string;
  at: string;
  collectors: CollectorStatus[];
  budget?: BudgetStatus;
}

interface OutboxObject {
  candidates?: unknown[];
  segments?: { count: number }[];
}

interface Ledger {
  gateway?: Omit<BudgetStatus, 'inFlight'>;
  inFlight?: unknown[];
}

const minutesBetween = (from: string, to: number) =>
  Math.max(0, Math.round((to - Date.parse(from)) / 60_000));

/** Which subscription `status` reads, with the collectors it runs and their lag-alarm thresholds. */
export interface SubscriptionPlan {
  name: string;
  collectors: readonly FunctionName[];
  /** Each collector's lag-alarm threshold in minutes, as the stack sets it. */
  thresholds: Record<FunctionName, number>;
}

/**
 * The subscriptions to show: those the stack outputs (`deployed`), else those of the context, or
 * only `only`; each with its collectors and thresholds from the context where it lists them.
 */
export function subscriptionPlans(
  config: QualysLakeConfig,
  deployed: readonly string[] | undefined,
  only?: string,
): SubscriptionPlan[] {
  const names = deployed ?? config.subscriptions.map((subscription) => subscription.name);
  if (only !== undefined && !names.includes(only))
    throw new UsageError(`no subscription "${only}" here; the subscriptions are ${names.join(', ')}`);
  return names
    .filter((name) => only === undefined || name === only)
    .map((name) => {
      const settings = config.subscriptions.find((subscription) => subscription.name === name) ?? config;
      const collectors = 'collectors' in settings ? settings.collectors : FUNCTION_NAMES;
      const thresholds = Object.fromEntries(
        FUNCTION_NAMES.map((collector) => [collector, lagThresholdMinutes(settings, collector)]),
      ) as Record<FunctionName, number>;
      return { name, collectors, thresholds };
    });
}

export async function lakeStatus(
  source: LakeSource,
  /** Each collector's lag-alarm threshold in minutes. */
  thresholdMinutes: Record<FunctionName, number>,
  now = Date.now(),
  history?: Partial<Record<FunctionName, RunHistory>>,
  /** The subscription to read, and the collectors it runs. */
  plan: Pick<SubscriptionPlan, 'name' | 'collectors'> = {
    name: DEFAULT_SUBSCRIPTION,
    collectors: FUNCTION_NAMES,
  },
): Promise<LakeStatus> {
  // Collectors build logical keys; in the bucket each carries the subscription's level.
  const key = (logical: string) => scopeKey(logical, plan.name);
  const outboxCount = async (logical: string) => {
    const outbox = await readJsonObject<OutboxObject>(source, key(logical));
    return (
      (outbox?.candidates?.length ?? 0) + (outbox?.segments ?? []).reduce((sum, part) => sum + part.count, 0)
    );
  };
  const status = (
    collector: FunctionName,
    freshness: string,
    freshAsOf: string | undefined,
    rest: Omit<CollectorStatus, 'collector' | 'freshness' | 'freshAsOf' | 'lagMinutes' | 'behind'>,
  ): CollectorStatus => {
    const lagMinutes = freshAsOf ? minutesBetween(freshAsOf, now) : undefined;
    const limit = thresholdMinutes[collector];
    return {
      collector,
      freshness,
      freshAsOf,
      lagMinutes,
      behind: lagMinutes === undefined || lagMinutes > limit,
      ...rest,
      ...history?.[collector],
    };
  };

  const cdr = await readJsonObject<{
    watermark?: string;
    updatedAt?: string;
    settledUntil?: string;
    reconciledOn?: string;
  }>(source, key(cdrFindingsKeys.checkpoint));
  const journalPages = (await source.list(key(cdrFindingsKeys.journalPrefix), 1000)).length;
  const cdrStatus = status('cdr-findings', 'watermark (findings read up to)', cdr?.watermark, {
    lastSaved: cdr?.updatedAt,
    alertsWaiting: await outboxCount(cdrFindingsKeys.outbox),
    details: [
      cdr
        ? `late findings settled until ${cdr.settledUntil ?? '-'}, last reconcile ${cdr.reconciledOn ?? '-'}`
        : 'no checkpoint yet',
      ...(journalPages
        ? [`${journalPages} page journal entries not merged yet (a run in progress, or cut off)`]
        : []),
    ],
  });

  const inventory = await readJsonObject<InventoryCheckpoint>(source, key(sdrInventoryKeys.state));
  const current = inventory?.current;
  const inventoryStatus = status(
    'sdr-inventory',
    'last complete snapshot',
    inventory?.lastCompleted?.completedAt,
    {
      lastSaved: inventory?.updatedAt,
      alertsWaiting: 0,
      details: [
        inventory?.lastCompleted
          ? `snapshot ${inventory.lastCompleted.snapshotId} complete`
          : 'no complete snapshot yet',
        ...(current
          ? [
              `snapshot ${current.snapshotId} in progress: ${Object.values(current.lists).filter((list) => list.complete).length}` +
                ` of ${Object.keys(current.lists).length} lists done, ${current.runs} runs, ${current.apiCalls} calls so far`,
            ]
          : []),
      ],
    },
  );

  const posture = await readJsonObject<{
    lastPoll?: { pollId: string; completedAt: string; pairs: number };
    updatedAt?: string;
  }>(source, key(sdrPostureKeys.checkpoint));
  const failures = await readJsonObject<{ failures?: Record<string, { criticality?: string | null }> }>(
    source,
    key(sdrPostureKeys.failures),
  );
  const open = Object.values(failures?.failures ?? {});
  const byLevel = new Map<string, number>();
  for (const failure of open) {
    const level = failure.criticality ?? 'UNKNOWN';
    byLevel.set(level, (byLevel.get(level) ?? 0) + 1);
  }
  const postureStatus = status('sdr-posture', 'last complete poll', posture?.lastPoll?.completedAt, {
    lastSaved: posture?.updatedAt,
    alertsWaiting: await outboxCount(sdrPostureKeys.outbox),
    details: [
      posture?.lastPoll
        ? `poll ${posture.lastPoll.pollId}: ${posture.lastPoll.pairs} connector/policy pairs`
        : 'no complete poll yet',
      `${open.length} open posture failures${byLevel.size ? ` (${[...byLevel].map(([level, count]) => `${level} ${count}`).join(', ')})` : ''}`,
    ],
  });

  const reports = await readJsonObject<{
    lastCompleted?: { runId: string; completedAt: string };
    updatedAt?: string;
  }>(source, key(sdrReportsKeys.checkpoint));
  const reportsStatus = status('sdr-reports', 'last complete listing', reports?.lastCompleted?.completedAt, {
    lastSaved: reports?.updatedAt,
    alertsWaiting: 0,
    details: [
      reports?.lastCompleted ? `listing ${reports.lastCompleted.runId} complete` : 'no complete listing yet',
    ],
  });

  const ledger = await readJsonObject<Ledger>(source, key(CALL_BUDGET_LEDGER_KEY));
  return {
    where: source.where,
    subscription: plan.name,
    historyRead: history !== undefined,
    at: new Date(now).toISOString(),
    collectors: [cdrStatus, inventoryStatus, postureStatus, reportsStatus].filter((status) =>
      plan.collectors.includes(status.collector),
    ),
    budget: ledger ? { ...ledger.gateway, inFlight: ledger.inFlight?.length ?? 0 } : undefined,
  };
}

const ago = (minutes: number) => (minutes < 120 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`);

export function formatStatus(status: LakeStatus, thresholdMinutes: Record<FunctionName, number>): string {
  const lines = [`Lake ${status.where}, subscription ${status.subscription}, at ${status.at}`, ''];
  for (const collector of status.collectors) {
    const flag = collector.behind ? 'BEHIND' : 'ok';
    lines.push(
      `${collector.collector.padEnd(14)} ${flag.padEnd(7)} ${collector.freshness}: ${collector.freshAsOf ?? 'none yet'} (${collector.lagMinutes === undefined ? 'nothing yet' : `${ago(collector.lagMinutes)} ago`}; behind past ${thresholdMinutes[collector.collector]} min)`,
    );
    for (const detail of collector.details) lines.push(`${''.padEnd(23)}${detail}`);
    lines.push(
      `${''.padEnd(23)}last saved progress ${collector.lastSaved ?? '-'}; ${collector.alertsWaiting} alerts waiting to be sent`,
    );
    if (status.historyRead) {
      lines.push(
        `${''.padEnd(23)}last run ${collector.lastRun ?? 'none in 3 days'}, last success ${collector.lastSuccess ?? 'none in 3 days'} (CloudWatch, 5-minute periods)`,
      );
    }
  }
  const budget = status.budget;
  if (status.historyProblem) lines.push('', `Run history: ${status.historyProblem}`);
  lines.push('');
  if (!budget)
    lines.push("Call budget: no ledger yet (none of the subscription's collectors has called Qualys).");
  else {
    const reopened = budget.reopensAt !== undefined && Date.parse(budget.reopensAt) <= Date.parse(status.at);
    lines.push(
      `Call budget (shared by the subscription's collectors): ${budget.limit ?? '?'} calls per ${budget.windowSec ?? '?'} s; ` +
        (reopened
          ? `the window reopened at ${budget.reopensAt}`
          : `${budget.remaining ?? '?'} left as of ${budget.observedAt ?? '?'}, reopens ${budget.reopensAt ?? '?'}`) +
        `; concurrency ${budget.concurrencyLimit ?? '?'}, ${budget.inFlight} calls in flight.`,
    );
  }
  return lines.join('\n');
}

/** 0: every collector within three periods; 1: at least one is behind (or has never succeeded). */
export const statusExitCode = (status: LakeStatus) =>
  status.collectors.some((collector) => collector.behind) ? 1 : 0;
