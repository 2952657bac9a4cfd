/**
 * The latency scenario of `npm run bench` (issue 8): one CDR window of about 40 pages from a gateway
 * that takes 300 ms a call and allows C concurrent calls, read by the built cdr-findings bundle. The
 * floor is N·L/C (N pages, L latency, C concurrency); the row reports wall time over it, and the
 * calls the simulator refused (409/429), which must be 0. The first page is read alone (it tells
 * how far the window goes), so the least any reader can take is L + (N − 1)·L/C. The simulator runs
 * in a process of its own, so it no longer shares the collector's event loop.
 */
import { withCollector, withLake, withQualys } from './bench-harness';
import type { DeployedCollector } from './bench-stack';

export interface LatencyRow {
  concurrency: number;
  pages: number;
  latencyMs: number;
  seconds: number;
  floorSeconds: number;
  refused: number;
}

const LATENCY_MS = 300;
const PAGE_SIZE = 100;
/** 24 h × 167 findings: about 4,000 findings, 40 pages of 100, in the first run's window. */
const FINDINGS_PER_HOUR = 167;

export const LATENCY_SCENARIO = `cdr-findings, one 24 h window of ~${(24 * FINDINGS_PER_HOUR).toLocaleString('en-US')} findings (page size ${PAGE_SIZE}), ${LATENCY_MS} ms a call`;

export async function latencyScenario(concurrency: number, deployed: DeployedCollector): Promise<LatencyRow> {
  const options = {
    latencyMs: LATENCY_MS,
    rateLimit: { limit: 10_000, windowSec: 3600, concurrency },
    // One hour more than the timed window holds: the warm-up reads it (below).
    cdr: { historyHours: 25, findingsPerHour: FINDINGS_PER_HOUR, lateFindings: 0 },
  };
  return withQualys(options, (qualys) =>
    withLake(qualys.url, async (lake) => {
      const env = { ...lake.env, CDR_PAGE_SIZE: String(PAGE_SIZE), CDR_LAG_MINUTES: '0' };
      const { result } = await withCollector('cdr-findings', deployed, env, async (collector) => {
        // A scheduled run finds what runs before it left in the execution environment: the JWT (it
        // lasts 4 h) and, once one of them alerted, the SNS client (loaded at a run's first alert).
        // Warm up as such a run: a replay of the hour before the timed window, alerts on, so the
        // timed run is the window's calls alone.
        const windowStart = Date.now() - 24 * 3600_000;
        const warmUp = {
          startAt: new Date(windowStart - 3600_000).toISOString(),
          endAt: new Date(windowStart - 60_000).toISOString(),
          alerts: true,
        };
        const warm = await collector.invoke(warmUp, { remainingMs: deployed.timeoutSeconds * 1000 });
        if (warm.error) throw new Error(`latency, C=${concurrency}, warm-up: ${warm.error}`);
        // Alerts or, past ALERT_MAX_PER_RUN of them, a digest: either way the SNS client is loaded.
        const published =
          Number(warm.summary?.alertsPublished ?? 0) + Number(warm.summary?.digestsPublished ?? 0);
        if (published === 0) throw new Error(`latency, C=${concurrency}: the warm-up published nothing`);
        return collector.invoke({}, { remainingMs: deployed.timeoutSeconds * 1000 });
      });
      if (result.error) throw new Error(`latency, C=${concurrency}: ${result.error}`);
      const pages = Number(result.summary?.pages ?? 0);
      return {
        concurrency,
        pages,
        latencyMs: LATENCY_MS,
        seconds: result.wallMs / 1000,
        floorSeconds: (pages * LATENCY_MS) / 1000 / concurrency,
        refused: (await qualys.stats()).refused ?? 0,
      };
    }),
  );
}
