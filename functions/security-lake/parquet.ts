import type { Zstd } from '@hpcc-js/wasm-zstd';
import { type Fields, schemaElements, toParquetStruct } from './parquet-schema';

/**
 * Parquet as Security Lake asks for it ("Collecting data from custom sources in Security Lake"):
 * ZSTD ("zstandard is preferred"), data pages of at most 1 MB uncompressed, row groups of at most
 * 256 MB compressed. A row group here holds at most {@link ROW_GROUP_ROWS} events; an event of
 * these classes is at most a few KB uncompressed, so a row group stays far below 256 MB.
 */
export const PAGE_BYTES = 1024 * 1024;
export const ROW_GROUP_ROWS = 50_000;
/** zstd's own default level: the files are written once an hour and read by Athena many times. */
const ZSTD_LEVEL = 3;

let zstd: Promise<Zstd> | undefined;

/** Which OCSF class a file holds, in its key-value metadata, for whoever reads the file alone. */
export interface FileLabels {
  classUid: number;
  batchId: string;
}

/** One Parquet file (ZSTD) of `rows`, every row converted to `fields` ({@link toParquetStruct}). */
export async function parquetFile(
  rows: readonly Record<string, unknown>[],
  fields: Fields,
  labels: FileLabels,
): Promise<Uint8Array> {
  // Loaded at the first file, not at import: a run with nothing new to write never parses them
  // (the ZSTD module carries its WebAssembly inline).
  zstd ??= import('@hpcc-js/wasm-zstd').then(({ Zstd }) => Zstd.load());
  const [codec, { ByteWriter, parquetWrite }] = await Promise.all([zstd, import('hyparquet-writer')]);
  const converted = rows.map((row) => toParquetStruct(fields, row, `class ${labels.classUid}`));
  const writer = new ByteWriter();
  await parquetWrite({
    writer,
    schema: schemaElements(fields),
    columnData: Object.keys(fields).map((name) => ({ name, data: converted.map((row) => row[name]) })),
    codec: 'ZSTD',
    compressors: { ZSTD: (bytes: Uint8Array) => codec.compress(bytes, ZSTD_LEVEL) },
    pageSize: PAGE_BYTES,
    rowGroupSize: ROW_GROUP_ROWS,
    createdBy: 'qualys-lake',
    kvMetadata: [
      { key: 'ocsf.class_uid', value: String(labels.classUid) },
      { key: 'qualys-lake.batch', value: labels.batchId },
    ],
  });
  return new Uint8Array(writer.getBuffer());
}
