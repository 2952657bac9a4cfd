import { describe, expect, it } from 'vitest';
import { runCdrFindings } from '../../../functions/cdr-findings/collector';
import type { CdrFindingsSettings } from '../../../functions/cdr-findings/config';
import type { AlertMessage, AlertSink } from '../../../functions/core/ports';
import { fromNdjsonGzip } from '../../../functions/core/records';
import { CallBudget } from '../../../functions/qualys/budget';
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

/**
 * A CDR API over `findings` (newest first, offSet/limit) whose every call takes `callMinutes` of
 * the shared clock, as a slow gateway would.
 */
function fakeApi(findings: Array<ReturnType<typeof finding>>, clock: { now: number }, callMinutes = 0) {
  const budget = new CallBudget({ now: () => clock.now });
  const requests: Array<{ startAt: string; endAt: string; offSet: number }> = [];
  return {
    requests,
    qualys: {
      budget,
      async getJson(_path: string, query: Record<string, string | number | undefined>) {
        budget.callsMade++;
        clock.now += callMinutes * MINUTE;
        const startAt = String(query.startAt);
        const endAt = String(query.endAt);
        const offSet = Number(query.offSet);
        requests.push({ startAt, endAt, offSet });
        const inWindow = findings
          .filter((f) => f.timestamp >= startAt && f.timestamp <= endAt)
          .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
        const content = inWindow.slice(offSet, offSet + Number(query.limit));
        const body = { content, last: offSet + content.length >= inWindow.length };
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
    const slow = fakeApi(findings, clock, 2);
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
