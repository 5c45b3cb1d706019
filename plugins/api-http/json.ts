/**
 * The JSON body parser. Stricter than JSON.parse alone, and every refusal is a 400 problem naming
 * where the body is wrong:
 * - bytes that are not UTF-8 are refused (`body`), not replaced by U+FFFD and stored;
 * - a syntax error says so, with the parser's position (`body`);
 * - `__proto__` keys and `constructor` objects with a `prototype` key are refused, naming the key
 *   (`body.metadata.__proto__`): JSON allows them, but code that copies or merges the body could
 *   turn them into prototype pollution;
 * - a key repeated in one object is refused, naming it (`body.sessionId`): JSON.parse keeps the last
 *   value silently, while a proxy, WAF or log that reads the first would see another request;
 * - a string holding half a surrogate pair (`"\ud83d"` alone: valid JSON, not valid Unicode) is
 *   refused, naming it: PostgreSQL cannot store it, and other backends would store text no UTF-8
 *   reader can decode.
 *
 * The last two checks cost one linear scan of the text (a regular expression that steps over the
 * string tokens and counts those followed by `:`) and one walk of the parsed value counting its
 * keys; only when the counts differ, or a forbidden key name occurs in the text, does a slower exact
 * pass look for the offending key.
 */
import { illFormedText } from 'limit-graph';
import { ApiProblem, type FieldError } from './problem.ts';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** String tokens (JSON text outside strings holds no `"`), each marked when it is an object key. */
const STRING_TOKEN = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"(\s*:)?/g;

function refuse(field: FieldError, detail: string, fix: string): never {
  throw new ApiProblem(400, 'LIMIT_VALIDATION', detail, [field], {}, fix);
}

/** Reads a request body: undefined for an empty one, else the parsed value (or a 400 ApiProblem). */
export function parseJsonBody(raw: Buffer): unknown {
  let text: string;
  try {
    // A leading byte-order mark is dropped, as JSON parsers commonly do.
    text = UTF8.decode(raw);
  } catch {
    const at = firstInvalidUtf8(raw);
    refuse({ path: 'body', message: `not valid UTF-8 (byte offset ${at})` }, `Body is not valid UTF-8: invalid byte sequence at byte offset ${at}`, 'Send the body encoded as UTF-8.');
  }
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    refuse({ path: 'body', message: `JSON syntax error: ${why}` }, `Body is not valid JSON: ${why}`, 'Send well-formed JSON (check the quotes, commas and brackets).');
  }
  // Only an escape can produce a lone surrogate (the decoder refused encoded ones): look when one occurs.
  const illFormed = LONE_SURROGATE_ESCAPE.test(text) ? findIllFormedString(value, 'body') : undefined;
  if (illFormed) {
    refuse(
      { path: illFormed, message: 'a string holding half a surrogate pair (a lone \\uD800–\\uDFFF escape)' },
      `Invalid request: ${illFormed}: the string holds half a surrogate pair, which is not valid Unicode`,
      'Send whole characters: a \\uD800–\\uDBFF escape must be followed by a \\uDC00–\\uDFFF one.',
    );
  }
  if (typeof value !== 'object' || value === null) return value;
  const forbidden = (text.includes('__proto__') || text.includes('constructor')) ? findForbiddenKey(value) : undefined;
  if (forbidden) {
    refuse(
      { path: forbidden, message: 'keys __proto__ and constructor.prototype are not allowed' },
      `Invalid request: ${forbidden}: keys __proto__ and constructor.prototype are not allowed in a JSON body`,
      'Rename or remove the key: bodies may not hold __proto__ keys or constructor objects with a prototype key.',
    );
  }
  if (countTextKeys(text) !== countValueKeys(value)) {
    const repeated = findRepeatedKey(text);
    if (repeated) {
      refuse(
        { path: repeated, message: 'this key appears more than once in its object' },
        `Invalid request: ${repeated}: the key appears more than once in its object`,
        'Send each key once per object.',
      );
    }
  }
  return value;
}

/** Byte offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > b.length) return i;
    // The second byte's range is narrower after E0, ED, F0 and F4 (no overlongs, surrogates or > U+10FFFF).
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1]! < lo || b[i + 1]! > hi) return i;
    for (let k = 2; k < len; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return i;
    i += len;
  }
  return b.length;
}

function countTextKeys(text: string): number {
  let keys = 0;
  STRING_TOKEN.lastIndex = 0;
  for (let m = STRING_TOKEN.exec(text); m !== null; m = STRING_TOKEN.exec(text)) if (m[1] !== undefined) keys++;
  return keys;
}

function countValueKeys(value: object): number {
  let keys = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object' && v[i] !== null) stack.push(v[i]);
    } else {
      for (const k in v) {
        keys++;
        const child = (v as Record<string, unknown>)[k];
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    }
  }
  return keys;
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** The path of the first string (value or key) that is not well-formed UTF-16. */
function findIllFormedString(value: unknown, root: string): string | undefined {
  const [bad] = illFormedText(value, 1);
  return bad && [root, ...bad.path].join('.');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The path of the first `__proto__` key, or of a `constructor` object's `prototype` key. Iterative. */
function findForbiddenKey(value: object): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: 'body' }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}.${i}` });
    } else if (isPlainObject(v)) {
      if (Object.hasOwn(v, '__proto__')) return `${path}.__proto__`;
      if (isPlainObject(v.constructor) && Object.hasOwn(v, 'constructor') && Object.hasOwn(v.constructor, 'prototype')) return `${path}.constructor.prototype`;
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ v: v[keys[i]!], path: `${path}.${keys[i]}` });
    }
  }
  return undefined;
}

/**
 * The path of the first key repeated within one object, found by scanning the (already valid) JSON
 * text with an explicit stack, so deep bodies cannot overflow it. Keys are compared decoded
 * (`"a"` and `"\u0061"` are the same key).
 */
function findRepeatedKey(text: string): string | undefined {
  interface Frame { keys?: Set<string>; path: string; index: number; key?: string }
  const stack: Frame[] = [];
  const childPath = (f: Frame | undefined) => (f === undefined ? 'body' : f.keys ? `${f.path}.${f.key}` : `${f.path}.${f.index}`);
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      STRING_TOKEN.lastIndex = i;
      const m = STRING_TOKEN.exec(text)!;
      const top = stack[stack.length - 1];
      if (m[1] !== undefined && top?.keys) {
        const key = JSON.parse(m[0].slice(0, m[0].length - m[1].length)) as string;
        if (top.keys.has(key)) return `${top.path}.${key}`;
        top.keys.add(key);
        top.key = key;
      }
      i = m.index + m[0].length;
      continue;
    }
    if (c === '{' || c === '[') {
      const parent = stack[stack.length - 1];
      stack.push({ path: childPath(parent), index: 0, ...(c === '{' ? { keys: new Set<string>() } : {}) });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && !top.keys) top.index++;
    }
    i++;
  }
  return undefined;
}
