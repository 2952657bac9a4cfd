import { describe, expect, it } from 'vitest';
import { runCdrFindings } from '../../../functions/cdr-findings/collector';
import type { CdrFindingsSettings } from '../../../functions/cdr-findings/config';
import { type AlertMessage, AlertPublishError, type AlertSink } from '../../../functions/core/ports';
import { fromNdjsonGzip } from '../../../functions/core/records';
import { CallBudget } from '../../../functions/qualys/budget';
import { BudgetExhaustedError } from '../../../functions/qualys/errors';
import { MemoryStore } from '../../support/memory-store';

const MINUTE = 60_000;
const START = Date.parse('2025-05-10T00:00:00Z');

const settings: CdrFindingsSettings & { bucket: string } = {
  query: 'tc.findings.cloudProvider: AWS',
  pageSize: 2,
  minSeverity: 3,
  maxAlertsPerRun: 50,
  bucket: 'archive',
  lagMinutes: 0,
  lookbackMinutes: 720,
  lateMinutes: 120,
  settlePageSize: 1000,
  reconcileDays: 2,
  initialLookbackHours: 24,
  maxWindowHours: 24,
};

const finding = (uuid: string, at: number, severity = 3) => ({
  uuid,
  timestamp: new Date(at).toISOString(),
  severity,
  cloudType: 'AWS',
  cspAccount: '123456789012',
});

interface ApiOptions {
  /** Every call takes this much of the shared clock, as a slow gateway would. */
  callMinutes?: number;
  /** When late findings reach the API (clock ms, by uuid); the others are there from the start. */
  arrivals?: ReadonlyMap<string, number>;
  /** Calls the budget allows: the next one stops the run as a spent budget does. */
  callLimit?: number;
}

/** A CDR API over `findings` (newest first, offSet/limit, both bounds inclusive, a Spring Page). */
function fakeApi(
  findings: Array<ReturnType<typeof finding>>,
  clock: { now: number },
  options: ApiOptions = {},
) {
  const budget = new CallBudget({ now: () => clock.now });
  const requests: Array<{ startAt: string; endAt: string; offSet: number; limit: number }> = [];
  return {
    requests,
    qualys: {
      budget,
      async getJson(_path: string, query: Record<string, string | number | undefined>) {
        if (budget.callsMade >= (options.callLimit ?? Number.POSITIVE_INFINITY))
          throw new BudgetExhaustedError(60_000, 'the rate-limit window is spent');
        budget.callsMade++;
        clock.now += (options.callMinutes ?? 0) * MINUTE;
        const startAt = String(query.startAt);
        const endAt = String(query.endAt);
        const offSet = Number(query.offSet);
        const limit = Number(query.limit);
        requests.push({ startAt, endAt, offSet, limit });
        const inWindow = findings
          .filter((f) => (options.arrivals?.get(f.uuid) ?? Number.NEGATIVE_INFINITY) <= clock.now)
          .filter((f) => f.timestamp >= startAt && f.timestamp <= endAt)
          .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
        const content = inWindow.slice(offSet, offSet + limit);
        const body = {
          content,
          totalElements: inWindow.length,
          last: offSet + content.length >= inWindow.length,
        };
        return { body, raw: new TextEncoder().encode(JSON.stringify(body)), status: 200, url: '' };
      },
    },
  };
}

const sink = (): AlertSink & { sent: AlertMessage[] } => {
  const sent: AlertMessage[] = [];
  return {
    sent,
    async publish(messages) {
      sent.push(...messages);
      return { refused: new Map() };
    },
  };
};

const logger = { debug() {}, info() {}, warn() {}, error() {} };

function curatedUuids(store: MemoryStore): string[] {
  return [...store.objects.entries()]
    .filter(([key]) => key.startsWith('curated/cdr_findings/'))
    .flatMap(([, object]) => fromNdjsonGzip(object.body).map((record) => (record as { uuid: string }).uuid));
}

