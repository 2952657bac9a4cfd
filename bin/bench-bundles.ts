/**
 * The bundle rows of `npm run bench`: each collector's built bundle (dist/functions/<name>/index.mjs
 * and its chunks, so run `npm run build` first) against a baseline bundle of only the SDK code that
 * collector loads at import, built with the same esbuild options (code splitting included): the
 * clients it builds at import, instantiated by the same modules (functions/aws/*-client.ts), and the
 * SDK commands its import loads (no adapter: our code is what is measured). Both are read from the
 * collector's own metafile, so the baseline follows what the collector does. Import time is
 * what a cold start spends loading the module: `await import(bundle)` timed inside a fresh `node`.
 * Bundle and baseline run in turns, and the ratio is the median of the pairs' ratios, so a change
 * in the machine's load falls on both. Each is timed without and with `--enable-source-maps` (the
 * stack sets it in NODE_OPTIONS), which makes Node read and parse the bundle's .map at import.
 *
 * Wall time is what a cold start waits; CPU time (every thread of the process) is what it costs,
 * and is the steadier of the two on a machine that is not idle.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { buildSync } from 'esbuild';
import { ENV, FUNCTION_NAMES, type FunctionName, METRICS } from '../functions/core/names';
import {
  bundleMetafile,
  bundleOptions,
  distDir,
  inputsOf,
  loadedAtImport,
  PROJECT_ROOT,
  packageOf,
} from '../lib/bundle';
import { type TypicalRun, typicalRuns, typicalTable } from './bench-typical-run';

const run = promisify(execFile);

/** A median and the spread around it (the middle half of the runs), in milliseconds. */
export interface Timing {
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
}

/** One way of loading a bundle (with or without source maps), against its baseline. */
export interface ImportComparison {
  /** Wall time of the import. */
  bundle: Timing;
  baseline: Timing;
  /** Wall time over the baseline's: the median of the ratios of pairs run one after the other. */
  ratio: number;
  /** The same ratio in CPU time. */
  cpuRatio: number;
}

export interface BundleRow {
  name: FunctionName;
  /** The SDK clients the collector builds at import, with the commands its import loads: what its baseline bundle holds. */
  clients: BaselineClient[];
  /** Bytes an import loads: index.mjs and the chunks it imports statically (not those `await import()` loads). */
  bytes: number;
  /** Bytes of those files' source maps, which `--enable-source-maps` reads at import. */
  mapBytes: number;
  /** Bytes the baseline's import loads, counted the same way. */
  baselineBytes: number;
  /** Pairs timed for each comparison. */
  runs: number;
  plain: ImportComparison;
  sourceMaps: ImportComparison;
  /** Import and first invocation of a typical run (nothing to alert on), as deployed. */
  typical: TypicalRun;
}

/**
 * The SDK clients a baseline may hold, by package: the collectors' own client modules, so each
 * client is built at import with the same configuration as in the Lambda.
 */
const CLIENTS: Record<string, { label: string; source: string }> = {
  '@aws-sdk/client-s3': { label: 'S3', source: "export { s3 } from '../../functions/aws/s3-client';" },
  '@aws-sdk/client-sns': { label: 'SNS', source: "export { sns } from '../../functions/aws/sns-client';" },
  '@aws-sdk/client-secrets-manager': {
    label: 'Secrets Manager',
    source: "export { secretsManager } from '../../functions/aws/secrets-client';",
  },
};

/** One client of a baseline: its package and the commands the collector's import loads from it. */
export interface BaselineClient {
  packageName: string;
  label: string;
  commands: string[];
}

/**
 * The SDK clients a collector's import loads and, for each, the commands it loads (the S3 client
 * alone already loads CreateSession). A client whose commands are only in later chunks (SNS, loaded
 * at a run's first publish) is not among them.
 */
function clientsAtImport(metafile: Metafile, loaded: readonly string[]): BaselineClient[] {
  const inputs = inputsOf(metafile, loaded);
  const clients: BaselineClient[] = [];
  for (const packageName of new Set(inputs.flatMap((input) => packageOf(input) ?? []))) {
    if (!packageName.startsWith('@aws-sdk/client-')) continue;
    const client = CLIENTS[packageName];
    if (!client) throw new Error(`${packageName} is loaded at import but has no baseline client module here`);
    const commands = inputs.flatMap(
      (input) => new RegExp(`${packageName}/dist-es/commands/(\\w+Command)\\.js$`).exec(input)?.[1] ?? [],
    );
    clients.push({ packageName, label: client.label, commands: [...new Set(commands)].sort() });
  }
  return clients.sort((a, b) => a.label.localeCompare(b.label));
}

