/**
 * The typical-run figures of the bundle rows of `npm run bench`: what a cold start costs in all,
 * the import and the first invocation, for a run with no new data and nothing to alert on, each
 * collector as deployed (the stack's environment and NODE_OPTIONS, the Lambda runtime's heap
 * flags). Import time alone rewards moving work from the import into the first invocation; this
 * figure does not, so what a bundle loads only on demand (the SNS client, at a run's first
 * publish) shows here whether it is a saving or only a move.
 *
 * Against the simulator (no CDR findings at all; SaaSDR as it serves by default) and fauxqs: a
 * first run lays down the collector's state (checkpoint, posture baseline, archived reports), then
 * each measured run is a fresh `node`, SCHEDULE_MINUTES later on the simulated clock, that imports
 * the bundle and invokes it once.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FUNCTION_NAMES, type FunctionName } from '../functions/core/names';
import { distDir } from '../lib/bundle';
import { lambdaHeapFlags, markdown, show, withLake, withQualys } from './bench-harness';
import { type DeployedCollector, stackDefaults } from './bench-stack';

const run = promisify(execFile);

const ANCHOR = Date.parse('2026-03-14T00:00:00.000Z');
const SCHEDULE_MINUTES = 15;
/** Measured runs of each collector, each in a fresh process. */
const RUNS = 5;

/** What one measured process reports: its import, its one invocation, and what the run did. */
interface TypicalSample {
  importCpuMs: number;
  importWallMs: number;
  invocationCpuMs: number;
  invocationWallMs: number;
  apiCalls: number;
  alertsPublished: number;
}

export interface TypicalRun {
  samples: TypicalSample[];
}

/** Where the child prints its figures, apart from the handler's log lines on the same stdout. */
const MARK = '@@typical-run ';

/**
 * The measured process: the clock moved to `at` (the simulator's), the bundle imported, one
 * scheduled invocation, the figures printed on a line of their own.
 */
const TIMED_RUN = `
const [bundle, at, remainingMs] = process.argv.slice(1);
const realNow = Date.now;
const offset = Number(at) - realNow();
Date.now = () => realNow() + offset;
const cpuMs = (since) => { const { user, system } = process.cpuUsage(since); return (user + system) / 1000; };
let cpu = process.cpuUsage();
let started = performance.now();
const { handler } = await import(bundle);
const importCpuMs = cpuMs(cpu);
const importWallMs = performance.now() - started;
const deadline = Date.now() + Number(remainingMs);
const context = { functionName: 'qualys-lake-bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => deadline - Date.now() };
cpu = process.cpuUsage();
started = performance.now();
const summary = await handler({}, context);
const invocationCpuMs = cpuMs(cpu);
const invocationWallMs = performance.now() - started;
const figures = { importCpuMs, importWallMs, invocationCpuMs, invocationWallMs, apiCalls: summary.apiCalls, alertsPublished: summary.alertsPublished ?? 0 };
process.stdout.write('\\n${MARK}' + JSON.stringify(figures) + '\\n', () => process.exit(0));`;

/** One import and invocation of `name`'s bundle in a process of the kind the stack deploys. */
async function timedRun(
  name: FunctionName,
  deployed: DeployedCollector,
  env: Record<string, string>,
  at: number,
): Promise<TypicalSample> {
  const bundle = pathToFileURL(path.join(distDir(name), 'index.mjs')).href;
  const { stdout } = await run(
    process.execPath,
    [
      ...lambdaHeapFlags(deployed),
      '--input-type=module',
      '-e',
      TIMED_RUN,
      bundle,
      String(at),
      String(deployed.timeoutSeconds * 1000),
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memoryMiB),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...deployed.env,
        ...env,
      },
      timeout: deployed.timeoutSeconds * 1000 + 30_000,
      maxBuffer: 64 * 2 ** 20,
    },
  );
  const line = stdout.split('\n').find((item) => item.startsWith(MARK));
  if (!line) throw new Error(`a typical run of ${name} printed no figures:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(MARK.length)) as TypicalSample;
}

/** Every collector's typical runs: a first run to lay down its state, then RUNS measured ones. */
export async function typicalRuns(): Promise<Record<FunctionName, TypicalRun>> {
  const defaults = stackDefaults();
  const simulator = { anchor: new Date(ANCHOR), cdr: { findingsPerHour: 0, lateFindings: 0 } };
  const runs = {} as Record<FunctionName, TypicalRun>;
  for (const name of FUNCTION_NAMES) {
    const deployed = defaults.collectors[name];
    runs[name] = await withQualys(simulator, (qualys) =>
      withLake(qualys.url, async (lake) => {
        // As deployed, every run publishes its metrics.
        const { POWERTOOLS_METRICS_DISABLED: _metrics, ...env } = lake.env;
        await timedRun(name, deployed, env, ANCHOR);
        const samples: TypicalSample[] = [];
        for (let step = 1; step <= RUNS; step++) {
          const at = ANCHOR + step * SCHEDULE_MINUTES * 60_000;
          await qualys.clock(at);
          samples.push(await timedRun(name, deployed, env, at));
        }
        return { samples };
      }),
    );
  }
  return runs;
}

/** The typical runs as a Markdown table: median (min–max) of the runs, CPU milliseconds. */
export function typicalTable(rows: ReadonlyArray<{ name: FunctionName; typical: TypicalRun }>): string {
  return markdown({
    header: [
      'bundle',
      'Qualys calls',
      'alerts published',
      'import, ms CPU',
      'first invocation, ms CPU',
      'import + first invocation, ms CPU',
      'import + first invocation, ms wall',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: rows.map(({ name, typical: { samples } }) => [
      name,
      show(samples.map((sample) => sample.apiCalls)),
      show(samples.map((sample) => sample.alertsPublished)),
      show(
        samples.map((sample) => sample.importCpuMs),
        1,
      ),
      show(
        samples.map((sample) => sample.invocationCpuMs),
        1,
      ),
      show(
        samples.map((sample) => sample.importCpuMs + sample.invocationCpuMs),
        1,
      ),
      show(
        samples.map((sample) => sample.importWallMs + sample.invocationWallMs),
        1,
      ),
    ]),
  });
}
