/**
 * The Hive type strings of the Glue columns (`string`, `bigint`, `array<...>`, `map<...>`,
 * `struct<name:type,...>`), parsed once so the DuckDB translation and the schema-drift check read
 * the same type the Glue table declares.
 */

export type HiveType =
  | { kind: 'primitive'; name: HivePrimitive }
  | { kind: 'array'; element: HiveType }
  | { kind: 'map'; key: HiveType; value: HiveType }
  | { kind: 'struct'; fields: ReadonlyArray<{ name: string; type: HiveType }> };

export const HIVE_PRIMITIVES = ['string', 'bigint', 'int', 'double', 'boolean'] as const;
export type HivePrimitive = (typeof HIVE_PRIMITIVES)[number];

/** Parses a Hive type string; throws with the position of the first thing it does not understand. */
export function parseHiveType(text: string): HiveType {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`Hive type "${text}": ${what} at ${at}`);
  };
  const skip = () => {
    while (text[at] === ' ') at++;
  };
  const word = (): string => {
    skip();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (!match) return fail('expected a name');
    at += match[0].length;
    return match[0];
  };
  const expect = (char: string) => {
    skip();
    if (text[at] !== char) fail(`expected "${char}"`);
    at++;
  };
  const type = (): HiveType => {
    const name = word().toLowerCase();
    if (name === 'array') {
      expect('<');
      const element = type();
      expect('>');
      return { kind: 'array', element };
    }
    if (name === 'map') {
      expect('<');
      const key = type();
      expect(',');
      const value = type();
      expect('>');
      return { kind: 'map', key, value };
    }
    if (name === 'struct') {
      expect('<');
      const fields: Array<{ name: string; type: HiveType }> = [];
      for (;;) {
        const field = word();
        expect(':');
        fields.push({ name: field, type: type() });
        skip();
        if (text[at] === '>') break;
        expect(',');
      }
      expect('>');
      return { kind: 'struct', fields };
    }
    if (!(HIVE_PRIMITIVES as readonly string[]).includes(name)) fail(`unsupported type "${name}"`);
    return { kind: 'primitive', name: name as HivePrimitive };
  };
  const parsed = type();
  skip();
  if (at !== text.length) fail('unexpected text');
  return parsed;
}

/**
 * Why a JSON value does not match `type`, or undefined when it does. Stricter than the SerDe, so
 * that drift shows: null fits every type, a `string` column takes strings only (the SerDe would also
 * read a number as text, but then the declared type is wrong), except an `anyJson` column, which
 * takes any value as its JSON text. Struct keys the type does not declare are drift too (the SerDe
 * drops them silently).
 */
export function jsonValueMismatch(
  value: unknown,
  type: HiveType,
  anyJson = false,
  path = '',
): string | undefined {
  if (value === null || value === undefined) return undefined;
  const kind = Array.isArray(value) ? 'array' : typeof value;
  const where = path || 'value';
  switch (type.kind) {
    case 'primitive':
      switch (type.name) {
        case 'string':
          return kind === 'string' || anyJson ? undefined : `${where}: ${kind} in a string column`;
        case 'bigint':
        case 'int':
          return Number.isInteger(value) ? undefined : `${where}: ${JSON.stringify(value)} is not an integer`;
        case 'double':
          return kind === 'number' ? undefined : `${where}: ${kind} is not a number`;
        case 'boolean':
          return kind === 'boolean' ? undefined : `${where}: ${kind} is not a boolean`;
      }
      return undefined;
    case 'array':
      if (!Array.isArray(value)) return `${where}: ${kind} is not an array`;
      for (const [index, item] of value.entries()) {
        const problem = jsonValueMismatch(item, type.element, false, `${where}[${index}]`);
        if (problem) return problem;
      }
      return undefined;
    case 'map':
      if (kind !== 'object') return `${where}: ${kind} is not an object`;
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const problem = jsonValueMismatch(item, type.value, false, `${where}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    case 'struct': {
      if (kind !== 'object') return `${where}: ${kind} is not an object`;
      const fields = new Map(type.fields.map((field) => [field.name.toLowerCase(), field.type]));
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const fieldType = fields.get(key.toLowerCase());
        if (!fieldType) return `${where}.${key}: not declared in the struct`;
        const problem = jsonValueMismatch(item, fieldType, false, `${where}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    }
  }
}
