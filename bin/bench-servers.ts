/**
 * The services a benchmark runs against, in a process of their own so that the benchmark's heap
 * figures are the collector's alone: the simulator and fauxqs keep everything in memory.
 * Prints one JSON line with the Lambda environment, then runs until its stdin closes.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { type SimulatorOptions, startSimulator } from '../test/simulator/index';
import { lambdaEnv, startLocalAws } from '../test/support/local-aws';

const options = JSON.parse(process.argv[2] ?? '{}') as SimulatorOptions;
const simulator = await startSimulator(options);
const aws = await startLocalAws();
const lake = await aws.createLake('bench');
const secretId = aws.secrets.put(
  'bench',
  JSON.stringify({ baseUrl: simulator.url, username: 'qualys-lake-demo', password: 'demo-password' }),
);
console.log(JSON.stringify(lambdaEnv(aws, lake, secretId, { POWERTOOLS_LOG_LEVEL: 'ERROR' })));
process.stdin.resume();
process.stdin.on('end', async () => {
  await aws.close();
  await simulator.close();
  process.exit(0);
});
