import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { COMPACTED_PARTITIONS, compactedTable } from '../../lib/athena/compaction';
import { TABLES, type TableDef } from '../../lib/athena/tables';
import { openLocalCompaction } from './compaction';

/**
 * The compacted layer as files: DuckDB runs the Athena MERGE of lib/athena/compaction.ts over the
 * local landing zone (tools/local-lake/compaction.ts) and writes each table's compacted rows as
 * Parquet (ZSTD) under `<outDir>/<table>/subscription=<s>/dt=<d>/part-<i>.parquet`, the layout of the
 * Iceberg table's data files. One file per partition-day unless it passes {@link FILE_SIZE}; the
 * partition columns live in the folder names, as in a Hive-partitioned table.
 */

/** Where DuckDB starts a partition's next file: the size Athena reads best (128 MiB to 1 GiB). */
export const FILE_SIZE = '512MB';

export interface CompactedPartition {
  table: string;
  subscription: string;
  dt: string;
  /** The partition's files, relative to `outDir`. */
  files: string[];
  rows: number;
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** Compacts every table of the local lake at `lakeDir` into `outDir` (emptied first). */
export async function writeCompactedLayer(
  lakeDir: string,
  outDir: string,
  tables: readonly TableDef[] = TABLES,
): Promise<CompactedPartition[]> {
  await rm(outDir, { recursive: true, force: true });
  const local = await openLocalCompaction(lakeDir, tables);
  const written: CompactedPartition[] = [];
  try {
    for (const table of tables) {
      const [span] = await local.lake.sql(`SELECT min(dt) AS first, max(dt) AS last FROM ${table.name}`);
      if (!span?.first) continue;
      await local.merge(table, String(span.first), String(span.last));
      const partitions = await local.lake.sql(
        `SELECT subscription, dt, count(*) AS rows FROM ${compactedTable(table.name)} GROUP BY ALL ORDER BY ALL`,
      );
      for (const { subscription, dt, rows } of partitions) {
        const relative = path.join(table.name, `subscription=${subscription}`, `dt=${dt}`);
        const dir = path.join(outDir, relative);
        await mkdir(path.dirname(dir), { recursive: true });
        await local.lake.sql(
          `COPY (SELECT * EXCLUDE (${COMPACTED_PARTITIONS.join(', ')}) FROM ${compactedTable(table.name)}
            WHERE subscription = ${literal(String(subscription))} AND dt = ${literal(String(dt))})
           TO ${literal(dir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '${FILE_SIZE}',
            FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)`,
        );
        const files = await local.lake.sql(`SELECT file FROM glob(${literal(path.join(dir, '*.parquet'))})`);
        written.push({
          table: table.name,
          subscription: String(subscription),
          dt: String(dt),
          files: files.map((file) => path.relative(outDir, String(file.file))).sort(),
          rows: Number(rows),
        });
      }
    }
  } finally {
    local.close();
  }
  return written;
}
