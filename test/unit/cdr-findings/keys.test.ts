import { describe, expect, it } from 'vitest';
import { cdrFindingsKeys } from '../../../functions/cdr-findings/keys';
import { cdrFindingsManifest } from '../../../functions/cdr-findings/manifest';

const window = { startAt: '2025-05-09T20:00:42.000Z', endAt: '2025-05-10T08:00:00.000Z' };

describe('cdrFindingsKeys', () => {
  it('keeps the S3 layout the lake has always had', () => {
    expect(cdrFindingsKeys.checkpoint).toBe('state/cdr-findings/checkpoint.json');
    expect(cdrFindingsKeys.outbox).toBe('state/cdr-findings/alert-outbox.json');
    expect(cdrFindingsKeys.seenPrefix).toBe('state/cdr-findings/seen/');
    expect(cdrFindingsKeys.replayCheckpoint(window)).toBe(
      'state/cdr-findings/replays/20250509T200042Z_20250510T080000Z.json',
    );
    expect(cdrFindingsKeys.raw(window, 200)).toBe(
      'raw/cdr-findings/dt=2025-05-10/window=20250509T200042Z_20250510T080000Z/offset=0000200.json.gz',
    );
    expect(cdrFindingsKeys.rejected(window, 200)).toBe(
      'state/cdr-findings/rejected/window=20250509T200042Z_20250510T080000Z/offset=0000200.json',
    );
    expect(cdrFindingsKeys.curated('2025-05-09', window, 200, ['u2', 'u1'])).toBe(
      'curated/cdr_findings/dt=2025-05-09/20250509T200042Z_20250510T080000Z-offset=0000200-c9abf63c8b58.json.gz',
    );
  });

  it('names a curated object by the uuids it holds, in any order', () => {
    const key = (uuids: string[]) => cdrFindingsKeys.curated('2025-05-09', window, 0, uuids);
    expect(key(['u1', 'u2'])).toBe(key(['u2', 'u1']));
    expect(key(['u1', 'u2'])).not.toBe(key(['u1', 'u3']));
  });

  it('writes only under the prefixes its manifest grants', () => {
    const written = [
      cdrFindingsKeys.checkpoint,
      cdrFindingsKeys.outbox,
      `${cdrFindingsKeys.seenPrefix}dt=2025-05-09.bin`,
      `${cdrFindingsKeys.journalPrefix}20250509T000000Z-0a1b2c3d-000000.json.gz`,
      cdrFindingsKeys.replayCheckpoint(window),
      cdrFindingsKeys.raw(window, 0),
      cdrFindingsKeys.rejected(window, 0),
      cdrFindingsKeys.curated('2025-05-09', window, 0, ['u1']),
    ];
    for (const key of written) {
      expect(
        cdrFindingsManifest.writes.some((prefix) => key.startsWith(prefix)),
        key,
      ).toBe(true);
    }
  });
});
