import type { OcsfEvent } from '../ocsf/event';
import type { Batch } from './batch';
import type { OcsfWriter } from './classes';
import type { SecurityLakeSource, SecurityLakeTarget } from './manifest';
import { parquetFile } from './parquet';

/** One Parquet file of a batch: one class, one eventDay. */
export interface BatchFile {
  key: string;
  eventDay: string;
  rows: number;
  body: Uint8Array;
}

/** A record the class could not hold, with why (its curated object keeps it). */
export interface RejectedRecord {
  reason: string;
  record: Record<string, unknown>;
}

/** `eventDay=` of an event: the UTC day of its `time`, as YYYYMMDD. */
export function eventDay(time: number): string {
  return new Date(time).toISOString().slice(0, 10).replace(/-/g, '');
}

/**
 * The key of a batch's file for one eventDay, in Security Lake's layout:
 * `<source location>region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<file>`. The file name
 * is the subscription and the batch id, so a batch written again replaces its own files.
 */
export function fileKey(
  source: SecurityLakeSource,
  target: Pick<SecurityLakeTarget, 'region' | 'accountId'>,
  day: string,
  subscription: string,
  batchId: string,
): string {
  return `${source.prefix}region=${target.region}/accountId=${target.accountId}/eventDay=${day}/qualys-lake-${subscription}-${batchId}.zstd.parquet`;
}

/**
 * The files of a batch: every record mapped to the class (a record the mapping refuses is set
 * aside with its reason), split by eventDay, each day's events ordered by time (Security Lake's
 * "Sorting" recommendation) and then by `metadata.uid`, so a batch written again has the same rows
 * in the same order.
 */
export async function batchFiles(
  batch: Batch,
  writer: OcsfWriter,
  keyOf: (day: string) => string,
): Promise<{ files: BatchFile[]; rejected: RejectedRecord[] }> {
  const byDay = new Map<string, OcsfEvent[]>();
  const rejected: RejectedRecord[] = [];
  for (const record of batch.records) {
    let event: OcsfEvent;
    try {
      event = writer.map(record);
    } catch (error) {
      rejected.push({ reason: error instanceof Error ? error.message : String(error), record });
      continue;
    }
    const day = eventDay(event.time);
    const events = byDay.get(day) ?? [];
    events.push(event);
    byDay.set(day, events);
  }
  const files: BatchFile[] = [];
  for (const day of [...byDay.keys()].sort()) {
    const events = (byDay.get(day) ?? []).sort(byTimeThenUid);
    const body = await parquetFile(events as unknown as Record<string, unknown>[], writer.fields, {
      classUid: writer.ocsfClass.class_uid,
      batchId: batch.id,
    });
    files.push({ key: keyOf(day), eventDay: day, rows: events.length, body });
  }
  return { files, rejected };
}

function byTimeThenUid(a: OcsfEvent, b: OcsfEvent): number {
  if (a.time !== b.time) return a.time - b.time;
  const left = a.metadata.uid ?? '';
  const right = b.metadata.uid ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}
