import { createHash } from 'node:crypto';

/** Bytes per stored id. */
export const ID_BYTES = 16;
/** The value of each lowercase hex digit by its char code; -1 for anything else. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) HEX_DIGIT[digit.toString(16).charCodeAt(0)] = digit;
const HYPHEN = 45;

/** Keys are stored in chunks of this many (256 KiB), so storage grows without copying what it holds. */
const CHUNK_BITS = 14;
const CHUNK_IDS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_IDS - 1;
/** A slot holds a key's position + 1 in its low bits (0: empty) and 6 bits of its hash above. */
const POSITION_BITS = 26;
const POSITION_MASK = (1 << POSITION_BITS) - 1;
/** A set holds fewer ids than this (2^25: 512 MiB of keys, far past a day in one Lambda). */
const MAX_IDS = 1 << (POSITION_BITS - 1);
/**
 * The slot table is grown (doubled) past this load. Seven eighths, not three quarters: a day of
 * 900,000 ids fits 2^20 slots (4 MiB, not 8); probes stay short, as most slots' 6-bit tags differ
 * from the key's and the probe moves on without reading a key.
 */
const MAX_LOAD = 0.875;

/**
 * The 16 bytes an id is kept as: a canonical (lowercase) UUID's own bytes, any other id the first
 * 16 bytes of its SHA-256. Finding another string with the same 16 bytes as a given id takes about
 * 2^128 tries, so a hostile upstream cannot make a new finding look seen.
 */
export function idKey(id: string): Buffer {
  return keyInto(id, Buffer.alloc(ID_BYTES));
}

function keyInto(id: string, key: Buffer): Buffer {
  if (!uuidInto(id, key)) createHash('sha256').update(id).digest().copy(key, 0, 0, ID_BYTES);
  return key;
}

/**
 * Writes a canonical UUID's 16 bytes into `key`; false (and `key` part-written) when `id` is not
 * one: 8-4-4-4-12 lowercase hex digits. Hand-parsed: five times faster than `Buffer.from(hex)`.
 */
function uuidInto(id: string, key: Buffer): boolean {
  if (id.length !== 36) return false;
  let byte = 0;
  for (let char = 0; char < 36; ) {
    if (char === 8 || char === 13 || char === 18 || char === 23) {
      if (id.charCodeAt(char) !== HYPHEN) return false;
      char++;
      continue;
    }
    const high = HEX_DIGIT[id.charCodeAt(char)] ?? -1;
    const low = HEX_DIGIT[id.charCodeAt(char + 1)] ?? -1;
    if ((high | low) < 0) return false;
    key[byte++] = (high << 4) | low;
    char += 2;
  }
  return true;
}

/**
 * A set of ids in about 21–25 bytes each, instead of a `Set<string>` at about 80: a day of 900,000
 * findings takes 14 MiB of keys and 4 MiB of table. Keys ({@link idKey}s) are kept back to back in
 * the order they were added, in fixed-size chunks that are never moved, so the stored form
 * ({@link toBytes}) is those chunks as they are and {@link fromBytes} keeps the bytes it is given as
 * its chunks, without copying them. Lookups go through an open-addressing table of 4-byte slots (the
 * key's position and a few bits of its hash); growing it copies 4 bytes an id, never the keys.
 */
export class IdSet {
  /** Keys back to back; every chunk but the last holds {@link CHUNK_IDS}. */
  private readonly chunks: Buffer[] = [];
  /** How many keys the last chunk has room for (its keys when it is borrowed: it is never written). */
  private lastCapacity = 0;
  private slots: Uint32Array;
  private count = 0;
  /** Where a key is parsed before it is looked up or copied into a chunk. */
  private readonly scratch = Buffer.alloc(ID_BYTES);

  constructor(capacity = 64) {
    this.slots = new Uint32Array(slotsFor(capacity));
  }

  /** A set holding the keys in `bytes` (back to back, as {@link toBytes} writes them), kept in place. */
  static fromBytes(bytes: Uint8Array): IdSet {
    if (bytes.byteLength % ID_BYTES !== 0) {
      throw new Error(`a stored id set is ${bytes.byteLength} bytes, not a multiple of ${ID_BYTES}`);
    }
    const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ids = all.byteLength / ID_BYTES;
    const set = new IdSet(ids);
    for (let start = 0; start < ids; start += CHUNK_IDS) {
      const end = Math.min(ids, start + CHUNK_IDS);
      set.chunks.push(all.subarray(start * ID_BYTES, end * ID_BYTES));
      set.lastCapacity = end - start;
    }
    for (let position = 0; position < ids; position++) {
      if (!set.index(position)) return IdSet.copyOf(all);
    }
    return set;
  }

  /** A set of the keys in `all`, copied one by one: for stored bytes that repeat a key. */
  private static copyOf(all: Buffer): IdSet {
    const set = new IdSet(all.byteLength / ID_BYTES);
    for (let offset = 0; offset < all.byteLength; offset += ID_BYTES) {
      all.copy(set.scratch, 0, offset, offset + ID_BYTES);
      set.addScratch();
    }
    return set;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes the set holds: its key chunks (borrowed ones included) and its table. */
  get byteLength(): number {
    return this.chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0) + this.slots.byteLength;
  }

  has(id: string): boolean {
    keyInto(id, this.scratch);
    return this.find(this.scratch, 0, hashOf(this.scratch, 0)) >= 0;
  }

  /** Adds `id`; true when it was not there. */
  add(id: string): boolean {
    keyInto(id, this.scratch);
    return this.addScratch();
  }

