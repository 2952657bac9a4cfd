import { Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { curatedPrefix } from '../../functions/core/manifest';
import { type CuratedDataset, PREFIX } from '../../functions/core/names';
import {
  checkSubscriptionName,
  DEFAULT_SUBSCRIPTION,
  SUBSCRIPTION_PARTITION,
} from '../../functions/core/subscription';
import { readingViews } from '../athena/compaction';
import { NAMED_QUERIES } from '../athena/queries';
import { glueColumns, JSON_SERDE, PARTITION_KEYS, PROJECTION_START, TABLES } from '../athena/tables';
import { nameWords } from '../stack-names';

/** Settings of the Athena catalog; each has a default. */
export interface LakeCatalogOptions {
  /**
   * Glue database holding one table per curated dataset. Names are account- and region-wide: give
   * each deployment in one account its own.
   * @default the stack's name in snake case: `qualys_lake` for the stack `QualysLake`
   */
  readonly databaseName?: string;
  /**
   * Athena workgroup the named queries are saved in, with its results location and limits.
   * @default the stack's name in kebab case: `qualys-lake` for the stack `QualysLake`
   */
  readonly workGroupName?: string;
  /**
   * Most bytes one query may scan before Athena cancels it (BytesScannedCutoffPerQuery, at least
   * 10 MB). The 7-day queries scan a few MB; a query without a `dt` filter reads the whole history.
   * @default 10 GiB
   */
  readonly bytesScannedCutoff?: number;
  /**
   * Prefix of the archive bucket that query results go to.
   * @default 'athena-results/'
   */
  readonly resultsPrefix?: string;
  /**
   * Key to encrypt query results with (SSE_KMS). The archive itself is SSE-S3 (see
   * lib/constructs/archive.ts).
   * @default SSE_S3
   */
  readonly resultsKey?: kms.IKey;
  /**
   * Save the named queries reading the views over the compacted and landing tables (`<table>_all`,
   * lib/athena/compaction.ts) instead of the landing tables.
   * @default false
   */
  readonly namedQueriesReadViews?: boolean;
  /**
   * The subscriptions whose `subscription=<name>` partitions the tables project.
   * @default ['default']
   */
  readonly subscriptions?: readonly string[];
}

export interface LakeCatalogProps extends LakeCatalogOptions {
  /** The archive bucket: tables read `curated/`, results go to `resultsPrefix`. */
  readonly bucket: s3.IBucket;
}

export const DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 3;
/** Athena's lower bound for BytesScannedCutoffPerQuery. */
const MIN_BYTES_SCANNED_CUTOFF = 10_000_000;

/**
 * Athena over the lake, queryable right after `cdk deploy`: a Glue database with one table per
 * curated dataset (gzip NDJSON read by the OpenX JSON SerDe, `dt` partitions found by partition
 * projection, so no crawler and no MSCK REPAIR), a workgroup that enforces encrypted results and a
 * per-query scan limit, and the day-one named queries. Table columns come from lib/athena/tables.ts,
 * queries from lib/athena/queries.ts.
 */
export class LakeCatalog extends Construct {
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly tables = new Map<CuratedDataset, glue.CfnTable>();
  readonly workGroup: athena.CfnWorkGroup;
  readonly workGroupName: string;
  readonly namedQueries = new Map<string, athena.CfnNamedQuery>();
  readonly resultsPrefix: string;
  private readonly bucket: s3.IBucket;
  private readonly resultsKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const { bucket } = props;
    this.bucket = bucket;
    this.resultsKey = props.resultsKey;
    // From the stack's name, so two stacks can live in one account and region: QualysLake gives
    // qualys_lake and qualys-lake, QualysLakeEmea qualys_lake_emea and qualys-lake-emea.
    const words = nameWords(Stack.of(this).stackName);
    this.databaseName = props.databaseName ?? words.join('_');
    this.workGroupName = props.workGroupName ?? words.join('-');
    this.resultsPrefix = props.resultsPrefix ?? PREFIX.athenaResults;
    const cutoff = props.bytesScannedCutoff ?? DEFAULT_BYTES_SCANNED_CUTOFF;
    if (!Number.isInteger(cutoff) || cutoff < MIN_BYTES_SCANNED_CUTOFF) {
      throw new Error(
        `bytesScannedCutoff must be an integer of at least ${MIN_BYTES_SCANNED_CUTOFF} bytes (Athena's minimum)`,
      );
    }
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      throw new Error(
        `databaseName "${this.databaseName}" must be lower-case letters, digits and _ (Athena)`,
      );
    }
    if (!this.resultsPrefix.endsWith('/') || this.resultsPrefix.startsWith('/')) {
      throw new Error(`resultsPrefix "${this.resultsPrefix}" must end with "/" and not start with one`);
    }
    const catalogId = Stack.of(this).account;
    const subscriptions = props.subscriptions ?? [DEFAULT_SUBSCRIPTION];
    if (subscriptions.length === 0) throw new Error('the catalog needs at least one subscription to project');
    subscriptions.forEach(checkSubscriptionName);

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId,
      databaseInput: {
        name: this.databaseName,
        description: 'qualys-lake: Qualys CDR findings and SaaSDR data, curated NDJSON in the archive bucket',
      },
    });

    for (const table of TABLES) {
      const location = `s3://${bucket.bucketName}/${curatedPrefix(table.name)}`;
      const cfnTable = new glue.CfnTable(this, `Table-${table.name}`, {
        catalogId,
        databaseName: this.databaseName,
        tableInput: {
          name: table.name,
          description: table.description,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: [...PARTITION_KEYS],
          parameters: {
            EXTERNAL: 'TRUE',
            classification: 'json',
            compressionType: 'gzip',
            // Partition projection: Athena computes the subscription=<name>/dt=YYYY-MM-DD folders
            // from the query's filters instead of looking partitions up, so new days need no crawler
            // or MSCK REPAIR; the subscriptions are the stack's, so a new one comes with its deploy.
            'projection.enabled': 'true',
            [`projection.${SUBSCRIPTION_PARTITION}.type`]: 'enum',
            [`projection.${SUBSCRIPTION_PARTITION}.values`]: subscriptions.join(','),
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${PROJECTION_START},NOW`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': `${location}${SUBSCRIPTION_PARTITION}=\${${SUBSCRIPTION_PARTITION}}/dt=\${dt}/`,
          },
          storageDescriptor: {
            location,
            columns: glueColumns(table),
            inputFormat: JSON_SERDE.inputFormat,
            outputFormat: JSON_SERDE.outputFormat,
            compressed: true,
            serdeInfo: {
              serializationLibrary: JSON_SERDE.library,
              parameters: { ...JSON_SERDE.parameters },
            },
          },
        },
      });
      cfnTable.addResourceDependency(this.database);
      this.tables.set(table.name, cfnTable);
    }

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: `qualys-lake queries over the ${this.databaseName} database`,
      state: 'ENABLED',
      // The stack owns the named queries; let `cdk destroy` remove the workgroup with them.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Users cannot point results elsewhere, turn encryption off or lift the scan limit.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: cutoff,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${bucket.bucketName}/${this.resultsPrefix}`,
          encryptionConfiguration: props.resultsKey
            ? { encryptionOption: 'SSE_KMS', kmsKey: props.resultsKey.keyArn }
            : { encryptionOption: 'SSE_S3' },
          // Result objects belong to the bucket owner even if the bucket's ownership setting changes.
          aclConfiguration: { s3AclOption: 'BUCKET_OWNER_FULL_CONTROL' },
        },
      },
    });

    for (const query of NAMED_QUERIES) {
      const parameters = query.parameters.length
        ? `\n-- Parameters (the console asks for them; type each as a quoted literal):\n${query.parameters
            .map(
              (parameter, index) =>
                `--   ${index + 1}. ${parameter.name}: ${parameter.description}, e.g. '${parameter.example}'`,
            )
            .join('\n')}`
        : '';
      const namedQuery = new athena.CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: this.databaseName,
        workGroup: this.workGroup.ref,
        queryString: `-- ${query.description}${parameters}\n${props.namedQueriesReadViews ? readingViews(query.sql) : query.sql}\n`,
      });
      namedQuery.addResourceDependency(this.database);
      this.namedQueries.set(query.name, namedQuery);
    }
  }

  /**
   * Lets a principal (an analyst role, a BI tool) run queries in the workgroup: Athena on the
   * workgroup, Glue reads of the database and its tables, reads under `curated/` and reads and
   * writes under the results prefix.
   */
  grantQuery(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'athena:StartQueryExecution',
        'athena:StopQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetQueryResultsStream',
        'athena:ListQueryExecutions',
        'athena:GetWorkGroup',
        'athena:ListNamedQueries',
        'athena:GetNamedQuery',
        'athena:BatchGetNamedQuery',
      ],
      resourceArns: [
        stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName }),
      ],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'glue:GetDatabase',
        'glue:GetDatabases',
        'glue:GetTable',
        'glue:GetTables',
        'glue:GetPartition',
        'glue:GetPartitions',
      ],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/*` }),
      ],
    });
    this.bucket.grantRead(grantee, `${PREFIX.curated}*`);
    this.bucket.grantReadWrite(grantee, `${this.resultsPrefix}*`);
    this.resultsKey?.grantEncryptDecrypt(grantee);
  }
}