describe('runCdrFindings', () => {
  it('catches up to the time the run started, however long its windows take', async () => {
    const clock = { now: START };
    const findings = Array.from({ length: 40 }, (_, i) => finding(`f${i}`, START - (i + 1) * 30 * MINUTE));
    const store = new MemoryStore();
    const first = fakeApi(findings, clock);
    await runCdrFindings(
      { ...first, store, alerts: sink(), logger, settings, now: () => clock.now },
      { kind: 'incremental' },
      {
        deadline: Number.POSITIVE_INFINITY,
      },
    );

    // The next run, 15 minutes later, against a gateway that takes 2 minutes per call.
    clock.now += 15 * MINUTE;
    const slow = fakeApi(findings, clock, { callMinutes: 2 });
    const summary = await runCdrFindings(
      { ...slow, store, alerts: sink(), logger, settings, now: () => clock.now },
      { kind: 'incremental' },
      { deadline: Number.POSITIVE_INFINITY },
    );
    // One window (the 12 h lookback up to the run's start), not one more per minute it took.
    expect(summary.windows).toHaveLength(1);
    expect(new Set(slow.requests.map((request) => request.startAt)).size).toBe(1);
  });

  it('keeps every finding curated once when the same window is replayed after late data arrived', async () => {
    const clock = { now: START };
    const findings = [finding('a', START - 3 * 60 * MINUTE), finding('b', START - 2 * 60 * MINUTE)];
    const store = new MemoryStore();
    const window = {
      startAt: new Date(START - 6 * 60 * MINUTE).toISOString(),
      endAt: new Date(START).toISOString(),
    };
    const replay = async () => {
      const api = fakeApi(findings, clock);
      await runCdrFindings(
        { ...api, store, alerts: sink(), logger, settings, now: () => clock.now },
        { kind: 'window', window, alerts: false },
        { deadline: Number.POSITIVE_INFINITY },
      );
    };
    await replay();
    // A late finding lands in the window, newest, so it takes offset 0 and pushes the others on.
    findings.push(finding('c', START - 60 * MINUTE));
    await replay();
    await replay();
    expect(curatedUuids(store).sort()).toEqual(['a', 'b', 'c']);
  });
});

/** Without the legacy sliding re-read: new time, settle reads and the daily reconcile. */
const lateSettings = { ...settings, lookbackMinutes: 0, initialLookbackHours: 3 };

type Api = ReturnType<typeof fakeApi>;

/** One scheduled run at the clock's time; returns its summary and the alerts it published. */
async function scheduled(store: MemoryStore, api: Api, clock: { now: number }, config = lateSettings) {
  const alerts = sink();
  const summary = await runCdrFindings(
    { ...api, store, alerts, logger, settings: config, now: () => clock.now },
    { kind: 'incremental' },
    { deadline: Number.POSITIVE_INFINITY },
  );
  return { summary, alerts: alerts.sent };
}

/** Scheduled runs on demand over one store, API and clock; every alert they send goes to one sink. */
function repeatedRuns(
  store: MemoryStore,
  findings: Array<ReturnType<typeof finding>>,
  clock: { now: number },
) {
  const alerts = sink();
  const run = () =>
    runCdrFindings(
      { ...fakeApi(findings, clock), store, alerts, logger, settings: lateSettings, now: () => clock.now },
      { kind: 'incremental' },
      { deadline: Number.POSITIVE_INFINITY },
    );
  return { run, alerts };
}

/** Scheduled runs every `stepMinutes` from the clock's time until `until`; every alert key sent. */
async function schedule(
  store: MemoryStore,
  api: Api,
  clock: { now: number },
  until: number,
  stepMinutes = 5,
  config = lateSettings,
) {
  const alertKeys: string[] = [];
  const summaries = [];
  for (let runs = 0; clock.now <= until && runs < 1000; runs++) {
    const { summary, alerts } = await scheduled(store, api, clock, config);
    summaries.push(summary);
    alertKeys.push(...alerts.map((alert) => alert.attributes.alertKey ?? ''));
    clock.now += stepMinutes * MINUTE;
  }
  return { alertKeys, summaries };
}

const severeUuids = (findings: Array<ReturnType<typeof finding>>) =>
  findings.filter((f) => f.severity >= 3).map((f) => f.uuid);

