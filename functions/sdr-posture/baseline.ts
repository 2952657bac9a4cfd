import type { AlertCandidate } from '../core/alerts/digest';
import { levelIcon } from '../core/alerts/levels';
import { chatCode, chatText } from '../core/alerts/markdown';
import { clip, sqlString, subjectLine, text } from '../core/alerts/text';
import { CURATED_DATASETS } from '../core/names';
import type { AlertMessage } from '../core/ports';
import { severityLabel, severityLevel } from '../core/severity';
import {
  connectorLabel,
  controlLabel,
  outboxKey,
  POSTURE_URGENT_FROM,
  type PostureLocation,
  postureAttributes,
  resourceLabel,
  s3PathOf,
} from './alerts';
import { evidenceSentences } from './evidence';
import { sdrPostureKeys } from './keys';
import type { ControlObservation, PairObservation, PairProgress, PollRef } from './model';

/**
 * The first complete read of a (connector, policy) pair sets its baseline: what already fails is
 * sent as one summary instead of one alert per failing resource (SDR_POSTURE_BASELINE_SUMMARY).
 * Later polls alert each new failure on its own, and the recovery of any failure listed here.
 */

/** Failures listed one per line in the email; the rest are counted and left to Athena. */
const EMAIL_LINES = 200;
/** Lines in the chat description. */
const CHAT_LINES = 10;

export type BaselinePair = Pick<
  PairProgress,
  'connectorId' | 'connectorType' | 'connectorName' | 'policyId' | 'policyName'
>;

export interface BaselineSummary {
  pair: BaselinePair;
  poll: PollRef;
  /** Failures at or above SDR_POSTURE_MIN_CRITICALITY: each is listed. */
  failing: readonly ControlObservation[];
  /** Failures below it: counted only. */
  belowMinimum: number;
  notifyRecovery: boolean;
}

const rank = (seen: ControlObservation) => severityLevel(seen.criticality) ?? Number.POSITIVE_INFINITY;

/** Most severe first (an unreadable criticality leads: qualys-lake cannot rule it out), then by control and resource. */
function ordered(failing: readonly ControlObservation[]): ControlObservation[] {
  return [...failing].sort(
    (a, b) =>
      rank(b) - rank(a) ||
      controlLabel(a).localeCompare(controlLabel(b)) ||
      String(a.resourceId).localeCompare(String(b.resourceId)),
  );
}

/** `High 4, Low 2` in the order of `failing`. */
function countsByCriticality(failing: readonly ControlObservation[]): string {
  const counts = new Map<string, number>();
  for (const seen of failing) {
    const label = severityLabel(seen.criticality);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, count]) => `${label} ${count}`).join(', ');
}

function failureLine(seen: ControlObservation): string {
  const resource = resourceLabel(seen);
  const sentences = evidenceSentences(seen.evidence, 'failed', resource).join(' ');
  return `- [${severityLabel(seen.criticality)}] ${controlLabel(seen)} (control ${String(seen.cid)}): ${sentences}`;
}

function athenaQuery({ pair, poll }: BaselineSummary): string {
  return (
    `SELECT criticality, cid, controlName, resourceId, evidenceDetails FROM ${CURATED_DATASETS.sdrPosture} ` +
    `WHERE dt = ${sqlString(poll.date)} AND lake_run_id = ${sqlString(poll.pollId)} ` +
    `AND lake_connector_id = ${sqlString(pair.connectorId)} AND lake_policy_id = ${sqlString(pair.policyId)} ` +
    `AND resourceEvaluationResult = 'Fail' ORDER BY cid`
  );
}

/** Outbox key (and chat id) of a pair's summary in one poll. */
const baselineKey = ({ pair, poll }: BaselineSummary) =>
  outboxKey(`${String(pair.connectorId)}|${String(pair.policyId)}`, 'baseline', poll.pollId);

