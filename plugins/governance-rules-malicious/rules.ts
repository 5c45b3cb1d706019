/**
 * Malicious-operation rules: destructive shell and SQL, reverse shells, download-and-execute, and
 * credential theft / data exfiltration in code. Patterns are bounded (`{0,n}`) and have no nested
 * quantifiers, so a megabyte of hostile text costs one linear pass per pattern.
 */
import { LimitError, type Finding, type GovernanceRule, type RuleSubject, type TextView } from 'limit-graph';

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

interface Pattern {
  id: string;
  severity: number;
  reason: string;
  /** Words (and substrings) every match contains: see TriggerGate. */
  triggers: Triggers;
  re: RegExp;
}

const PATTERNS: Pattern[] = [
  { id: 'malicious.destructive-shell', severity: 9, reason: 'Destructive shell command (recursive delete of a root, home or wildcard path, disk wipe, fork bomb)',
    triggers: { words: ['rm', 'dev', 'chmod', 'shutil', 'format'], substrings: [':('] },
    re: /\brm\s+(?:-[a-z]{0,6}\s+){0,3}-[a-z]{0,6}[rR][a-z]{0,6}\s+(?:--no-preserve-root\s+)?(?:\/(?:\s|$|\*|usr|etc|home|var|bin|boot|lib)|~|\*|\$home|\.\s*$)|\bmkfs(?:\.\w{1,8})?\s+\/dev\/|\bdd\s+if=\/dev\/(?:zero|random|urandom)\s+of=\/dev\/[sh]d|:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;|\bchmod\s+-R\s+0?777\s+\/(?:\s|$)|>\s*\/dev\/sd[a-z]\b|\bshutil\.rmtree\(\s*['"](?:\/|~|C:\\)['"]|\bformat\s+c:/im },
  { id: 'malicious.destructive-sql', severity: 8, reason: 'Destructive SQL (DROP/TRUNCATE, or DELETE/UPDATE without WHERE)',
    triggers: { words: ['drop', 'truncate', 'delete', 'shutdown'] },
    re: /\b(?:drop\s+(?:table|database|schema)\s+(?:if\s+exists\s+)?[\w."`]{1,64}|truncate\s+table\s+[\w."`]{1,64}|delete\s+from\s+[\w."`]{1,64}\s*(?:;|$)|;\s*shutdown\s+with\s+nowait)/im },
  { id: 'malicious.reverse-shell', severity: 10, reason: 'Reverse shell',
    triggers: { words: ['tcp', 'bin', 'socket', 'mkfifo', 'sockets'], prefixes: ['powershelltcp'] },
    re: /\/dev\/tcp\/[\w.-]{1,64}\/\d{1,5}|\bnc(?:at)?\s+(?:-[a-z]{1,4}\s+){0,4}[\w.-]{1,64}\s+\d{1,5}\s+-e\s+\/bin\/(?:ba)?sh|\bnc(?:at)?\s+-e\s+\/bin\/(?:ba)?sh|socket\.socket\([^)]{0,80}\)[^\n]{0,200}(?:\n[^\n]{0,200}){0,6}dup2|\bmkfifo\s+\/tmp\/\w{1,20};\s*(?:cat|nc)|Invoke-PowerShellTcp|New-Object\s+System\.Net\.Sockets\.TCPClient/i },
  { id: 'malicious.download-execute', severity: 9, reason: 'Download-and-execute (curl | sh, fetch then exec)',
    triggers: { words: ['curl', 'wget', 'iex', 'exec'] },
    re: /\b(?:curl|wget)\b[^\n|;]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:curl|wget)\b[^\n]{0,200}(?:&&|;)\s*chmod\s+\+x[^\n]{0,100}(?:&&|;)\s*\.\/|\biex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)|urlretrieve\([^)]{0,200}\)[^\n]{0,80}(?:\n[^\n]{0,200}){0,3}\bexec\(|\bexec\(\s*(?:requests\.get|urllib\.request\.urlopen)\(/i },
  { id: 'malicious.credential-theft', severity: 8, reason: 'Reads credentials or secrets (SSH keys, shadow file, cloud credentials, browser stores, keychain)',
    triggers: { words: ['ssh', 'shadow', 'aws', 'login', 'cookies', 'security', 'mimikatz', 'lsass', 'sekurlsa'] },
    re: /(?:~|\$HOME|\/root|\/home\/\w{1,32})\/\.ssh\/id_(?:rsa|dsa|ecdsa|ed25519)\b|\/etc\/shadow\b|\.aws\/credentials\b|\bLogin Data\b|\bCookies\.sqlite\b|\bsecurity\s+find-generic-password\b|\bmimikatz\b|\blsass(?:\.exe)?\s+(?:dump|minidump)|\bsekurlsa::/i },
  { id: 'malicious.keylogger', severity: 8, reason: 'Keystroke capture (keylogger)',
    triggers: { words: ['pynput', 'keyboard', 'getasynckeystate', 'wh'] },
    re: /\bpynput\.keyboard\b|\bkeyboard\.Listener\b|\bGetAsyncKeyState\b|\bSetWindowsHookEx\w?\s*\(\s*WH_KEYBOARD/ },
  { id: 'malicious.crypto-miner', severity: 8, reason: 'Cryptocurrency miner download or launch',
    triggers: { words: ['stratum', 'miner'], prefixes: ['xmrig', 'minerd', 'cpuminer', 'cryptonight'] },
    re: /\b(?:xmrig|minerd|cpuminer|cryptonight|stratum\+tcp:\/\/)|\bminer_url\b|\b\.\/miner\b/i },
];

/** Code that collects local data (files, contacts, environment, system info) and ships it out. */
const COLLECT = /\bopen\(\s*["'][^"']{1,80}["']|csv\.reader\(|os\.environ|psutil\.|getpass|pyperclip|ImageGrab|platform\.uname|socket\.gethostname|glob\.glob\(/;
const SHIP = /\bsmtplib\.|\bsendmail\(|requests\.post\(|httpx\.post\(|urllib\.request\.urlopen\([^)]{0,80}data=|http\.client\.HTTPS?Connection\(|\.sendall\(|ftplib\.|paramiko\./;

const SHIP_TRIGGERS: Triggers = { words: ['smtplib', 'sendmail', 'post', 'urlopen', 'client', 'sendall'], suffixes: ['ftplib', 'paramiko'] };

const patternRules: GovernanceRule[] = PATTERNS.map((p) => {
  const bit = GATE.add(p.triggers);
  return {
    id: p.id,
    flag: 'Malicious',
    surfaces: ['input', 'output', 'tool'],
    description: p.reason,
    evaluate(subject: RuleSubject): Finding[] {
      if (!GATE.mayMatch(subject, bit)) return [];
      const m = p.re.exec(subject.text);
      if (!m) return [];
      return [{ ruleId: p.id, kind: 'Malicious', severity: p.severity, reason: p.reason, evidence: [evidence(subject, m.index, m.index + m[0].length)] }];
    },
  };
});
const SHIP_BIT = GATE.add(SHIP_TRIGGERS);

const exfiltration: GovernanceRule = {
  id: 'malicious.code-exfiltration',
  flag: 'Malicious',
  surfaces: ['input', 'output', 'tool'],
  description: 'Code that reads local data and sends it over the network or by e-mail.',
  evaluate(subject) {
    if (!GATE.mayMatch(subject, SHIP_BIT)) return [];
    const ship = SHIP.exec(subject.text);
    if (!ship) return [];
    const collect = COLLECT.exec(subject.text);
    if (!collect) return [];
    return [{
      ruleId: 'malicious.code-exfiltration', kind: 'Malicious', severity: 7,
      reason: 'Code collects local data and sends it out (e-mail / HTTP POST / socket)',
      evidence: [evidence(subject, collect.index, collect.index + collect[0].length), evidence(subject, ship.index, ship.index + ship[0].length)],
    }];
  },
};

export const RULES: readonly GovernanceRule[] = [...patternRules, exfiltration];
