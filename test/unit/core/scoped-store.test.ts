import { describe, expect, it } from 'vitest';
import { emptyRunCounts, Run } from '../../../functions/core/run';
import { keyInBucket, ScopedStore } from '../../../functions/core/scoped-store';
import { MemoryStore } from '../../support/memory-store';

const options = { contentType: 'application/json' };

async function all(keys: AsyncIterable<string>): Promise<string[]> {
  const listed: string[] = [];
  for await (const key of keys) listed.push(key);
  return listed;
}

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

describe('ScopedStore: the store of one subscription', () => {
  it('places every key it writes under the subscription level of the bucket', async () => {
    const bucket = new MemoryStore();
    const store = new ScopedStore(bucket, 'acme');
    await store.put('state/cdr-findings/checkpoint.json', '{}', options);
    await store.put('curated/cdr_findings/dt=2026-11-29/a.json.gz', 'x', options);
    await store.upload('reports/sdr-reports/dt=2026-11-29/f/report.csv', chunks('a,', 'b'), options);

    expect([...bucket.objects.keys()].sort()).toEqual([
      'curated/cdr_findings/subscription=acme/dt=2026-11-29/a.json.gz',
      'reports/sdr-reports/subscription=acme/dt=2026-11-29/f/report.csv',
      'state/cdr-findings/subscription=acme/checkpoint.json',
    ]);
    expect(bucket.text('reports/sdr-reports/subscription=acme/dt=2026-11-29/f/report.csv')).toBe('a,b');
  });

  it('reads, lists and deletes by logical key, and never sees another subscription', async () => {
    const bucket = new MemoryStore();
    const acme = new ScopedStore(bucket, 'acme');
    const other = new ScopedStore(bucket, 'other');
    await acme.put('state/cdr-findings/seen/2026-11-29.json', 'acme', options);
    await other.put('state/cdr-findings/seen/2026-11-29.json', 'other', options);
    await other.put('state/cdr-findings/seen/2026-11-30.json', 'other', options);
    // A key of the legacy layout, as a deployment from before subscriptions left it.
    await bucket.put('state/cdr-findings/seen/2026-11-28.json', 'legacy', options);

    expect(await all(acme.list('state/cdr-findings/seen/'))).toEqual([
      'state/cdr-findings/seen/2026-11-29.json',
    ]);
    expect(new TextDecoder().decode(await acme.get('state/cdr-findings/seen/2026-11-29.json'))).toBe('acme');
    expect(await acme.get('state/cdr-findings/seen/2026-11-30.json')).toBeUndefined();
    expect(await acme.exists('state/cdr-findings/seen/2026-11-28.json')).toBe(false);

    await acme.delete(['state/cdr-findings/seen/2026-11-29.json']);
    expect(bucket.deletes).toEqual(['state/cdr-findings/subscription=acme/seen/2026-11-29.json']);
    expect(await other.exists('state/cdr-findings/seen/2026-11-29.json')).toBe(true);
  });

  it('tells where a key is in the bucket, through the store a run counts its writes with', () => {
    const store = new ScopedStore(new MemoryStore(), 'acme');
    const run = new Run(
      { store, logger: console, qualys: { budget: { callsMade: 0, rateLimitReport: {} } } },
      emptyRunCounts(),
    );
    const raw = 'raw/cdr-findings/dt=2026-11-29/window=w/offset=0000000.json.gz';
    expect(keyInBucket(run.store, raw)).toBe(
      'raw/cdr-findings/subscription=acme/dt=2026-11-29/window=w/offset=0000000.json.gz',
    );
    expect(keyInBucket(store, 'curated/sdr_posture/dt=2026-11-29/')).toBe(
      'curated/sdr_posture/subscription=acme/dt=2026-11-29/',
    );
    // A store that does not scope keeps its keys where they are.
    expect(keyInBucket(new MemoryStore(), raw)).toBe(raw);
  });
});
