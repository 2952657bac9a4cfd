import { describe, expect, it } from 'vitest';
import { DIGEST_CHUNK, digests } from '../../../../functions/core/alerts/digest';
import { clip } from '../../../../functions/core/alerts/text';
import { POSTURE_DIGEST, postureFailedCandidate } from '../../../../functions/sdr-posture/alerts';
import { failingObservation } from '../../../support/posture-samples';
import { publishedBytes, SNS_LIMIT } from '../../../support/sns-size';

/** 200 failing SharePoint documents whose ids are long and not ASCII. */
const candidates = Array.from({ length: DIGEST_CHUNK }, (_, n) => {
  const resourceId = `https://例え.sharepoint.com/sites/経理部/共有ドキュメント/${'四半期報告書の下書き'.repeat(30)}-${n}.xlsx`;
  return postureFailedCandidate(failingObservation({ resourceId, alertKey: `2245:70121:${resourceId}` }), {
    bucket: 'lake-archive',
  });
});

/** The keys a digest lists under "Keys covered by this digest:". */
const listedKeys = (email: string) =>
  email.split('Keys covered by this digest:\n')[1]?.split('\n').filter(Boolean) ?? [];

describe('digests', () => {
  it('splits 200 alerts with long non-ASCII ids by size: every part fits SNS whole, and every key is listed once', () => {
    const parts = digests(candidates, POSTURE_DIGEST);

    // Together they are over the limit, so one digest of 200 could not have carried them.
    const total = parts.reduce((sum, part) => sum + publishedBytes(part.message), 0);
    expect(total).toBeGreaterThan(SNS_LIMIT);
    expect(parts.length).toBeGreaterThan(1);
    for (const [index, { message }] of parts.entries()) {
      expect(publishedBytes(message)).toBeLessThanOrEqual(SNS_LIMIT);
      expect(message.email).not.toMatch(/characters cut\]|lines cut to fit/);
      expect(message.chat.content.title).toContain(`part ${index + 1} of ${parts.length}`);
    }
    const listed = parts.flatMap((part) => listedKeys(part.message.email));
    expect(listed).toEqual(candidates.map((candidate) => clip(candidate.key, 300)));
    expect(parts.flatMap((part) => part.covers)).toEqual(candidates);
    for (const part of parts) {
      expect(listedKeys(part.message.email)).toEqual(
        part.covers.map((candidate) => clip(candidate.key, 300)),
      );
    }
  });

  it('still puts up to 200 short alerts in one digest', () => {
    const short = Array.from({ length: DIGEST_CHUNK }, (_, n) =>
      postureFailedCandidate(failingObservation({ alertKey: `2245:70116:domain-${n}.example` }), {
        bucket: 'lake-archive',
      }),
    );
    expect(digests(short, POSTURE_DIGEST)).toHaveLength(1);
  });
});
