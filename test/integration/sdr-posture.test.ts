import { describe, expect } from 'vitest';
import { CONNECTOR_TYPES } from '../../functions/qualys/sdr';
import { sdrPostureKeys as postureKeys } from '../../functions/sdr-posture/keys';
import type { FailureState, PostureCheckpoint } from '../../functions/sdr-posture/model';
import { DEFAULT_CREDENTIALS, type ReportingResponse, type Simulator } from '../simulator/index';
import { ageLedger } from '../support/call-budget-ledger';
import { collectorTest, type TestLake } from '../support/fixtures';
import { type Handler, lambdaContext } from '../support/invoke';
import type { ReceivedAlert } from '../support/local-aws';

/**
 * The built sdr-posture bundle against the Qualys simulator and fauxqs: the rows in the bucket,
 * the alerts that reach an SQS queue subscribed to the topic, and the failure state.
 */
const test = collectorTest('sdr-posture', {
  QUALYS_REQUEST_TIMEOUT_MS: '5000',
  QUALYS_MAX_RETRIES: '1',
  QUALYS_CALL_RESERVE: '0',
  SDR_MAX_CALLS_PER_RUN: '100',
  SDR_POSTURE_NOTIFY_RECOVERY: 'true',
  SDR_POSTURE_MIN_CRITICALITY: 'Low',
  // These tests follow single failures from the first poll on; sdr-posture-alerts.test.ts has the baseline summary.
  SDR_POSTURE_BASELINE_SUMMARY: 'false',
  ALERT_MAX_PER_RUN: '1000',
});

interface Summary {
  pollId: string;
  resumedPoll: boolean;
  pollComplete: boolean;
  connectors?: { listed: number; polled: number; disabled: number; unknownType: Array<{ id: string }> };
  pairs: { total: number; done: number; remaining: number };
  rows: number;
  newFailures: number;
  recoveries: number;
  alertsPublished: number;
  apiCalls: number;
  stoppedEarly?: string;
}

const run = async (handler: Handler) => (await handler({}, lambdaContext())) as Summary;

interface ServedRow {
  connectorId: number;
  connectorType: string;
  policyName: string;
  cid: string;
  criticality: string;
  resourceId: string;
  result: string;
}

/**
 * What the simulator serves now for every enabled connector of a known type and each policy that
 * applies to it, read straight from its API: the truth the lake must match.
 */
async function served(sim: Simulator): Promise<ServedRow[]> {
  const login = await fetch(`${sim.url}/auth`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...DEFAULT_CREDENTIALS, token: 'true' }),
  });
  const token = await login.text();
  const rows: ServedRow[] = [];
  const { connectors, policies } = sim.data.sdr;
  for (const connector of connectors) {
    const type = CONNECTOR_TYPES[connector.connectorType];
    if (connector.isEnabled !== 1 || !type) continue;
    for (const policy of policies) {
      if (policy.connectorType !== connector.connectorType) continue;
      for (let pageNumber = 1; pageNumber < 100; pageNumber++) {
        const url = new URL('/sdr/api/v1/reporting', sim.url);
        url.search = new URLSearchParams({
          policyName: policy.name,
          connectorId: String(connector.id),
          connectorType: type,
          controlEvaluations: 'Pass,Fail,Error',
          pageNumber: String(pageNumber),
        }).toString();
        const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
        const body = (await response.json()) as ReportingResponse;
        if (body.controlDetailsSummaryDto.length === 0) break;
        for (const control of body.controlDetailsSummaryDto) {
          for (const resource of control.controlEvaluationSummaryDto) {
            rows.push({
              connectorId: connector.id,
              connectorType: connector.connectorType,
              policyName: policy.name,
              cid: control.cid,
              criticality: control.criticality,
              resourceId: resource.resourceId,
              result: resource.resourceEvaluationResult,
            });
          }
        }
      }
    }
  }
  return rows;
}

const keyOf = (row: { connectorId: unknown; cid: unknown; resourceId: unknown }) =>
  `${String(row.connectorId)}:${String(row.cid)}:${String(row.resourceId)}`;

