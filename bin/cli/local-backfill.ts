/**
 * `qualys-lake backfill --local`: the same plan against the Qualys simulator and fauxqs on this
 * machine, with the cdr-findings bundle built from the sources as deployed; the lake is mirrored to a
 * folder afterwards, where `qualys-lake status --local` and `query --local` read it.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { FunctionName } from '../../functions/core/names';
import { bundleFunction, distDir, PROJECT_ROOT } from '../../lib/bundle';
import { startSimulator } from '../../test/simulator/index';
import { lambdaContext, loadHandler } from '../../test/support/invoke';
import { mirrorBucket, simulatedDeployment, startLocalAws } from '../../test/support/local-aws';
import type { WindowAnswer, WindowInvoker } from './backfill';

export interface LocalLakeRun {
  invoke: WindowInvoker;
  /** Mirrors the bucket to `dir`, stops the servers, and returns how many objects were mirrored. */
  finish(dir: string): Promise<number>;
  /** Calls the simulator served, and how many it refused with 409/429. */
  calls(): { requests: number; refused: number };
}

export async function startLocalBackfill(
  from: Date,
  rateLimit: { limit: number; windowSec: number },
  pageSize: number,
): Promise<LocalLakeRun> {
  const historyHours = Math.ceil((Date.now() - from.getTime()) / 3600_000) + 1;
  if (stale('cdr-findings')) bundleFunction('cdr-findings');
  const simulator = await startSimulator({
    rateLimit: { ...rateLimit, concurrency: 2 },
    cdr: { historyHours },
  });
  const aws = await startLocalAws();
  try {
    const { lake, env } = await simulatedDeployment(aws, simulator.url, { CDR_PAGE_SIZE: String(pageSize) });
    const handler = await loadHandler('cdr-findings', env);
    return {
      invoke: async (event) => (await handler(event, lambdaContext())) as WindowAnswer,
      async finish(dir) {
        try {
          return (await mirrorBucket(aws, lake.bucket, dir)).length;
        } finally {
          await aws.close();
          await simulator.close();
        }
      },
      calls: () => ({ requests: simulator.stats.requests, refused: simulator.stats.rateLimited }),
    };
  } catch (error) {
    await aws.close();
    await simulator.close();
    throw error;
  }
}

/** Whether the built bundle is missing or older than a source file (then it is built again). */
function stale(name: FunctionName): boolean {
  let built: number;
  try {
    built = statSync(path.join(distDir(name), 'index.mjs')).mtimeMs;
  } catch {
    return true;
  }
  const sources = path.join(PROJECT_ROOT, 'functions');
  return readdirSync(sources, { recursive: true, withFileTypes: true }).some(
    (entry) => entry.isFile() && statSync(path.join(entry.parentPath, entry.name)).mtimeMs > built,
  );
}
