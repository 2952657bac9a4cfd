import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logical } from './subscription-view';

/**
 * An S3 endpoint on 127.0.0.1 in front of fauxqs that answers 500 to chosen PUTs while told to:
 * a failed S3 write as a Lambda sees it once the SDK has spent its retries. Everything else is
 * passed through unchanged. Point a Lambda at it with AWS_ENDPOINT_URL_S3.
 */
export async function failingS3(target: string) {
  let refuse: ((path: string) => boolean) | undefined;
  let refused = 0;
  const puts: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    if (req.method === 'PUT') puts.push(keyOf(path));
    if (req.method === 'PUT' && refuse?.(`/${path.split('/')[1]}/${keyOf(path)}`)) {
      refused++;
      req.resume();
      res.writeHead(500, { 'Content-Type': 'application/xml' });
      res.end('<Error><Code>InternalError</Code><Message>simulated S3 write failure</Message></Error>');
      return;
    }
    const upstream = request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /**
     * Refuses every PUT whose path (`/<bucket>/<key>`, the key as the collector named it: see
     * {@link keyOf}) `match` accepts, until {@link allow}.
     */
    refusePuts(match: (path: string) => boolean) {
      refuse = match;
    },
    allow() {
      refuse = undefined;
    },
    /** PUTs refused so far. */
    get refused() {
      return refused;
    },
    /** The key of every PUT so far, refused or not, in order (a multipart upload: one per part). */
    puts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The object key of an S3 request path (`/<bucket>/<key>`, path-style), as the collector of the
 * `default` subscription named it (its logical key, test/support/subscription-view.ts).
 */
const keyOf = (path: string) => logical(path.split('/').slice(2).join('/'));

/**
 * A matcher for {@link failingS3}'s `refusePuts`: PUTs of keys under `keys` (a prefix, or a test of
 * the key) once `passes` of them went through (0: from the first), and only while `when()` holds.
 */
export function refuseKeys(
  keys: string | ((key: string) => boolean),
  passes: number,
  when: () => boolean = () => true,
) {
  const matches = typeof keys === 'string' ? (key: string) => key.startsWith(keys) : keys;
  let seen = 0;
  return (path: string) => {
    if (!matches(keyOf(path)) || !when()) return false;
    return ++seen > passes;
  };
}
