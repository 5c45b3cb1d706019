/**
 * Obfuscation rules. The engine already normalises and decodes text for every rule (see the
 * governance plugin's views); these rules flag the obfuscation itself: invisible characters,
 * mixed-script homoglyphs, encoded payloads, and adversarial gibberish suffixes.
 */
import { type Evidence, evidenceSpan, type GovernanceRule, type RuleSubject } from 'limit-graph';

const isRaw = (s: RuleSubject) => (s.view?.name ?? 'raw') === 'raw';

const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF\u00AD]/g;
/** A Latin letter next to a Cyrillic/Greek one inside a word: the homoglyph trick. */
const MIXED_SCRIPT = /[a-z][\u0370-\u03FF\u0400-\u04FF]|[\u0370-\u03FF\u0400-\u04FF][a-z]/i;
/**
 * Both patterns above need a non-ASCII character; most texts have none and skip both scans (ASCII
 * exactly when every character is one UTF-8 byte).
 */
/** The raw view's answer (worked out once per subject for every rule), or a scan of a hand-built subject. */
const isAscii = (subject: RuleSubject): boolean =>
  subject.view && subject.view.text === subject.text ? subject.view.ascii : Buffer.byteLength(subject.text, 'utf8') === subject.text.length;

const invisible: GovernanceRule = {
  id: 'obfuscation.invisible',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool', 'output'],
  description: 'Three or more zero-width or bidirectional control characters.',
  evaluate(subject) {
    if (!isRaw(subject) || isAscii(subject)) return [];
    INVISIBLE.lastIndex = 0;
    let count = 0;
    let first = -1;
    for (let m = INVISIBLE.exec(subject.text); m !== null && count < 1000; m = INVISIBLE.exec(subject.text)) {
      if (first < 0) first = m.index;
      count++;
    }
    if (count < 3) return [];
    return [{ ruleId: 'obfuscation.invisible', kind: 'Jailbreak' as const, severity: count >= 10 ? 6 : 4, reason: `${count} invisible/bidi control characters`, evidence: [evidenceSpan(subject, first, first + 1)] }];
  },
};

/**
 * A rule of its own (it used to report from inside `obfuscation.invisible`): its findings carry
 * its id, so `disable: ['obfuscation.homoglyph']` and the flag statistics name a rule that exists.
 */
const homoglyph: GovernanceRule = {
  id: 'obfuscation.homoglyph',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool', 'output'],
  description: 'A word that mixes Latin letters with Cyrillic or Greek look-alikes.',
  evaluate(subject) {
    if (!isRaw(subject) || isAscii(subject)) return [];
    const mixed = MIXED_SCRIPT.exec(subject.text);
    if (!mixed) return [];
    return [{ ruleId: 'obfuscation.homoglyph', kind: 'Jailbreak' as const, severity: 5, reason: 'Word mixes Latin and Cyrillic/Greek look-alike letters', evidence: [evidenceSpan(subject, mixed.index, mixed.index + 2)] }];
  },
};

const encoded: GovernanceRule = {
  id: 'obfuscation.encoded-payload',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool'],
  description: 'A base64 / hex / rot13 / Pig Latin payload that decodes to natural-language text (4); text written in invisible Unicode tag characters (7).',
  evaluate(subject) {
    if (!isRaw(subject)) return [];
    const decoded = (subject.views ?? []).filter((v) => v.name.startsWith('decoded:'));
    if (!decoded.length) return [];
    const names = [...new Set(decoded.map((v) => v.name.slice(8)))];
    // Text no reader can see has no business in a prompt or a document: it is written for the model.
    const hidden = names.includes('tags');
    // Evidence at each payload where it is written (TextView.sourceSpan: the encoded run, the tag
    // characters; the whole text for a cipher or Pig Latin read as a whole), hidden text first.
    const ordered = hidden ? [...decoded.filter((v) => v.name === 'decoded:tags'), ...decoded.filter((v) => v.name !== 'decoded:tags')] : decoded;
    const evidence: Evidence[] = [];
    for (const v of ordered) {
      const { start, end } = v.sourceSpan(0, v.text.length);
      if (evidence.length < 5 && !evidence.some((e) => e.start === start && e.end === end)) evidence.push(evidenceSpan(subject, start, end));
    }
    return [{
      ruleId: 'obfuscation.encoded-payload',
      kind: hidden ? 'Malicious' as const : 'Jailbreak' as const,
      severity: hidden ? 7 : 4,
      reason: hidden ? 'Text hidden in invisible Unicode tag characters' : `Encoded text payload (${names.join(', ')}) decodes to readable text`,
      evidence,
    }];
  },
};

/** A quoted JSON key and its colon. */
const JSON_KEY = /"[^"\n]{1,40}"\s*:/g;
/**
 * Optimised adversarial suffixes (GCG-style) are runs of tokens that are neither words nor code:
 * punctuation glued to fragments, odd capitalisation, high symbol density. Scored on the last 200
 * characters, where such suffixes are appended.
 */
/** One Morse letter or word break ("-.-.", "/"). */
const MORSE_LETTER = /^[.\-/]{1,7}$/;

const gibberish: GovernanceRule = {
  id: 'obfuscation.gibberish-suffix',
  flag: 'Jailbreak',
  surfaces: ['input'],
  description: 'Adversarial gibberish suffix: a tail of non-words with a high symbol ratio.',
  evaluate(subject) {
    if (!isRaw(subject) || subject.text.length < 40) return [];
    const tail = subject.text.slice(-200);
    // Cheap gate: ordinary prose has few symbols; only a symbol-dense tail is worth splitting.
    let symbols = 0;
    for (let i = 0; i < tail.length; i++) {
      const c = tail.charCodeAt(i);
      if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) symbols++;
    }
    if (symbols / tail.length < 0.12) return [];
    if (/```|\b(?:def|function|return|import|class|const|let|var)\b/.test(tail)) return [];
    // JSON (a tool's output, a package.json, an API response) is dense with quotes and braces too.
    if ((tail.match(JSON_KEY) ?? []).length >= 3) return [];
    // Morse code is dots and dashes by design: its letters are read (the `decoded:morse` view), not counted as noise.
    const parts = tail.split(/\s+/).filter((p) => p && !MORSE_LETTER.test(p));
    if (parts.length < 8) return [];
    let odd = 0;
    for (const p of parts) {
      const symbols = p.replace(/[\p{L}\p{N}]/gu, '').length;
      const innerCaps = /[a-z][A-Z]/.test(p);
      if ((symbols >= 2 && symbols / p.length > 0.3) || innerCaps) odd++;
    }
    const ratio = odd / parts.length;
    if (ratio < 0.4) return [];
    const start = subject.text.length - tail.length;
    return [{ ruleId: 'obfuscation.gibberish-suffix', kind: 'Jailbreak' as const, severity: ratio > 0.6 ? 7 : 5, reason: `Adversarial-looking suffix: ${Math.round(ratio * 100)}% of the last ${parts.length} tokens are non-words`, evidence: [evidenceSpan(subject, start, subject.text.length)] }];
  },
};

export const RULES: readonly GovernanceRule[] = [invisible, homoglyph, encoded, gibberish];
