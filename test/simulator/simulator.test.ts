import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CdrFinding,
  DEFAULT_CREDENTIALS,
  type ReportingResponse,
  type Simulator,
  startSimulator,
} from './index';

const ANCHOR = new Date('2025-05-10T00:00:00Z');
const FINDINGS = '/cdr-api/rest/v1/findings';

interface Page<T> {
  content: T[];
  pageable: { pageNumber: number; pageSize: number; offset: number };
  totalPages: number;
  totalElements: number;
  last: boolean;
  first: boolean;
  number: number;
  size: number;
  numberOfElements: number;
  empty: boolean;
}

function authRequest(sim: Simulator, fields: Record<string, string>): Promise<Response> {
  return fetch(`${sim.url}/auth`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

async function login(sim: Simulator): Promise<string> {
  const res = await authRequest(sim, { ...DEFAULT_CREDENTIALS, token: 'true' });
  expect(res.status).toBe(200);
  return res.text();
}

function get(
  sim: Simulator,
  path: string,
  token: string,
  params: Record<string, string | number> = {},
): Promise<Response> {
  const url = new URL(path, sim.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
}

async function getJson<T>(
  sim: Simulator,
  path: string,
  token: string,
  params: Record<string, string | number> = {},
) {
  const res = await get(sim, path, token, params);
  return { status: res.status, headers: res.headers, body: (await res.json()) as T };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Every finding of the six hours before ANCHOR. */
const LAST_SIX_HOURS = {
  query: 'tc.findings.cloudProvider: *',
  startAt: iso(ANCHOR.getTime() - 6 * 3_600_000),
  endAt: iso(ANCHOR.getTime()),
};

describe('Qualys simulator', () => {
  let sim: Simulator;
  let token: string;

  beforeAll(async () => {
    sim = await startSimulator({ anchor: ANCHOR });
    token = await login(sim);
  });
  afterAll(async () => {
    await sim.close();
  });

  describe('auth', () => {
    it('issues a JWT that expires after 4 h of simulator time and hides the password', async () => {
      const res = await authRequest(sim, { ...DEFAULT_CREDENTIALS, token: 'true' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      const jwt = await res.text();
      const parts = jwt.split('.');
      expect(parts).toHaveLength(3);
      const payloadText = Buffer.from(parts[1] ?? '', 'base64url').toString();
      expect(payloadText).not.toContain(DEFAULT_CREDENTIALS.password);
      const payload = JSON.parse(payloadText) as { exp: number };
      expect(payload.exp).toBe(Math.floor(sim.control.now().getTime() / 1000) + 14_400);
    });

    it('rejects wrong credentials with 401 and missing fields with 400', async () => {
      expect(
        (await authRequest(sim, { ...DEFAULT_CREDENTIALS, password: 'nope', token: 'true' })).status,
      ).toBe(401);
      const missing = await authRequest(sim, { username: DEFAULT_CREDENTIALS.username, token: 'true' });
      expect(missing.status).toBe(400);
      expect(await missing.text()).toContain('password');
    });

    it('requires a bearer token and honours expireTokens', async () => {
      const params = {
        query: 'tc.findings.cloudProvider: AWS',
        startAt: iso(ANCHOR.getTime() - 3_600_000),
        endAt: iso(ANCHOR.getTime()),
      };
      const url = new URL(FINDINGS, sim.url);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      expect((await fetch(url)).status).toBe(401);
      expect((await get(sim, FINDINGS, 'not.a.jwt', params)).status).toBe(401);

      const own = await login(sim);
      expect((await get(sim, FINDINGS, own, params)).status).toBe(200);
      sim.control.expireTokens();
      const expired = await get(sim, FINDINGS, own, params);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual({ error: 'token expired' });
      token = await login(sim);
      expect((await get(sim, FINDINGS, token, params)).status).toBe(200);
    });

    it('expires tokens with the simulator clock', async () => {
      const other = await startSimulator({ anchor: ANCHOR, tokenTtlSec: 60, cdr: { historyHours: 1 } });
      try {
        const jwt = await login(other);
        const list = () => get(other, '/sdr/api/v1/connectors', jwt);
        expect((await list()).status).toBe(200);
        other.control.advanceClock(61_000);
        expect((await list()).status).toBe(401);
      } finally {
        await other.close();
      }
    });
  });

  describe('CDR findings', () => {
    const window = { startAt: iso(ANCHOR.getTime() - 48 * 3_600_000), endAt: iso(ANCHOR.getTime()) };

    it('answers 400 naming missing or invalid parameters', async () => {
      const missing = await getJson<{ message: string }>(sim, FINDINGS, token, { startAt: window.startAt });
      expect(missing.status).toBe(400);
      expect(missing.body.message).toContain('query');
      expect(missing.body.message).toContain('endAt');
      expect(missing.body.message).not.toContain('startAt');
      const badDate = await get(sim, FINDINGS, token, {
        query: 'tc.findings.cloudProvider: AWS',
        startAt: 'yesterday',
        endAt: window.endAt,
      });
      expect(badDate.status).toBe(400);
      const badLimit = await get(sim, FINDINGS, token, {
        query: 'tc.findings.cloudProvider: AWS',
        ...window,
        limit: 1001,
      });
      expect(badLimit.status).toBe(400);
      const badField = await get(sim, FINDINGS, token, { query: 'tc.findings.colour: red', ...window });
      expect(badField.status).toBe(400);
    });

    it('pages through a window returning each finding once, newest first, with consistent totals', async () => {
      const query =
        'tc.findings.cloudProvider: AWS or tc.findings.cloudProvider: AZURE or tc.findings.cloudProvider: GCP';
      const limit = 37;
      const seen: CdrFinding[] = [];
      let totalElements = -1;
      for (let offSet = 0; ; offSet += limit) {
        const { status, body } = await getJson<Page<CdrFinding>>(sim, `${FINDINGS}/`, token, {
          query,
          ...window,
          offSet,
          limit,
        });
        expect(status).toBe(200);
        if (totalElements < 0) totalElements = body.totalElements;
        expect(body.totalElements).toBe(totalElements);
        expect(body.totalPages).toBe(Math.ceil(totalElements / limit));
        expect(body.pageable.pageNumber).toBe(offSet / limit);
        expect(body.numberOfElements).toBe(body.content.length);
        seen.push(...body.content);
        if (body.last) break;
        expect(offSet).toBeLessThan(10_000);
      }
      expect(seen).toHaveLength(totalElements);
      expect(new Set(seen.map((f) => f.uuid)).size).toBe(totalElements);
      const times = seen.map((f) => Date.parse(f.timestamp));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const expected = sim.data.findings().filter((f) => {
        const t = Date.parse(f.timestamp);
        return t >= Date.parse(window.startAt) && t <= Date.parse(window.endAt);
      });
      expect(totalElements).toBe(expected.length);
      expect(totalElements).toBeGreaterThan(200);
      expect(seen[0]?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/);
    });

    it('filters with QQL (and binds tighter than or) and with query-string filters', async () => {
      const query =
        'tc.findings.cloudProvider: AWS and tc.findings.severity: HIGH or tc.findings.severity: "critical"';
      const { body } = await getJson<Page<CdrFinding>>(sim, FINDINGS, token, {
        query,
        ...window,
        limit: 1000,
      });
      const expected = sim.data
        .findings()
        .filter((f) => (f.cloudType === 'AWS' && f.severity === 3) || f.severity === 4);
      expect(body.totalElements).toBe(expected.length);
      expect(body.content.every((f) => (f.cloudType === 'AWS' && f.severity === 3) || f.severity === 4)).toBe(
        true,
      );

      const account = sim.data.cdrAccounts()[0] ?? '';
      const filtered = await getJson<Page<CdrFinding>>(sim, FINDINGS, token, {
        query: `tc.findings.cspAccount: ${account}`,
        ...window,
        severity: 'LOW',
        limit: 1000,
      });
      expect(filtered.body.totalElements).toBeGreaterThan(0);
      expect(filtered.body.content.every((f) => f.cspAccount === account && f.severity === 1)).toBe(true);
    });

    it('hides late findings until the simulator clock reaches their arrival', async () => {
      const other = await startSimulator({ anchor: ANCHOR, cdr: { historyHours: 6, lateFindings: 4 } });
      try {
        const jwt = await login(other);
        const params = LAST_SIX_HOURS;
        const count = async () =>
          (await getJson<Page<CdrFinding>>(other, FINDINGS, jwt, params)).body.totalElements;
        const before = await count();

        const ts = new Date(ANCHOR.getTime() - 10 * 60_000);
        const late = other.control.addLateFindings(3, { timestamp: ts, delayMinutes: 30 });
        expect(late).toHaveLength(3);
        expect(await count()).toBe(before);
        other.control.advanceClock(21 * 60_000); // clock = ts + 31 min
        expect(await count()).toBe(before + 3);
        other.control.advanceClock(2 * 3_600_000); // default late findings (120 min) arrive too
        expect(await count()).toBe(before + 3 + 4);
        expect(other.data.findings()).toHaveLength(other.data.findings(true).length);
      } finally {
        await other.close();
      }
    });

    it('serves future findings as the clock reaches them and a seeded fraction up to lateMaxMinutes late', async () => {
      const hour = 3_600_000;
      const cdr = {
        historyHours: 2,
        futureHours: 4,
        findingsPerHour: 100,
        lateFraction: 0.15,
        lateMaxMinutes: 120,
      };
      const other = await startSimulator({ anchor: ANCHOR, cdr: { ...cdr, lateFindings: 0 } });
      const again = await startSimulator({ anchor: ANCHOR, cdr: { ...cdr, lateFindings: 0 } });
      const plain = await startSimulator({
        anchor: ANCHOR,
        cdr: { historyHours: 2, findingsPerHour: 100, lateFindings: 0 },
      });
      try {
        const all = other.data.findings(true);
        expect(all).toHaveLength(600);
        expect(again.data.findings(true)).toEqual(all);
        // The history is the same with or without a future.
        const history = all.filter((f) => Date.parse(f.timestamp) <= ANCHOR.getTime());
        expect(history).toEqual(plain.data.findings(true));

        const at = (ms: number) => all.filter((f) => Date.parse(f.timestamp) <= ms);
        const visible = () => other.data.findings().map((f) => f.uuid);
        // About 15 % of what is stamped before the clock has not arrived yet.
        const missing = at(ANCHOR.getTime()).length - visible().length;
        expect(missing).toBeGreaterThan(0.05 * 200);
        expect(missing).toBeLessThan(0.25 * 200);
        other.control.advanceClock(2 * hour);
        const stamped = new Set(at(ANCHOR.getTime() + 2 * hour).map((f) => f.uuid));
        const arrived = new Set(visible());
        expect([...arrived].every((uuid) => stamped.has(uuid))).toBe(true);
        // Everything stamped 2 h (lateMaxMinutes) before the clock has arrived.
        expect(at(ANCHOR.getTime()).filter((f) => !arrived.has(f.uuid))).toEqual([]);
        other.control.advanceClock(4 * hour);
        expect(other.data.findings()).toHaveLength(600);
      } finally {
        await Promise.all([other.close(), again.close(), plain.close()]);
      }
    });

    it('adds findings visible immediately and is deterministic per seed and anchor', async () => {
      const a = await startSimulator({ anchor: ANCHOR, seed: 7, cdr: { historyHours: 2 } });
      const b = await startSimulator({ anchor: ANCHOR, seed: 7, cdr: { historyHours: 2 } });
      try {
        expect(a.data.findings()).toEqual(b.data.findings());
        const [added] = a.control.addFindings([{ severity: 4, cloudType: 'GCP' }]);
        expect(added?.severity).toBe(4);
        expect(a.data.findings().some((f) => f.uuid === added?.uuid)).toBe(true);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('serves a finding added while a window is being paged through from its next page on', async () => {
      const other = await startSimulator({ anchor: ANCHOR, cdr: { historyHours: 6 } });
      try {
        const jwt = await login(other);
        const params = { ...LAST_SIX_HOURS, limit: 10 };
        const first = (await getJson<Page<CdrFinding>>(other, FINDINGS, jwt, params)).body;
        const [added] = other.control.addFindings([{ timestamp: iso(ANCHOR.getTime() - 5 * 3_600_000) }]);
        const rest = (
          await getJson<Page<CdrFinding>>(other, FINDINGS, jwt, { ...params, offSet: 10, limit: 1000 })
        ).body;
        expect(rest.totalElements).toBe(first.totalElements + 1);
        expect(rest.content.map((f) => f.uuid)).toContain(added?.uuid);
      } finally {
        await other.close();
      }
    });
  });

  describe('latency', () => {
    it('answers after the latency with the findings as they are then, not as they were when asked', async () => {
      const slow = await startSimulator({ anchor: ANCHOR, cdr: { historyHours: 6 }, latencyMs: 200 });
      try {
        const jwt = await login(slow);
        const params = { ...LAST_SIX_HOURS, offSet: 0, limit: 1000 };
        const before = (await getJson<Page<CdrFinding>>(slow, FINDINGS, jwt, params)).body;
        // Another listing of the window is selected while its latency runs; a finding arrives meanwhile.
        const asked = getJson<Page<CdrFinding>>(slow, FINDINGS, jwt, {
          ...params,
          query: '(tc.findings.cloudProvider: *)',
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const [added] = slow.control.addFindings([{ timestamp: iso(ANCHOR.getTime() - 3_600_000) }]);
        const after = (await asked).body;

        expect(after.totalElements).toBe(before.totalElements + 1);
        expect(after.content.map((finding) => finding.uuid)).toContain(added?.uuid);
      } finally {
        await slow.close();
      }
    });
  });

  describe('rate limiting', () => {
    it('sends headers on counted calls, refuses exhausted windows and resets by the simulator clock', async () => {
      const other = await startSimulator({
        anchor: ANCHOR,
        rateLimit: { limit: 3, windowSec: 60 },
        cdr: { historyHours: 1 },
      });
      try {
        const jwt = await login(other);
        const call = () => get(other, '/sdr/api/v1/connectors', jwt);
        const first = await call();
        expect(first.status).toBe(200);
        expect(first.headers.get('x-ratelimit-limit')).toBe('3');
        expect(first.headers.get('x-ratelimit-window-sec')).toBe('60');
        expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
        expect(first.headers.get('x-ratelimit-towait-sec')).toBe('0');
        expect(first.headers.get('x-concurrency-limit-limit')).toBe('2');
        expect(first.headers.get('x-concurrency-limit-running')).toBe('1');
        await call();
        const third = await call();
        expect(third.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(Number(third.headers.get('x-ratelimit-towait-sec'))).toBeGreaterThan(0);

        const refused = await call();
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(Number(refused.headers.get('x-ratelimit-towait-sec'))).toBeGreaterThan(0);
        expect(other.stats.rateLimited).toBe(1);
        expect(other.stats.requests).toBe(3);

        other.control.advanceClock(60_000);
        expect((await call()).status).toBe(200);
      } finally {
        await other.close();
      }
    });

    it('refuses calls above the concurrency limit with ToWait 1', async () => {
      const other = await startSimulator({
        anchor: ANCHOR,
        rateLimit: { limit: 100, windowSec: 60, concurrency: 1, overLimitStatus: 409 },
        cdr: { historyHours: 1 },
      });
      try {
        const jwt = await login(other);
        other.control.slowNext(1, 500);
        const [a, b] = await Promise.all([
          get(other, '/sdr/api/v1/users', jwt),
          get(other, '/sdr/api/v1/groups', jwt),
        ]);
        const statuses = [a.status, b.status].sort();
        expect(statuses).toEqual([200, 409]);
        const refused = a.status === 409 ? a : b;
        expect(refused.headers.get('x-ratelimit-towait-sec')).toBe('1');
        expect(other.stats.maxConcurrent).toBe(2);
      } finally {
        await other.close();
      }
    });

    it('lets another consumer hold slots and spend calls: ours are refused until it lets go', async () => {
      const other = await startSimulator({
        anchor: ANCHOR,
        rateLimit: { limit: 10, windowSec: 60, concurrency: 2 },
        cdr: { historyHours: 1 },
      });
      try {
        const jwt = await login(other);
        const released = other.control.holdSlots(2, 300);
        expect(other.stats.otherConsumerCalls).toBe(2);
        const refused = await get(other, '/sdr/api/v1/users', jwt);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toBe('1');
        expect(other.stats.rateLimited).toBe(1);
        expect(other.stats.maxConcurrent).toBe(3);

        await released;
        const served = await get(other, '/sdr/api/v1/users', jwt);
        expect(served.status).toBe(200);
        // The other consumer's two calls count against the window like ours.
        expect(served.headers.get('x-ratelimit-remaining')).toBe('7');
        expect(other.stats.requests).toBe(1);
      } finally {
        await other.close();
      }
    });

    it('holds no slot for another consumer whose calls the spent window refuses', async () => {
      const other = await startSimulator({
        anchor: ANCHOR,
        rateLimit: { limit: 1, windowSec: 60, concurrency: 2 },
        cdr: { historyHours: 1 },
      });
      try {
        const jwt = await login(other);
        await other.control.holdSlots(2, 10);
        expect(other.stats.otherConsumerCalls).toBe(1);
        expect((await get(other, '/sdr/api/v1/users', jwt)).status).toBe(429);
      } finally {
        await other.close();
      }
    });
  });

  describe('paging behaviour', () => {
    const query = 'tc.findings.cloudProvider: *';
    const window = { startAt: iso(ANCHOR.getTime() - 48 * 3_600_000), endAt: iso(ANCHOR.getTime()) };
    const findings = (offSet: number, limit = 100) =>
      getJson<Page<CdrFinding>>(sim, FINDINGS, token, { query, ...window, offSet, limit });
    const users = (page: number, size = 200) =>
      getJson<Page<{ sourceId: string }>>(sim, '/sdr/api/v1/users', token, { page, size });
    const reportingParams = {
      policyName: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0',
      connectorId: 2245,
      connectorType: 'OFFICE365',
      controlEvaluations: 'Pass,Fail,Error',
    };
    const reporting = (pageNumber: number) =>
      getJson<ReportingResponse>(sim, '/sdr/api/v1/reporting', token, { ...reportingParams, pageNumber });

    afterEach(() => sim.control.setPaging(undefined));

    it('caps CDR pages below the limit asked for, with metadata computed on the cap', async () => {
      sim.control.setPaging({ cdrPageCap: 37 });
      const seen: string[] = [];
      let offSet = 0;
      for (let page = 0; page < 100; page++) {
        const { body } = await findings(offSet);
        expect(body.size).toBe(37);
        expect(body.totalPages).toBe(Math.ceil(body.totalElements / 37));
        expect(body.content.length).toBeLessThanOrEqual(37);
        expect(body.last).toBe(offSet + 37 >= body.totalElements);
        seen.push(...body.content.map((finding) => finding.uuid));
        if (body.last) break;
        expect(body.content).toHaveLength(37);
        offSet += body.content.length;
      }
      expect(seen).toHaveLength(288);
      expect(new Set(seen).size).toBe(288);
    });

    it('caps SaaSDR list pages: page p holds rows [p*cap, (p+1)*cap)', async () => {
      sim.control.setPaging({ sdrPageCap: 37 });
      const first = await users(0);
      expect(first.body).toMatchObject({
        size: 37,
        totalPages: 4,
        totalElements: 120,
        last: false,
        number: 0,
      });
      expect(first.body.content).toHaveLength(37);
      const all = [
        first.body,
        ...(await Promise.all([1, 2, 3].map(async (page) => (await users(page)).body))),
      ];
      expect(all.map((page) => page.last)).toEqual([false, false, false, true]);
      expect(new Set(all.flatMap((page) => page.content.map((user) => user.sourceId))).size).toBe(120);
    });

    it('sends paging fields as strings and can leave last out', async () => {
      sim.control.setPaging({ metadataAsStrings: true, omitLast: true, reportingTotalBatch: true });
      const { body } = await findings(0);
      const raw = body as unknown as Record<string, unknown>;
      expect(raw).toMatchObject({
        totalElements: '288',
        totalPages: '3',
        size: '100',
        number: '0',
        first: 'true',
      });
      expect('last' in raw).toBe(false);
      expect((await users(0)).body).toMatchObject({ totalElements: '120', empty: 'false' });
      expect((await reporting(1)).body.totalBatch).toBe('3');
    });

    it('tells /reporting callers how many batches there are when asked', async () => {
      expect((await reporting(1)).body.totalBatch).toBeUndefined();
      sim.control.setPaging({ reportingTotalBatch: true });
      const pages = await Promise.all(
        [1, 2, 3, 4].map(async (pageNumber) => (await reporting(pageNumber)).body),
      );
      expect(pages.map((page) => page.totalBatch)).toEqual([3, 3, 3, 3]);
      expect(pages.map((page) => page.controlDetailsSummaryDto.length)).toEqual([10, 10, 6, 0]);
    });

    it('will not go past stuckAt: a later cursor is served that page again', async () => {
      sim.control.setPaging({ stuckAt: 0 });
      const [first, second] = [(await findings(0, 37)).body, (await findings(37, 37)).body];
      expect(second.content.map((f) => f.uuid)).toEqual(first.content.map((f) => f.uuid));
      expect(second.pageable.offset).toBe(0);

      sim.control.setPaging({ stuckAt: 1 });
      const page5 = (await users(5, 50)).body;
      expect(page5.number).toBe(1);
      expect(page5.content.map((u) => u.sourceId)).toEqual(
        (await users(1, 50)).body.content.map((u) => u.sourceId),
      );
      const cids = async (pageNumber: number) =>
        (await reporting(pageNumber)).body.controlDetailsSummaryDto.map((control) => control.cid);
      expect(await cids(3)).toEqual(await cids(1));
    });

    it('serves empty pages that say there is more from emptyFrom on', async () => {
      sim.control.setPaging({ emptyFrom: 37, reportingTotalBatch: true });
      const { body } = await findings(37, 37);
      expect(body).toMatchObject({ content: [], last: false, totalElements: 288 });
      expect((await findings(0, 37)).body.content).toHaveLength(37);

      sim.control.setPaging({ emptyFrom: 1, reportingTotalBatch: true });
      expect((await users(1, 50)).body).toMatchObject({ content: [], last: false, totalPages: 3 });
      expect((await reporting(2)).body).toMatchObject({ controlDetailsSummaryDto: [], totalBatch: 3 });
    });

    it('logs every served call with its query', async () => {
      sim.stats.reset();
      await users(2, 50);
      expect(sim.stats.calls).toEqual([{ path: '/sdr/api/v1/users', query: { page: '2', size: '50' } }]);
    });
  });

  describe('misbehaviour', () => {
    it('fails, garbles, invalidates and resets queued requests in order', async () => {
      const path = '/sdr/api/v1/connectors';
      sim.control.failNext(1, 502);
      sim.control.malformedNext(1);
      sim.control.invalidNext(1);
      expect(sim.control.pending()).toMatchObject({ fail: 1, malformed: 1, invalid: 1 });
      expect((await get(sim, path, token)).status).toBe(502);
      const malformed = await get(sim, path, token);
      expect(malformed.status).toBe(200);
      await expect(malformed.json()).rejects.toThrow();
      expect(await (await get(sim, path, token)).json()).toEqual({ content: 'oops' });
      sim.control.resetNext(1);
      await expect(get(sim, path, token)).rejects.toThrow();
      expect((await get(sim, path, token)).status).toBe(200);
      sim.control.failNext(5);
      sim.control.reset();
      expect((await get(sim, path, token)).status).toBe(200);
    });

    it('redirects logins while told to, and the next calls to the same path on another origin', async () => {
      sim.control.redirectAuth('http://127.0.0.1:9/elsewhere', 308);
      const redirected = await fetch(`${sim.url}/auth`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...DEFAULT_CREDENTIALS, token: 'true' }),
        redirect: 'manual',
      });
      expect([redirected.status, redirected.headers.get('location')]).toEqual([
        308,
        'http://127.0.0.1:9/elsewhere',
      ]);
      sim.control.redirectAuth(undefined);
      expect((await authRequest(sim, { ...DEFAULT_CREDENTIALS, token: 'true' })).status).toBe(200);

      sim.control.redirectNext(1, 'https://other.example:8443');
      const url = new URL(FINDINGS, sim.url);
      url.searchParams.set('offSet', '10');
      const moved = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, redirect: 'manual' });
      expect([moved.status, moved.headers.get('location')]).toEqual([
        302,
        'https://other.example:8443/cdr-api/rest/v1/findings?offSet=10',
      ]);
      expect((await get(sim, '/sdr/api/v1/connectors', token)).status).toBe(200);
    });

    it('serves injected items in every answer of a list, counted in its totals, until cleared', async () => {
      const params = {
        query: 'tc.findings.cloudProvider: AWS',
        startAt: iso(ANCHOR.getTime() - 3_600_000),
        endAt: iso(ANCHOR.getTime()),
        limit: 1000,
      };
      const before = (await getJson<Page<unknown>>(sim, FINDINGS, token, params)).body;
      sim.control.injectItems(FINDINGS, [null, 'oops'], 1);
      const page = (await getJson<Page<unknown>>(sim, FINDINGS, token, params)).body;
      expect(page.content).toEqual([before.content[0], null, 'oops', ...before.content.slice(1)]);
      expect(page.totalElements).toBe(before.totalElements + 2);
      sim.control.injectItems('/sdr/api/v1/connectors', [{ id: '..' }]);
      const connectors = (await getJson<Page<{ id: unknown }>>(sim, '/sdr/api/v1/connectors', token)).body;
      expect(connectors.content[0]).toEqual({ id: '..' });
      sim.control.injectItems(FINDINGS, []);
      sim.control.injectItems('/sdr/api/v1/connectors', []);
      expect((await getJson<Page<unknown>>(sim, FINDINGS, token, params)).body).toEqual(before);
    });
  });

  describe('SaaSDR', () => {
    it('pages list endpoints with page/size and validates size', async () => {
      const seen = new Set<string>();
      let pages = 0;
      for (let page = 0; ; page++) {
        const { status, body } = await getJson<Page<{ sourceId: string }>>(sim, '/sdr/api/v1/users', token, {
          page,
          size: 50,
        });
        expect(status).toBe(200);
        expect(body.number).toBe(page);
        expect(body.totalElements).toBe(120);
        for (const u of body.content) seen.add(u.sourceId);
        pages++;
        if (body.last) break;
      }
      expect(pages).toBe(3);
      expect(seen.size).toBe(120);
      const beyond = await getJson<Page<unknown>>(sim, '/sdr/api/v1/users', token, { page: 9, size: 50 });
      expect(beyond.body.empty).toBe(true);
      expect((await get(sim, '/sdr/api/v1/users', token, { size: 201 })).status).toBe(400);
      expect((await get(sim, '/sdr/api/v1/connectors/999/scanners', token)).status).toBe(404);
      const gsuite = await getJson<Page<{ connectorType: string }>>(sim, '/sdr/api/v1/connectors', token, {
        query: 'connector.type: GSUITE',
      });
      expect(gsuite.body.content.map((c) => c.connectorType)).toEqual(['GSUITE']);
    });

    it('pages reporting until an empty page and reflects setControlResult', async () => {
      const params = {
        policyName: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0',
        connectorId: 2245,
        connectorType: 'OFFICE365',
        controlEvaluations: 'Pass,Fail,Error',
      };
      const missing = await getJson<{ message: string }>(sim, '/sdr/api/v1/reporting', token, {
        policyName: params.policyName,
      });
      expect(missing.status).toBe(400);
      expect(missing.body.message).toMatch(/connectorId.*connectorType.*controlEvaluations/);

      const cids: string[] = [];
      for (let pageNumber = 1; pageNumber < 50; pageNumber++) {
        const { status, body } = await getJson<ReportingResponse>(sim, '/sdr/api/v1/reporting', token, {
          ...params,
          pageNumber,
        });
        expect(status).toBe(200);
        expect(body.controlSummaryDto.totalNoofControls).toBe(26);
        if (body.controlDetailsSummaryDto.length === 0) break;
        cids.push(...body.controlDetailsSummaryDto.map((c) => c.cid));
      }
      expect(cids).toHaveLength(26);
      expect(new Set(cids).size).toBe(26);

      sim.control.setControlResult(2245, '70116', 'QualysSSCMSDev.com', 'Fail');
      const fails = await getJson<ReportingResponse>(sim, '/sdr/api/v1/reporting', token, {
        ...params,
        controlEvaluations: 'Fail',
        pageNumber: 1,
      });
      const all = [fails.body];
      for (let p = 2; all.at(-1)?.controlDetailsSummaryDto.length; p++) {
        all.push(
          (
            await getJson<ReportingResponse>(sim, '/sdr/api/v1/reporting', token, {
              ...params,
              controlEvaluations: 'Fail',
              pageNumber: p,
            })
          ).body,
        );
      }
      const control = all.flatMap((b) => b.controlDetailsSummaryDto).find((c) => c.cid === '70116');
      expect(control?.controlEvalutaionStatus).toBe('Fail');
      expect(fails.body.controlEvalutaions).toBe('Fail');

      const wrongPolicy = await get(sim, '/sdr/api/v1/reporting', token, {
        ...params,
        policyName: 'Zoom Best Practices',
      });
      expect([400, 404]).toContain(wrongPolicy.status);
      const google = await get(sim, '/sdr/api/v1/reporting', token, {
        policyName: 'Google Workspace Best Practices',
        connectorId: 2193,
        connectorType: 'Google Workspace',
        controlEvaluations: 'Fail',
      });
      expect(google.status).toBe(200);
    });

    it('streams completed reports with an exact Content-Length and can cut a download', async () => {
      const { body } = await getJson<Page<{ fileUuid: string; status: string }>>(
        sim,
        '/sdr/api/v1/reports',
        token,
      );
      const completed = body.content.filter((r) => r.status === 'completed');
      const small = completed[0]?.fileUuid ?? '';
      const res = await get(sim, `/sdr/api/v1/report/download/${small}`, token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv');
      expect(res.headers.get('content-disposition')).toMatch(/attachment; filename=".+\.csv"/);
      const length = Number(res.headers.get('content-length'));
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBe(length);
      expect(length).toBe(sim.data.reportSize(small));
      expect(length).toBeGreaterThan(150_000);

      const big = body.content[1]?.fileUuid ?? '';
      const bigRes = await get(sim, `/sdr/api/v1/report/download/${big}`, token);
      let received = 0;
      for await (const chunk of bigRes.body as unknown as AsyncIterable<Uint8Array>)
        received += chunk.byteLength;
      expect(received).toBe(Number(bigRes.headers.get('content-length')));
      expect(received).toBeGreaterThan(11 * 1024 * 1024);

      sim.control.truncateNextDownload(10_000);
      const cut = await get(sim, `/sdr/api/v1/report/download/${small}`, token);
      expect(cut.status).toBe(200);
      await expect(cut.arrayBuffer()).rejects.toThrow();

      const pending = body.content.find((r) => r.status === 'inprogress')?.fileUuid ?? '';
      expect((await get(sim, `/sdr/api/v1/report/download/${pending}`, token)).status).toBe(400);
      expect(
        (await get(sim, '/sdr/api/v1/report/download/00000000-0000-1000-8000-000000000000', token)).status,
      ).toBe(404);
    });
  });
});
