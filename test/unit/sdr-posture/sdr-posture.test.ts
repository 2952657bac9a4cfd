import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { AlertMessage, RunLogger } from '../../../functions/core/ports';
import { fromNdjsonGzip } from '../../../functions/core/records';
import {
  type FailureState,
  MAX_PAIR_ATTEMPTS,
  type PostureCheckpoint,
  type PostureSettings,
  postureKeys,
  runPostureCollector,
} from '../../../functions/core/sdr-posture';
import { QualysClient } from '../../../functions/qualys/client';
import { FakeQualys, jsonResponse, type RecordedRequest } from '../../support/fake-qualys';
import { MemoryStore } from '../../support/memory-store';

const MINUTE = 60_000;
const SITE = 'https://qualyssscmsdev.sharepoint.com/sites/Finance/../HR';
const CIS = 'CIS Microsoft 365 Foundations Benchmark, v1.4.0';
const GW = 'Google Workspace Best Practices';

const evidence = (fail: boolean) => [
  {
    evidenceKey: 'Setting is enabled',
    evidenceSuccess: fail ? 'null' : 'true',
    evidenceFail: fail ? 'false' : 'null',
  },
];
const resource = (resourceId: unknown, result: string | null, extra: Record<string, unknown> = {}) => ({
  resourceId,
  resourceEvaluationResult: result,
  evidenceDetails: evidence(result === 'Fail'),
  ...extra,
});
const control = (cid: string, resources: unknown[], extra: Record<string, unknown> = {}) => ({
  cid,
  controlName: `Control ${cid}`,
  criticality: 'High',
  controlEvalutaionStatus: resources.some(
    (item) => (item as { resourceEvaluationResult?: string }).resourceEvaluationResult === 'Fail',
  )
    ? 'Fail'
    : 'Pass',
  isRemediable: 'No',
  lastEvaluatedDate: '2025-05-09T07:02:03Z',
  firstScannedDate: '2025-04-01T04:42:49Z',
  controlEvaluationSummaryDto: resources,
  ...extra,
});

const CONNECTORS = [
  { id: 2245, connectorType: 'OFFICE365', name: 'O365 p01', isEnabled: 1 },
  { id: 2193, connectorType: 'GSUITE', name: 'Gsuite p01', isEnabled: true },
  { id: 2301, connectorType: 'ZOOM', name: 'Zoom trial', isEnabled: 0 },
  { id: 2400, connectorType: 'DROPBOX', name: 'Dropbox p01', isEnabled: 1 },
  { connectorType: 'OFFICE365', name: 'no id' },
];
const POLICIES = [
  // A policy id with path characters: it is part of S3 keys.
  { id: 'cis/../71', name: CIS, connectorType: 'OFFICE365', connectors: [{ id: 2245 }] },
  { id: 81, name: GW, connectorType: 'GSUITE', connectors: [] },
  { id: 91, name: 'Zoom Best Practices', connectorType: 'ZOOM', connectors: [{ id: 2301 }] },
  { id: 99, connectorType: 'OFFICE365' },
];

/** /reporting pages per `<connectorId>|<policyName>`; a page past the list answers without controls. */
type Pages = Map<string, unknown[][]>;

function defaultPages(): Pages {
  return new Map([
    [
      `2245|${CIS}`,
      [
        [
          control('70116', [
            resource('QualysSSCMSDev.com', 'Fail'),
            resource('QualysSSCMSDev.onmicrosoft.com', 'Pass'),
          ]),
          control('70121', [resource(SITE, 'Fail')]),
        ],
        [
          // The corrected spelling, null fields, missing evidence, a control without resources, a bad control.
          control('70101', [resource('tenant', 'Fail', { evidenceDetails: null })], {
            controlEvalutaionStatus: undefined,
            controlEvaluationStatus: 'Fail',
            criticality: null,
            controlName: null,
            isRemediable: null,
          }),
          control('70102', [], { controlEvaluationSummaryDto: null, controlEvalutaionStatus: 'Error' }),
          { controlName: 'no cid', controlEvaluationSummaryDto: [] },
        ],
      ],
    ],
    [`2193|${GW}`, [[control('70201', [resource('/Sales/EMEA', 'Pass'), resource('/', 'Error')])]]],
  ]);
}

type Override = (request: RecordedRequest) => Response | undefined;

