import type { AlertSink } from '../core/ports';

/**
 * The alert sink of a collector that publishes alerts (its `alerts` in collectorHandler), with the
 * SNS client and the publishing code loaded at the first publish, not at import. Most runs have
 * nothing to alert on (the outbox publishes only when it holds alerts) and then never load
 * @aws-sdk/client-sns: code splitting (lib/bundle.ts) keeps it in chunks of its own. A run that does
 * publish loads it once, and the execution environment keeps it for the next invocations.
 */
export const snsAlertsOnDemand = (topicArn: string, signal: AbortSignal | undefined): AlertSink => ({
  async publish(messages, publishSignal) {
    const { snsAlerts } = await import('./sns-alerts');
    return snsAlerts(topicArn, signal).publish(messages, publishSignal);
  },
});
