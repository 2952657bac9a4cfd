/**
 * The bundle rows of `npm run bench`: each collector's built bundle (dist/functions/<name>/index.mjs
 * and its chunks, so run `npm run build` first) against a baseline bundle of only the SDK clients
 * that collector needs, built with the same esbuild options (code splitting included) and
 * instantiated by the same modules: functions/aws/*-client.ts, no command, no adapter. Import time is
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
import { buildSync } from 'esbuild';
import { ENV, FUNCTION_NAMES, type FunctionName, METRICS } from '../functions/core/names';
import { COLLECTOR_MANIFESTS } from '../functions/manifests';
import { bundleOptions, distDir, loadedAtImport, PROJECT_ROOT } from '../lib/bundle';

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
  /** The SDK clients the collector needs: what its baseline bundle holds. */
  clients: string[];
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
}

/**
 * What the baseline imports for each client: the collectors' own client modules, so each client is
 * built at import with the same configuration as in the Lambda.
 */
const CLIENT_IMPORTS = {
  S3: "export { s3 } from '../../functions/aws/s3-client';",
  SNS: "export { sns } from '../../functions/aws/sns-client';",
  'Secrets Manager': "export { secretsManager } from '../../functions/aws/secrets-client';",
} as const;
type Client = keyof typeof CLIENT_IMPORTS;

/** Every collector reads its S3 bucket and the Qualys secret; those whose manifest says so publish alerts. */
export function clientsOf(name: FunctionName): Client[] {
  return COLLECTOR_MANIFESTS[name].publishesAlerts
    ? ['S3', 'SNS', 'Secrets Manager']
    : ['S3', 'Secrets Manager'];
}

/**
 * Builds the baseline bundle of `clients` under dist/bench-baselines/ with the collectors' esbuild
 * options (code splitting included); returns its entry and the files its import loads.
 */
function buildBaseline(clients: Client[]): { entry: string; loaded: string[] } {
  const key = clients.join('+').replace(/ /g, '-');
  const root = path.join(PROJECT_ROOT, 'dist', 'bench-baselines');
  const outdir = path.join(root, key);
  const source = path.join(root, `${key}.ts`);
  mkdirSync(root, { recursive: true });
  writeFileSync(source, clients.map((client) => CLIENT_IMPORTS[client]).join('\n'));
  rmSync(outdir, { recursive: true, force: true });
  // bundleOptions takes a function name only for its entry point, replaced here.
  const { metafile } = buildSync({
    ...bundleOptions('cdr-findings', outdir),
    entryPoints: { index: source },
    metafile: true,
  });
  return { entry: path.join(outdir, 'index.mjs'), loaded: loadedAtImport(metafile, outdir) };
}

/** The files an import of a collector's built bundle loads (its metafile rebuilt in memory, nothing written). */
function bundleLoads(name: FunctionName): string[] {
  const { metafile } = buildSync({ ...bundleOptions(name, distDir(name)), metafile: true, write: false });
  return loadedAtImport(metafile, distDir(name));
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
 * with source maps, after one untimed import of each so the files are in the page cache.
 */
export async function bundleRows(options: { runs?: number } = {}): Promise<BundleRow[]> {
  const runs = Math.max(7, options.runs ?? 11);
  const baselines = new Map<string, ReturnType<typeof buildBaseline>>();
  const rows: BundleRow[] = [];
  for (const name of FUNCTION_NAMES) {
    const clients = clientsOf(name);
    const key = clients.join('+');
    if (!baselines.has(key)) baselines.set(key, buildBaseline(clients));
    const { entry: baseline, loaded: baselineLoads } = baselines.get(key) as ReturnType<typeof buildBaseline>;
    const bundle = path.join(distDir(name), 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    await timeImport(bundle, true);
    await timeImport(baseline, true);
    const loads = sizes(bundleLoads(name));
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
  return rows;
}

const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const ms = (t: Timing) => `${t.medianMs.toFixed(1)} (${t.p25Ms.toFixed(0)}–${t.p75Ms.toFixed(0)})`;
const ratios = (comparison: ImportComparison) =>
  `${comparison.ratio.toFixed(2)} / ${comparison.cpuRatio.toFixed(2)}`;

/**
 * The rows as a Markdown table. Import times are wall-time medians with the middle half of the
 * runs in brackets; × baseline is the median ratio of the pairs, in wall / CPU time.
 */
export function bundleTable(rows: readonly BundleRow[]): string {
  const lines = [
    '| bundle | KiB at import | .map KiB | baseline: SDK clients | baseline KiB | import ms | baseline ms | × baseline (wall / CPU) | import ms, source maps | baseline ms, source maps | × baseline, source maps (wall / CPU) |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const { plain, sourceMaps } = row;
    lines.push(
      `| ${row.name} | ${kib(row.bytes)} | ${kib(row.mapBytes)} | ${row.clients.join(', ')} | ${kib(row.baselineBytes)} | ` +
        `${ms(plain.bundle)} | ${ms(plain.baseline)} | ${ratios(plain)} | ` +
        `${ms(sourceMaps.bundle)} | ${ms(sourceMaps.baseline)} | ${ratios(sourceMaps)} |`,
    );
  }
  return lines.join('\n');
}
