/**
 * The bounds of a backfill, shared by the state machine (lib/constructs/backfill.ts) and the
 * `qualys-lake backfill` command, which must not load the CDK to read them.
 */
export const BACKFILL_LIMITS = {
  /** Invocations in a row that made no progress (an error, or a stop before any page). */
  attemptsPerWindow: 6,
  /** Invocations of one window in all, progress or not. */
  runsPerWindow: 100,
  /** Windows one execution may plan: an inline Map's events count against the 25,000 of its history. */
  maxWindows: 1000,
  /** Failed windows named in the failure's cause. */
  failuresNamed: 20,
  inventoryRuns: 20,
  /** The shortest and longest wait between two attempts, in seconds. */
  minWaitSeconds: 60,
  maxWaitSeconds: 65 * 60,
  defaultWindowHours: 24,
} as const;
