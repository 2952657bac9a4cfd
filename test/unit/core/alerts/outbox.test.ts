import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { cdrAlertCandidate } from '../../../../functions/cdr-findings/alerts';
import { type AlertCandidate, DIGEST_CHUNK, settle } from '../../../../functions/core/alerts/digest';
import { AlertOutbox, PUBLISH_ROUND, ROUND_MS } from '../../../../functions/core/alerts/outbox';
import { subjectLine } from '../../../../functions/core/alerts/text';
import { type AlertMessage, AlertPublishError, type AlertSink } from '../../../../functions/core/ports';
import { CdrFindingSchema } from '../../../../functions/qualys/schemas';
import samplePage from '../../../support/fixtures/cdr-findings-page.json';
import { MemoryStore } from '../../../support/memory-store';
import { publishedBytes, SNS_LIMIT } from '../../../support/sns-size';

const sample = v.parse(CdrFindingSchema, samplePage.content[0]);
const OUTBOX = {
  outbox: 'state/cdr-findings/alert-outbox.json',
  rejectedPrefix: 'state/cdr-findings/alerts-rejected/',
};
/** A publish window that never closes. */
const OPEN = { publishBy: Number.POSITIVE_INFINITY };
const FORMAT = { source: 'cdr-findings', noun: 'CDR findings', severityAttribute: 'severity' };

