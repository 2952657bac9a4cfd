import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { cdrAlertMessage } from '../../../../functions/cdr-findings/alerts';
import { chatCode, chatText } from '../../../../functions/core/alerts/markdown';
import { CdrFindingSchema } from '../../../../functions/qualys/schemas';
import { postureFailedMessage } from '../../../../functions/sdr-posture/alerts';
import samplePage from '../../../support/fixtures/cdr-findings-page.json';
import { failingObservation } from '../../../support/posture-samples';

/**
 * What a hostile or broken upstream could put in a field, and the markup that must then not be in
 * the chat message: anywhere for mentions and Slack links (`<...>` acts even inside code), outside
 * code spans for formatting and links (a code span shows them literally).
 */
const INJECTIONS: Array<[string, Array<string | RegExp>]> = [
  ['<!channel> wake up', ['<!channel']],
  ['<@U024BE7LH> look', ['<@']],
  ['@here @channel @everyone', [/@(here|channel|everyone)/]],
  ['<https://evil.example/login|Reset your password>', ['<https', 'https://evil']],
  ['[Reset your password](https://evil.example/login)', ['](', 'https://evil']],
  ['*URGENT* _act now_ ~ignore~', ['*URGENT*', '_act now_', '~ignore~']],
  ['`rm -rf /`', ['`rm -rf /`']],
  ['line one\n> quoted\n# heading', ['\n> quoted', '\n# heading']],
];

/** Markup that acts even inside a code span in Slack. */
const ACTS_IN_CODE = (markup: string | RegExp) =>
  typeof markup !== 'string' || markup.startsWith('<') || markup.startsWith('\n');

function expectInert(text: string, forbidden: Array<string | RegExp>) {
  const outsideCode = text.replace(/`[^`\n]*`/g, '``');
  for (const markup of forbidden) {
    const seen = ACTS_IN_CODE(markup) ? text : outsideCode;
    if (typeof markup === 'string') expect(seen).not.toContain(markup);
    else expect(seen).not.toMatch(markup);
  }
}

const chatTexts = (chat: {
  content: { title: string; description: string; nextSteps?: string[]; keywords?: string[] };
}) => [
  chat.content.title,
  chat.content.description,
  ...(chat.content.nextSteps ?? []),
  ...(chat.content.keywords ?? []),
];

describe('chatText', () => {
  it.each(INJECTIONS)('shows %j as text, with no formatting, link or mention', (value, forbidden) => {
    const shown = chatText(value);
    expectInert(shown, forbidden);
    expect(shown).not.toContain('`');
    expect(shown).not.toContain('\n');
  });

  it('escapes the three characters Slack asks for as entities', () => {
    expect(chatText('a & b < c > d')).toBe('a &amp; b &lt; c &gt; d');
  });

  it('keeps underscores inside names, which format nothing', () => {
    expect(chatText('Recon_MaliciousIPCaller.Custom on OktaSSO_Compute')).toBe(
      'Recon_MaliciousIPCaller.Custom on OktaSSO_Compute',
    );
    expect(chatText('_act now_')).toBe('ˍact nowˍ');
  });
});

describe('chatCode', () => {
  it('keeps markdown characters literal inside the span but cannot be closed, mention or link', () => {
    expect(chatCode("WHERE uuid = 'a_b*c~[d]'")).toBe("`WHERE uuid = 'a_b*c~[d]'`");
    const shown = chatCode('x` <!channel> @here ` y');
    expect(shown.slice(1, -1)).not.toContain('`');
    expect(shown).not.toMatch(/<!|@here/);
  });
});

describe('alert chat bodies', () => {
  const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
  const where = { bucket: 'qualys-lake-archive', curatedKey: 'curated/cdr_findings/dt=2025-05-09/x.json.gz' };

  it.each(INJECTIONS)(
    'a CDR finding cannot inject %j into chat, and the email keeps it as sent',
    (value, forbidden) => {
      const message = cdrAlertMessage(
        {
          ...sample,
          eventMessage: value,
          threatCategory: value,
          cloudType: value,
          cspAccount: value,
          cspRegion: value,
          resourceType: value,
          resourceId: value,
          remoteIpDetails: { ipAddress: value, city: value, country: value },
        },
        where,
      );
      for (const text of chatTexts(message.chat)) expectInert(text, forbidden);
      expect(message.email).toContain(value);
    },
  );

  it.each(INJECTIONS)('a posture failure cannot inject %j into chat', (value, forbidden) => {
    const message = postureFailedMessage(
      failingObservation({
        controlName: value,
        connectorName: value,
        connectorType: value,
        policyName: value,
        resourceId: value,
        lastEvaluatedDate: value,
        evidence: [{ evidenceKey: value, evidenceSuccess: 'null', evidenceFail: value }],
      }),
      { bucket: 'lake-archive' },
    );
    for (const text of chatTexts(message.chat)) expectInert(text, forbidden);
  });
});
