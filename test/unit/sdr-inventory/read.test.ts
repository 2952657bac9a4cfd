import { describe, expect, it } from 'vitest';
import type { RunLogger } from '../../../functions/core/ports';
import { fromNdjsonGzip } from '../../../functions/core/records';
import { QualysClient } from '../../../functions/qualys/client';
import { runSdrInventory } from '../../../functions/sdr-inventory/collector';
import { sdrInventoryKeys } from '../../../functions/sdr-inventory/keys';
import type { SnapshotRecord } from '../../../functions/sdr-inventory/snapshot';
import { FakeQualys, jsonResponse, type RecordedRequest } from '../../support/fake-qualys';
import { MemoryStore } from '../../support/memory-store';

/**
 * Responses the simulator does not serve: ids with path characters, connectors and policies that
 * vanish between the list and the per-item call, null ids and null fields.
 */

const page = (content: unknown[], last = true) => ({
  content,
  last,
  number: 0,
  size: 200,
  numberOfElements: content.length,
});

type Routes = Record<string, () => Response>;

function setUp(routes: Routes) {
  const fake = new FakeQualys();
  const answer = (request: RecordedRequest): Response => {
    const route = routes[request.url.pathname];
    return route ? route() : jsonResponse(page([]));
  };
  for (let i = 0; i < 100; i++) fake.script.push(answer);
  const qualys = new QualysClient({
    loadCredentials: async () => fake.credentials(),
    fetch: fake.fetch,
    now: fake.now,
    sleep: fake.sleep,
    random: fake.random,
    maxRetries: 0,
  });
  const store = new MemoryStore();
  const warnings: string[] = [];
  const logger: RunLogger = { debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} };
  const run = () =>
    runSdrInventory(
      { qualys, store, logger, settings: { pageSize: 200, maxCallsPerRun: 150 }, now: fake.now },
      { deadline: fake.time + 600_000 },
    );
  return { fake, store, warnings, run };
}

const curated = (store: MemoryStore, table: string) =>
  [...store.objects.keys()]
    .filter((key) => key.startsWith(`curated/${table}/`))
    .sort()
    .flatMap(
      (key) => fromNdjsonGzip(store.objects.get(key)?.body ?? new Uint8Array()) as Record<string, unknown>[],
    );

const snapshotRecord = (store: MemoryStore) =>
  curated(store, 'sdr_snapshots')[0] as unknown as SnapshotRecord;