/** The baseline's source: each client built as in the Lambda, and its commands imported. */
function baselineSource(clients: readonly BaselineClient[]): string {
  return clients
    .map(
      ({ packageName, commands }) =>
        `${CLIENTS[packageName]?.source}\nexport { ${commands.join(', ')} } from '${packageName}';`,
    )
    .join('\n');
}

/**
 * Builds the baseline bundle of `clients` under dist/bench-baselines/ with the collectors' esbuild
 * options (code splitting included); returns its entry and the files its import loads.
 */
function buildBaseline(clients: readonly BaselineClient[]): { entry: string; loaded: string[] } {
  const key = clients
    .map((client) => `${client.label}-${client.commands.length}`)
    .join('+')
    .replace(/ /g, '-');
  const root = path.join(PROJECT_ROOT, 'dist', 'bench-baselines');
  const outdir = path.join(root, key);
  const source = path.join(root, `${key}.ts`);
  mkdirSync(root, { recursive: true });
  writeFileSync(source, baselineSource(clients));
  rmSync(outdir, { recursive: true, force: true });
  // bundleOptions takes a function name only for its entry point, replaced here.
  const { metafile } = buildSync({
    ...bundleOptions('cdr-findings', outdir),
    entryPoints: { index: source },
    metafile: true,
  });
  return { entry: path.join(outdir, 'index.mjs'), loaded: loadedAtImport(metafile, outdir) };
}

/** Bytes of `files` (paths relative to the project, as in a metafile) and of their source maps. */
function sizes(files: readonly string[]): { bytes: number; mapBytes: number } {
  let bytes = 0;
  let mapBytes = 0;
  for (const file of files) {
    bytes += statSync(path.join(PROJECT_ROOT, file)).size;
    mapBytes += statSync(path.join(PROJECT_ROOT, `${file}.map`)).size;
  }
  return { bytes, mapBytes };
}

/**
 * What a handler reads at import, with fake values: importing a bundle must not call the network,
 * and nothing listens at the endpoint, so a call would fail fast instead of timing a connection.
 */
const IMPORT_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  S3_FORCE_PATH_STYLE: 'true',
  [ENV.qualysSecretId]: 'bench/qualys',
  [ENV.archiveBucket]: 'bench-bundles',
  [ENV.alertTopicArn]: 'arn:aws:sns:us-east-1:000000000000:bench-bundles',
  POWERTOOLS_SERVICE_NAME: METRICS.service,
  POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Prints `<wall ms> <CPU ms>` of one import. */
const TIMED_IMPORT = `
const started = performance.now();
const cpu = process.cpuUsage();
await import(process.argv[1]);
const { user, system } = process.cpuUsage(cpu);
process.stdout.write(\`\${performance.now() - started} \${(user + system) / 1000}\`, () => process.exit(0));`;

/** Wall and CPU milliseconds one fresh `node` spends importing `file`. */
async function timeImport(file: string, sourceMaps: boolean): Promise<{ wall: number; cpu: number }> {
  const flags = sourceMaps ? ['--enable-source-maps'] : [];
  const { stdout } = await run(
    process.execPath,
    [...flags, '--input-type=module', '-e', TIMED_IMPORT, pathToFileURL(file).href],
    { env: IMPORT_ENV, timeout: 60_000 },
  );
  const [wall, cpu] = stdout.split(' ').map(Number);
  if (!Number.isFinite(wall) || !Number.isFinite(cpu))
    throw new Error(`importing ${file} printed ${JSON.stringify(stdout)}`);
  return { wall: wall as number, cpu: cpu as number };
}

function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.round(q * (sorted.length - 1))] ?? Number.NaN;
}
const median = (samples: readonly number[]) => quantile(samples, 0.5);
const timing = (samples: readonly number[]): Timing => ({
  medianMs: median(samples),
  p25Ms: quantile(samples, 0.25),
  p75Ms: quantile(samples, 0.75),
});

