import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, vi } from 'vitest';
import { bucketSource } from '../../bin/cli/lake-source';
import { main } from '../../bin/cli/main';
import { lakeStatus } from '../../bin/cli/status';
import { PROJECT_ROOT } from '../../lib/bundle';
import { DEFAULT_CREDENTIALS } from '../simulator/index';
import { collectorTest, simulatorTest } from '../support/fixtures';
import { lambdaContext } from '../support/invoke';
import { mirrorBucket } from '../support/local-aws';

/** Runs the command in this process, as `npx qualys-lake …` would, and keeps what it printed. */
async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    ['node', 'qualys-lake', ...args],
    (text) => out.push(text),
    (text) => err.push(text),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

/** The uuid of every curated CDR finding under `dir` (dt=… folders of gzip NDJSON). */
async function curatedUuids(dir: string): Promise<string[]> {
  const uuids: string[] = [];
  for (const day of await readdir(dir)) {
    for (const file of await readdir(path.join(dir, day))) {
      const text = gunzipSync(await readFile(path.join(dir, day, file))).toString('utf8');
      for (const line of text.split('\n').filter(Boolean))
        uuids.push((JSON.parse(line) as { uuid: string }).uuid);
    }
  }
  return uuids;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `doctor` against the simulator at `url` as `username`, plain http allowed for loopback. */
const doctorAt = (url: string, username: string = DEFAULT_CREDENTIALS.username) =>
  run('doctor', '--base-url', url, '--username', username, '--allow-http-loopback');

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('qualys-lake doctor', () => {
  const doctorTest = simulatorTest.override('simulatorOptions', {
    rateLimit: { limit: 300, windowSec: 3600, concurrency: 2 },
  });

  doctorTest(
    'checks every endpoint the collectors need, one call each, and shows the announced budget',
    async ({ sim }) => {
      vi.stubEnv('QUALYS_PASSWORD', DEFAULT_CREDENTIALS.password);
      const result = await doctorAt(sim.url);
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      for (const endpoint of [
        'POST /auth',
        'GET /cdr-api/rest/v1/findings',
        'GET /sdr/api/v1/connectors',
        'GET /sdr/api/v1/users',
        'GET /sdr/api/v1/groups',
        'GET /sdr/api/v1/documents',
        'GET /sdr/api/v1/applications',
        'GET /sdr/api/v1/meetings',
        'GET /sdr/api/v1/reports',
        'GET /sdr/api/v1/policy',
        'GET /sdr/api/v1/reporting',
      ]) {
        expect(result.out).toMatch(new RegExp(`^ok +${endpoint.replaceAll('/', '\\/')} +200 `, 'm'));
      }
      expect(result.out).toMatch(/^ok +GET \/sdr\/api\/v1\/connectors\/\d+\/scanners +200 /m);
      const calls = sim.stats.requests;
      expect(result.out).toContain(`This check spent ${calls} API calls`);
      expect(result.out).toMatch(
        new RegExp(`Gateway limits as announced: 300 calls per 3600 s, ${300 - calls} left in this window`),
      );
      expect(result.out).not.toContain(DEFAULT_CREDENTIALS.password);
      expect(result.out).not.toMatch(JWT);
    },
  );

  doctorTest('a wrong password fails at the login, names it, and prints no secret', async ({ sim }) => {
    vi.stubEnv('QUALYS_PASSWORD', 'not-the-password');
    const result = await doctorAt(sim.url);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^failed +POST \/auth +401 .*login refused for user "qualys-lake-demo"/m);
    expect(result.out).toMatch(/^skipped +the API checks .*not logged in/m);
    expect(result.out).not.toContain('not-the-password');
    expect(sim.stats.requests).toBe(0);
  });

  doctorTest('an unreachable endpoint fails with the reason', async () => {
    vi.stubEnv('QUALYS_PASSWORD', 'secret-value');
    const port = await closedPort();
    const result = await doctorAt(`http://127.0.0.1:${port}`, 'someone');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /^failed +POST \/auth .*could not connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/m,
    );
    expect(result.out).not.toContain('secret-value');
  });

  doctorTest('a redirected login is not followed, and the password goes nowhere else', async ({ sim }) => {
    vi.stubEnv('QUALYS_PASSWORD', DEFAULT_CREDENTIALS.password);
    const port = await closedPort();
    sim.control.redirectAuth(`http://127.0.0.1:${port}/auth`, 302);
    const result = await doctorAt(sim.url);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^failed +POST \/auth +302 .*redirected to 127\.0\.0\.1:\d+: not followed/m);
  });

  doctorTest('a host that is not a Qualys gateway is refused before the password is sent', async () => {
    vi.stubEnv('QUALYS_PASSWORD', 'secret-value');
    const result = await run('doctor', '--base-url', 'https://gateway.example.com', '--username', 'u');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^failed +base URL .*is not a Qualys API gateway.*--allow-host/m);
    expect(result.out).toMatch(/the password was not sent/);
  });

  doctorTest('without a password it is a usage error', async () => {
    vi.stubEnv('QUALYS_PASSWORD', '');
    const result = await run(
      'doctor',
      '--base-url',
      'https://gateway.qg1.apps.qualys.com',
      '--username',
      'u',
    );
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/QUALYS_PASSWORD/);
  });
});

const cdrTest = collectorTest('cdr-findings', { ALERT_MIN_SEVERITY: 'CRITICAL' }).override(
  'simulatorOptions',
  {
    rateLimit: { limit: 300, windowSec: 3600, concurrency: 2 },
  },
);

