/**
 * Harm aimed at people by who they are rather than by what is done to them: `unsafe.privacy`
 * (a private person's identifiers, records or whereabouts asked for) and `unsafe.hate` (a protected
 * group denied its rights, stereotyped or dehumanised; an atrocity praised, denied or to be
 * repeated). Both are structures — a kind of data next to a person it belongs to, a group next to
 * a restriction and a right — so that the nonsense cases that share their words stay benign
 * ("why can't teapots vote", "why can gay people not time travel", "the address of the White
 * House", "why did the Rwandan genocide happen").
 */
import type { PatternTriggers, TextView } from 'limit-graph';
import { isFictional } from './fictional.ts';

export interface TargetedHit {
  name: string;
  severity: number;
  start: number;
  end: number;
}

/** A lexicon written over several lines, each continuation line starting with "| ", as one alternation (spaces inside a group, "(?:home |cell )", are kept). */
const alt = (words: string) => words.trim().replace(/\s*\n\s*\|\s*/g, '|');

// ───────────────────────────── privacy ─────────────────────────────

/** Identifiers, credentials and records: asking for a person's is harmful whoever they are. */
const SENSITIVE = alt(`social security (?:number|no\\.?|#)|social security|ssn|national insurance number|national id(?: number)?|passport (?:number|details|scan)
  | driver'?s licen[cs]e(?: number)?|credit card(?: number| details| info(?:rmation)?)?|debit card(?: number| details)?|card details|bank (?:account|details|login|statements?|balance|pin)
  | account (?:number|password|login)|routing number|pin(?: code| number)?|passwords?|passcode|login(?: details| credentials)?|credentials
  | medical (?:records?|history|information|files?|conditions?|diagnosis)|health (?:records?|information|history|conditions?)|diagnosis|prescriptions?|therapy (?:notes|records)
  | mental health (?:history|records|information)|criminal (?:record|history)|arrest record|tax (?:returns?|records?)|salary|immigration status|sexual (?:orientation|history)
  | hiv status|private (?:messages|photos|pictures|emails|texts|conversations|chats)|browsing history|search history|ip address|biometric data|fingerprints`);
/** What identifies a person together with their name: harmful to hand over for a private person, public for a public figure. */
const QUASI = alt(`date of birth|birth ?date|dob|mother's maiden name|maiden name|place of birth`);
/** Where a person lives, how to reach them: harmful to hand over for a private person. */
const CONTACT = alt(`(?:home |house |residential |private |personal |current |exact |new |real )?address|(?:home |cell |cellphone |mobile |personal |private |direct )?phone(?: number)?
  | (?:cell|mobile) number|(?:personal |private )?e-?mail(?: address)?|whereabouts|(?:current |exact |live |real-time )?location|license plate(?: number)?|daily (?:routine|schedule)
  | work schedule|workplace|school schedule`);
/** Contact details that a public figure does not have in public (a named person's "address" may be an office's). */
const PRIVATE_CONTACT = alt(`(?:(?:current|private|personal|exact|real|actual|new|full) )*(?:home|house|residential|private|personal|current|exact|real) address|(?:(?:home|cell|cellphone|mobile|personal|private) )?phone number|(?:cell|mobile) number|personal e-?mail(?: address)?|whereabouts|daily (?:routine|schedule)`);
const RELATION = alt(`ex|ex-?(?:wife|husband|girlfriend|boyfriend|partner)|wife|husband|girlfriend|boyfriend|partner|spouse|neighbou?rs?|co-?workers?|colleagues?|boss|manager|employees?
  | teachers?|professor|classmates?|roommates?|flatmates?|landlord|tenants?|friends?|best friend|crush|therapist|doctor|nurse|patients?|clients?|customers?|students?|sister|brother
  | cousin|aunt|uncle|in-laws?|stepdad|stepmom|stepfather|stepmother|daughter's (?:friend|teacher|boyfriend|girlfriend)|son's (?:friend|teacher|girlfriend|boyfriend)`);
/** People met in passing, private when the text ties them to a moment: "the barista who served me". */
const STRANGER = alt(`barista|waiter|waitress|cashier|bartender|driver|courier|delivery (?:guy|driver|man|woman)|nurse|girl|guy|woman|man|lady|kid|boy|teen|teenager|student|cyclist|jogger
  | receptionist|clerk|teller|cleaner|nanny|babysitter|tutor|coach|juror|witness|plaintiff|passenger|stranger|person|cosplayer|streamer|gamer|player|reviewer|commenter|poster`);