/** Failing (connector, cid, resource) keys, each once even when two policies share the control. */
const failingKeys = (rows: ServedRow[]) =>
  [...new Set(rows.filter((row) => row.result === 'Fail').map(keyOf))].sort();

const alertKeys = (alerts: ReceivedAlert[]) => alerts.map((alert) => alert.attributes.alertKey ?? '').sort();

async function rowsOfPoll(lake: TestLake, pollId: string) {
  const rows = await lake.records('curated/sdr_posture/');
  return rows.filter((row) => row.lake_run_id === pollId);
}

const failureState = (lake: TestLake) => lake.json<FailureState>(postureKeys.failures);

describe('sdr-posture Lambda', () => {
  describe('with a connector of a type /reporting does not know', () => {
    test.override('simulatorOptions', { sdr: { includeUnknownConnectorType: true } });

    test('curates every control x resource of every enabled connector/policy and alerts once per failing resource', async ({
      sim,
      lake,
      handlerWith,
    }) => {
      const truth = await served(sim);
      const handler = await handlerWith();

      const summary = await run(handler);
      expect(summary).toMatchObject({
        pollComplete: true,
        resumedPoll: false,
        connectors: { listed: 6, polled: 4, disabled: 1, unknownType: [{ id: '2400' }] },
        pairs: { total: 6, done: 6, remaining: 0 },
      });

      // Every row the API serves, once, with its connector, policy and result.
      const rows = await rowsOfPoll(lake, summary.pollId);
      const describeRow = (row: Record<string, unknown>) =>
        `${row.connectorId}|${row.policyName}|${row.cid}|${row.resourceId}|${row.resourceEvaluationResult}`;
      expect(rows.map(describeRow).sort()).toEqual(
        truth.map((row) => describeRow({ ...row, resourceEvaluationResult: row.result })).sort(),
      );
      expect(rows.some((row) => row.connectorId === 2400 || row.connectorId === 2301)).toBe(false);
      const sample = rows.find((row) => row.resourceEvaluationResult === 'Fail');
      expect(Object.keys(sample ?? {})).toEqual(
        expect.arrayContaining([
          'connectorId',
          'connectorType',
          'connectorName',
          'policyName',
          'cid',
          'controlName',
          'criticality',
          'controlEvaluationStatus',
          'isRemediable',
          'lastEvaluatedDate',
          'firstScannedDate',
          'resourceId',
          'resourceEvaluationResult',
          'evidenceDetails',
          'lake_run_id',
          'lake_ingested_at',
          'lake_raw_key',
          'lake_connector_id',
        ]),
      );

      // Raw pages and curated objects under the documented, safe keys.
      const keys = await lake.keys();
      const day = `${summary.pollId.slice(0, 4)}-${summary.pollId.slice(4, 6)}-${summary.pollId.slice(6, 8)}`;
      const raw = keys.filter((key) => key.startsWith('raw/'));
      for (const key of raw) {
        expect(key).toMatch(
          new RegExp(
            `^raw/sdr-posture/dt=${day}/run=${summary.pollId.replace('.', '\\.')}/(connectors|policies|connector=\\d+/policy=\\d+)/page=\\d{5}\\.json\\.gz$`,
          ),
        );
      }
      expect(raw.filter((key) => key.includes('/connector='))).toHaveLength(truthPages(truth));
      for (const key of keys.filter((key) => key.startsWith('curated/'))) {
        expect(key).toMatch(new RegExp(`^curated/sdr_posture/dt=${day}/[^/]+\\.json\\.gz$`));
      }
      expect(keys.some((key) => key.includes('sharepoint'))).toBe(false);

      // One alert per failing (connector, cid, resource), with the documented attributes.
      const alerts = await lake.alerts();
      const expected = failingKeys(truth);
      expect(alertKeys(alerts)).toEqual(expected);
      expect(expected.some((key) => key.includes('sharepoint.com/sites/Finance/../HR'))).toBe(true);
      for (const alert of alerts) {
        const row = truth.find((item) => keyOf(item) === alert.attributes.alertKey);
        expect(alert.attributes).toEqual({
          source: 'sdr-posture',
          kind: 'failed',
          criticality: row?.criticality,
          rank: String({ Low: 1, Medium: 2, High: 3, Critical: 4 }[row?.criticality ?? ''] ?? 5),
          connectorType: row?.connectorType,
          alertKey: alert.attributes.alertKey,
          subscription: 'default',
        });
        expect(alert.subject?.length).toBeLessThan(100);
        expect(alert.email).toContain('What fails:');
        expect(alert.email).not.toContain('evidenceFail');
        expect(alert.chat.content.title).toContain('SaaS posture control failed');
      }
      expect(Object.keys((await failureState(lake)).failures).sort()).toEqual(expected);
    });
  });

  test('sends nothing for an unchanged poll, one alert for a newly failing resource, one notice when it passes', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const truth = await served(sim);
    const handler = await handlerWith();
    await run(handler);
    expect(await lake.alerts()).toHaveLength(failingKeys(truth).length);

    const second = await run(handler);
    expect(second).toMatchObject({ pollComplete: true, newFailures: 0, recoveries: 0, alertsPublished: 0 });
    expect(await lake.alerts()).toEqual([]);
    expect(await rowsOfPoll(lake, second.pollId)).toHaveLength(truth.length);

    // A resource that passes starts failing: exactly one alert, for it.
    const passing = truth.find((row) => row.result === 'Pass' && row.connectorType === 'OFFICE365');
    if (!passing) throw new Error('the simulator serves no passing O365 resource');
    sim.control.setControlResult(passing.connectorId, passing.cid, passing.resourceId, 'Fail');
    await run(handler);
    const failed = await lake.alerts();
    expect(failed.map((alert) => [alert.attributes.kind, alert.attributes.alertKey])).toEqual([
      ['failed', keyOf(passing)],
    ]);
    // The id, after the resource's name where the data has one.
    expect(failed[0]?.email.split('\n').find((line) => line.startsWith('Resource:'))).toContain(
      passing.resourceId,
    );

    // A failing resource passes again: one recovery notice, and the failure is closed.
    const failing = truth.find((row) => row.result === 'Fail' && row.resourceId.includes('/../'));
    if (!failing) throw new Error('the simulator serves no failing SharePoint site');
    sim.control.setControlResult(failing.connectorId, failing.cid, failing.resourceId, 'Pass');
    await run(handler);
    const recovered = await lake.alerts();
    expect(recovered.map((alert) => [alert.attributes.kind, alert.attributes.alertKey])).toEqual([
      ['recovered', keyOf(failing)],
    ]);
    expect(recovered[0]?.attributes).toMatchObject({
      source: 'sdr-posture',
      criticality: failing.criticality,
    });
    expect(recovered[0]?.email).toContain('now passes');
    expect((await failureState(lake)).failures).not.toHaveProperty([keyOf(failing)]);

    // Once recovered, nothing more.
    await run(handler);
    expect(await lake.alerts()).toEqual([]);
  });

  test('closes a failure silently when SDR_POSTURE_NOTIFY_RECOVERY is false', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const truth = await served(sim);
    const handler = await handlerWith({ SDR_POSTURE_NOTIFY_RECOVERY: 'false' });
    await run(handler);
    await lake.alerts();

    const failing = truth.find((row) => row.result === 'Fail');
    if (!failing) throw new Error('the simulator serves no failing resource');
    sim.control.setControlResult(failing.connectorId, failing.cid, failing.resourceId, 'Pass');
    const summary = await run(handler);

    expect(summary.recoveries).toBe(1);
    expect(await lake.alerts()).toEqual([]);
    expect((await failureState(lake)).failures).not.toHaveProperty([keyOf(failing)]);
  });

  test('stops at SDR_MAX_CALLS_PER_RUN mid-poll and resumes it without duplicate alerts', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const truth = await served(sim);
    const handler = await handlerWith({ SDR_MAX_CALLS_PER_RUN: '4' });

    const summaries: Summary[] = [];
    const alerts: ReceivedAlert[] = [];
    for (let attempt = 0; attempt < 20 && !summaries.at(-1)?.pollComplete; attempt++) {
      summaries.push(await run(handler));
      alerts.push(...(await lake.alerts()));
      if (!summaries.at(-1)?.pollComplete) {
        const checkpoint = await lake.json<PostureCheckpoint>(postureKeys.checkpoint);
        expect(checkpoint.poll?.pollId).toBe(summaries[0]?.pollId);
      }
    }
    expect(summaries.length).toBeGreaterThan(2);
    expect(summaries[0]?.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(summaries.every((summary) => summary.apiCalls <= 4)).toBe(true);
    expect(summaries.at(-1)?.pollComplete).toBe(true);
    expect(new Set(summaries.map((summary) => summary.pollId)).size).toBe(1);

    expect(alertKeys(alerts)).toEqual(failingKeys(truth));
    expect(await rowsOfPoll(lake, summaries[0]?.pollId ?? '')).toHaveLength(truth.length);
  });

  test('leaves QUALYS_CALL_RESERVE calls of the window to others, and resumes when the window reopens', async ({
    aws,
    sim,
    lake,
    handlerWith,
  }) => {
    const truth = await served(sim);
    sim.control.setRateLimit({ limit: 14, windowSec: 3600 });
    sim.stats.reset();

    const summaries: Summary[] = [];
    const alerts: ReceivedAlert[] = [];
    for (let attempt = 0; attempt < 10 && !summaries.at(-1)?.pollComplete; attempt++) {
      // A new execution environment each hour; the simulator's window reopens meanwhile.
      const handler = await handlerWith({ QUALYS_CALL_RESERVE: '4' });
      summaries.push(await run(handler));
      alerts.push(...(await lake.alerts()));
      sim.control.advanceClock(3_600_000);
      // The collectors read the call-budget ledger by their own clock: an hour passes there too.
      await ageLedger(aws, lake.bucket, 3_600_000);
    }
    expect(summaries[0]?.stoppedEarly).toMatch(/call budget spent.*4 reserved for other collectors/);
    expect(summaries.at(-1)?.pollComplete).toBe(true);
    expect(sim.stats.rateLimited).toBe(0);
    expect(alertKeys(alerts)).toEqual(failingKeys(truth));
  });

  test('fails a malformed page clearly, keeps what was read, and the next run resumes from that page', async ({
    sim,
    lake,
    handlerWith,
  }) => {
    const truth = await served(sim);
    // Two calls list connectors and policies; the third reads page 1 of the first pair.
    await run(await handlerWith({ SDR_MAX_CALLS_PER_RUN: '3' }));
    const before = await lake.json<PostureCheckpoint>(postureKeys.checkpoint);
    const first = before.poll?.pairs[0];
    expect(first).toMatchObject({ status: 'pending', nextPage: 2 });

    sim.control.malformedNext(1);
    const broken = await handlerWith();
    await expect(broken({}, lambdaContext())).rejects.toThrow(
      /page 2: GET \/sdr\/api\/v1\/reporting answered 200: the body is not JSON/,
    );
    const after = await lake.json<PostureCheckpoint>(postureKeys.checkpoint);
    expect(after.poll?.pairs[0]).toMatchObject({ status: 'pending', nextPage: 2, attempts: 1 });
    expect(after.poll?.pairs.slice(1).every((pair) => pair.status === 'done')).toBe(true);

    const summary = await run(await handlerWith());
    expect(summary).toMatchObject({ resumedPoll: true, pollComplete: true, pollId: before.poll?.pollId });
    expect(await rowsOfPoll(lake, summary.pollId)).toHaveLength(truth.length);
    expect(alertKeys(await lake.alerts())).toEqual(failingKeys(truth));
  });
});

/** Pages a poll reads: per pair, its pages of controls plus the empty page that ends it. */
function truthPages(truth: ServedRow[]): number {
  const pairs = new Map<string, Set<string>>();
  for (const row of truth) {
    const pair = `${row.connectorId}|${row.policyName}`;
    pairs.set(pair, (pairs.get(pair) ?? new Set()).add(row.cid));
  }
  // The simulator serves 10 controls per page by default.
  return [...pairs.values()].reduce((sum, cids) => sum + Math.ceil(cids.size / 10) + 1, 0);
}
