/**
 * `npm run bench`: the built Lambda bundles against the simulator and fauxqs on this machine, as
 * the stack deploys them. Every scenario run has a measured process of its own (bench-child.ts;
 * peak RSS from the OS, peak heap, CPU and wall time), the simulator and fauxqs run in processes of
 * their own, and each scenario runs at least three times (median and min–max). Numbers compare
 * changes on one machine; they are not promises about AWS. Markdown on stdout, progress on stderr.
 *
 * BENCH_RUNS (default 3) repeats each scenario; BENCH_CAP_SECONDS (default 240) is the most one
 * first run is given (its Lambda deadline), so a size that does not fit is reported as such and
 * extrapolated from a size that does. BENCH_ONLY=first-run,steady,latency,late-data,reports,formats,bundles
 * runs only the sections named (default: all), for working on one of them; README's table is
 * always a whole run. For investigating a run: BENCH_CPU_PROF=<dir> writes a CPU profile of every
 * process, BENCH_NODE_FLAGS="--trace-gc …" adds flags to the measured processes (what V8 prints
 * goes to stderr).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readCdrFindingsSettings } from '../functions/cdr-findings/config';
import { PROJECT_ROOT } from '../lib/bundle';
import { completed, FIRST_RUN_PAGE_SIZE, firstRuns } from './bench-first-run';
import { type FirstRunSeries, memoryTable, requestsTable, throughputTable } from './bench-first-run-tables';
import { FORMATS_FINDINGS, formatsRun, formatsTable } from './bench-formats';
import { column, compileChild, lambdaHeapFlags, markdown, num, repeat, show } from './bench-harness';
import { LATE_DATA_DESIGNS, LATE_DATA_SCENARIO, lateDataScenario } from './bench-late-data';
import { LATENCY_SCENARIO, latencyScenario } from './bench-latency';
import { BIG_REPORT_MIB, reportsRun } from './bench-reports';
import { type StackDefaults, stackDefaults } from './bench-stack';
import { putsByKind, STEADY_SCENARIO, steadyDays, steadyTable } from './bench-steady';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const CAP_SECONDS = Number(process.env.BENCH_CAP_SECONDS ?? 240);
const SMALL = 100_000;
const BIG = 1_000_000;
/** When BIG does not fit the cap: the largest multiple of this that the attempt got 10 % past. */
const FALLBACK_STEP = 50_000;

const print = (text = '') => console.log(text);

const SECTIONS = ['first-run', 'steady', 'latency', 'late-data', 'reports', 'formats', 'bundles'] as const;
const only = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name))
    throw new Error(`BENCH_ONLY: no section "${name}" (sections: ${SECTIONS.join(', ')})`);
}
const wanted = (section: (typeof SECTIONS)[number]) => only.length === 0 || only.includes(section);

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
  return (
    `${cpu}, ${os.availableParallelism()} cores, ${num(os.totalmem() / 2 ** 30, 1)} GiB; ` +
    `Node ${process.version} on ${os.type()} ${os.release()} ${os.arch()}; ` +
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average ${load}`
  );
}

function deployedLine(defaults: StackDefaults): string {
  const cdr = defaults.collectors['cdr-findings'];
  const settings = readCdrFindingsSettings({});
  return (
    `cdr-findings as deployed (synthesised stack, default context): ${cdr.memoryMiB} MB, ` +
    `${cdr.timeoutSeconds} s timeout, every ${defaults.cdrScheduleMinutes} min, ` +
    `${Object.entries(cdr.env)
      .filter(([name]) => /^(ALERT_|NODE_OPTIONS|MALLOC_|CDR_)/.test(name))
      .map(([name, value]) => `${name}=${value}`)
      .join(', ')}; ` +
    `collector defaults: CDR_PAGE_SIZE=${settings.pageSize}, CDR_LAG_MINUTES=${settings.lagMinutes}, ` +
    `CDR_LATE_MINUTES=${settings.lateMinutes}, CDR_RECONCILE_DAYS=${settings.reconcileDays}; ` +
    `measured processes run \`node ${lambdaHeapFlags(cdr).join(' ')}\` as the Lambda runtime starts a ${cdr.memoryMiB} MB function`
  );
}

