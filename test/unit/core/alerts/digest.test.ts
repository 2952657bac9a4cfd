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

describe('digest subjects', () => {
  const posture = (n: number, criticality: string) =>
    postureFailedCandidate(failingObservation({ criticality, alertKey: `2245:70116:host-${n}` }), {
      bucket: 'lake-archive',
    });

  it('start with the most severe level and the count, under 100 characters, however long the noun', () => {
    const batch = [posture(1, 'Low'), posture(2, 'Critical'), posture(3, 'Medium')];
    const [digest] = digests(batch, { ...POSTURE_DIGEST, noun: `SaaS posture changes ${'x'.repeat(200)}` });
    expect(digest?.message.subject).toMatch(/^\[Critical\] 3 new SaaS posture changes x+\.\.\.$/);
    expect(digest?.message.subject.length).toBeLessThan(100);
  });

  it('carry the highest rank for filter policies, and 🚨 only when the worst is at the top level', () => {
    const high = digests([posture(1, 'High'), posture(2, 'Low')], POSTURE_DIGEST)[0]?.message;
    expect(high?.attributes).toMatchObject({ criticality: 'High', rank: '3' });
    expect(high?.chat.content.title).toMatch(/^:warning: 2 new /);
    const critical = digests([posture(1, 'Critical'), posture(2, 'Low')], POSTURE_DIGEST)[0]?.message;
    expect(critical?.attributes).toMatchObject({ criticality: 'Critical', rank: '4' });
    expect(critical?.chat.content.title).toMatch(/^:rotating_light: 2 new /);
  });
});