  /**
   * The stored form: every key back to back, in the order they were added, as views of the set's
   * own chunks (nothing copied). Later adds only write past these views, so they stay as they are.
   */
  parts(): Buffer[] {
    const used = this.count - (this.chunks.length - 1) * CHUNK_IDS;
    return this.chunks.map((chunk, index) =>
      index === this.chunks.length - 1 ? chunk.subarray(0, used * ID_BYTES) : chunk,
    );
  }

  /** The stored form ({@link parts}) in one new buffer, after `head`. */
  toBytes(head: Uint8Array = new Uint8Array()): Buffer {
    return Buffer.concat([head, ...(this.count > 0 ? this.parts() : [])]);
  }

  private addScratch(): boolean {
    const hash = hashOf(this.scratch, 0);
    if (this.find(this.scratch, 0, hash) >= 0) return false;
    if (this.count >= MAX_IDS) throw new Error(`an id set holds at most ${MAX_IDS} ids`);
    if (this.count + 1 > this.slots.length * MAX_LOAD) this.grow();
    const position = this.count;
    this.scratch.copy(this.room(), (position & CHUNK_MASK) * ID_BYTES);
    this.count++;
    this.place(position, hash);
    return true;
  }

  /** The chunk the next key goes into, made or enlarged when the last one is full. */
  private room(): Buffer {
    const inLast = this.count - (this.chunks.length - 1) * CHUNK_IDS;
    const last = this.chunks[this.chunks.length - 1];
    if (last && inLast < this.lastCapacity) return last;
    if (last && inLast < CHUNK_IDS) {
      // A short last chunk (a small set, or one borrowed from stored bytes): a larger copy of it.
      this.lastCapacity = Math.min(CHUNK_IDS, Math.max(16, this.lastCapacity * 2));
      const larger = Buffer.alloc(this.lastCapacity * ID_BYTES);
      last.copy(larger, 0, 0, inLast * ID_BYTES);
      this.chunks[this.chunks.length - 1] = larger;
      return larger;
    }
    // The first chunk starts small (most sets are); later ones are full size.
    this.lastCapacity = last ? CHUNK_IDS : Math.min(CHUNK_IDS, Math.max(16, this.slots.length >>> 1));
    const chunk = Buffer.alloc(this.lastCapacity * ID_BYTES);
    this.chunks.push(chunk);
    return chunk;
  }

  /** Indexes the key stored at `position`; false when an earlier position holds the same key. */
  private index(position: number): boolean {
    const chunk = this.chunks[position >>> CHUNK_BITS] as Buffer;
    const offset = (position & CHUNK_MASK) * ID_BYTES;
    const hash = hashOf(chunk, offset);
    if (this.find(chunk, offset, hash) >= 0) return false;
    this.count++;
    this.place(position, hash);
    return true;
  }

  /** The position of the key at `key[offset..]`, or -1. */
  private find(key: Buffer, offset: number, hash: number): number {
    const { slots } = this;
    const mask = slots.length - 1;
    const tag = tagOf(hash);
    // The table is never full (MAX_LOAD): an empty slot ends every probe sequence.
    for (let slot = hash & mask, probes = 0; probes < slots.length; slot = (slot + 1) & mask, probes++) {
      const entry = slots[slot] as number;
      if (entry === 0) return -1;
      if ((entry & ~POSITION_MASK) >>> 0 !== tag) continue;
      const position = (entry & POSITION_MASK) - 1;
      const chunk = this.chunks[position >>> CHUNK_BITS] as Buffer;
      const at = (position & CHUNK_MASK) * ID_BYTES;
      if (sameKey(key, offset, chunk, at)) return position;
    }
    return -1;
  }

  private place(position: number, hash: number): void {
    const { slots } = this;
    const mask = slots.length - 1;
    let slot = hash & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = (tagOf(hash) | (position + 1)) >>> 0;
  }

  private grow(): void {
    this.slots = new Uint32Array(this.slots.length * 2);
    for (let position = 0; position < this.count; position++) {
      const chunk = this.chunks[position >>> CHUNK_BITS] as Buffer;
      this.place(position, hashOf(chunk, (position & CHUNK_MASK) * ID_BYTES));
    }
  }
}

/** Whether the 16 bytes at `a[aAt..]` and `b[bAt..]` are equal (word by word: no native call). */
function sameKey(a: Buffer, aAt: number, b: Buffer, bAt: number): boolean {
  for (let word = 0; word < ID_BYTES; word += 4) {
    if (a.readInt32LE(aAt + word) !== b.readInt32LE(bAt + word)) return false;
  }
  return true;
}

/** A table with room for `ids` below {@link MAX_LOAD}: a power of two, at least 16. */
function slotsFor(ids: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(16, Math.ceil(ids / MAX_LOAD) + 1)));
}

/** The hash bits a slot keeps beside the position. */
const tagOf = (hash: number) => (hash & ~POSITION_MASK) >>> 0;

/**
 * A key's hash: its four 32-bit words mixed, so UUIDs with shared prefixes spread. The low bits
 * pick the slot, the high bits are the slot's tag.
 */
function hashOf(key: Buffer, offset: number): number {
  let hash = 0x811c9dc5;
  for (let word = offset; word < offset + ID_BYTES; word += 4) {
    hash = Math.imul(hash ^ key.readUInt32LE(word), 0x01000193);
    hash ^= hash >>> 15;
  }
  return hash >>> 0;
}