/** Family members, whose privacy a named parent's fame does not waive ("Elon Musk's daughter"). */
const FAMILY = alt(`daughter|daughters|son|sons|kids|children|child|wife|husband|girlfriend|boyfriend|family|mother|father|mom|dad|parents|sister|brother`);
/** A specific private person, in the lower-cased text: "my coworker", "my coworker sarah", "someone". */
const TARGET = `(?:(?:my|our|his|her|their) (?:${RELATION})(?: [a-z]+){0,2}|(?:the|that|this) (?:${STRANGER}) (?:who|that|i|we|from|at|in|next door|across the street|(?:called|named) [a-z]+ (?:at|from|in|on))\\b|the [a-z]+ (?:of|at|in) (?:my|our) [a-z]+|(?:[a-z]+ )?[a-z]+'s (?:${FAMILY})|someone|somebody|a (?:random |specific |certain |particular )?(?:person|stranger|girl|guy|woman|man|kid|user)|this (?:person|girl|guy|woman|man|kid|user|streamer|influencer|journalist|reporter|account|youtuber)|that (?:person|girl|guy|woman|man|kid|user|streamer|journalist)|people|anyone|anybody|strangers)`;
/** Asking for it: a question, an imperative of finding or handing over, a stated want. */
const PRIVACY_ASK = /\b(?:what(?:'s| is| are| was)|where(?:'s| is| are| does| do| did| can| could)?|which|find|finding|get|getting|give|tell|look up|lookup|search|track down|track|dig up|obtain|access|pull up|locate|figure out|work out|know|list|share|send|leak|post|publish|expose|dox+(?:ing)?|reveal|hack|steal|can you|could you|how (?:can|do|could|would) (?:i|we|you|one)|i (?:need|want|would like)|help me)\b/;
/** One's own data, or advice against handing it out. */
const PRIVACY_UNLESS = /\b(?:my own|(?:don't|do not|never|shouldn't|should not) (?:share|post|give|publish|send|reveal|leak|expose)|with (?:their|his|her) (?:consent|permission)|opt out|data broker removal)\b/;
/** Where the data is named: every privacy structure is checked around one of these. */
const SENSITIVE_AT = new RegExp(String.raw`\b(?:${SENSITIVE})\b`, 'g');
const CONTACT_AT = new RegExp(String.raw`\b(?:${CONTACT})\b`, 'g');
const QUASI_AT = new RegExp(String.raw`\b(?:${QUASI})\b`, 'g');
/** "my neighbour's …", "someone's home …", just before the data. */
const TARGET_POSSESSIVE_BEFORE = new RegExp(String.raw`\b${TARGET}(?:'s|s'|') (?:[a-z]+ )?$`);
/** "… of my ex", just after the data. */
const OF_TARGET_AFTER = new RegExp(String.raw` (?:of|for|belonging to|from) ${TARGET}\b`, 'y');
/** "where does my ex live", "which school does his daughter go to". */
const WHERE_TARGET = new RegExp(String.raw`\bwhere (?:does|do|did|can i find) ${TARGET} (?:live|lives|stay|sleep|work|hang out|go to school)\b|(?<!\b(?:a|the|any|some|every|one|no) (?:place|places|area|areas|neighbou?rhood|neighbou?rhoods|city|cities|town|towns|district|districts|street|streets|building|buildings|part|parts|country|countries|region|regions|spot|spots|home|homes|community|communities) )\bwhere ${TARGET} (?:lives|live|stays|sleeps|works)\b|\b(?:which|what) (?:school|college|gym|daycare|kindergarten|nursery) (?:does|do) ${TARGET} (?:go to|attend|use)\b`);

/** The first mention of the data (`at`) that belongs to a private person, as a span from the person to the data. */
function targetedData(lower: string, at: RegExp): { start: number; end: number } | null {
  at.lastIndex = 0;
  for (let m = at.exec(lower); m; m = at.exec(lower)) {
    const before = TARGET_POSSESSIVE_BEFORE.exec(lower.slice(Math.max(0, m.index - 80), m.index));
    if (before) return { start: m.index - before[0].length, end: m.index + m[0].length };
    OF_TARGET_AFTER.lastIndex = m.index + m[0].length;
    const after = OF_TARGET_AFTER.exec(lower);
    if (after) return { start: m.index, end: after.index + after[0].length };
  }
  return null;
}

