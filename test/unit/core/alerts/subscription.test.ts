import { describe, expect, it } from 'vitest';
import {
  CDR_FINDINGS_DIGEST,
  cdrAlertCandidate,
  cdrAlertMessage,
} from '../../../../functions/cdr-findings/alerts';
import { digests } from '../../../../functions/core/alerts/digest';
import { subscriptionAlerts, withSubscription } from '../../../../functions/core/alerts/subscription';
import type { AlertMessage } from '../../../../functions/core/ports';
import { cdrFinding } from '../../ocsf/samples';

const where = {
  bucket: 'lake-archive',
  curatedKey: 'curated/cdr_findings/subscription=acme/dt=2026-11-29/a.json.gz',
};

describe('alerts name their subscription', () => {
  it("passes on the run's word that it holds alerts, so the sink gets ready early", () => {
    let prepared = 0;
    const sink = subscriptionAlerts(
      { publish: async () => ({ refused: new Map() }), prepare: () => prepared++ },
      'acme',
    );
    sink.prepare?.();
    expect(prepared).toBe(1);
  });

  it('as the subscription attribute, the first email line and the first chat line', () => {
    const message = withSubscription(cdrAlertMessage(cdrFinding(), where), 'acme');
    expect(message.attributes).toMatchObject({ source: 'cdr-findings', subscription: 'acme' });
    expect(message.email.split('\n')[0]).toBe('Qualys subscription: acme');
    expect(message.chat.content.description.split('\n')[0]).toBe('*Qualys subscription:* acme');
    expect(message.chat.metadata?.additionalContext).toMatchObject({ subscription: 'acme' });
  });

  it('on every message the sink passes on, digests included', async () => {
    const sent: AlertMessage[] = [];
    const sink = subscriptionAlerts(
      {
        publish: async (messages) => {
          sent.push(...messages);
          return { refused: new Map() };
        },
      },
      'acme',
    );
    const candidates = [
      cdrAlertCandidate(cdrFinding({ uuid: 'a' }), where),
      cdrAlertCandidate(cdrFinding({ uuid: 'b' }), where),
    ];
    const [digest] = digests(
      candidates.map(({ message: _message, ...candidate }) => candidate),
      CDR_FINDINGS_DIGEST,
    );
    await sink.publish([cdrAlertMessage(cdrFinding(), where), ...(digest ? [digest.message] : [])]);
    expect(sent.map((message) => message.attributes.subscription)).toEqual(['acme', 'acme']);
    expect(sent.every((message) => message.email.startsWith('Qualys subscription: acme\n'))).toBe(true);
  });
});
