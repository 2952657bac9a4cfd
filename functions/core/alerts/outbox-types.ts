import type { AlertCandidate } from './digest';

/** The shapes the alert outbox (outbox.ts) stores and takes. */

export interface Outbox {
  candidates: AlertCandidate[];
  /** Queues too long to hold in memory, written in parts (only with {@link OutboxSpill}). */
  segments?: SegmentRef[];
}

/** One part of a long queue: an object holding `{ candidates }`, and how many it holds. */
export interface SegmentRef {
  key: string;
  count: number;
}

/**
 * How a collector that may queue more alerts than fit in memory keeps them: past `maxInMemory`
 * queued candidates, the outbox holds only their count; its caller can read them back (from the
 * page journal) when the run saves the outbox, which then writes them as segments under `prefix`
 * of `segmentSize` each, and publishing reads one segment at a time.
 */
export interface OutboxSpill {
  /** Ends in `/`; the role may delete under it (a segment is deleted once sent). */
  prefix: string;
  /** @default 5000 */
  maxInMemory?: number;
  /** @default 2000 */
  segmentSize?: number;
}

/** The queued candidates, in the order they were queued, in batches (a page's, say). */
export type CandidateSource = () => AsyncIterable<readonly AlertCandidate[]>;

/** Where a collector keeps its alert outbox and the alerts SNS refused. */
export interface AlertKeys {
  /** `state/<collector>/alert-outbox.json` */
  outbox: string;
  /** `state/<collector>/alerts-rejected/` */
  rejectedPrefix: string;
}

/** When publishing must end, so the outbox is saved before the invocation is cut off. */
export interface PublishWindow {
  /** Epoch ms by which every publish round must be over (rounds still running then are aborted). */
  publishBy: number;
  /** The invocation's abort signal. */
  signal?: AbortSignal;
  now?: () => number;
}

/** What the outbox has sent so far: individual alerts, digests, messages SNS refused (set aside). */
export interface DeliveryCounts {
  alerts: number;
  digests: number;
  rejected: number;
}

export interface FlushResult extends DeliveryCounts {
  /** Set when the publish window closed with alerts still queued. */
  stoppedEarly?: string;
}
