import { describe, expect, it } from 'vitest';
import { sdrReportsKeys } from '../../../functions/sdr-reports/keys';
import { sdrReportsManifest } from '../../../functions/sdr-reports/manifest';
import type { ArchivableReport, ListingPass } from '../../../functions/sdr-reports/model';

const pass: ListingPass = { runId: '20250510T000000Z', startedAt: '2025-05-10T00:00:00.000Z', nextPage: 0 };
const report = (overrides: Partial<ArchivableReport> = {}): ArchivableReport => ({
  fileUuid: 'r-1',
  createdAt: '2025-05-08T05:13:37.000Z',
  fileFormat: 'csv',
  ...overrides,
});

describe('sdrReportsKeys', () => {
  it('builds every key the collector writes', () => {
    expect(sdrReportsKeys.checkpoint).toBe('state/sdr-reports/checkpoint.json');
    expect(sdrReportsKeys.raw(pass, 3)).toBe(
      'raw/sdr-reports/dt=2025-05-10/run=20250510T000000Z/page=00003.json.gz',
    );
    expect(sdrReportsKeys.rejected(pass, 3)).toBe(
      'state/sdr-reports/rejected/run=20250510T000000Z/page=00003.json',
    );
    expect(sdrReportsKeys.file(report())).toBe('reports/sdr-reports/dt=2025-05-08/r-1/report.csv');
    expect(sdrReportsKeys.metadata(report())).toBe('reports/sdr-reports/dt=2025-05-08/r-1/metadata.json');
    expect(sdrReportsKeys.curated(report())).toBe('curated/sdr_reports/dt=2025-05-08/r-1.json.gz');
  });

  it('names the file by its listed format, and .bin without one', () => {
    expect(sdrReportsKeys.file(report({ fileFormat: ' PDF ' }))).toMatch(/\/report\.pdf$/);
    expect(sdrReportsKeys.file(report({ fileFormat: null }))).toMatch(/\/report\.bin$/);
    expect(sdrReportsKeys.file(report({ fileFormat: 'x/y' }))).toMatch(/\/report\.x%2Fy$/);
  });

  it('writes only under prefixes the manifest grants, and reads back its state and files', () => {
    const written = [
      sdrReportsKeys.checkpoint,
      sdrReportsKeys.raw(pass, 0),
      sdrReportsKeys.rejected(pass, 0),
      sdrReportsKeys.file(report()),
      sdrReportsKeys.metadata(report()),
      sdrReportsKeys.curated(report()),
    ];
    for (const key of written) {
      expect(
        sdrReportsManifest.writes.some((prefix) => key.startsWith(prefix)),
        key,
      ).toBe(true);
    }
    for (const key of [sdrReportsKeys.checkpoint, sdrReportsKeys.metadata(report())]) {
      expect(
        sdrReportsManifest.reads.some((prefix) => key.startsWith(prefix)),
        key,
      ).toBe(true);
    }
  });
});
