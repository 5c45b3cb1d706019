/**
 * NUL (U+0000) in stored records. JSONB cannot hold it (its text type ends at a NUL byte), while
 * every other backend stores it and runners' outputs do hold it (a Python task printing "\x00",
 * bytes a tool wrote). So this backend stores the JSON text with one reversible substitution, using
 * U+E000 (the first private-use code point) as an escape character inside strings:
 *
 *   U+0000 (written by JSON.stringify as the escape \u0000)  →  U+E000 "0"
 *   U+E000                                                   →  U+E000 U+E000
 *
 * Only string contents change (JSON's structure is ASCII), the substitution is the identity on text
 * holding neither character (the common case costs two `includes`), and reading it back restores
 * the exact string — so hashes computed over a record before it was stored still verify.
 * Migration 3 doubled the U+E000 already stored by earlier versions, which wrote it as it was.
 */

const ESC = '\uE000';

/** The JSON text of a record as this backend stores it (see above). */
export function toStoredJson(json: string): string {
  if (!json.includes('\\u0000') && !json.includes(ESC)) return json;
  // Left to right, so an escaped backslash (\\) is passed over whole and never read as the start of \u0000.
  return json.replace(/\\\\|\\u0000|\uE000/g, (m) => (m === '\\\\' ? m : m === ESC ? ESC + ESC : `${ESC}0`));
}

/** Parses JSON text read from a jsonb or json column, undoing toStoredJson. */
export function parseStoredJson(text: string): unknown {
  if (!text.includes(ESC)) return JSON.parse(text);
  // U+E000 occurs only inside strings, always followed by "0" or by itself.
  return JSON.parse(text.replace(/\uE000([\uE0000])/g, (_, next: string) => (next === '0' ? '\\u0000' : ESC)));
}