async function firstRunSection(defaults: StackDefaults) {
  const cdr = defaults.collectors['cdr-findings'];
  const remainingMs = Math.min(cdr.timeoutSeconds, CAP_SECONDS) * 1000;
  const series: FirstRunSeries[] = [{ size: SMALL, runs: await firstRuns(SMALL, RUNS, cdr, remainingMs) }];
  const big = await firstRuns(BIG, RUNS, cdr, remainingMs, true);
  series.push({ size: BIG, runs: big });
  const attempt = big[0];
  if (attempt && !completed(attempt)) {
    const fits = Math.floor((0.9 * attempt.findings) / FALLBACK_STEP) * FALLBACK_STEP;
    // Only a size well past SMALL says how the figures grow.
    if (fits >= 1.5 * SMALL) series.push({ size: fits, runs: await firstRuns(fits, RUNS, cdr, remainingMs) });
  }
  print('## First runs: throughput against the CPU floor, memory, requests\n');
  print(
    `One scheduled first run whose 24 h window holds N findings (zero latency, page size ${FIRST_RUN_PAGE_SIZE}, ` +
      `CDR_LAG_MINUTES=0, everything else as deployed), given min(its timeout, ${CAP_SECONDS} s) as its ` +
      'remaining time; each run with its own fauxqs and its own measured process. The floor is measured after ' +
      'each run, on the raw pages it archived, in a fresh process of the same kind: decode, JSON.parse, NDJSON ' +
      'JSON.stringify of the findings, gzip level 6. Ingest ÷ floor is findings/s of the run (wall) over ' +
      'findings/s of the floor (CPU); issue 10 asks for at least 0.50. Median (min–max). A size whose first ' +
      'run does not land every finding in that time is not repeated (a repeat would stop at the same place): ' +
      `the largest multiple of ${num(FALLBACK_STEP)} it got 10 % past is run instead, and ${num(BIG)} is ` +
      'extrapolated from it.\n',
  );
  print(throughputTable(series));
  print(
    '\nPeak RSS is the measured process as the OS counts it (VmHWM; not getrusage maxRSS, which Linux carries ' +
      "over from the parent across fork and exec): Node, the bundle and the run, no tsx. The heap is V8's heap " +
      'in use, sampled every 100 ms without forcing GC. Issue 10: ' +
      `at most 256 MiB at 100,000 findings and at most 1.2 × that at 1,000,000, alerts as deployed.\n`,
  );
  print(memoryTable(series, BIG));
  print('\nRequests of each run, counted at fauxqs (the call-budget ledger included):\n');
  print(requestsTable(series));
}

async function steadySection(defaults: StackDefaults) {
  const cdr = defaults.collectors['cdr-findings'];
  const days = await steadyDays(RUNS, cdr, defaults.cdrScheduleMinutes);
  print('\n## Steady state: incremental runs\n');
  print(
    `${STEADY_SCENARIO}, everything as deployed: a first run (its 24 h initial lookback), then a day of ` +
      `scheduled runs every ${defaults.cdrScheduleMinutes} min in one warm process, the next day's first run ` +
      '(which reconciles) included. Requests counted at fauxqs; simulated time. Median (min–max) of ' +
      `${days.length} days.\n`,
  );
  print(steadyTable(days));
  const failed = days.flatMap((day) => [day.first, ...day.scheduled]).filter((run) => run.error);
  if (failed.length > 0)
    print(
      `\n${failed.length} of the runs failed, e.g. ${failed[0]?.error}; their figures are counted as they stopped.`,
    );
  print(`\nPUTs of the day per 1,000 new findings, by what they write: ${putsByKind(days)}.`);
  print(
    `\nPeak RSS of the warm process over the day: ${show(days.map((day) => day.memory.peakRssMiB))} MiB; ` +
      `the longest scheduled run: ${show(
        days.map((day) => Math.max(...day.scheduled.map((run) => run.wallMs)) / 1000),
        1,
      )} s.`,
  );
}

async function latencySection(defaults: StackDefaults) {
  const cdr = defaults.collectors['cdr-findings'];
  const rows: string[][] = [];
  for (const concurrency of [1, 2, 4]) {
    const runs = await repeat(
      RUNS,
      `latency, C=${concurrency}`,
      () => latencyScenario(concurrency, cdr),
      (row) => `(${row.pages} pages)`,
    );
    rows.push([
      String(concurrency),
      column(runs, (run) => run.pages),
      column(runs, (run) => run.seconds, 1),
      column(runs, (run) => run.floorSeconds, 1),
      column(runs, (run) => run.seconds / run.floorSeconds, 2),
      column(runs, (run) => run.refused),
    ]);
  }
  print(
    `\n## A latency-bound window\n\n${LATENCY_SCENARIO}; the simulator in its own process. Median (min–max).\n`,
  );
  print(
    markdown({
      header: [
        'concurrency C',
        'pages N',
        'seconds',
        'N·L/C',
        'seconds / (N·L/C)',
        'calls refused (409/429)',
      ],
      align: ['r', 'r', 'r', 'r', 'r', 'r'],
      rows,
    }),
  );
}

