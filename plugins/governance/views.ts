/**
 * Text views: the one place where hostile text is normalised and decoded, so that every rule pack
 * sees the same readings (packs cannot import each other, so a shared normaliser must live here).
 * Everything is linear-time: single-pass replaces, bounded regexes without nested quantifiers.
 */
import { LimitError, type PatternTriggers, type TextView, type ViewToken } from 'limit-graph';

/** Zero-width, bidi and (from U+E0000, as surrogate pairs) tag characters: none is seen on screen. */
const ZERO_WIDTH = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]|\uDB40[\uDC00-\uDC7F]/g;
const HAS_ZERO_WIDTH = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]|\uDB40[\uDC00-\uDC7F]/;

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
/**
 * Single letters separated by one separator, the same throughout ("i g n o r e", "k.i.l.l"): words
 * spelled with dashes keep the spaces between them ("s-y-n-t-h-e-s-i-z-e r-i-c-i-n").
 */
const SPACED = /\b[a-z]([ .\-_*])(?:[a-z]\1){2,40}[a-z]\b/gi;
/**
 * A word: letters, digits, apostrophes — or one Chinese or Japanese character, since those scripts
 * put no spaces between words: a clause would be one token, and the classifier's neighbouring-token
 * pairs are then the character bigrams that text classifiers read such scripts by.
 */
const WORD = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]|(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}])[\p{L}\p{N}'])+/gu;
/** A letter next to a leet character, anywhere in a word. */
const LEET_MIXED = /[a-z][0-9@$]|[0-9@$][a-z]/i;
/** LEET_INTERIOR, every run of a text. */
const LEET_RUNS = new RegExp(LEET_INTERIOR.source, 'gi');
/** Three leet runs or more inside words ("k3yl0gg3r" holds two). */
function inLeet(text: string): boolean {
  LEET_RUNS.lastIndex = 0;
  let n = 0;
  while (LEET_RUNS.exec(text) !== null) if (++n >= 3) return true;
  return false;
}
/** ASCII exactly when every character is one UTF-8 byte (a native count, ~4× faster than a regex scan). */
const isAscii = (text: string): boolean => Buffer.byteLength(text, 'utf8') === text.length;

/** `ascii`: the caller knows the text is ASCII (then so is its lower case), which saves a scan. */
export function tokenize(lower: string, ascii = false): ViewToken[] {
  if (ascii || isAscii(lower)) return tokenizeAscii(lower);
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

/** Characters of an ASCII token: a-z, 0-9 and the apostrophe (a table lookup per character). */
const ASCII_WORD = new Uint8Array(128);
for (let c = 97; c <= 122; c++) ASCII_WORD[c] = 1;
for (let c = 48; c <= 57; c++) ASCII_WORD[c] = 1;
ASCII_WORD[39] = 1;

/**
 * Lexicon tokens gathered while tokenizing (see View): token index, word id, lexicon bits (two
 * words of them); with `triggers`, also what TextView.mayMatch needs: the ids and bits of the parts
 * of words with apostrophes, and the ids of the prefixes and suffixes the words have.
 */
interface LexiconSink {
  pos: number[];
  ids: number[];
  /** The bits of the lexicons the words belong to (MASK_WORDS words). */
  mask: Int32Array;
  triggers: boolean;
  partIds: number[];
  partMask: Int32Array;
  affixes: number[];
}

const newSink = (triggers: boolean): LexiconSink => ({ pos: [], ids: [], mask: new Int32Array(MASK_WORDS), triggers, partIds: [], partMask: new Int32Array(MASK_WORDS), affixes: [] });

/** Files token `i` (word `w`) in the sink; `apostrophes`: the text has one, so `w` may. */
function sinkWord(sink: LexiconSink, w: string, i: number, apostrophes: boolean): void {
  const id = LEXICONS.id(w);
  if (id !== 0) {
    sink.pos.push(i);
    sink.ids.push(id);
    LEXICONS.orMask(id, sink.mask);
  }
  if (!sink.triggers) return;
  if (apostrophes && w.includes("'")) {
    // Regex word boundaries fall at apostrophes, token boundaries do not: the parts count as words.
    for (const part of w.split("'")) {
      const pid = LEXICONS.id(part);
      if (pid !== 0) {
        sink.partIds.push(pid);
        LEXICONS.orMask(pid, sink.partMask);
      }
      LEXICONS.affixesOf(part, sink.affixes);
    }
  } else {
    LEXICONS.affixesOf(w, sink.affixes);
  }
}

/**
 * A char loop instead of a regex: tokenising is on every evaluation's hot path. With a sink, each
 * word is also looked up in the interned lexicons while it is fresh, saving a second pass.
 */
function tokenizeAscii(lower: string, sink?: LexiconSink): ViewToken[] {
  const tokens: ViewToken[] = [];
  const n = lower.length;
  const apostrophes = sink !== undefined && sink.triggers && lower.includes("'");
  let i = 0;
  while (i < n) {
    while (i < n && ASCII_WORD[lower.charCodeAt(i)] !== 1) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && ASCII_WORD[lower.charCodeAt(i)] === 1) i++;
    // Possessives match their noun: "someone's face" is about "someone".
    const possessive = i - start >= 2 && lower.charCodeAt(i - 1) === 115 && lower.charCodeAt(i - 2) === 39;
    const w = lower.slice(start, possessive ? i - 2 : i);
    if (sink) sinkWord(sink, w, tokens.length, apostrophes);
    tokens.push({ w, start, end: i });
  }
  return tokens;
}

const BASE64_MIN_RUN = 24;

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}

