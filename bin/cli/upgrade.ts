/**
 * `qualys-lake upgrade`: moves a single-subscription deployment's state and curated data into the
 * `default` subscription's layout (README, "Upgrading from a single-subscription deployment").
 * Every legacy object under `state/` and `curated/`, and each report's `metadata.json` (the mark
 * that says "archived"), is copied to its key with the `subscription=default` level: server-side in
 * S3, file by file locally. Raw pages and report files stay where they are: the lineage fields of
 * the records that point at them stay true. Idempotent and resumable: a copy already in place (same
 * size and digest) is skipped. Once every copy is in place it writes the upgrade marker, and only
 * with `--delete-legacy`, after checking each copy once more, deletes the legacy objects.
 */
import { isLegacyKey, UPGRADE_MARKER } from '../../functions/core/legacy-layout';
import { PREFIX } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopeKey } from '../../functions/core/subscription';
import { localDir, UsageError } from './options';
import type { ObjectInfo, UpgradeTarget } from './upgrade-targets';

export interface UpgradeOptions {
  /** List what would be copied; write and delete nothing. */
  dryRun?: boolean;
  /** Delete the legacy objects once their copies are verified. */
  deleteLegacy?: boolean;
  /** Copies in flight at once. @default 16 */
  concurrency?: number;
  now?: () => Date;
}

export interface UpgradeReport {
  where: string;
  dryRun: boolean;
  /** Legacy objects that move, by top-level area. */
  legacy: { state: number; curated: number; reportMetadata: number };
  /** Copies made (with `dryRun`, that would be made). */
  copied: number;
  /** Copies found in place (an earlier, interrupted upgrade made them). */
  alreadyInPlace: number;
  bytesCopied: number;
  /** Whether the marker that lets the `default` functions start is (now) written. */
  upgraded: boolean;
  deleted: number;
}

/** The legacy objects the upgrade moves: state, curated data, and reports' metadata.json. */
export function movesInUpgrade(key: string): boolean {
  if (!isLegacyKey(key)) return false;
  if (key.startsWith(PREFIX.state) || key.startsWith(PREFIX.curated)) return true;
  return key.startsWith(PREFIX.reports) && key.endsWith('/metadata.json');
}

/** Where a legacy object goes: the same key, in the `default` subscription's layout. */
export const upgradedKey = (key: string): string => scopeKey(key, DEFAULT_SUBSCRIPTION);

/** Same size, and the same digest where both are comparable (S3 gives a multipart object's ETag another form). */
export function sameObject(a: ObjectInfo, b: ObjectInfo): boolean {
  if (a.size !== b.size) return false;
  const simple = (etag?: string) => etag !== undefined && !etag.includes('-');
  return !(simple(a.etag) && simple(b.etag)) || a.etag === b.etag;
}

/**
 * Checkpoints last: a collector whose checkpoint is in place starts (core/legacy-layout.ts), so by
 * then everything it reads (seen index, outbox, open posture failures) must be there too.
 */
const isCheckpoint = (key: string) => key.endsWith('/checkpoint.json');
const checkpointsLast = (a: ObjectInfo, b: ObjectInfo) =>
  Number(isCheckpoint(a.key)) - Number(isCheckpoint(b.key));

/** Runs `work` on every item, at most `limit` at a time. */
async function eachInParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

async function legacyObjects(target: UpgradeTarget): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  for (const prefix of [PREFIX.state, PREFIX.curated, PREFIX.reports]) {
    for await (const object of target.list(prefix)) if (movesInUpgrade(object.key)) found.push(object);
  }
  return found.sort(checkpointsLast);
}

