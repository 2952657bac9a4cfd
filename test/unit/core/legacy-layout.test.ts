import { describe, expect, it } from 'vitest';
import { cdrFindingsKeys } from '../../../functions/cdr-findings/keys';
import {
  blockingLegacyObject,
  checkpointKey,
  isLegacyKey,
  UPGRADE_MARKER,
  upgradeRequired,
} from '../../../functions/core/legacy-layout';
import { ScopedStore } from '../../../functions/core/scoped-store';
import { COLLECTOR_MANIFESTS } from '../../../functions/manifests';
import { sdrInventoryKeys } from '../../../functions/sdr-inventory/keys';
import { sdrPostureKeys } from '../../../functions/sdr-posture/keys';
import { sdrReportsKeys } from '../../../functions/sdr-reports/keys';
import { MemoryStore } from '../../support/memory-store';

const cdr = COLLECTOR_MANIFESTS['cdr-findings'];
const options = { contentType: 'application/json' };

async function bucketWith(...keys: string[]): Promise<MemoryStore> {
  const bucket = new MemoryStore();
  for (const key of keys) await bucket.put(key, '{}', options);
  return bucket;
}

describe('the legacy layout of a single-subscription deployment', () => {
  it('is where every collector keeps its checkpoint, without the subscription level', () => {
    expect(checkpointKey(COLLECTOR_MANIFESTS['cdr-findings'])).toBe(cdrFindingsKeys.checkpoint);
    expect(checkpointKey(COLLECTOR_MANIFESTS['sdr-posture'])).toBe(sdrPostureKeys.checkpoint);
    expect(checkpointKey(COLLECTOR_MANIFESTS['sdr-inventory'])).toBe(sdrInventoryKeys.state);
    expect(checkpointKey(COLLECTOR_MANIFESTS['sdr-reports'])).toBe(sdrReportsKeys.checkpoint);
  });

  it.each([
    ['state/cdr-findings/checkpoint.json', true],
    ['curated/cdr_findings/dt=2026-11-29/a.json.gz', true],
    ['state/qualys/call-budget.json', true],
    ['state/cdr-findings/subscription=default/checkpoint.json', false],
    ['curated/cdr_findings/subscription=acme/dt=2026-11-29/a.json.gz', false],
    ['athena-results/x.csv', false],
    ['state/cdr-findings/', false],
  ])('%s is a legacy key: %s', (key, legacy) => {
    expect(isLegacyKey(key)).toBe(legacy);
  });
});

describe('blockingLegacyObject: whether a default function may start', () => {
  it('lets a fresh bucket start, and a bucket where only other subscriptions ran', async () => {
    expect(await blockingLegacyObject(new MemoryStore(), cdr)).toBeUndefined();
    const other = await bucketWith(
      'state/cdr-findings/subscription=acme/checkpoint.json',
      'state/qualys/subscription=acme/call-budget.json',
    );
    expect(await blockingLegacyObject(other, cdr)).toBeUndefined();
  });

  it('finds the legacy state of the collector, or the legacy ledger, on a first run', async () => {
    const legacy = await bucketWith(
      'state/cdr-findings/checkpoint.json',
      'state/cdr-findings/seen/2026-11-29.json',
    );
    expect(await blockingLegacyObject(legacy, cdr)).toBe('state/cdr-findings/checkpoint.json');
    // A collector that never ran before the upgrade, in a bucket where another one did.
    const ledgerOnly = await bucketWith('state/qualys/call-budget.json', 'state/sdr-posture/checkpoint.json');
    expect(await blockingLegacyObject(ledgerOnly, cdr)).toBe('state/qualys/call-budget.json');
  });

  it('stops at the checkpoint of the new layout (steady state), or at the marker of a finished upgrade', async () => {
    const bucket = await bucketWith('state/cdr-findings/checkpoint.json', 'state/qualys/call-budget.json');
    const reads: string[] = [];
    const watched = Object.assign(Object.create(bucket), {
      exists: async (key: string) => {
        reads.push(key);
        return bucket.exists(key);
      },
      list: (prefix: string) => {
        reads.push(`list ${prefix}`);
        return bucket.list(prefix);
      },
    });
    await new ScopedStore(bucket, 'default').put(cdrFindingsKeys.checkpoint, '{}', options);
    expect(await blockingLegacyObject(watched, cdr)).toBeUndefined();
    expect(reads).toEqual(['state/cdr-findings/subscription=default/checkpoint.json']);

    // The upgrade copied everything but this collector had no checkpoint yet: the marker says it is done.
    const upgraded = await bucketWith(
      'state/cdr-findings/seen/2026-11-29.json',
      'state/qualys/call-budget.json',
    );
    expect(await blockingLegacyObject(upgraded, cdr)).toBe('state/cdr-findings/seen/2026-11-29.json');
    await upgraded.put(UPGRADE_MARKER, '{}', options);
    expect(await blockingLegacyObject(upgraded, cdr)).toBeUndefined();
  });

  it('refuses with an error naming what it found and the command that upgrades', () => {
    const error = upgradeRequired(
      'state/cdr-findings/checkpoint.json',
      'lake-archive',
      'QUALYS_SUBSCRIPTION',
    );
    expect(error.name).toBe('UpgradeRequiredError');
    expect(error.message).toContain('QUALYS_SUBSCRIPTION=default');
    expect(error.message).toContain('(state/cdr-findings/checkpoint.json)');
    expect(error.message).toContain('npx qualys-lake upgrade --bucket lake-archive');
  });
});