describe('late data', () => {
  /** Every 10 minutes from 3 h before START to 3 h after, severity 3 every other one. */
  const steady = Array.from({ length: 36 }, (_, i) =>
    finding(`f${i}`, START + (i - 18) * 10 * MINUTE, i % 2 ? 3 : 1),
  );
  /** Findings that reach the API 60, 100 and 120 (= CDR_LATE_MINUTES) minutes after their timestamp. */
  const late = [
    finding('late-60', START + 70 * MINUTE),
    finding('late-100', START + 20 * MINUTE),
    finding('late-120', START + 30 * MINUTE),
  ];
  const arrivals = new Map([
    ['late-60', START + 130 * MINUTE],
    ['late-100', START + 120 * MINUTE],
    ['late-120', START + 150 * MINUTE],
  ]);

  it('catches findings up to CDR_LATE_MINUTES late with one settle read per hour, curated and alerted once', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const all = [...steady, ...late];
    const api = fakeApi(all, clock, { arrivals });
    const { alertKeys, summaries } = await schedule(store, api, clock, START + 4 * 60 * MINUTE);

    // The new windows passed the late findings before they arrived; the settle reads found them.
    const read = summaries.flatMap((summary) => summary.windows);
    expect(summaries.reduce((sum, summary) => sum + summary.lateFindings, 0)).toBe(late.length);
    expect(curatedUuids(store).sort()).toEqual(all.map((f) => f.uuid).sort());
    expect(alertKeys.sort()).toEqual(severeUuids(all).sort());

    // The first run's read settled the hour that was 2 h old already; each later hour is settled
    // once, at CDR_SETTLE_PAGE_SIZE, when 2 h old.
    const settles = read.filter((window) => window.kind === 'settle');
    expect(settles.map((window) => window.startAt)).toEqual(
      [-2, -1, 0, 1].map((hours) => new Date(START + hours * 60 * MINUTE).toISOString()),
    );
    expect(api.requests.filter((request) => request.limit === 1000)).toHaveLength(settles.length);
    // New time is read once: consecutive new windows meet, none re-reads the past.
    const news = read.filter((window) => window.kind === 'new');
    for (const [i, window] of news.entries()) if (i > 0) expect(window.startAt).toBe(news[i - 1]?.endAt);
  });

  it('skips the rest of a settle read when its first page total equals what the lake holds', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const api = fakeApi([...steady, ...late], clock, { arrivals });
    // 2 findings a settle page: an hour of 6 to 8 findings takes 3 or 4 calls when read in full.
    await schedule(store, api, clock, START + 4 * 60 * MINUTE, 5, { ...lateSettings, settlePageSize: 2 });
    const settleOffsets = (hour: number) =>
      api.requests
        .filter(
          (request) =>
            request.startAt === new Date(START + hour * 60 * MINUTE).toISOString() &&
            request.endAt.endsWith(':59:59.999Z'),
        )
        .map((request) => request.offSet);
    // Hours whose findings all came on time: the first page's total matches, one call each.
    expect(settleOffsets(-2)).toEqual([0]);
    expect(settleOffsets(-1)).toEqual([0]);
    // Hours that gained late findings (2 and 1): the totals differ, so the whole hour is read.
    expect(settleOffsets(0)).toEqual([0, 2, 4, 6]);
    expect(settleOffsets(1)).toEqual([0, 2, 4, 6]);
    expect(curatedUuids(store).sort()).toEqual([...steady, ...late].map((f) => f.uuid).sort());
  });

  it('leaves findings later than CDR_LATE_MINUTES to the next UTC day’s reconcile, which catches them', async () => {
    const evening = Date.parse('2025-05-10T20:00:00Z');
    const veryLate = finding('late-270', evening - 60 * MINUTE);
    const findings = [
      ...steady.map((f, i) => finding(f.uuid, evening + (i - 18) * 10 * MINUTE, f.severity)),
      veryLate,
    ];
    const clock = { now: evening };
    const store = new MemoryStore();
    const api = fakeApi(findings, clock, { arrivals: new Map([['late-270', evening + 210 * MINUTE]]) });

    const beforeMidnight = await schedule(store, api, clock, evening + 235 * MINUTE, 30);
    expect(curatedUuids(store)).not.toContain(veryLate.uuid);
    expect(beforeMidnight.summaries.flatMap((s) => s.windows).some((w) => w.kind === 'reconcile')).toBe(
      false,
    );

    const afterMidnight = await schedule(store, api, clock, evening + 270 * MINUTE, 30);
    const reconciles = afterMidnight.summaries
      .flatMap((s) => s.windows)
      .filter((w) => w.kind === 'reconcile');
    expect(reconciles).toEqual([
      expect.objectContaining({ startAt: '2025-05-09T00:00:00.000Z', newFindings: 1, complete: true }),
    ]);
    expect(api.requests.filter((request) => request.startAt === '2025-05-09T00:00:00.000Z')).toHaveLength(1);
    expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
    expect([...beforeMidnight.alertKeys, ...afterMidnight.alertKeys].sort()).toEqual(
      severeUuids(findings).sort(),
    );
  });

  it('gives a short budget to new time first, then resumes the settle read it stopped before', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    await scheduled(store, fakeApi(steady, clock), clock);
    // Three hours later, with calls for the new window only (18 findings, 9 pages of 2).
    clock.now += 3 * 60 * MINUTE;
    const short = fakeApi(steady, clock, { callLimit: 9 });
    const stopped = await scheduled(store, short, clock);
    expect(stopped.summary.stoppedEarly).toMatch(/spent/);
    expect(stopped.summary.windows.map((window) => window.kind)).toEqual(['new', 'settle']);
    expect(stopped.summary.windows[0]?.complete).toBe(true);
    const saved = stopped.summary.checkpoint as { settling?: { startAt: string; nextCursor: number } };
    expect(saved.settling).toMatchObject({
      startAt: new Date(START - 2 * 60 * MINUTE).toISOString(),
      nextCursor: 0,
    });

    clock.now += 5 * MINUTE;
    const next = await scheduled(store, fakeApi(steady, clock), clock);
    expect(next.summary.windows.map((window) => window.kind)).toEqual(['new', 'settle', 'settle', 'settle']);
    expect(next.summary.windows[1]?.startAt).toBe(saved.settling?.startAt);
    expect(curatedUuids(store).sort()).toEqual(steady.map((f) => f.uuid).sort());
  });
});

