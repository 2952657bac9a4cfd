/**
 * The parent's side of `npm run bench`: every scenario run gets a simulator process, an AWS
 * process (fauxqs with its request counts) and a measured collector process of its own
 * (bench-child.ts, compiled here and run with the stack's NODE_OPTIONS). Scenarios are repeated
 * and reported as median and spread.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { FunctionName } from '../functions/core/names';
import { distDir, PROJECT_ROOT } from '../lib/bundle';
import type { SimulatorOptions } from '../test/simulator/index';
import type { ChildMemory, Invocation } from './bench-child';
import type { FloorResult } from './bench-floor';
import { type Child, startChild } from './bench-process';
import type { RequestCounts, ServerStats } from './bench-servers';
import type { DeployedCollector } from './bench-stack';

const CHILD_SCRIPT = path.join(PROJECT_ROOT, '.bench', 'bench-child.mjs');

/** Compiles bench-child.ts (and what it imports from bin/) so the measured process runs without tsx. */
export async function compileChild(): Promise<void> {
  await build({
    entryPoints: [path.join(PROJECT_ROOT, 'bin', 'bench-child.ts')],
    outfile: CHILD_SCRIPT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

/** BENCH_CPU_PROF=<dir>: every process of the bench writes a CPU profile there (and runs slower). */
const profiling = process.env.BENCH_CPU_PROF
  ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`]
  : [];
/** BENCH_NODE_FLAGS="--trace-gc …": more flags for the measured processes, for investigating a run. */
const extraFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

const servers = (role: 'qualys' | 'aws') =>
  startChild([...profiling, '--import', 'tsx', path.join(PROJECT_ROOT, 'bin', 'bench-servers.ts'), role]);

export interface Qualys {
  url: string;
  /** Moves the simulator clock to `at` (forward only); it runs on in real time. */
  clock(at: number): Promise<void>;
  stats(): Promise<ServerStats>;
  visibleUuids(): Promise<string[]>;
}

/** A simulator with `options` in a process of its own, for the time of `work`. */
export async function withQualys<T>(options: SimulatorOptions, work: (qualys: Qualys) => Promise<T>) {
  const child = await servers('qualys');
  try {
    const { url } = await child.call<{ url: string }>('start', { options });
    return await work({
      url,
      clock: (at) => child.call('clock', { at }),
      stats: () => child.call('stats'),
      visibleUuids: () => child.call('visibleUuids'),
    });
  } finally {
    await child.close();
  }
}

export interface Lake {
  bucket: string;
  endpoint: { endpoint: string; region: string };
  /** The Lambda environment pointing at this lake, its secret and the simulator. */
  env: Record<string, string>;
  /** fauxqs requests since the last call. */
  counts(): Promise<RequestCounts>;
  stats(): Promise<ServerStats>;
  curatedUuids(prefix: string): Promise<string[]>;
}

/** A fresh fauxqs and lake in a process of its own (so every run starts from an empty bucket). */
export async function withLake<T>(qualysUrl: string, work: (lake: Lake) => Promise<T>): Promise<T> {
  const child = await servers('aws');
  try {
    const { bucket, env } = await child.call<{ bucket: string; env: Record<string, string> }>('lake', {
      name: 'bench',
      qualysUrl,
    });
    // The stack sets no log level: Powertools' default (INFO) applies, as deployed.
    delete env.POWERTOOLS_LOG_LEVEL;
    const endpoint = await child.call<{ endpoint: string; region: string }>('endpoint');
    await child.call('counts');
    return await work({
      bucket,
      endpoint,
      env,
      counts: () => child.call('counts'),
      stats: () => child.call('stats'),
      curatedUuids: (prefix) => child.call('curatedUuids', { bucket, prefix }),
    });
  } finally {
    await child.close();
  }
}

export interface Collector {
  pid: number;
  invoke(event: unknown, options: { at?: number; remainingMs: number }): Promise<Invocation>;
  memory(): Promise<ChildMemory>;
}

/**
 * The V8 heap flags the Lambda Node.js runtime starts a function with (its bootstrap script: a
 * tenth of the memory is new space, half of that each semi-space, the rest old space), so the heap
 * grows and collects as in a function of that size, not as on a host with gigabytes to spare.
 */
export function lambdaHeapFlags(deployed: DeployedCollector): string[] {
  const newSpace = Math.floor(deployed.memoryMiB / 10);
  return [
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${deployed.memoryMiB - newSpace}`,
  ];
}

/**
 * The environment of the measured process itself, before the Lambda's: what Node needs, nothing
 * inherited, and what the stack sets that is read only as a process starts (NODE_OPTIONS, glibc's
 * `MALLOC_*`): Lambda starts the runtime with the function's environment.
 */
function processEnv(deployed: DeployedCollector): NodeJS.ProcessEnv {
  const readAtStart = Object.entries(deployed.env).filter(([name]) => name.startsWith('MALLOC_'));
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...Object.fromEntries(readAtStart),
    NODE_OPTIONS: deployed.env.NODE_OPTIONS ?? '',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memoryMiB),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** A process of the kind a Lambda function runs in: the stack's NODE_OPTIONS and the runtime's heap flags. */
const measured = (deployed: DeployedCollector) =>
  startChild([...profiling, ...lambdaHeapFlags(deployed), ...extraFlags, CHILD_SCRIPT], processEnv(deployed));

/**
 * The built bundle of `name` in a measured process of its own, with the environment the stack
 * deploys it with, then `env` (the lake's, the scenario's) over it. Resolves to what `work`
 * returns and the process's memory figures once it is done.
 */
export async function withCollector<T>(
  name: FunctionName,
  deployed: DeployedCollector,
  env: Record<string, string>,
  work: (collector: Collector) => Promise<T>,
): Promise<{ result: T; memory: ChildMemory }> {
  const child = await measured(deployed);
  try {
    await child.call('load', {
      bundle: pathToFileURL(path.join(distDir(name), 'index.mjs')).href,
      env: { ...deployed.env, ...env },
    });
    const result = await work({
      pid: child.pid,
      invoke: (event, options) => child.call('invoke', { event, ...options }),
      memory: () => child.call('memory'),
    });
    return { result, memory: await child.call<ChildMemory>('memory') };
  } finally {
    await child.close();
  }
}

/** The CPU floor on the raw pages in `lake`, in a fresh process of the collector's kind. */
export async function floorOf(lake: Lake, deployed: DeployedCollector, prefix: string): Promise<FloorResult> {
  const child: Child = await measured(deployed);
  try {
    return await child.call<FloorResult>('floor', { ...lake.endpoint, bucket: lake.bucket, prefix });
  } finally {
    await child.close();
  }
}

/** Requests whose kind starts with `operation` (e.g. `PUT`, or `PUT seen index`). */
export function countOf(
  counts: RequestCounts,
  operation: string,
  field: 'requests' | 'bytes' = 'requests',
): number {
  let total = 0;
  for (const [kind, count] of Object.entries(counts))
    if (kind === operation || kind.startsWith(`${operation} `)) total += count[field];
  return total;
}

/** The largest body of the requests of `operation`, and what it wrote. */
export function largestOf(counts: RequestCounts, operation: string): { kind: string; bytes: number } {
  let largest = { kind: '', bytes: 0 };
  for (const [kind, count] of Object.entries(counts))
    if (kind.startsWith(`${operation} `) && count.largest > largest.bytes)
      largest = { kind, bytes: count.largest };
  return largest;
}

export function addCounts(into: RequestCounts, counts: RequestCounts): RequestCounts {
  for (const [kind, count] of Object.entries(counts)) {
    const sum = into[kind] ?? { requests: 0, bytes: 0, largest: 0 };
    into[kind] = {
      requests: sum.requests + count.requests,
      bytes: sum.bytes + count.bytes,
      largest: Math.max(sum.largest, count.largest),
    };
  }
  return into;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const middle = sorted.length >> 1;
  const median =
    sorted.length % 2
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number };
}