function setup(options: { pages?: Pages; settings?: Partial<PostureSettings> } = {}) {
  const api = new FakeQualys();
  const pages = options.pages ?? defaultPages();
  const overrides: Override[] = [];
  const router = (request: RecordedRequest): Response => {
    for (const override of overrides) {
      const answer = override(request);
      if (answer) return answer;
    }
    const query = request.url.searchParams;
    const size = Number(query.get('size') ?? 50);
    const page = Number(query.get('page') ?? 0);
    const list = (items: unknown[]) =>
      jsonResponse({
        content: items.slice(page * size, (page + 1) * size),
        last: (page + 1) * size >= items.length,
      });
    switch (request.url.pathname) {
      case '/sdr/api/v1/connectors':
        return list(CONNECTORS);
      case '/sdr/api/v1/policy':
        return list(POLICIES);
      case '/sdr/api/v1/reporting': {
        const key = `${query.get('connectorId')}|${query.get('policyName')}`;
        const number = Number(query.get('pageNumber'));
        return jsonResponse({
          policyName: query.get('policyName'),
          subscriptionId: 'sub-1',
          connectorId: Number(query.get('connectorId')),
          connectorType: query.get('connectorType'),
          controlEvalutaions: query.get('controlEvaluations'),
          controlDetailsSummaryDto: pages.get(key)?.[number - 1] ?? [],
        });
      }
      default:
        return new Response('not found', { status: 404 });
    }
  };
  api.script.push(...Array.from({ length: 500 }, () => router));
  const qualys = new QualysClient({
    loadCredentials: async () => api.credentials(),
    fetch: api.fetch,
    now: api.now,
    sleep: api.sleep,
    random: api.random,
    maxRetries: 0,
  });
  const store = new MemoryStore();
  const published: AlertMessage[] = [];
  const warnings: string[] = [];
  const logger: RunLogger = {
    debug() {},
    info() {},
    warn: (message) => void warnings.push(message),
    error: (message) => void warnings.push(message),
  };
  const settings: PostureSettings = {
    pageSize: 2,
    evaluations: ['Pass', 'Fail', 'Error'],
    notifyRecovery: true,
    minCriticality: 1,
    maxAlertsPerRun: 50,
    maxCallsPerRun: 100,
    bucket: 'lake',
    ...options.settings,
  };
  const run = (deadline = api.time + 10 * MINUTE) =>
    runPostureCollector(
      {
        qualys,
        store,
        logger,
        settings,
        alerts: { publish: async (messages) => void published.push(...messages) },
        now: api.now,
      },
      { deadline },
    );
  const json = <T>(key: string) => JSON.parse(store.text(key) ?? 'null') as T;
  const keys = (prefix: string) => [...store.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  const rows = () =>
    keys('curated/sdr_posture/').flatMap(
      (key) => fromNdjsonGzip(store.objects.get(key)?.body ?? new Uint8Array()) as Record<string, unknown>[],
    );
  const reportingRequests = () =>
    api.apiRequests.filter((request) => request.url.pathname === '/sdr/api/v1/reporting');
  return { api, store, published, warnings, overrides, run, json, keys, rows, reportingRequests };
}

describe('sdr-posture collector core', () => {
  it('curates one row per control x resource with the API fields, and sets bad controls aside', async () => {
    const { run, rows, keys, json, store, api, warnings, reportingRequests } = setup();
    const summary = await run();

    expect(summary).toMatchObject({
      pollComplete: true,
      connectors: {
        listed: 4,
        polled: 2,
        disabled: 1,
        unknownType: [{ id: '2400', connectorType: 'DROPBOX' }],
      },
      pairs: { total: 2, done: 2, remaining: 0 },
      rows: 7,
      rejected: 3,
    });
    expect(warnings).toContain('Skipping a connector of a type /sdr/api/v1/reporting does not know');

    const curated = rows();
    expect(
      curated.map((row) => `${row.cid}/${row.resourceId}/${row.controlEvaluationStatus}`).sort(),
    ).toEqual([
      '70101/tenant/Fail',
      '70102/null/Error',
      `70116/QualysSSCMSDev.com/Fail`,
      `70116/QualysSSCMSDev.onmicrosoft.com/Fail`,
      `70121/${SITE}/Fail`,
      '70201///Pass',
      '70201//Sales/EMEA/Pass',
    ]);
    const site = curated.find((row) => row.resourceId === SITE);
    expect(site).toMatchObject({
      connectorId: 2245,
      connectorType: 'OFFICE365',
      connectorName: 'O365 p01',
      subscriptionId: 'sub-1',
      policyName: CIS,
      controlName: 'Control 70121',
      criticality: 'High',
      isRemediable: 'No',
      lastEvaluatedDate: '2025-05-09T07:02:03Z',
      firstScannedDate: '2025-04-01T04:42:49Z',
      resourceEvaluationResult: 'Fail',
      evidenceDetails: evidence(true),
      lake_connector_id: '2245',
      lake_policy_id: 'cis/../71',
      lake_page: 1,
    });
    expect(site?.lake_raw_key).toBe(
      `raw/sdr-posture/dt=2025-05-10/run=${summary.pollId}/connector=2245/policy=cis%2F..%2F71/page=00001.json.gz`,
    );
    expect(site?.lake_run_id).toBe(summary.pollId);
    expect(curated.find((row) => row.cid === '70101')).toMatchObject({
      controlName: null,
      criticality: null,
      isRemediable: null,
      evidenceDetails: null,
    });

    // Every key is made of safe segments; resource ids never enter a key.
    for (const key of store.objects.keys()) {
      expect(key.split('/').every((segment) => segment !== '..' && segment !== '.')).toBe(true);
      expect(key).not.toContain('sharepoint');
    }
    const rejected = keys('state/sdr-posture/rejected/');
    expect(rejected).toEqual([
      `state/sdr-posture/rejected/run=${summary.pollId}/connector=2245/policy=cis%2F..%2F71/page=00002.json`,
      `state/sdr-posture/rejected/run=${summary.pollId}/connectors/page=00002.json`,
      `state/sdr-posture/rejected/run=${summary.pollId}/policies/page=00001.json`,
    ]);
    expect(json<{ rejected: Array<{ reason: string }> }>(rejected[0] ?? '').rejected[0]?.reason).toMatch(
      /^cid: /,
    );

    // GSUITE is asked for as "Google Workspace"; every request carries the evaluations.
    const gsuite = reportingRequests().find(
      (request) => request.url.searchParams.get('connectorId') === '2193',
    );
    expect(gsuite?.url.searchParams.get('connectorType')).toBe('Google Workspace');
    expect(gsuite?.url.searchParams.get('controlEvaluations')).toBe('Pass,Fail,Error');

    // No credential or token anywhere in the bucket.
    for (const { body } of store.objects.values()) {
      const bytes = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : Buffer.from(body);
      expect(bytes.toString('utf8')).not.toContain(api.password);
      for (const token of api.issuedTokens) expect(bytes.toString('utf8')).not.toContain(token);
    }
  });

  it('opens a failure per failing resource (criticality unknown counts) and alerts each once', async () => {
    const { run, json, published } = setup();
    const summary = await run();

    const failures = json<FailureState>(postureKeys.failures).failures;
    expect(Object.keys(failures).sort()).toEqual([
      '2245:70101:tenant',
      '2245:70116:QualysSSCMSDev.com',
      `2245:70121:${SITE}`,
    ]);
    expect(summary.newFailures).toBe(3);
    expect(published.map((message) => message.attributes.alertKey).sort()).toEqual(
      Object.keys(failures).sort(),
    );

    await run();
    expect(published).toHaveLength(3);
  });

  it('fails a bad page clearly, keeps what was read, and the next run resumes from that page', async () => {
    const { run, overrides, keys, json, reportingRequests, published } = setup();
    let broken = true;
    overrides.push((request) =>
      broken &&
      request.url.searchParams.get('connectorId') === '2245' &&
      request.url.searchParams.get('pageNumber') === '2'
        ? jsonResponse({ policyName: CIS, controlDetailsSummaryDto: 'oops' })
        : undefined,
    );

    await expect(run()).rejects.toThrow(
      /connector 2245, policy "CIS Microsoft 365 Foundations Benchmark, v1.4.0", page 2: GET \/sdr\/api\/v1\/reporting answered 200: unexpected response: controlDetailsSummaryDto/,
    );
    const checkpoint = json<PostureCheckpoint>(postureKeys.checkpoint);
    expect(
      checkpoint.poll?.pairs.map((pair) => [pair.connectorId, pair.status, pair.nextPage, pair.attempts]),
    ).toEqual([
      [2245, 'pending', 2, 1],
      [2193, 'done', 2, undefined],
    ]);
    const pollId = checkpoint.poll?.pollId;
    expect(keys(`raw/sdr-posture/dt=2025-05-10/run=${pollId}/connector=2245/`)).toHaveLength(1);
    expect(keys('curated/sdr_posture/')).toHaveLength(2);
    // The O365 pair is compared only once it is read whole: no alert from its first page yet.
    expect(published).toEqual([]);

    broken = false;
    const before = reportingRequests().length;
    const summary = await run();
    expect(summary).toMatchObject({ resumedPoll: true, pollComplete: true, pollId });
    expect(
      reportingRequests()
        .slice(before)
        .map((request) => request.url.searchParams.get('pageNumber')),
    ).toEqual(['2', '3']);
    expect(published).toHaveLength(3);
  });

  it('gives a pair up after repeated failures so that the poll completes, keeping its failures', async () => {
    const { run, overrides, json } = setup();
    await run();
    const open = json<FailureState>(postureKeys.failures).failures;
    overrides.push((request) =>
      request.url.searchParams.get('connectorId') === '2245'
        ? new Response('bad request', { status: 400 })
        : undefined,
    );
    for (let attempt = 1; attempt < MAX_PAIR_ATTEMPTS; attempt++)
      await expect(run()).rejects.toThrow(/answered 400/);
    await expect(run()).rejects.toThrow(/answered 400/);

    const checkpoint = json<PostureCheckpoint>(postureKeys.checkpoint);
    expect(checkpoint.poll).toBeUndefined();
    expect(checkpoint.lastPoll?.skippedPairs).toBe(1);
    expect(json<FailureState>(postureKeys.failures).failures).toEqual(open);
  });

  it('ends a listing whose pages repeat (pageNumber ignored) and claims no recovery from it', async () => {
    const { run, overrides, json, reportingRequests, published, warnings } = setup();
    await run();
    published.length = 0;
    // Page 1 now passes everything but is served for every page number.
    const page1 = [control('70116', [resource('QualysSSCMSDev.com', 'Pass')])];
    overrides.push((request) =>
      request.url.searchParams.get('connectorId') === '2245'
        ? jsonResponse({ policyName: CIS, controlDetailsSummaryDto: page1 })
        : undefined,
    );
    const before = reportingRequests().length;
    const summary = await run();

    expect(summary.pollComplete).toBe(true);
    expect(reportingRequests().length - before).toBe(4); // O365 pages 1 and 2 (a repeat), Gsuite pages 1 and 2
    expect(warnings.some((warning) => warning.includes('same controls for two page numbers'))).toBe(true);
    // 70116 was seen passing: recovered. 70121 and 70101 were not listed, but the listing was cut short.
    expect(published.map((message) => [message.attributes.kind, message.attributes.alertKey])).toEqual([
      ['recovered', '2245:70116:QualysSSCMSDev.com'],
    ]);
    expect(Object.keys(json<FailureState>(postureKeys.failures).failures).sort()).toEqual([
      '2245:70101:tenant',
      `2245:70121:${SITE}`,
    ]);
  });

  it('stops cleanly at SDR_MAX_CALLS_PER_RUN and resumes the same poll', async () => {
    const { run, json, published } = setup({ settings: { maxCallsPerRun: 4 } });
    const first = await run();
    expect(first.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(first.apiCalls).toBe(4);
    expect(json<PostureCheckpoint>(postureKeys.checkpoint).poll?.pollId).toBe(first.pollId);

    const results = [first];
    for (let run_ = 0; run_ < 5 && !results.at(-1)?.pollComplete; run_++) results.push(await run());
    expect(results.at(-1)?.pollComplete).toBe(true);
    expect(new Set(results.map((summary) => summary.pollId)).size).toBe(1);
    expect(published.map((message) => message.attributes.alertKey).sort()).toEqual([
      '2245:70101:tenant',
      '2245:70116:QualysSSCMSDev.com',
      `2245:70121:${SITE}`,
    ]);
  });

  it('stops before a call that could outlast the deadline, and the next run continues', async () => {
    const { run, json, api } = setup();
    // The client needs a whole request timeout (30 s) before the deadline to start a call.
    const stopped = await run(api.time + 20_000);
    expect(stopped.stoppedEarly).toMatch(/deadline/);
    expect(stopped.apiCalls).toBe(0);
    expect(json<PostureCheckpoint>(postureKeys.checkpoint).poll?.listing).toMatchObject({
      list: 'connectors',
      nextPage: 0,
    });

    const resumed = await run();
    expect(resumed).toMatchObject({
      resumedPoll: true,
      pollComplete: true,
      pollId: stopped.pollId,
      newFailures: 3,
    });
  });
});