describe('stable windows', () => {
  const checkpointKey = 'state/cdr-findings/checkpoint.json';
  /** Fails the second checkpoint write: the one after page 0 (the first saves the planned window). */
  const secondCheckpoint = () => {
    let writes = 0;
    return (key: string) => key === checkpointKey && ++writes === 2;
  };
  const failures: Array<[string, () => (key: string) => boolean]> = [
    ['the raw page', () => (key) => key.startsWith('raw/')],
    ['the curated object', () => (key) => key.startsWith('curated/')],
    ['its journal entry', () => (key) => key.startsWith('state/cdr-findings/journal/')],
    ['the checkpoint after it', secondCheckpoint],
  ];

  it.each(failures)(
    'a failed write of %s on page 0 of a new window, then the next run: no duplicate row, no duplicate alert',
    async (_what, failing) => {
      const clock = { now: START };
      const store = new MemoryStore();
      const findings = Array.from({ length: 5 }, (_, i) => finding(`f${i}`, START - (i + 1) * 10 * MINUTE));
      const { run, alerts } = repeatedRuns(store, findings, clock);
      store.failOnce(failing());
      await expect(run()).rejects.toThrow(/simulated S3 write failure/);
      const planned = JSON.parse(store.text(checkpointKey) ?? '{}') as {
        pending: { startAt: string; endAt: string };
      };

      clock.now += 5 * MINUTE;
      const retried = await run();
      // The retried window has the bounds saved before its first call, so its pages keep their keys.
      expect(retried.windows[0]).toMatchObject({
        kind: 'new',
        startAt: planned.pending.startAt,
        endAt: planned.pending.endAt,
        complete: true,
      });
      expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
      expect(alerts.sent.map((alert) => alert.attributes.alertKey).sort()).toEqual(
        severeUuids(findings).sort(),
      );
    },
  );
});

