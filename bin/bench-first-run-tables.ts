/**
 * The first-run section of `npm run bench`: throughput against the floor, memory against the
 * targets of issue 10 (with the extrapolation to 1,000,000 findings when that size did not fit the
 * time), and the S3 requests of each run.
 */
import { completed, type FirstRun, perFinding, perSecond } from './bench-first-run';
import { markdown, num, show, spread } from './bench-harness';

export interface FirstRunSeries {
  size: number;
  runs: FirstRun[];
}

const MiB_TARGET_100K = 256;
const GROWTH_TARGET_1M = 1.2;

/** The size, and when a run did not land every finding, why and how far it got. */
const label = (series: FirstRunSeries) => {
  const short = series.runs.find((run) => !completed(run));
  if (!short) return num(series.size);
  const why = short.error ? `failed: ${short.error}` : `stopped: ${short.stoppedEarly ?? 'incomplete'}`;
  return `${num(series.size)} (${why}; landed ${show(series.runs.map((run) => run.findings))})`;
};

const median = (runs: readonly FirstRun[], pick: (run: FirstRun) => number) => spread(runs.map(pick)).median;

export function throughputTable(series: readonly FirstRunSeries[]): string {
  return markdown({
    header: [
      'findings in one run',
      'runs',
      'wall s',
      'CPU s',
      'wall µs / finding',
      'CPU µs / finding',
      'floor CPU µs / finding',
      'ingest findings/s',
      'floor findings/s',
      'ingest ÷ floor (target ≥ 0.50)',
      'CPU ÷ floor CPU',
      'simulator CPU s',
      'fauxqs CPU s',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: series.map(({ runs, ...rest }) => {
      const all = (pick: (run: FirstRun) => number, digits = 0) => show(runs.map(pick), digits);
      return [
        label({ runs, ...rest }),
        String(runs.length),
        all((run) => run.wallMs / 1000, 1),
        all((run) => run.cpuMs / 1000, 1),
        all((run) => perFinding(run.wallMs, run.findings)),
        all((run) => perFinding(run.cpuMs, run.findings)),
        all((run) => perFinding(run.floor.cpuMs, run.floor.findings), 1),
        all((run) => perSecond(run.findings, run.wallMs)),
        all((run) => perSecond(run.floor.findings, run.floor.cpuMs)),
        // Side by side: each run against the floor on its own pages.
        all((run) => perSecond(run.findings, run.wallMs) / perSecond(run.floor.findings, run.floor.cpuMs), 2),
        all(
          (run) => perFinding(run.cpuMs, run.findings) / perFinding(run.floor.cpuMs, run.floor.findings),
          1,
        ),
        all((run) => run.simulatorCpuMs / 1000, 1),
        all((run) => run.awsCpuMs / 1000, 1),
      ];
    }),
  });
}

/**
 * A straight line through two points (RSS grows with the day's volume, or does not), and a power
 * law for time (the issue measured CPU growing as about N^1.7).
 */
function extrapolate(small: FirstRunSeries, large: FirstRunSeries, to: number) {
  const n1 = small.size;
  const n2 = large.size;
  const rss1 = median(small.runs, (run) => run.memory.peakRssMiB);
  const rss2 = median(large.runs, (run) => run.memory.peakRssMiB);
  const power = (pick: (run: FirstRun) => number) => {
    const t1 = median(small.runs, pick);
    const t2 = median(large.runs, pick);
    const k = Math.log(t2 / t1) / Math.log(n2 / n1);
    return { k, at: t2 * (to / n2) ** k };
  };
  return {
    rss: rss2 + ((rss2 - rss1) / (n2 - n1)) * (to - n2),
    wall: power((run) => run.wallMs / 1000),
    cpu: power((run) => run.cpuMs / 1000),
  };
}

export function memoryTable(series: readonly FirstRunSeries[], bigSize: number): string {
  const small = series.find((entry) => entry.size === 100_000 && entry.runs.every(completed));
  const rss100k = small ? median(small.runs, (run) => run.memory.peakRssMiB) : Number.NaN;
  const target = (size: number) =>
    size === 100_000
      ? `≤ ${MiB_TARGET_100K}`
      : size === bigSize
        ? `≤ ${num(GROWTH_TARGET_1M * rss100k)} (1.2 × 100k)`
        : '';
  const met = (size: number, rss: number) => {
    if (size === 100_000) return rss <= MiB_TARGET_100K ? 'yes' : 'no';
    if (size === bigSize) return rss <= GROWTH_TARGET_1M * rss100k ? 'yes' : 'no';
    return '';
  };
  const rows = series.map((entry) => {
    const rss = median(entry.runs, (run) => run.memory.peakRssMiB);
    const whole = entry.runs.every(completed);
    return [
      label(entry),
      String(entry.runs.length),
      show(entry.runs.map((run) => run.memory.peakRssMiB)),
      show(entry.runs.map((run) => run.memory.rssLoadedMiB)),
      show(entry.runs.map((run) => run.memory.peakHeapUsedMiB)),
      whole ? target(entry.size) : '',
      whole ? met(entry.size, rss) : '',
    ];
  });
  const measuredBig = series.some((entry) => entry.size === bigSize && entry.runs.every(completed));
  const largest = [...series].reverse().find((entry) => entry.size > 100_000 && entry.runs.every(completed));
  let note = '';
  if (!measuredBig && small && largest) {
    const guess = extrapolate(small, largest, bigSize);
    rows.push([
      `${num(bigSize)} (extrapolated)`,
      '',
      num(guess.rss),
      '',
      '',
      target(bigSize),
      `${met(bigSize, guess.rss)} (extrapolated)`,
    ]);
    note =
      `\n\n${num(bigSize)} findings did not fit the time given to one run, so the row above is ` +
      `extrapolated from the ${num(small.size)} and ${num(largest.size)} medians: RSS on the straight ` +
      `line through them; time as a power law through them, N^${guess.wall.k.toFixed(2)} for wall time ` +
      `(≈ ${num(guess.wall.at)} s at ${num(bigSize)}) and N^${guess.cpu.k.toFixed(2)} for CPU ` +
      `(≈ ${num(guess.cpu.at)} s).`;
  }
  return (
    markdown({
      header: [
        'findings in one run',
        'runs',
        'peak RSS MiB',
        'RSS with the bundle loaded',
        'peak heap used MiB',
        'target MiB',
        'met',
      ],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      rows,
    }) + note
  );
}

export function requestsTable(series: readonly FirstRunSeries[]): string {
  const largest = (runs: readonly FirstRun[]) => {
    const run = [...runs].sort((a, b) => b.largestPut.bytes - a.largestPut.bytes)[0];
    return run ? `${num(run.largestPut.bytes / 2 ** 20, 1)} (${run.largestPut.kind.slice(4)})` : '';
  };
  return markdown({
    header: [
      'findings in one run',
      'API calls',
      'S3 PUTs',
      'S3 GETs',
      'PUTs / 1,000 findings',
      'MB sent in PUTs',
      'largest PUT MiB',
      'objectsWritten ÷ PUTs',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: series.map((entry) => [
      label(entry),
      show(entry.runs.map((run) => run.apiCalls)),
      show(entry.runs.map((run) => run.puts)),
      show(entry.runs.map((run) => run.gets)),
      show(
        entry.runs.map((run) => (run.puts * 1000) / run.findings),
        1,
      ),
      show(entry.runs.map((run) => run.putBytes / 1e6)),
      largest(entry.runs),
      show(
        entry.runs.map((run) => run.objectsWritten / run.puts),
        2,
      ),
    ]),
  });
}
