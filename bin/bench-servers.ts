/**
 * The services `npm run bench` runs against, each in a process of its own so that neither shares
 * the measured collector's CPU or memory (run with `node --import tsx bench-servers.ts <role>`):
 *
 * - `qualys`: the simulator (test/simulator), its clock moved when told;
 * - `aws`: fauxqs (S3, SNS, SQS) and the Secrets Manager fake, with every request to fauxqs
 *   counted by a Fastify hook: S3 operations by what their key holds, and SNS calls.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { buildApp } from 'fauxqs';
import { type Simulator, type SimulatorOptions, startSimulator } from '../test/simulator/index';
import { connectLocalAws, curatedRecords, type LocalAws, lambdaEnv } from '../test/support/local-aws';
import { serve } from './bench-process';

export interface ServerStats {
  cpuMs: number;
  /** Simulator only: requests by path (/auth and refused ones included). */
  byPath?: Record<string, number>;
  /** Simulator only: 409/429 answers. */
  refused?: number;
}

/** Requests of one kind: how many, the bytes they sent and the largest body. */
export interface KindCount {
  requests: number;
  bytes: number;
  largest: number;
}

/** Requests fauxqs received, by `<operation> <what the key holds>`, e.g. `PUT raw page`. */
export type RequestCounts = Record<string, KindCount>;

/** The largest object S3 takes in one PUT. */
const S3_MAX_PUT_BYTES = 5 * 2 ** 30;

const cpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};

/** What an S3 key holds, from the layout of functions/core/names.ts and the collectors' keys. */
function keyKind(key: string): string {
  if (key.startsWith('raw/')) return key.includes('/unreadable/') ? 'unreadable page' : 'raw page';
  if (key.startsWith('curated/')) return 'curated';
  if (key.startsWith('reports/')) return 'report file';
  if (/^state\/qualys\//.test(key)) return 'call-budget ledger';
  if (/\/seen\//.test(key)) return 'seen index';
  if (/journal\/alerts\//.test(key)) return 'journal: alerts';
  if (/journal\//.test(key)) return 'journal: pages';
  if (/alert-outbox/.test(key)) return 'alert outbox';
  if (/checkpoint\.json$/.test(key)) return 'checkpoint';
  if (/\/rejected\//.test(key) || /alerts-rejected/.test(key)) return 'set aside';
  return 'other state';
}

/** `<operation> <kind>` of one request to fauxqs (path-style S3; SNS and SQS post to `/`). */
export function requestKind(method: string, url: string): string {
  const [path = '/', query = ''] = url.split('?', 2);
  if (path === '/') return 'SNS/SQS';
  const [, , ...rest] = path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const params = new URLSearchParams(query);
  if (!key) {
    if (method === 'POST' && params.has('delete')) return 'DELETE objects (one batch)';
    return method === 'GET' ? 'LIST bucket' : `${method} bucket`;
  }
  if (method === 'POST' || params.has('uploadId')) return `MULTIPART ${keyKind(key)}`;
  return `${method} ${keyKind(key)}`;
}

async function qualys() {
  let sim: Simulator | undefined;
  const running = () => {
    if (!sim) throw new Error('start the simulator first');
    return sim;
  };
  serve(
    {
      async start({ options }: { options: SimulatorOptions }) {
        sim = await startSimulator(options);
        return { url: sim.url, now: sim.control.now().getTime() };
      },
      /** The simulator clock jumps to `at` (it only moves forward) and runs on from there. */
      clock({ at }: { at: number }) {
        const ahead = at - running().control.now().getTime();
        if (ahead > 0) running().control.advanceClock(ahead);
      },
      stats: (): ServerStats => ({
        cpuMs: cpuMs(),
        byPath: { ...running().stats.byPath },
        refused: running().stats.rateLimited,
      }),
      visibleUuids: () =>
        running()
          .data.findings()
          .map((finding) => finding.uuid),
    },
    () => sim?.close(),
  );
}

async function aws(region = 'us-east-1') {
  const counts: RequestCounts = {};
  const app = buildApp({ logger: false, defaultRegion: region });
  // fauxqs refuses a request body over 11 MiB; S3 takes up to 5 GiB in one PUT. Its catch-all
  // buffer parser (fauxqs/dist/app.js) is swapped for one with S3's limit, so a run that writes a
  // large object is measured as AWS would run it instead of failing on the emulator's limit.
  app.removeContentTypeParser('*');
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: S3_MAX_PUT_BYTES },
    (_request: unknown, body: Buffer, done: (error: Error | null, body: Buffer) => void) => done(null, body),
  );
  app.addHook(
    'onRequest',
    (
      request: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
      _reply: unknown,
      done: () => void,
    ) => {
      const kind = requestKind(request.method, request.url);
      const bytes = Number(request.headers['content-length'] ?? 0) || 0;
      const count = counts[kind] ?? { requests: 0, bytes: 0, largest: 0 };
      counts[kind] = {
        requests: count.requests + 1,
        bytes: count.bytes + bytes,
        largest: Math.max(count.largest, bytes),
      };
      done();
    },
  );
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const local: LocalAws = await connectLocalAws(address.replace('localhost', '127.0.0.1'), region);
  serve(
    {
      /** A bucket, topic and queue of their own, the Qualys secret, and the Lambda environment. */
      async lake({ name, qualysUrl }: { name: string; qualysUrl: string }) {
        const lake = await local.createLake(name);
        const secretId = local.secrets.put(
          name,
          JSON.stringify({ baseUrl: qualysUrl, username: 'qualys-lake-demo', password: 'demo-password' }),
        );
        return { bucket: lake.bucket, env: lambdaEnv(local, lake, secretId) };
      },
      /** The requests counted since the last call (the counts start again from zero). */
      counts(): RequestCounts {
        const taken = { ...counts };
        for (const kind of Object.keys(counts)) delete counts[kind];
        return taken;
      },
      stats: (): ServerStats => ({ cpuMs: cpuMs() }),
      endpoint: () => ({ endpoint: local.endpoint, region }),
      async curatedUuids({ bucket, prefix }: { bucket: string; prefix: string }) {
        return (await curatedRecords<{ uuid: string }>(local, bucket, prefix)).map((record) => record.uuid);
      },
    },
    async () => {
      await local.close();
      await app.close();
    },
  );
}

const role = process.argv[2];
if (role === 'qualys') await qualys();
else if (role === 'aws') await aws();
else throw new Error(`bench-servers.ts: unknown role ${role} (qualys or aws)`);
