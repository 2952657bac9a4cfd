import { describe, expect, it } from 'vitest';
import { sdrPostureKeys } from '../../../functions/sdr-posture/keys';
import { sdrPostureManifest } from '../../../functions/sdr-posture/manifest';

const poll = { pollId: '20250510T000000.123Z', date: '2025-05-10' };
const pair = { connectorId: 2245, policyId: 'cis/../71' };

describe('sdrPostureKeys', () => {
  it('names every object from the poll and the request, with ids as safe segments', () => {
    expect(sdrPostureKeys.checkpoint).toBe('state/sdr-posture/checkpoint.json');
    expect(sdrPostureKeys.failures).toBe('state/sdr-posture/failures.json');
    expect(sdrPostureKeys.outbox).toBe('state/sdr-posture/alert-outbox.json');
    expect(sdrPostureKeys.listRaw(poll, 'policies', 3)).toBe(
      'raw/sdr-posture/dt=2025-05-10/run=20250510T000000.123Z/policies/page=00003.json.gz',
    );
    expect(sdrPostureKeys.raw(poll, pair, 1)).toBe(
      'raw/sdr-posture/dt=2025-05-10/run=20250510T000000.123Z/connector=2245/policy=cis%2F..%2F71/page=00001.json.gz',
    );
    expect(sdrPostureKeys.curated(poll, pair, 12)).toBe(
      'curated/sdr_posture/dt=2025-05-10/20250510T000000.123Z-connector=2245-policy=cis%2F..%2F71-page=00012.json.gz',
    );
    expect(sdrPostureKeys.rejectedListed(poll, 'connectors', 2)).toBe(
      'state/sdr-posture/rejected/run=20250510T000000.123Z/connectors/page=00002.json',
    );
    expect(sdrPostureKeys.rejectedControls(poll, pair, 2)).toBe(
      'state/sdr-posture/rejected/run=20250510T000000.123Z/connector=2245/policy=cis%2F..%2F71/page=00002.json',
    );
  });

  it('writes only under the prefixes its manifest grants', () => {
    const keys = [
      sdrPostureKeys.checkpoint,
      sdrPostureKeys.failures,
      sdrPostureKeys.outbox,
      sdrPostureKeys.listRaw(poll, 'connectors', 0),
      sdrPostureKeys.raw(poll, pair, 1),
      sdrPostureKeys.curated(poll, pair, 1),
      sdrPostureKeys.rejectedListed(poll, 'policies', 0),
      sdrPostureKeys.rejectedControls(poll, pair, 1),
    ];
    for (const key of keys) {
      expect(sdrPostureManifest.writes.some((prefix) => key.startsWith(prefix))).toBe(true);
    }
  });
});
