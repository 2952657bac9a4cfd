import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ID_BYTES, IdSet, idKey } from '../../../functions/core/id-set';

const uuid = (n: number) =>
  `${n.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

describe('IdSet', () => {
  it('holds what was added, once', () => {
    const set = new IdSet();
    expect(set.add('a')).toBe(true);
    expect(set.add(uuid(1))).toBe(true);
    expect(set.add('a')).toBe(false);
    expect(set.has('a')).toBe(true);
    expect(set.has(uuid(1))).toBe(true);
    expect(set.has(uuid(2))).toBe(false);
    expect(set.has('A')).toBe(false);
    expect(set.size).toBe(2);
  });

  it('grows past its first capacity without losing an id', () => {
    const set = new IdSet(4);
    for (let n = 0; n < 5000; n++) set.add(n % 2 ? uuid(n) : `id-${n}`);
    expect(set.size).toBe(5000);
    for (let n = 0; n < 5000; n++) expect(set.has(n % 2 ? uuid(n) : `id-${n}`)).toBe(true);
    expect(set.has(uuid(5001))).toBe(false);
  });

  it('keeps 16 bytes an id in its stored form, and reads it back', () => {
    const set = new IdSet();
    const ids = [uuid(7), uuid(8), 'not-a-uuid', 'ABCDEF00-0000-4000-8000-000000000000'];
    for (const id of ids) set.add(id);
    const bytes = set.toBytes();
    expect(bytes.byteLength).toBe(ids.length * ID_BYTES);
    const read = IdSet.fromBytes(bytes);
    expect(read.size).toBe(ids.length);
    for (const id of ids) expect(read.has(id)).toBe(true);
    expect(read.has(uuid(9))).toBe(false);
    expect(() => IdSet.fromBytes(new Uint8Array(17))).toThrow(/not a multiple of 16/);
  });

  it('keys a canonical UUID by its own bytes and anything else by SHA-256', () => {
    expect(idKey(uuid(255)).toString('hex')).toBe('000000ff0000400080000000000000ff');
    expect(idKey('x').byteLength).toBe(ID_BYTES);
    expect(idKey('x').equals(idKey('y'))).toBe(false);
  });
});

describe('IdSet memory', () => {
  // Past one 16,384-key chunk, so chunk boundaries and a short last chunk are crossed.
  const many = (from: number, count: number) => Array.from({ length: count }, (_, n) => uuid(from + n));

  it('holds a large set in under 30 bytes an id: 16 of key, 5–11 of table, some room in its last chunk', () => {
    const set = new IdSet();
    for (const id of many(0, 100_000)) set.add(id);
    // 100,000 keys: 1.6 MB in 256 KiB chunks, and a table of 2^18 four-byte slots (1 MiB).
    expect(set.byteLength).toBeLessThanOrEqual(100_000 * ID_BYTES + 256 * 1024 + 2 ** 18 * 4);
    // A table of 16-byte keys at most half full, as before, would take 44 bytes an id here.
    expect(set.byteLength / set.size).toBeLessThan(30);
  });

  it('fills its table to seven eighths before doubling it: 100,000 ids in 2^17 slots', () => {
    const set = new IdSet();
    for (const id of many(0, 100_000)) set.add(id);
    // At most three quarters full, 100,000 ids would take 2^18 slots (1 MiB, not 512 KiB).
    expect(set.byteLength).toBeLessThanOrEqual(100_000 * ID_BYTES + 256 * 1024 + 2 ** 17 * 4);
    for (const id of many(0, 100_000)) expect(set.has(id)).toBe(true);
    expect(many(100_000, 1000).some((id) => set.has(id))).toBe(false);
  });

  it('keeps stored bytes as its keys without copying or writing into them, and adds past them', () => {
    const original = new IdSet();
    for (const id of many(0, 40_000)) original.add(id);
    const stored = original.toBytes();
    const snapshot = Buffer.from(stored);

    const read = IdSet.fromBytes(stored);
    // Its parts are views of the stored buffer, in order: nothing was copied.
    const parts = read.parts();
    expect(parts.every((part) => part.buffer === stored.buffer)).toBe(true);
    expect(Buffer.concat(parts).equals(snapshot)).toBe(true);

    expect(many(40_000, 30_000).every((id) => read.add(id))).toBe(true);
    expect(read.add(uuid(39_999))).toBe(false);
    expect(stored.equals(snapshot)).toBe(true);
    expect(read.size).toBe(70_000);
    expect(many(0, 70_000).every((id) => read.has(id))).toBe(true);
    expect(read.has(uuid(70_000))).toBe(false);
    // The stored form is every key once, in the order added: the stored ones, then the new ones.
    const again = read.toBytes();
    expect(again.subarray(0, snapshot.byteLength).equals(snapshot)).toBe(true);
    expect(again.byteLength).toBe(70_000 * ID_BYTES);
  });

  it('reads stored bytes that repeat a key as the set they describe', () => {
    const stored = Buffer.concat([idKey(uuid(1)), idKey(uuid(2)), idKey(uuid(1))]);
    const read = IdSet.fromBytes(stored);
    expect(read.size).toBe(2);
    expect(read.toBytes().byteLength).toBe(2 * ID_BYTES);
    expect(read.has(uuid(1)) && read.has(uuid(2))).toBe(true);
  });

  it('parses only canonical lowercase UUIDs as their bytes', () => {
    for (const id of [
      '000000ff-0000-4000-8000-0000000000fg',
      '000000ff-0000-4000-8000-0000000000ff0',
      '000000ff00000-4000-8000-0000000000ff',
      '000000FF-0000-4000-8000-0000000000FF',
    ]) {
      expect(idKey(id).equals(createHash('sha256').update(id).digest().subarray(0, ID_BYTES))).toBe(true);
    }
  });
});
