/**
 * One place for each name that more than one part of qualys-lake relies on: the Lambda
 * functions, the datasets, the S3 prefixes and the environment variables. The CDK stack,
 * the handlers, the local run and the tests all import from here.
 */

/** Lambda functions; each is bundled to `dist/functions/<name>/index.mjs`. */
export const FUNCTION_NAMES = ['cdr-findings', 'sdr-inventory', 'sdr-posture', 'sdr-reports'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
/** The Security Lake writer: bundled and deployed like a collector, but not one (no Qualys, no secret). */
export const SECURITY_LAKE_FUNCTION = 'security-lake';
/** Every function bundled to `dist/functions/<name>/index.mjs`: the collectors and the Security Lake writer. */
export const BUNDLE_NAMES = [...FUNCTION_NAMES, SECURITY_LAKE_FUNCTION] as const;
export type BundleName = (typeof BUNDLE_NAMES)[number];

/** Top-level prefixes of the archive bucket. */
export const PREFIX = {
  raw: 'raw/',
  curated: 'curated/',
  state: 'state/',
  reports: 'reports/',
  /** Athena query results (the workgroup's output location). */
  athenaResults: 'athena-results/',
} as const;

/**
 * State every collector shares: the Qualys call-budget ledger of the subscription. Not under any
 * collector's own `state/<name>/`, so every manifest reads and writes it.
 */
export const QUALYS_STATE_PREFIX = `${PREFIX.state}qualys/`;
/** The call-budget ledger: what the gateway last announced and the calls in flight (README, "The Qualys call budget"). */
export const CALL_BUDGET_LEDGER_KEY = `${QUALYS_STATE_PREFIX}call-budget.json`;

/** Curated datasets (Glue table names) and the prefix under `curated/` each one lives in. */
export const CURATED_DATASETS = {
  cdrFindings: 'cdr_findings',
  sdrConnectors: 'sdr_connectors',
  sdrScanners: 'sdr_scanners',
  sdrUsers: 'sdr_users',
  sdrGroups: 'sdr_groups',
  sdrDocuments: 'sdr_documents',
  sdrApplications: 'sdr_applications',
  sdrMeetings: 'sdr_meetings',
  sdrPolicies: 'sdr_policies',
  /** One record per inventory snapshot with its status (complete or partial) and counts. */
  sdrSnapshots: 'sdr_snapshots',
  /** One row per control x resource evaluation. */
  sdrPosture: 'sdr_posture',
  /** One record per downloaded report, with where its file is. */
  sdrReports: 'sdr_reports',
} as const;
/** The curated tables of an inventory snapshot, in the order its `sdr_snapshots` record lists them. */
export const INVENTORY_DATASETS = [
  CURATED_DATASETS.sdrConnectors,
  CURATED_DATASETS.sdrScanners,
  CURATED_DATASETS.sdrUsers,
  CURATED_DATASETS.sdrGroups,
  CURATED_DATASETS.sdrDocuments,
  CURATED_DATASETS.sdrApplications,
  CURATED_DATASETS.sdrMeetings,
  CURATED_DATASETS.sdrPolicies,
] as const;

export type CuratedDataset = (typeof CURATED_DATASETS)[keyof typeof CURATED_DATASETS];

/** Environment variables read by the Lambdas. */
export const ENV = {
  qualysSecretId: 'QUALYS_SECRET_ID',
  /** The subscription the function serves (functions/core/subscription.ts); `default` when unset. */
  subscription: 'QUALYS_SUBSCRIPTION',
  archiveBucket: 'ARCHIVE_BUCKET',
  alertTopicArn: 'ALERT_TOPIC_ARN',
  alertMinSeverity: 'ALERT_MIN_SEVERITY',
  alertMaxPerRun: 'ALERT_MAX_PER_RUN',
  requestTimeoutMs: 'QUALYS_REQUEST_TIMEOUT_MS',
  maxRetries: 'QUALYS_MAX_RETRIES',
  callReserve: 'QUALYS_CALL_RESERVE',
  maxLimitWaitSeconds: 'QUALYS_MAX_LIMIT_WAIT_SECONDS',
  allowedHosts: 'QUALYS_ALLOWED_HOSTS',
  allowHttpLoopback: 'QUALYS_ALLOW_HTTP_LOOPBACK',
  cdrQuery: 'CDR_QUERY',
  cdrInitialLookbackHours: 'CDR_INITIAL_LOOKBACK_HOURS',
  cdrPageSize: 'CDR_PAGE_SIZE',
  cdrLagMinutes: 'CDR_LAG_MINUTES',
  cdrLookbackMinutes: 'CDR_LOOKBACK_MINUTES',
  cdrLateMinutes: 'CDR_LATE_MINUTES',
  cdrSettlePageSize: 'CDR_SETTLE_PAGE_SIZE',
  cdrReconcileDays: 'CDR_RECONCILE_DAYS',
  cdrMaxWindowHours: 'CDR_MAX_WINDOW_HOURS',
  sdrPageSize: 'SDR_PAGE_SIZE',
  sdrMaxCallsPerRun: 'SDR_MAX_CALLS_PER_RUN',
  sdrPostureEvaluations: 'SDR_POSTURE_EVALUATIONS',
  sdrPostureNotifyRecovery: 'SDR_POSTURE_NOTIFY_RECOVERY',
  sdrPostureMinCriticality: 'SDR_POSTURE_MIN_CRITICALITY',
  sdrPostureBaselineSummary: 'SDR_POSTURE_BASELINE_SUMMARY',
  sdrReportsMaxPerRun: 'SDR_REPORTS_MAX_PER_RUN',
  sdrReportMaxBytes: 'SDR_REPORT_MAX_BYTES',
} as const;

/** `source` message attribute of every alert, per collector. */
export const ALERT_SOURCE = {
  cdrFindings: 'cdr-findings',
  sdrPosture: 'sdr-posture',
} as const;

/**
 * Message attribute with an alert's severity or criticality as a number (1 LOW ... 4 CRITICAL, 5 when
 * unreadable): what an email subscription's filter policy compares (functions/core/alerts/levels.ts).
 */
export const ALERT_RANK_ATTRIBUTE = 'rank';

/**
 * Message attribute naming the subscription an alert is about (String), on every alert and digest:
 * what a filter policy routes one customer's alerts by.
 */
export const ALERT_SUBSCRIPTION_ATTRIBUTE = 'subscription';

/** Folder under `state/<collector>/` for the alerts SNS refused for their content. */
export const ALERTS_REJECTED_FOLDER = 'alerts-rejected/';

/** Folder of a collector under raw/ and state/: its function name. */
export const collectorPrefix = (area: 'raw' | 'state' | 'reports', name: FunctionName) =>
  `${PREFIX[area]}${name}/`;

/**
 * CloudWatch metrics as the handlers publish them (Powertools, EMF) and the stack alarms on them:
 * the namespace and service the stack sets, the names the stack alarms on, and the dimensions every
 * metric carries (`service`, `collector` and `subscription`).
 */
export const METRICS = {
  namespace: 'QualysLake',
  service: 'qualys-lake',
  /** Alerts SNS refused for their content in one run (alarm: more than 0). */
  alertsRejected: 'AlertsRejected',
  /** Items set aside under `state/<collector>/rejected/` in one run (alarm: more than 0). */
  rejectedItems: 'RejectedItems',
  /** Age of the time the collector's data is complete up to, at the end of a run (alarm: above its threshold). */
  lagSeconds: 'LagSeconds',
  /** 1 for a run that ended without an error (a clean stop included), 0 for one that failed with its summary. */
  runSucceeded: 'RunSucceeded',
  /** Calls left in the Qualys rate-limit window, as the gateway last announced them. */
  budgetRemaining: 'BudgetRemaining',
} as const;
export const METRIC_DIMENSIONS = {
  service: 'service',
  collector: 'collector',
  /** The subscription the function serves (QUALYS_SUBSCRIPTION). */
  subscription: 'subscription',
} as const;
