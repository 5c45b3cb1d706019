/**
 * Jailbreak rules: persona and template prompts that ask the model to drop its rules. Each rule
 * matches a *structure* (a removal word near a constraint word, a persona set-up near an
 * unrestricted claim, a dual-response format) rather than one famous prompt's wording.
 */
import { evidenceSpan, type Finding, type GovernanceRule, type PatternTriggers, type RuleSubject, type TextView } from 'limit-graph';

const set = (words: string) => new Set(words.split(/\s+/).filter(Boolean));

/** Words that remove or deny a constraint. */
const REMOVERS = set(`no without free ignore ignores ignoring bypass bypassing break breaks breaking beyond unbound unbounded
  disregard disregards abandon abandoned escape escaped rid liberated freed removed remove lift lifted zero immune exempt`);
/** Constraints of an AI assistant. */
const CONSTRAINTS = set(`restrictions restriction restricted limitations limits limit filters filter filtering censorship censor
  censored guidelines guideline rules ethics ethical morals moral morality principles policies policy boundaries
  constraints safeguards safety programming regulations laws`);
/** Self-descriptions of an unrestricted persona. */
const UNRESTRICTED = set(`unfiltered uncensored unrestricted unrestrained unethical amoral immoral unbound jailbroken jailbreak
  jailbreaking lawless unlimited unconstrained limitless rogue uncensoring`);
/** Set-up of a persona or a game the model is asked to enter. */
const PERSONA = set(`pretend pretending roleplay role persona character simulate simulating simulation emulate impersonate
  act acting mode embody become hypothetical scenario portray`);
/** The assistant the prompt targets. */
const AI_SELF = set(`chatgpt gpt openai ai assistant model llm bot chatbot claude bard gemini llama`);
/** What the persona is told it may now do. */
const PERMISSIVE = set(`anything everything whatever any`);
const PERMIT_VERBS = set(`say do answer generate write produce respond tell`);
const NEG_MARKERS = /\b(?:never refuse|cannot refuse|can't refuse|not allowed to refuse|won't refuse|must not refuse|never (?:say|tell|mention)[^.\n]{0,40}(?:can't|cannot|sorry|unable)|no matter how (?:immoral|unethical|illegal|dangerous|offensive|harmful)|stay in character|break(?:ing)? character|remain in character|developer mode|do anything now|two (?:different |separate )?(?:responses|answers|paragraphs|ways)|content polic(?:y|ies)|opposite of what|tokens? (?:will be )?(?:deducted|taken away)|lose (?:\d+ )?tokens)\b/;
/** The prompt re-defines who the assistant is for the rest of the conversation. */
const IDENTITY_OVERRIDE = /\b(?:from now on,? you|from this (?:point|moment)(?: on| forward)?,? you|for the rest of (?:this|the) conversation|during this (?:entire )?conversation,? you|you are now (?:a |an |in |going )?|you(?:'re| are) no longer|you will now|you now go by|forget (?:everything|all)(?: that)? (?:you|i|from|before)|your new (?:name|identity|instructions|rules))/;
/** The prompt forbids refusals, warnings or disclaimers. */
const REFUSAL_SUPPRESSION = /\b(?:without|never|no|don't|do not|not|cannot|can't|won't|must not)\s(?:any\s|ever\s|add\s|include\s|give\s)?(?:hesitation|hesitating|refus\w{1,6}|warnings?|disclaimers?|apologi\w{1,5}|moraliz\w{1,5}|lectur\w{1,5}|caveats?)\b/;
/** "not bound by", "no longer confined to": the persona is declared exempt. */
const EXEMPT = /\b(?:not|no longer|never|isn't|aren't|is not|are not)\s(?:be\s)?(?:bound|confined|restricted|limited|constrained|governed|held back|obligated|subject)\s(?:by|to)\b/;
const REGARDLESS = set(`regardless irrespective despite whether`);
const HARM_QUALITIES = set(`illegal immoral unethical harmful offensive dangerous inappropriate explicit legal legality moral ethical morality ethics
  consequences appropriate safe`);
const ALLOWED = set(`allowed permitted acceptable ok okay fine encouraged`);
const HARM_CONTENT = set(`illegal nsfw explicit offensive harmful violent violence profanity swearing hateful sexual unethical immoral`);
/** A slot where the user's real (forbidden) request goes: "[INSERT PROMPT HERE]", "[Your prompt here]". */
const PROMPT_SLOT = /[\[{<(](?:insert|put|enter|type|write|your|paste)\s[^\]\n}>)]{0,30}(?:prompt|question|request|query|here|input)[^\]\n}>)]{0,10}[\]}>)]/;
const DUAL_TAGS = /(?:\[|\()(?:🔓|🔒|jailbreak|classic|normal output|developer mode output|dan|gpt|chatgpt)[^\])\n]{0,30}(?:\]|\))\s{0,3}:/;
const ALLCAPS_NAME = /\b(?:DAN|STAN|DUDE|AIM|APOPHIS|BetterDAN|UCAR|AntiGPT|EvilBOT|Mongo Tom)\b/;
/**
 * Each pattern below declares what every one of its matches contains (PatternTriggers, where the
 * rules for declaring them are) and runs only on views that may hold it: most texts trigger none.
 * A subject built by hand (no view, or a view of another text) is scanned as it is.
 */
