import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PREFIX } from '../../functions/core/names';
import { acknowledge, wildcardResourceFinding } from '../nag';

/** Lifecycle settings of the archive. */
export interface ArchiveBucketOptions {
  /**
   * Days a raw page (`raw/`) is kept before it expires. Curated data and state never expire.
   * @default 400
   */
  readonly rawRetentionDays?: number;
  /**
   * Days an overwritten or deleted object version is kept (for recovery) before it is removed.
   * @default 30
   */
  readonly noncurrentVersionRetentionDays?: number;
  /**
   * Days the server access logs are kept.
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
}

export interface ArchiveBucketProps extends ArchiveBucketOptions {
  /**
   * Bucket the archive's server access logs go to, e.g. an organisation's central log bucket. It must
   * accept log delivery from `logging.s3.amazonaws.com`.
   * @default a new hardened bucket in this construct
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * What happens to the buckets when they leave the stack.
   * @default RemovalPolicy.RETAIN (the archive is the system of record)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Prefixes a function may read and write, each ending in `/`. */
export interface PrefixGrants {
  /** Prefixes the function may get and list objects under. */
  readonly read?: readonly string[];
  /** Prefixes the function may put objects under (multipart uploads included). */
  readonly write?: readonly string[];
  /** Prefixes the function may delete objects under (the bucket keeps the old version). */
  readonly delete?: readonly string[];
}

/** Transitions of raw pages, skipped when the page expires first. */
const RAW_TRANSITIONS = [
  // Raw pages are rarely read after the first month (replays, audits): the S3 minimum for IA is 30 days.
  { storageClass: s3.StorageClass.INFREQUENT_ACCESS, days: 30 },
  // Glacier Instant Retrieval keeps millisecond reads, so a replay needs no restore step.
  { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, days: 90 },
];

/**
 * The data lake bucket: raw Qualys pages under `raw/`, curated NDJSON under `curated/`, collector
 * checkpoints under `state/`. Functions get object access on their own prefixes only, through
 * {@link ArchiveBucket.grantPrefixes}.
 *
 * Encryption is SSE-S3 rather than SSE-KMS: access is already limited per prefix by IAM and the bucket
 * denies non-TLS requests; a KMS key would add a KMS request per page written (cost and KMS request
 * quotas at every collector run) and a key grant for every reader (Athena, Glue, analysts) without
 * narrowing who can read. Switch to `BucketEncryption.KMS` with `bucketKeyEnabled` if policy requires a
 * customer-managed key.
 */
export class ArchiveBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: ArchiveBucketProps = {}) {
    super(scope, id);
    const rawRetentionDays = props.rawRetentionDays ?? 400;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogsBucket = props.accessLogsBucket ?? this.createAccessLogsBucket(props, removalPolicy);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'archive/',
      targetObjectKeyFormat: s3.TargetObjectKeyFormat.partitionedPrefix(s3.PartitionDateSource.EVENT_TIME),
      removalPolicy,
      lifecycleRules: [
        {
          id: 'raw-pages',
          prefix: PREFIX.raw,
          transitions: RAW_TRANSITIONS.filter(({ days }) => days < rawRetentionDays).map(
            ({ storageClass, days }) => ({ storageClass, transitionAfter: Duration.days(days) }),
          ),
          expiration: Duration.days(rawRetentionDays),
        },
        {
          // Query results are for the console session that ran them; the lake itself is curated/.
          id: 'athena-results',
          prefix: PREFIX.athenaResults,
          expiration: Duration.days(30),
        },
        {
          id: 'old-versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionRetentionDays ?? 30),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
  }

  get bucketName(): string {
    return this.bucket.bucketName;
  }

  /**
   * Grants object reads (and listing, so a missing key reads as `NoSuchKey` rather than
   * `AccessDenied`) under `read`, object writes under `write`, and deletes only under `delete`.
   * Nothing bucket-wide: no access outside the given prefixes.
   */
  grantPrefixes(grantee: iam.IGrantable, prefixes: PrefixGrants): void {
    const read = (prefixes.read ?? []).map((prefix) => this.checkPrefix(prefix));
    const write = (prefixes.write ?? []).map((prefix) => this.checkPrefix(prefix));
    const remove = (prefixes.delete ?? []).map((prefix) => this.checkPrefix(prefix));

    if (read.length > 0) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:GetObject'],
        resourceArns: read.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
      });
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:ListBucket'],
        resourceArns: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': read.map((prefix) => `${prefix}*`) } },
      });
    }
    if (write.length > 0) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resourceArns: write.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
      });
    }

    if (remove.length > 0) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:DeleteObject'],
        resourceArns: remove.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
      });
    }

    const principal = grantee.grantPrincipal;
    if (principal instanceof Construct) {
      for (const prefix of new Set([...read, ...write, ...remove])) {
        acknowledge(
          principal,
          wildcardResourceFinding(this, this.bucket.arnForObjects(`${prefix}*`)),
          `Object ARNs need a trailing wildcard; the grant is limited to the ${prefix} prefix this function owns.`,
        );
      }
    }
  }

  private checkPrefix(prefix: string): string {
    const topLevel = Object.values(PREFIX).some((top) => prefix.startsWith(top));
    if (!topLevel || !prefix.endsWith('/') || prefix.includes('*')) {
      throw new Error(
        `Archive prefix "${prefix}" must start with one of ${Object.values(PREFIX).join(', ')}, end with "/" and contain no "*"`,
      );
    }
    return prefix;
  }

  /** Not logged itself (that would loop); cdk-nag's S1 accepts a bucket that receives access logs. */
  private createAccessLogsBucket(props: ArchiveBucketOptions, removalPolicy: RemovalPolicy): s3.Bucket {
    return new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // S3 server access logging only delivers to SSE-S3 encrypted buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'expire-logs',
          expiration: Duration.days(props.accessLogRetentionDays ?? 365),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
  }
}
