import { describe, expect, it } from 'vitest';
import { cdrDetectionFinding, type DetectionFinding } from '../../../functions/ocsf/detection-finding';
import { OCSF_WRITERS } from '../../../functions/security-lake/classes';
import { parquetFile } from '../../../functions/security-lake/parquet';
import type { StructOf } from '../../../functions/security-lake/parquet-schema';
import { readParquet } from '../../support/parquet-read';
import { cdrFinding, curatedCdrFindings, curatedPostureRows, curatedUsers } from '../ocsf/samples';

const writer = OCSF_WRITERS.detectionFinding;
const file = (records: Record<string, unknown>[]) =>
  parquetFile(
    records.map((record) => writer.map(record) as unknown as Record<string, unknown>),
    writer.fields,
    { classUid: 2004, batchId: 'b1' },
  );

describe('OCSF Parquet files', () => {
  it('type every column the same in every file, whatever attributes a batch happens to have', async () => {
    // The sample has resources and no evidences; a bare finding has neither, nor an account.
    const full = await file(curatedCdrFindings());
    const bare = await file([
      cdrFinding({
        uuid: 'bare',
        resourceId: null,
        affectedResource: null,
        cspAccount: null,
        cspRegion: null,
      }),
    ]);

    const fullColumns = await readParquet(new Map([['f', full]]), (read) => read.columns());
    const bareColumns = await readParquet(new Map([['f', bare]]), (read) => read.columns());

    expect(bareColumns).toEqual(fullColumns);
    expect(fullColumns).toMatchObject({
      class_uid: 'INTEGER',
      type_uid: 'BIGINT',
      time: 'BIGINT',
      unmapped: 'MAP(VARCHAR, VARCHAR)',
    });
    expect(fullColumns.finding_info).toContain('first_seen_time BIGINT');
    expect(fullColumns.evidences).toMatch(
      /^STRUCT\(src_endpoint STRUCT\(ip VARCHAR.*port INTEGER.*coordinates DOUBLE\[\]/,
    );
  });

  it('are ZSTD, hold what the mapping made, and say their class in the footer', async () => {
    const events = curatedCdrFindings().map(cdrDetectionFinding);
    const body = await file(curatedCdrFindings());

    await readParquet(new Map([['f', body]]), async (read) => {
      const chunks = await read.metadata();
      expect(new Set(chunks.map((chunk) => chunk.compression))).toEqual(new Set(['ZSTD']));
      const rows = await read.rows(
        "SELECT class_uid, finding_info.uid AS uid, time, unmapped['lake_raw_key'] AS raw FROM files",
      );
      expect(rows).toEqual(
        events.map((event) => ({
          class_uid: 2004,
          uid: event.finding_info.uid,
          time: String(event.time),
          raw: 'raw/cdr-findings/dt=2025-05-09/page.json.gz',
        })),
      );
      expect(await read.kvMetadata()).toMatchObject({ 'ocsf.class_uid': '2004', 'qualys-lake.batch': 'b1' });
    });
  });

  it('write every class of the mapping from the vendor samples', async () => {
    const samples = {
      detectionFinding: curatedCdrFindings(),
      complianceFinding: curatedPostureRows(),
      userInventory: curatedUsers(),
    };
    for (const [name, records] of Object.entries(samples) as [
      keyof typeof samples,
      Record<string, unknown>[],
    ][]) {
      const classWriter = OCSF_WRITERS[name];
      const body = await parquetFile(
        records.map((record) => classWriter.map(record) as unknown as Record<string, unknown>),
        classWriter.fields,
        { classUid: classWriter.ocsfClass.class_uid, batchId: 'b' },
      );
      const rows = await readParquet(new Map([['f', body]]), (read) =>
        read.rows('SELECT DISTINCT class_uid FROM files'),
      );
      expect(rows, name).toEqual([{ class_uid: classWriter.ocsfClass.class_uid }]);
    }
  });

  it('refuse a value that does not fit its column, naming where it is', async () => {
    const event = { ...writer.map(cdrFinding()), severity_id: 'High' };
    await expect(
      parquetFile([event as unknown as Record<string, unknown>], writer.fields, {
        classUid: 2004,
        batchId: 'b',
      }),
    ).rejects.toThrow('class 2004.severity_id must be a number, got "High"');
  });

  it('have a schema the compiler holds to the OCSF interfaces', () => {
    // @ts-expect-error a class schema without one of the interface's attributes does not compile
    const missing: StructOf<DetectionFinding> = { ...writer.fields, evidences: undefined };
    expect(missing).toBeDefined();
  });
});
