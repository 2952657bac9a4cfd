import { DEFAULT_CREDENTIALS, type Simulator } from '../simulator/index';
import { failingS3 } from './failing-s3';
import { captureOutput, collectorTrial, type FaultTrial, type TrialChecks } from './fault-trial';
import { faultySns } from './faulty-sns';
import type { TestLake } from './fixtures';
import type { Handler } from './invoke';
import type { LocalAws } from './local-aws';

/** What a fault-injection test works with: the fault proxies, the trial and one warm handler. */
export interface FaultRig<S> {
  /** In front of S3: refuses chosen PUTs. */
  s3: Awaited<ReturnType<typeof failingS3>>;
  /** In front of SNS: throttles, or fails the last entries of batches. */
  sns: Awaited<ReturnType<typeof faultySns>>;
  trial: FaultTrial<S>;
  /** Every password used so far; a test that rotates the secret adds the new one. */
  passwords: string[];
  /** One handler instance (one execution environment) for every run of the test, `extra` over the defaults. */
  warm(extra?: Record<string, string>): Promise<() => Promise<Handler>>;
}

/**
 * Sets up a fault-injection test of a collector from its `collectorTest` fixtures: the S3 and SNS
 * fault proxies between the Lambda and fauxqs, the captured output, and a trial judged by `checks`.
 * Everything is undone by `onCleanup`.
 */
export async function faultRig<S extends { stoppedEarly?: string }>(
  fixtures: {
    aws: LocalAws;
    sim: Simulator;
    lake: TestLake;
    handlerWith(extra?: Record<string, string>): Promise<Handler>;
  },
  onCleanup: (cleanup: () => Promise<void>) => void,
  checks: TrialChecks<S>,
): Promise<FaultRig<S>> {
  const { aws, sim, lake, handlerWith } = fixtures;
  const s3 = await failingS3(aws.endpoint);
  const sns = await faultySns(aws.endpoint);
  const output: string[] = [];
  const restore = captureOutput(output);
  onCleanup(async () => {
    restore();
    await s3.close();
    await sns.close();
  });
  const passwords: string[] = [DEFAULT_CREDENTIALS.password];
  const trial = collectorTrial<S>(sim, lake, { output, secrets: () => passwords, checks });
  const warm = async (extra: Record<string, string> = {}) => {
    const handler = await handlerWith({
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ENDPOINT_URL_SNS: sns.url,
      ...extra,
    });
    return async () => handler;
  };
  return { s3, sns, trial, passwords, warm };
}
