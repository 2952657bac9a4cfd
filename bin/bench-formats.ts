/**
 * The compacted layer against the landing zone (issue 13, item 4): one busy day of cdr_findings,
 * written by the built cdr-findings bundle as deployed (one NDJSON.gz object per page), then
 * compacted by DuckDB as `npm start` does (tools/local-lake/compacted-files.ts, the Athena MERGE of
 * lib/athena/compaction.ts). For a query of three columns over that day: the bytes Athena must read
 * from the NDJSON.gz (every byte of every object: gzip NDJSON cannot skip a column) against the
 * bytes it reads from the Parquet (the three columns' chunks, total_compressed_size in DuckDB's
 * parquet_metadata, plus each file's footer), and the files per partition-day before and after.
 */
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readCdrFindingsSettings } from '../functions/cdr-findings/config';
import { curatedPrefix } from '../functions/core/manifest';
import { CURATED_DATASETS } from '../functions/core/names';
import { TABLES } from '../lib/athena/tables';
import { connectLocalAws, getBytes, listKeys } from '../test/support/local-aws';
import { writeCompactedLayer } from '../tools/local-lake/compacted-files';
import { openLocalLake } from '../tools/local-lake/duckdb';
import { markdown, num, withCollector, withLake, withQualys } from './bench-harness';
import type { DeployedCollector } from './bench-stack';

/** Findings of the busy day (one `dt`). */
export const FORMATS_FINDINGS = 50_000;
/**
 * Two queries of three real cdr_findings columns: one with the finding id (random, 128 bits a row
 * whatever the format: the least a column store can gain) and one a dashboard would run
 * (HIGH/CRITICAL by account and category, as the named query cdr_high_critical_by_account_category).
 */
export const QUERIES = [
  ['uuid', 'severity', 'timestamp'],
  ['severity', 'cspAccount', 'threatCategory'],
] as const;

const DAY = 86_400_000;
const HISTORY_HOURS = 23.9;
const TABLE = CURATED_DATASETS.cdrFindings;

export interface FormatsRun {
  dt: string;
  findings: number;
  pageSize: number;
  ndjsonFiles: number;
  ndjsonBytes: number;
  parquetFiles: number;
  parquetBytes: number;
  /** For each of {@link QUERIES}: its three columns' chunks and the footers. */
  queryBytes: number[];
  compactSeconds: number;
}

/** The footer of a Parquet file: its length (the 4 bytes before the closing `PAR1`) plus those 8 bytes. */
async function footerBytes(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    if (tail.toString('latin1', 4) !== 'PAR1') throw new Error(`${file} does not end like a Parquet file`);
    return tail.readUInt32LE(0) + 8;
  } finally {
    await handle.close();
  }
}

async function sizes(dir: string, suffix: string): Promise<{ files: string[]; bytes: number }> {
  const files = (await readdir(dir))
    .filter((name) => name.endsWith(suffix))
    .map((name) => path.join(dir, name));
  let bytes = 0;
  for (const file of files) bytes += (await stat(file)).size;
  return { files, bytes };
}

