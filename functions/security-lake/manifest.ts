import { curatedPrefix } from '../core/manifest';
import { CURATED_DATASETS, type CuratedDataset, PREFIX, SECURITY_LAKE_FUNCTION } from '../core/names';
import { scopeKey } from '../core/subscription';

/**
 * The Security Lake writer, as the stack and the runtime both know it: its function name, the
 * OCSF classes it can write and the curated dataset each one reads, its environment and the
 * prefixes its role may touch. No runtime code: the CDK app loads this through functions/manifests.ts.
 */
export { SECURITY_LAKE_FUNCTION };

/** The classes (one Security Lake custom source each) and the curated dataset each is mapped from. */
export const SECURITY_LAKE_CLASSES = {
  /** OCSF Detection Finding (2004) from CDR findings. */
  detectionFinding: CURATED_DATASETS.cdrFindings,
  /** OCSF Compliance Finding (2003) from SaaSDR posture rows. */
  complianceFinding: CURATED_DATASETS.sdrPosture,
  /** OCSF User Inventory Info (5003) from SaaSDR users. */
  userInventory: CURATED_DATASETS.sdrUsers,
} as const satisfies Record<string, CuratedDataset>;
export type SecurityLakeClass = keyof typeof SECURITY_LAKE_CLASSES;
export const SECURITY_LAKE_CLASS_NAMES = Object.keys(SECURITY_LAKE_CLASSES) as SecurityLakeClass[];

/** Environment of the writer besides ARCHIVE_BUCKET and QUALYS_SUBSCRIPTION (functions/core/names.ts). */
export const SECURITY_LAKE_ENV = {
  /** JSON {@link SecurityLakeTarget}: where each class goes and the role that may write it. */
  target: 'SECURITY_LAKE_TARGET',
  /** Days of `dt=` partitions each run looks through for curated objects not yet written. */
  lookbackDays: 'SECURITY_LAKE_LOOKBACK_DAYS',
} as const;

/** One custom source: where its objects go and the provider role Security Lake made for it. */
export interface SecurityLakeSource {
  /** The Security Lake bucket. */
  bucket: string;
  /** The source's location in the bucket, ending in `/`: `ext/<source name>/` (or the custom source location's path). */
  prefix: string;
  /** The provider role (`AmazonSecurityLake-Provider-<source>-<region>`), assumed to write. */
  roleArn: string;
  externalId: string;
}

/** What SECURITY_LAKE_TARGET holds: the partition values and the source of each enabled class. */
export interface SecurityLakeTarget {
  /** The `region=` partition, and the Security Lake bucket's region. */
  region: string;
  /** The `accountId=` partition. */
  accountId: string;
  sources: Partial<Record<SecurityLakeClass, SecurityLakeSource>>;
}

/** The writer's state (batch checkpoints), before scoping to a subscription. */
export const SECURITY_LAKE_STATE_PREFIX = `${PREFIX.state}${SECURITY_LAKE_FUNCTION}/`;

/**
 * What the writer's role may touch for one subscription: read the curated prefixes of the classes
 * it writes, read and write its own state. Nothing in the Security Lake bucket: the provider role
 * holds that.
 */
export function securityLakeGrants(subscription: string, classes: readonly SecurityLakeClass[]) {
  const state = scopeKey(SECURITY_LAKE_STATE_PREFIX, subscription);
  const curated = classes.map((name) => scopeKey(curatedPrefix(SECURITY_LAKE_CLASSES[name]), subscription));
  return { read: [...curated, state], write: [state] };
}
