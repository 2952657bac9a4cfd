/**
 * A small subset of Qualys QQL: `field: value` terms joined by `and` / `or` (and binds tighter),
 * parentheses, values bare or quoted, `*` as a wildcard inside values. Matching is case-insensitive.
 */

export type QqlNode =
  | { kind: 'term'; field: string; value: string }
  | { kind: 'and' | 'or'; left: QqlNode; right: QqlNode };

export class QqlError extends Error {}

type Token = { type: 'word' | 'string' | 'colon' | 'lparen' | 'rparen'; text: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === ':') {
      tokens.push({ type: 'colon', text: c });
      i++;
    } else if (c === '(') {
      tokens.push({ type: 'lparen', text: c });
      i++;
    } else if (c === ')') {
      tokens.push({ type: 'rparen', text: c });
      i++;
    } else if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end < 0) throw new QqlError(`unterminated quoted value at position ${i}`);
      tokens.push({ type: 'string', text: input.slice(i + 1, end) });
      i = end + 1;
    } else {
      let j = i;
      while (j < input.length && !/[\s:()"']/.test(input[j] as string)) j++;
      tokens.push({ type: 'word', text: input.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

export function parseQql(input: string): QqlNode {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isKeyword = (t: Token | undefined, kw: string): boolean =>
    t?.type === 'word' && t.text.toLowerCase() === kw;

  const parseOr = (): QqlNode => {
    let left = parseAnd();
    while (isKeyword(peek(), 'or')) {
      pos++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): QqlNode => {
    let left = parsePrimary();
    while (isKeyword(peek(), 'and')) {
      pos++;
      left = { kind: 'and', left, right: parsePrimary() };
    }
    return left;
  };
  const parsePrimary = (): QqlNode => {
    const t = peek();
    if (!t) throw new QqlError('unexpected end of query');
    if (t.type === 'lparen') {
      pos++;
      const inner = parseOr();
      if (peek()?.type !== 'rparen') throw new QqlError('missing closing parenthesis');
      pos++;
      return inner;
    }
    if (t.type !== 'word') throw new QqlError(`expected a field name, got '${t.text}'`);
    pos++;
    if (peek()?.type !== 'colon') throw new QqlError(`expected ':' after '${t.text}'`);
    pos++;
    const v = peek();
    if (!v || (v.type !== 'word' && v.type !== 'string')) throw new QqlError(`missing value for '${t.text}'`);
    pos++;
    return { kind: 'term', field: t.text, value: v.text };
  };

  if (tokens.length === 0) throw new QqlError('empty query');
  const node = parseOr();
  const rest = peek();
  if (rest) throw new QqlError(`unexpected '${rest.text}'`);
  return node;
}

/** Case-insensitive equality, with `*` matching any run of characters. */
export function valueMatches(pattern: string, actual: unknown): boolean {
  if (actual === null || actual === undefined) return false;
  const a = String(actual).toLowerCase();
  const p = pattern.toLowerCase();
  if (!p.includes('*')) return a === p;
  const re = new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(a);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Resolves a term against one record; throw QqlError for an unsupported field. */
export type TermMatcher<T> = (field: string, value: string, record: T) => boolean;

export function evaluateQql<T>(node: QqlNode, record: T, match: TermMatcher<T>): boolean {
  switch (node.kind) {
    case 'term':
      return match(node.field, node.value, record);
    case 'and':
      return evaluateQql(node.left, record, match) && evaluateQql(node.right, record, match);
    case 'or':
      return evaluateQql(node.left, record, match) || evaluateQql(node.right, record, match);
  }
}

/** Field names used in a query (to validate them before filtering). */
export function qqlFields(node: QqlNode): string[] {
  return node.kind === 'term' ? [node.field] : [...qqlFields(node.left), ...qqlFields(node.right)];
}