describe('the page journal', () => {
  const journal = 'state/cdr-findings/journal/';
  const failures: Array<[string, (store: MemoryStore) => void]> = [
    ['the seen index', (store) => store.failOnce((key) => key.startsWith('state/cdr-findings/seen/'))],
    ['the alert outbox', (store) => store.failOnce((key) => key === 'state/cdr-findings/alert-outbox.json')],
    ['the deletion of the merged entries', (store) => store.failDeleteOnce((key) => key.startsWith(journal))],
  ];

  it.each(failures)(
    'a run whose merge fails at %s sends no alert; the next run merges, with no duplicate row or alert',
    async (_what, fail) => {
      const clock = { now: START };
      const store = new MemoryStore();
      const findings = Array.from({ length: 5 }, (_, i) => finding(`f${i}`, START - (i + 1) * 10 * MINUTE));
      const { run, alerts } = repeatedRuns(store, findings, clock);
      fail(store);
      await expect(run()).rejects.toThrow(/simulated S3 (write|delete) failure/);
      expect(alerts.sent).toEqual([]);
      expect([...store.objects.keys()].some((key) => key.startsWith(journal))).toBe(true);

      clock.now += 5 * MINUTE;
      const next = await run();
      expect(next.newFindings).toBe(0);
      expect([...store.objects.keys()].filter((key) => key.startsWith(journal))).toEqual([]);
      expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
      expect(alerts.sent.map((alert) => alert.attributes.alertKey).sort()).toEqual(
        severeUuids(findings).sort(),
      );
    },
  );

  it('writes per page only the raw page, its curated object and one journal entry; the rest once a run', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const findings = Array.from({ length: 40 }, (_, i) => finding(`g${i}`, START - (i + 1) * 3 * MINUTE));
    await runCdrFindings(
      {
        ...fakeApi(findings, clock),
        store,
        alerts: sink(),
        logger,
        settings: { ...lateSettings, pageSize: 5 },
        now: () => clock.now,
      },
      { kind: 'incremental' },
      { deadline: Number.POSITIVE_INFINITY },
    );
    const count = (prefix: string) => store.writes.filter((key) => key.startsWith(prefix)).length;
    expect(count('raw/cdr-findings/')).toBe(8);
    expect(count('curated/cdr_findings/')).toBe(8);
    expect(count(journal)).toBe(8);
    expect(count('state/cdr-findings/seen/')).toBe(1);
    expect(count('state/cdr-findings/alert-outbox.json')).toBeLessThanOrEqual(2);
    expect(store.deletes.filter((key) => key.startsWith(journal))).toHaveLength(8);
  });
});

