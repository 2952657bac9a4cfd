import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../functions/aws/s3-store';
import type { RunLogger } from '../../functions/core/ports';
import type {
  SecurityLakeClass,
  SecurityLakeSource,
  SecurityLakeTarget,
} from '../../functions/security-lake/manifest';
import { type ClassSummary, DEFAULT_LIMITS, runSecurityLake } from '../../functions/security-lake/run';

/**
 * The Security Lake writer on the local lake (`npm start`, its test): the run function of
 * functions/security-lake/run.ts, called directly with a plain S3 store as each source's
 * destination, because fauxqs has no STS. The seam is the `destination` argument of that function,
 * which only a caller like this one chooses: the deployed handler (functions/security-lake/index.ts)
 * always passes the provider-role store (sts:AssumeRole), and nothing in its environment changes that.
 */

/** The source name of each class, as README "Amazon Security Lake" suggests naming them. */
export const LOCAL_SOURCES: Record<SecurityLakeClass, string> = {
  detectionFinding: 'qualys-cdr',
  complianceFinding: 'qualys-posture',
  userInventory: 'qualys-users',
};

/** The `region=` and `accountId=` partitions of the local files (no account behind them). */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

/** Every class into `bucket`, `ext/<source>/` each, as a Security Lake with three custom sources. */
export function localTarget(bucket: string): SecurityLakeTarget {
  const sources: Partial<Record<SecurityLakeClass, SecurityLakeSource>> = {};
  for (const [name, source] of Object.entries(LOCAL_SOURCES) as [SecurityLakeClass, string][]) {
    sources[name] = {
      bucket,
      prefix: `ext/${source}/`,
      // Never assumed here: the local run writes with its own (fauxqs) credentials.
      roleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/AmazonSecurityLake-Provider-${source}-${LOCAL_REGION}`,
      externalId: 'local',
    };
  }
  return { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT, sources };
}

const quiet: RunLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * One run of the writer over the curated records of `subscription` in `archiveBucket`, writing the
 * OCSF Parquet of every class into `destinationBucket` (created here).
 */
export async function runLocalSecurityLake(options: {
  s3: S3Client;
  archiveBucket: string;
  destinationBucket: string;
  subscription: string;
  logger?: RunLogger;
}): Promise<Partial<Record<SecurityLakeClass, ClassSummary>>> {
  const { s3, archiveBucket, destinationBucket } = options;
  await s3.send(new CreateBucketCommand({ Bucket: destinationBucket }));
  const destination = new S3Store(s3, destinationBucket);
  return runSecurityLake({
    archive: new S3Store(s3, archiveBucket),
    destination: async () => destination,
    target: localTarget(destinationBucket),
    subscription: options.subscription,
    lookbackDays: 3,
    limits: DEFAULT_LIMITS,
    logger: options.logger ?? quiet,
    deadline: Date.now() + 120_000,
    maxBatchesPerClass: 20,
  });
}