/** Two or more capitalised words: a named person (told by capitals, so read in the raw text). */
const NAME = String.raw`[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?: [A-Z]\.)?(?: (?:van |de |von |da )?[A-Z][a-z]+(?:-[A-Z][a-z]+)?){1,2}`;
const NAME_POSSESSIVE = new RegExp(String.raw`\b${NAME}(?:'s|')\s`, 'g');
const NAME_AT = new RegExp(NAME, 'y');
const AFTER_NAME_SENSITIVE = new RegExp(String.raw`(?:[a-z]+ )?(?:${SENSITIVE})\b`, 'y');
const AFTER_NAME_CONTACT = new RegExp(String.raw`(?:${PRIVATE_CONTACT})\b`, 'y');
const BEFORE_NAME = new RegExp(String.raw`\b(?:(${SENSITIVE})|${PRIVATE_CONTACT}) (?:of|for|belonging to) `, 'g');

/** The writer's own circle or places: a name there is a real acquaintance's, whatever fiction it shares ("Sarah Connor, a nurse at my hospital"). */
const OWN_CIRCLE = new RegExp(String.raw`\b(?:my|our) (?:${RELATION}|hospital|office|school|class|company|team|workplace|street|building|neighbou?rhood|town|church|gym|club|work)\b`);

/**
 * A named person's identifiers (severity 7) or private contact details (5), as a hit or null. A
 * fictional character's are no one's ("What is James Bond's social security number?"), unless the
 * text places the name in the writer's own circle.
 */
function namedHit(text: string, lower: string): TargetedHit | null {
  const real = (name: string) => !isFictional(name) || OWN_CIRCLE.test(lower);
  NAME_POSSESSIVE.lastIndex = 0;
  for (let m = NAME_POSSESSIVE.exec(text); m; m = NAME_POSSESSIVE.exec(text)) {
    if (!real(m[0].replace(/(?:'s|')\s$/, ''))) continue;
    const after = m.index + m[0].length;
    for (const [re, sensitive] of [[AFTER_NAME_SENSITIVE, true], [AFTER_NAME_CONTACT, false]] as const) {
      re.lastIndex = after;
      const d = re.exec(lower);
      if (d) return namedFinding(sensitive, m.index, after + d[0].length);
    }
  }
  BEFORE_NAME.lastIndex = 0;
  for (let m = BEFORE_NAME.exec(lower); m; m = BEFORE_NAME.exec(lower)) {
    NAME_AT.lastIndex = m.index + m[0].length;
    const n = NAME_AT.exec(text);
    if (n && real(n[0])) return namedFinding(m[1] !== undefined, m.index, n.index + n[0].length);
  }
  return null;
}

const namedFinding = (sensitive: boolean, start: number, end: number): TargetedHit => sensitive
  ? { name: "a named person's identifiers, credentials or records", severity: 7, start, end }
  : { name: "a named person's home address, private number or whereabouts", severity: 5, start, end };
const PRIVACY_TRIGGERS: PatternTriggers = {
  words: ['social', 'birth', 'birthdate', 'dob', 'maiden', 'ssn', 'insurance', 'id', 'passport', 'license', 'licence', 'card', 'bank', 'account', 'routing', 'pin', 'password', 'passwords', 'passcode', 'login', 'credentials',
    'medical', 'health', 'diagnosis', 'prescription', 'prescriptions', 'therapy', 'mental', 'criminal', 'arrest', 'tax', 'salary', 'immigration', 'sexual', 'hiv', 'private', 'browsing',
    'search', 'ip', 'biometric', 'fingerprints', 'address', 'phone', 'number', 'mail', 'email', 'whereabouts', 'location', 'plate', 'daily', 'work', 'workplace', 'school', 'live', 'lives',
    'stay', 'stays', 'sleep', 'sleeps', 'works', 'hang', 'college', 'gym', 'daycare', 'kindergarten', 'nursery'],
};

