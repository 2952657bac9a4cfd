import { createHash } from 'node:crypto';

/** Bytes per stored id. */
export const ID_BYTES = 16;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EMPTY = 0;
const FULL = 1;

/**
 * The 16 bytes an id is kept as: a canonical (lowercase) UUID's own bytes, any other id the first
 * 16 bytes of its SHA-256. Finding another string with the same 16 bytes as a given id takes about
 * 2^128 tries, so a hostile upstream cannot make a new finding look seen.
 */
export function idKey(id: string): Buffer {
  if (CANONICAL_UUID.test(id)) return Buffer.from(id.replace(/-/g, ''), 'hex');
  return createHash('sha256').update(id).digest().subarray(0, ID_BYTES);
}

/**
 * A set of ids in 16 bytes each (an open-addressing hash table in one buffer), instead of a
 * `Set<string>` at about 80 bytes an id: a day of a million findings takes 32 MiB, not 80. Keys
 * are {@link idKey}s; {@link toBytes} and {@link fromBytes} are its stored form.
 */
export class IdSet {
  private keys: Buffer;
  private state: Uint8Array;
  private count = 0;

  constructor(capacity = 1024) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, capacity * 2)));
    this.keys = Buffer.alloc(slots * ID_BYTES);
    this.state = new Uint8Array(slots);
  }

  /** A set holding the keys in `bytes` (back to back, as {@link toBytes} writes them). */
  static fromBytes(bytes: Uint8Array): IdSet {
    if (bytes.byteLength % ID_BYTES !== 0) {
      throw new Error(`a stored id set is ${bytes.byteLength} bytes, not a multiple of ${ID_BYTES}`);
    }
    const set = new IdSet(bytes.byteLength / ID_BYTES);
    const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let offset = 0; offset < all.byteLength; offset += ID_BYTES) {
      set.addKey(all.subarray(offset, offset + ID_BYTES));
    }
    return set;
  }

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    return this.find(idKey(id)) >= 0;
  }

  /** Adds `id`; true when it was not there. */
  add(id: string): boolean {
    return this.addKey(idKey(id));
  }

  /** Every key back to back, in table order: the stored form, after `head` in the same buffer. */
  toBytes(head: Uint8Array = new Uint8Array()): Buffer {
    const bytes = Buffer.alloc(head.byteLength + this.count * ID_BYTES);
    bytes.set(head);
    let offset = head.byteLength;
    for (let slot = 0; slot < this.state.length; slot++) {
      if (this.state[slot] !== FULL) continue;
      this.keys.copy(bytes, offset, slot * ID_BYTES, (slot + 1) * ID_BYTES);
      offset += ID_BYTES;
    }
    return bytes;
  }

  private addKey(key: Buffer): boolean {
    if (this.find(key) >= 0) return false;
    if ((this.count + 1) * 2 > this.state.length) this.grow();
    const slot = this.freeSlot(key);
    key.copy(this.keys, slot * ID_BYTES);
    this.state[slot] = FULL;
    this.count++;
    return true;
  }

  /** The slot holding `key`, or -1. */
  private find(key: Buffer): number {
    const mask = this.state.length - 1;
    for (let slot = home(key) & mask, probes = 0; probes < this.state.length; probes++) {
      if (this.state[slot] === EMPTY) return -1;
      if (this.keys.compare(key, 0, ID_BYTES, slot * ID_BYTES, (slot + 1) * ID_BYTES) === 0) return slot;
      slot = (slot + 1) & mask;
    }
    return -1;
  }

  private freeSlot(key: Buffer): number {
    const mask = this.state.length - 1;
    let slot = home(key) & mask;
    while (this.state[slot] !== EMPTY) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, state } = this;
    this.keys = Buffer.alloc(keys.length * 2);
    this.state = new Uint8Array(state.length * 2);
    this.count = 0;
    for (let slot = 0; slot < state.length; slot++) {
      if (state[slot] === FULL) this.addKey(keys.subarray(slot * ID_BYTES, (slot + 1) * ID_BYTES));
    }
  }
}

/** Where a key's probe starts: its four 32-bit words mixed, so UUIDs with shared prefixes spread. */
function home(key: Buffer): number {
  let hash = 0x811c9dc5;
  for (let word = 0; word < ID_BYTES; word += 4) {
    hash = Math.imul(hash ^ key.readUInt32LE(word), 0x01000193);
    hash ^= hash >>> 15;
  }
  return hash >>> 0;
}
