import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * The HTTP the Qualys client speaks: the part of `fetch` it uses, on `node:http(s)`. `fetch` in
 * Node loads undici and web streams on its first call, some 30–40 ms of CPU in every cold start
 * (README "Benchmarks"), for one GET or POST at a time to one host; the S3 client already loads
 * `node:https`. A real `fetch` still fits this type, which is how the tests inject fakes.
 *
 * A redirect is never followed here (the caller refuses it: ./gateway.ts); a body is decoded as
 * `fetch` decodes it (gzip, deflate, br; other codings are passed through); the connections to the
 * gateway are kept alive and reused.
 */
export interface HttpRequestInit {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  signal?: AbortSignal;
  /** What `fetch` needs to be told; `httpFetch` never follows a redirect. */
  redirect?: 'manual';
}

/** A response's headers, looked up by name in any case (arrays joined with `, `, as fetch does). */
export interface HttpHeaders {
  get(name: string): string | null;
}

export interface HttpBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

export interface HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly url: string;
  readonly headers: HttpHeaders;
  readonly body: HttpBody | null;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}

export type HttpFetch = (url: URL, init: HttpRequestInit) => Promise<HttpResponse>;

/**
 * A connection left idle this long is closed (sooner when the gateway's Keep-Alive header says so),
 * as undici's fetch does: one the gateway has closed meanwhile would fail the next call on it.
 */
const IDLE_MS = 4_000;
const AGENTS = {
  'http:': new HttpAgent({ keepAlive: true, timeout: IDLE_MS }),
  'https:': new HttpsAgent({ keepAlive: true, timeout: IDLE_MS }),
};

/** What `fetch` in Node asks for when the caller does not say. */
const ACCEPT_ENCODING = 'gzip, deflate, br';

function decoderOf(coding: string | undefined) {
  switch (coding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

class NodeResponse implements HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: HttpHeaders;
  readonly body: HttpBody;
  private readonly stream: Readable;

  constructor(
    readonly url: string,
    message: IncomingMessage,
  ) {
    this.status = message.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status <= 299;
    const raw = message.headers;
    this.headers = {
      get: (name) => {
        const value = raw[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
    const decoder = decoderOf(this.headers.get('content-encoding') ?? undefined);
    // pipeline destroys the decoder with the message's error (a cut connection, an abort).
    const stream = decoder ? pipeline(message, decoder, () => undefined) : message;
    this.stream = stream;
    this.body = {
      [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
      cancel: async () => {
        message.destroy();
        stream.destroy();
      },
    };
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.stream) chunks.push(chunk as Buffer);
    const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    return whole.byteOffset === 0 && whole.byteLength === whole.buffer.byteLength
      ? (whole.buffer as ArrayBuffer)
      : (whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength) as ArrayBuffer);
  }

  async text(): Promise<string> {
    return Buffer.from(await this.arrayBuffer()).toString('utf8');
  }
}

/** One request on `node:http(s)`, answered once its headers arrive; see {@link HttpRequestInit}. */
export const httpFetch: HttpFetch = (url, init) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const protocol = url.protocol as keyof typeof AGENTS;
    const agent = AGENTS[protocol];
    if (!agent) {
      reject(new TypeError(`unsupported protocol ${url.protocol}`));
      return;
    }
    const { signal } = init;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const body = init.body === undefined ? undefined : Buffer.from(String(init.body));
    const headers: Record<string, string> = { 'accept-encoding': ACCEPT_ENCODING };
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
    if (body) {
      headers['content-length'] = String(body.byteLength);
      if (init.body instanceof URLSearchParams)
        headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    }
    const send = protocol === 'https:' ? httpsRequest : httpRequest;
    let message: IncomingMessage | undefined;
    // An abort ends the request, or the body being read, with the signal's reason, as in fetch. Not
    // once the body is complete: its connection may already serve another request.
    const abort = () => {
      if (message?.complete) return;
      request.destroy(signal?.reason);
      message?.destroy(signal?.reason);
    };
    const request = send(url, { method: init.method ?? 'GET', headers, agent }, (answer) => {
      message = answer;
      // Whoever reads the body sees its error; unread, it must not become an uncaught one.
      answer.on('error', () => undefined);
      resolve(new NodeResponse(url.href, answer));
    });
    signal?.addEventListener('abort', abort, { once: true });
    request.once('close', () => signal?.removeEventListener('abort', abort));
    request.once('error', reject);
    request.end(body);
  });
