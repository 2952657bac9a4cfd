/**
 * The late-data scenario of `npm run bench` (issue 8): the built cdr-findings bundle over 12 h of
 * findings and 5-minute runs, 15 % of the findings reaching the API up to 2 h after their timestamp,
 * then 3 h more runs with no new findings so the last late ones arrive and settle. Run per design
 * (the legacy sliding re-read, the new windows), each against its own simulator and lake.
 *
 * Simulated time: before each run the simulator's clock and the run's clock are set to the run's
 * scheduled time (they then run on in real time), so a 5-minute step costs no real time.
 */
import { curatedPrefix } from '../functions/core/manifest';
import { CURATED_DATASETS } from '../functions/core/names';
import { CDR_FINDINGS_PATH } from '../functions/qualys/cdr';
import { withCollector, withLake, withQualys } from './bench-harness';
import type { DeployedCollector } from './bench-stack';

export interface LateDataDesign {
  name: string;
  env: Record<string, string>;
}

export interface LateDataRow {
  design: string;
  runs: number;
  findings: number;
  lost: number;
  apiCalls: number;
  minimumCalls: number;
  seconds: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 18:00 UTC: midnight falls 6 h into the series, so the daily reconcile runs once. */
const ANCHOR = Date.parse('2026-03-14T18:00:00.000Z');
const FINDINGS_PER_HOUR = 60;
const PAGE_SIZE = 100;
/** Findings stamped before the first run: enough for a 12 h re-read to be full from the start. */
const HISTORY_HOURS = 14;
const SERIES_HOURS = 12;
const SETTLING_HOURS = 3;

export const LATE_DATA_DESIGNS: LateDataDesign[] = [
  {
    name: 'legacy sliding re-read (CDR_LOOKBACK_MINUTES=720)',
    env: { CDR_LOOKBACK_MINUTES: '720', CDR_LATE_MINUTES: '0', CDR_RECONCILE_DAYS: '0' },
  },
  { name: 'new windows + hourly settle + daily reconcile (defaults but the page size)', env: {} },
];

export const LATE_DATA_SCENARIO = `cdr-findings, ${SERIES_HOURS} h of 5-minute runs (+${SETTLING_HOURS} h to settle), ${FINDINGS_PER_HOUR} findings/h, 15 % up to 2 h late, page size ${PAGE_SIZE}`;

export async function lateDataScenario(
  design: LateDataDesign,
  deployed: DeployedCollector,
): Promise<LateDataRow> {
  const options = {
    anchor: new Date(ANCHOR),
    cdr: {
      historyHours: HISTORY_HOURS,
      futureHours: SERIES_HOURS,
      findingsPerHour: FINDINGS_PER_HOUR,
      lateFraction: 0.15,
      lateMaxMinutes: 120,
      lateFindings: 0,
    },
  };
  return withQualys(options, (qualys) =>
    withLake(qualys.url, async (lake) => {
      const env = {
        ...lake.env,
        CDR_PAGE_SIZE: String(PAGE_SIZE),
        CDR_INITIAL_LOOKBACK_HOURS: String(HISTORY_HOURS),
        ...design.env,
      };
      const started = performance.now();
      const { result: runs } = await withCollector('cdr-findings', deployed, env, async (collector) => {
        let count = 0;
        for (let at = ANCHOR; at < ANCHOR + (SERIES_HOURS + SETTLING_HOURS) * HOUR; at += 5 * MINUTE) {
          await qualys.clock(at);
          const { error } = await collector.invoke({}, { at, remainingMs: deployed.timeoutSeconds * 1000 });
          if (error)
            throw new Error(
              `late data, ${design.name}: the run at ${new Date(at).toISOString()} failed: ${error}`,
            );
          count++;
        }
        return count;
      });
      const seconds = (performance.now() - started) / 1000;
      const served = await qualys.visibleUuids();
      const landed = new Set(await lake.curatedUuids(curatedPrefix(CURATED_DATASETS.cdrFindings)));
      return {
        design: design.name,
        runs,
        findings: served.length,
        lost: served.filter((uuid) => !landed.has(uuid)).length,
        apiCalls: (await qualys.stats()).byPath?.[CDR_FINDINGS_PATH] ?? 0,
        // One call a run plus one a page of unique findings: the least any design can do.
        minimumCalls: runs + Math.ceil(served.length / PAGE_SIZE),
        seconds,
      };
    }),
  );
}
