import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { cdrAlertCandidate } from '../../../../functions/cdr-findings/alerts';
import { type AlertCandidate, DIGEST_CHUNK } from '../../../../functions/core/alerts/digest';
import { AlertOutbox } from '../../../../functions/core/alerts/outbox';
import { subjectLine } from '../../../../functions/core/alerts/text';
import { type AlertMessage, AlertPublishError, type AlertSink } from '../../../../functions/core/ports';
import { CdrFindingSchema } from '../../../../functions/qualys/schemas';
import samplePage from '../../../support/fixtures/cdr-findings-page.json';
import { MemoryStore } from '../../../support/memory-store';

const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
const OUTBOX = 'state/cdr-findings/alert-outbox.json';
const FORMAT = { source: 'cdr-findings', noun: 'CDR findings', severityAttribute: 'severity' };

function candidate(n: number, severity = 3): AlertCandidate {
  const uuid = `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
  return cdrAlertCandidate(
    { ...sample, uuid, severity },
    { bucket: 'b', curatedKey: `curated/${uuid}.json.gz` },
  );
}

/** A sink that records what it was given, and can be made to fail. */
function sink(options: { fail?: boolean } = {}): AlertSink & { batches: AlertMessage[][] } {
  const batches: AlertMessage[][] = [];
  return {
    batches,
    async publish(messages) {
      if (options.fail) throw new Error('SNS is unavailable');
      batches.push([...messages]);
    },
  };
}

const range = (count: number, from = 1) => Array.from({ length: count }, (_, i) => candidate(from + i));

describe('AlertOutbox', () => {
  it('publishes one message per alert up to maxPerRun', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 3);
    const queued = range(3);
    await outbox.add(queued);
    const alerts = sink();

    const sent = await outbox.flush(alerts, FORMAT);
    expect(sent).toEqual({ alerts: 3, digests: 0, keys: queued.map((c) => c.key) });
    expect(alerts.batches).toEqual([queued.map((c) => c.message)]);
    expect(alerts.batches[0]?.map((m) => m.attributes.alertKey)).toEqual(queued.map((c) => c.key));
  });

  it('publishes one digest listing every key, without alertKey, above maxPerRun', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 3);
    const queued = [candidate(1, 2), candidate(2, 4), candidate(3, 3), candidate(4, 1)];
    await outbox.add(queued);
    const alerts = sink();

    const sent = await outbox.flush(alerts, FORMAT);
    expect(sent.digests).toBe(1);
    expect(sent.alerts).toBe(0);
    const [digest] = alerts.batches.flat();
    expect(alerts.batches.flat()).toHaveLength(1);
    for (const { key } of queued) expect(digest?.email).toContain(key);
    expect(digest?.attributes).not.toHaveProperty('alertKey');
    expect(digest?.attributes.source).toBe('cdr-findings');
    expect(digest?.attributes.severity).toBe('CRITICAL'); // the most severe of the four
    expect(digest?.subject.length).toBeLessThan(100);
    expect(digest?.chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown' },
    });
  });

  it('counts alerts queued by several pages of a run against maxPerRun', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 3);
    await outbox.add(range(2, 1));
    await outbox.add(range(2, 3));
    const alerts = sink();

    expect((await outbox.flush(alerts, FORMAT)).digests).toBe(1);
    for (let n = 1; n <= 4; n++) expect(alerts.batches[0]?.[0]?.email).toContain(candidate(n).key);
  });

  it('queues a key once however often it is added', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 10);
    await outbox.add([candidate(1), candidate(1)]);
    await outbox.add([candidate(1), candidate(2)]);
    const alerts = sink();

    expect((await outbox.flush(alerts, FORMAT)).keys).toEqual([candidate(1).key, candidate(2).key]);
    expect(alerts.batches.flat()).toHaveLength(2);
  });

  it('splits a large digest into parts that together list every key once', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 50);
    const queued = range(2 * DIGEST_CHUNK + 200);
    await outbox.add(queued);
    const alerts = sink();

    await outbox.flush(alerts, FORMAT);
    const digests = alerts.batches.flat();
    expect(digests).toHaveLength(3);
    const listed = digests.flatMap((digest) =>
      digest.email.split('\n').filter((line) => /^0{8}-/.test(line)),
    );
    expect(listed.sort()).toEqual(queued.map((c) => c.key).sort());
    for (const digest of digests) {
      expect(digest.subject.length).toBeLessThan(100);
      expect(digest.attributes).not.toHaveProperty('alertKey');
    }
  });

  it('keeps the outbox when publishing fails, and the next run sends it', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    const queued = range(2);
    await outbox.add(queued);

    await expect(outbox.flush(sink({ fail: true }), FORMAT)).rejects.toThrow('SNS is unavailable');
    expect(outbox.size).toBe(2);

    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    const alerts = sink();
    await nextRun.flush(alerts, FORMAT);
    expect(alerts.batches).toEqual([queued.map((c) => c.message)]);
  });

  it('keeps withheld alerts queued for the next run, which sends them once', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    const [kept, held] = range(2);
    if (!kept || !held) throw new Error('no candidates');
    await outbox.add([kept, held]);
    outbox.withhold([held.key]);
    const alerts = sink();
    expect((await outbox.flush(alerts, FORMAT)).keys).toEqual([kept.key]);
    expect(alerts.batches).toEqual([[kept.message]]);

    // The retried page queues it again: one entry, sent once.
    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    await nextRun.add([held]);
    const later = sink();
    await nextRun.flush(later, FORMAT);
    expect(later.batches).toEqual([[held.message]]);
    expect(nextRun.size).toBe(0);
  });

  it('keeps only the alerts SNS did not accept when a batch fails part-way', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    const queued = range(3);
    await outbox.add(queued);
    const partial: AlertSink = {
      async publish() {
        throw new AlertPublishError('SNS refused 1 alert(s)', new Set([0, 2]));
      },
    };
    await expect(outbox.flush(partial, FORMAT)).rejects.toThrow('SNS refused');

    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    const alerts = sink();
    await nextRun.flush(alerts, FORMAT);
    expect(alerts.batches).toEqual([[queued[1]?.message]]);
  });

  it('is empty after a successful flush, in memory and in the store', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    await outbox.add(range(2));
    await outbox.flush(sink(), FORMAT);
    expect(outbox.size).toBe(0);

    const alerts = sink();
    expect(await new AlertOutbox(store, OUTBOX, 5).flush(alerts, FORMAT)).toEqual({
      alerts: 0,
      digests: 0,
      keys: [],
    });
    expect(alerts.batches).toEqual([]);
  });

  it('does not call the sink when nothing is queued', async () => {
    const alerts = sink({ fail: true });
    await expect(new AlertOutbox(new MemoryStore(), OUTBOX, 5).flush(alerts, FORMAT)).resolves.toMatchObject({
      alerts: 0,
    });
  });
});

describe('subjectLine', () => {
  it.each([
    'plain subject',
    `[CRITICAL] ${'x'.repeat(200)}`,
    'Ünïcødé — “quoted” ✓ 日本語 subject',
    'line one\nline two\r\n\ttabbed',
    `${'é'.repeat(150)} tail`,
  ])('is ASCII, one line and under 100 characters: %j', (text) => {
    const subject = subjectLine(text);
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7E]*$/);
  });

  it('keeps a short ASCII subject as it is', () => {
    expect(subjectLine('[HIGH] CDR Recon on AWS 123')).toBe('[HIGH] CDR Recon on AWS 123');
  });
});
