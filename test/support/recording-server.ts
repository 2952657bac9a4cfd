import { createServer, type IncomingMessage } from 'node:http';
import { listenOnLoopback } from './loopback-server';

/** A request as the recording server received it. */
export interface ReceivedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface RecordingServer {
  /** http://127.0.0.1:<port> */
  url: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * Another host, on 127.0.0.1: it records every request (method, path, headers, body up to 64 KiB)
 * and answers each with `answer` (JSON, status 200), as a host that a hostile gateway redirects to
 * would: if a client ever followed, the test would see what it sent and what it took.
 */
export async function startRecordingServer(answer: unknown = {}): Promise<RecordingServer> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return { url, received, close };
}
