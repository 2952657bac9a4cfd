import { type Simulator, type SimulatorOptions, startSimulator } from '../test/simulator/index';
import { type Handler, loadHandler } from '../test/support/invoke';
import { type Lake, type LocalAws, lambdaEnv, startLocalAws } from '../test/support/local-aws';

/**
 * One in-process bench scenario of the built cdr-findings bundle: a simulator with `options`, its
 * own fauxqs and lake, the secret, and a handler with `env` (logs at ERROR, alerts only CRITICAL);
 * everything is closed once `work` ends.
 */
export async function withCdrLake<T>(
  name: string,
  options: SimulatorOptions,
  env: Record<string, string>,
  work: (lake: { sim: Simulator; aws: LocalAws; lake: Lake; handler: Handler }) => Promise<T>,
): Promise<T> {
  const sim = await startSimulator(options);
  const aws = await startLocalAws();
  try {
    const lake = await aws.createLake(name);
    const secretId = aws.secrets.put(
      name,
      JSON.stringify({ baseUrl: sim.url, username: 'qualys-lake-demo', password: 'demo-password' }),
    );
    const handler = await loadHandler(
      'cdr-findings',
      lambdaEnv(aws, lake, secretId, {
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        ALERT_MIN_SEVERITY: 'CRITICAL',
        ...env,
      }),
    );
    return await work({ sim, aws, lake, handler });
  } finally {
    await aws.close();
    await sim.close();
  }
}
