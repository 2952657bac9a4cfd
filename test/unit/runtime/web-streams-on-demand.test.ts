import { Readable } from 'node:stream';
import { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { describe, expect, it } from 'vitest';
import { ReadableStream } from '../../../functions/runtime/web-streams-on-demand';

describe('the ReadableStream the bundles give @middy/core', () => {
  it('answers instanceof as Node’s own does', () => {
    expect(new NodeReadableStream() instanceof ReadableStream).toBe(true);
    expect(Readable.toWeb(Readable.from(['a'])) instanceof ReadableStream).toBe(true);
    for (const other of [Readable.from(['a']), 'body', {}, null, undefined])
      expect(other instanceof ReadableStream).toBe(false);
  });
});
