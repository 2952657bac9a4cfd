import {
  createServer,
  request as forward,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { listenOnLoopback } from './loopback-server';

/**
 * fauxqs ignores conditional PUTs, so tests of the call-budget ledger would not prove that its
 * updates are atomic. This proxy (127.0.0.1) forwards every request to fauxqs, and enforces
 * `If-Match` / `If-None-Match` on a PutObject as S3 does: under a lock per key it reads the
 * object's current ETag from fauxqs and answers 412 PreconditionFailed when the condition does
 * not hold (404 NoSuchKey for `If-Match` on a missing key), else forwards the PUT.
 */
export interface ConditionalS3Proxy {
  url: string;
  /** Conditional PUTs seen, and how many were refused. */
  stats: { conditionalPuts: number; refused: number };
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'expect', 'transfer-encoding']);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>conditional-proxy</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const PRECONDITION_FAILED = [
  412,
  'PreconditionFailed',
  'At least one of the pre-conditions you specified did not hold',
] as const;

/** S3's answer to a conditional PUT whose condition does not hold against the current ETag. */
function preconditionFailure(
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
  etag: string | undefined,
): readonly [number, string, string] | undefined {
  if (ifNoneMatch === '*' && etag !== undefined) return PRECONDITION_FAILED;
  if (ifMatch !== undefined && etag === undefined)
    return [404, 'NoSuchKey', 'The specified key does not exist.'];
  if (ifMatch !== undefined && ifMatch !== etag) return PRECONDITION_FAILED;
  return undefined;
}

export async function startConditionalS3Proxy(upstream: string): Promise<ConditionalS3Proxy> {
  const target = new URL(upstream);
  const stats = { conditionalPuts: 0, refused: 0 };
  const locks = new Map<string, Promise<void>>();

  const send = (
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body?: Buffer | IncomingMessage,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const outgoing: IncomingHttpHeaders = { host: target.host };
      for (const [name, value] of Object.entries(headers)) {
        if (!HOP_BY_HOP.has(name)) outgoing[name] = value;
      }
      if (Buffer.isBuffer(body)) outgoing['content-length'] = String(body.byteLength);
      else if (headers['transfer-encoding']) outgoing['transfer-encoding'] = headers['transfer-encoding'];
      const request = forward(
        { host: target.hostname, port: target.port, method, path, headers: outgoing },
        resolve,
      );
      request.on('error', reject);
      if (Buffer.isBuffer(body)) request.end(body);
      else if (body) body.pipe(request);
      else request.end();
    });

  const relay = (from: IncomingMessage, res: ServerResponse) => {
    res.writeHead(from.statusCode ?? 502, from.headers);
    from.pipe(res);
  };

  /** Runs `work` alone for `key`: the check of the ETag and the write it guards are one step. */
  async function exclusive(key: string, work: () => Promise<void>): Promise<void> {
    const before = locks.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    const settled = mine.catch(() => undefined);
    locks.set(key, settled);
    try {
      await mine;
    } finally {
      if (locks.get(key) === settled) locks.delete(key);
    }
  }

  async function conditionalPut(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    stats.conditionalPuts++;
    const body = await readBody(req);
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    await exclusive(path, async () => {
      const head = await send('HEAD', path, { authorization: req.headers.authorization });
      head.resume();
      const etag = head.statusCode === 200 ? head.headers.etag : undefined;
      const refusal = preconditionFailure(ifMatch, ifNoneMatch, etag);
      if (refusal) {
        stats.refused++;
        return s3Error(res, ...refusal);
      }
      const written = await send('PUT', req.url ?? path, req.headers, body);
      await new Promise<void>((resolve) => {
        res.on('finish', resolve);
        relay(written, res);
      });
    });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const conditional =
      req.method === 'PUT' &&
      (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined) &&
      req.headers['x-amz-copy-source'] === undefined &&
      !url.searchParams.has('uploadId');
    const work = conditional
      ? conditionalPut(req, res, url.pathname)
      : send(req.method ?? 'GET', req.url ?? '/', req.headers, req).then((from) => relay(from, res));
    work.catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else s3Error(res, 502, 'ProxyError', (error as Error).message);
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return { url, stats, close };
}
