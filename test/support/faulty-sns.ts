import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const ENTRY = /^PublishBatchRequestEntries\.member\.(\d+)\./;

/**
 * An SNS endpoint on 127.0.0.1 in front of fauxqs that misbehaves on PublishBatch while told to, as
 * real SNS can: it answers `Throttling` to the whole call, or accepts a batch but for its last
 * entries, which it reports under `Failed` (those are not delivered). Everything else is passed
 * through. Point a Lambda at it with AWS_ENDPOINT_URL_SNS (the SDK speaks the AWS query protocol).
 */
export async function faultySns(target: string) {
  let throttling = false;
  let failLast = 0;
  let failBatches = 0;
  const counts = { throttled: 0, failedEntries: 0, unreadableAnswers: 0, accepted: 0 };

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const isBatch = form.get('Action') === 'PublishBatch';
      if (isBatch && throttling) {
        counts.throttled++;
        response.writeHead(400, { 'Content-Type': 'text/xml' });
        response.end(
          '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>' +
            '<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>faulty-sns</RequestId></ErrorResponse>',
        );
        return;
      }
      let failedIds: string[] = [];
      let body = form.toString();
      if (isBatch && failBatches > 0 && failLast > 0) {
        failBatches--;
        ({ body, failedIds } = dropLastEntries(form, failLast));
        counts.failedEntries += failedIds.length;
      }
      const upstream = request(
        new URL(incoming.url ?? '/', target),
        {
          method: incoming.method,
          headers: { ...incoming.headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const text = withFailedEntries(Buffer.concat(parts).toString('utf8'), failedIds);
            if (text === undefined) {
              counts.unreadableAnswers++;
              response.destroy();
              return;
            }
            if (isBatch && answer.statusCode === 200) counts.accepted++;
            const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(text)) };
            response.writeHead(answer.statusCode ?? 502, headers);
            response.end(text);
          });
        },
      );
      upstream.on('error', () => response.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Every PublishBatch answers 400 Throttling until {@link allow}. */
    throttle() {
      throttling = true;
    },
    /** The next `batches` PublishBatch calls deliver all but their last `entries` entries, reported as failed. */
    failLastEntries(entries: number, batches: number) {
      failLast = entries;
      failBatches = batches;
    },
    allow() {
      throttling = false;
      failBatches = 0;
    },
    /**
     * PublishBatch calls throttled, entries reported failed, fauxqs answers it could not amend, and
     * PublishBatch calls SNS (fauxqs) accepted.
     */
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The batch without its last `count` entries (at least one is kept), and the ids it left out. */
function dropLastEntries(form: URLSearchParams, count: number) {
  const indexes = [...new Set([...form.keys()].map((key) => Number(ENTRY.exec(key)?.[1] ?? 0)))].filter(
    (index) => index > 0,
  );
  const kept = Math.max(1, indexes.length - count);
  const failedIds: string[] = [];
  const body = new URLSearchParams();
  for (const [key, value] of form) {
    const index = Number(ENTRY.exec(key)?.[1] ?? 0);
    if (index > kept) {
      if (key.endsWith('.Id') && key.split('.').length === 4) failedIds.push(value);
      continue;
    }
    body.append(key, value);
  }
  return { body: body.toString(), failedIds };
}

/** The answer with `ids` listed under `<Failed>`; undefined if it has no such element. */
function withFailedEntries(xml: string, ids: readonly string[]): string | undefined {
  if (ids.length === 0) return xml;
  if (!xml.includes('<Failed>')) return undefined;
  const members = ids
    .map(
      (id) =>
        `<member><Id>${id}</Id><Code>InternalError</Code><Message>simulated entry failure</Message><SenderFault>false</SenderFault></member>`,
    )
    .join('');
  return xml.replace('<Failed>', `<Failed>${members}`);
}
