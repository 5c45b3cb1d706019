/**
 * String.prototype.isWellFormed: false when `s` holds half a surrogate pair (Node 20; the project's
 * TypeScript lib predates it). Here, in a module that imports nothing, so any kernel module can use it
 * (RFC 8785 refuses strings holding a lone surrogate).
 */
export const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** A string in a value that is not well-formed Unicode: at `path`, the value there, or (`key`) one of the object's keys. */
export interface IllFormedText {
  /** Keys and indices down to the string; for a key, down to the key itself. */
  path: (string | number)[];
  /** The ill-formed string is an object key (the last segment of `path`), not a value. */
  key: boolean;
}

/**
 * The strings (values and object keys) of a JSON-like value that are not well-formed Unicode, in
 * document order (a key before what it holds), at most `limit` of them. Walks arrays and plain
 * objects only (a signal or a function holds no text), iteratively and each object once, so neither
 * a deep nor a cyclic value can overflow or hang it.
 */
export function illFormedText(value: unknown, limit = Infinity): IllFormedText[] {
  // Each entry links to its parent: a path is built only for what is found (copying it at every
  // level would make a deep value quadratic).
  interface Node { v: unknown; up?: Node; segment?: string | number }
  const pathOf = (node: Node): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let n: Node | undefined = node; n?.up; n = n.up) path.push(n.segment!);
    return path.reverse();
  };
  const found: IllFormedText[] = [];
  const stack: Node[] = [{ v: value }];
  const seen = new Set<object>();
  while (stack.length && found.length < limit) {
    const node = stack.pop()!;
    const { v, segment } = node;
    if (typeof segment === 'string' && !isWellFormed(segment)) {
      found.push({ path: pathOf(node), key: true });
      if (found.length >= limit) break;
    }
    if (typeof v === 'string') {
      if (!isWellFormed(v)) found.push({ path: pathOf(node), key: false });
      continue;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], up: node, segment: i });
    } else {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i]![1], up: node, segment: entries[i]![0] });
    }
  }
  return found;
}

/**
 * Canonical JSON (RFC 8785, JCS) of what `JSON.stringify` would write for a value: object keys
 * sorted by UTF-16 code units, no whitespace, strings and numbers as ECMAScript serialises them.
 * It reads the value the way JSON.stringify does — `toJSON`, boxed primitives, `undefined`,
 * functions and symbols dropped from objects and written as `null` in arrays, non-finite numbers
 * as `null` — so `canonicalJson(x)` equals the canonical form of `JSON.parse(JSON.stringify(x))`
 * in one pass, without building the intermediate text and tree (provenance hashing runs on every
 * append and every verification). Lone surrogates are refused, as RFC 8785 requires.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value, '', new Set());
  if (out === undefined) throw new TypeError('value is not serialisable as JSON');
  return out;
}

function write(input: unknown, key: string, seen: Set<object>): string | undefined {
  let value = input;
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new TypeError('Lone surrogates cannot be written as canonical JSON');
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('BigInt cannot be written as JSON');
    case 'object':
      break;
    default:
      return undefined; // undefined, function, symbol
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) throw new TypeError('Circular reference in a value written as JSON');
  seen.add(object);
  let text: string;
  if (Array.isArray(object)) {
    const parts: string[] = [];
    for (let i = 0; i < object.length; i++) parts.push(write(object[i], String(i), seen) ?? 'null');
    text = `[${parts.join(',')}]`;
  } else {
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(record).sort()) {
      const v = write(record[k], k, seen);
      if (v === undefined) continue;
      if (!isWellFormed(k)) throw new TypeError('Lone surrogates cannot be written as canonical JSON');
      parts.push(`${JSON.stringify(k)}:${v}`);
    }
    text = `{${parts.join(',')}}`;
  }
  seen.delete(object);
  return text;
}