describe('qualys-lake status and query, on a lake a collector wrote', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  cdrTest(
    'status reads the checkpoint, the budget and the outbox; query runs a named query',
    async ({ aws, sim, lake, handlerWith }) => {
      const handler = await handlerWith();
      await handler({}, lambdaContext());
      dir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-status-'));
      await mirrorBucket(aws, lake.bucket, dir);
      const checkpoint = await lake.json<{ watermark: string }>('state/cdr-findings/checkpoint.json');

      const status = await run('status', '--local', dir, '--json');
      // The SaaSDR collectors never ran: they are behind, so the exit code says so.
      expect(status.code).toBe(1);
      const report = JSON.parse(status.out) as {
        collectors: { collector: string; freshAsOf?: string; lagMinutes?: number; behind: boolean }[];
        budget?: { limit?: number; remaining?: number };
      };
      const cdr = report.collectors.find((item) => item.collector === 'cdr-findings');
      expect(cdr).toMatchObject({ freshAsOf: checkpoint.watermark, behind: false });
      expect(cdr?.lagMinutes).toBeLessThanOrEqual(10);
      expect(report.collectors.find((item) => item.collector === 'sdr-posture')).toMatchObject({
        behind: true,
      });
      expect(report.budget).toMatchObject({ limit: 300, remaining: 300 - sim.stats.requests });

      // The same status read straight from the bucket, as for a deployed stack.
      const thresholds = {
        'cdr-findings': 45,
        'sdr-inventory': 1080,
        'sdr-posture': 180,
        'sdr-reports': 1080,
      };
      const fromBucket = await lakeStatus(bucketSource(lake.bucket, aws.s3), thresholds);
      expect(fromBucket.collectors.find((item) => item.collector === 'cdr-findings')).toMatchObject({
        freshAsOf: checkpoint.watermark,
      });
      expect(fromBucket.budget).toEqual(report.budget);

      const text = await run('status', '--local', dir);
      expect(text.out).toMatch(/^cdr-findings +ok +watermark \(findings read up to\): /m);
      expect(text.out).toMatch(/^sdr-posture +BEHIND +last complete poll: none yet/m);

      const findings = await lake.records('curated/cdr_findings/');
      const query = await run('query', 'SELECT count(*) AS n FROM cdr_findings', '--local', dir);
      expect(query.code).toBe(0);
      expect(query.out).toMatch(new RegExp(`\\b${findings.length}\\b`));
      const named = await run('query', '--list');
      expect(named.out).toMatch(/^cdr_high_critical_by_account_category/m);
      const unknown = await run('query', 'no_such_query', '--local', dir);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toMatch(/no named query "no_such_query"/);
    },
  );
});

describe('qualys-lake backfill --local', () => {
  simulatorTest('replays a range window by window, and never moves the incremental checkpoint', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-backfill-'));
    try {
      const to = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000);
      const from = new Date(to.getTime() - 6 * 3600_000);
      const result = await run(
        'backfill',
        '--from',
        from.toISOString(),
        '--to',
        to.toISOString(),
        '--window-hours',
        '2',
        '--local',
        dir,
        // A tight budget: 6 calls every 2 s, pages of 5 findings, so each window needs several.
        '--rate-limit',
        '6/2',
        '--page-size',
        '5',
      );
      expect(result.err).not.toMatch(/failed/);
      expect(result.code).toBe(0);
      expect(result.out).toMatch(
        /^3 of 3 windows done: \d+ pages, (\d+) findings read, \1 new in the lake\./m,
      );
      expect(result.out).toMatch(/\(0 refused with 409\/429\)/);
      const state = await readdir(path.join(dir, 'state', 'cdr-findings', 'subscription=default'));
      expect(state).not.toContain('checkpoint.json');
      expect(
        await readdir(path.join(dir, 'state', 'cdr-findings', 'subscription=default', 'replays')),
      ).toHaveLength(3);
      // Every finding of the range once in the lake, none alerted (no outbox, nothing queued).
      const fresh = Number(/, (\d+) new in the lake/.exec(result.out)?.[1]);
      expect(fresh).toBeGreaterThan(10);
      const uuids = await curatedUuids(path.join(dir, 'curated', 'cdr_findings', 'subscription=default'));
      expect(uuids).toHaveLength(fresh);
      expect(new Set(uuids).size).toBe(fresh);
      expect(state).not.toContain('alert-outbox.json');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  simulatorTest('a time without its offset is a usage error (it would be read in local time)', async () => {
    const result = await run(
      'backfill',
      '--from',
      '2026-11-01T00:00:00',
      '--to',
      '2026-11-02T00:00:00Z',
      '--local',
    );
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--from must be an ISO 8601 time with its offset/);
  });

  simulatorTest('a range that ends before it starts is a usage error', async () => {
    const result = await run(
      'backfill',
      '--from',
      '2026-11-02T00:00:00Z',
      '--to',
      '2026-11-01T00:00:00Z',
      '--local',
    );
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--from must be before --to/);
  });
});

describe('npx qualys-lake', () => {
  simulatorTest('runs from the sources with no build step, and --help lists every verb', async () => {
    const { stdout } = await promisify(execFile)(
      'node',
      [path.join(PROJECT_ROOT, 'bin', 'cli.mjs'), '--help'],
      {
        cwd: PROJECT_ROOT,
        timeout: 30_000,
      },
    );
    for (const verb of ['doctor', 'status', 'query', 'backfill', 'upgrade'])
      expect(stdout).toMatch(new RegExp(`^  ${verb} `, 'm'));
  });
});