async function lateDataSection(defaults: StackDefaults) {
  const cdr = defaults.collectors['cdr-findings'];
  const rows: string[][] = [];
  for (const design of LATE_DATA_DESIGNS) {
    const runs = await repeat(
      RUNS,
      `late data, ${design.name}`,
      () => lateDataScenario(design, cdr),
      (row) => `(${row.apiCalls} calls, ${row.lost} lost)`,
    );
    rows.push([
      design.name,
      column(runs, (run) => run.runs),
      column(runs, (run) => run.findings),
      column(runs, (run) => run.lost),
      column(runs, (run) => run.apiCalls),
      column(runs, (run) => run.minimumCalls),
      column(runs, (run) => run.apiCalls / run.minimumCalls, 2),
      column(runs, (run) => run.seconds, 1),
    ]);
  }
  print(`\n## Late data: API calls over the minimum\n\n${LATE_DATA_SCENARIO}. Median (min–max).\n`);
  print(
    markdown({
      header: [
        'design',
        'runs',
        'findings',
        'lost',
        'API calls',
        'minimum calls',
        'calls / minimum',
        'seconds',
      ],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      rows,
    }),
  );
}

async function reportsSection(defaults: StackDefaults) {
  const runs = await repeat(RUNS, 'sdr-reports', () => reportsRun(defaults.collectors['sdr-reports']));
  print('\n## Report downloads\n');
  print(
    markdown({
      header: ['scenario', 'volume', 'seconds', 'MiB/s', 'peak RSS MiB', 'API calls'],
      align: ['l', 'l', 'r', 'r', 'r', 'r'],
      rows: [
        [
          'sdr-reports, streamed multipart upload',
          `${column(runs, (run) => run.downloaded)} reports, ${column(runs, (run) => run.mib)} MiB (one of ${BIG_REPORT_MIB} MiB)`,
          column(runs, (run) => run.wallMs / 1000, 1),
          column(runs, (run) => (run.mib * 1000) / run.wallMs, 1),
          column(runs, (run) => run.memory.peakRssMiB),
          column(runs, (run) => run.apiCalls),
        ],
      ],
    }),
  );
}

async function formatsSection(defaults: StackDefaults) {
  const run = await formatsRun(defaults.collectors['cdr-findings']);
  print('\n## Query bytes: the landing zone against the compacted layer\n');
  print(
    `One day (dt=${run.dt}) of ${num(run.findings)} CDR findings (target ${num(FORMATS_FINDINGS)}), landed by one ` +
      'first run of the cdr-findings bundle as deployed, then compacted by DuckDB with the MERGE of the ' +
      `compaction (as \`npm start\` does; ${num(run.compactSeconds, 1)} s). A query of three columns over the ` +
      'day reads every byte of the NDJSON.gz objects (gzip NDJSON cannot skip a column), and from the Parquet ' +
      "only those columns' chunks (total_compressed_size in DuckDB's parquet_metadata) and the footer. Two " +
      'queries: one with the finding id (random: some 16 bytes a row in any format, the least a column ' +
      'store gains), one a dashboard runs (HIGH/CRITICAL by account and category). Issue 13 asks for at ' +
      'least 10 × fewer bytes and at most a few files per partition-day.\n',
  );
  print(formatsTable(run));
}

/** What bin/bench-bundles.ts (issue 10, item 4, written separately) exports. */
interface BenchBundles {
  bundleRows(options: { runs?: number }): Promise<unknown[]>;
  bundleTable(rows: readonly unknown[]): string;
}

/**
 * Bundle size and import time over a bundle of the SDK clients alone (issue 10, item 4): the
 * table of bin/bench-bundles.ts, printed here once that module is in the tree.
 */
async function bundlesSection() {
  print('\n## Bundles: size and import time over the SDK baseline\n');
  const module = path.join(PROJECT_ROOT, 'bin', 'bench-bundles.ts');
  if (!existsSync(module)) return print('(bin/bench-bundles.ts is not in this tree)');
  const bundles = (await import(pathToFileURL(module).href)) as BenchBundles;
  print(bundles.bundleTable(await bundles.bundleRows({})));
}

async function main() {
  const started = performance.now();
  print(`# npm run bench\n\n${machine()}\n`);
  const defaults = stackDefaults();
  await compileChild();
  print(`${deployedLine(defaults)}. Each scenario ${RUNS} times.\n`);
  if (wanted('first-run')) await firstRunSection(defaults);
  if (wanted('steady')) await steadySection(defaults);
  if (wanted('latency')) await latencySection(defaults);
  if (wanted('late-data')) await lateDataSection(defaults);
  if (wanted('reports')) await reportsSection(defaults);
  if (wanted('formats')) await formatsSection(defaults);
  if (wanted('bundles')) await bundlesSection();
  const minutes = (performance.now() - started) / 60_000;
  print(
    `\nThe whole bench took ${minutes.toFixed(1)} min; load average at the end ${os.loadavg()[0]?.toFixed(2)}.`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