/** Imports `bundle` and `baseline` in turns, `runs` pairs, and compares them. */
async function compareImports(
  bundle: string,
  baseline: string,
  runs: number,
  sourceMaps: boolean,
): Promise<ImportComparison> {
  const pairs: Array<{ bundle: { wall: number; cpu: number }; baseline: { wall: number; cpu: number } }> = [];
  for (let round = 0; round < runs; round++) {
    // Alternate which goes first, so neither always runs right after the other.
    if (round % 2 === 0) {
      const first = await timeImport(bundle, sourceMaps);
      pairs.push({ bundle: first, baseline: await timeImport(baseline, sourceMaps) });
    } else {
      const first = await timeImport(baseline, sourceMaps);
      pairs.push({ bundle: await timeImport(bundle, sourceMaps), baseline: first });
    }
  }
  return {
    bundle: timing(pairs.map((pair) => pair.bundle.wall)),
    baseline: timing(pairs.map((pair) => pair.baseline.wall)),
    ratio: median(pairs.map((pair) => pair.bundle.wall / pair.baseline.wall)),
    cpuRatio: median(pairs.map((pair) => pair.bundle.cpu / pair.baseline.cpu)),
  };
}

/**
 * Times every collector bundle against its baseline, `runs` pairs each (at least 7), without and
 * with source maps, after one untimed import of each so the files are in the page cache; then a
 * typical run of each (bench-typical-run.ts).
 */
export async function bundleRows(options: { runs?: number } = {}): Promise<BundleRow[]> {
  const runs = Math.max(7, options.runs ?? 11);
  const baselines = new Map<string, ReturnType<typeof buildBaseline>>();
  const rows: Omit<BundleRow, 'typical'>[] = [];
  for (const name of FUNCTION_NAMES) {
    const metafile = bundleMetafile(name);
    const loaded = loadedAtImport(metafile, distDir(name));
    const clients = clientsAtImport(metafile, loaded);
    const source = baselineSource(clients);
    if (!baselines.has(source)) baselines.set(source, buildBaseline(clients));
    const { entry: baseline, loaded: baselineLoads } = baselines.get(source) as ReturnType<
      typeof buildBaseline
    >;
    const bundle = path.join(distDir(name), 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    await timeImport(bundle, true);
    await timeImport(baseline, true);
    const loads = sizes(loaded);
    rows.push({
      name,
      clients,
      bytes: loads.bytes,
      mapBytes: loads.mapBytes,
      baselineBytes: sizes(baselineLoads).bytes,
      runs,
      plain: await compareImports(bundle, baseline, runs, false),
      sourceMaps: await compareImports(bundle, baseline, runs, true),
    });
  }
  const typical = await typicalRuns();
  return rows.map((row) => ({ ...row, typical: typical[row.name] }));
}

const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const ms = (t: Timing) => `${t.medianMs.toFixed(1)} (${t.p25Ms.toFixed(0)}–${t.p75Ms.toFixed(0)})`;
const ratios = (comparison: ImportComparison) =>
  `${comparison.ratio.toFixed(2)} / ${comparison.cpuRatio.toFixed(2)}`;
const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
const baselineOf = (clients: readonly BaselineClient[]) =>
  clients.map((client) => `${client.label} (${plural(client.commands.length, 'command')})`).join(', ');

/**
 * The rows as Markdown tables. Import times are wall-time medians with the middle half of the
 * runs in brackets; × baseline is the median ratio of the pairs, in wall / CPU time. Then the
 * typical runs (bench-typical-run.ts): import and first invocation, median (min–max).
 */
export function bundleTable(rows: readonly BundleRow[]): string {
  const lines = [
    '| bundle | KiB at import | .map KiB | baseline: SDK clients (and commands) loaded at import | baseline KiB | import ms | baseline ms | × baseline (wall / CPU) | import ms, source maps | baseline ms, source maps | × baseline, source maps (wall / CPU) |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const { plain, sourceMaps } = row;
    lines.push(
      `| ${row.name} | ${kib(row.bytes)} | ${kib(row.mapBytes)} | ${baselineOf(row.clients)} | ${kib(row.baselineBytes)} | ` +
        `${ms(plain.bundle)} | ${ms(plain.baseline)} | ${ratios(plain)} | ` +
        `${ms(sourceMaps.bundle)} | ${ms(sourceMaps.baseline)} | ${ratios(sourceMaps)} |`,
    );
  }
  return [
    lines.join('\n'),
    'A cold start in all, which import time alone does not show (what loads only on demand counts here when a run needs it): ' +
      `the import and the first invocation of a scheduled run after a first one, each in a fresh process as deployed, ${rows[0]?.typical.samples.length ?? 0} runs, median (min–max), CPU ms unless said. ` +
      'The simulator serves no CDR findings and the SaaSDR data it serves by default, so no run has anything new to alert on:',
    typicalTable(rows),
  ].join('\n\n');
}
