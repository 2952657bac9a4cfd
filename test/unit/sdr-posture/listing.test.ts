import { describe, expect, it } from 'vitest';
import { connectorVerdict, pairsOf, policyApplies } from '../../../functions/sdr-posture/listing';
import type { Listing } from '../../../functions/sdr-posture/model';

const O365 = { id: 2245, connectorType: 'OFFICE365', name: 'O365 p01', isEnabled: 1 };
const GSUITE = { id: 2193, connectorType: 'GSUITE', name: 'Gsuite p01', isEnabled: true };

describe('connectorVerdict', () => {
  it('polls enabled connectors of a type /reporting knows', () => {
    expect(connectorVerdict(O365)).toBe('poll');
    expect(connectorVerdict(GSUITE)).toBe('poll');
  });

  it('leaves out disabled and deleted connectors, and reports unknown types', () => {
    expect(connectorVerdict({ ...O365, isEnabled: 0 })).toBe('disabled');
    expect(connectorVerdict({ ...O365, isEnabled: null })).toBe('disabled');
    expect(connectorVerdict({ ...O365, deleted: true })).toBe('disabled');
    expect(connectorVerdict({ ...O365, connectorType: 'DROPBOX' })).toBe('unknownType');
    expect(connectorVerdict({ ...O365, connectorType: null })).toBe('unknownType');
  });
});

describe('policyApplies', () => {
  it('applies a policy that lists the connector, whatever its type', () => {
    expect(
      policyApplies({ id: 1, name: 'p', connectorType: 'ZOOM', connectors: [{ id: '2245' }] }, O365),
    ).toBe(true);
  });

  it('applies a policy of the connector type, and no other', () => {
    expect(policyApplies({ id: 1, name: 'p', connectorType: 'OFFICE365', connectors: [] }, O365)).toBe(true);
    expect(
      policyApplies({ id: 1, name: 'p', connectorType: 'GSUITE', connectors: [{ id: null }] }, O365),
    ).toBe(false);
    expect(policyApplies({ id: 1, name: 'p', connectorType: null }, O365)).toBe(false);
  });
});

describe('pairsOf', () => {
  it('pairs each polled connector with the policies that apply, and reports the others', () => {
    const listing: Listing = {
      list: 'policies',
      nextPage: 1,
      connectors: [
        O365,
        GSUITE,
        { id: 2301, connectorType: 'ZOOM', name: 'Zoom trial', isEnabled: 0 },
        { id: 2400, connectorType: 'DROPBOX', name: 'Dropbox p01', isEnabled: 1 },
      ],
      policies: [
        { id: 71, name: 'CIS', connectorType: 'OFFICE365', connectors: [{ id: 2245 }] },
        { id: 81, name: 'GW', connectorType: 'GSUITE', connectors: [] },
        { id: 91, name: 'Zoom', connectorType: 'ZOOM', connectors: [{ id: 2301 }] },
      ],
    };
    const { pairs, report } = pairsOf(listing);

    expect(pairs).toEqual([
      {
        connectorId: 2245,
        connectorType: 'OFFICE365',
        connectorName: 'O365 p01',
        policyId: 71,
        policyName: 'CIS',
        nextPage: 1,
        status: 'pending',
      },
      {
        connectorId: 2193,
        connectorType: 'GSUITE',
        connectorName: 'Gsuite p01',
        policyId: 81,
        policyName: 'GW',
        nextPage: 1,
        status: 'pending',
      },
    ]);
    expect(report).toEqual({
      listed: 4,
      polled: 2,
      disabled: 1,
      unknownType: [{ id: '2400', connectorType: 'DROPBOX' }],
    });
  });
});
