import type { ObjectStore, PutBody, PutOptions } from '../../functions/core/ports';

export interface StoredObject {
  body: Uint8Array;
  options: PutOptions;
}

/** An in-memory {@link ObjectStore}: what a collector writes, kept as the bytes S3 would hold. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  /** Keys in the order they were written (a key written twice appears twice). */
  readonly writes: string[] = [];
  /** Keys deleted, in order. */
  readonly deletes: string[] = [];
  private readonly failures: Array<{ match: (key: string) => boolean; error: Error }> = [];
  private readonly deleteFailures: Array<{ match: (key: string) => boolean; error: Error }> = [];

  /** The next put of a key `match` accepts throws `error`, once, as a failed S3 write would. */
  failOnce(match: (key: string) => boolean, error = new Error('simulated S3 write failure')): void {
    this.failures.push({ match, error });
  }

  async put(key: string, body: PutBody, options: PutOptions): Promise<void> {
    const failure = this.failures.findIndex(({ match }) => match(key));
    if (failure >= 0) throw this.failures.splice(failure, 1)[0]?.error;
    const bytes =
      typeof body === 'string'
        ? new TextEncoder().encode(body)
        : body instanceof Uint8Array
          ? new Uint8Array(body)
          : new Uint8Array(Buffer.concat(body));
    this.objects.set(key, { body: bytes, options });
    this.writes.push(key);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const stored = this.objects.get(key);
    return stored ? new Uint8Array(stored.body) : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async upload(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: PutOptions,
  ): Promise<{ bytes: number }> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    await this.put(key, bytes, options);
    return { bytes: bytes.byteLength };
  }

  async *list(prefix: string): AsyncIterable<string> {
    for (const key of [...this.objects.keys()].sort()) if (key.startsWith(prefix)) yield key;
  }

  /** The next delete that includes a key `match` accepts throws, once, deleting nothing. */
  failDeleteOnce(match: (key: string) => boolean, error = new Error('simulated S3 delete failure')): void {
    this.deleteFailures.push({ match, error });
  }

  async delete(keys: readonly string[]): Promise<void> {
    const failure = this.deleteFailures.findIndex(({ match }) => keys.some(match));
    if (failure >= 0) throw this.deleteFailures.splice(failure, 1)[0]?.error;
    for (const key of keys) this.objects.delete(key);
    this.deletes.push(...keys);
  }

  /** The object's body as text (undefined when missing); does not gunzip. */
  text(key: string): string | undefined {
    const stored = this.objects.get(key);
    return stored ? Buffer.from(stored.body).toString('utf8') : undefined;
  }
}
