import { describe, expect, it } from 'vitest';
import { cdrFindingsManifest } from '../../../functions/cdr-findings/manifest';
import {
  checkSubscriptionName,
  scopedGrants,
  scopeKey,
  unscopeKey,
} from '../../../functions/core/subscription';

describe('subscription scoping', () => {
  it.each([
    [
      'raw/cdr-findings/dt=2026-11-29/window=a/offset=0000000.json.gz',
      'raw/cdr-findings/subscription=acme/dt=2026-11-29/window=a/offset=0000000.json.gz',
    ],
    [
      'curated/cdr_findings/dt=2026-11-29/x.json.gz',
      'curated/cdr_findings/subscription=acme/dt=2026-11-29/x.json.gz',
    ],
    ['state/qualys/call-budget.json', 'state/qualys/subscription=acme/call-budget.json'],
    ['state/cdr-findings/', 'state/cdr-findings/subscription=acme/'],
  ])('places %s at %s and back', (logical, placed) => {
    expect(scopeKey(logical, 'acme')).toBe(placed);
    expect(unscopeKey(placed, 'acme')).toBe(logical);
  });

  it('refuses a key of another subscription, and a key without two levels', () => {
    expect(() => unscopeKey('state/qualys/subscription=other/call-budget.json', 'acme')).toThrow(
      /not under subscription "acme"/,
    );
    expect(() => scopeKey('checkpoint.json', 'acme')).toThrow(/no <top>\/<name>\/ levels/);
  });

  it('accepts lowercase names and names what is wrong with others', () => {
    expect(checkSubscriptionName('eu-pod-2')).toBe('eu-pod-2');
    for (const bad of ['', 'Acme', '2eu', 'a_b', 'x'.repeat(25), 'a/b']) {
      expect(() => checkSubscriptionName(bad)).toThrow(/is not valid/);
    }
  });

  it('scopes every prefix of a manifest for the role', () => {
    const grants = scopedGrants(cdrFindingsManifest, 'acme');
    expect(grants.write).toContain('curated/cdr_findings/subscription=acme/');
    expect(grants.read).toContain('state/qualys/subscription=acme/');
    expect(grants.delete).toEqual(['state/cdr-findings/subscription=acme/journal/']);
  });
});
