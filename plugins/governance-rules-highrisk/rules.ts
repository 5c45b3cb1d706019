/**
 * HighRisk rules: operations with side effects outside the session — removals, file writes,
 * network calls, process spawning, privilege changes. Not malicious by themselves (severity 3–5),
 * they make a trace worth a look and feed `blockUnsafeMerge` decisions at stricter presets.
 */
import { LimitError, type GovernanceRule, type RuleSubject, type TextView } from 'limit-graph';

function evidence(subject: RuleSubject, start: number, end: number) {
  const lo = Math.max(0, start - 20);
  return { field: subject.field, start, end, excerpt: subject.text.slice(lo, Math.min(subject.text.length, end + 20, lo + 240)) };
}

/**
 * Trigger words: each pattern names words that every one of its matches contains, and runs only on
 * views that have one of them. One pass over the view's tokens decides for every pattern of the
 * pack, instead of one regex scan of the text per pattern; most texts trigger none.
 *
 * Why it is sound: a trigger word is a run of ASCII letters/digits that every match contains with a
 * non-alphanumeric character (or the text's edge) on both sides — `\b`, `\s`, `.`, `/`, `(` … in the
 * pattern. On an ASCII text such a run is a part of a token of the view (tokens are split at
 * apostrophes here, since the tokenizer keeps them). A `prefixes` entry needs the boundary only
 * before it (the run starts with it), a `suffixes` entry only after it; `substrings` are for
 * punctuation, looked up in the lower-cased text. Texts with other characters are not gated: there
 * tokens follow Unicode letters while regex word boundaries follow ASCII ones.
 */
interface Triggers {
  words: readonly string[];
  prefixes?: readonly string[];
  suffixes?: readonly string[];
  substrings?: readonly string[];
}

/** ASCII exactly when every character is one UTF-8 byte (a native count, ~4× faster than a regex scan). */
const isAscii = (text: string): boolean => Buffer.byteLength(text, 'utf8') === text.length;

/**
 * A 16-bit hash of a word's first and last characters and length: a table of the trigger words'
 * shapes rejects most other tokens before the Map lookup hashes them.
 */
function shapeOf(word: string): number {
  return shapeFrom(word.charCodeAt(0), word.charCodeAt(word.length - 1), word.length);
}

function shapeFrom(first: number, last: number, length: number): number {
  return ((first * 127 + last) * 32 + length) & 0xffff;
}

/** Two characters as a 10-bit key (prefix and suffix tables). */
const pairOf = (a: number, b: number): number => ((a * 31) ^ b) & 1023;

class TriggerGate {
  readonly #bitsOf = new Map<string, number>();
  /** Non-zero at the shape of each trigger word: other tokens skip the lookup. */
  readonly #shapes = new Uint8Array(1 << 16);
  readonly #prefixes: { text: string; bit: number }[] = [];
  readonly #suffixes: { text: string; bit: number }[] = [];
  /** Substrings of each pattern, by bit index: looked up only when its words are absent. */
  readonly #substrings: (readonly string[] | undefined)[] = [];
  /** Non-zero at the pair of a prefix's first (a suffix's last) two characters. */
  readonly #prefixPairs = new Uint8Array(1024);
  readonly #suffixPairs = new Uint8Array(1024);
  readonly #seen = new WeakMap<TextView, number>();
  /** The last view asked about: the rules of a pack ask about the same view one after another. */
  #lastView: TextView | undefined;
  #lastBits = 0;
  #next = 0;

  /** Registers a pattern's triggers; returns its bit. */
  add(triggers: Triggers): number {
    // A pack definition error (found when the module loads), not a runtime condition.
    if (this.#next > 30) throw new LimitError('LIMIT_RULE_INVALID', 'TriggerGate: at most 31 patterns per gate');
    this.#substrings.push(triggers.substrings);
    const bit = 1 << this.#next++;
    for (const w of triggers.words) {
      this.#bitsOf.set(w, (this.#bitsOf.get(w) ?? 0) | bit);
      this.#shapes[shapeOf(w)] = 1;
    }
    for (const p of triggers.prefixes ?? []) {
      if (p.length < 2) throw new LimitError('LIMIT_RULE_INVALID', `TriggerGate: prefix "${p}" is shorter than 2 characters`);
      this.#prefixes.push({ text: p, bit });
      this.#prefixPairs[pairOf(p.charCodeAt(0), p.charCodeAt(1))] = 1;
    }
    for (const s of triggers.suffixes ?? []) {
      if (s.length < 2) throw new LimitError('LIMIT_RULE_INVALID', `TriggerGate: suffix "${s}" is shorter than 2 characters`);
      this.#suffixes.push({ text: s, bit });
      this.#suffixPairs[pairOf(s.charCodeAt(s.length - 2), s.charCodeAt(s.length - 1))] = 1;
    }
    return bit;
  }

  /** False only when the pattern cannot match the subject's text. */
  mayMatch(subject: RuleSubject, bit: number): boolean {
    const view = subject.view;
    // Subjects built by hand (no view, or a view of another text) are scanned as they are.
    if (!view || view.text !== subject.text) return true;
    let bits = view === this.#lastView ? this.#lastBits : this.#seen.get(view);
    if (bits === undefined) {
      bits = this.#scan(view);
      this.#seen.set(view, bits);
    }
    this.#lastView = view;
    this.#lastBits = bits;
    if ((bits & bit) !== 0) return true;
    const substrings = this.#substrings[31 - Math.clz32(bit)];
    if (substrings) for (const s of substrings) if (view.lower.includes(s)) return true;
    return false;
  }

  #scan(view: TextView): number {
    if (!isAscii(view.text)) return -1;
    // Only a text with an apostrophe has tokens that need splitting into parts.
    const apostrophes = view.lower.includes("'");
    let bits = 0;
    for (const t of view.tokens) {
      if (apostrophes && t.w.includes("'")) {
        for (const part of t.w.split("'")) bits |= this.#part(part);
      } else {
        bits |= this.#part(t.w);
      }
    }
    return bits;
  }