describe('checkpoints', () => {
  const CHECKPOINT = 'state/cdr-findings/checkpoint.json';

  /**
   * A store whose checkpoint writes take a while, as S3 round trips do: each is held until another
   * raw page starts being written, or a second has passed (however loaded the machine, a run that
   * goes on while its checkpoint is written starts the next raw page well within it). It logs when
   * puts start and end.
   */
  class SlowCheckpointStore extends MemoryStore {
    readonly events: string[] = [];
    private rawStarted?: () => void;
    override async put(...args: Parameters<MemoryStore['put']>): Promise<void> {
      const [key] = args;
      const name = key === CHECKPOINT ? 'checkpoint' : key.split('/')[0];
      this.events.push(`start ${name}`);
      if (name === 'raw') this.rawStarted?.();
      if (key === CHECKPOINT) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          this.rawStarted = () => {
            clearTimeout(timer);
            this.rawStarted = undefined;
            resolve();
          };
        });
      }
      await super.put(...args);
      this.events.push(`end ${name}`);
    }
  }

  it("writes a page's checkpoint while the next page is read and written, one checkpoint at a time", async () => {
    const clock = { now: START };
    const store = new SlowCheckpointStore();
    const findings = Array.from({ length: 12 }, (_, i) => finding(`c${i}`, START - (i + 1) * 10 * MINUTE));
    const config = { ...lateSettings, pageSize: 3 };
    await scheduled(store, fakeApi(findings, clock), clock, config);

    // Never two checkpoint writes at once, and each lands before the next starts.
    let inFlight = 0;
    for (const event of store.events) {
      if (event === 'start checkpoint') expect(++inFlight).toBe(1);
      if (event === 'end checkpoint') inFlight--;
    }
    // While a page's checkpoint was being written, the next page's raw page was written.
    const overlapped = store.events.some((event, index) => {
      if (event !== 'start checkpoint') return false;
      const end = store.events.indexOf('end checkpoint', index);
      return store.events.slice(index, end).includes('start raw');
    });
    expect(overlapped).toBe(true);
    // The last checkpoint is the finished window, and every finding landed once.
    const saved = JSON.parse(store.text(CHECKPOINT) ?? '');
    expect(saved.pending).toBeUndefined();
    expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
  }, 30_000);

  it('a checkpoint that cannot be written stops the run with its error; the next run resumes from the last one written, nothing twice', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const findings = Array.from({ length: 12 }, (_, i) => finding(`d${i}`, START - (i + 1) * 10 * MINUTE));
    const config = { ...lateSettings, pageSize: 3 };
    let checkpoints = 0;
    // The first write plans the window; the third is the checkpoint after the second page.
    store.failOnce((key) => key === CHECKPOINT && ++checkpoints === 3);
    const alerts = sink();
    const run = (api: Api) =>
      runCdrFindings(
        { ...api, store, alerts, logger, settings: config, now: () => clock.now },
        { kind: 'incremental' },
        { deadline: Number.POSITIVE_INFINITY },
      );
    await expect(run(fakeApi(findings, clock))).rejects.toThrow('simulated S3 write failure');
    const saved = JSON.parse(store.text(CHECKPOINT) ?? '');
    expect(saved.pending?.nextCursor).toBe(3);

    const next = fakeApi(findings, clock);
    await run(next);
    // The next run reads the window again from the cursor that was written.
    expect(next.requests[0]?.offSet).toBe(3);
    expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
    expect(alerts.sent.map((alert) => alert.attributes.alertKey).sort()).toEqual(
      severeUuids(findings).sort(),
    );
  });

  it('a checkpoint that cannot be written stops the read within a page, even when the pages after it add nothing', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const findings = Array.from({ length: 30 }, (_, i) => finding(`e${i}`, START - (i + 2) * MINUTE));
    const window = {
      startAt: new Date(START - 6 * 60 * MINUTE).toISOString(),
      endAt: new Date(START).toISOString(),
    };
    const replay = (api: Api) =>
      runCdrFindings(
        {
          ...api,
          store,
          alerts: sink(),
          logger,
          settings: { ...settings, pageSize: 3 },
          now: () => clock.now,
        },
        { kind: 'window', window, alerts: false },
        { deadline: Number.POSITIVE_INFINITY },
      );
    await replay(fakeApi(findings, clock));
    // A newer finding arrives: the next read's first page adds it, and its ten other pages add nothing.
    findings.push(finding('late', START - MINUTE));
    let replayCheckpoints = 0;
    // The first write of the read records its cursor 0; the second, the first page's progress.
    store.failOnce((key) => key.includes('/replays/') && ++replayCheckpoints === 2);
    const api = fakeApi(findings, clock);
    const rawBefore = store.writes.filter((key) => key.startsWith('raw/')).length;
    await expect(replay(api)).rejects.toThrow('simulated S3 write failure');
    // The read stops at the first page after the failure is known (the page being written when it
    // is may still land), not at the end of the window's eleven.
    expect(store.writes.filter((key) => key.startsWith('raw/')).length - rawBefore).toBeLessThanOrEqual(2);
    expect(api.requests.length).toBeLessThan(11);
    expect(curatedUuids(store).sort()).toEqual(findings.map((f) => f.uuid).sort());
  });

  it('a checkpoint that cannot be written fails the run even when the read was stopping for the budget', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const findings = Array.from({ length: 12 }, (_, i) => finding(`h${i}`, START - (i + 1) * 10 * MINUTE));
    let checkpoints = 0;
    // The first write plans the window; the third records the second page, whose next call the
    // budget refuses.
    store.failOnce((key) => key === CHECKPOINT && ++checkpoints === 3);
    const api = fakeApi(findings, clock, { callLimit: 2 });
    await expect(scheduled(store, api, clock, { ...lateSettings, pageSize: 3 })).rejects.toThrow(
      'simulated S3 write failure',
    );
  });
});