function candidate(n: number, severity = 3): AlertCandidate {
  const uuid = `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
  return settle(
    cdrAlertCandidate({ ...sample, uuid, severity }, { bucket: 'b', curatedKey: `curated/${uuid}.json.gz` }),
  );
}

interface SinkOptions {
  fail?: boolean;
  /** SNS's reason for refusing a message (its index in the call), if it does. */
  refuse?: (message: AlertMessage, index: number) => string | undefined;
  /** Called as each publish call starts (a clock moving, a deadline passing). */
  onPublish?: () => void;
}

/** A sink that records what it was given, and can be made to fail or to refuse messages. */
function sink(options: SinkOptions = {}): AlertSink & { batches: AlertMessage[][] } {
  const batches: AlertMessage[][] = [];
  return {
    batches,
    async publish(messages) {
      options.onPublish?.();
      if (options.fail) throw new Error('SNS is unavailable');
      batches.push([...messages]);
      const refused = new Map<number, string>();
      messages.forEach((message, index) => {
        const reason = options.refuse?.(message, index);
        if (reason) refused.set(index, reason);
      });
      return { refused };
    },
  };
}

const range = (count: number, from = 1) => Array.from({ length: count }, (_, i) => candidate(from + i));

describe('AlertOutbox', () => {
  it('tells the run once, as soon as it holds an alert: queued now, or left by an earlier run', async () => {
    const store = new MemoryStore();
    const first = new AlertOutbox(store, OUTBOX, 3);
    let told = 0;
    first.whenHolding(() => told++);
    await first.queue([]);
    expect(told).toBe(0);
    await first.queue(range(2));
    await first.queue(range(1, 3));
    expect(told).toBe(1);
    await first.saveQueued();

    // The next run finds them waiting: it is told as it reads the outbox, before queuing anything.
    const next = new AlertOutbox(store, OUTBOX, 3);
    let toldNext = 0;
    next.whenHolding(() => toldNext++);
    await next.queue([]);
    expect(toldNext).toBe(1);
  });

  it('publishes one message per alert up to maxPerRun', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 3);
    const queued = range(3);
    await outbox.add(queued);
    const alerts = sink();

    const sent = await outbox.flush(alerts, FORMAT, OPEN);
    expect(sent).toEqual({ alerts: 3, digests: 0, rejected: 0 });
    expect(alerts.batches).toEqual([queued.map((c) => c.message)]);
    expect(alerts.batches[0]?.map((m) => m.attributes.alertKey)).toEqual(queued.map((c) => c.key));
  });

  it('publishes one digest listing every key, without alertKey, above maxPerRun', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 3);
    const queued = [candidate(1, 2), candidate(2, 4), candidate(3, 3), candidate(4, 1)];
    await outbox.add(queued);
    const alerts = sink();

    const sent = await outbox.flush(alerts, FORMAT, OPEN);
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

    expect((await outbox.flush(alerts, FORMAT, OPEN)).digests).toBe(1);
    for (let n = 1; n <= 4; n++) expect(alerts.batches[0]?.[0]?.email).toContain(candidate(n).key);
  });

  it('queues a key once however often it is added', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 10);
    await outbox.add([candidate(1), candidate(1)]);
    await outbox.add([candidate(1), candidate(2)]);
    const alerts = sink();

    expect((await outbox.flush(alerts, FORMAT, OPEN)).alerts).toBe(2);
    expect(alerts.batches.flat().map((message) => message.attributes.alertKey)).toEqual([
      candidate(1).key,
      candidate(2).key,
    ]);
  });

  it('splits a large digest into parts that together list every key once', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 50);
    const queued = range(2 * DIGEST_CHUNK + 200);
    await outbox.add(queued);
    const alerts = sink();

    await outbox.flush(alerts, FORMAT, OPEN);
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

    await expect(outbox.flush(sink({ fail: true }), FORMAT, OPEN)).rejects.toThrow('SNS is unavailable');
    expect(outbox.size).toBe(2);

    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    const alerts = sink();
    await nextRun.flush(alerts, FORMAT, OPEN);
    expect(alerts.batches).toEqual([queued.map((c) => c.message)]);
  });

  it('builds a message given as a function only for the candidates that keep one', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 2);
    let built = 0;
    const lazy = range(5).map((candidate) => ({
      ...candidate,
      message: () => {
        built++;
        return candidate.message as AlertMessage;
      },
    }));
    await outbox.queue(lazy);
    expect(built).toBe(2);
    const alerts = sink();
    await outbox.flush(alerts, FORMAT, OPEN);
    expect(alerts.batches.flat()).toHaveLength(1);
  });

  it('admits without queuing: new keys only, and past maxPerRun without their message', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 2);
    const [a, b, c] = range(3);
    if (!a || !b || !c) throw new Error('no candidates');
    await outbox.queue([a]);
    const admitted = await outbox.admit([a, b, c, b]);
    expect(admitted.map((candidate) => candidate.key)).toEqual([b.key, c.key]);
    expect(admitted.map((candidate) => candidate.message !== undefined)).toEqual([true, false]);
    expect(outbox.size).toBe(1);
  });

  it('queues in memory until saveQueued writes the outbox once, one entry per key', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    const [first, second] = range(2);
    if (!first || !second) throw new Error('no candidates');
    await outbox.queue([first]);
    await outbox.queue([second, first]);
    expect(store.writes).toEqual([]);
    await outbox.saveQueued();
    await outbox.saveQueued();
    expect(store.writes).toEqual([OUTBOX.outbox]);

    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    await nextRun.queue([second]);
    const alerts = sink();
    await nextRun.flush(alerts, FORMAT, OPEN);
    expect(alerts.batches).toEqual([[first.message, second.message]]);
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
    await expect(outbox.flush(partial, FORMAT, OPEN)).rejects.toThrow('SNS refused');

    const nextRun = new AlertOutbox(store, OUTBOX, 5);
    const alerts = sink();
    await nextRun.flush(alerts, FORMAT, OPEN);
    expect(alerts.batches).toEqual([[queued[1]?.message]]);
  });

  it('is empty after a successful flush, in memory and in the store', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5);
    await outbox.add(range(2));
    await outbox.flush(sink(), FORMAT, OPEN);
    expect(outbox.size).toBe(0);

    const alerts = sink();
    expect(await new AlertOutbox(store, OUTBOX, 5).flush(alerts, FORMAT, OPEN)).toEqual({
      alerts: 0,
      digests: 0,
      rejected: 0,
    });
    expect(alerts.batches).toEqual([]);
  });

  it('does not call the sink when nothing is queued', async () => {
    const alerts = sink({ fail: true });
    await expect(
      new AlertOutbox(new MemoryStore(), OUTBOX, 5).flush(alerts, FORMAT, OPEN),
    ).resolves.toMatchObject({
      alerts: 0,
    });
  });
});

/** The alerts SNS refused, as set aside in the store. */
function setAside(store: MemoryStore): Array<{ reason: string; keys: string[]; message: AlertMessage }> {
  return [...store.objects.keys()]
    .filter((key) => key.startsWith(OUTBOX.rejectedPrefix))
    .map((key) => JSON.parse(store.text(key) ?? '{}'));
}

const keysOf = (batches: AlertMessage[][]) => batches.flat().map((message) => message.attributes.alertKey);

/** What the next run's flush of the same outbox publishes, by key. */
async function nextRunKeys(store: MemoryStore, maxPerRun: number) {
  const next = sink();
  await new AlertOutbox(store, OUTBOX, maxPerRun).flush(next, FORMAT, OPEN);
  return keysOf(next.batches);
}

describe('AlertOutbox delivery', () => {
  it('sets a message SNS refuses aside with its reason, and delivers the 15 behind it', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 50);
    const queued = range(16);
    await outbox.add(queued);
    const tooLong = queued[0]?.key;
    const alerts = sink({
      refuse: (message) =>
        message.attributes.alertKey === tooLong ? 'InvalidParameter: Message too long' : undefined,
    });

    const sent = await outbox.flush(alerts, FORMAT, OPEN);
    expect(sent).toMatchObject({ alerts: 15, rejected: 1 });
    expect(keysOf(alerts.batches)).toEqual(queued.map((c) => c.key));
    expect(setAside(store)).toEqual([
      {
        reason: 'InvalidParameter: Message too long',
        keys: [tooLong],
        message: queued[0]?.message,
        rejectedAt: expect.any(String),
      },
    ]);
    expect(outbox.size).toBe(0);
    // Nothing is left for the next run to send again.
    const again = sink();
    await new AlertOutbox(store, OUTBOX, 50).flush(again, FORMAT, OPEN);
    expect(again.batches).toEqual([]);
  });

  it('hands SNS each message cut to fit its size limit', async () => {
    const outbox = new AlertOutbox(new MemoryStore(), OUTBOX, 50);
    const big = settle(
      cdrAlertCandidate(
        { ...sample, uuid: 'big', severity: 4, eventMessage: 'x'.repeat(140_000) },
        { bucket: 'b', curatedKey: 'curated/big.json.gz' },
      ),
    );
    expect(publishedBytes(big.message as AlertMessage)).toBeGreaterThan(SNS_LIMIT);
    await outbox.add([big, candidate(1)]);
    const alerts = sink();
    await outbox.flush(alerts, FORMAT, OPEN);
    const [sentBig, sentSmall] = alerts.batches.flat();
    expect(publishedBytes(sentBig as AlertMessage)).toBeLessThanOrEqual(SNS_LIMIT);
    expect(sentBig?.email).toContain('s3://b/curated/big.json.gz');
    expect(sentSmall).toEqual(candidate(1).message);
  });

  it('publishes in rounds and saves the outbox after each, so a failure resends nothing SNS took', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 100);
    await outbox.add(range(100));
    let calls = 0;
    const alerts = sink({
      onPublish: () => {
        if (++calls === 3) throw new AlertPublishError('Throttling', new Set([0, 1]));
      },
    });

    await expect(outbox.flush(alerts, FORMAT, OPEN)).rejects.toThrow('Throttling');
    expect(alerts.batches.map((batch) => batch.length)).toEqual([PUBLISH_ROUND, PUBLISH_ROUND]);
    expect(store.writes.filter((key) => key === OUTBOX.outbox)).toHaveLength(1 + 3);
    expect(outbox.delivered.alerts).toBe(2 * PUBLISH_ROUND + 2);

    // The next run sends what the failed round had not delivered, and nothing else.
    expect(await nextRunKeys(store, 100)).toEqual(range(18, 83).map((c) => c.key));
  });

  it('stops before the publish deadline with the rest queued, and the next run sends each of them once', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 100);
    const queued = range(100);
    await outbox.add(queued);
    let clock = 1_000_000;
    // Each round takes 2.5 s of the clock; the window closes 4 s after the start.
    const alerts = sink({ onPublish: () => (clock += 2_500) });
    const sent = await outbox.flush(alerts, FORMAT, { publishBy: clock + 4_000, now: () => clock });

    expect(sent.alerts).toBe(PUBLISH_ROUND);
    expect(sent.stoppedEarly).toMatch(/60 alert\(s\) stay queued/);
    expect(alerts.batches).toHaveLength(1);

    expect([...keysOf(alerts.batches), ...(await nextRunKeys(store, 100))]).toEqual(queued.map((c) => c.key));
  });

  it('ends a round still running when the window closes as a stop, keeping what SNS had not taken', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 100);
    await outbox.add(range(30));
    // The round starts with just enough of the window left, then SNS hangs until it closes (50 ms).
    const times = [0, ROUND_MS - 50];
    const hanging: AlertSink = {
      publish: (_messages, signal) =>
        new Promise((_resolve, reject) =>
          signal?.addEventListener('abort', () =>
            reject(new AlertPublishError('aborted', new Set([0, 1, 2]))),
          ),
        ),
    };
    const sent = await outbox.flush(hanging, FORMAT, {
      publishBy: ROUND_MS,
      now: () => times.shift() ?? ROUND_MS,
    });

    expect(sent.stoppedEarly).toMatch(/27 alert\(s\) stay queued: the publish window closed/);
    expect(sent.alerts).toBe(3);
    expect(await nextRunKeys(store, 100)).toEqual(range(27, 4).map((c) => c.key));
  });

  it('keeps throttled alerts queued and sets refused ones aside when a round fails part-way', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 10);
    const queued = range(4);
    await outbox.add(queued);
    const partial: AlertSink = {
      async publish() {
        throw new AlertPublishError('Throttled', new Set([0, 1]), new Map([[2, 'InvalidParameter: bad']]));
      },
    };
    await expect(outbox.flush(partial, FORMAT, OPEN)).rejects.toThrow('Throttled');
    expect(outbox.delivered).toEqual({ alerts: 2, digests: 0, rejected: 1 });
    expect(setAside(store).map((item) => item.keys)).toEqual([[queued[2]?.key]]);

    expect(await nextRunKeys(store, 10)).toEqual([queued[3]?.key]);
  });

  it('sets aside exactly the alerts a refused digest covers', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 10);
    const queued = range(DIGEST_CHUNK + 50);
    await outbox.add(queued);
    const alerts = sink({
      refuse: (_message, index) => (index === 1 ? 'InvalidParameter: bad digest' : undefined),
    });

    expect(await outbox.flush(alerts, FORMAT, OPEN)).toMatchObject({ digests: 1, rejected: 1 });
    expect(setAside(store).map((item) => item.keys)).toEqual([queued.slice(DIGEST_CHUNK).map((c) => c.key)]);
    expect(outbox.size).toBe(0);
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

describe('AlertOutbox with a queue too long for memory', () => {
  const SPILL = { prefix: 'state/cdr-findings/journal/alerts/', maxInMemory: 10, segmentSize: 40 };
  /** What the page journal would give back: the queued candidates, in batches, in order. */
  const source = (candidates: AlertCandidate[]) =>
    async function* () {
      for (let start = 0; start < candidates.length; start += 7) yield candidates.slice(start, start + 7);
    };
  const segmentKeys = (store: MemoryStore) =>
    [...store.objects.keys()].filter((key) => key.startsWith(SPILL.prefix)).sort();
  /** The keys each digest lists as covered ("Keys covered by this digest:"), all digests together. */
  const digestKeys = (batches: AlertMessage[][]) =>
    batches
      .flat()
      .flatMap((message) => message.email.split('Keys covered by this digest:')[1]?.match(/\S+/g) ?? []);

  it('keeps only a count past maxInMemory, writes the queue in segments, and sends each alert once', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5, SPILL);
    const queued = range(100);
    for (let start = 0; start < queued.length; start += 10)
      await outbox.queue(queued.slice(start, start + 10));
    expect(outbox.size).toBe(100);
    await outbox.saveQueued({ name: 'run-a', source: source(queued) });
    expect(outbox.size).toBe(100);
    expect(segmentKeys(store)).toEqual([
      `${SPILL.prefix}run-a-000000.json`,
      `${SPILL.prefix}run-a-000001.json`,
      `${SPILL.prefix}run-a-000002.json`,
    ]);

    // A later run reads the outbox and sends the segments as digests, deleting each once sent.
    const nextRun = new AlertOutbox(store, OUTBOX, 5, SPILL);
    expect(nextRun.size).toBe(0);
    const alerts = sink();
    const result = await nextRun.flush(alerts, FORMAT, OPEN);
    expect(result.digests).toBeGreaterThanOrEqual(3);
    expect(digestKeys(alerts.batches).sort()).toEqual(queued.map((c) => c.key).sort());
    expect(segmentKeys(store)).toEqual([]);
    expect(nextRun.size).toBe(0);
  });

  it('saved again with the same name, overwrites its segments instead of adding to them', async () => {
    const store = new MemoryStore();
    const queued = range(60);
    for (let attempt = 0; attempt < 2; attempt++) {
      const outbox = new AlertOutbox(store, OUTBOX, 5, SPILL);
      await outbox.queue(queued);
      await outbox.saveQueued({ name: 'run-a', source: source(queued) });
    }
    expect(segmentKeys(store)).toHaveLength(2);
    const alerts = sink();
    await new AlertOutbox(store, OUTBOX, 5, SPILL).flush(alerts, FORMAT, OPEN);
    expect(digestKeys(alerts.batches).sort()).toEqual(queued.map((c) => c.key).sort());
  });

  it('writes and sends once a key its journal holds twice past maxInMemory', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5, SPILL);
    const queued = range(30);
    await outbox.queue(queued);
    // Past the spill its keys are not kept: a page retried after its entry was written queues again.
    await outbox.queue(queued.slice(20));
    const journaled = [...queued, ...queued.slice(20)];
    await outbox.saveQueued({ name: 'run-a', source: source(journaled) });
    const alerts = sink();
    await new AlertOutbox(store, OUTBOX, 5, SPILL).flush(alerts, FORMAT, OPEN);
    expect(digestKeys(alerts.batches)).toHaveLength(queued.length);
    expect(digestKeys(alerts.batches).sort()).toEqual(queued.map((c) => c.key).sort());
  });

  it('keeps what SNS did not take in its segment, and the next run sends only that', async () => {
    const store = new MemoryStore();
    const outbox = new AlertOutbox(store, OUTBOX, 5, { ...SPILL, segmentSize: 1000 });
    const queued = range((45 * DIGEST_CHUNK) / 5);
    await outbox.queue(queued);
    await outbox.saveQueued({ name: 'run-a', source: source(queued) });
    const partial: AlertSink = {
      async publish() {
        throw new AlertPublishError('throttled', new Set([0, 1]));
      },
    };
    await expect(new AlertOutbox(store, OUTBOX, 5, SPILL).flush(partial, FORMAT, OPEN)).rejects.toThrow(
      'throttled',
    );
    const alerts = sink();
    await new AlertOutbox(store, OUTBOX, 5, SPILL).flush(alerts, FORMAT, OPEN);
    const sentLater = digestKeys(alerts.batches);
    expect(sentLater.length).toBeLessThan(queued.length);
    expect(new Set(sentLater).size).toBe(sentLater.length);
    expect(segmentKeys(store)).toEqual([]);
  });
});
