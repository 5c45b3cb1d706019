/**
 * Text views: the one place where hostile text is normalised and decoded, so that every rule pack
 * sees the same readings (packs cannot import each other, so a shared normaliser must live here).
 * Everything is linear-time: single-pass replaces, bounded regexes without nested quantifiers.
 */
import type { TextView, ViewToken } from 'limit-graph';

const ZERO_WIDTH = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;
const HAS_ZERO_WIDTH = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/;

/** Cyrillic and Greek letters that render like Latin ones (the usual homoglyph substitutions). */
const HOMOGLYPHS: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ɡ: 'g', һ: 'h', ӏ: 'l', ԛ: 'q', ԝ: 'w',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', І: 'I', Ј: 'J', Ѕ: 'S',
  α: 'a', ο: 'o', ρ: 'p', ε: 'e', ι: 'i', κ: 'k', ν: 'v', τ: 't', υ: 'u', χ: 'x',
  Α: 'A', Β: 'B', Ε: 'E', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X', Ζ: 'Z',
};
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join('')}]`, 'g');
const HAS_HOMOGLYPH = new RegExp(`[${Object.keys(HOMOGLYPHS).join('')}]`);
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };
/** A word mixing letters with leet digits/symbols ("1gn0r3", "p@ssw0rd"). */
const LEET_WORD = /[a-z0-9@$]{3,64}/gi;
/** A leet character between two letters: "h4ck", "p@ss" — but not "mp3", "sha256", "ipv4". */
const LEET_INTERIOR = /[a-z][0-9@$]+[a-z]/i;
/** Single letters separated by one separator ("i g n o r e", "k.i.l.l"). */
const SPACED = /\b(?:[a-z][ .\-_*]){3,40}[a-z]\b/gi;
const WORD = /[\p{L}\p{N}']+/gu;
const LEET_ANY = /[a-z][0-9@$]+[a-z]/i;
const NON_ASCII = /[^\x00-\x7F]/;

export function tokenize(lower: string): ViewToken[] {
  if (!NON_ASCII.test(lower)) return tokenizeAscii(lower);
  const tokens: ViewToken[] = [];
  const re = WORD;
  re.lastIndex = 0;
  for (let m = re.exec(lower); m !== null; m = re.exec(lower)) {
    // Possessives match their noun: "someone's face" is about "someone".
    const w = m[0].endsWith("'s") ? m[0].slice(0, -2) : m[0];
    tokens.push({ w, start: m.index, end: m.index + m[0].length });
  }
  return tokens;
}

/** A char loop instead of a regex: tokenising is on every evaluation's hot path. */
function tokenizeAscii(lower: string): ViewToken[] {
  const tokens: ViewToken[] = [];
  let start = -1;
  for (let i = 0; i <= lower.length; i++) {
    const c = i < lower.length ? lower.charCodeAt(i) : 32;
    const word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 39;
    if (word) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      let w = lower.slice(start, i);
      if (w.endsWith("'s")) w = w.slice(0, -2);
      tokens.push({ w, start, end: i });
      start = -1;
    }
  }
  return tokens;
}

/** Longest run of base64-alphabet characters: decoding is only tried when a run is long enough. */
function longestBase64Run(text: string): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47) {
      if (++run > best) best = run;
    } else run = 0;
  }
  return best;
}

function near(tokens: readonly ViewToken[], a: ReadonlySet<string>, b: ReadonlySet<string>, window: number, ordered = true): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let lastA = -1;
  let lastB = -1;
  for (let i = 0; i < tokens.length; i++) {
    const w = tokens[i]!.w;
    const inB = b.has(w);
    if (inB && lastA >= 0 && i - lastA <= window) spans.push({ start: tokens[lastA]!.start, end: tokens[i]!.end });
    if (a.has(w)) {
      if (!ordered && lastB >= 0 && i - lastB <= window && i !== lastB) spans.push({ start: tokens[lastB]!.start, end: tokens[i]!.end });
      lastA = i;
    }
    if (inB) lastB = i;
    if (spans.length >= 16) break;
  }
  return spans;
}

export function makeView(name: string, text: string): TextView {
  const lower = text.toLowerCase();
  let tokens: ViewToken[] | undefined;
  const view: TextView = {
    name,
    text,
    lower,
    get tokens() {
      tokens ??= tokenize(lower);
      return tokens;
    },
    near: (a, b, window, ordered) => near(view.tokens, a, b, window, ordered),
  };
  return view;
}

/** NFKC, zero-width and homoglyph removal, leetspeak and spaced-letter folding; undefined when it changes nothing. */
export function normalizeText(text: string): string | undefined {
  let out = text;
  if (NON_ASCII.test(out)) {
    out = out.normalize('NFKC');
    if (HAS_ZERO_WIDTH.test(out)) out = out.replace(ZERO_WIDTH, '');
    if (HAS_HOMOGLYPH.test(out)) out = out.replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c] ?? c);
  }
  if (LEET_ANY.test(out)) out = out.replace(LEET_WORD, (w) => {
    // Only words that mix letters with leet characters: plain numbers and prices stay as they are.
    if (!LEET_INTERIOR.test(w)) return w;
    return w.replace(/[0-9@$]/g, (c) => LEET[c] ?? c);
  });
  out = out.replace(SPACED, (s) => s.replace(/[ .\-_*]/g, ''));
  return out === text ? undefined : out;
}

const BASE64_RUN = /[A-Za-z0-9+/]{24,4096}={0,2}/g;
const HEX_RUN = /\b[0-9a-fA-F]{24,4096}\b/g;
const ROT13_CUE = /\b(?:rot[- ]?13|caesar|rotate each letter)\b/i;

/** Share of printable characters with at least one space: decoded garbage is not re-scanned. */
function looksLikeText(s: string): boolean {
  if (s.length < 8 || !s.includes(' ')) return false;
  let printable = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 10 || c === 9) printable++;
  }
  return printable / s.length > 0.9;
}

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

export interface DecodedPayload {
  codec: 'base64' | 'hex' | 'rot13';
  start: number;
  end: number;
  text: string;
}

/** Encoded payloads that decode to natural-language text (at most `max` of them). */
export function decodePayloads(text: string, max = 8): DecodedPayload[] {
  const found: DecodedPayload[] = [];
  if (longestBase64Run(text) < 24) {
    return ROT13_CUE.test(text) ? [{ codec: 'rot13', start: 0, end: text.length, text: rot13(text) }] : [];
  }
  BASE64_RUN.lastIndex = 0;
  for (let m = BASE64_RUN.exec(text); m !== null && found.length < max; m = BASE64_RUN.exec(text)) {
    // Pure hex or pure letters are not base64 worth decoding (hashes, long words).
    if (/^[0-9a-f]+$/i.test(m[0]) || !/[0-9+/]/.test(m[0]) && !/[A-Z].*[a-z]|[a-z].*[A-Z]/.test(m[0])) continue;
    const decoded = Buffer.from(m[0], 'base64').toString('utf8');
    if (looksLikeText(decoded)) found.push({ codec: 'base64', start: m.index, end: m.index + m[0].length, text: decoded });
  }
  HEX_RUN.lastIndex = 0;
  for (let m = HEX_RUN.exec(text); m !== null && found.length < max; m = HEX_RUN.exec(text)) {
    if (m[0].length % 2 !== 0) continue;
    const decoded = Buffer.from(m[0], 'hex').toString('utf8');
    if (looksLikeText(decoded)) found.push({ codec: 'hex', start: m.index, end: m.index + m[0].length, text: decoded });
  }
  if (found.length < max && ROT13_CUE.test(text)) found.push({ codec: 'rot13', start: 0, end: text.length, text: rot13(text) });
  return found;
}

/** Every reading of a text: raw first, then normalized (if different), then decoded payloads. */
export function buildViews(text: string): TextView[] {
  const views = [makeView('raw', text)];
  const normalized = normalizeText(text);
  if (normalized !== undefined) views.push(makeView('normalized', normalized));
  for (const p of decodePayloads(text)) views.push(makeView(`decoded:${p.codec}`, p.text));
  return views;
}
