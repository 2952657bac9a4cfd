/**
 * First runs of the built cdr-findings bundle (issue 10, items 2, 3 and 5): one scheduled run that
 * finds N findings in its first window (24 h, zero latency, page size 1000, no lag), with the
 * stack's settings otherwise. Each run has its own lake and measured process; the simulator is
 * shared by the runs of one size. After each run the CPU floor is measured on the raw pages it
 * archived, in a fresh process of the same kind.
 */
import { cdrFindingsManifest } from '../functions/cdr-findings/manifest';
import type { ChildMemory } from './bench-child';
import type { FloorResult } from './bench-floor';
import { countOf, floorOf, largestOf, repeat, withCollector, withLake, withQualys } from './bench-harness';
import type { DeployedCollector } from './bench-stack';

export const FIRST_RUN_PAGE_SIZE = 1000;
const HOUR = 3_600_000;
const HISTORY_HOURS = 23.9;

export interface FirstRun {
  /** Findings the simulator serves in the window. */
  target: number;
  findings: number;
  pages: number;
  apiCalls: number;
  wallMs: number;
  cpuMs: number;
  /** CPU of the simulator and of fauxqs during the run (their own processes). */
  simulatorCpuMs: number;
  awsCpuMs: number;
  puts: number;
  gets: number;
  putBytes: number;
  /** The largest PUT body, and what it wrote. */
  largestPut: { kind: string; bytes: number };
  objectsWritten: number;
  memory: ChildMemory;
  floor: FloorResult;
  /** Why the run ended early (its deadline, a budget) or how it failed. */
  stoppedEarly?: string;
  error?: string;
}

export const completed = (run: FirstRun) => !run.error && !run.stoppedEarly && run.findings >= run.target;

/**
 * `runs` first runs of `size` findings, each given `remainingMs` (the Lambda's remaining time).
 * With `untilIncomplete`, stops after a run that did not land every finding (no point repeating it).
 */
export async function firstRuns(
  size: number,
  runs: number,
  deployed: DeployedCollector,
  remainingMs: number,
  untilIncomplete = false,
): Promise<FirstRun[]> {
  // A minute-aligned anchor in the past: the run's clock starts there whenever the run starts, so
  // its 24 h window ends at the anchor (plus the milliseconds before the run reads its clock) and
  // holds every finding of the simulator's history, a few minutes short of 24 h.
  const anchor = Math.floor(Date.now() / 60_000) * 60_000 - HOUR;
  const options = {
    anchor: new Date(anchor),
    cdr: { historyHours: HISTORY_HOURS, findingsPerHour: size / HISTORY_HOURS, lateFindings: 0 },
  };
  return withQualys(options, (qualys) =>
    repeat(
      runs,
      `first run, ${size.toLocaleString('en-US')} findings`,
      () =>
        withLake(qualys.url, async (lake) => {
          const env = { ...lake.env, CDR_PAGE_SIZE: String(FIRST_RUN_PAGE_SIZE), CDR_LAG_MINUTES: '0' };
          const before = { sim: await qualys.stats(), aws: await lake.stats() };
          const { result: invocation, memory } = await withCollector(
            'cdr-findings',
            deployed,
            env,
            (collector) => collector.invoke({}, { at: anchor, remainingMs }),
          );
          const counts = await lake.counts();
          const after = { sim: await qualys.stats(), aws: await lake.stats() };
          const summary = (invocation.summary ?? {}) as Record<string, unknown>;
          const floor = await floorOf(lake, deployed, cdrFindingsManifest.prefixes.raw);
          return {
            target: size,
            // A run that failed without a summary: the findings of the pages it archived.
            findings: Number(summary.findings ?? floor.findings),
            pages: Number(summary.pages ?? 0),
            apiCalls: Number(summary.apiCalls ?? 0),
            objectsWritten: Number(summary.objectsWritten ?? 0),
            wallMs: invocation.wallMs,
            cpuMs: invocation.cpuMs,
            simulatorCpuMs: after.sim.cpuMs - before.sim.cpuMs,
            awsCpuMs: after.aws.cpuMs - before.aws.cpuMs,
            puts: countOf(counts, 'PUT'),
            gets: countOf(counts, 'GET'),
            putBytes: countOf(counts, 'PUT', 'bytes'),
            largestPut: largestOf(counts, 'PUT'),
            memory,
            floor,
            ...(summary.stoppedEarly ? { stoppedEarly: String(summary.stoppedEarly) } : {}),
            ...(invocation.error ? { error: invocation.error } : {}),
          } satisfies FirstRun;
        }),
      (run) =>
        `(${run.findings.toLocaleString('en-US')} findings, ${(run.wallMs / 1000).toFixed(1)} s, ` +
        `peak RSS ${run.memory.peakRssMiB.toFixed(0)} MiB${run.stoppedEarly ? `, stopped: ${run.stoppedEarly}` : ''}` +
        `${run.error ? `, failed: ${run.error}` : ''})`,
      (run) => !untilIncomplete || completed(run),
    ),
  );
}

/** Throughput in findings per second of `ms`. */
export const perSecond = (findings: number, ms: number) => (findings * 1000) / ms;
/** Microseconds per finding. */
export const perFinding = (ms: number, findings: number) => (ms * 1000) / findings;