export function baselineMessage(summary: BaselineSummary, where: PostureLocation): AlertMessage {
  const { pair, poll, belowMinimum } = summary;
  const failing = ordered(summary.failing);
  const worst = failing[0];
  const level = severityLabel(worst?.criticality);
  const connectorName = text(pair.connectorName, String(pair.connectorId));
  const athena = athenaQuery(summary);
  const s3Prefix = s3PathOf(where, sdrPostureKeys.curatedOfPair(poll, pair));
  const listed = failing.slice(0, EMAIL_LINES).map(failureLine);
  const count = `${failing.length} failing ${failing.length === 1 ? 'resource' : 'resources'}`;
  const email = [
    `Qualys SaaSDR posture: first poll of ${connectorName} with policy "${pair.policyName}": ${count}, most severe ${level}`,
    '',
    'qualys-lake records what fails now as the baseline and sends this one summary instead of one alert',
    'per failure. From the next poll on, a resource that starts failing gets its own alert' +
      (summary.notifyRecovery ? ', and each failure listed here gets a notice when it passes again.' : '.'),
    '',
    `By criticality: ${countsByCriticality(failing)}`,
    ...(belowMinimum > 0
      ? [`Also failing, below SDR_POSTURE_MIN_CRITICALITY and not listed: ${belowMinimum}.`]
      : []),
    `Connector:      ${connectorLabel(pair)}`,
    `Policy:         ${pair.policyName}`,
    '',
    'What fails:',
    ...listed,
    ...(failing.length > listed.length
      ? [`- ... and ${failing.length - listed.length} more: the Athena query below lists them all.`]
      : []),
    '',
    'Next steps:',
    `- Fix these settings in the ${text(pair.connectorType)} admin console, or accept the risks in Qualys SaaSDR.`,
    `- Rows of this poll: the objects whose keys start with ${s3Prefix}`,
    `- In Athena: ${athena}`,
    '',
    'Sent by qualys-lake once, at the first poll of this connector and policy.',
    '',
  ].join('\n');
  const title = `${count} on ${connectorName} at its first poll (policy ${pair.policyName}), most severe ${level}`;
  return {
    // Level and count first: SNS email subjects stop at 100 characters, and subjectLine cuts the end.
    subject: subjectLine(`[${level}] ${count} on ${connectorName} at first poll: ${pair.policyName}`),
    email,
    chat: {
      version: '1.0',
      source: 'custom',
      id: baselineKey(summary),
      content: {
        textType: 'client-markdown',
        title: `${levelIcon(worst?.criticality, POSTURE_URGENT_FROM)} ${chatText(clip(title, 250))}`,
        description: [
          `*By criticality:* ${chatText(countsByCriticality(failing))}`,
          ...failing.slice(0, CHAT_LINES).map((seen) => chatText(clip(failureLine(seen), 300))),
          ...(failing.length > CHAT_LINES
            ? [`…and ${failing.length - CHAT_LINES} more (see the email or Athena)`]
            : []),
        ].join('\n'),
        nextSteps: [`Athena: ${chatCode(athena)}`],
        keywords: [level, chatText(text(pair.connectorType)), 'baseline'],
      },
      metadata: {
        threadId: `sdr-posture-baseline-${String(pair.connectorId)}`,
        summary: chatText(title),
        eventType: 'SdrPostureBaseline',
        additionalContext: { count: String(failing.length), kind: 'baseline' },
      },
    },
    attributes: postureAttributes(
      { criticality: worst?.criticality ?? null, connectorType: pair.connectorType },
      'baseline',
    ),
    keep: [s3Prefix, athena, chatCode(athena)],
  };
}

/** The summary as one outbox entry, keyed by pair and poll so a repeated comparison queues it once. */
export function baselineCandidate(summary: BaselineSummary, where: PostureLocation): AlertCandidate {
  const { pair } = summary;
  const worst = ordered(summary.failing)[0];
  return {
    key: baselineKey(summary),
    rank: severityLevel(worst?.criticality) ?? 0,
    line: `BASELINE ${summary.failing.length} failing on connector ${String(pair.connectorId)} (${pair.policyName})`,
    attributes: postureAttributes(
      { criticality: worst?.criticality ?? null, connectorType: pair.connectorType },
      'baseline',
    ),
    message: baselineMessage(summary, where),
  };
}

/** The baseline summary of a pair's first complete read: none when nothing at or above the minimum fails. */
export function baselineCandidates(
  read: {
    pair: BaselinePair;
    poll: PollRef;
    /** What comparePair would alert: failing at or above the minimum, not alerted before. */
    failing: readonly ControlObservation[];
    observed: PairObservation;
    meetsThreshold: (criticality: string | null) => boolean;
    settings: { notifyRecovery: boolean };
  },
  where: PostureLocation,
): AlertCandidate[] {
  const { pair, poll, failing, observed, meetsThreshold, settings } = read;
  if (failing.length === 0) return [];
  const belowMinimum = Object.values(observed.failing).filter((seen) => !meetsThreshold(seen.criticality));
  return [
    baselineCandidate(
      { pair, poll, failing, belowMinimum: belowMinimum.length, notifyRecovery: settings.notifyRecovery },
      where,
    ),
  ];
}
