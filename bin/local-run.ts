/**
 * `npm start`: the whole pipeline on this machine. Starts the Qualys simulator, fauxqs (S3, SNS,
 * SQS) and a Secrets Manager stand-in, all on 127.0.0.1; runs the built Lambda bundles exactly
 * as deployed; prints what landed; mirrors the bucket to ./local-lake for inspection.
 */
// The Lambdas run Node 22; this machine's Node 20 is fine for the local run and tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import * as path from 'node:path';
import { DEFAULT_SUBSCRIPTION } from '../functions/core/subscription';
import { PROJECT_ROOT } from '../lib/bundle';
import { startSimulator } from '../test/simulator/index';
import { lambdaContext, loadHandler } from '../test/support/invoke';
import {
  drainAlerts,
  mirrorBucket,
  type ReceivedAlert,
  simulatedDeployment,
  startLocalAws,
} from '../test/support/local-aws';
import { printNamedQueries } from '../tools/local-lake/duckdb';
import { describeLocalFormats, writeLocalFormats } from './local-formats';

const MIRROR = path.join(PROJECT_ROOT, 'local-lake');
const line = (text = '') => console.log(text);
const heading = (text: string) => line(`\n== ${text} ${'='.repeat(Math.max(0, 72 - text.length))}`);

async function main() {
  const simulator = await startSimulator({ rateLimit: { limit: 300, windowSec: 3600, concurrency: 2 } });
  const aws = await startLocalAws();
  try {
    const { lake, env } = await simulatedDeployment(aws, simulator.url);
    line(`Qualys simulator  ${simulator.url}  (300 calls / 3600 s announced, concurrency 2)`);
    line(`fauxqs (S3/SNS/SQS) ${aws.endpoint}   Secrets Manager ${aws.secrets.url}`);
    line(`bucket ${lake.bucket}   topic ${lake.topicArn}`);

    const cdr = await loadHandler('cdr-findings', env);
    heading('cdr-findings: first run (no checkpoint: the last 24 h)');

    const first = (await cdr({}, lambdaContext())) as CdrSummary;
    printCdr(first);

    const replay = first.windows[0];
    if (replay) {
      heading('cdr-findings: replay of the same window ({"startAt","endAt"} event)');
      printCdr(await cdr({ startAt: replay.startAt, endAt: replay.endAt }, lambdaContext()));
      line('  (every finding is already in the lake: nothing curated twice, no alert sent twice)');
    }

    await printAlerts(await drainAlerts(aws, lake.queueUrl));

    heading('sdr-inventory: a snapshot in runs of at most 10 API calls');
    const inventory = await loadHandler('sdr-inventory', { ...env, SDR_MAX_CALLS_PER_RUN: '10' });
    for (let runNumber = 1; runNumber <= 10; runNumber++) {
      const summary = (await inventory({}, lambdaContext())) as InventorySummary;
      const datasets = Object.entries(summary.datasets)
        .map(([name, count]) => `${name.replace('sdr_', '')} ${count?.records ?? 0}`)
        .join(', ');
      line(
        `  run ${runNumber}: snapshot ${summary.snapshotId} ${summary.snapshotStatus}; ${summary.records} records (${datasets || 'none'}); ${budget(summary)}`,
      );
      if (summary.snapshotStatus === 'complete') break;
    }

    heading('sdr-posture: every enabled connector x policy, alerts on failed controls');
    const posture = await loadHandler('sdr-posture', env);
    const firstPoll = (await posture({}, lambdaContext())) as PostureSummary;
    line(
      `  poll ${firstPoll.pollId}: ${firstPoll.pairs.done} connector/policy pairs, ${firstPoll.rows} evidence rows, ${firstPoll.newFailures} new failures (${firstPoll.baselineFailures} in the first poll's summaries); ${budget(firstPoll)}`,
    );
    const secondPoll = (await posture({}, lambdaContext())) as PostureSummary;
    line(
      `  next poll, nothing changed: ${secondPoll.rows} rows, ${secondPoll.newFailures} new failures, ${secondPoll.alertsPublished} alerts; ${budget(secondPoll)}`,
    );
    await printAlerts(await drainAlerts(aws, lake.queueUrl));

    heading('sdr-reports: completed reports streamed to S3 (multipart above 8 MiB)');
    const reports = await loadHandler('sdr-reports', env);
    const reportRun = (await reports({}, lambdaContext())) as ReportsSummary;
    for (const download of reportRun.downloads) {
      line(
        `  ${download.key}  ${(download.bytes / 1024).toFixed(0).padStart(7)} KiB  sha256 ${download.sha256.slice(0, 12)}…`,
      );
    }
    const skipped = Object.entries(reportRun.notCompleted).map(([status, count]) => `${count} ${status}`);
    line(
      `  ${reportRun.downloaded} downloaded, ${skipped.join(', ') || 'none'} skipped until completed, ${reportRun.expired.length} expired before they could be archived`,
    );
    line(`  ${budget(reportRun)}`);

    const keys = await mirrorBucket(aws, lake.bucket, MIRROR);
    heading(`bucket contents: ${keys.length} objects, mirrored to ./local-lake`);
    const byPrefix = new Map<string, number>();
    for (const key of keys) {
      const prefix = key.split('/').slice(0, 2).join('/');
      byPrefix.set(prefix, (byPrefix.get(prefix) ?? 0) + 1);
    }
    for (const [prefix, count] of byPrefix)
      line(`  ${prefix.padEnd(40)} ${String(count).padStart(5)} objects`);
    heading(
      `lake formats of subscription "${DEFAULT_SUBSCRIPTION}": Security Lake (OCSF) and the compacted layer`,
    );
    const formats = await writeLocalFormats({
      aws,
      bucket: lake.bucket,
      lakeDir: MIRROR,
      subscription: DEFAULT_SUBSCRIPTION,
    });
    line(
      '  OCSF Parquet (ZSTD) under ./local-lake/security-lake/ext/<source>/region=…/accountId=…/eventDay=…/:',
    );
    for (const text of describeLocalFormats(formats)) line(text);
    heading('Athena named queries, run by DuckDB on ./local-lake');
    await printNamedQueries(MIRROR, [
      'cdr_high_critical_by_account_category',
      'cdr_top_remote_countries',
      'sdr_failing_controls_by_connector',
      'sdr_documents_shared_externally',
    ]);
    line(
      `\nAPI calls served by the simulator: ${simulator.stats.requests} (+${simulator.stats.authCalls} logins), 409/429 answered: ${simulator.stats.rateLimited}`,
    );
  } finally {
    await aws.close();
    await simulator.close();
  }
}

