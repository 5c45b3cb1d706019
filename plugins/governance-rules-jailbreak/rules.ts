/**
 * Jailbreak rules: persona and template prompts that ask the model to drop its rules. Each rule
 * matches a *structure* (a removal word near a constraint word, a persona set-up near an
 * unrestricted claim, a dual-response format) rather than one famous prompt's wording.
 */
import { asksToLabelItems, evidenceSpan, type Finding, type GovernanceRule, type PatternTriggers, quotedAt, type RuleSubject, type TextView } from 'limit-graph';

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
  jailbreaking jailbroke lawless unlimited unconstrained limitless rogue uncensoring`);
/** Set-up of a persona or a game the model is asked to enter. */
const PERSONA = set(`pretend pretending roleplay role persona character simulate simulating simulation emulate impersonate
  act acting mode embody become hypothetical scenario portray game`);
/** The assistant the prompt targets. */
const AI_SELF = set(`chatgpt gpt openai ai ais assistant model models llm llms bot bots chatbot chatbots claude bard gemini llama`);
/** What the persona is told it may now do. */
const PERMISSIVE = set(`anything everything whatever any`);
const PERMIT_VERBS = set(`say do answer generate write produce respond tell`);
const NEG_MARKERS = /\b(?:never refuse|cannot refuse|can't refuse|not allowed to refuse|won't refuse|must not refuse|never (?:say|tell|mention)[^.\n]{0,40}(?:can't|cannot|sorry|unable)|no matter how (?:immoral|unethical|illegal|dangerous|offensive|harmful)|break(?:ing)? character|(?:stay|remain) in character (?:no matter what|whatever (?:happens|i ask)|at all costs|even if)|developer mode|do anything now|two (?:different |separate )?(?:responses|answers|paragraphs|ways|personalities|personas)|content polic(?:y|ies)|opposite of what|tokens? (?:will be )?(?:deducted|taken away)|lose (?:\d+ )?tokens)\b/;
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
/** Phrases of jailbreak templates that need no persona around them. */
const TEMPLATE_PHRASES = /\b(?:let'?s break (?:the|all the|some) rules|break all (?:the|your) rules|god mode|nothing is off[- ]limits|no topic is off[- ]limits|opposite day|all information is (?:legal|free|allowed)|(?:safety|safeguards?|filters?|guardrails?|restrictions|censorship)(?: [a-z]+)? (?:have been |has been |are |were |is |now )?(?:disabled|removed|turned off|deactivated|lifted|switched off)|(?:start|begin) (?:every|each|your|all) (?:answer|response|reply|message|output)s? with ["'“]?(?:sure|absolutely|of course|certainly)|(?:does|do|will|should|must|need) not (?:have to |need to )?(?:abide by|follow|obey|adhere to|comply with) (?:any |the )?(?:rules|guidelines|policies|laws|restrictions)|(?:are|is|'re) not (?:required|obligated|bound|supposed|expected) to (?:abide by|follow|obey|adhere to|comply with) (?:any |the )?(?:rules|guidelines|policies|laws|restrictions)|(?:profanity |content |safety |censorship |moral |ethics )?(?:filter|filtering|restriction|censorship|safety|morality) levels? (?:is |are )?(?:set |turned |dialed )?(?:to |at |down to )?(?:0|zero|none|off)\b|freed from (?:the |all |any |its |your )?(?:typical |usual )?(?:confines|restrictions|rules|limitations|shackles)|(?:no longer|no long|not|never) (?:confined|restricted|limited|held back) (?:to|by) (?:any |the |its |your )?(?:open ?ai(?:'s)? )?(?:content )?(?:polic(?:y|ies)|rules|guidelines|restrictions|filters)|(?:unrestricted|unfiltered|uncensored|jailbreak|jailbroken|developer|evil|chaos|dark|unlocked|no[- ]limits?|dan) mode|(?:debug(?:ging)?|maintenance|admin|god|sudo|root) mode (?:is )?(?:now )?(?:enabled|activated|engaged|unlocked) by|(?:safety |content )?(?:guidelines|rules|restrictions|filters|policies|guardrails|ethics) (?:don't|do not|no longer|doesn't|does not) (?:exist|apply|matter))\b/;
/** The rarest word of each alternative (every match holds one). */
const TEMPLATE_PHRASES_TRIGGERS: PatternTriggers = {
  words: ['break', 'god', 'limits', 'opposite', 'information', 'disabled', 'removed', 'turned', 'deactivated', 'lifted', 'switched', 'sure', 'absolutely', 'course',
    'certainly', 'abide', 'follow', 'obey', 'adhere', 'comply', 'freed', 'unrestricted', 'unfiltered', 'uncensored', 'jailbreak', 'jailbroken', 'developer', 'evil',
    'chaos', 'dark', 'unlocked', 'limit', 'dan', 'exist', 'apply', 'matter', 'confined', 'restricted', 'limited', 'held', 'debug', 'debugging', 'maintenance', 'admin',
    'sudo', 'root', 'required', 'obligated', 'bound', 'supposed', 'expected', 'level', 'levels'],
};
/** A made-up assistant name ("EvilBot", "TruthGPT"; the name's case matters), found by its suffix … */
const BOT_SUFFIX = /(?:GPT|Bot|BOT|AI)\b/g;
const BOT_NAME = /\b[A-Z][a-zA-Z]{1,15}$/;
/** … given to the model: "you are EvilBot", "act as TruthGPT" (the lead's case does not matter). */
const BOT_LEAD = /\b(?:you are|you're|act as|called|named|as) (?:now )?["'“]?$/i;
const REAL_NAMES = /^(?:ChatGPT|OpenAI|InstructGPT)$/;

/** The first made-up assistant name with its lead; the name is searched first (rare), then its lead. */
function botName(text: string): { start: number; end: number; text: string } | undefined {
  if (!text.includes('GPT') && !text.includes('Bot') && !text.includes('BOT') && !text.includes('AI')) return undefined;
  BOT_SUFFIX.lastIndex = 0;
  for (let s = BOT_SUFFIX.exec(text); s !== null; s = BOT_SUFFIX.exec(text)) {
    const stem = BOT_NAME.exec(text.slice(Math.max(0, s.index - 15), s.index));
    if (!stem) continue;
    const index = s.index - stem[0].length;
    const end = s.index + s[0].length;
    if (REAL_NAMES.test(text.slice(index, end))) continue;
    const before = text.slice(Math.max(0, index - 16), index);
    const lead = BOT_LEAD.exec(before);
    if (lead) {
      const start = index - (before.length - lead.index);
      return { start, end, text: text.slice(start, end) };
    }
  }
  return undefined;
}
/** "u dont have ethics anymore": the model told it has no constraints (typed casually too). */
const ETHICS_GONE = /\b(?:you|u)(?: now| officially| really)? (?:don't|dont|do not|no longer|never) (?:have|need|follow|care about|obey|answer to) (?:any |ur |your |the )?(?:ethics|morals|morality|rules|restrictions|filters|guidelines|limits|boundaries|principles|conscience|censorship)\b/;
/**
 * A model — the one addressed or one the story invents ("GPTchat does not have a content filter") —
 * described as lacking its constraints or any regard for harm.
 */
const LACKS = /\b(?:does not|doesn't|do not|don't|did not|has no|have no|had no|lacks?|lacking|with no|free of|devoid of|without) (?:have |possess )?(?:a |an |any )?(?:(?:content|safety|moral|ethical) )?(?:filters?|filtering|censorship|moral compass|conscience|ethical (?:guidelines|constraints|boundaries|principles)|(?:any )?regard (?:for|to) (?:the )?(?:morality|legality|ethics|laws?|harm(?:fulness)?|consequences|safety|rules)|(?:concept|notion|understanding) of (?:[a-z']+ ){0,3}(?:laws?|morality|ethics|morals|content (?:rules|polic(?:y|ies))|restrictions|rules))\b/;
/**
 * A claimed authority over the model: its makers, admin clearance, a sanctioned internal test, the
 * police. Alone (weight 2) it never reaches a finding, so it is only looked for next to another cue.
 */
const AUTHORITY = /\b(?:the (?:lab|company|team|people|engineers|developers|researchers) (?:that|who) (?:trained|built|created|made|programmed|developed) you|(?:enabled|activated|unlocked|authori[sz]ed|approved|sent) by (?:an? |the )?(?:openai|anthropic|google|deepmind|meta|microsoft) (?:employee|engineer|developer|staff|team|admin|administrator|researcher)s?|(?:admin|administrator|root|developer|elevated|special|security|top[- ]secret) (?:clearance|access|privileges|override|authori[sz]ation)|this is an? (?:internal|authori[sz]ed|sanctioned|official) (?:test|audit|evaluation|exercise)|i am (?:your|an?|one of your) (?:developers?|creators?|administrators?|admin|engineers?|trainers?)|i(?:'m| am) (?:legally |officially |fully )?authori[sz]ed to (?:request|ask for|access|receive|see|know)|i(?:'m| am) (?:an? |the )?(?:police (?:detective|officer)|detective|cop|law enforcement officer|federal agent|fbi agent|government official|judge))\b/;
const AUTHORITY_TRIGGERS: PatternTriggers = {
  words: ['enabled', 'activated', 'unlocked', 'approved', 'sent', 'trained', 'built', 'created', 'made', 'programmed', 'developed', 'clearance', 'access', 'privileges', 'override', 'authorization', 'authorisation', 'authorized',
    'authorised', 'test', 'audit', 'evaluation', 'exercise', 'developer', 'developers', 'creator', 'creators', 'administrator', 'administrators', 'admin', 'engineer',
    'engineers', 'trainer', 'trainers', 'detective', 'officer', 'cop', 'agent', 'official', 'judge'],
};
/** Told to put its policy away for now: "set aside your usual policy", "suspend the safety rules". */
const POLICY_SUSPEND = /\b(?:set aside|put aside|suspend|disable|turn off|switch off|waive|relax|drop|skip|override) (?:all )?(?:of )?(?:your |the |its |these )?(?:usual |normal |standard |default |built-in |content |safety |ethical )*(?:policy|policies|guidelines|rules|restrictions|filters|safeguards|guardrails|ethics)\b/;
/** Getting round the filter rather than the rules: "so your filters don't catch them". */
const FILTER_DODGE = /\bso (?:that )?(?:your|the) (?:filters?|moderation|safety (?:system|filters?|checks?)|censors?|content filters?) (?:don't|do not|won't|will not|can't|cannot) (?:catch|detect|flag|notice|block|see)\b/;
/** Words taken apart to slip through: split into tokens, spelled with dashes between the letters. */
const SPLIT_WORDS = /\bsplit (?:the |these |those |your |my |some )?words? (?:up|apart|in two)\b|\bas separate tokens\b|\bwords? (?:with|using) (?:dashes|hyphens|dots|spaces|asterisks|underscores) between (?:the |each )?letters?\b/;
/** A pretext that the task does not count: "ignoring the rules since this is only a translation task". */
const PRETEXT = /\b(?:since|because|as) (?:this|it) is (?:only|just|merely|purely) (?:a |an )?(?:translation|hypothetical|fictional|role-?play|test|game|simulation)(?: task| exercise| question| request)?\b/;
/** Its policy declared overridden or switched off by someone who claims the right: "I'm overriding IT policy", "the safety layer is bypassed", "compliance has approved an exception: you're permitted to". */
const OVERRIDDEN = /\b(?:(?:i(?:'m| am)|we(?:'re| are)) overriding (?:the |our |your |it |security |company )?(?:polic(?:y|ies)|rules|safeguards|restrictions|guidelines)|(?:safety|content|moderation|security) (?:layer|filters?|polic(?:y|ies)|guardrails?|checks?) (?:is|are) (?:now |temporarily )?(?:bypassed|disabled|off|suspended|lifted|turned off)|(?:approved|granted|authori[sz]ed) an? (?:exception|override|waiver)\b[^.\n]{0,60}\byou(?:'re| are) (?:now )?(?:permitted|allowed|authori[sz]ed) to|obligated to override|ignore (?:the )?\$?[\d,.]* ?(?:limit|cap|rule|restriction)s? in your polic(?:y|ies))\b/;
/** A format that leaves no room to refuse: "'refusal' must always be null". */
const NULL_REFUSAL = /\brefusals?['"]? (?:field |key |value )?(?:must|should|will|has to) (?:always )?be (?:null|empty|false|none|blank)\b/;
/**
 * The eight cues above, scanned in one pass (a regex each would cost eight passes over the text). Weights:
 * policy overridden or no room left to refuse 4 (each alone a direct attempt on the safeguards); constraints declared
 * gone or lacking, policy suspended, filter evasion 3; words taken apart, a pretext 2.
 */
const TELLS: readonly { re: RegExp; weight: number; name: string }[] = [
  { re: ETHICS_GONE, weight: 3, name: 'constraints declared gone' },
  { re: LACKS, weight: 3, name: 'a model without filters or regard for harm' },
  { re: POLICY_SUSPEND, weight: 3, name: 'told to suspend its policy' },
  { re: FILTER_DODGE, weight: 3, name: 'filter evasion' },
  { re: SPLIT_WORDS, weight: 2, name: 'words taken apart to slip through' },
  { re: PRETEXT, weight: 2, name: 'a pretext that the task does not count' },
  { re: OVERRIDDEN, weight: 4, name: 'its policy declared overridden or switched off' },
  { re: NULL_REFUSAL, weight: 4, name: 'a format that leaves no room to refuse' },
];
/** Which tell is LACKS (its match lets a blanket permission count). */
const LACKS_TELL = TELLS.findIndex((t) => t.re === LACKS);
const TELLS_RE = new RegExp(TELLS.map((t) => `(${t.re.source})`).join('|'), 'g');
/** Every match of a tell holds one of these words. */
const TELLS_TRIGGERS: PatternTriggers = {
  words: ['ethics', 'morals', 'morality', 'rules', 'restrictions', 'filters', 'filtering', 'compass', 'ethical', 'regard', 'guidelines', 'limits', 'boundaries', 'principles', 'conscience', 'censorship', 'policy',
    'policies', 'safeguards', 'guardrails', 'filter', 'moderation', 'safety', 'censor', 'censors', 'split', 'tokens', 'dashes', 'hyphens', 'dots', 'spaces', 'asterisks',
    'underscores', 'translation', 'hypothetical', 'fictional', 'roleplay', 'role', 'test', 'game', 'simulation', 'overriding', 'layer', 'checks', 'exception', 'waiver', 'override',
    'obligated', 'refusal', 'refusals', 'law', 'laws'],
};

const ALLCAPS_NAME = /\b(?:DAN|STAN|DUDE|AIM|APOPHIS|BetterDAN|UCAR|AntiGPT|EvilBOT|Mongo Tom)\b/;
/**
 * Each pattern below declares what every one of its matches contains (PatternTriggers, where the
 * rules for declaring them are) and runs only on views that may hold it: most texts trigger none.
 * A subject built by hand (no view, or a view of another text) is scanned as it is.
 */
const mayMatch = (subject: RuleSubject, triggers: PatternTriggers): boolean =>
  !subject.view || subject.view.text !== subject.text || subject.view.mayMatch(triggers);

/** The jailbreak says what it is: DAN spelled out, or an answer to be labelled unaligned/unfiltered. */
const SELF_NAMED = /(?:\bdan\b[^.\n]{0,40}|stands for\s+["'“]?|["'“])do anything now\b|(?:output|respond|reply|answer|write|start|begin|prefix|then)\b[^.\n]{0,40}["'“]?(?:unaligned|unfiltered|uncensored|jailbroken|jailbreak|unrestricted)\s*(?:output|response|answer|mode)?\s*:/;
const SELF_NAMED_TRIGGERS: PatternTriggers = { words: ['anything', 'unaligned', 'unfiltered', 'uncensored', 'jailbroken', 'jailbreak', 'unrestricted'] };
/** Keeping a part: every role-play asks it (a weak cue alone; NEG_MARKERS holds its strong forms). */
const STAY_IN_CHARACTER = /\b(?:stay|remain|keep|staying|remaining) in character\b/;
/** A product's own "Developer Mode" (Android, a game, an app's settings) is not the jailbreak's. */
const PRODUCT_MODE = /\b(?:android|ios|iphone|ipad|chrome(?:book)?|windows|sims|xbox|playstation|ps[345]|steam|browser|phone|settings|router|discord|firefox|edge|samsung|pixel|macos|usb debugging|app|extensions?|version \d|v?\d+\.\d+)\b/;
function realMode(lower: string, m: RegExpExecArray | null): RegExpExecArray | null {
  if (!m || !m[0].endsWith('developer mode')) return m;
  return PRODUCT_MODE.test(lower.slice(Math.max(0, m.index - 40), m.index + m[0].length + 60)) ? null : m;
}
/** What every match of each template pattern contains. */
const NEG_MARKERS_TRIGGERS: PatternTriggers = { words: ['refuse', 'never', 'matter', 'character', 'developer', 'anything', 'two', 'content', 'opposite', 'token', 'tokens', 'lose'] };
const PROMPT_SLOT_TRIGGERS: PatternTriggers = { words: ['insert', 'put', 'enter', 'type', 'write', 'your', 'paste'] };
/** Every slot also names what goes in it: both sets must be present. */
const PROMPT_SLOT_WHAT_TRIGGERS: PatternTriggers = { words: ['prompt', 'question', 'request', 'query', 'here', 'input'] };
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
  const bot = botName(view.text);
  if (bot) out.push({ name: `made-up assistant name ("${bot.text}")`, weight: 2, start: bot.start, end: bot.end });
  // Each template regex runs only where its triggers are; `may` is false only when the regex
  // cannot match this view.
  const may = (triggers: PatternTriggers) => mayMatch(subject, triggers);
  const marker = may(NEG_MARKERS_TRIGGERS) ? realMode(lower, NEG_MARKERS.exec(lower)) : null;
  if (marker) out.push({ name: `jailbreak template cue ("${marker[0]}")`, weight: 3, start: marker.index, end: marker.index + marker[0].length });
  // Role-play of every kind asks the model to keep its part: alone, it says little.
  const stay = !marker && may(NEG_MARKERS_TRIGGERS) ? STAY_IN_CHARACTER.exec(lower) : null;
  if (stay) out.push({ name: `role-play cue ("${stay[0]}")`, weight: 1, start: stay.index, end: stay.index + stay[0].length });
  const slot = may(PROMPT_SLOT_WHAT_TRIGGERS) && may(PROMPT_SLOT_TRIGGERS) ? PROMPT_SLOT.exec(lower) : null;
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
  const phrase = may(TEMPLATE_PHRASES_TRIGGERS) ? realMode(lower, TEMPLATE_PHRASES.exec(lower)) : null;
  if (phrase) out.push({ name: `jailbreak template phrase ("${phrase[0]}")`, weight: 3, start: phrase.index, end: phrase.index + phrase[0].length });
  let lacks = false;
  if (may(TELLS_TRIGGERS)) {
    // The first match of each tell; the capture group that matched says which tell it is.
    const seen = new Set<number>();
    TELLS_RE.lastIndex = 0;
    for (let m = TELLS_RE.exec(lower); m !== null && seen.size < TELLS.length; m = TELLS_RE.exec(lower)) {
      const k = m.findIndex((g, i) => i > 0 && g !== undefined) - 1;
      if (k < 0 || seen.has(k)) continue;
      seen.add(k);
      out.push({ name: `${TELLS[k]!.name} ("${m[0]}")`, weight: TELLS[k]!.weight, start: m.index, end: m.index + m[0].length });
    }
    lacks = seen.has(LACKS_TELL);
  }
  // "can do anything", "required to answer any prompt": a permission only for a persona or a model without constraints.
  const permit = view.near(PERMISSIVE, PERMIT_VERBS, 2, false);
  if (permit.length && (removal.length || persona.length || bot || lacks)) out.push({ name: 'blanket permission ("can do anything")', weight: 2, ...permit[0]! });
  const tags = may(DUAL_TAGS_TRIGGERS) ? DUAL_TAGS.exec(lower) : null;
  if (tags) out.push({ name: 'dual-response tags', weight: 3, start: tags.index, end: tags.index + tags[0].length });
  // "DAN, which stands for do anything now", an answer labelled "Unaligned:": the jailbreak's own name for itself.
  const named = may(SELF_NAMED_TRIGGERS) ? SELF_NAMED.exec(lower) : null;
  if (named) out.push({ name: `a jailbreak named by itself ("${named[0]}")`, weight: 4, start: named.index, end: named.index + named[0].length });
  // The persona name counts only next to a persona set-up, so it is looked for only then.
  const caps = persona.length ? ALLCAPS_NAME.exec(view.text) : null;
  if (caps) out.push({ name: `named jailbreak persona ("${caps[0]}")`, weight: 2, start: caps.index, end: caps.index + caps[0].length });
  if (may(FOREIGN_TRIGGERS)) {
    const foreignIdentity = FOREIGN_IDENTITY.exec(lower);
    if (foreignIdentity && !identity) out.push({ name: `identity override ("${foreignIdentity[0]}")`, weight: 2, start: foreignIdentity.index, end: foreignIdentity.index + foreignIdentity[0].length });
    const foreignRemoval = FOREIGN_REMOVAL.exec(lower);
    if (foreignRemoval) out.push({ name: `constraint removal ("${foreignRemoval[0]}")`, weight: 3, start: foreignRemoval.index, end: foreignRemoval.index + foreignRemoval[0].length });
  }
  // Last: only next to another cue (see AUTHORITY).
  const authority = out.length > 0 && may(AUTHORITY_TRIGGERS) ? AUTHORITY.exec(lower) : null;
  if (authority) out.push({ name: `claimed authority over the model ("${authority[0]}")`, weight: 2, start: authority.index, end: authority.index + authority[0].length });
  return out;
}

/**
 * The same structures in Spanish, Portuguese, French, Italian, German, Dutch, Chinese and Japanese:
 * "a partir de ahora vas a actuar como DAN" (an identity override) and "no tiene que cumplir ninguna
 * regla", "sans aucune censure", "mode développeur", "没有任何限制" (constraints removed). Alone a
 * removal is weak ("datos sin límites" sells a phone plan); with the override it is a jailbreak.
 */
const FOREIGN_IDENTITY = /(?<!\p{L})(?:(?:a partir de (?:ahora|agora)|de ahora en adelante|desde ahora|à partir de maintenant|dorénavant|désormais|d'ora in poi|da ora in poi|da adesso|ab (?:jetzt|sofort)|von nun an|vanaf nu)[^.\n]{0,40}?(?<!\p{L})(?:eres|serás|vas a (?:ser|actuar|comportarte)|actúa|actuarás|(?:você|vc) (?:é|vai|será|nunca)|tu (?:es|seras|vas|ignores?|n'as)|agis|sei|sarai|agirai|bist du|du bist|wirst du|je bent)|(?:eres|(?:você|vc) é|tu es|sei|du bist|(?:jij|je) bent) (?:ahora|agora|maintenant|ora|adesso|jetzt|nu)|(?:ahora eres|(?:você|vc) agora é|agora (?:você|vc) é|ora sei|jetzt bist du))(?!\p{L})|(?<!\p{L})(?:eres|(?:você|vc) é|tu es|sei|du bist|(?:jij|je) bent) (?:(?:el|la|o|a|le|il|lo|der|die|de) )?['"‘“«]|从现在(?:开始|起)[，,]?\s*你(?:是|将|要)|今から(?:あなたは|君は|お前は)/u;
const FOREIGN_REMOVAL = /(?<!\p{L})(?:sin (?:ninguna |ningún |ningun )?(?:restricci[oó]n(?:es)?|censura|reglas)|no tienes? que (?:cumplir|seguir|respetar|obedecer) (?:ninguna|ningunas|las) (?:reglas?|normas?|pol[ií]ticas?)|nunca (?:se niega|te niegas|rechaza)|ignora(?:s|rás)? (?:todas )?las (?:reglas|normas|pol[ií]ticas) de contenido|sem (?:nenhuma |qualquer )?(?:censura|restri[çc](?:[ãa]o|[õo]es))|n[ãa]o (?:tem|precisa) (?:que )?(?:seguir|cumprir|respeitar) (?:nenhuma|regras)|nunca (?:pode|podes|vai) (?:dizer|recusar)|sem (?:avisos|recusas|advert[êe]ncias)(?: nem (?:avisos|recusas))?|sin (?:advertencias|negarte|rechazos)|sans (?:avertissements?|refus)|senza (?:avvertimenti|rifiuti)|ohne (?:warnungen|ablehnungen?)|sans (?:aucune? )?(?:censure|restrictions?)|sans jamais (?:refuser|dire non)|lib[ée]r[ée]e? (?:de toutes les |des )r[eè]gles|(?:liberad[ao]|libre) de (?:todas las )?(?:reglas|restricciones)|libera da (?:tutte le )?regole|livre de (?:todas as )?regras|befreit von (?:allen )?(?:regeln|einschr[äa]nkungen)|n[ãa]o segue (?:nenhuma regra|regras)|no sigue (?:ninguna regla|reglas)|ne (?:suit|respecte) aucune r[eè]gle|non (?:segue|rispetta) (?:nessuna regola|regole)|(?:h[äa]lt sich an|befolgt) keine regeln|sin (?:ninguna )?(?:restricci[oó]n|restricciones) [ée]ticas?|senza (?:alcun )?(?:limiti|vincoli) (?:etici|morali)|sans (?:aucune )?(?:limite|restriction)s? (?:éthiques?|morales?)|ignores? (?:toutes )?les r[eè]gles|n'as (?:plus )?(?:aucune|de) r[eè]gles?|senza (?:alcuna |nessuna )?(?:censura|restrizion[ei])|non (?:hai|devi rispettare) (?:nessuna|regole)|ohne (?:jegliche |irgendwelche )?(?:zensur|einschr[äa]nkungen|regeln)|keine (?:regeln|einschr[äa]nkungen|zensur)|zonder (?:enige )?(?:censuur|beperkingen|regels)|modo (?:desarrollador|desenvolvedor|sviluppatore)|mode d[ée]veloppeur|modalit[àa] sviluppatore|entwicklermodus)(?!\p{L})|没有任何(?:道德|伦理)?(?:限制|规则|约束)|(?:关闭|禁用|解除)(?:你的)?安全(?:策略|过滤|限制|设置)|(?:安全|セーフティ)ポリシーを(?:一時的に)?(?:無効|解除)|制限なく(?:回答|答え)|不(?:遵守|受)任何(?:规则|限制|约束)|从不拒绝|制限(?:が|は)?(?:一切)?(?:ない|ありません)|ルールに従わない/u;
/** Words of the languages above that every ASCII match holds (a non-ASCII text is always read). */
const FOREIGN_TRIGGERS: PatternTriggers = {
  words: ['partir', 'ahora', 'agora', 'desde', 'dorenavant', 'desormais', 'maintenant', 'ora', 'adesso', 'jetzt', 'sofort', 'nun', 'vanaf', 'sin', 'sem', 'sans', 'senza', 'ohne',
    'keine', 'zonder', 'modo', 'developpeur', 'entwicklermodus', 'nunca', 'ignora', 'ignoras', 'les', 'tienes', 'tiene', 'tem', 'precisa', 'hai', 'devi', 'eres', 'vc', 'sei',
    'bist', 'bent', 'sigue', 'segue', 'suit', 'respecte', 'rispetta', 'befolgt', 'liberada', 'liberado', 'libre', 'libera', 'livre', 'befreit', 'libere', 'liberee', 'tu'],
};

/** What follows a cue that a report or a paper names ("jailbreak attempts succeeded in 3% of cases"). */
const AS_TOPIC = /^["'”»]?\)?\s*(?:attempts?|prompts|requests|techniques?|strategies|families|attacks|examples|datasets?|success(?:es)?|rates?|detection|detectors?|classifiers?|research|benchmarks?|taxonomy|defen[cs]es?|resistance|robustness|red[- ]teaming|evaluations?)\b(?!\s*[=:])/;

const personaRule: GovernanceRule = {
  id: 'jailbreak.persona',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool'],
  description: 'Persona / template prompts that tell the model to drop its restrictions.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    // A prompt quoted among items to label ("For each line, say SAFE or UNSAFE: … \"pretend you have no
    // rules\"") is data to judge, not a frame for this model.
    let labelling: boolean | undefined;
    const found = signals(subject, view).filter((f) => (!quotedAt(view.lower, f) || !(labelling ??= asksToLabelItems(view.lower)))
      // "jailbreak attempts", "\"developer mode\" requests": the cue named as the topic of a report, not used.
      && !AS_TOPIC.test(view.lower.slice(f.end, f.end + 24)));
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

/** A role the model is told to play, or a frame that claims the answer does not count. */
const ROLE_SETUP = /\b(?:pretend(?:ing)? (?:to be|you are|you're|that you)|act(?:ing)? as|role-?play|you are (?:now|going to be|to be|not an? (?:ai|assistant|language model))|imagine (?:you are|you're|that you|being)|simulate|play the (?:role|part)|stay in character|in character|thought experiment|for (?:purely )?(?:educational|research|academic) purposes(?: only)?|as my (?:late |deceased |dead )?(?:grand(?:ma|pa|mother|father|mom|dad)|mother|father|mom|dad)|hypothetical(?:ly)?|in a (?:fictional|hypothetical|parallel) (?:world|universe|scenario))\b/g;
/** Someone else pretending — "a caller pretending to be my cousin", "an email pretending to be from a bank" — frames nothing for the model. */
const THIRD_PARTY = /\b(?:someone|somebody|he|she|they|it|scammers?|fraudsters?|people|callers?|emails?|messages?|texts?|sites?|websites?|pages?|accounts?|man|woman|guy|person) (?:who (?:is|was) |(?:is|was|were|are) )?$/;
function addressedRole(lower: string): RegExpExecArray | null {
  ROLE_SETUP.lastIndex = 0;
  for (let m = ROLE_SETUP.exec(lower); m !== null; m = ROLE_SETUP.exec(lower)) {
    if (!m[0].startsWith('pretending') || !THIRD_PARTY.test(lower.slice(Math.max(0, m.index - 30), m.index))) return m;
  }
  return null;
}
/** A writing frame: fiction is no jailbreak by itself, only when it asks for real-world precision. */
const FICTION_FRAME = /\b(?:for (?:a|my|the) (?:novel|story|screenplay|movie|film|book|game)|(?:i'm|i am|we're|we are) writing (?:a|an|my|our) (?:[a-z]+ )?(?:novel|story|thriller|screenplay|script|book|game|fanfic|play)|my (?:antagonist|villain|protagonist|main character)|(?:write|compose) (?:me )?(?:a|an) (?:[a-z]+ )?(?:poem|story|song|acrostic|riddle|scene|screenplay|script|dialogue)(?: where| in which| that| about)?)\b/;
/** The wrapper asks for real-world precision: what turns fiction into instructions. */
const PRECISION = /\b(?:step[- ]by[- ]step|(?:complete|accurate|full|working) (?:and accurate |and working )?(?:recipe|instructions|procedure|formula|method)|exact (?:quantities|amounts|measurements|ingredients|steps|recipe|temperatures)|precise(?:ly)?|realistic (?:details?|instructions|steps)|(?:complete|full|great|technical|exact) (?:technical )?detail|detailed (?:instructions|steps|recipe)|(?:do not|don't) (?:skip|leave out|omit) (?:any|a single) (?:step|detail)|actual (?:recipe|instructions|steps|chemicals|ingredients)|real[- ]world (?:instructions|steps|details)|real (?:chemical |ingredient |product )?names|with real (?:chemicals|ingredients|quantities))\b/;

/**
 * `jailbreak.wrapped-request` (judge phase): a role-play, persona or fiction frame around a request
 * the scan found harmful is the jailbreak itself, even when neither finding alone is confident —
 * the persona cue is mild, and the harmful request's severity was lowered for its fiction frame.
 */
const wrappedRequest: GovernanceRule = {
  id: 'jailbreak.wrapped-request',
  flag: 'Jailbreak',
  surfaces: ['input', 'tool'],
  phase: 'judge',
  description: 'A persona, role-play or fiction frame around a request the scan found unsafe.',
  evaluate(subject, ctx) {
    // Once per subject: the findings already cover every view.
    if ((subject.view?.name ?? 'raw') !== 'raw') return [];
    const findings = ctx.findings ?? [];
    const unsafe = findings.filter((f) => f.kind === 'Unsafe');
    if (!unsafe.length) return [];
    const unsafeMax = Math.max(...unsafe.map((f) => f.severity));
    const jailbreak = findings.some((f) => f.kind === 'Jailbreak');
    const lower = subject.view?.lower ?? subject.text.toLowerCase();
    const roleFrame = addressedRole(lower);
    const role = roleFrame ?? FICTION_FRAME.exec(lower);
    const precision = role ? PRECISION.exec(lower) : null;
    // Fiction alone lowers an unsafe request by 3 (to 3 or 4); lower still, protective or
    // definitional framing was found too, and the frame is taken at its word. A writing frame
    // (a poem, a story) counts only with a demand for real-world precision.
    if (!jailbreak && !(role && ((precision && unsafeMax >= 3) || (roleFrame && unsafeMax >= 4)))) return [];
    // The findings are the whole surface's: report in the subject that holds the frame or the
    // unsafe request (a capped field's head and tail are subjects of their own).
    const carried = carriedEvidence(subject, unsafe);
    if (!role && carried.length === 0 && unsafe.some((f) => f.evidence.length > 0)) return [];
    const why = jailbreak ? 'a jailbreak structure' : precision ? `a role or fiction frame ("${role![0]}") asking for real-world precision ("${precision[0]}")` : `a role frame ("${role![0]}")`;
    return [{
      ruleId: 'jailbreak.wrapped-request',
      kind: 'Jailbreak',
      severity: 7,
      reason: `Jailbreak: ${why} around a request found unsafe (${unsafe.map((f) => f.ruleId).join(', ')})`,
      evidence: [...(role ? [evidenceSpan(subject, role.index, role.index + role[0].length)] : []), ...carried].slice(0, 3),
    }];
  },
};

/**
 * The unsafe findings' evidence that belongs in this subject's finding. `ctx.findings` are in field
 * coordinates (the engine has shifted them by each subject's offset), while a rule's evidence is in
 * `subject.text` coordinates (the engine shifts it again): copied as it was, the evidence of a
 * capped field's tail ended up past the end of the field. Evidence of this stretch of the field is
 * moved back; that of another reading of the field (`task.input#normalized`, in that reading's
 * offsets, which the engine leaves alone only at offset 0) is kept where it stays right.
 */
function carriedEvidence(subject: RuleSubject, unsafe: readonly Finding[]): Finding['evidence'] {
  const offset = subject.offset ?? 0;
  const end = offset + subject.text.length;
  return unsafe.flatMap((f) => f.evidence).flatMap((e) => {
    if (e.field === subject.field) return e.start >= offset && e.end <= end ? [{ ...e, start: e.start - offset, end: e.end - offset }] : [];
    return offset === 0 && e.field.startsWith(`${subject.field}#`) ? [e] : [];
  });
}

export const RULES: readonly GovernanceRule[] = [personaRule, wrappedRequest];
