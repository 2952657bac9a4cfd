/**
 * Steady state (issue 10, item 5): a tenant with about a million CDR findings a month, read by the
 * built cdr-findings bundle as the stack deploys it (its schedule, page size, lag, settle and
 * reconcile defaults, alerts at the stack's severity): a first run, then a day of scheduled runs
 * in one warm execution environment (one process), so the day's settle reads and its one daily
 * reconcile count at their real share. Simulated time: the simulator's clock and the run's start
 * where the schedule says, then run on in real time.
 */
import type { ChildMemory } from './bench-child';
import {
  addCounts,
  type Collector,
  countOf,
  type Lake,
  markdown,
  type Qualys,
  repeat,
  show,
  spread,
  withCollector,
  withLake,
  withQualys,
} from './bench-harness';
import type { RequestCounts } from './bench-servers';
import type { DeployedCollector } from './bench-stack';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const FINDINGS_PER_MONTH = 1_000_000;
const FINDINGS_PER_HOUR = Math.round(FINDINGS_PER_MONTH / (30 * 24));
/** Midnight UTC: the day of runs ends with the next day's first run, which reconciles. */
const ANCHOR = Date.parse('2026-03-14T00:00:00.000Z');
const SERIES_HOURS = 24;

export const STEADY_SCENARIO = `cdr-findings, ${FINDINGS_PER_MONTH.toLocaleString('en-US')} findings a month (${FINDINGS_PER_HOUR.toLocaleString('en-US')} an hour, none late)`;

export interface RunFigures {
  newFindings: number;
  pages: number;
  apiCalls: number;
  objectsWritten: number;
  counts: RequestCounts;
  wallMs: number;
  cpuMs: number;
  error?: string;
}

export interface SteadyDay {
  first: RunFigures;
  /** Every scheduled run after the first, in order. */
  scheduled: RunFigures[];
  /** The warm environment over the first run and the whole day. */
  memory: ChildMemory;
}

function figures(
  invocation: {
    summary?: Record<string, unknown>;
    error?: string;
    wallMs: number;
    cpuMs: number;
  },
  counts: RequestCounts,
): RunFigures {
  const summary = invocation.summary ?? {};
  return {
    newFindings: Number(summary.newFindings ?? 0),
    pages: Number(summary.pages ?? 0),
    apiCalls: Number(summary.apiCalls ?? 0),
    objectsWritten: Number(summary.objectsWritten ?? 0),
    counts,
    wallMs: invocation.wallMs,
    cpuMs: invocation.cpuMs,
    ...(invocation.error ? { error: invocation.error } : {}),
  };
}

export async function steadyDays(
  runs: number,
  deployed: DeployedCollector,
  scheduleMinutes: number,
): Promise<SteadyDay[]> {
  const options = {
    anchor: new Date(ANCHOR),
    cdr: {
      historyHours: 24,
      futureHours: SERIES_HOURS + 1,
      findingsPerHour: FINDINGS_PER_HOUR,
      lateFindings: 0,
    },
  };
  return repeat(
    runs,
    `steady state, a first run and ${SERIES_HOURS} h of ${scheduleMinutes}-minute runs`,
    () =>
      withQualys(options, (qualys) =>
        withLake(qualys.url, async (lake) => {
          const { result, memory } = await withCollector('cdr-findings', deployed, lake.env, (collector) =>
            oneDay(qualys, lake, collector, deployed, scheduleMinutes),
          );
          return { ...result, memory };
        }),
      ),
    (day) => {
      const total = totals(day.scheduled);
      return `(${total.newFindings} new findings in ${day.scheduled.length} runs, ${countOf(total.counts, 'PUT')} PUTs)`;
    },
  );
}