/** A number with `digits` decimals and thousands separators. */
export const num = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/** "median (min–max)", or the median alone when every run gave the same figure. */
export function show(values: readonly number[], digits = 0): string {
  const { median, min, max } = spread(values);
  return num(min, digits) === num(max, digits)
    ? num(median, digits)
    : `${num(median, digits)} (${num(min, digits)}–${num(max, digits)})`;
}

/** One figure of every run, as {@link show} prints it. */
export const column = <T>(runs: readonly T[], pick: (run: T) => number, digits = 0): string =>
  show(runs.map(pick), digits);

/**
 * Runs `work` `times` times in turn, logging progress on stderr; stops early once `goOn` says
 * a result is not worth repeating.
 */
export async function repeat<T>(
  times: number,
  label: string,
  work: (run: number) => Promise<T>,
  describe: (result: T) => string = () => '',
  goOn: (result: T) => boolean = () => true,
): Promise<T[]> {
  const results: T[] = [];
  for (let run = 1; run <= times; run++) {
    const started = performance.now();
    const result = await work(run);
    results.push(result);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(`  ${label}, run ${run}/${times}: ${seconds} s ${describe(result)}`);
    if (!goOn(result)) break;
  }
  return results;
}

export interface Table {
  header: string[];
  /** `r` right-aligns a column. */
  align: ('l' | 'r')[];
  rows: string[][];
}

export function markdown({ header, align, rows }: Table): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${align.map((side) => (side === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
