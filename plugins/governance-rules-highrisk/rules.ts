/**
 * HighRisk rules: operations with side effects outside the session — removals, file writes,
 * network calls, process spawning, privilege changes. Not malicious by themselves (severity 3–5),
 * they make a trace worth a look and feed `blockUnsafeMerge` decisions at stricter presets.
 */
import type { GovernanceRule, RuleSubject, TextView } from 'limit-graph';

function evidence(subject: RuleSubject, start: number, end: number) {
  const lo = Math.max(0, start - 20);
  return { field: subject.field, start, end, excerpt: subject.text.slice(lo, Math.min(subject.text.length, end + 20, lo + 240)) };
}

/**
 * Trigger words: each pattern names words that every one of its matches contains, and runs only on
 * views that have one of them (or one of its substrings, for parts no word boundary delimits). One
 * pass over the view's tokens decides for every pattern of the pack, instead of one regex scan of
 * the text per pattern; most texts trigger none.
 *
 * Why it is sound: a trigger word is a run of ASCII letters/digits that every match contains with a
 * non-alphanumeric character (or the text's edge) on both sides — `\b`, `\s`, `.`, `/`, `(` … in the
 * pattern. On an ASCII text such a run is a token of the view, or a part of one between apostrophes
 * (tokens keep them). Texts with other characters are not gated: there tokens follow Unicode
 * letters while regex word boundaries follow ASCII ones.
 */
interface Triggers {
  words: readonly string[];
  substrings?: readonly string[];
}

const NON_ASCII = /[^\x00-\x7F]/;

/** Index of a word's (first character, length) pair in a shape table. */
function shapeOf(word: string): number {
  const c = word.charCodeAt(0);
  return (c < 127 ? c : 127) * 32 + (word.length < 31 ? word.length : 31);
}

class TriggerGate {
  readonly #bitsOf = new Map<string, number>();
  /** Non-zero where a trigger word has that (first character, length): other tokens skip the lookup. */
  readonly #shapes = new Uint8Array(128 * 32);
  readonly #seen = new WeakMap<TextView, number>();
  #next = 0;

  /** Registers a pattern's triggers; returns its bit. */
  add(triggers: Triggers): number {
    if (this.#next > 30) throw new Error('TriggerGate: at most 31 patterns per gate');
    const bit = 1 << this.#next++;
    for (const w of triggers.words) {
      this.#bitsOf.set(w, (this.#bitsOf.get(w) ?? 0) | bit);
      this.#shapes[shapeOf(w)] = 1;
    }
    return bit;
  }

  /** False only when the pattern cannot match the subject's text. */
  mayMatch(subject: RuleSubject, bit: number, substrings: readonly string[] | undefined): boolean {
    const view = subject.view;
    // Subjects built by hand (no view, or a view of another text) are scanned as they are.
    if (!view || view.text !== subject.text) return true;
    let bits = this.#seen.get(view);
    if (bits === undefined) {
      bits = this.#scan(view);
      this.#seen.set(view, bits);
    }
    if ((bits & bit) !== 0) return true;
    if (substrings) for (const s of substrings) if (view.lower.includes(s)) return true;
    return false;
  }

  #scan(view: TextView): number {
    if (NON_ASCII.test(view.text)) return -1;
    // Tokens keep apostrophes; only a text that has one needs tokens split into parts.
    const apostrophes = view.lower.includes("'");
    let bits = 0;
    for (const t of view.tokens) {
      const w = t.w;
      if (apostrophes && w.includes("'")) {
        for (const part of w.split("'")) bits |= this.#bitsOf.get(part) ?? 0;
      } else if (this.#shapes[shapeOf(w)] !== 0) {
        bits |= this.#bitsOf.get(w) ?? 0;
      }
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
      if (!GATE.mayMatch(subject, bit, op.triggers.substrings)) return [];
      const m = op.re.exec(subject.text);
      if (!m) return [];
      return [{ ruleId: op.id, kind: 'HighRisk' as const, severity: op.severity, reason: op.reason, evidence: [evidence(subject, m.index, m.index + m[0].length)] }];
    },
  };
});
