import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export type ParquetRow = Record<string, unknown>;

/** What DuckDB reads from Parquet files: their rows (as JSON values) and footer metadata. */
export interface ParquetReadBack {
  rows(sql?: string): Promise<ParquetRow[]>;
  /** parquet_metadata(): one row per column chunk (compression, row group, sizes). */
  metadata(): Promise<ParquetRow[]>;
  /** The files' key-value metadata, key to value (the last file's wins). */
  kvMetadata(): Promise<Record<string, string>>;
  /** DESCRIBE of read_parquet: column name to DuckDB type. */
  columns(): Promise<Record<string, string>>;
}

/**
 * Writes `files` (name to bytes) to a temp folder and reads them with DuckDB, as a query engine
 * would: `rows` runs `SELECT … FROM files` where `files` is a view over read_parquet of them all.
 */
export async function readParquet<T>(
  files: ReadonlyMap<string, Uint8Array>,
  use: (read: ParquetReadBack) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'parquet-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const paths: string[] = [];
    let index = 0;
    for (const body of files.values()) {
      const file = path.join(dir, `${index++}.parquet`);
      await writeFile(file, body);
      paths.push(file);
    }
    const list = `[${paths.map((file) => `'${file}'`).join(', ')}]`;
    await connection.run(`CREATE VIEW files AS SELECT * FROM read_parquet(${list}, filename = true)`);
    const json = async (sql: string) => {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as ParquetRow[];
    };
    return await use({
      rows: (sql = 'SELECT * FROM files') => json(sql),
      metadata: () => json(`SELECT * FROM parquet_metadata(${list})`),
      kvMetadata: async () =>
        Object.fromEntries(
          (
            await json(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${list})`)
          ).map((row) => [String(row.key), String(row.value)]),
        ),
      columns: async () =>
        Object.fromEntries(
          (await json(`DESCRIBE SELECT * EXCLUDE (filename) FROM files`)).map((row) => [
            String(row.column_name),
            String(row.column_type),
          ]),
        ),
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}