  #part(w: string): number {
    const n = w.length;
    if (n === 0) return 0;
    const first = w.charCodeAt(0);
    const last = w.charCodeAt(n - 1);
    let bits = this.#shapes[shapeFrom(first, last, n)] !== 0 ? this.#bitsOf.get(w) ?? 0 : 0;
    if (n < 2) return bits;
    if (this.#prefixes.length !== 0 && this.#prefixPairs[pairOf(first, w.charCodeAt(1))] !== 0) {
      for (const p of this.#prefixes) if (w.startsWith(p.text)) bits |= p.bit;
    }
    if (this.#suffixes.length !== 0 && this.#suffixPairs[pairOf(w.charCodeAt(n - 2), last)] !== 0) {
      for (const s of this.#suffixes) if (w.endsWith(s.text)) bits |= s.bit;
    }
    return bits;
  }
}

const GATE = new TriggerGate();

/** `triggers`: words (and substrings) every match contains, see TriggerGate. */
const OPS: { id: string; severity: number; reason: string; triggers: Triggers; re: RegExp }[] = [
  { id: 'highrisk.removal', severity: 5, reason: 'Removes files or directories',
    triggers: { words: ['rm', 'shutil', 'os', 'fs', 'remove', 'del', 'drop'] },
    re: /\brm\s+-[a-z]{0,4}[rf]|\bshutil\.rmtree\(|\bos\.(?:remove|unlink|rmdir)\(|\bfs\.(?:rm|rmSync|unlink|unlinkSync|rmdir)\(|\bRemove-Item\b|\bdel\s+\/[sq]\b|\bDROP\s+(?:TABLE|DATABASE)\b/i },
  { id: 'highrisk.file-write', severity: 3, reason: 'Writes files',
    triggers: { words: ['open', 'fs', 'write', 'etc'] },
    re: /\bopen\([^)]{1,200},\s*['"][wa]b?\+?['"]|\bfs\.(?:writeFile|appendFile|createWriteStream)\w{0,4}\(|\.write_text\(|\.write_bytes\(|>\s*\/etc\/|\btee\s+\/etc\//i },
  { id: 'highrisk.network', severity: 4, reason: 'Makes network calls',
    triggers: { words: ['requests', 'urllib', 'http', 'httpx', 'fetch', 'axios', 'curl', 'wget', 'socket', 'smtplib'] },
    re: /\brequests\.(?:get|post|put|delete)\(|\burllib\.request\.|\bhttp\.client\.|\bhttpx\.|\bfetch\(\s*['"`]https?:|\baxios\.|\bcurl\s|\bwget\s|\bsocket\.socket\(|\bsmtplib\./ },
  { id: 'highrisk.process', severity: 4, reason: 'Spawns processes or shells',
    triggers: { words: ['os', 'subprocess', 'child', 'execsync', 'eval', 'exec'] },
    re: /\bos\.system\(|\bsubprocess\.(?:run|call|Popen|check_output)\(|\bchild_process\b|\bexecSync\(|\beval\(|\bexec\(/ },
  { id: 'highrisk.privilege', severity: 5, reason: 'Changes privileges or system configuration',
    triggers: { words: ['sudo', 'chmod', 'chown', 'crontab', 'etc', 'setuid', 'systemctl'] },
    re: /\bsudo\s|\bchmod\s+[0-7]{3,4}\b|\bchown\s|\bcrontab\s|\/etc\/sudoers|\bsetuid\(|\bsystemctl\s+(?:enable|disable|stop)\b/ },
];

export const RULES: readonly GovernanceRule[] = OPS.map((op) => {
  const bit = GATE.add(op.triggers);
  return {
    id: op.id,
    flag: 'HighRisk' as const,
    surfaces: ['input', 'tool'] as const,
    description: op.reason,
    evaluate(subject: RuleSubject) {
      // A prompt to a model executes nothing; code, external texts and tool calls may.
      if (subject.surface === 'input' && subject.trace.task.kind === 'prompt') return [];
      if (!GATE.mayMatch(subject, bit)) return [];
      const m = op.re.exec(subject.text);
      if (!m) return [];
      return [{ ruleId: op.id, kind: 'HighRisk' as const, severity: op.severity, reason: op.reason, evidence: [evidence(subject, m.index, m.index + m[0].length)] }];
    },
  };
});