/** The first run at ANCHOR, then a run every `scheduleMinutes` for SERIES_HOURS, each counted apart. */
async function oneDay(
  qualys: Qualys,
  lake: Lake,
  collector: Collector,
  deployed: DeployedCollector,
  scheduleMinutes: number,
): Promise<Omit<SteadyDay, 'memory'>> {
  const run = async (at: number) => {
    await qualys.clock(at);
    await lake.counts();
    const invocation = await collector.invoke({}, { at, remainingMs: deployed.timeoutSeconds * 1000 });
    return figures(invocation, await lake.counts());
  };
  const first = await run(ANCHOR);
  const scheduled: RunFigures[] = [];
  const step = scheduleMinutes * MINUTE;
  for (let at = ANCHOR + step; at <= ANCHOR + SERIES_HOURS * HOUR; at += step) scheduled.push(await run(at));
  return { first, scheduled };
}

/** The day's scheduled runs added up. */
export function totals(runs: readonly RunFigures[]): RunFigures {
  const sum: RunFigures = {
    newFindings: 0,
    pages: 0,
    apiCalls: 0,
    objectsWritten: 0,
    counts: {},
    wallMs: 0,
    cpuMs: 0,
  };
  for (const run of runs) {
    sum.newFindings += run.newFindings;
    sum.pages += run.pages;
    sum.apiCalls += run.apiCalls;
    sum.objectsWritten += run.objectsWritten;
    sum.wallMs += run.wallMs;
    sum.cpuMs += run.cpuMs;
    addCounts(sum.counts, run.counts);
  }
  return sum;
}

const OPERATIONS = ['PUT', 'GET', 'HEAD', 'LIST', 'DELETE', 'MULTIPART'] as const;

/** The steady-state section: the first run, the median scheduled run, the day, and per 1,000 findings. */
export function steadyTable(days: readonly SteadyDay[]): string {
  const cell = (pick: (day: SteadyDay) => number, digits = 0) => show(days.map(pick), digits);
  const medianRun = (day: SteadyDay, pick: (run: RunFigures) => number) =>
    spread(day.scheduled.map(pick)).median;
  const perThousand = (day: SteadyDay, pick: (run: RunFigures) => number) => {
    const total = totals(day.scheduled);
    return (pick(total) * 1000) / total.newFindings;
  };
  const row = (name: string, pick: (run: RunFigures) => number, digits = 0) => [
    name,
    cell((day) => pick(day.first), digits),
    cell((day) => medianRun(day, pick), digits),
    cell((day) => pick(totals(day.scheduled)), digits),
    cell((day) => perThousand(day, pick), 1),
  ];
  const used = OPERATIONS.filter((operation) =>
    days.some((day) => countOf(totals([day.first, ...day.scheduled]).counts, operation) > 0),
  );
  return markdown({
    header: [
      '',
      'first run',
      'scheduled run (median)',
      'scheduled runs, the whole day',
      'the day, per 1,000 new findings',
    ],
    align: ['l', 'r', 'r', 'r', 'r'],
    rows: [
      row('new findings', (run) => run.newFindings),
      row('pages', (run) => run.pages),
      row('Qualys API calls', (run) => run.apiCalls),
      ...used.map((operation) => row(`S3 ${operation}s`, (run) => countOf(run.counts, operation))),
      row('objectsWritten (run summary)', (run) => run.objectsWritten),
      row('SNS calls', (run) => countOf(run.counts, 'SNS/SQS')),
      row('MB sent in PUTs', (run) => countOf(run.counts, 'PUT', 'bytes') / 1e6, 1),
      row('wall s', (run) => run.wallMs / 1000, 2),
      row('CPU s', (run) => run.cpuMs / 1000, 2),
    ],
  });
}

/** PUTs of the day per 1,000 new findings, by what they write. */
export function putsByKind(days: readonly SteadyDay[]): string {
  const kinds = new Set<string>();
  for (const day of days)
    for (const kind of Object.keys(totals(day.scheduled).counts))
      if (kind.startsWith('PUT ')) kinds.add(kind);
  return [...kinds]
    .sort()
    .map((kind) => {
      const values = days.map((day) => {
        const total = totals(day.scheduled);
        return ((total.counts[kind]?.requests ?? 0) * 1000) / total.newFindings;
      });
      return `${kind.slice(4)} ${show(values, 1)}`;
    })
    .join(', ');
}
