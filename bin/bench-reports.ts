/**
 * Report downloads: the built sdr-reports bundle streaming three reports, one of them 64 MiB, into
 * the archive as multipart uploads; its peak RSS shows whether a file is ever held whole.
 */

import type { ChildMemory } from './bench-child';
import { withCollector, withLake, withQualys } from './bench-harness';
import type { DeployedCollector } from './bench-stack';

export const BIG_REPORT_MIB = 64;

export interface ReportsRun {
  downloaded: number;
  mib: number;
  wallMs: number;
  cpuMs: number;
  apiCalls: number;
  memory: ChildMemory;
}

export async function reportsRun(deployed: DeployedCollector): Promise<ReportsRun> {
  const options = { sdr: { reports: 3, bigReportSizeBytes: BIG_REPORT_MIB * 1024 * 1024 } };
  return withQualys(options, (qualys) =>
    withLake(qualys.url, async (lake) => {
      const { result, memory } = await withCollector('sdr-reports', deployed, lake.env, (collector) =>
        collector.invoke({}, { remainingMs: deployed.timeoutSeconds * 1000 }),
      );
      if (result.error) throw new Error(`sdr-reports: ${result.error}`);
      const summary = result.summary ?? {};
      return {
        downloaded: Number(summary.downloaded ?? 0),
        mib: Number(summary.bytesDownloaded ?? 0) / 1024 / 1024,
        wallMs: result.wallMs,
        cpuMs: result.cpuMs,
        apiCalls: Number(summary.apiCalls ?? 0),
        memory,
      };
    }),
  );
}
