import { createHash } from 'node:crypto';
import type { Window } from '../core/checkpoint';
import { curatedPrefix } from '../core/manifest';
import { ALERTS_REJECTED_FOLDER, CURATED_DATASETS } from '../core/names';
import { keyTime, utcDate } from '../core/records';
import { cdrFindingsManifest } from './manifest';

const { raw, state, journal } = cdrFindingsManifest.prefixes;
if (!journal) throw new Error('cdr-findings keeps a page journal: its manifest must say journal: true');
const curated = curatedPrefix(CURATED_DATASETS.cdrFindings);

/** S3 keys of the CDR collector. Deterministic from the request, so a retried page overwrites. */
export const cdrFindingsKeys = {
  checkpoint: `${state}checkpoint.json`,
  outbox: `${state}alert-outbox.json`,
  /** Alerts SNS refused for their content, each with its reason. */
  alertsRejected: `${state}${ALERTS_REJECTED_FOLDER}`,
  seenPrefix: `${state}seen/`,
  /** One object per page that found something new; merged into seen/ and the outbox at run end. */
  journalPrefix: `${journal}pages/`,
  /** A queue of alerts too long for memory, in parts, until sent. */
  outboxSegments: `${journal}alerts/`,
  replayCheckpoint: (window: Window) => `${state}replays/${windowId(window)}.json`,
  raw: (window: Window, offset: number) =>
    `${raw}dt=${utcDate(window.endAt)}/window=${windowId(window)}/offset=${offsetId(offset)}.json.gz`,
  /**
   * A curated object holds the page's findings not curated before, so its content depends on what
   * earlier runs stored: the key carries a digest of those uuids. A retry with the same findings
   * overwrites its own object; a replay or a shifted page with other findings never overwrites
   * (and so never loses) the findings an earlier object holds.
   */
  curated: (day: string, window: Window, offset: number, uuids: readonly string[]) =>
    `${curated}dt=${day}/${windowId(window)}-offset=${offsetId(offset)}-${uuidsDigest(uuids)}.json.gz`,
  rejected: (window: Window, offset: number) =>
    `${state}rejected/window=${windowId(window)}/offset=${offsetId(offset)}.json`,
};

function uuidsDigest(uuids: readonly string[]): string {
  return createHash('sha256')
    .update([...uuids].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
}

function windowId(window: Window): string {
  return `${keyTime(window.startAt)}_${keyTime(window.endAt)}`;
}

const offsetId = (offset: number) => String(offset).padStart(7, '0');