describe('a run with more alerts than it keeps in memory', () => {
  const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  /** 6,000 severe findings over the first run's 3 hours: past the 5,000 an outbox keeps in memory. */
  const many = Array.from({ length: 6000 }, (_, i) => finding(uuid(i), START - 1000 - i * 1500, 4));
  const coveredKeys = (sent: AlertMessage[]) =>
    sent.flatMap((message) => message.email.split('Keys covered by this digest:')[1]?.match(/\S+/g) ?? []);
  const big = { ...lateSettings, pageSize: 1000 };

  it('sends every alert once, as digests read from segments, and leaves no segment or journal entry', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const { summary, alerts } = await scheduled(store, fakeApi(many, clock), clock, big);
    expect(summary.newFindings).toBe(6000);
    expect(summary.digestsPublished).toBeGreaterThanOrEqual(30);
    expect(coveredKeys(alerts).sort()).toEqual(many.map((f) => f.uuid).sort());
    expect([...store.objects.keys()].filter((key) => key.startsWith('state/cdr-findings/journal/'))).toEqual(
      [],
    );
  });

  it('SNS failing part-way: the next run sends the rest, each once', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const sent: AlertMessage[] = [];
    let calls = 0;
    const flaky: AlertSink = {
      async publish(messages) {
        if (++calls === 2) {
          // SNS took the first three messages of this call, then throttled.
          sent.push(...messages.slice(0, 3));
          throw new AlertPublishError('SNS throttled', new Set([0, 1, 2]));
        }
        sent.push(...messages);
        return { refused: new Map() };
      },
    };
    const run = () =>
      runCdrFindings(
        { ...fakeApi(many, clock), store, alerts: flaky, logger, settings: big, now: () => clock.now },
        { kind: 'incremental' },
        { deadline: Number.POSITIVE_INFINITY },
      );
    await expect(run()).rejects.toThrow('SNS throttled');
    clock.now += 5 * MINUTE;
    await run();
    expect(coveredKeys(sent).sort()).toEqual(many.map((f) => f.uuid).sort());
  });
});

describe('backfills without alerts', () => {
  /** Every 20 minutes over the 3 hours a first scheduled run reads, severity 3 every other one. */
  const recent = Array.from({ length: 9 }, (_, i) =>
    finding(`r${i}`, START - (i + 1) * 20 * MINUTE, i % 2 ? 1 : 3),
  );
  /** A day before: older than anything a scheduled run reads before the next UTC day. */
  const old = Array.from({ length: 4 }, (_, i) => finding(`o${i}`, START - (20 + i) * 60 * MINUTE, 4));
  const all = [...recent, ...old];
  const window = (fromHours: number, toHours: number) => ({
    startAt: new Date(START - fromHours * 60 * MINUTE).toISOString(),
    endAt: new Date(START - toHours * 60 * MINUTE).toISOString(),
  });

  async function backfill(
    store: MemoryStore,
    clock: { now: number },
    at: ReturnType<typeof window>,
    alerts = false,
  ) {
    const sent = sink();
    const summary = await runCdrFindings(
      { ...fakeApi(all, clock), store, alerts: sent, logger, settings: lateSettings, now: () => clock.now },
      { kind: 'window', window: at, alerts },
      { deadline: Number.POSITIVE_INFINITY },
    );
    return { summary, sent: sent.sent };
  }

  it('never silences what the scheduled runs would alert: they alert what the backfill curated in the time they read, once', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const quiet = await backfill(store, clock, window(24, 0));
    expect(quiet.sent).toEqual([]);
    expect(quiet.summary.curatedWithoutAlert).toBe(severeUuids(all).length);
    // A replay with alerts on skips what is in the lake, whether alerted or not.
    expect((await backfill(store, clock, window(24, 0), true)).sent).toEqual([]);

    const { alertKeys, summaries } = await schedule(
      store,
      fakeApi(all, clock),
      clock,
      START + 4 * 60 * MINUTE,
    );

    // The scheduled runs read the last 3 hours (CDR_INITIAL_LOOKBACK_HOURS), then new time and settle reads.
    expect(alertKeys.sort()).toEqual(severeUuids(recent).sort());
    expect(summaries.reduce((sum, summary) => sum + summary.alertedAfterBackfill, 0)).toBe(
      severeUuids(recent).length,
    );
    expect(curatedUuids(store).sort()).toEqual(all.map((f) => f.uuid).sort());
  });

  it('the next UTC day, the reconcile alerts what the backfill curated in the days it re-reads; older ones stay quiet', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    /** Before 2025-05-09T00:00Z: older than the reconcile of 2025-05-11 re-reads (CDR_RECONCILE_DAYS 2). */
    const ancient = [finding('x0', START - 30 * 60 * MINUTE, 4)];
    const data = [...all, ...ancient];
    const quiet = await runCdrFindings(
      {
        ...fakeApi(data, clock),
        store,
        alerts: sink(),
        logger,
        settings: lateSettings,
        now: () => clock.now,
      },
      { kind: 'window', window: window(48, 0), alerts: false },
      { deadline: Number.POSITIVE_INFINITY },
    );
    expect(quiet.curatedWithoutAlert).toBe(severeUuids(data).length);

    const today = await schedule(store, fakeApi(data, clock), clock, START + 60 * MINUTE, 30);
    expect(today.alertKeys.sort()).toEqual(severeUuids(recent).sort());
    clock.now = Date.parse('2025-05-11T00:30:00Z');
    const nextDay = await schedule(store, fakeApi(data, clock), clock, clock.now, 30);

    expect(nextDay.summaries[0]?.windows.some((read) => read.kind === 'reconcile')).toBe(true);
    expect(nextDay.alertKeys.sort()).toEqual(severeUuids(old).sort());
  });

  it('sends the alert of a backfilled finding once, pointing at the object the backfill curated, even when marking it alerted failed once', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    await backfill(store, clock, window(3, 0));
    const sent = sink();
    const run = () =>
      runCdrFindings(
        { ...fakeApi(all, clock), store, alerts: sent, logger, settings: lateSettings, now: () => clock.now },
        { kind: 'incremental' },
        { deadline: Number.POSITIVE_INFINITY },
      );
    store.failOnce((key) => key.startsWith('state/cdr-findings/seen/'));
    await expect(run()).rejects.toThrow(/simulated S3 write failure/);
    clock.now += 5 * MINUTE;
    await run();
    clock.now += 5 * MINUTE;
    await run();

    expect(sent.sent.map((alert) => alert.attributes.alertKey).sort()).toEqual(severeUuids(recent).sort());
    for (const alert of sent.sent) {
      const curatedKey = /s3:\/\/archive\/(\S+)/.exec(alert.email)?.[1] ?? '';
      const uuids = fromNdjsonGzip(store.objects.get(curatedKey)?.body ?? new Uint8Array()).map(
        (record) => (record as { uuid: string }).uuid,
      );
      expect(uuids).toContain(alert.attributes.alertKey);
    }
  });
});