export async function upgradeLake(
  target: UpgradeTarget,
  options: UpgradeOptions = {},
  print: (text: string) => void = console.log,
): Promise<UpgradeReport> {
  const dryRun = options.dryRun ?? false;
  const legacy = await legacyObjects(target);
  // Once upgraded, the collectors move on: a copy in place is theirs now, never overwritten again.
  const upgradedBefore = (await target.head(UPGRADE_MARKER)) !== undefined;
  const report: UpgradeReport = {
    where: target.where,
    dryRun,
    legacy: {
      state: legacy.filter(({ key }) => key.startsWith(PREFIX.state)).length,
      curated: legacy.filter(({ key }) => key.startsWith(PREFIX.curated)).length,
      reportMetadata: legacy.filter(({ key }) => key.startsWith(PREFIX.reports)).length,
    },
    copied: 0,
    alreadyInPlace: 0,
    bytesCopied: 0,
    upgraded: upgradedBefore,
    deleted: 0,
  };
  const inPlace = (object: ObjectInfo, copy: ObjectInfo | undefined) =>
    copy !== undefined && (upgradedBefore || sameObject(object, copy));

  await eachInParallel(legacy, options.concurrency ?? 16, async (object) => {
    const to = upgradedKey(object.key);
    if (inPlace(object, await target.head(to))) {
      report.alreadyInPlace++;
      return;
    }
    if (!dryRun) {
      await target.copy(object.key, to);
      const copy = await target.head(to);
      if (!copy || !sameObject(object, copy)) {
        throw new Error(
          `the copy of ${object.key} at ${to} does not match it (size or digest); run upgrade again`,
        );
      }
    }
    report.copied++;
    report.bytesCopied += object.size;
  });

  if (!dryRun && !upgradedBefore) {
    const { legacy: counts, copied, alreadyInPlace } = report;
    const marker = {
      upgradedAt: (options.now?.() ?? new Date()).toISOString(),
      legacy: counts,
      copied,
      alreadyInPlace,
    };
    await target.put(UPGRADE_MARKER, `${JSON.stringify(marker, null, 2)}\n`);
    report.upgraded = true;
  }

  if (options.deleteLegacy && !dryRun) {
    const verified: string[] = [];
    await eachInParallel(legacy, options.concurrency ?? 16, async (object) => {
      const copy = await target.head(upgradedKey(object.key));
      if (!copy) throw new Error(`${upgradedKey(object.key)} is missing; nothing deleted, run upgrade again`);
      verified.push(object.key);
    });
    await target.delete(verified);
    report.deleted = verified.length;
  }
  print(formatUpgrade(report));
  return report;
}

export function formatUpgrade(report: UpgradeReport): string {
  const { legacy } = report;
  const total = legacy.state + legacy.curated + legacy.reportMetadata;
  const lines = [
    `${report.dryRun ? 'Dry run: ' : ''}upgrade of ${report.where} to the subscription layout (subscription ${DEFAULT_SUBSCRIPTION})`,
    `  legacy objects that move: ${total} (state ${legacy.state}, curated ${legacy.curated}, report metadata ${legacy.reportMetadata})`,
    `  ${report.dryRun ? 'would copy' : 'copied'}: ${report.copied} (${report.bytesCopied} bytes); already in place: ${report.alreadyInPlace}`,
    '  raw pages and report files stay where they are (the lineage fields of the records point at them)',
  ];
  if (report.dryRun) lines.push('  nothing was written');
  else if (report.deleted > 0) lines.push(`  legacy objects deleted: ${report.deleted}`);
  else
    lines.push(
      '  upgraded: the collectors of subscription default start again; legacy objects kept (--delete-legacy removes them)',
    );
  return lines.join('\n');
}

/** The verb: `--bucket NAME` (AWS credentials from the environment) or `--local [DIR]`. */
export async function upgradeCommand(
  options: { bucket?: string; local?: string | true; dryRun?: boolean; deleteLegacy?: boolean },
  print: (text: string) => void,
): Promise<UpgradeReport> {
  const { bucketTarget, folderTarget, isFolder } = await import('./upgrade-targets');
  if ((options.bucket === undefined) === (options.local === undefined)) {
    throw new UsageError('name the lake to upgrade: --bucket NAME or --local [DIR]');
  }
  if (options.dryRun && options.deleteLegacy)
    throw new UsageError('--dry-run deletes nothing: drop --delete-legacy');
  let target: UpgradeTarget;
  if (options.local !== undefined) {
    const dir = localDir(options.local);
    if (!(await isFolder(dir))) throw new UsageError(`no local lake at ${dir}`);
    target = folderTarget(dir);
  } else {
    target = bucketTarget(options.bucket as string);
  }
  return upgradeLake(target, { dryRun: options.dryRun, deleteLegacy: options.deleteLegacy }, print);
}