describe('runSdrInventory edge cases', () => {
  it('reads scanners of a connector whose id has path characters through an encoded path, under safe keys', async () => {
    const pathy = 'tenant/../a b';
    const { fake, store, run } = setUp({
      '/sdr/api/v1/connectors': () => jsonResponse(page([{ id: pathy, connectorType: 'BOX', name: null }])),
      '/sdr/api/v1/connectors/tenant%2F..%2Fa%20b/scanners': () =>
        jsonResponse(page([{ scannerType: 'USER', status: null, connectorId: null }])),
    });

    const summary = await run();

    expect(summary.completedSnapshot).toBe(true);
    expect(fake.apiRequests.map((request) => request.url.pathname)).toContain(
      '/sdr/api/v1/connectors/tenant%2F..%2Fa%20b/scanners',
    );
    expect(curated(store, 'sdr_connectors')).toMatchObject([{ id: pathy, connectorType: 'BOX', name: null }]);
    expect(curated(store, 'sdr_scanners')).toMatchObject([
      { scannerType: 'USER', status: null, connectorId: null, lake_connector_id: pathy },
    ]);
    const segment = 'tenant%2F..%2Fa%20b';
    expect(store.objects.has(sdrInventoryKeys.rawScanners(summary.snapshotId, pathy, 0))).toBe(true);
    expect(sdrInventoryKeys.rawScanners(summary.snapshotId, pathy, 0)).toBe(
      `raw/sdr-inventory/snapshot=${summary.snapshotId}/scanners/connector=${segment}/page=00000.json.gz`,
    );
    for (const key of store.objects.keys()) expect(key).not.toMatch(/\/\.\.\/|\s/);
  });

  it('completes when a connector or policy is gone (404) by the time its scanners or detail are read', async () => {
    const notFound = () => jsonResponse({ status: 404, error: 'Not Found' }, 404);
    const { store, run, warnings } = setUp({
      '/sdr/api/v1/connectors': () => jsonResponse(page([{ id: 1 }, { id: 2 }])),
      '/sdr/api/v1/connectors/1/scanners': () => jsonResponse(page([{ scannerType: 'USER' }])),
      '/sdr/api/v1/connectors/2/scanners': notFound,
      '/sdr/api/v1/policy': () =>
        jsonResponse(page([{ id: 61, name: 'a' }, { id: 62, name: 'b' }, { id: 63 }])),
      '/sdr/api/v1/policy/61': () => jsonResponse(page([{ id: 61, name: 'a', controls: ['70133'] }])),
      '/sdr/api/v1/policy/62': notFound,
      '/sdr/api/v1/policy/63': () => jsonResponse(page([])),
    });

    const summary = await run();

    expect(summary.completedSnapshot).toBe(true);
    expect(curated(store, 'sdr_scanners')).toMatchObject([{ scannerType: 'USER', lake_connector_id: 1 }]);
    expect(curated(store, 'sdr_policies')).toMatchObject([{ id: 61, controls: ['70133'] }]);
    expect(snapshotRecord(store).datasets.sdr_scanners).toEqual({ records: 1, pages: 1, missing: 1 });
    expect(snapshotRecord(store).datasets.sdr_policies).toEqual({ records: 1, pages: 3, missing: 2 });
    expect(warnings).toEqual(
      expect.arrayContaining([
        'A listed connector was gone when its scanners were read',
        'A listed policy was gone when its detail was read',
        'A policy detail came back without the policy',
      ]),
    );
  });

  it('fails on other errors of a per-item call, naming it, and retries that item on the next run', async () => {
    let refuse = true;
    const { store, run } = setUp({
      '/sdr/api/v1/connectors': () => jsonResponse(page([{ id: 7 }])),
      '/sdr/api/v1/connectors/7/scanners': () =>
        refuse ? jsonResponse({ error: 'Bad Request' }, 400) : jsonResponse(page([{ scannerType: 'USER' }])),
    });

    await expect(run()).rejects.toThrow('GET /sdr/api/v1/connectors/7/scanners answered 400');
    refuse = false;
    const summary = await run();

    expect(summary).toMatchObject({ startedSnapshot: false, completedSnapshot: true });
    expect(curated(store, 'sdr_connectors')).toHaveLength(1);
    expect(curated(store, 'sdr_scanners')).toMatchObject([{ lake_connector_id: 7 }]);
  });

  it('curates a connector without a usable id but cannot read its scanners', async () => {
    const { fake, store, run, warnings } = setUp({
      '/sdr/api/v1/connectors': () => jsonResponse(page([{ id: null, connectorType: null }, { id: '' }])),
    });

    const summary = await run();

    expect(summary.completedSnapshot).toBe(true);
    expect(curated(store, 'sdr_connectors')).toEqual([
      expect.objectContaining({ id: null, connectorType: null }),
      expect.objectContaining({ id: '' }),
    ]);
    expect(fake.apiRequests.some((request) => request.url.pathname.endsWith('/scanners'))).toBe(false);
    expect(warnings.filter((message) => message.includes('no usable id'))).toHaveLength(2);
  });

  it('asks for page/size, and reads one page more when the API leaves out `last` on a full page', async () => {
    let served = 0;
    const { fake, store, run } = setUp({
      '/sdr/api/v1/users': () =>
        jsonResponse({
          content: served++ === 0 ? Array.from({ length: 200 }, (_, i) => ({ sourceId: `u${i}` })) : [],
        }),
    });

    await run();

    const users = fake.apiRequests.filter((request) => request.url.pathname === '/sdr/api/v1/users');
    expect(users.map((request) => request.url.search)).toEqual(['?page=0&size=200', '?page=1&size=200']);
    expect(curated(store, 'sdr_users')).toHaveLength(200);
    expect(snapshotRecord(store).datasets.sdr_users).toEqual({ records: 200, pages: 2 });
  });

  it('sets aside list items that are not objects instead of curating them; the snapshot completes', async () => {
    const { store, run } = setUp({
      '/sdr/api/v1/users': () =>
        jsonResponse(page([{ sourceId: 'u1' }, null, 'oops', 7, [1], { sourceId: 'u2' }])),
    });

    const summary = await run();

    expect(summary).toMatchObject({ completedSnapshot: true, rejected: 4 });
    expect(curated(store, 'sdr_users').map((user) => user.sourceId)).toEqual(['u1', 'u2']);
    expect(snapshotRecord(store).datasets.sdr_users).toEqual({ records: 2, pages: 1 });
    const setAside = JSON.parse(
      store.text(sdrInventoryKeys.rejected(summary.snapshotId, 'users', 0)) ?? '{}',
    ) as { endpoint: string; rejected: Array<{ index: number; record: unknown; reason: string }> };
    expect(setAside.endpoint).toBe('GET /sdr/api/v1/users');
    expect(setAside.rejected.map(({ index, record }) => [index, record])).toEqual([
      [1, null],
      [2, 'oops'],
      [3, 7],
      [4, [1]],
    ]);
    for (const { reason } of setAside.rejected) expect(reason).toMatch(/Expected Object/);
    // The raw page keeps them, as served.
    const raw = store.objects.get(sdrInventoryKeys.raw(summary.snapshotId, 'users', 0));
    expect(raw).toBeDefined();
  });

  it('never asks for the scanners of a connector or the detail of a policy whose id is a dot segment', async () => {
    const { fake, store, run } = setUp({
      '/sdr/api/v1/connectors': () =>
        jsonResponse(page([{ id: '..', name: 'dots' }, { id: '%2e%2e' }, { id: 7 }])),
      '/sdr/api/v1/connectors/7/scanners': () => jsonResponse(page([{ scannerType: 'USER' }])),
      '/sdr/api/v1/policy': () =>
        jsonResponse(
          page([
            { id: '.', name: 'dot' },
            { id: 61, name: 'a' },
          ]),
        ),
      '/sdr/api/v1/policy/61': () => jsonResponse(page([{ id: 61, name: 'a' }])),
    });

    const summary = await run();

    expect(summary).toMatchObject({ completedSnapshot: true, rejected: 3 });
    const paths = fake.apiRequests.map((request) => request.url.pathname);
    expect(paths.filter((path) => path.includes('scanners'))).toEqual(['/sdr/api/v1/connectors/7/scanners']);
    expect(paths.filter((path) => path.startsWith('/sdr/api/v1/policy/'))).toEqual(['/sdr/api/v1/policy/61']);
    expect(paths).not.toContain('/sdr/api/v1/connectors/scanners');
    expect(paths).not.toContain('/sdr/api/v1/');
    // The connectors are curated as listed; what could not be read is set aside with the reason.
    expect(curated(store, 'sdr_connectors').map((connector) => connector.id)).toEqual(['..', '%2e%2e', 7]);
    const reason = (dataset: 'scanners' | 'policy-details', id: string) =>
      (
        JSON.parse(store.text(sdrInventoryKeys.rejectedItem(summary.snapshotId, dataset, id)) ?? '{}') as {
          rejected: Array<{ reason: string }>;
        }
      ).rejected[0]?.reason;
    expect(reason('scanners', '..')).toBe('connectorId cannot be a path segment: it is the dot segment ".."');
    expect(reason('scanners', '%2e%2e')).toBe(
      'connectorId cannot be a path segment: it is the dot segment ".." once percent-decoded',
    );
    expect(reason('policy-details', '.')).toBe(
      'policyId cannot be a path segment: it is the dot segment "."',
    );
    expect(snapshotRecord(store).datasets.sdr_scanners).toEqual({ records: 1, pages: 1, missing: 2 });
    expect(snapshotRecord(store).datasets.sdr_policies).toEqual({ records: 1, pages: 2, missing: 1 });
  });
});