describe('items that are not findings', () => {
  it('sets aside a null, a string and a finding with a timestamp without a zone; the rest land, alert, and the watermark moves', async () => {
    const clock = { now: START };
    const store = new MemoryStore();
    const good = [finding('a', START - 30 * MINUTE, 4), finding('b', START - 40 * MINUTE, 1)];
    const noZone = { ...finding('c', START - 50 * MINUTE, 4), timestamp: '2025-05-09T23:10:00' };
    const content = [good[0], null, 'oops', noZone, good[1]];
    const budget = new CallBudget({ now: () => clock.now });
    const qualys = {
      budget,
      async getJson() {
        budget.callsMade++;
        const body = { content, totalElements: content.length, last: true };
        return { body, raw: new TextEncoder().encode(JSON.stringify(body)), status: 200, url: '' };
      },
    };
    const alerts = sink();
    const summary = await runCdrFindings(
      { qualys, store, alerts, logger, settings: lateSettings, now: () => clock.now },
      { kind: 'incremental' },
      { deadline: Number.POSITIVE_INFINITY },
    );

    expect(curatedUuids(store).sort()).toEqual(['a', 'b']);
    expect(alerts.sent.map((alert) => alert.attributes.alertKey)).toEqual(['a']);
    expect(summary).toMatchObject({ findings: 5, newFindings: 2, rejected: 3 });
    expect(summary.checkpoint?.watermark).toBe(new Date(START).toISOString());
    const [rejectedKey, ...others] = [...store.objects.keys()].filter((key) => key.includes('/rejected/'));
    expect(others).toEqual([]);
    const setAside = JSON.parse(store.text(rejectedKey ?? '') ?? '{}') as {
      rejected: Array<{ index: number; reason: string; record: unknown }>;
    };
    expect(setAside.rejected.map(({ index, record }) => [index, record])).toEqual([
      [1, null],
      [2, 'oops'],
      [3, noZone],
    ]);
    expect(setAside.rejected[2]?.reason).toMatch(/timestamp: must be an ISO-8601 date-time with a zone/);
    const raw = [...store.objects.keys()].filter((key) => key.startsWith('raw/cdr-findings/'));
    expect(raw).toHaveLength(1);
  });
});
