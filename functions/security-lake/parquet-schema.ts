import type { SchemaElement } from 'hyparquet-writer';

/**
 * The Parquet type of one OCSF attribute. Security Lake's Glue crawler infers each table from the
 * files, so every file of a class must type every column the same way: the schema is written out
 * here, never guessed from a batch's values (a batch where an attribute is always missing would
 * otherwise drop or retype the column).
 *
 * - `string`: OCSF string_t and its kinds (ip_t, uuid_t, ...): BYTE_ARRAY UTF8.
 * - `int32`: OCSF integer_t and port_t (ids, enums, offsets): INT32.
 * - `int64`: OCSF long_t and timestamp_t (epoch milliseconds, as OCSF defines it): INT64 with no
 *   timestamp annotation, so Athena reads `bigint`, as `time` is in Security Lake's own tables.
 * - `double`: OCSF float_t: DOUBLE.
 * - a list: OCSF arrays, as the standard three-level LIST.
 * - a map of strings: `unmapped`, MAP<STRING, STRING>.
 * - a struct: OCSF objects, a group of its attributes.
 */
export type Field =
  | 'string'
  | 'int32'
  | 'int64'
  | 'double'
  | { readonly list: Field }
  | { readonly map: 'string' }
  | { readonly struct: Fields };
export type Fields = Readonly<Record<string, Field>>;

/**
 * The schema of an event interface, checked by the compiler: every attribute of `T` has a field
 * (no more, no fewer) of a kind its TypeScript type allows, so the Parquet schema cannot drift
 * from the OCSF mapping's interfaces (functions/ocsf).
 */
export type StructOf<T> = { readonly [K in keyof T]-?: FieldOf<NonNullable<T[K]>> };
type FieldOf<V> = V extends string
  ? 'string'
  : V extends number
    ? 'int32' | 'int64' | 'double'
    : V extends readonly (infer E)[]
      ? { readonly list: FieldOf<E> }
      : string extends keyof V
        ? { readonly map: 'string' }
        : { readonly struct: StructOf<V> };

const PRIMITIVE: Record<'string' | 'int32' | 'int64' | 'double', Omit<SchemaElement, 'name'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  double: { type: 'DOUBLE' },
};

/** The flattened Parquet schema (root first, depth-first) of top-level `fields`; every field is OPTIONAL. */
export function schemaElements(fields: Fields): SchemaElement[] {
  const entries = Object.entries(fields);
  return [
    { name: 'root', num_children: entries.length },
    ...entries.flatMap(([name, field]) => element(name, field)),
  ];
}

function element(
  name: string,
  field: Field,
  repetition: 'OPTIONAL' | 'REQUIRED' = 'OPTIONAL',
): SchemaElement[] {
  if (typeof field === 'string') return [{ name, repetition_type: repetition, ...PRIMITIVE[field] }];
  if ('list' in field) {
    return [
      { name, repetition_type: repetition, converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      ...element('element', field.list),
    ];
  }
  if ('map' in field) {
    return [
      { name, repetition_type: repetition, converted_type: 'MAP', num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      ...element('key', field.map, 'REQUIRED'),
      ...element('value', field.map),
    ];
  }
  const children = Object.entries(field.struct);
  return [
    { name, repetition_type: repetition, num_children: children.length },
    ...children.flatMap(([child, inner]) => element(child, inner)),
  ];
}

/**
 * A value as the Parquet writer takes it for `field`: INT64 as bigint, lists and structs
 * converted inside, attributes the schema does not name dropped (so a stray attribute fails no
 * write and adds no column), missing ones undefined (null). Throws naming the path of a value that
 * does not fit its field, rather than writing a file the crawler would type differently.
 */
export function toParquetValue(field: Field, value: unknown, path: string): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof field === 'string') return primitive(field, value, path);
  if ('list' in field) {
    if (!Array.isArray(value)) throw new TypeError(`${path} must be a list, got ${JSON.stringify(value)}`);
    return value.map((item, index) => toParquetValue(field.list, item, `${path}[${index}]`));
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${path} must be an object, got ${JSON.stringify(value)}`);
  }
  const record = value as Record<string, unknown>;
  if ('map' in field) {
    return Object.entries(record).map(([key, inner]) => ({
      key,
      value: toParquetValue(field.map, inner, `${path}.${key}`),
    }));
  }
  return toParquetStruct(field.struct, record, path);
}

/** A struct (or a whole row, with `path` the class) as {@link toParquetValue} converts it. */
export function toParquetStruct(fields: Fields, record: Record<string, unknown>, path: string) {
  const converted: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(fields)) {
    converted[name] = toParquetValue(inner, record[name], `${path}.${name}`);
  }
  return converted;
}

function primitive(field: 'string' | 'int32' | 'int64' | 'double', value: unknown, path: string) {
  if (field === 'string') {
    if (typeof value !== 'string')
      throw new TypeError(`${path} must be a string, got ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${path} must be a number, got ${JSON.stringify(value)}`);
  }
  if (field === 'double') return value;
  if (!Number.isSafeInteger(value)) throw new TypeError(`${path} must be an integer, got ${value}`);
  if (field === 'int64') return BigInt(value);
  if (value < -(2 ** 31) || value >= 2 ** 31) throw new TypeError(`${path} does not fit INT32: ${value}`);
  return value;
}
