import type { AlertMessage, RunLogger } from '../../functions/core/ports';
import { fromNdjsonGzip } from '../../functions/core/records';
import { QualysClient } from '../../functions/qualys/client';
import { runSdrPosture, type SdrPostureDependencies } from '../../functions/sdr-posture/collector';
import { FakeQualys, jsonResponse, type RecordedRequest } from './fake-qualys';
import { MemoryStore } from './memory-store';

/**
 * A fake SaaSDR for the posture collector's unit tests: four connectors (two to poll, one disabled,
 * one of a type /reporting does not know), their policies and /reporting pages, and `setup()`, which
 * runs the collector against them with a memory store.
 */

const MINUTE = 60_000;
export const SITE = 'https://qualyssscmsdev.sharepoint.com/sites/Finance/../HR';
export const CIS = 'CIS Microsoft 365 Foundations Benchmark, v1.4.0';
const GW = 'Google Workspace Best Practices';

export const evidence = (fail: boolean) => [
  {
    evidenceKey: 'Setting is enabled',
    evidenceSuccess: fail ? 'null' : 'true',
    evidenceFail: fail ? 'false' : 'null',
  },
];
export const resource = (
  resourceId: unknown,
  result: string | null,
  extra: Record<string, unknown> = {},
) => ({
  resourceId,
  resourceEvaluationResult: result,
  evidenceDetails: evidence(result === 'Fail'),
  ...extra,
});
export const control = (cid: string, resources: unknown[], extra: Record<string, unknown> = {}) => ({
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

export function setup(
  options: {
    pages?: Pages;
    settings?: Partial<SdrPostureDependencies['settings']>;
    /** A store with state in it already. */
    store?: MemoryStore;
  } = {},
) {
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
  const store = options.store ?? new MemoryStore();
  const published: AlertMessage[] = [];
  const warnings: string[] = [];
  const logger: RunLogger = {
    debug() {},
    info() {},
    warn: (message) => void warnings.push(message),
    error: (message) => void warnings.push(message),
  };
  const settings: SdrPostureDependencies['settings'] = {
    pageSize: 2,
    evaluations: ['Pass', 'Fail', 'Error'],
    notifyRecovery: true,
    // Most tests follow single failures; the baseline summary has tests of its own.
    baselineSummary: false,
    minCriticality: 1,
    maxAlertsPerRun: 50,
    maxCallsPerRun: 100,
    bucket: 'lake',
    ...options.settings,
  };
  const run = (deadline = api.time + 10 * MINUTE) =>
    runSdrPosture(
      {
        qualys,
        store,
        logger,
        settings,
        alerts: {
          publish: async (messages) => {
            published.push(...messages);
            return { refused: new Map() };
          },
        },
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
