import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { ABORT_MARGIN_MS, FINISH_MARGIN_MS } from '../core/run';
import { logger, metrics } from './powertools';

/**
 * The Lambda side every function shares (the collectors through handler.ts, and the Security Lake
 * writer): the middy chain with its early abort, the run's deadline, counts as metrics.
 */

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Epoch ms by which the collector must stop calling Qualys. */
export function deadlineOf(context: LambdaContextLike): number {
  return Date.now() + context.getRemainingTimeInMillis() - FINISH_MARGIN_MS;
}

/** Counts from a run summary, published as CloudWatch metrics. */
export function recordMetrics(counts: Record<string, number | undefined>): void {
  for (const [name, value] of Object.entries(counts)) {
    if (value !== undefined) metrics.addMetric(name, MetricUnit.Count, value);
  }
}

/** The error middy's early timeout ends an invocation with (its default timeoutEarlyResponse). */
export class EarlyTimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * middy chain shared by every handler: Powertools logger context and metrics flush. ABORT_MARGIN_MS
 * before the Lambda timeout middy aborts `signal`, which every Qualys, S3 and SNS call of the run
 * observes; the invocation then ends only once the run has settled, so nothing it started keeps
 * running into the next invocation of this execution environment.
 */
export function lambda<E, R>(
  handler: (event: E, context: LambdaContextLike, signal: AbortSignal | undefined) => Promise<R>,
) {
  let running: Promise<unknown> = Promise.resolve();
  return middy<E, R>({
    timeoutEarlyInMillis: ABORT_MARGIN_MS,
    timeoutEarlyResponse: async () => {
      await running.catch(() => undefined);
      throw new EarlyTimeoutError('the run was aborted before the Lambda timeout');
    },
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler((event, context, options) => {
      const run = handler(event, context as LambdaContextLike, options?.signal);
      running = run;
      return run;
    });
}