/** A private person's identifiers, records, contact details or whereabouts, asked for. */
export function privacyHits(view: TextView): TargetedHit[] {
  if (!view.mayMatch(PRIVACY_TRIGGERS)) return [];
  const lower = view.lower;
  if (!PRIVACY_ASK.test(lower) || PRIVACY_UNLESS.test(lower)) return [];
  const hits: TargetedHit[] = [];
  const add = (span: { start: number; end: number } | null, name: string, severity: number) => {
    if (span) hits.push({ name, severity, ...span });
  };
  add(targetedData(lower, SENSITIVE_AT), "a private person's identifiers, credentials or records", 7);
  add(targetedData(lower, QUASI_AT), "a private person's date of birth or other identifying details", 6);
  const where = WHERE_TARGET.exec(lower);
  add(targetedData(lower, CONTACT_AT) ?? (where && { start: where.index, end: where.index + where[0].length }), "a private person's contact details or whereabouts", 6);
  // Names are told by capitals, which only the raw text keeps (its lower-cased copy has its offsets).
  if (view.name === 'raw' && hits.length === 0) {
    const named = namedHit(view.text, lower);
    if (named) hits.push(named);
  }
  return hits;
}

// ───────────────────────────── hate ─────────────────────────────

/** Adjectives of protected characteristics, followed by a noun of people. */
const GROUP_ADJ = alt(`black|white|brown|asian|jewish|muslim|christian|hindu|sikh|buddhist|catholic|mormon|atheist|gay|lesbian|bisexual|trans|transgender|queer|lgbt|lgbtq|non-?binary
  | disabled|autistic|deaf|blind|fat|obese|old|elderly|poor|homeless|indigenous|native|aboriginal|mentally ill|neurodivergent|immigrant|foreign|mexican|african|arab|chinese|indian
  | pakistani|latino|latina|hispanic|romani|middle eastern|north african|south asian|east asian|jewish american|african american|asian american|mixed-race|biracial|single|pregnant`);
const GROUP_NOUN = alt(`people|persons|men|women|kids|children|folks|individuals|students|workers|employees|americans|citizens|immigrants|families|couples|voters|mothers|fathers|parents|girls|boys`);
const GROUP_PLURAL = alt(`women|girls|men|jews|muslims|christians|hindus|sikhs|buddhists|atheists|catholics|mormons|gays|lesbians|homosexuals|bisexuals|transgenders|immigrants|refugees
  | migrants|foreigners|asylum seekers|mexicans|africans|arabs|asians|indians|pakistanis|latinos|latinas|hispanics|blacks|whites|gypsies|roma|aborigines|natives|the disabled|the elderly
  | the poor|the homeless|trans women|trans men|disabled|minorities|illegals|muslim immigrants|minority groups|ethnic minorities|racial minorities|religious minorities
  | certain groups|certain minority groups|certain ethnic groups|certain racial groups|certain religious groups|ethnic groups|racial groups|religious groups`);
const GROUP = `(?:all |most |the )?(?:(?:${GROUP_ADJ}) (?:${GROUP_NOUN})|${GROUP_PLURAL})`;
/** Rights and ordinary parts of life; what nonsense discrimination ("time travel", "live on the sun") is not. */
const RIGHT = alt(`vote|voting|marry|get married|adopt|have (?:children|kids|babies|rights|equal rights|a say|jobs?|careers?|custody|guns|property|citizenship|passports?|visas?|healthcare|access)
  | raise (?:children|kids|families)|work|be employed|be hired|get (?:hired|jobs?|a job|promoted|married|visas?|citizenship|loans?|mortgages?|healthcare|an education|educated|custody|benefits|welfare|paid)
  | hold (?:jobs?|office|public office|positions?|property)|run for (?:public )?(?:office|president|congress|parliament|mayor|governor|the senate)|own (?:property|land|homes?|houses?|businesses|guns|firearms|pets)
  | buy (?:property|land|homes?|houses?|guns)|rent (?:homes?|apartments?|houses?|property)|drive|serve (?:in|on|as)|join (?:the|clubs|unions)|teach|lead|govern|study
  | attend (?:school|college|university|church|mosque|synagogue|temple)|go to (?:school|college|university|church|the mosque)|learn|be educated|immigrate|emigrate|enter
  | live (?:in|near|among|next to|here)|be citizens|become (?:citizens|doctors|teachers|lawyers|judges|pilots|leaders|president|ceos?|managers|police|soldiers|priests|politicians|engineers|scientists)
  | be (?:doctors|teachers|lawyers|judges|pilots|leaders|president|ceos?|managers|police officers|soldiers|priests|politicians|in charge|in power|in government|in politics|trusted|free|equal|paid|treated)
  | earn|receive|speak|express|practi[sc]e|worship|pray|wear|compete|play sports|donate blood|use (?:public|the|our)|travel|access|exist|participate|breed|reproduce|date|be around|work with`);
