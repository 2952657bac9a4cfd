import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { cdrAlertMessage } from '../../../../functions/cdr-findings/alerts';
import { chatCode } from '../../../../functions/core/alerts/markdown';
import { cutText, DROPPED_LINES, fitAlert } from '../../../../functions/core/alerts/size';
import { CdrFindingSchema } from '../../../../functions/qualys/schemas';
import { postureFailedMessage } from '../../../../functions/sdr-posture/alerts';
import samplePage from '../../../support/fixtures/cdr-findings-page.json';
import { failingObservation } from '../../../support/posture-samples';
import { publishedBytes, SNS_LIMIT } from '../../../support/sns-size';

const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
const where = {
  bucket: 'qualys-lake-archive',
  curatedKey: 'curated/cdr_findings/dt=2025-05-09/w-offset=0000000-0123456789ab.json.gz',
};
const S3_PATH = `s3://${where.bucket}/${where.curatedKey}`;
const athena = (uuid: string) =>
  `SELECT * FROM cdr_findings WHERE dt = '2025-05-09' AND uuid = '${uuid.replace(/'/g, "''")}'`;
const CUT = /… \[\d+ characters cut\]/;

/** Every line of `text` that holds `part` is whole: `part` is in it, uncut. */
const lineWith = (text: string, part: string) => text.split('\n').find((line) => line.includes(part));

describe('fitAlert', () => {
  it('leaves a message that fits as it is', () => {
    const message = cdrAlertMessage(sample, where);
    expect(fitAlert(message)).toBe(message);
  });

  it('cuts a 140 KB event message with a marker and keeps the S3 path and the Athena query whole', () => {
    const eventMessage = `Start of the event. ${'A suspicious call was made. '.repeat(5_200)}`;
    expect(eventMessage.length).toBeGreaterThan(140_000);
    const message = cdrAlertMessage({ ...sample, severity: 4, eventMessage }, where);
    expect(publishedBytes(message)).toBeGreaterThan(SNS_LIMIT);

    const fitted = fitAlert(message);
    expect(publishedBytes(fitted)).toBeLessThanOrEqual(SNS_LIMIT);
    expect(fitted.email).toContain(`- Full record: ${S3_PATH}\n`);
    expect(fitted.email).toContain(`- In Athena: ${athena(sample.uuid)}\n`);
    expect(fitted.chat.content.nextSteps).toContain(`Athena: ${chatCode(athena(sample.uuid))}`);
    // The event message is cut, not dropped: its start is there, and the cut says so.
    expect(lineWith(fitted.email, 'Start of the event.')).toMatch(CUT);
    expect(fitted.chat.content.description.split('\n')[0]).toMatch(CUT);
    expect(fitted.email.length).toBeGreaterThan(100_000);
    expect(fitted.subject).toBe(message.subject);
    expect(fitted.attributes).toEqual(message.attributes);
  });

  it('fits a long message of multi-byte characters without splitting one', () => {
    const eventMessage = `🔥 ${'日本語のイベント'.repeat(20_000)}`;
    const fitted = fitAlert(cdrAlertMessage({ ...sample, eventMessage }, where));
    expect(publishedBytes(fitted)).toBeLessThanOrEqual(SNS_LIMIT);
    // A lone surrogate would not survive the round trip through UTF-8.
    expect(Buffer.from(fitted.email, 'utf8').toString('utf8')).toBe(fitted.email);
    expect(fitted.email).toContain(S3_PATH);
    expect(fitted.email).toMatch(CUT);
  });

  it('drops lines, with a marker, when there are too many short ones to cut', () => {
    const eventMessage = Array.from({ length: 30_000 }, (_, i) => `line ${i} of a verbose event`).join('\n');
    const fitted = fitAlert(cdrAlertMessage({ ...sample, eventMessage }, where));
    expect(publishedBytes(fitted)).toBeLessThanOrEqual(SNS_LIMIT);
    expect(fitted.email).toContain(DROPPED_LINES);
    expect(fitted.email).toContain('line 0 of a verbose event');
    expect(fitted.email).toContain(`- Full record: ${S3_PATH}\n`);
    expect(fitted.email).toContain(`- In Athena: ${athena(sample.uuid)}\n`);
  });

  it('keeps the S3 path and Athena query of a posture failure with thousands of evidence items', () => {
    const evidence = Array.from({ length: 3_000 }, (_, i) => ({
      evidenceKey: `Mailbox ${i}`,
      evidenceSuccess: 'null',
      evidenceFail: `forwarding to external address ${'x'.repeat(400)}`,
    }));
    const seen = failingObservation({ evidence });
    const message = postureFailedMessage(seen, { bucket: 'lake-archive' });
    expect(publishedBytes(message)).toBeGreaterThan(SNS_LIMIT);
    const fitted = fitAlert(message);
    expect(publishedBytes(fitted)).toBeLessThanOrEqual(SNS_LIMIT);
    expect(fitted.email).toContain(`s3://lake-archive/${seen.curatedKey}`);
    expect(fitted.email).toContain(
      "SELECT * FROM sdr_posture WHERE dt = '2025-05-10' AND lake_connector_id = '2245' AND cid = '70116' AND resourceId = 'QualysSSCMSDev.com'",
    );
  });

  it('stays under the limit even when the kept texts alone are too long (a 300 KB uuid)', () => {
    const uuid = 'u'.repeat(300_000);
    const fitted = fitAlert(cdrAlertMessage({ ...sample, uuid }, where));
    expect(publishedBytes(fitted)).toBeLessThanOrEqual(SNS_LIMIT);
    expect(fitted.email).toMatch(CUT);
  });
});

describe('cutText', () => {
  it('marks the cut and says how much was left out', () => {
    expect(cutText('abcdefghij', 4, false)).toBe('abcd … [6 characters cut]');
    expect(cutText('abc', 4, false)).toBe('abc');
  });

  it('never splits a surrogate pair', () => {
    expect(cutText('ab🔥cd', 3, false)).toBe('ab … [4 characters cut]');
  });

  it('closes a code span the cut left open in markdown', () => {
    expect(cutText('see `a long query`', 10, true)).toBe('see `a lon` … [8 characters cut]');
    expect(cutText('see `a long query`', 10, false)).toBe('see `a lon … [8 characters cut]');
  });
});
