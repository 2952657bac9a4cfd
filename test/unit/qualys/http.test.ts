import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { httpFetch } from '../../../functions/qualys/http';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: Socket;
}

let server: Server | undefined;

/** A server on 127.0.0.1 answering with `handler`; every request it saw, in order. */
async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const seen: Seen[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: request.socket,
      });
      handler(request, response);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { seen, url: (path: string) => new URL(path, `http://127.0.0.1:${port}`) };
}

afterEach(async () => {
  const running = server;
  server = undefined;
  if (!running) return;
  running.closeAllConnections();
  await new Promise<void>((resolve) => running.close(() => resolve()));
});

describe('httpFetch (node:http for the Qualys client)', () => {
  it('answers with the status, the headers by any case and the body, asking for gzip and unzipping it', async () => {
    const page = JSON.stringify({ content: [{ uuid: 'a' }], totalElements: 1 });
    const { seen, url } = await serve((_request, response) => {
      response.setHeader('Content-Encoding', 'gzip');
      response.setHeader('X-RateLimit-Remaining', '299');
      response.setHeader('Set-Cookie', ['a=1', 'b=2']);
      response.end(gzipSync(page));
    });
    const response = await httpFetch(url('/cdr/findings?pageSize=1'), {
      headers: { Authorization: 'Bearer t', Accept: 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('x-ratelimit-remaining')).toBe('299');
    expect(response.headers.get('X-RATELIMIT-REMAINING')).toBe('299');
    expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(response.headers.get('retry-after')).toBeNull();
    expect(Buffer.from(await response.arrayBuffer()).toString('utf8')).toBe(page);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.url).toBe('/cdr/findings?pageSize=1');
    expect(seen[0]?.headers['accept-encoding']).toBe('gzip, deflate, br');
    expect(seen[0]?.headers.authorization).toBe('Bearer t');
  });

  it('sends Accept-Encoding as the caller sets it, and passes an encoding it does not know through', async () => {
    const { seen, url } = await serve((_request, response) => {
      response.setHeader('Content-Encoding', 'zstd');
      response.end('as sent');
    });
    const response = await httpFetch(url('/download'), { headers: { 'Accept-Encoding': 'identity' } });
    expect(await response.text()).toBe('as sent');
    expect(seen[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('posts a form and hands a redirect back without following it', async () => {
    const { seen, url } = await serve((request, response) => {
      response.writeHead(request.url === '/auth' ? 302 : 200, { Location: 'https://elsewhere.example/auth' });
      response.end();
    });
    const response = await httpFetch(url('/auth'), {
      method: 'POST',
      body: new URLSearchParams({ username: 'u', password: 'p w', token: 'true' }),
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    expect(response.ok).toBe(false);
    expect(response.headers.get('location')).toBe('https://elsewhere.example/auth');
    await response.body?.cancel();
    expect(seen.map((request) => request.url)).toEqual(['/auth']);
    expect(seen[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(seen[0]?.body).toBe('username=u&password=p+w&token=true');
  });

  it('reuses one connection for requests one after the other', async () => {
    const { seen, url } = await serve((_request, response) => response.end('{}'));
    for (let call = 0; call < 3; call++) {
      const response = await httpFetch(url(`/page/${call}`), {});
      await response.arrayBuffer();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });

  it('closes a connection left idle, and the next request opens another', async () => {
    const { seen, url } = await serve((_request, response) => response.end('{}'));
    await (await httpFetch(url('/first'), {})).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 4_300));
    expect(seen[0]?.socket.destroyed).toBe(true);
    await (await httpFetch(url('/second'), {})).arrayBuffer();
    expect(seen[1]?.socket).not.toBe(seen[0]?.socket);
  }, 10_000);

  it('keeps reading a body that pauses longer than a connection may stay idle', async () => {
    const { url } = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Length': '6' });
      response.write('abc');
      setTimeout(() => response.end('def'), 4_500);
    });
    const response = await httpFetch(url('/pauses'), {});
    expect(await response.text()).toBe('abcdef');
  }, 10_000);

  it('rejects with the signal’s reason when the answer does not come in time', async () => {
    const { url } = await serve(() => undefined);
    await expect(httpFetch(url('/slow'), { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  });

  it('fails the body being read when the signal aborts it', async () => {
    const { url } = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Length': '1000' });
      response.write('x'.repeat(10));
    });
    const controller = new AbortController();
    const response = await httpFetch(url('/stalls'), { signal: controller.signal });
    const reading = response.arrayBuffer();
    controller.abort(new Error('run deadline'));
    await expect(reading).rejects.toThrow('run deadline');
  });

  it('fails the body when the connection closes before Content-Length bytes came', async () => {
    const { url } = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Length': '1000' });
      response.write('x'.repeat(10), () => response.socket?.destroy());
    });
    const response = await httpFetch(url('/cut'), {});
    await expect(response.arrayBuffer()).rejects.toThrow();
  });

  it('fails the body when gzip it was promised is not gzip', async () => {
    const { url } = await serve((_request, response) => {
      response.setHeader('Content-Encoding', 'gzip');
      response.end('not gzip at all');
    });
    const response = await httpFetch(url('/bad'), {});
    await expect(response.text()).rejects.toThrow();
  });

  it('refuses a protocol other than http and https', async () => {
    await expect(httpFetch(new URL('ftp://127.0.0.1/x'), {})).rejects.toThrow('unsupported protocol ftp:');
  });
});
