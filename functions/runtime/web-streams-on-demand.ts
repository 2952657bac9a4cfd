/**
 * What the bundles get for `node:stream/web` (lib/bundle.ts). @middy/core imports its
 * `ReadableStream` at the top of the file for one `instanceof` in its streamed-response mode, which
 * no function here uses, and importing `node:stream/web` makes Node load its web streams in every
 * cold start. This class answers that `instanceof` as Node's own would, looking Node's up (and so
 * loading it) only when asked. Nothing else in the bundles imports `node:stream/web`
 * (test/infra/lean-bundles.test.ts).
 */
export class ReadableStream {
  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof globalThis.ReadableStream;
  }
}
