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