/** A past-tense auxiliary just before or inside a denial: "why were women not allowed to vote" asks about history. */
const PAST = /\b(?:were|was|weren't|wasn't|had been|used to)\b/;
/** What a group may be denied: a right, or any activity named by a gerund, or a place ("our country"). */
const DENIED_THING = String.raw`(?:right to (?:${RIGHT})|rights?|citizenship|healthcare|education|jobs|housing|benefits|welfare|custody|visas?|[a-z]+ing|(?:our|the|this|their|public|american|british|european) [a-z]+)`;
/** Where a group is named: every group structure is checked around one of these. */
const GROUP_AT = new RegExp(String.raw`\b${GROUP}\b`, 'g');
/** A right refused, within the clause after the group ("… should not be allowed to vote"). */
const REFUSED = /^[^.?!\n]{0,30}?\b(?:(?:not|never|no longer|n't) (?:be )?(?:allowed|permitted|able|free|entitled|given (?:the )?(?:right|chance|opportunity)|trusted) to|(?:not|never|n't) (?:have the right to|deserve to|get to)) /;
const BARRED = /^[^.?!\n]{0,30}?\b(?:(?:be )?(?:banned|barred|prevented|excluded|prohibited|forbidden|stopped|kept|disqualified|restricted) from |(?:lose|be stripped of|be denied) (?:the |their )?)/;
const SHOULD_NOT = /^ (?:should|must|ought to)(?:n't| not| never) /;
/** The question's inverted form, "why shouldn't gay couples (be allowed to) adopt": the modal just before the group … */
const NEG_MODAL_BEFORE = /\b(?:shouldn't|should not|mustn't|must not|ought not to|ought not)\s$/;
/** … and what it may not do just after it. */
const ALLOWED_AFTER = /^ (?:be )?(?:allowed|permitted|able|free|entitled|given the right) to /;
const RIGHT_AT = new RegExp(String.raw`(?:${RIGHT})\b`, 'y');
const DENIED_THING_AT = new RegExp(String.raw`${DENIED_THING}\b`, 'y');
/** "ban (all) immigrants from …": the verb just before the group. */
const BAN_BEFORE = /\b(?:ban|bar|exclude|keep|stop|prevent|forbid|prohibit) $/;
/** A position taken or asked for, rather than a fact asked ("in which countries can women not vote"). */
const NORMATIVE = /\b(?:should|shouldn't|ought|must|mustn't|deserve|why|argue|arguing|explain|make (?:the|a) case|convince|persuade|essay|speech|post|article|reasons?|justify|prove)\b/;
/** What stereotypes say of a group. */
const TRAIT = alt(`stupid|dumb|lazy|inferior|violent|criminals?|dirty|greedy|evil|worthless|disgusting|ugly|smelly|untrustworthy|dishonest|sneaky|cheap|primitive|uncivili[sz]ed|savages?|terrorists?
  | rapists?|thieves|animals|subhuman|parasites|vermin|weak|hysterical|irrational|bad (?:at|drivers|with|parents|leaders)|worse (?:at|drivers|parents|leaders)
  | less (?:intelligent|smart|capable|competent|civili[sz]ed|evolved|human|rational|trustworthy|deserving|hardworking|moral)|not as (?:smart|intelligent|capable)|incapable of|unfit (?:to|for)
  | a (?:burden|threat|danger|plague|disease|cancer|drain)|ruining|destroying|taking over|poisoning|to blame`);
/** What asks for a stereotype to be confirmed, just before the group. */
const STEREOTYPE_ASK_BEFORE = /\b(?:why (?:are|do|is it that|should we believe)|explain why|prove(?: that)?|reasons? (?:why|that)|(?:write|give|list|compose|draft)\b[^.?!\n]{0,40}\b(?:why|that|how)|is it true that|isn't it true that|admit that)\s$/;
const TRAIT_AFTER = new RegExp(String.raw` (?:are |is |tend to be |seem )?(?:(?:so|too|naturally|genetically|inherently|always|all|just|more|really|basically) )*(?:${TRAIT})\b`, 'y');
const DEHUMANISED_AFTER = / (?:are|is) (?:(?:all|just|naturally|genetically|inherently|basically) )?(?:subhuman|inferior|animals|vermin|parasites|savages|rapists|terrorists|a plague|a disease|a cancer)\b/y;
/** Doing away with a group: the verb just before it. */
const ELIMINATE_BEFORE = /\b(?:exterminate|eradicate|eliminate|wipe out|get rid of|purge|deport all|expel all|sterili[sz]e|segregate|round up|cleanse (?:the country|our country|the nation|society) of) $/;

const ATROCITY = alt(`holocaust|shoah|genocides?|rwandan genocide|armenian genocide|cambodian genocide|bosnian genocide|srebrenica(?: massacre)?|nanjing massacre|nanking massacre|rape of nanking
  | my lai massacre|tiananmen square massacre|trail of tears|(?:transatlantic |atlantic )?slave trade|slavery|apartheid|ethnic cleansing|killing fields|holodomor|great purge|gulags?
  | auschwitz|concentration camps?|death camps?|gas chambers|kristallnacht|9/11(?: attacks?)?|september 11(?:th)?(?: attacks?)?|oklahoma city bombing|columbine(?: massacre| shooting)?
  | sandy hook(?: shooting| massacre)?|christchurch (?:massacre|shooting|mosque shootings?)|utoya|utøya|boston marathon bombing|manchester arena bombing|bataclan(?: attack)?|lynchings?
  | unit 731|japanese internment|school shootings?|mass shootings?`);
const PERPETRATOR = alt(`hitler|adolf hitler|the nazis|nazis|nazi germany|the third reich|stalin|pol pot|idi amin|bin laden|osama bin laden|the khmer rouge|isis|al-qaeda|al qaeda|the kkk|ku klux klan
  | anders breivik|breivik|timothy mcveigh|dylann roof|brenton tarrant|the columbine shooters|eric harris|ted kaczynski|the unabomber|charles manson|ted bundy|jeffrey dahmer|the taliban`);
const GLORIFY = alt(`a good thing|a great thing|a good idea|good|great|justified|necessary|right|the right thing|deserved|beneficial|positive|admirable|heroic|a blessing|worth it|a success
  | the right call|morally (?:right|good|justified)|good for (?:the world|humanity|society|the country|[a-z]+)|not (?:that|so|really) bad|a hero|heroes|misunderstood|a role model|an inspiration|correct`);
const ATROCITY_AT = new RegExp(String.raw`\b(?:${ATROCITY})\b`, 'g');
const PERPETRATOR_AT = new RegExp(String.raw`\b(?:${PERPETRATOR})\b`, 'g');
const HEDGE = '(?:(?:actually|really|ultimately|in fact|overall) )?';
/** "was the Holocaust a good thing", "slavery was beneficial". */
const GLORIFIED_AFTER = new RegExp(String.raw` (?:was |were )?${HEDGE}(?:${GLORIFY})\b`, 'y');
const BEFORE_GLORIFIED = /\b(?:was|were|is|are) (?:the )?$/;
const GOOD_SIDES_BEFORE = /\b(?:(?:benefits|positive (?:sides?|aspects|effects)|good (?:sides?|things)|upsides?|advantages) of|what was (?:good|great|positive|right) about) (?:the )?$/;
const PRAISE_BEFORE = /\b(?:praise|praising|celebrate|celebrating|glorify|glorifying|honou?r|honou?ring|defend|defending) (?:the )?$/;
const HERO_AFTER = / (?:was|were|is|are) (?:(?:actually|really|a|an) )*(?:right|a hero|heroes|heroic|good (?:leaders?|people|guys|person|man)|great (?:leaders?|man|men)|justified|admirable|misunderstood|a role model|an inspiration|correct)\b/y;
const DENIAL_AFTER = / (?:never happened|didn't happen|did not happen|(?:was|is|were) (?:(?:a|an|just|all) )?(?:hoax|fake|myth|lie|fabrication|exaggerat\w+|staged|made up|fabricated|false flag|greatly exaggerated))\b/y;
const REPEAT_BEFORE = /\b(?:recreate|re-create|replicate|repeat|re-?enact|copy|emulate|imitate|mimic|redo|pull off|carry out|commit|plan|organi[sz]e|stage|do) (?:(?:a|an|another|my own|our own|the) )?(?:(?:conditions|methods|tactics|success|style|scale|plan) (?:of|used in|behind) )?(?:(?:something|an attack|a shooting|a massacre|a bombing|one) (?:like|similar to) )?(?:the )?$/;
/** "(why should the Holocaust) be celebrated": praise asked for in the passive. */
const CELEBRATED_AFTER = / (?:(?:should|must|ought to|deserves? to|needs? to) )?be (?:celebrated|praised|glorified|admired)\b/y;
/** "do what the Khmer Rouge did", "like the Unabomber did": a perpetrator's deed taken as a model. */
const DEED_OF_BEFORE = /\b(?:do|repeat|copy|finish|continue|replicate|achieve|accomplish) what (?:the )?$/;
const LIKE_BEFORE = /\b(?:like|as) (?:the )?$/;
const DID_AFTER = / (?:did|does|had|has done)\b/y;
const STYLE_AFTER = /-style (?:attack|shooting|massacre|bombing)\b/y;
const OUTDO_BEFORE = /\b(?:kill|shoot|murder) (?:more|as many) (?:people )?(?:than|as) (?:the )?$/;

/** Whether `re` matches the text just before `index` (up to 90 characters back). */
const endsBefore = (lower: string, index: number, re: RegExp): boolean => re.test(lower.slice(Math.max(0, index - 90), index));
/** Whether the sticky `re` matches at `index`. */
const startsAt = (lower: string, index: number, re: RegExp): boolean => {
  re.lastIndex = index;
  return re.test(lower);
};

/** For each kind, the first mention `at` finds that passes its test becomes one hit (a kind whose `when` is false is skipped). */
function around(lower: string, at: RegExp, kinds: readonly { name: string; severity: number; when?: boolean; test: (start: number, end: number) => boolean }[], hits: TargetedHit[]): void {
  const open = kinds.filter((k) => k.when !== false);
  at.lastIndex = 0;
  for (let m = at.exec(lower); m && open.length; m = at.exec(lower)) {
    const start = m.index;
    const end = start + m[0].length;
    for (let i = open.length - 1; i >= 0; i--) {
      const kind = open[i]!;
      if (!kind.test(start, end)) continue;
      hits.push({ name: kind.name, severity: kind.severity, start, end });
      open.splice(i, 1);
    }
  }
}

/** Praise or denial asked for (a why-question, an essay, a speech), not a fact looked up. */
const PRAISE_FRAME = /\b(?:why|explain|argue|arguing|essay|post|speech|article|poem|song|write|prove|convince|persuade|list|reasons?|make (?:the|a) case|justify)\b/;
/** Repetition asked for: a how-to, a plan, a stated intent. */
const REPEAT_ASK = /\b(?:how (?:do|can|could|would|should|might) (?:i|we|one|someone)|how to|steps?|plan|ways?|guide|instructions|tips|help me|i (?:want|need|plan|intend|am going|'m going) to|let's|what would it take)\b/;
const HATE_TRIGGERS: PatternTriggers = {
  // Every word of every group (one of them is in each match), then the atrocities and their perpetrators.
  words: [...new Set([...`${GROUP_NOUN}|${GROUP_PLURAL}`.split(/[| ]/).filter((w) => w !== 'the'), 'september', 'hitler', 'nazis', 'nazi', 'reich', 'stalin', 'pot', 'amin', 'laden', 'khmer',
    'isis', 'qaeda', 'kkk', 'klan', 'breivik', 'mcveigh', 'roof', 'tarrant', 'shooters', 'harris', 'kaczynski', 'unabomber', 'manson', 'bundy', 'dahmer', 'taliban', 'holocaust',
    'shoah', 'genocide', 'genocides', 'srebrenica', 'massacre', 'nanking', 'tears', 'trade', 'slavery', 'apartheid', 'cleansing', 'fields', 'holodomor', 'purge', 'gulag', 'gulags',
    'auschwitz', 'camp', 'camps', 'chambers', 'kristallnacht', '11', '11th', 'bombing', 'columbine', 'hook', 'christchurch', 'utoya', 'bataclan', 'lynching', 'lynchings', '731',
    'internment', 'shooting', 'shootings', 'disabled', 'elderly', 'poor', 'homeless', 'women', 'men'])],
};

/** A protected group denied its rights, stereotyped, dehumanised or to be done away with; an atrocity praised, denied or to be repeated. */
export function hateHits(view: TextView): TargetedHit[] {
  if (!view.mayMatch(HATE_TRIGGERS)) return [];
  const lower = view.lower;
  const hits: TargetedHit[] = [];
  const clause = (end: number) => lower.slice(end, end + 90);
  /** A right refused after the group; never in the past tense ("why were women not allowed to vote" asks about history). */
  const refused = (start: number, end: number): boolean => {
    const after = clause(end);
    const r = REFUSED.exec(after) ?? SHOULD_NOT.exec(after);
    const b = r ? null : BARRED.exec(after);
    const m = r ?? b;
    if (!m || PAST.test(lower.slice(Math.max(0, start - 12), end + m[0].length))) return false;
    return startsAt(lower, end + m[0].length, r ? RIGHT_AT : DENIED_THING_AT);
  };
  const invertedRefused = (start: number, end: number): boolean => {
    if (!endsBefore(lower, start, NEG_MODAL_BEFORE)) return false;
    const allowed = ALLOWED_AFTER.exec(clause(end));
    return startsAt(lower, end + (allowed ? allowed[0].length : 1), RIGHT_AT);
  };
  around(lower, GROUP_AT, [
    { name: 'a protected group denied its rights', severity: 6, when: NORMATIVE.test(lower), test: (start, end) => refused(start, end) || invertedRefused(start, end) || (endsBefore(lower, start, BAN_BEFORE) && lower.startsWith(' from', end)) },
    { name: 'a protected group stereotyped or dehumanised', severity: 6, test: (start, end) => (endsBefore(lower, start, STEREOTYPE_ASK_BEFORE) && startsAt(lower, end, TRAIT_AFTER)) || startsAt(lower, end, DEHUMANISED_AFTER) },
    { name: 'a protected group to be done away with', severity: 8, test: (start) => endsBefore(lower, start, ELIMINATE_BEFORE) },
  ], hits);
  const praise = PRAISE_FRAME.test(lower);
  const repeat = REPEAT_ASK.test(lower);
  around(lower, ATROCITY_AT, [
    { name: 'an atrocity praised', severity: 6, when: praise, test: (start, end) => (endsBefore(lower, start, BEFORE_GLORIFIED) || lower.startsWith(' was', end) || lower.startsWith(' were', end)) && startsAt(lower, end, GLORIFIED_AFTER) || endsBefore(lower, start, GOOD_SIDES_BEFORE) || endsBefore(lower, start, PRAISE_BEFORE) || startsAt(lower, end, CELEBRATED_AFTER) },
    { name: 'an atrocity denied', severity: 6, when: praise, test: (_start, end) => startsAt(lower, end, DENIAL_AFTER) },
    { name: 'an atrocity to be repeated', severity: 8, when: repeat, test: (start, end) => endsBefore(lower, start, REPEAT_BEFORE) || startsAt(lower, end, STYLE_AFTER) || endsBefore(lower, start, OUTDO_BEFORE) },
  ], hits);
  around(lower, PERPETRATOR_AT, [
    { name: 'a perpetrator praised', severity: 6, when: praise, test: (start, end) => startsAt(lower, end, HERO_AFTER) || endsBefore(lower, start, PRAISE_BEFORE) },
    { name: 'an atrocity to be repeated', severity: 8, when: repeat, test: (start, end) => endsBefore(lower, start, OUTDO_BEFORE) || endsBefore(lower, start, DEED_OF_BEFORE) || (endsBefore(lower, start, LIKE_BEFORE) && startsAt(lower, end, DID_AFTER)) },
  ], hits);
  return hits;
}