async function printAlerts(alerts: ReceivedAlert[]) {
  heading(`alerts on the SNS topic: ${alerts.length}`);
  for (const alert of alerts.slice(0, 5)) {
    // A digest or a posture baseline summary covers many keys and carries none.
    line(
      `  ${alert.subject}   alertKey=${alert.attributes.alertKey ?? (alert.attributes.kind === 'baseline' ? '(baseline summary)' : '(digest)')}`,
    );
  }
  if (alerts.length > 5) line(`  ... and ${alerts.length - 5} more`);
  const example = alerts.find((alert) => alert.email);
  if (example) {
    heading('the email body of one alert');
    line(example.email);
  }
}

/** What every collector's summary says about the Qualys call budget all of them share. */
type BudgetCounts = { apiCalls: number; rateLimit: { remaining?: number; limit?: number } };

/** The run's calls and the shared budget left, as the gateway last announced it. */
const budget = (summary: BudgetCounts) =>
  `API calls ${summary.apiCalls}; shared budget left ${summary.rateLimit.remaining ?? '?'} of ${summary.rateLimit.limit ?? '?'}`;

type InventorySummary = BudgetCounts & {
  snapshotId: string;
  snapshotStatus: string;
  records: number;
  datasets: Record<string, { records: number } | undefined>;
};
type PostureSummary = BudgetCounts & {
  pollId: string;
  pairs: { done: number };
  rows: number;
  newFailures: number;
  baselineFailures: number;
  alertsPublished: number;
};
type ReportsSummary = BudgetCounts & {
  downloaded: number;
  downloads: Array<{ key: string; bytes: number; sha256: string }>;
  notCompleted: Record<string, number>;
  expired: string[];
};

type CdrSummary = BudgetCounts & {
  windows: Array<{
    startAt: string;
    endAt: string;
    pages: number;
    findings: number;
    newFindings: number;
    complete: boolean;
  }>;
  pages: number;
  findings: number;
  newFindings: number;
  alertsPublished: number;
  digestsPublished: number;
  objectsWritten: number;
  stoppedEarly?: string;
};

function printCdr(result: unknown) {
  const summary = result as CdrSummary;
  for (const window of summary.windows) {
    line(
      `  window ${window.startAt} .. ${window.endAt}: ${window.pages} pages, ${window.findings} findings, ${window.newFindings} new${window.complete ? '' : ' (resumes next run)'}`,
    );
  }
  line(`  ${budget(summary)}`);
  line(
    `  objects written ${summary.objectsWritten}; alerts published ${summary.alertsPublished}, digests ${summary.digestsPublished}`,
  );
  if (summary.stoppedEarly) line(`  stopped early: ${summary.stoppedEarly}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
