import type { AlertSink } from '../core/ports';

/**
 * The alert sink of a collector that publishes alerts (its `alerts` in collectorHandler), with the
 * SNS client and the publishing code loaded once the run holds an alert (`prepare`, called by the
 * outbox; at the latest at the first publish), not at import. Most runs have nothing to alert on
 * and then never load @aws-sdk/client-sns: code splitting (lib/bundle.ts) keeps it in chunks of its
 * own. A run that does alert loads it while it still waits on Qualys and S3, once, and the
 * execution environment keeps it for the next invocations.
 */
export function snsAlertsOnDemand(topicArn: string, signal: AbortSignal | undefined): AlertSink {
  let loading: Promise<typeof import('./sns-alerts')> | undefined;
  const load = () => {
    loading ??= import('./sns-alerts');
    return loading;
  };
  return {
    // Once the run holds an alert, the chunks load while it still waits on Qualys and S3.
    prepare() {
      load().catch(() => undefined);
    },
    async publish(messages, publishSignal) {
      const { snsAlerts } = await load();
      return snsAlerts(topicArn, signal).publish(messages, publishSignal);
    },
  };
}