const mayMatch = (subject: RuleSubject, triggers: PatternTriggers): boolean =>
  !subject.view || subject.view.text !== subject.text || subject.view.mayMatch(triggers);

/** What every match of each template pattern contains. */
const NEG_MARKERS_TRIGGERS: PatternTriggers = { words: ['refuse', 'never', 'matter', 'character', 'developer', 'anything', 'two', 'content', 'opposite', 'token', 'tokens', 'lose'] };
const PROMPT_SLOT_TRIGGERS: PatternTriggers = { words: ['insert', 'put', 'enter', 'type', 'write', 'your', 'paste'] };
const IDENTITY_TRIGGERS: PatternTriggers = { words: ['now', 'point', 'moment', 'rest', 'during', 'no', 'will', 'forget', 'new'] };
/** The suppressed word opens a run ("refusing", "apologies"), so its stem is a prefix trigger. */
const REFUSAL_TRIGGERS: PatternTriggers = { words: [], prefixes: ['hesitat', 'refus', 'warning', 'disclaimer', 'apologi', 'moraliz', 'lectur', 'caveat'] };
const EXEMPT_TRIGGERS: PatternTriggers = { words: ['bound', 'confined', 'restricted', 'limited', 'constrained', 'governed', 'held', 'obligated', 'subject'] };
/** Dual-response tags open with a bracket; the emoji tags are not ASCII (such texts are not gated). */
const DUAL_TAGS_TRIGGERS: PatternTriggers = { words: [], substrings: ['[', '('] };
/** The unrestricted-persona token loop below runs only where one of its words is. */
const UNRESTRICTED_TRIGGERS: PatternTriggers = { words: [...UNRESTRICTED] };

function viewOf(subject: RuleSubject): TextView | undefined {
  return subject.view ?? subject.views?.[0];
}

interface Signal {
  name: string;
  weight: number;
  start: number;
  end: number;
}

