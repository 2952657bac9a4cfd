/**
 * `npm run bench`: throughput and memory of the built Lambda bundles against the simulator and
 * fauxqs on this machine. Numbers are for comparing changes on one machine, not promises about
 * AWS. Results go to stdout as a Markdown table (paste into README's Benchmarks section).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../lib/bundle';
import type { SimulatorOptions } from '../test/simulator/index';
import { lambdaContext, loadHandler } from '../test/support/invoke';
import { LATE_DATA_DESIGNS, LATE_DATA_SCENARIO, type LateDataRow, lateDataScenario } from './bench-late-data';
import { LATENCY_SCENARIO, type LatencyRow, latencyScenario } from './bench-latency';

/** Starts bin/bench-servers.ts in its own process; returns the Lambda environment it prints. */
async function servers(
  options: SimulatorOptions,
): Promise<{ env: Record<string, string>; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'bin', 'bench-servers.ts'), JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [first] = (await once(lines, 'line')) as [string];
  return { env: JSON.parse(first) as Record<string, string>, child };
}

async function stop(child: ChildProcess) {
  child.stdin?.end();
  await once(child, 'exit');
}

interface Row {
  scenario: string;
  volume: string;
  seconds: number;
  rate: string;
  peakHeapMiB: number;
  apiCalls: number;
}

/**
 * Runs `work` while sampling the live heap (after a forced GC, so garbage not yet collected does
 * not count) every 100 ms; returns the result, seconds and the peak growth of the live heap.
 */
async function measure<T>(
  work: () => Promise<T>,
): Promise<{ result: T; seconds: number; peakHeapMiB: number }> {
  global.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sampler = setInterval(() => {
    global.gc?.();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 100);
  const started = performance.now();
  try {
    const result = await work();
    return {
      result,
      seconds: (performance.now() - started) / 1000,
      peakHeapMiB: Math.max(0, (peak - baseline) / 1024 / 1024),
    };
  } finally {
    clearInterval(sampler);
  }
}

async function cdrScenario(findingsPerHour: number, pageSize: number): Promise<Row> {
  const { env, child } = await servers({ cdr: { historyHours: 24, findingsPerHour, lateFindings: 0 } });
  try {
    const handler = await loadHandler('cdr-findings', {
      ...env,
      CDR_PAGE_SIZE: String(pageSize),
      CDR_LAG_MINUTES: '0',
      ALERT_MIN_SEVERITY: 'CRITICAL',
    });
    const { result, seconds, peakHeapMiB } = await measure(
      async () => (await handler({}, lambdaContext(15 * 60_000))) as { findings: number; apiCalls: number },
    );
    return {
      scenario: `cdr-findings, first run, page size ${pageSize}`,
      volume: `${result.findings.toLocaleString('en-US')} findings`,
      seconds,
      rate: `${Math.round(result.findings / seconds).toLocaleString('en-US')} findings/s`,
      peakHeapMiB,
      apiCalls: result.apiCalls,
    };
  } finally {
    await stop(child);
  }
}

async function reportsScenario(bigReportMiB: number): Promise<Row> {
  const { env, child } = await servers({
    sdr: { reports: 3, bigReportSizeBytes: bigReportMiB * 1024 * 1024 },
  });
  try {
    const handler = await loadHandler('sdr-reports', env);
    const { result, seconds, peakHeapMiB } = await measure(
      async () =>
        (await handler({}, lambdaContext(15 * 60_000))) as {
          bytesDownloaded: number;
          downloaded: number;
          apiCalls: number;
        },
    );
    const mib = result.bytesDownloaded / 1024 / 1024;
    return {
      scenario: 'sdr-reports, streamed multipart upload',
      volume: `${result.downloaded} reports, ${mib.toFixed(0)} MiB`,
      seconds,
      rate: `${(mib / seconds).toFixed(1)} MiB/s`,
      peakHeapMiB,
      apiCalls: result.apiCalls,
    };
  } finally {
    await stop(child);
  }
}

async function main() {
  const rows: Row[] = [];
  for (const [perHour, pageSize] of [
    [500, 100],
    [500, 1000],
    [2000, 1000],
  ] as const) {
    rows.push(await cdrScenario(perHour, pageSize));
    console.error(`done: ${rows.at(-1)?.scenario} ${rows.at(-1)?.volume}`);
  }
  rows.push(await reportsScenario(64));
  console.error(`done: ${rows.at(-1)?.scenario}`);
  const latencyRows: LatencyRow[] = [];
  for (const concurrency of [1, 2, 4]) {
    latencyRows.push(await latencyScenario(concurrency));
    console.error(`done: latency, concurrency ${concurrency}`);
  }
  const lateRows: LateDataRow[] = [];
  for (const design of LATE_DATA_DESIGNS) {
    lateRows.push(await lateDataScenario(design));
    console.error(`done: late data, ${design.name}`);
  }

  console.log(`\nnode ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| scenario | volume | seconds | throughput | peak live heap growth | API calls |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.scenario} | ${row.volume} | ${row.seconds.toFixed(1)} | ${row.rate} | ${row.peakHeapMiB.toFixed(0)} MiB | ${row.apiCalls} |`,
    );
  }
  console.log(`\n${LATENCY_SCENARIO}\n`);
  console.log('| concurrency C | pages N | seconds | N·L/C | seconds / (N·L/C) | calls refused (409/429) |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const row of latencyRows) {
    console.log(
      `| ${row.concurrency} | ${row.pages} | ${row.seconds.toFixed(1)} | ${row.floorSeconds.toFixed(1)} | ${(row.seconds / row.floorSeconds).toFixed(2)} | ${row.refused} |`,
    );
  }
  console.log(`\n${LATE_DATA_SCENARIO}\n`);
  console.log('| design | runs | findings | lost | API calls | minimum calls | calls / minimum | seconds |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of lateRows) {
    console.log(
      `| ${row.design} | ${row.runs} | ${row.findings.toLocaleString('en-US')} | ${row.lost} | ${row.apiCalls.toLocaleString('en-US')} | ${row.minimumCalls} | ${(row.apiCalls / row.minimumCalls).toFixed(2)} | ${row.seconds.toFixed(1)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