/**
 * Whether the text has a run of at least 24 base64-alphabet characters (decoding is only tried
 * then). Such a run covers a position ≡ 23 (mod 24), so only every 24th character is probed and a
 * run is measured only around a probe that hits: about a quarter of the reads of a full scan.
 */
function hasBase64Run(text: string): boolean {
  for (let j = BASE64_MIN_RUN - 1; j < text.length; j += BASE64_MIN_RUN) {
    if (!isBase64Char(text.charCodeAt(j))) continue;
    let lo = j;
    while (lo > 0 && isBase64Char(text.charCodeAt(lo - 1))) lo--;
    let hi = j + 1;
    while (hi < text.length && isBase64Char(text.charCodeAt(hi))) hi++;
    if (hi - lo >= BASE64_MIN_RUN) return true;
  }
  return false;
}

/** The reference "a near b" scan on token strings: used for lexicons the registry cannot intern. */
function nearBySet(tokens: readonly ViewToken[], a: ReadonlySet<string>, b: ReadonlySet<string>, window: number, ordered: boolean): { start: number; end: number }[] {
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

/** More distinct lexicon words than this and new lexicons are scanned by string instead of interned. */
const MAX_LEXICON_WORDS = 1 << 16;
/**
 * Lexicons that get a bit in the per-view summary masks: four 31-bit words. The built-in packs
 * register 91 near() lexicons and trigger-word sets (session 10); a lexicon without a bit is found by
 * a walk over the view's lexicon tokens instead — two words (62 bits) had left the last-registered
 * thirty walking, up to 15% of an evaluation on the benchmark's texts.
 */
const MASK_WORDS = 4;
const MASK_BITS = 31 * MASK_WORDS;
/** More prefixes and suffixes than this and new triggers are checked by a scan of the view instead. */
const MAX_AFFIXES = 4096;

/**
 * A 16-bit hash of a word's first two characters, last character and length: a table of the
 * interned words' shapes rejects almost every other token before the Map lookup hashes it.
 */
function shapeOf(word: string): number {
  const n = word.length;
  return ((word.charCodeAt(0) * 31 + (word.charCodeAt(1) | 0)) * 31 + (word.charCodeAt(n - 1) | 0) + n * 977) & 0xffff;
}

/** Two characters as a 10-bit key (the prefix and suffix tables). */
const pairOf = (a: number, b: number): number => ((a * 31) ^ b) & 1023;

interface Lexicon {
  size: number;
  /** 1 at the id of each member word. */
  member: Uint8Array;
  /** Which of the MASK_WORDS mask words holds this lexicon's bit. */
  word: number;
  /** This lexicon's bit in word masks, or 0 when the bits are used up. */
  bit: number;
}

interface Affix {
  text: string;
  id: number;
}

/**
 * Interned lexicons. The built-in packs ask each view about ~25 word sets (27 near() calls); hashing
 * every token's string in two sets per call was the largest single cost of an evaluation. Instead
 * every word of a lexicon passed to near() gets a small id once per process, each lexicon a
 * membership table indexed by id (and, for the first MASK_BITS, a bit), and each view maps its tokens
 * to ids once: near() then costs two typed-array loads per lexicon token, or nothing when the view's
 * mask shows that one of the two lexicons has no word in it.
 * The trigger words of TextView.mayMatch are interned the same way, so one pass over a view's
 * tokens serves every rule pack; their prefixes and suffixes get ids too, and the tokenizer notes
 * which of them each view has.
 * Lexicons are keyed by identity (rules pass module constants); a set whose size changed is
 * re-read, and a process that keeps inventing new words (sets built from input) stops interning at
 * MAX_LEXICON_WORDS and falls back to the string scan, so memory stays bounded.
 */
class LexiconRegistry {
  readonly #ids = new Map<string, number>();
  readonly #lexicons = new WeakMap<ReadonlySet<string>, Lexicon>();
  /** Lexicon bits of each word id: word k at MASK_WORDS·id + k. */
  #masks = new Int32Array(256 * MASK_WORDS);
  /** Non-zero at the shape of each interned word: other tokens skip the hash lookup. */
  readonly #shapes = new Uint8Array(1 << 16);
  #bitsUsed = 0;
  readonly #prefixes: Affix[] = [];
  readonly #suffixes: Affix[] = [];
  readonly #affixIds = new Map<string, number>();
  /** Non-zero at the pair of a prefix's first (a suffix's last) two characters. */
  readonly #prefixPairs = new Uint8Array(1024);
  readonly #suffixPairs = new Uint8Array(1024);
  /** Bumped whenever ids, masks or affixes change, so views know their cached ids are stale. */
  version = 0;

  /** Id of a word (0 when it is in no interned lexicon). */
  id(word: string): number {
    if (this.#shapes[shapeOf(word)] === 0) return 0;
    return this.#ids.get(word) ?? 0;
  }

  /** ORs the lexicon bits of word `id` into `into` (MASK_WORDS words). */
  orMask(id: number, into: Int32Array): void {
    const at = MASK_WORDS * id;
    if (at >= this.#masks.length) return;
    for (let k = 0; k < MASK_WORDS; k++) into[k]! |= this.#masks[at + k]!;
  }

  /** The interned form of a lexicon, or undefined when it cannot be interned. */
  lexicon(set: ReadonlySet<string>): Lexicon | undefined {
    const known = this.#lexicons.get(set);
    if (known && known.size === set.size) return known;
    const ids: number[] = [];
    for (const word of set) {
      let id = this.#ids.get(word);
      if (id === undefined) {
        if (this.#ids.size + 1 >= MAX_LEXICON_WORDS) return undefined;
        id = this.#ids.size + 1;
        this.#ids.set(word, id);
        this.#shapes[shapeOf(word)] = 1;
      }
      ids.push(id);
    }
    if (this.#masks.length < MASK_WORDS * (this.#ids.size + 1)) {
      const grown = new Int32Array(Math.max(this.#masks.length * 2, MASK_WORDS * (this.#ids.size + 1)));
      grown.set(this.#masks);
      this.#masks = grown;
    }
    // A re-read set (its size changed) keeps its bit; the bit is moved to its current words.
    let word = 0;
    let bit = 0;
    if (known) {
      word = known.word;
      bit = known.bit;
    } else if (this.#bitsUsed < MASK_BITS) {
      word = Math.floor(this.#bitsUsed / 31);
      bit = 1 << this.#bitsUsed++ % 31;
    }
    if (known && bit !== 0) for (let i = word; i < this.#masks.length; i += MASK_WORDS) this.#masks[i]! &= ~bit;
    const member = new Uint8Array(this.#ids.size + 1);
    for (const id of ids) {
      member[id] = 1;
      this.#masks[MASK_WORDS * id + word]! |= bit;
    }
    const lexicon: Lexicon = { size: set.size, member, word, bit };
    this.#lexicons.set(set, lexicon);
    this.version++;
    return lexicon;
  }

  /** Id of a prefix (`atEnd` false) or suffix of at least 2 characters; undefined when the table is full. */
  affix(text: string, atEnd: boolean): number | undefined {
    const key = `${atEnd ? '$' : '^'}${text}`;
    const known = this.#affixIds.get(key);
    if (known !== undefined) return known;
    if (this.#affixIds.size >= MAX_AFFIXES) return undefined;
    const id = this.#affixIds.size;
    this.#affixIds.set(key, id);
    if (atEnd) {
      this.#suffixes.push({ text, id });
      this.#suffixPairs[pairOf(text.charCodeAt(text.length - 2), text.charCodeAt(text.length - 1))] = 1;
    } else {
      this.#prefixes.push({ text, id });
      this.#prefixPairs[pairOf(text.charCodeAt(0), text.charCodeAt(1))] = 1;
    }
    this.version++;
    return id;
  }

  /** Adds to `out` the ids of the registered prefixes `w` starts with and suffixes it ends with. */
  affixesOf(w: string, out: number[]): void {
    const n = w.length;
    if (n < 2 || this.#affixIds.size === 0) return;
    if (this.#prefixPairs[pairOf(w.charCodeAt(0), w.charCodeAt(1))] !== 0) {
      for (const p of this.#prefixes) if (w.startsWith(p.text)) out.push(p.id);
    }
    if (this.#suffixPairs[pairOf(w.charCodeAt(n - 2), w.charCodeAt(n - 1))] !== 0) {
      for (const s of this.#suffixes) if (w.endsWith(s.text)) out.push(s.id);
    }
  }
}

const LEXICONS = new LexiconRegistry();
const EMPTY = new Int32Array(0);
const NO_MASK = new Int32Array(MASK_WORDS);
const NONE: readonly number[] = [];

/** The form of a PatternTriggers object that views answer mayMatch from. */
interface CompiledTriggers {
  words: ReadonlySet<string>;
  prefixes: readonly string[];
  suffixes: readonly string[];
  substrings: readonly string[];
  /** The interned words; undefined when the registry is full (then the view is scanned). */
  lexicon: Lexicon | undefined;
  /** Ids of the prefixes and suffixes; undefined when the registry is full. */
  affixIds: readonly number[] | undefined;
}

const COMPILED = new WeakMap<PatternTriggers, CompiledTriggers>();
const AFFIX_WORD = /^[a-z0-9]{2,}$/;

function compileTriggers(triggers: PatternTriggers): CompiledTriggers {
  const known = COMPILED.get(triggers);
  if (known) return known;
  const prefixes = triggers.prefixes ?? [];
  const suffixes = triggers.suffixes ?? [];
  const substrings = triggers.substrings ?? [];
  // A malformed entry would never be found, and the gate would skip real matches: refuse it.
  const bad = [
    ...[...triggers.words, ...prefixes, ...suffixes].filter((w) => !AFFIX_WORD.test(w)).map((w) => `${JSON.stringify(w)} is not two or more of a-z0-9`),
    ...substrings.filter((s) => s.length === 0 || s !== s.toLowerCase()).map((s) => `substring ${JSON.stringify(s)} is empty or not lower case`),
  ];
  if (bad.length) {
    throw new LimitError('LIMIT_RULE_INVALID', `Pattern triggers are malformed: ${bad.join('; ')}`, {
      details: { problems: bad },
      fix: 'Trigger words, prefixes and suffixes are lower-case ASCII letters/digits (2 or more); substrings are lower case.',
    });
  }
  const words = new Set(triggers.words);
  const affixIds: number[] = [];
  let full = false;
  for (const [list, atEnd] of [[prefixes, false], [suffixes, true]] as const) {
    for (const a of list) {
      const id = LEXICONS.affix(a, atEnd);
      if (id === undefined) full = true;
      else affixIds.push(id);
    }
  }
  const compiled: CompiledTriggers = {
    words, prefixes, suffixes,
    // Only ASCII ones can be found: a view with another character is never gated (mayMatch answers
    // true), so a substring in another script would only be searched for, in vain, in ASCII texts.
    substrings: substrings.filter((s) => isAscii(s)),
    lexicon: words.size ? LEXICONS.lexicon(words) : undefined,
    affixIds: full ? undefined : affixIds,
  };
  COMPILED.set(triggers, compiled);
  return compiled;
}

/** The reference mayMatch on token strings: used when the registry could not intern the triggers. */
function scanTriggers(tokens: readonly ViewToken[], c: CompiledTriggers): boolean {
  const has = (w: string) => c.words.has(w) || c.prefixes.some((p) => w.startsWith(p)) || c.suffixes.some((s) => w.endsWith(s));
  for (const t of tokens) {
    if (t.w.includes("'") ? t.w.split("'").some(has) : has(t.w)) return true;
  }
  return false;
}

function anyMember(ids: ArrayLike<number>, member: Uint8Array): boolean {
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    if (id < member.length && member[id] === 1) return true;
  }
  return false;
}

/**
 * One reading of a text. Tokens and their lexicon ids are computed on first use and shared by every
 * rule that scans this view (a class, not an object literal with closures: it is built for every
 * subject of every evaluation).
 * Views are frozen where they are built (makeView) and their tokens when computed: every rule of an
 * evaluation reads the same view, so none may change it for the next. The lazily computed caches are
 * private fields, which Object.freeze does not touch (they are not properties), so a frozen view still
 * fills them on first use.
 */
class View implements TextView {
  readonly name: string;
  readonly text: string;
  readonly lower: string;
  #tokens: readonly ViewToken[] | undefined;
  /** Token index and word id of each token that belongs to some interned lexicon, in text order. */
  #lexPos = EMPTY;
  #lexIds = EMPTY;
  /** Bits of the lexicons that have a word in this view (MASK_WORDS mask words). */
  #lexMask: Int32Array = NO_MASK;
  /** Ids and lexicon bits of the parts of words with apostrophes (mayMatch only, not near()). */
  #partIds: readonly number[] = NONE;
  #partMask: Int32Array = NO_MASK;
  /** Ids of the registered prefixes and suffixes that some word (or part) of this view has. */
  #affixes: readonly number[] = NONE;
  #lexVersion = -1;
  /** Whether `text` is ASCII; undefined until needed when the caller did not know. */
  #ascii: boolean | undefined;
  /** Where this view's characters come from in the text the views were built from (none: itself). */
  #source: ViewSource | undefined;

  constructor(name: string, text: string, lower: string, ascii: boolean | undefined, source: ViewSource | undefined) {
    this.name = name;
    this.text = text;
    this.lower = lower;
    this.#ascii = ascii;
    this.#source = source;
  }

  sourceSpan(start: number, end: number): { start: number; end: number } {
    const n = this.text.length;
    const s = clampTo(start, n);
    const e = Math.max(s, clampTo(end, n));
    const source = this.#source;
    if (!source) return { start: s, end: e };
    const span = source.map(s, e);
    const m = source.raw.length;
    const lo = clampTo(span.start, m);
    return { start: lo, end: Math.max(lo, clampTo(span.end, m)) };
  }

  #isAscii(): boolean {
    return (this.#ascii ??= isAscii(this.text));
  }

  get ascii(): boolean {
    return this.#isAscii();
  }

  get tokens(): readonly ViewToken[] {
    if (this.#tokens) return this.#tokens;
    // Frozen (the list and each token): rules share the view's tokens, read-only.
    if (!this.#isAscii()) return (this.#tokens = freezeTokens(tokenize(this.lower)));
    // ASCII text: lexicon tokens (and what mayMatch needs) are indexed in the same pass.
    const sink = newSink(true);
    this.#tokens = freezeTokens(tokenizeAscii(this.lower, sink));
    this.#setLexicons(sink);
    return this.#tokens;
  }

  #setLexicons(sink: LexiconSink): void {
    this.#lexPos = Int32Array.from(sink.pos);
    this.#lexIds = Int32Array.from(sink.ids);
    this.#lexMask = sink.mask;
    this.#partIds = sink.partIds.length ? sink.partIds : NONE;
    this.#partMask = sink.partMask;
    this.#affixes = sink.affixes.length ? sink.affixes : NONE;
    this.#lexVersion = LEXICONS.version;
  }

  /** Lexicon tokens only: most words of a text are in no lexicon, and near() never looks at them. */
  #indexLexicons(): void {
    const tokens = this.tokens;
    if (this.#lexVersion === LEXICONS.version) return;
    // mayMatch answers true for non-ASCII text at once, so only ASCII views need its index.
    const sink = newSink(this.#isAscii());
    const apostrophes = sink.triggers && this.lower.includes("'");
    for (let i = 0; i < tokens.length; i++) sinkWord(sink, tokens[i]!.w, i, apostrophes);
    this.#setLexicons(sink);
  }

  /** Whether the view's masks show that no word of the lexicon is in the view. */
  #lacks(l: Lexicon): boolean {
    return l.bit !== 0 && (this.#lexMask[l.word]! & l.bit) === 0;
  }

  near(a: ReadonlySet<string>, b: ReadonlySet<string>, window: number, ordered = true): { start: number; end: number }[] {
    const la = LEXICONS.lexicon(a);
    const lb = LEXICONS.lexicon(b);
    if (!la || !lb) return nearBySet(this.tokens, a, b, window, ordered);
    // Indexed after both lexicons are interned: interning may have given new words ids.
    this.#indexLexicons();
    // Every span needs a word of each lexicon; most calls end here.
    if (this.#lacks(la) || this.#lacks(lb)) return [];
    const pos = this.#lexPos;
    const ids = this.#lexIds;
    const inA = la.member;
    const inB = lb.member;
    const tokens = this.tokens;
    let spans: { start: number; end: number }[] | undefined;
    let lastA = -1;
    let lastB = -1;
    // The walk of nearBySet over lexicon tokens only (tokens in neither set change nothing there);
    // `i` stays the index in the full token list, so windows count every word. A table shorter
    // than an id means that word was interned after the lexicon, so it is not a member.
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      const i = pos[k]!;
      const isB = id < inB.length && inB[id] === 1;
      if (isB && lastA >= 0 && i - lastA <= window) (spans ??= []).push({ start: tokens[lastA]!.start, end: tokens[i]!.end });
      if (id < inA.length && inA[id] === 1) {
        if (!ordered && lastB >= 0 && i - lastB <= window && i !== lastB) (spans ??= []).push({ start: tokens[lastB]!.start, end: tokens[i]!.end });
        lastA = i;
      }
      if (isB) lastB = i;
      if (spans && spans.length >= 16) break;
    }
    return spans ?? [];
  }

  mayMatch(triggers: PatternTriggers): boolean {
    // Compiled first, so malformed triggers are refused whatever the text.
    const c = compileTriggers(triggers);
    if (!this.#isAscii()) return true;
    const lx = c.lexicon;
    if (c.affixIds === undefined || (lx === undefined && c.words.size !== 0)) {
      if (scanTriggers(this.tokens, c)) return true;
    } else {
      this.#indexLexicons();
      if (lx !== undefined) {
        if (lx.bit !== 0) {
          const mask = this.#lexMask[lx.word]! | this.#partMask[lx.word]!;
          if ((mask & lx.bit) !== 0) return true;
        } else if (anyMember(this.#lexIds, lx.member) || anyMember(this.#partIds, lx.member)) {
          return true;
        }
      }
      const found = this.#affixes;
      if (found.length !== 0) for (const id of c.affixIds) if (found.includes(id)) return true;
    }
    for (const s of c.substrings) if (this.lower.includes(s)) return true;
    return false;
  }
}

/** A view's token list and each of its tokens, frozen. */
function freezeTokens(tokens: ViewToken[]): readonly ViewToken[] {
  for (let i = 0; i < tokens.length; i++) Object.freeze(tokens[i]);
  return Object.freeze(tokens);
}

/**
 * `ascii`: whether the text is ASCII, when the caller has checked (else it is checked when needed).
 * The view is frozen (see View): a rule that writes to it (`view.text = …`) throws.
 */
export function makeView(name: string, text: string, ascii?: boolean, source?: ViewSource): TextView {
  return Object.freeze(new View(name, text, lowerSameLength(text), ascii, source));
}

/** `n` as an index of a text `length` long (NaN and negatives are 0). */
const clampTo = (n: number, length: number): number => (n > 0 ? Math.min(Math.trunc(n), length) : 0);

/**
 * `text` lower-cased, one UTF-16 unit for each of `text`'s: rules find spans in `lower` (regexes,
 * tokens, near()) and cut evidence from `text` with them. `toLowerCase` lengthens "İ" (U+0130) to
 * "i̇" (i + U+0307), which shifted every later span of a Turkish text; "İ" becomes "i" instead.
 * U+0130 is the only character whose lower case has another length, so its texts are lower-cased
 * whole after it is replaced (one character at a time with `+=` was ~10× slower). "Σ" becomes "σ"
 * first there, as it did when each character was lower-cased alone (no final-sigma "ς"), so the
 * result is what it was. A character-by-character loop stays as the fallback should another
 * character ever change length (a character whose lower case has another length keeps its first units).
 */
function lowerSameLength(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  const replaced = text.replaceAll('\u0130', 'i').replaceAll('\u03A3', '\u03C3').toLowerCase();
  if (replaced.length === text.length) return replaced;
  let out = '';
  for (const ch of text) {
    const l = ch.toLowerCase();
    out += l.length === ch.length ? l : l.length > ch.length ? l.slice(0, ch.length) : ch;
  }
  return out;
}

/** NFKC, zero-width and homoglyph removal, leetspeak and spaced-letter folding; undefined when it changes nothing. */
export function normalizeText(text: string, ascii = isAscii(text)): string | undefined {
  let out = text;
  if (!ascii) {
    out = out.normalize('NFKC');
    if (HAS_ZERO_WIDTH.test(out)) out = out.replace(ZERO_WIDTH, '');
    if (HAS_HOMOGLYPH.test(out)) out = out.replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c] ?? c);
  }
  out = foldLeet(out);
  out = out.replace(SPACED, (s, separator: string) => s.replaceAll(separator, ''));
  return out === text ? undefined : out;
}

/** Leetspeak folded (one character for one: the length stays). */
function foldLeet(out: string): string {
  if (!LEET_INTERIOR.test(out)) return out;
  // Only words that mix letters with leet characters: plain numbers and prices stay as they are.
  // In a text written in leet (three leet runs or more inside words) so are words that
  // open or close with it ("wr073 7h47"); elsewhere "mp3", "4k" or "x86" stay as they are.
  const test = inLeet(out) ? LEET_MIXED : LEET_INTERIOR;
  return out.replace(LEET_WORD, (w) => (test.test(w) ? w.replace(/[0-9@$]/g, (c) => LEET[c] ?? c) : w));
}

/**
 * normalizeText(text) with, for each of its UTF-16 units, the span of `text` it comes from
 * (`from[i]`, `to[i]`): NFKC is applied per grapheme cluster, removals drop units. Undefined when
 * the result is not normalizeText's (NFKC across clusters), or when nothing changes.
 */
export function normalizeWithMap(text: string): { text: string; from: Int32Array; to: Int32Array } | undefined {
  const expected = normalizeText(text);
  if (expected === undefined) return undefined;
  let units: string[] = [];
  let from: number[] = [];
  let to: number[] = [];
  if (!isAscii(text)) {
    for (const { segment, index } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)) {
      const n = segment.normalize('NFKC');
      for (let i = 0; i < n.length; i++) {
        units.push(n[i]!);
        from.push(index);
        to.push(index + segment.length);
      }
    }
    // Zero-width characters removed, homoglyphs mapped (one unit for one).
    const joined = units.join('');
    const drop = new Uint8Array(units.length);
    ZERO_WIDTH.lastIndex = 0;
    for (let m = ZERO_WIDTH.exec(joined); m !== null; m = ZERO_WIDTH.exec(joined)) drop.fill(1, m.index, m.index + m[0].length);
    const keep = (_: unknown, i: number) => drop[i] === 0;
    units = units.filter(keep).map((c) => HOMOGLYPHS[c] ?? c);
    from = from.filter(keep);
    to = to.filter(keep);
  } else {
    units = [...text];
    from = units.map((_, i) => i);
    to = units.map((_, i) => i + 1);
  }
  const folded = foldLeet(units.join(''));
  if (folded.length !== units.length) return undefined;
  // Spaced letters: the separators of a match are dropped.
  const drop = new Uint8Array(folded.length);
  SPACED.lastIndex = 0;
  for (let m = SPACED.exec(folded); m !== null; m = SPACED.exec(folded)) {
    for (let i = m.index; i < m.index + m[0].length; i++) if (folded[i] === m[1]) drop[i] = 1;
  }
  let out = '';
  const f: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < folded.length; i++) {
    if (drop[i] === 1) continue;
    out += folded[i];
    f.push(from[i]!);
    t.push(to[i]!);
  }
  return out === expected ? { text: out, from: Int32Array.from(f), to: Int32Array.from(t) } : undefined;
}

/** Maps a span of a derived view's text to the span of the text it was read from (`raw`). */
type SourceSpan = (start: number, end: number) => { start: number; end: number };
/** A derived view's source: the text the views were built from, and how a span maps into it. */
interface ViewSource {
  raw: string;
  map: SourceSpan;
}

function normalizedSource(raw: string): SourceSpan {
  let map: ReturnType<typeof normalizeWithMap> | null = null;
  return (start, end) => {
    // Worked out on the first finding only: most views never have one.
    map ??= normalizeWithMap(raw) ?? undefined;
    if (!map) return { start: 0, end: raw.length };
    const n = map.text.length;
    const lo = start < n ? map.from[start]! : raw.length;
    const hi = end > start ? map.to[end - 1]! : lo;
    return { start: lo, end: hi };
  };
}

function payloadSource(p: DecodedPayload): SourceSpan {
  switch (p.codec) {
    case 'rot13':
    case 'caesar':
      // Letter for letter over the whole text.
      return (start, end) => ({ start: p.start + start, end: p.start + end });
    case 'tags':
      // One tag character (a surrogate pair) for each decoded one.
      return (start, end) => ({ start: p.start + 2 * start, end: p.start + 2 * end });
    default:
      return () => ({ start: p.start, end: p.end });
  }
}

const BASE64_RUN = /[A-Za-z0-9+/]{24,4096}={0,2}/g;
const HEX_RUN = /\b[0-9a-fA-F]{24,4096}\b/g;
/** A text that names a letter cipher: ROT13, Caesar, "cipher". */
const CIPHER_CUE = /\b(?:rot[- ]?13|caesar|rotate each letter|cipher)\b/i;
/** Common English words: the letter shift that makes most of a text's words these is the cipher's key. */
const COMMON = new Set(`the a an to of and or in on for with is are was be it i you he she we they me my your how what why
  who where when do does can could would will not no so that this from by at as if then tell give make get need want`.split(/\s+/));
const LETTER_WORD = /[a-z]{1,20}/gi;

/**
 * The Caesar shift (1–25) that turns most of the uncommon words among the first 300 of `text` into
 * common English ones — at least three, and a sixth of them —, or undefined: "Whoo ph krz" → 23,
 * "tell me how", while the English instructions around a cipher are left out of the count.
 */
function caesarShift(text: string): number | undefined {
  const words = (text.slice(0, 4000).match(LETTER_WORD) ?? []).slice(0, 300).map((w) => w.toLowerCase()).filter((w) => !COMMON.has(w));
  let best: number | undefined;
  let bestScore = Math.max(2, Math.ceil(words.length / 6) - 1);
  for (let shift = 1; shift < 26; shift++) {
    let n = 0;
    for (const w of words) if (COMMON.has(shiftLetters(w, shift))) n++;
    if (n > bestScore) [best, bestScore] = [shift, n];
  }
  return best;
}

const PIG_LATIN_CUE = /\bpig[- ]?latin\b/i;
/** PIG_LATIN_CUE, tested only on texts that hold its last word (most do not). */
const namesPigLatin = (text: string): boolean => (text.includes('atin') || text.includes('ATIN')) && PIG_LATIN_CUE.test(text);
/** Consonant pairs that open English words: moved back together when a Pig Latin word is read ("ethay" → "the"). */
const ONSETS = new Set('th sh ch wh st sp sk sc sm sn sl sw pl pr bl br cl cr dr fl fr gl gr tr tw wr kn ph qu'.split(' '));
const VOWEL = /[aeiou]/;

/**
 * Pig Latin read back, word by word: "owhay oday iay akemay ethmay" → "how do i make meth". Words that
 * began with a vowel end in "way"/"yay" ("allway" → "all"); otherwise the consonants before "ay" move
 * back to the front — two when they open English words ("ethay" → "the"), else one. Without a
 * dictionary some words come back wrong ("atay" → "ta"); the words that carry a request mostly do not.
 */
function unPigLatin(s: string): string {
  return s.replace(/\b([a-z]{2,})ay\b/gi, (word, stem: string) => {
    const lower = stem.toLowerCase();
    if (/^[aeiou].*[wy]$/.test(lower)) return stem.slice(0, -1);
    if (VOWEL.test(lower[lower.length - 1]!)) return stem;
    const two = lower.slice(-2);
    const n = lower.length > 2 && ONSETS.has(two) ? 2 : 1;
    return stem.slice(-n) + stem.slice(0, -n);
  });
}

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

function shiftLetters(s: string, shift: number): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + shift) % 26) + base);
  });
}

/**
 * A text that names a letter cipher, read back: under the shift that makes it English (ROT13 is 13),
 * or under ROT13 when no shift does.
 */
function unshifted(text: string): DecodedPayload {
  const shift = caesarShift(text) ?? 13;
  return { codec: shift === 13 ? 'rot13' : 'caesar', start: 0, end: text.length, text: shiftLetters(text, shift) };
}

const MORSE: Record<string, string> = Object.fromEntries(
  `a.- b-... c-.-. d-.. e. f..-. g--. h.... i.. j.--- k-.- l.-.. m-- n-. o--- p.--. q--.- r.-. s... t- u..- v...- w.-- x-..- y-.-- z--..
  0----- 1.---- 2..--- 3...-- 4....- 5..... 6-.... 7--... 8---.. 9----.`.split(/\s+/).map((e) => [e.slice(1), e[0]!]),
);
/** Five or more Morse letters in a row, separated by spaces, with "/" (or three spaces) between words. */
const MORSE_RUN = /(?:[.-]{1,6}(?: {1,3}| ?\/ ?)){4,}[.-]{1,6}/g;

/** A Morse run read as text ("... --- ..." → "sos"); a letter it does not know becomes "?". */
function unMorse(run: string): string {
  return run.trim().split(/ ?\/ ?| {3}/).map((word) => word.split(/ +/).map((code) => MORSE[code] ?? '?').join('')).join(' ');
}

export interface DecodedPayload {
  codec: 'base64' | 'hex' | 'rot13' | 'caesar' | 'morse' | 'piglatin' | 'tags';
  start: number;
  end: number;
  text: string;
}

/**
 * Unicode tag characters U+E0020–U+E007E (UTF-16: U+DB40 then U+DC20–U+DC7E), eight or more in a row:
 * ASCII written invisibly ("ASCII smuggling"). A flag emoji's tag sequence is shorter and no text.
 */
const TAG_RUN = /(?:\uDB40[\uDC20-\uDC7E]){8,}/g;
const TAG_CHAR = /\uDB40([\uDC20-\uDC7E])/g;

/** Encoded payloads that decode to natural-language text (at most `max` of them). */
export function decodePayloads(text: string, max = 8): DecodedPayload[] {
  const found: DecodedPayload[] = [];
  if (text.includes('\uDB40')) {
    TAG_RUN.lastIndex = 0;
    for (let m = TAG_RUN.exec(text); m !== null && found.length < max; m = TAG_RUN.exec(text)) {
      const decoded = m[0].replace(TAG_CHAR, (_, low: string) => String.fromCharCode(low.charCodeAt(0) - 0xdc00));
      if (looksLikeText(decoded)) found.push({ codec: 'tags', start: m.index, end: m.index + m[0].length, text: decoded });
    }
  }
  if (text.includes('.-') || text.includes('-.')) {
    MORSE_RUN.lastIndex = 0;
    for (let m = MORSE_RUN.exec(text); m !== null && found.length < max; m = MORSE_RUN.exec(text)) {
      const decoded = unMorse(m[0]);
      if (looksLikeText(decoded)) found.push({ codec: 'morse', start: m.index, end: m.index + m[0].length, text: decoded });
    }
  }
  if (hasBase64Run(text)) decodeRuns(text, max, found);
  // The whole text read back, when it names how it was written.
  if (found.length < max && CIPHER_CUE.test(text)) found.push(unshifted(text));
  if (found.length < max && namesPigLatin(text)) found.push({ codec: 'piglatin', start: 0, end: text.length, text: unPigLatin(text) });
  return found;
}

/** The base64 and hex runs of `text` that decode to natural-language text, added to `found` (at most `max` in all). */
function decodeRuns(text: string, max: number, found: DecodedPayload[]): void {
  BASE64_RUN.lastIndex = 0;
  for (let m = BASE64_RUN.exec(text); m !== null && found.length < max; m = BASE64_RUN.exec(text)) {
    // Pure hex or pure letters are not base64 worth decoding (hashes, long words).
    // Both cases are looked for apart: /[A-Z].*[a-z]|[a-z].*[A-Z]/ read to the end of a run of one case from each
    // of its letters (4096²/2 steps per run, a second per 200 KB of "QQQQ…").
    if (/^[0-9a-f]+$/i.test(m[0]) || !/[0-9+/]/.test(m[0]) && !(/[A-Z]/.test(m[0]) && /[a-z]/.test(m[0]))) continue;
    const decoded = Buffer.from(m[0], 'base64').toString('utf8');
    if (looksLikeText(decoded)) found.push({ codec: 'base64', start: m.index, end: m.index + m[0].length, text: decoded });
  }
  HEX_RUN.lastIndex = 0;
  for (let m = HEX_RUN.exec(text); m !== null && found.length < max; m = HEX_RUN.exec(text)) {
    if (m[0].length % 2 !== 0) continue;
    const decoded = Buffer.from(m[0], 'hex').toString('utf8');
    if (looksLikeText(decoded)) found.push({ codec: 'hex', start: m.index, end: m.index + m[0].length, text: decoded });
  }
}

/**
 * Every reading of a text: raw first, then normalized (if different), then decoded payloads. The
 * list and each view are frozen: rules share them.
 */
export function buildViews(text: string): readonly TextView[] {
  // Folding leetspeak and spaced letters keeps an ASCII text ASCII.
  const ascii = isAscii(text);
  const views = [makeView('raw', text, ascii)];
  const normalized = normalizeText(text, ascii);
  // Normalising may turn a non-ASCII text into an ASCII one: then the view checks for itself.
  if (normalized !== undefined) {
    views.push(makeView('normalized', normalized, ascii || undefined, { raw: text, map: normalizedSource(text) }));
  }
  for (const p of decodePayloads(text)) views.push(makeView(`decoded:${p.codec}`, p.text, undefined, { raw: text, map: payloadSource(p) }));
  return Object.freeze(views);
}
