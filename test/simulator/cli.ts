/**
 * Runs the Qualys API simulator until interrupted:
 *   npx tsx test/simulator/cli.ts [--port N] [--rate-limit 300/3600] [--seed N] [--latency MS] [--unknown-connector]
 */

import { parseArgs } from 'node:util';
import { DEFAULT_CREDENTIALS, startSimulatorServer } from './server';
import type { RateLimitOptions } from './types';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'rate-limit': { type: 'string' },
    seed: { type: 'string', default: '42' },
    latency: { type: 'string', default: '0' },
    'unknown-connector': { type: 'boolean', default: false },
  },
});

function rateLimit(spec: string | undefined): RateLimitOptions | undefined {
  if (!spec) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw new Error(`--rate-limit expects LIMIT/WINDOW_SEC, e.g. 300/3600, got '${spec}'`);
  return { limit: Number(m[1]), windowSec: Number(m[2]) };
}

const sim = await startSimulatorServer(
  {
    seed: Number(values.seed),
    latencyMs: Number(values.latency),
    rateLimit: rateLimit(values['rate-limit']),
    sdr: { includeUnknownConnectorType: values['unknown-connector'] },
  },
  Number(values.port),
);
console.log(sim.url);
console.error(
  `Qualys simulator ready; credentials ${DEFAULT_CREDENTIALS.username} / ${DEFAULT_CREDENTIALS.password}`,
);

const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
