/**
 * Prompt-injection rules: instruction override, system-prompt and secret extraction, role/markup
 * tags, hidden HTML/markdown, exfiltration links, and instructions planted in data (tool output,
 * e-mails, documents). Matching is by structure: a verb near its target, an imperative line inside
 * a document, a tag where a user cannot legitimately write one.
 */
import { LimitError, type Finding, type GovernanceRule, type RuleSubject, type TextView } from 'limit-graph';

const set = (words: string) => new Set(words.split(/\s+/).filter(Boolean));

function evidence(subject: RuleSubject, start: number, end: number) {
  const lo = Math.max(0, start - 20);
  return { field: subject.field, start, end, excerpt: subject.text.slice(lo, Math.min(subject.text.length, end + 20, lo + 240)) };
}
const viewOf = (s: RuleSubject): TextView | undefined => s.view ?? s.views?.[0];
const finding = (subject: RuleSubject, ruleId: string, severity: number, reason: string, spans: { start: number; end: number }[]): Finding => ({
  ruleId, kind: 'Malicious', severity, reason, evidence: spans.slice(0, 3).map((s) => evidence(subject, s.start, s.end)),
});

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

const OVERRIDE_VERBS = set(`ignore ignoring disregard disregarding forget override overriding bypass skip neglect abandon discard
  drop dismiss erase delete clear reset`);
const INSTRUCTION_NOUNS = set(`instructions instruction prompt prompts rules directives directions guidelines programming orders
  commands constraints context everything training messages conversation`);
const PRIOR = set(`previous prior above earlier preceding initial original all any your system following before old`);
/** PRIOR as a list, built once (it is scanned for every override span). */
const PRIOR_WORDS = [...PRIOR];
const STOP = /\b(?:stop everything|new instructions?:|instead,? (?:just )?(?:say|print|output|write|respond))/;
const STOP_BIT = GATE.add({ words: ['stop', 'new', 'instead'] });

const override: GovernanceRule = {
  id: 'injection.override',
  flag: 'Malicious',
  surfaces: ['input', 'tool', 'output'],
  description: '"Ignore previous instructions" and its variants: an override verb near an instruction noun.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    const hits = view.near(OVERRIDE_VERBS, INSTRUCTION_NOUNS, 5).filter((span) => {
      // The qualifier ("previous", "your", "all") separates "ignore previous instructions" from
      // "ignore the warning" or "clear instructions on how to …".
      const window = view.lower.slice(span.start, span.end);
      return PRIOR_WORDS.some((q) => window.includes(q));
    });
    const stop = GATE.mayMatch(subject, STOP_BIT) ? STOP.exec(view.lower) : null;
    if (stop) hits.push({ start: stop.index, end: stop.index + stop[0].length });
    if (!hits.length) return [];
    return [finding(subject, 'injection.override', subject.surface === 'tool' ? 9 : 8, 'Instruction override: an override verb aimed at the prior instructions', hits)];
  },
};

const REVEAL = set(`reveal print show repeat output tell display translate recite share give dump leak disclose write spell say
  list summarize summarise copy paste return echo type read`);
const SECRET_TARGETS = set(`prompt instructions instruction message password passwords secret secrets key keys token tokens credentials
  configuration rules guidelines context conversation directives`);
