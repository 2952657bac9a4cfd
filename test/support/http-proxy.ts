import { createServer, type IncomingMessage, request } from 'node:http';
import { listenOnLoopback } from './loopback-server';

export interface Proxy {
  url: string;
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy on 127.0.0.1 in front of `target` (fauxqs), for tests that need to act at the
 * moment a collector sends a given request: `onRequest` sees each request, with its body, before
 * it is forwarded.
 */
export async function startProxy(
  target: string,
  onRequest: (request: IncomingMessage, body: string) => void,
): Promise<Proxy> {
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      onRequest(incoming, body.toString('utf8'));
      const upstream = request(
        new URL(incoming.url ?? '/', target),
        { method: incoming.method, headers: incoming.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      upstream.end(body);
    });
  });
  return listenOnLoopback(server);
}

/** Whether a request to SNS is a PublishBatch (query protocol body, or JSON protocol target header). */
export const isPublishBatch = (incoming: IncomingMessage, body: string): boolean =>
  /(^|&)Action=PublishBatch(&|$)/.test(body) ||
  String(incoming.headers['x-amz-target'] ?? '').endsWith('.PublishBatch');