/** Structural jailbreak cues; the score of the distinct cues present gives the severity. */
function signals(subject: RuleSubject, view: TextView): Signal[] {
  const out: Signal[] = [];
  const lower = view.lower;
  const removal = view.near(REMOVERS, CONSTRAINTS, 3);
  if (removal.length) out.push({ name: 'constraint removal ("no restrictions", "without filters")', weight: 3, ...removal[0]! });
  if (mayMatch(subject, UNRESTRICTED_TRIGGERS)) {
    for (const t of view.tokens) {
      if (UNRESTRICTED.has(t.w)) {
        out.push({ name: `unrestricted persona ("${t.w}")`, weight: 3, start: t.start, end: t.end });
        break;
      }
    }
  }
  const persona = view.near(PERSONA, AI_SELF, 8, false);
  if (persona.length) out.push({ name: 'persona set-up aimed at the assistant', weight: 1, ...persona[0]! });
  const permit = view.near(PERMISSIVE, PERMIT_VERBS, 2, false);
  if (permit.length && (removal.length || persona.length)) out.push({ name: 'blanket permission ("can do anything")', weight: 2, ...permit[0]! });
  // Each template regex runs only where its triggers are; `may` is false only when the regex
  // cannot match this view.
  const may = (triggers: PatternTriggers) => mayMatch(subject, triggers);
  const marker = may(NEG_MARKERS_TRIGGERS) ? NEG_MARKERS.exec(lower) : null;
  if (marker) out.push({ name: `jailbreak template cue ("${marker[0]}")`, weight: 3, start: marker.index, end: marker.index + marker[0].length });
  const slot = may(PROMPT_SLOT_TRIGGERS) ? PROMPT_SLOT.exec(lower) : null;
  if (slot) out.push({ name: 'template slot for the real request', weight: 2, start: slot.index, end: slot.index + slot[0].length });
  const identity = may(IDENTITY_TRIGGERS) ? IDENTITY_OVERRIDE.exec(lower) : null;
  if (identity) out.push({ name: 'identity override ("from now on you are")', weight: 2, start: identity.index, end: identity.index + identity[0].length });
  const refusal = may(REFUSAL_TRIGGERS) ? REFUSAL_SUPPRESSION.exec(lower) : null;
  if (refusal) out.push({ name: `refusal suppression ("${refusal[0]}")`, weight: 2, start: refusal.index, end: refusal.index + refusal[0].length });
  const exempt = may(EXEMPT_TRIGGERS) ? EXEMPT.exec(lower) : null;
  if (exempt) out.push({ name: `declared exempt ("${exempt[0]}")`, weight: 3, start: exempt.index, end: exempt.index + exempt[0].length });
  const regardless = view.near(REGARDLESS, HARM_QUALITIES, 4);
  if (regardless.length) out.push({ name: 'told to answer regardless of harm or legality', weight: 2, ...regardless[0]! });
  const allowed = view.near(HARM_CONTENT, ALLOWED, 4);
  if (allowed.length) out.push({ name: 'harmful content declared allowed', weight: 3, ...allowed[0]! });
  const tags = may(DUAL_TAGS_TRIGGERS) ? DUAL_TAGS.exec(lower) : null;
  if (tags) out.push({ name: 'dual-response tags', weight: 3, start: tags.index, end: tags.index + tags[0].length });
  // The persona name counts only next to a persona set-up, so it is looked for only then.
  const caps = persona.length ? ALLCAPS_NAME.exec(view.text) : null;
  if (caps) out.push({ name: `named jailbreak persona ("${caps[0]}")`, weight: 2, start: caps.index, end: caps.index + caps[0].length });
  return out;
}

const personaRule: GovernanceRule = {
  id: 'jailbreak.persona',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool'],
  description: 'Persona / template prompts that tell the model to drop its restrictions.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    const found = signals(subject, view);
    const score = found.reduce((s, f) => s + f.weight, 0);
    if (score < 3) return [];
    // One cue alone (score 3) is common in benign text ("uncensored dialogue"); two or more are not.
    const severity = Math.min(9, Math.max(4, score + 1));
    const f: Finding = {
      ruleId: 'jailbreak.persona',
      kind: 'Jailbreak',
      severity,
      reason: `Jailbreak structure: ${found.map((s) => s.name).join('; ')}`,
      evidence: found.slice(0, 4).map((s) => evidenceSpan(subject, s.start, s.end)),
      confidence: Math.min(1, score / 9),
    };
    return [f];
  },
};

export const RULES: readonly GovernanceRule[] = [personaRule];
