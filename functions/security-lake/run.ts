import type { ObjectStore, RunLogger } from '../core/ports';
import { ScopedStore } from '../core/scoped-store';
import {
  type BatchLimits,
  type CuratedListing,
  finishBatch,
  listCurated,
  lookbackDays,
  nextBatch,
  readCheckpoint,
  rejectedKey,
  saveCheckpoint,
  startBatch,
} from './batch';
import { OCSF_WRITERS } from './classes';
import { batchFiles, fileKey } from './files';
import {
  SECURITY_LAKE_CLASSES,
  type SecurityLakeClass,
  type SecurityLakeSource,
  type SecurityLakeTarget,
} from './manifest';

/** What one run of the writer needs; the handler builds it from the environment. */
export interface SecurityLakeRun {
  /** The archive bucket: curated objects in, batch checkpoints in and out (read as `subscription`'s). */
  archive: ObjectStore;
  /** The Security Lake bucket as one source's provider role may write it (STS AssumeRole). */
  destination(name: SecurityLakeClass, source: SecurityLakeSource): Promise<ObjectStore>;
  target: SecurityLakeTarget;
  subscription: string;
  /** Days of `dt=` partitions to look through (README "Amazon Security Lake"). */
  lookbackDays: number;
  limits: BatchLimits;
  logger: RunLogger;
  /** Epoch ms after which no new batch starts; the one running finishes or stays pending. */
  deadline: number;
  /** Batches one class may write in one run (a catch-up spreads over runs). */
  maxBatchesPerClass: number;
  now?: () => Date;
}

export interface ClassSummary {
  batches: number;
  /** Batches a failed run had left pending, written again. */
  resumed: number;
  objects: number;
  records: number;
  rejected: number;
  files: string[];
}

export const DEFAULT_LIMITS: BatchLimits = { maxRecords: 100_000, maxObjects: 5_000 };

/** Every enabled class, one after another; a failing class fails the run after the others ran. */
export async function runSecurityLake(
  run: SecurityLakeRun,
): Promise<Partial<Record<SecurityLakeClass, ClassSummary>>> {
  const summaries: Partial<Record<SecurityLakeClass, ClassSummary>> = {};
  const failures: string[] = [];
  // The subscription's keys, placed in the bucket as the collectors place them.
  const archive = new ScopedStore(run.archive, run.subscription);
  for (const [name, source] of Object.entries(run.target.sources) as [
    SecurityLakeClass,
    SecurityLakeSource,
  ][]) {
    try {
      summaries[name] = await runClass(run, archive, name, source);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      run.logger.error('Security Lake class failed; its pending batch is written again next run', {
        class: name,
        error: message,
      });
      failures.push(`${name}: ${message}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`Security Lake writer failed for ${failures.join('; ')}`);
  }
  return summaries;
}

/** The batches of one class, each: pending saved, files written, then the checkpoint moved. */
async function runClass(
  run: SecurityLakeRun,
  /** The subscription's keys of the archive bucket. */
  archive: ScopedStore,
  name: SecurityLakeClass,
  source: SecurityLakeSource,
): Promise<ClassSummary> {
  const now = run.now ?? (() => new Date());
  const dataset = SECURITY_LAKE_CLASSES[name];
  const writer = OCSF_WRITERS[name];
  const days = lookbackDays(now(), run.lookbackDays);
  const summary: ClassSummary = { batches: 0, resumed: 0, objects: 0, records: 0, rejected: 0, files: [] };
  let checkpoint = await readCheckpoint(archive, name);
  let destination: ObjectStore | undefined;
  let listed: Promise<CuratedListing> | undefined;
  /** Listed objects found gone when their batch read them: not asked for again in this run. */
  const gone = new Set<string>();
  const listing = () => {
    listed ??= listCurated(archive, dataset, days);
    return listed;
  };
  for (let count = 0; count < run.maxBatchesPerClass && Date.now() < run.deadline; count++) {
    const next = await nextBatch(archive, checkpoint, listing, run.limits, gone);
    if (!next) break;
    const { batch, resumed } = next;
    if (!resumed) {
      checkpoint = startBatch(checkpoint, batch);
      await saveCheckpoint(archive, name, checkpoint, now());
    }
    const { files, rejected } = await batchFiles(batch, writer, (day) =>
      fileKey(source, run.target, day, run.subscription, batch.id),
    );
    if (rejected.length > 0) {
      await archive.put(rejectedKey(name, batch.id), JSON.stringify(rejected), {
        contentType: 'application/json',
      });
    }
    if (files.length > 0) {
      // The provider role is assumed once per class and run, and only when there is a file to write.
      destination ??= await run.destination(name, source);
      for (const file of files) {
        await destination.put(file.key, file.body, { contentType: 'application/vnd.apache.parquet' });
      }
    }
    checkpoint = finishBatch(checkpoint, dataset, days);
    await saveCheckpoint(archive, name, checkpoint, now());
    summary.batches++;
    if (resumed) summary.resumed++;
    const objects = batch.keys.length - batch.missing.length;
    summary.objects += objects;
    summary.records += files.reduce((sum, file) => sum + file.rows, 0);
    summary.rejected += rejected.length;
    summary.files.push(...files.map((file) => file.key));
    run.logger.info('Security Lake batch written', {
      class: name,
      batch: batch.id,
      resumed,
      objects,
      missing: batch.missing.length,
      files: files.map(({ key, rows, body }) => ({ key, rows, bytes: body.byteLength })),
      rejected: rejected.length,
    });
  }
  return summary;
}
