/**
 * The late-data scenario of `npm run bench`: the built cdr-findings bundle over 12 h of findings
 * and 5-minute runs, 15 % of the findings reaching the API up to 2 h after their timestamp, then
 * 3 h more runs with no new findings so the last late ones arrive and settle. Run once per design
 * (the legacy sliding re-read, the new windows), each against its own simulator and lake.
 *
 * Simulated time: `Date.now` is replaced before the simulator starts and the bundle loads, as
 * vi.setSystemTime does in the tests; both read it, so a 5-minute step costs no real time.
 */
import { lambdaContext } from '../test/support/invoke';
import { curatedRecords } from '../test/support/local-aws';
import { withCdrLake } from './bench-cdr-lake';

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
const FINDINGS_PATH = '/cdr-api/rest/v1/findings';

export const LATE_DATA_DESIGNS: LateDataDesign[] = [
  {
    name: 'legacy sliding re-read (CDR_LOOKBACK_MINUTES=720)',
    env: { CDR_LOOKBACK_MINUTES: '720', CDR_LATE_MINUTES: '0', CDR_RECONCILE_DAYS: '0' },
  },
  { name: 'new windows + hourly settle + daily reconcile (defaults)', env: {} },
];

export const LATE_DATA_SCENARIO = `cdr-findings, ${SERIES_HOURS} h of 5-minute runs (+${SETTLING_HOURS} h to settle), ${FINDINGS_PER_HOUR} findings/h, 15 % up to 2 h late, page size ${PAGE_SIZE}`;

/** Replaces Date.now with a clock that moves only when told to. */
function simulatedClock(start: number) {
  const real = Date.now;
  let now = start;
  Date.now = () => now;
  return {
    set: (ms: number) => {
      now = ms;
    },
    restore: () => {
      Date.now = real;
    },
  };
}

export async function lateDataScenario(design: LateDataDesign): Promise<LateDataRow> {
  const clock = simulatedClock(ANCHOR);
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
  const env = {
    CDR_PAGE_SIZE: String(PAGE_SIZE),
    CDR_INITIAL_LOOKBACK_HOURS: String(HISTORY_HOURS),
    ...design.env,
  };
  try {
    return await withCdrLake('bench-late', options, env, async ({ sim, aws, lake, handler }) => {
      const started = performance.now();
      let runs = 0;
      for (let at = ANCHOR; at < ANCHOR + (SERIES_HOURS + SETTLING_HOURS) * HOUR; at += 5 * MINUTE) {
        clock.set(at);
        await handler({}, lambdaContext(15 * MINUTE));
        runs++;
      }
      const seconds = (performance.now() - started) / 1000;
      const served = sim.data.findings();
      const landed = new Set(
        (await curatedRecords<{ uuid: string }>(aws, lake.bucket, 'curated/cdr_findings/')).map(
          (r) => r.uuid,
        ),
      );
      return {
        design: design.name,
        runs,
        findings: served.length,
        lost: served.filter((finding) => !landed.has(finding.uuid)).length,
        apiCalls: sim.stats.byPath[FINDINGS_PATH] ?? 0,
        // One call a run plus one a page of unique findings: the least any design can do.
        minimumCalls: runs + Math.ceil(served.length / PAGE_SIZE),
        seconds,
      };
    });
  } finally {
    clock.restore();
  }
}
