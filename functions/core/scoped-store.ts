import type { ObjectStore, PutBody, PutOptions } from './ports';
import { scopeKey, unscopeKey } from './subscription';

/**
 * The store of one subscription: a collector reads, writes, lists and deletes its logical keys
 * (`state/cdr-findings/checkpoint.json`), and every one of them lands at its place in the bucket
 * (`state/cdr-findings/subscription=prod/checkpoint.json`, functions/core/subscription.ts); a
 * listing yields logical keys back. Two subscriptions in one bucket never see each other's objects.
 */
export class ScopedStore implements ObjectStore {
  constructor(
    private readonly store: ObjectStore,
    readonly subscription: string,
  ) {}

  /** The key in the bucket of a logical key (or prefix): what lineage fields and alerts show. */
  keyInBucket(key: string): string {
    return keyInBucket(this.store, scopeKey(key, this.subscription));
  }

  put(key: string, body: PutBody, options: PutOptions): Promise<void> {
    return this.store.put(scopeKey(key, this.subscription), body, options);
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.store.get(scopeKey(key, this.subscription));
  }

  exists(key: string): Promise<boolean> {
    return this.store.exists(scopeKey(key, this.subscription));
  }

  upload(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions): Promise<{ bytes: number }> {
    return this.store.upload(scopeKey(key, this.subscription), body, options);
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const key of this.store.list(scopeKey(prefix, this.subscription))) {
      yield unscopeKey(key, this.subscription);
    }
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.store.delete(keys.map((key) => scopeKey(key, this.subscription)));
  }
}

/**
 * Where `store` keeps `key` in the bucket: the subscription's place for a {@link ScopedStore} (or a
 * store that forwards to one), the key itself for any other store.
 */
export function keyInBucket(store: ObjectStore, key: string): string {
  return store.keyInBucket ? store.keyInBucket(key) : key;
}
