/**
 * The lake formats of `npm start` (issue 13, item 4): after the collectors ran and the bucket was
 * mirrored to ./local-lake, the Security Lake writer turns the curated records of one subscription
 * into OCSF Parquet (mirrored to ./local-lake/security-lake/ext/<source>/region=…/accountId=…/
 * eventDay=…/), and DuckDB writes the compacted layer (./local-lake/compacted/<table>/
 * subscription=…/dt=…/). bin/local-run.ts prints what this returns; test/integration/
 * local-formats.test.ts reads the files back.
 */
import * as path from 'node:path';
import type { SecurityLakeClass } from '../functions/security-lake/manifest';
import type { ClassSummary } from '../functions/security-lake/run';
import { type LocalAws, mirrorBucket } from '../test/support/local-aws';
import { type CompactedPartition, writeCompactedLayer } from '../tools/local-lake/compacted-files';
import { runLocalSecurityLake } from '../tools/local-lake/security-lake';

export const SECURITY_LAKE_DIR = 'security-lake';
export const COMPACTED_DIR = 'compacted';

export interface LocalFormats {
  securityLake: Partial<Record<SecurityLakeClass, ClassSummary>>;
  /** The Security Lake files, as paths under `<lakeDir>/security-lake/`. */
  securityLakeFiles: string[];
  compacted: CompactedPartition[];
}

/** Both formats from the lake in `bucket`, whose copy is `lakeDir` (bin/local-run.ts mirrors it first). */
export async function writeLocalFormats(options: {
  aws: LocalAws;
  bucket: string;
  lakeDir: string;
  subscription: string;
}): Promise<LocalFormats> {
  const { aws, bucket, lakeDir, subscription } = options;
  const destinationBucket = `${bucket}-securitylake`;
  const securityLake = await runLocalSecurityLake({
    s3: aws.s3,
    archiveBucket: bucket,
    destinationBucket,
    subscription,
  });
  const securityLakeFiles = await mirrorBucket(aws, destinationBucket, path.join(lakeDir, SECURITY_LAKE_DIR));
  const compacted = await writeCompactedLayer(lakeDir, path.join(lakeDir, COMPACTED_DIR));
  return { securityLake, securityLakeFiles, compacted };
}

/** What bin/local-run.ts prints about them: files, rows, and how to read them with DuckDB. */
export function describeLocalFormats({ securityLake, compacted }: LocalFormats): string[] {
  const lines: string[] = [];
  for (const [name, summary] of Object.entries(securityLake)) {
    lines.push(
      `  ${name.padEnd(18)} ${String(summary.files.length).padStart(3)} files ${String(summary.records).padStart(6)} rows` +
        `${summary.rejected ? ` (${summary.rejected} set aside)` : ''}`,
    );
  }
  lines.push(
    `  duckdb -c "SELECT class_uid, count(*) FROM read_parquet('local-lake/${SECURITY_LAKE_DIR}/ext/*/*/*/*/*.parquet') GROUP BY 1"`,
    '',
    `  compacted layer under ./local-lake/${COMPACTED_DIR}/<table>/subscription=<s>/dt=<d>/ (Parquet, ZSTD):`,
  );
  const tables = new Map<string, { partitions: number; files: number; rows: number }>();
  for (const partition of compacted) {
    const table = tables.get(partition.table) ?? { partitions: 0, files: 0, rows: 0 };
    table.partitions++;
    table.files += partition.files.length;
    table.rows += partition.rows;
    tables.set(partition.table, table);
  }
  for (const [name, table] of tables) {
    lines.push(
      `  ${name.padEnd(18)} ${String(table.partitions).padStart(3)} partition-days ${String(table.files).padStart(3)} files ${String(table.rows).padStart(6)} rows`,
    );
  }
  lines.push(
    `  duckdb -c "SELECT dt, count(*) FROM read_parquet('local-lake/${COMPACTED_DIR}/cdr_findings/*/*/*.parquet', hive_partitioning = true) GROUP BY dt"`,
  );
  return lines;
}