export async function formatsRun(deployed: DeployedCollector): Promise<FormatsRun> {
  // The run's clock at midnight UTC: its first window (24 h) is yesterday, and so is every finding.
  const anchor = Math.floor(Date.now() / DAY) * DAY;
  const dt = new Date(anchor - DAY).toISOString().slice(0, 10);
  const options = {
    anchor: new Date(anchor),
    cdr: { historyHours: HISTORY_HOURS, findingsPerHour: FORMATS_FINDINGS / HISTORY_HOURS, lateFindings: 0 },
  };
  const lakeDir = await mkdtemp(path.join(tmpdir(), 'bench-formats-'));
  try {
    await withQualys(options, (qualys) =>
      withLake(qualys.url, async (lake) => {
        const env = { ...lake.env, CDR_LAG_MINUTES: '0' };
        const { result } = await withCollector('cdr-findings', deployed, env, (collector) =>
          collector.invoke({}, { at: anchor, remainingMs: deployed.timeoutSeconds * 1000 }),
        );
        if (result.error) throw new Error(`cdr-findings: ${result.error}`);
        const aws = await connectLocalAws(lake.endpoint.endpoint, lake.endpoint.region);
        try {
          for (const key of await listKeys(aws, lake.bucket, curatedPrefix(TABLE))) {
            const file = path.join(lakeDir, ...key.split('/'));
            await mkdir(path.dirname(file), { recursive: true });
            await writeFile(file, await getBytes(aws, lake.bucket, key));
          }
        } finally {
          await aws.close();
        }
      }),
    );
    const partition = path.join(
      lakeDir,
      ...curatedPrefix(TABLE).split('/'),
      'subscription=default',
      `dt=${dt}`,
    );
    const ndjson = await sizes(partition, '.json.gz');
    const started = performance.now();
    const compacted = await writeCompactedLayer(
      lakeDir,
      path.join(lakeDir, 'compacted'),
      TABLES.filter((table) => table.name === TABLE),
    );
    const compactSeconds = (performance.now() - started) / 1000;
    const day = compacted.find((item) => item.dt === dt);
    if (!day) throw new Error(`no compacted partition for dt=${dt}`);
    const parquet = await sizes(
      path.join(lakeDir, 'compacted', path.dirname(day.files[0] ?? '')),
      '.parquet',
    );
    let footers = 0;
    for (const file of parquet.files) footers += await footerBytes(file);
    const duck = await openLocalLake(lakeDir, []);
    const queryBytes: number[] = [];
    try {
      const list = `[${parquet.files.map((file) => `'${file}'`).join(', ')}]`;
      for (const columns of QUERIES) {
        const [row] = await duck.sql(
          `SELECT sum(total_compressed_size) AS bytes FROM parquet_metadata(${list}) WHERE path_in_schema IN (${columns.map((name) => `'${name}'`).join(', ')})`,
        );
        queryBytes.push(Number(row?.bytes) + footers);
      }
    } finally {
      duck.close();
    }
    return {
      dt,
      findings: day.rows,
      pageSize: readCdrFindingsSettings(deployed.env).pageSize,
      ndjsonFiles: ndjson.files.length,
      ndjsonBytes: ndjson.bytes,
      parquetFiles: parquet.files.length,
      parquetBytes: parquet.bytes,
      queryBytes,
      compactSeconds,
    };
  } finally {
    await rm(lakeDir, { recursive: true, force: true });
  }
}

const mib = (bytes: number) => num(bytes / 2 ** 20, 2);

/** The markdown table of one run. */
export function formatsTable(run: FormatsRun): string {
  const ratio = (ndjson: number, parquet: number, digits = 1) => `${num(ndjson / parquet, digits)} ×`;
  return markdown({
    header: [
      'layer',
      'files in the partition-day',
      'bytes of the day',
      ...QUERIES.map((columns) => `bytes read: ${columns.join(', ')}`),
    ],
    align: ['l', 'r', 'r', ...QUERIES.map(() => 'r' as const)],
    rows: [
      [
        `landing zone, NDJSON.gz (a page of ${run.pageSize} findings an object)`,
        num(run.ndjsonFiles),
        `${mib(run.ndjsonBytes)} MiB`,
        ...QUERIES.map(() => `${mib(run.ndjsonBytes)} MiB (all)`),
      ],
      [
        'compacted layer, Parquet (ZSTD)',
        num(run.parquetFiles),
        `${mib(run.parquetBytes)} MiB`,
        ...run.queryBytes.map((bytes) => `${mib(bytes)} MiB`),
      ],
      [
        'NDJSON.gz ÷ Parquet',
        ratio(run.ndjsonFiles, run.parquetFiles, 0),
        ratio(run.ndjsonBytes, run.parquetBytes),
        ...run.queryBytes.map((bytes) => `**${ratio(run.ndjsonBytes, bytes)}**`),
      ],
    ],
  });
}
