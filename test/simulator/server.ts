/** HTTP transport: authentication, rate limiting, queued misbehaviour, stats and the simulator clock. */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { compareFindings, prepare, type Reply, route, type World } from './api';
import { CdrFactory, type CdrFinding, formatCdrTimestamp, type StoredFinding } from './data/cdr';
import { Posture, ReportFile } from './data/posture';
import { buildSdrDataset, type SdrReport } from './data/sdr';
import { signJwt, verifyJwt } from './jwt';
import { Rng } from './prng';
import type {
  QueuedMisbehaviour,
  RateLimitOptions,
  Simulator,
  SimulatorControl,
  SimulatorOptions,
  SimulatorStats,
} from './types';

export const DEFAULT_CREDENTIALS = Object.freeze({ username: 'qualys-lake-demo', password: 'demo-password' });

/** What a gateway whose session expired serves instead of a file, with status 200. */
const ERROR_PAGE = '<!DOCTYPE html><html><body><h1>Session expired. Please log in.</h1></body></html>';
const MALFORMED_BODY = '{"content":[{"customerUuid":"e3b1c0d2-5f4a-4c8e-9a71-2d6f0b8c963e","cloudType":"AW';

class RateLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(readonly opts: RateLimitOptions) {}

  /** Opens a new window when the last one has passed (a window starts at its first call). */
  private roll(now: number): void {
    if (now >= this.windowStart + this.opts.windowSec * 1000) {
      this.windowStart = now;
      this.used = 0;
    }
  }

  /** Another consumer's call: spends one call of the window if any is left. */
  spend(now: number): boolean {
    this.roll(now);
    if (this.used >= this.opts.limit) return false;
    this.used++;
    return true;
  }

  /** Decides on one counted call; `running` includes this call (and calls of other consumers). */
  check(now: number, running: number): { allowed: boolean; headers: Record<string, string> } {
    const windowMs = this.opts.windowSec * 1000;
    this.roll(now);
    const resetInSec = Math.max(1, Math.ceil((this.windowStart + windowMs - now) / 1000));
    const concurrency = this.opts.concurrency ?? 2;
    const headers = (remaining: number, toWait: number): Record<string, string> => ({
      'X-RateLimit-Limit': String(this.opts.limit),
      'X-RateLimit-Window-Sec': String(this.opts.windowSec),
      'X-RateLimit-Remaining': String(remaining),
      'X-RateLimit-ToWait-Sec': String(toWait),
      'X-Concurrency-Limit-Limit': String(concurrency),
      'X-Concurrency-Limit-Running': String(running),
    });
    if (running > concurrency) {
      return { allowed: false, headers: { ...headers(this.opts.limit - this.used, 1), 'Retry-After': '1' } };
    }
    if (this.used >= this.opts.limit) {
      return { allowed: false, headers: { ...headers(0, resetInSec), 'Retry-After': String(resetInSec) } };
    }
    this.used++;
    const remaining = this.opts.limit - this.used;
    return { allowed: true, headers: headers(remaining, remaining === 0 ? resetInSec : 0) };
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function readBody(req: IncomingMessage, maxBytes = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startSimulatorServer(options: SimulatorOptions = {}, port = 0): Promise<Simulator> {
  const seed = options.seed ?? 42;
  const anchorMs = options.anchor ? options.anchor.getTime() : Math.floor(Date.now() / 60_000) * 60_000;
  let credentials = options.credentials ?? DEFAULT_CREDENTIALS;
  const tokenTtlSec = options.tokenTtlSec ?? 14_400;
  const latencyMs = options.latencyMs ?? 0;
  const secret = randomBytes(32).toString('hex');

  // Simulator clock: starts at the anchor (or real time) and runs in real time, plus advanceClock().
  const clockBase = options.anchor ? anchorMs : Date.now();
  const realStart = Date.now();
  let advanced = 0;
  const now = (): number => clockBase + (Date.now() - realStart) + advanced;

  // ----- data
  const cdr = options.cdr ?? {};
  const factory = new CdrFactory(seed);
  const stored: StoredFinding[] = factory.generate(anchorMs, {
    historyHours: cdr.historyHours ?? 48,
    futureHours: cdr.futureHours ?? 0,
    findingsPerHour: cdr.findingsPerHour ?? 6,
    lateFraction: cdr.lateFraction ?? 0,
    lateMaxMinutes: cdr.lateMaxMinutes ?? 120,
    late: { count: cdr.lateFindings ?? 4, delayMinutes: cdr.lateDelayMinutes ?? 120 },
  });
  stored.sort(compareFindings);
  const sdrOpts = options.sdr ?? {};
  const sdr = buildSdrDataset(seed, anchorMs, {
    documents: sdrOpts.documents ?? 450,
    users: sdrOpts.users ?? 120,
    groups: sdrOpts.groups ?? 30,
    applications: sdrOpts.applications ?? 40,
    meetings: sdrOpts.meetings ?? 12,
    reports: sdrOpts.reports ?? 8,
    includeUnknownConnectorType: sdrOpts.includeUnknownConnectorType ?? false,
  });
  const posture = new Posture(seed, anchorMs, sdr);
  const reportFiles = new Map<string, ReportFile>();
  const reportFile = (report: SdrReport): ReportFile => {
    let file = reportFiles.get(report.fileUuid);
    if (!file) {
      const big = sdr.reports.indexOf(report) === 1;
      const size = big
        ? (sdrOpts.bigReportSizeBytes ?? 12 * 1024 * 1024)
        : (sdrOpts.reportSizeBytes ?? 200_000);
      file = new ReportFile(report, seed, size);
      reportFiles.set(report.fileUuid, file);
    }
    return file;
  };
  const world: World = {
    now,
    findings: stored,
    findingsRevision: 0,
    probe: factory.make(new Rng(seed), anchorMs),
    sdr,
    posture,
    reportingPageSize: sdrOpts.reportingPageSize ?? 10,
    reportFile,
    paging: options.paging ?? {},
    injected: new Map(),
  };

  // ----- state
  let rateLimiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  let tokenSerial = 0;
  let revokedThrough = 0;
  let inflight = 0;
  let addedCount = 0;
  const queue = {
    fail: [] as number[],
    malformed: 0,
    invalid: 0,
    slow: [] as number[],
    reset: 0,
    /** Bytes to send before cutting each of the next downloads ('half' = half the file). */
    truncate: [] as (number | 'half')[],
    /** Downloads to answer with a 200 text/html login page instead of the file. */
    errorPages: 0,
    /** Requests to answer with a redirect to the same path and query on another origin. */
    redirects: [] as Array<{ origin: string; status: number }>,
  };
  /** Where every /auth is redirected to (control.redirectAuth). */
  let authRedirect: { location: string; status: number } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, ms);
          timers.add(t);
        });

  const stats: SimulatorStats = {
    requests: 0,
    authCalls: 0,
    byPath: {},
    rateLimited: 0,
    maxConcurrent: 0,
    connections: 0,
    otherConsumerCalls: 0,
    issuedTokens: 0,
    calls: [],
    reset() {
      this.requests = 0;
      this.authCalls = 0;
      this.byPath = {};
      this.rateLimited = 0;
      this.maxConcurrent = 0;
      this.connections = 0;
      this.otherConsumerCalls = 0;
      this.issuedTokens = 0;
      this.calls = [];
    },
  };

  // ----- handlers
  async function handleAuth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.authCalls++;
    await sleep(latencyMs);
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'Method Not Allowed' });
    const body = await readBody(req);
    if (authRedirect) {
      res.writeHead(authRedirect.status, { Location: authRedirect.location, 'Content-Length': '0' });
      res.end();
      return;
    }
    const form = /application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')
      ? new URLSearchParams(body)
      : new URLSearchParams();
    const absent = ['username', 'password', 'token'].filter((f) => !form.get(f));
    if (absent.length) return sendJson(res, 400, { error: `missing field(s): ${absent.join(', ')}` });
    if (form.get('token') !== 'true') return sendJson(res, 400, { error: 'token must be true' });
    if (form.get('username') !== credentials.username || form.get('password') !== credentials.password) {
      return sendJson(res, 401, { error: 'Authentication failed: invalid username or password' });
    }
    const iat = Math.floor(now() / 1000);
    const token = signJwt(
      {
        iss: 'qualys-simulator',
        sub: credentials.username,
        jti: String(++tokenSerial),
        iat,
        exp: iat + tokenTtlSec,
        subscriptionId: 'sim-subscription-0001',
        modulesAllowed: ['CDR', 'SAASDR'],
      },
      secret,
    );
    stats.issuedTokens++;
    issued.push(token);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(token)) });
    res.end(token);
  }

  function authError(req: IncomingMessage): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return 'missing bearer token';
    const claims = verifyJwt(m[1] as string, secret);
    if (!claims) return 'invalid token';
    if (Number(claims.jti) <= revokedThrough || claims.exp * 1000 <= now()) return 'token expired';
    return undefined;
  }

  /** Counted requests that passed auth and the rate limit, for afterRequests(). */
  let served = 0;
  const triggers: Array<{ after: number; action: () => void }> = [];
  const issued: string[] = [];

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    inflight++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, inflight);
    res.once('close', () => inflight--);
    req.resume();
    const latency = sleep(latencyMs);
    if (latencyMs > 0) prepare(world, req.method ?? 'GET', url);
    await latency;

    const unauthenticated = authError(req);
    if (unauthenticated) {
      stats.requests++;
      return sendJson(res, 401, { error: unauthenticated }, { 'WWW-Authenticate': 'Bearer' });
    }
    let headers: Record<string, string> = {};
    if (rateLimiter) {
      const decision = rateLimiter.check(now(), inflight);
      headers = decision.headers;
      if (!decision.allowed) {
        stats.rateLimited++;
        const status = rateLimiter.opts.overLimitStatus ?? 429;
        return sendJson(
          res,
          status,
          { error: 'rate limit exceeded', toWaitSec: Number(headers['X-RateLimit-ToWait-Sec']) },
          headers,
        );
      }
    }
    stats.requests++;
    stats.calls.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    served++;
    for (const trigger of triggers.filter((t) => served > t.after)) {
      triggers.splice(triggers.indexOf(trigger), 1);
      trigger.action();
    }

    const delay = queue.slow.shift();
    if (delay !== undefined) await sleep(delay);
    if (queue.reset > 0) {
      queue.reset--;
      req.socket.destroy();
      return;
    }
    const redirect = queue.redirects.shift();
    if (redirect) {
      const location = new URL(`${url.pathname}${url.search}`, redirect.origin).href;
      res.writeHead(redirect.status, { ...headers, Location: location, 'Content-Length': '0' });
      res.end();
      return;
    }
    const failStatus = queue.fail.shift();
    if (failStatus !== undefined) {
      const extra: Record<string, string> = [409, 429, 503].includes(failStatus)
        ? { 'Retry-After': '1' }
        : {};
      return sendJson(
        res,
        failStatus,
        { error: 'simulated failure', status: failStatus },
        { ...headers, ...extra },
      );
    }
    if (queue.malformed > 0) {
      queue.malformed--;
      res.writeHead(200, {
        ...headers,
        'Content-Type': 'application/json',
        'Content-Length': String(MALFORMED_BODY.length),
      });
      res.end(MALFORMED_BODY);
      return;
    }
    if (queue.invalid > 0) {
      queue.invalid--;
      return sendJson(res, 200, { content: 'oops' }, headers);
    }

    const reply: Reply = route(world, req.method ?? 'GET', url);
    if (reply.kind === 'json') return sendJson(res, reply.status, reply.body, headers);
    if (queue.errorPages > 0) {
      queue.errorPages--;
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(ERROR_PAGE);
      return;
    }
    const cut = queue.truncate.shift();
    await streamFile(res, reply.file, headers, cut === 'half' ? Math.floor(reply.file.byteLength / 2) : cut);
  }

  async function streamFile(
    res: ServerResponse,
    file: ReportFile,
    headers: Record<string, string>,
    truncateAt?: number,
  ): Promise<void> {
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/csv',
      'Content-Length': String(file.byteLength),
      'Content-Disposition': `attachment; filename="${file.filename}"`,
    });
    let sent = 0;
    for (const chunk of file.chunks()) {
      if (res.destroyed) return;
      let buf = Buffer.from(chunk);
      if (truncateAt !== undefined && sent + buf.length >= truncateAt) {
        buf = buf.subarray(0, Math.max(0, truncateAt - sent));
        await new Promise<void>((resolve) => res.write(buf, () => resolve()));
        res.destroy();
        return;
      }
      sent += buf.length;
      if (!res.write(buf)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    stats.byPath[url.pathname] = (stats.byPath[url.pathname] ?? 0) + 1;
    const work = url.pathname === '/auth' ? handleAuth(req, res) : handleApi(req, res, url);
    work.catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else
        sendJson(res, 500, {
          error: 'simulator error',
          message: err instanceof Error ? err.message : String(err),
        });
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    stats.connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  // ----- control
  const addStored = (items: StoredFinding[]): CdrFinding[] => {
    stored.push(...items);
    stored.sort(compareFindings);
    world.findingsRevision++;
    return items.map((s) => structuredClone(s.finding));
  };
  const complete = (partial: Partial<CdrFinding>, ts: number): CdrFinding => {
    const rng = Rng.for(seed, `added:${addedCount++}`);
    return { ...factory.make(rng, ts, partial), ...partial, timestamp: formatCdrTimestamp(ts) };
  };
  const positive = (n: number): number => Math.max(0, Math.floor(n));

  const control: SimulatorControl = {
    afterRequests: (n, action) => {
      triggers.push({ after: served + positive(n), action });
    },
    failNext: (n, status = 503) => queue.fail.push(...Array<number>(positive(n)).fill(status)),
    malformedNext: (n) => {
      queue.malformed += positive(n);
    },
    invalidNext: (n) => {
      queue.invalid += positive(n);
    },
    slowNext: (n, delayMs) => queue.slow.push(...Array<number>(positive(n)).fill(delayMs)),
    resetNext: (n) => {
      queue.reset += positive(n);
    },
    truncateNextDownload: (afterBytes) => queue.truncate.push(afterBytes ?? 'half'),
    errorPageNextDownloads: (n) => {
      queue.errorPages += positive(n);
    },
    redirectAuth: (location, status = 308) => {
      authRedirect = location === undefined ? undefined : { location, status };
    },
    redirectNext: (n, origin, status = 302) =>
      queue.redirects.push(...Array.from({ length: positive(n) }, () => ({ origin, status }))),
    injectItems: (path, items, at = 0) => {
      if (items.length === 0) world.injected.delete(path);
      else world.injected.set(path, { items: structuredClone([...items]), at });
    },
    expireTokens: () => {
      revokedThrough = tokenSerial;
    },
    setCredentials: (next) => {
      credentials = { ...next };
    },
    setRateLimit: (opts) => {
      rateLimiter = opts ? new RateLimiter(opts) : undefined;
    },
    setPaging: (behaviour) => {
      world.paging = behaviour ?? {};
    },
    holdSlots: (count, forMs) => {
      let held = 0;
      for (let i = 0; i < positive(count); i++) {
        // Its calls count against the window like ours; a call the window refuses holds nothing.
        if (rateLimiter && !rateLimiter.spend(now())) break;
        held++;
      }
      inflight += held;
      stats.otherConsumerCalls += held;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, inflight);
      return sleep(forMs).then(() => {
        inflight -= held;
      });
    },
    advanceClock: (ms) => {
      if (ms < 0) throw new Error('the simulator clock only moves forward');
      advanced += ms;
    },
    now: () => new Date(now()),
    addFindings: (partials) =>
      addStored(
        partials.map((p) => {
          const ts = p.timestamp ? Date.parse(p.timestamp) : Math.floor(now() / 1000) * 1000;
          if (Number.isNaN(ts)) throw new Error(`invalid timestamp ${p.timestamp}`);
          return { finding: complete(p, ts), ts, visibleAt: Number.NEGATIVE_INFINITY };
        }),
      ),
    addLateFindings: (count, opts) => {
      const base = opts.timestamp.getTime();
      const visibleAt = base + opts.delayMinutes * 60_000;
      return addStored(
        Array.from({ length: positive(count) }, (_, i) => {
          const ts = base + Math.floor((i * 5) / Math.max(1, count)) * 1000;
          return { finding: complete({}, ts), ts, visibleAt };
        }),
      );
    },
    setControlResult: (connectorId, cid, resourceId, result) =>
      posture.setControlResult(connectorId, cid, resourceId, result),
    pending: (): QueuedMisbehaviour => ({
      fail: queue.fail.length,
      malformed: queue.malformed,
      invalid: queue.invalid,
      slow: queue.slow.length,
      reset: queue.reset,
      truncatedDownloads: queue.truncate.length,
      errorPageDownloads: queue.errorPages,
    }),
    reset: () => {
      queue.fail.length = 0;
      queue.malformed = 0;
      queue.invalid = 0;
      queue.slow.length = 0;
      queue.reset = 0;
      queue.truncate.length = 0;
      queue.errorPages = 0;
      queue.redirects.length = 0;
    },
  };

  return {
    url: `http://127.0.0.1:${address.port}`,
    control,
    stats,
    data: {
      anchor: new Date(anchorMs),
      findings: (includeInvisible = false) => {
        const t = now();
        return stored
          .filter((s) => includeInvisible || s.visibleAt <= t)
          .map((s) => structuredClone(s.finding));
      },
      cdrAccounts: () => factory.accountIds(),
      issuedTokens: () => [...issued],
      sdr,
      reportSize: (fileUuid) => {
        const report = sdr.reports.find((r) => r.fileUuid === fileUuid);
        return report?.status === 'completed' ? reportFile(report).byteLength : undefined;
      },
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
