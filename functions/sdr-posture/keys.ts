import { curatedPrefix } from '../core/manifest';
import { ALERTS_REJECTED_FOLDER, CURATED_DATASETS } from '../core/names';
import { safeKeySegment } from '../core/records';
import { sdrPostureManifest } from './manifest';
import type { PairRef, PollRef } from './model';

const RAW = sdrPostureManifest.prefixes.raw;
const STATE = sdrPostureManifest.prefixes.state;
const CURATED = curatedPrefix(CURATED_DATASETS.sdrPosture);

const page5 = (page: number) => String(page).padStart(5, '0');
const connector = (pair: PairRef) => `connector=${safeKeySegment(pair.connectorId)}`;
const policy = (pair: PairRef) => `policy=${safeKeySegment(pair.policyId)}`;

/** S3 keys of the posture collector, deterministic from the poll and request so a re-read page overwrites. */
export const sdrPostureKeys = {
  checkpoint: `${STATE}checkpoint.json`,
  failures: `${STATE}failures.json`,
  outbox: `${STATE}alert-outbox.json`,
  /** Alerts SNS refused for their content, each with its reason. */
  alertsRejected: `${STATE}${ALERTS_REJECTED_FOLDER}`,
  listRaw: (poll: PollRef, list: 'connectors' | 'policies', page: number) =>
    `${RAW}dt=${poll.date}/run=${poll.pollId}/${list}/page=${page5(page)}.json.gz`,
  raw: (poll: PollRef, pair: PairRef, page: number) =>
    `${RAW}dt=${poll.date}/run=${poll.pollId}/${connector(pair)}/${policy(pair)}/page=${page5(page)}.json.gz`,
  curated: (poll: PollRef, pair: PairRef, page: number) =>
    `${sdrPostureKeys.curatedOfPair(poll, pair)}page=${page5(page)}.json.gz`,
  /** The start of the curated keys of one pair in one poll (its pages follow). */
  curatedOfPair: (poll: PollRef, pair: PairRef) =>
    `${CURATED}dt=${poll.date}/${poll.pollId}-${connector(pair)}-${policy(pair)}-`,
  /** Connectors or policies a list page held that the schema refused. */
  rejectedListed: (poll: PollRef, list: 'connectors' | 'policies', page: number) =>
    `${STATE}rejected/run=${poll.pollId}/${list}/page=${page5(page)}.json`,
  /** Controls a /reporting page held that the schema refused. */
  rejectedControls: (poll: PollRef, pair: PairRef, page: number) =>
    `${STATE}rejected/run=${poll.pollId}/${connector(pair)}/${policy(pair)}/page=${page5(page)}.json`,
};

/** The `dt` partition (poll date) of a curated posture key, for the Athena queries in alerts. */
export function curatedDate(curatedKey: string): string | undefined {
  return /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(curatedKey)?.[1];
}
