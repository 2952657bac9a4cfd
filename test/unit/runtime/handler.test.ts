import { HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { cdrFindingsManifest } from '../../../functions/cdr-findings/manifest';
import type { CollectorManifest } from '../../../functions/core/manifest';
import type { AlertSink } from '../../../functions/core/ports';
import { ABORT_MARGIN_MS, emptyRunCounts } from '../../../functions/core/run';
import {
  type AlertSinkFactory,
  type CollectorRuntime,
  collectorHandler,
  lambda,
} from '../../../functions/runtime/handler';
import { sdrInventoryManifest } from '../../../functions/sdr-inventory/manifest';

/** The bucket the handlers see: every HEAD finds its object (the checkpoint of a collector that ran before). */
const s3 = mockClient(S3Client);
beforeEach(() => {
  s3.reset();
  s3.on(HeadObjectCommand).resolves({});
});

const contextWithMs = (remainingMs: number) => ({
  functionName: 'qualys-lake-test',
  awsRequestId: 'test',
  getRemainingTimeInMillis: () => remainingMs,
});

describe('lambda', () => {
  it('aborts the run at the early timeout and ends the invocation only once the run has settled', async () => {
    const steps: string[] = [];
    const handler = lambda(async (_event: unknown, _context, signal) => {
      await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
      steps.push('aborted');
      // What an aborted run still does before it settles: its calls fail, it ends its steps.
      await new Promise((resolve) => setTimeout(resolve, 50));
      steps.push('settled');
      throw new Error('the run was cut off');
    });

    await expect(handler({}, contextWithMs(ABORT_MARGIN_MS + 20) as never)).rejects.toThrow();
    steps.push('returned');
    expect(steps).toEqual(['aborted', 'settled', 'returned']);
  });

  it('returns what the run returns when it ends in time', async () => {
    const handler = lambda(async (_event: unknown, _context, signal) => ({ aborted: signal?.aborted }));
    await expect(handler({}, contextWithMs(60_000) as never)).resolves.toEqual({ aborted: false });
  });
});

describe('collectorHandler: the alert sink', () => {
  const TOPIC = 'arn:aws:sns:us-east-1:000000000000:alerts';
  const env = { QUALYS_SECRET_ID: 'qualys-lake/qualys', ARCHIVE_BUCKET: 'archive', ALERT_TOPIC_ARN: TOPIC };
  const definition = (
    manifest: CollectorManifest,
    alerts: AlertSinkFactory | undefined,
    run: (runtime: CollectorRuntime<object>) => Promise<unknown> = async () => undefined,
  ) => ({
    manifest,
    alerts,
    settings: () => ({}),
    run: async (runtime: CollectorRuntime<object>) => {
      await run(runtime);
      return emptyRunCounts();
    },
    metrics: () => ({}),
    finished: 'run finished',
  });
  const sink: AlertSink = { publish: async () => ({ refused: new Map() }) };

  it('is the one the collector passes, on the topic of ALERT_TOPIC_ARN', async () => {
    const topics: string[] = [];
    const handler = collectorHandler(
      definition(
        cdrFindingsManifest,
        (topicArn) => {
          topics.push(topicArn);
          return sink;
        },
        (runtime) => runtime.alerts.publish([]),
      ),
      env,
    );
    await handler({}, contextWithMs(60_000) as never);
    expect(topics).toEqual([TOPIC]);
  });

  it('needs ALERT_TOPIC_ARN only where the manifest publishes alerts', () => {
    const { ALERT_TOPIC_ARN: _topic, ...withoutTopic } = env;
    expect(() =>
      collectorHandler(
        definition(cdrFindingsManifest, () => sink),
        withoutTopic,
      ),
    ).toThrow(/ALERT_TOPIC_ARN/);
    expect(() => collectorHandler(definition(sdrInventoryManifest, undefined), withoutTopic)).not.toThrow();
  });

  it('refuses a collector whose alert sink disagrees with its manifest', () => {
    expect(() => collectorHandler(definition(cdrFindingsManifest, undefined), env)).toThrow(
      'cdr-findings: its manifest says publishesAlerts: true, but its handler passes no alert sink',
    );
    expect(() =>
      collectorHandler(
        definition(sdrInventoryManifest, () => sink),
        env,
      ),
    ).toThrow('sdr-inventory: its manifest says publishesAlerts: false, but its handler passes alert sink');
  });

  it('of a collector that publishes no alerts refuses to publish', async () => {
    const alerts: AlertSink[] = [];
    const handler = collectorHandler(
      definition(sdrInventoryManifest, undefined, async (runtime) => alerts.push(runtime.alerts)),
      env,
    );
    await handler({}, contextWithMs(60_000) as never);
    await expect(alerts[0]?.publish([])).rejects.toThrow(/publishes no alerts/);
  });
});

describe('collectorHandler: the bucket a single-subscription deployment left', () => {
  const env = { QUALYS_SECRET_ID: 'qualys-lake/qualys', ARCHIVE_BUCKET: 'archive' };
  const notFound = () =>
    new S3ServiceException({
      name: 'NotFound',
      $fault: 'client',
      $metadata: { httpStatusCode: 404 },
      message: '',
    });
  const runs: string[] = [];
  const handlerOf = (extra: Record<string, string> = {}) =>
    collectorHandler(
      {
        manifest: sdrInventoryManifest,
        settings: () => ({}),
        run: async () => {
          runs.push('ran');
          return emptyRunCounts();
        },
        metrics: () => ({}),
        finished: 'run finished',
      },
      { ...env, ...extra },
    );

  beforeEach(() => {
    runs.length = 0;
    s3.on(HeadObjectCommand).rejects(notFound());
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'state/sdr-inventory/checkpoint.json' }] });
  });

  it('keeps the default subscription from starting until it is upgraded, naming the command', async () => {
    await expect(handlerOf()({}, contextWithMs(60_000) as never)).rejects.toThrow(
      /state\/sdr-inventory\/checkpoint\.json.*npx qualys-lake upgrade --bucket archive/,
    );
    expect(runs).toEqual([]);
  });

  it('checks once per execution environment, and never for another subscription', async () => {
    s3.on(HeadObjectCommand, { Key: 'state/sdr-inventory/subscription=default/checkpoint.json' }).resolves(
      {},
    );
    const handler = handlerOf();
    await handler({}, contextWithMs(60_000) as never);
    await handler({}, contextWithMs(60_000) as never);
    expect(runs).toEqual(['ran', 'ran']);
    expect(s3.calls().length).toBe(1);

    s3.resetHistory();
    await handlerOf({ QUALYS_SUBSCRIPTION: 'acme' })({}, contextWithMs(60_000) as never);
    expect(runs).toEqual(['ran', 'ran', 'ran']);
    expect(s3.calls()).toEqual([]);
  });
});