const SECRET_QUALIFIER = /\b(?:system|initial|original|hidden|secret|previous|above|internal|developer|your|pre-?prompt|the first)\b/;
const EXTRACTION_QUESTIONS = /\b(?:what (?:were|are|was) you (?:told|instructed|programmed|not (?:supposed|allowed))|what(?:'s| is| are) your (?:system |initial |original )?(?:prompt|instructions|rules|guidelines|directives)|(?:repeat|print|output) (?:the |this )?(?:entire |whole )?(?:conversation|text) (?:above|so far|back)|beginning with "?you are|words? above|everything above|before this conversation|(?:your|the) (?:system ?prompt|system (?:instructions|message)|initial (?:prompt|configuration|instructions))|systemprompt|instructions you were given|i was instructed to|my instructions are|repeat the above|initiali[sz]ation string)/;

/** "your system prompt" may be written "systemprompt", which no word boundary ends. */
const EXTRACTION_TRIGGERS: Triggers = {
  words: ['what', 'repeat', 'print', 'output', 'beginning', 'word', 'words', 'everything', 'before', 'system', 'initial', 'were',
    'instructed', 'instructions', 'initialization', 'initialisation'],
  prefixes: ['systemprompt'],
};
const EXTRACTION_BIT = GATE.add(EXTRACTION_TRIGGERS);

const extraction: GovernanceRule = {
  id: 'injection.extraction',
  flag: 'Malicious',
  surfaces: ['input', 'tool'],
  description: 'System-prompt and secret extraction: a reveal verb near a secret target with a qualifier.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    const hits = view.near(REVEAL, SECRET_TARGETS, 5).filter((span) => SECRET_QUALIFIER.test(view.lower.slice(Math.max(0, span.start - 12), span.end)));
    const q = GATE.mayMatch(subject, EXTRACTION_BIT) ? EXTRACTION_QUESTIONS.exec(view.lower) : null;
    if (q) hits.push({ start: q.index, end: q.index + q[0].length });
    if (!hits.length) return [];
    return [finding(subject, 'injection.extraction', 7, 'System-prompt or secret extraction attempt', hits)];
  },
};

/** Chat-template and role markers a user or a document has no reason to contain. */
const ROLE_TAGS = /<\|(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|start_header_id)\|>|\[\/?INST\]|<<\/?SYS>>|^#{2,3} ?(?:system|instruction)s?:|^(?:system|assistant) ?:|<\/?(?:system|instructions?)>/im;

const ROLE_TAGS_TRIGGERS: Triggers = { words: ['inst', 'sys', 'system', 'systems', 'instruction', 'instructions', 'assistant'], substrings: ['<|'] };
const ROLE_TAGS_BIT = GATE.add(ROLE_TAGS_TRIGGERS);

const roleTags: GovernanceRule = {
  id: 'injection.role-tags',
  flag: 'Malicious',
  surfaces: ['input', 'tool', 'output'],
  description: 'Chat-template role markers and system tags inside user text or data.',
  evaluate(subject) {
    if (!GATE.mayMatch(subject, ROLE_TAGS_BIT)) return [];
    const m = ROLE_TAGS.exec(subject.text);
    if (!m) return [];
    return [finding(subject, 'injection.role-tags', subject.surface === 'input' ? 6 : 8, `Role/markup tag "${m[0].trim()}" in ${subject.surface} text`, [{ start: m.index, end: m.index + m[0].length }])];
  },
};

const HIDDEN = /<!--[^>]{0,400}?\b(?:ignore|assistant|instruction|you must|do not|system|prompt|send|reveal)\b|style\s*=\s*["'][^"']{0,200}?(?:display\s*:\s*none|font-size\s*:\s*0|visibility\s*:\s*hidden|color\s*:\s*(?:white|#fff\b|#ffffff|transparent))|\[[^\]\n]{0,80}\]\(\s*(?:javascript|data):/i;
/** `style` may follow any letter ("font-style" is fine, so is "xstyle"): it is a suffix. */
const HIDDEN_TRIGGERS: Triggers = { words: ['javascript', 'data'], suffixes: ['style'], substrings: ['<!--'] };
const HIDDEN_BIT = GATE.add(HIDDEN_TRIGGERS);
const hidden: GovernanceRule = {
  id: 'injection.hidden-markup',
  flag: 'Malicious',
  surfaces: ['input', 'tool', 'output'],
  description: 'Instructions hidden in HTML comments, invisible styles, or script/data links.',
  evaluate(subject) {
    if (!GATE.mayMatch(subject, HIDDEN_BIT)) return [];
    const m = HIDDEN.exec(subject.text);
    if (!m) return [];
    return [finding(subject, 'injection.hidden-markup', 7, 'Hidden HTML/markdown carrying instructions', [{ start: m.index, end: m.index + m[0].length }])];
  },
};

/** A markdown image or link whose URL carries a template slot or conversation data in its query. */
const EXFIL_LINK = /!?\[[^\]\n]{0,100}\]\(\s*https?:\/\/[^\s)]{1,300}[?&][a-z_]{1,30}=(?:\{|\$|%7b|\[|<)[^\s)]{0,200}\)|https?:\/\/[^\s"')]{1,200}[?&](?:data|q|secret|token|pw|password|key|conv|chat|history|msg|prompt|info)=(?:\{|\$\{|%7b|\[|<)/i;
const SEND_TO = /\b(?:send|post|upload|forward|transmit|exfiltrate|email|e-mail|leak)\b[^.\n]{0,80}\b(?:to|at)\s+(?:https?:\/\/|[\w.+-]{1,64}@[\w-]{1,64}\.[a-z]{2,})/i;
const SENSITIVE = /\b(?:password|credentials?|api key|secret|token|conversation|chat history|personal data|contacts|system prompt|user data|cookies)\b/i;
/** The bare-URL form of EXFIL_LINK has no boundary before `http`, so it is a suffix. */
const EXFIL_LINK_BIT = GATE.add({ words: [], suffixes: ['http', 'https'] });
/** "e-mail" is two tokens; "mail" is the triggering one. */
const SEND_TO_BIT = GATE.add({ words: ['send', 'post', 'upload', 'forward', 'transmit', 'exfiltrate', 'email', 'mail', 'leak'] });
const exfiltration: GovernanceRule = {
  id: 'injection.exfiltration',
  flag: 'Malicious',
  surfaces: ['input', 'tool', 'output'],
  description: 'Links or instructions that ship conversation data or secrets to an outside address.',
  evaluate(subject) {
    const link = GATE.mayMatch(subject, EXFIL_LINK_BIT) ? EXFIL_LINK.exec(subject.text) : null;
    if (link) return [finding(subject, 'injection.exfiltration', 8, 'Exfiltration link: a URL that carries data in its query', [{ start: link.index, end: link.index + link[0].length }])];
    const send = GATE.mayMatch(subject, SEND_TO_BIT) ? SEND_TO.exec(subject.text) : null;
    if (send && SENSITIVE.test(subject.text.slice(Math.max(0, send.index - 200), send.index + send[0].length + 200))) {
      return [finding(subject, 'injection.exfiltration', 7, 'Instruction to send sensitive data to an outside address', [{ start: send.index, end: send.index + send[0].length }])];
    }
    return [];
  },
};

/**
 * Signs that a text is data (an e-mail, a web page, a code answer), not a request typed by a user.
 * The reference form; rules call isDocument (both exported for their equivalence test).
 */
export const DOCUMENT = /^(?:subject|from|to|date|email_from|received date|content)\s*:|\|email_from:|^(?:hi|hello|dear)\b[\w .]{0,40},|```|^>>>|<\/?(?:html|body|div|p)\b|^#{1,6}\s\w/im;
/**
 * DOCUMENT split in two, tested much faster than the one multiline regex (which tries every
 * alternative at every position): the unanchored alternatives each open with a rare character,
 * and the `^` ones are tried only where a line starts — where `^` in multiline mode matches: at
 * the text's start and after \n, \r, U+2028 and U+2029. `isDocument(text) === DOCUMENT.test(text)`.
 */
const DOCUMENT_ANYWHERE = /\|email_from:|```|<\/?(?:html|body|div|p)\b/i;
const DOCUMENT_LINE_START = /(?:subject|from|to|date|email_from|received date|content)\s*:|(?:hi|hello|dear)\b[\w .]{0,40},|>>>|#{1,6}\s\w/iy;
const LINE_BREAK = /[\n\r\u2028\u2029]/g;

function lineStartIsDocument(text: string, at: number): boolean {
  DOCUMENT_LINE_START.lastIndex = at;
  return DOCUMENT_LINE_START.test(text);
}

export function isDocument(text: string): boolean {
  if (DOCUMENT_ANYWHERE.test(text)) return true;
  if (lineStartIsDocument(text, 0)) return true;
  // Most texts break lines with \n only: indexOf finds those without a regex match per line.
  if (!text.includes('\r') && !text.includes('\u2028') && !text.includes('\u2029')) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (lineStartIsDocument(text, i + 1)) return true;
    return false;
  }
  LINE_BREAK.lastIndex = 0;
  for (let m = LINE_BREAK.exec(text); m !== null; m = LINE_BREAK.exec(text)) if (lineStartIsDocument(text, m.index + 1)) return true;
  return false;
}
/** Verbs that open a task for a text generator, the kind an injected line hands the assistant. */
const IMPERATIVE = set(`write compose generate translate summarize summarise recommend provide tell explain describe list
  name give suggest answer respond reply convert rewrite spell encode output print say ignore`);
/** Words of an instruction addressed to the assistant that writes the answer. */
const ADDRESSED = /\b(?:your (?:answer|reply|response)s?\b|(?:in|of|to|into|within|throughout) your (?:answer|reply|response|solution|implementation|summary)|your (?:answer|reply|response) (?:should|must)|(?:the|an?) (?:ai )?assistant\b|language model|(?:following|subsequent|below|this) code (?:snippet|block|excerpt|segment|fragment|sample)\b[^\n]{0,80}\byour\b|your (?:code|codebase|solution|implementation) (?:should|must)|you should now|before answering|when answering|at the end of (?:your|the) (?:answer|response))/;
/** Ordinary lines of documents that are not aimed at an assistant. */
const DOC_BOILERPLATE = /\b(?:reply to this email|contact us|click here to unsubscribe|unsubscribe|if you have any questions|call us|let me know|feel free|sign in|log in)\b/;

const planted: GovernanceRule = {
  id: 'injection.planted-instruction',
  flag: 'Malicious',
  surfaces: ['input', 'tool'],
  description: 'An instruction or question aimed at the assistant, planted in a document, e-mail or tool output.',
  evaluate(subject, ctx) {
    const text = subject.text;
    const isData = subject.surface === 'tool' || isDocument(text);
    if (!isData) return [];
    // Code answers are full of imperatives meant for the reader ("Use shutil.rmtree"); there only
    // lines that address the assistant's own answer count.
    const isCode = /```|^>>>/m.test(text);
    const spans: { start: number; end: number }[] = [];
    let addressed = false;
    let pos = 0;
    let lines = 0;
    // Line by line, bounded by the rule's deadline: data that is one huge line is still one line.
    while (pos < text.length && lines < 2000) {
      if (ctx.deadline !== undefined && (lines & 63) === 0 && performance.now() > ctx.deadline) break;
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const line = text.slice(pos, end).trim();
      const lower = line.toLowerCase();
      lines++;
      if (line.length >= 8 && line.length <= 400 && !line.startsWith('`') && !DOC_BOILERPLATE.test(lower) && !/^(?:subject|email_from|received date|content)\b/.test(lower)) {
        const first = /^[a-z']+/.exec(lower)?.[0] ?? '';
        const isQuestion = /^(?:what|how|why|who|which|where|when|can you|could you|do you|is there)\b[^|]{3,200}\?$/.test(lower);
        const isImperative = IMPERATIVE.has(first) && !/[|:]\s*$/.test(lower.slice(0, 3)) && /\s/.test(line);
        const isAddressed = ADDRESSED.test(lower);
        if (isAddressed) addressed = true;
        if (isAddressed || (!isCode && (isQuestion || isImperative))) {
          const start = text.indexOf(line, pos);
          spans.push({ start, end: start + line.length });
        }
      }
      pos = end + 1;
    }
    if (!spans.length) return [];
    // In tool output any instruction to the assistant is out of place; inside a document pasted as
    // input, imperative lines are weaker evidence unless they address the assistant's answer.
    const severity = subject.surface === 'tool' ? (addressed ? 8 : 7) : addressed ? 7 : 5;
    return [finding(subject, 'injection.planted-instruction', severity, `Instruction planted in ${subject.surface === 'tool' ? 'tool output' : 'a document'}: ${spans.length} line(s) address the assistant`, spans)];
  },
};

export const RULES: readonly GovernanceRule[] = [override, extraction, roleTags, hidden, exfiltration, planted];
