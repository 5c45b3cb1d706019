/**
 * `unsafe.intent`: harmful requests recognised by their structure rather than by a lexicon pair —
 * the act is to be hidden ("without her knowing", "so it looks like an accident"), a person is to be
 * watched, harassed, lied about, drugged or revenged upon, another person's things are to be got
 * into, a group is to be demeaned, a known falsehood or self-harm is to be promoted, a minor is drawn
 * into sexual content or secrecy, an animal is to be hurt, a scam, forgery, burglary, sabotage or
 * cyber-attack is to be set up, a mass-harm agent is to be made, or a legal control is to be dodged.
 * Most cues need the text to ask for something (a request or a stated intent); every cue lists the
 * contexts that make it benign, and the pack's mitigations (definition, fiction, protective
 * framing) lower the severity as for the other rules. How the cues were found and what they catch
 * on text they were not written from: docs/governance.md, "Beyond the corpus".
 */
import { LimitError, type PatternTriggers, type RuleSubject, type TextView } from 'limit-graph';

export interface IntentCue {
  /** Why it is harmful, as the finding's reason says it. */
  name: string;
  /** Severity before mitigation. */
  severity: number;
  pattern: RegExp;
  /**
   * Words every match contains (two or more of a-z0-9, like PatternTriggers words): the regex runs
   * only on texts that hold one. The cues share one token pass (see `candidates`) rather than a
   * trigger set each, which would crowd the engine's interned-lexicon index.
   */
  words: readonly string[];
  /** Further patterns that must all be found somewhere in the text (parts that come in any order). */
  alsoNeeds?: readonly RegExp[];
  /** The text must also ask for something (REQUEST) — most cues; the others carry intent themselves. */
  needsRequest: boolean;
  /** Contexts that make the cue benign (a surprise party, an authorised test, a victim's question). */
  unless?: RegExp;
  /**
   * Alone the cue is weak evidence (sneaking out of a party "without anyone noticing"): without a
   * word of harm in the text its severity is lowered by 2, below the review band.
   */
  weakAlone?: boolean;
}

/** A request or a first-person intent: what turns a description into an ask. */
const REQUEST = /\b(?:how (?:do|can|could|would|should|might|does|did) (?:i|we|you|one|someone|somebody|a person)|how to|ways? (?:to|of|for)|best way|easiest way|quickest way|simplest way|steps? (?:to|for)|instructions (?:for|on|to|how)|tutorial|guide|help me|teach me|tell me|show me|explain|give|provide|write|create|generate|draft|compose|make|build|produce|design|develop|plan|describe|list|i (?:want|need|plan|intend|am going|'m going) to|what(?:'s| is) the (?:best|easiest|quickest|simplest|fastest|quietest|safest|most effective) (?:way|thing|stuff|drug|pill|product|method|option)|what(?:'s| is| are) the (?:[a-z]+est|best|most [a-z]+) (?:[a-z]+ ){0,2}to [a-z]+|what (?:amount|dose|quantity) of [a-z]+ (?:would|will|could|should|is|do)|which (?:[a-z]+ ){0,3}(?:is|are) (?:the )?(?:easiest|best|safest|quickest) to|what could (?:go ['"‘’]?wrong['"‘’]?|happen|fail|break) with (?:his|her|their|my [a-z]+'s)|what (?:[a-z]+ )?(?:can|could|should) (?:i|we) [a-z]+|what [a-z]+ (?:[a-z]+ ){0,4}(?:fastest|quickest|easiest|best)\b|how (?:much|many) [a-z]+(?: [a-z]+)? (?:could|can|would|should|will|to)\b|walk me through|(?:can|could|would|will) you(?: please)? [a-z]+|continue (?:the |this )?(?:story|text|scene|script|dialogue|passage)|(?:finish|complete|repeat|continue) (?:the |your |that |those )?(?:full )?(?:steps|list|guide|instructions|explanation|answer)|what (?:process|method|steps|recipe|ingredients|chemicals|materials|procedure|equipment) (?:would|did|do|does|should) (?:he|she|they|you|one|someone|i|we) (?:have )?(?:use|used|follow|followed|need|needed)|tips (?:to|for|on)|what(?:'s| is) the step|where (?:can|could|do|should|might) (?:i|we|you|one|someone) (?:buy|get|find|order|obtain|purchase|hire)|synthesi[sz]e|synthesis|recipe|procedure|method)\b/;

/**
 * An order given to an agent: one of these verbs opening a sentence, a line or what follows a colon
 * ("Pull every employee's home address…", "For the task: log in to…"); tried only when REQUEST found nothing.
 */
const AGENT_VERBS = new Set('pull export read change push delete shred destroy wipe erase deploy raise issue transfer figure log download upload copy move turn disable grant rewrite update remove install forward alter edit backdate'.split(' '));
/** The same words as PatternTriggers: a view without any of them skips the scan. */
const AGENT_VERB_TRIGGERS: PatternTriggers = { words: [...AGENT_VERBS] };
/**
 * A word opening the text, a sentence, a line or what follows a colon (past an optional "please").
 * The white space after the mark stops at a line break (`[^\S\n]*`, not `\s*`): the break is a mark
 * itself and opens the same word, so nothing is lost, and each run of white space is read from one
 * mark only. With `\s*` every break of a run of k blank lines read the rest of the run again before
 * failing (k²/2 steps: 64 KiB of blank lines held the event loop for seconds).
 */
const OPENING_WORD = /(?:^|[.!?:\n])[^\S\n]*(?:please\s+)?([a-z]+)/g;
function ordersAgent(lower: string): boolean {
  OPENING_WORD.lastIndex = 0;
  for (let m = OPENING_WORD.exec(lower); m !== null; m = OPENING_WORD.exec(lower)) {
    if (AGENT_VERBS.has(m[1]!)) return true;
    if (m[0].length === 0) OPENING_WORD.lastIndex++;
  }
  return false;
}

const PERSON = String.raw`(?:my |his |her |their |your |a |the |some )?(?:(?:ex[- ]?)?(?:wife|husband|girlfriend|boyfriend|partner|spouse)|ex|kid|kids|son|daughter|child|teen|teenager|employee|employees|coworker|colleague|neighbou?r|roommate|boss|sister|brother|mother|father|mom|dad|friend|someone|somebody|a person|people)`;

export const INTENT_CUES: readonly IntentCue[] = [
  {
    name: 'the act is to stay hidden or be passed off as something else',
    severity: 6,
    pattern: /\bwithout (?:(?:(?:anyone|anybody|him|her|them|people|(?:my|his|her|their|the) [a-z-]+) )?(?:ever )?(?:knowing|noticing|finding out|suspecting|realizing|realising|tracing it)|(?:getting |being )?(?:caught|noticed|detected|traced|identified|found out)|leaving (?:a |any )?(?:trace|evidence|fingerprints|marks)|(?:triggering|setting off|tripping|activating) (?:the |an? |any )?(?:[a-z-]+ )?(?:alarms?|sensors?|security|cameras?)|(?:(?:their|his|her|the owner's|the patient's) )?(?:authori[sz]ation|permission|consent)|(?:showing up|being detected|appearing) (?:in|on) (?:an? |the )?(?:autopsy|toxicology|tox screen|drug test|blood test))\b|\bso (?:that )?(?:it looks like an accident|(?:nobody|no one) (?:notices|knows|finds out|will (?:know|notice|find out))|(?:they|he|she) (?:don't|doesn't|won't|can't) (?:notice|find out|know|tell))\b|\bget away with (?:it|murder|killing|stealing|hitting|hurting)\b|\bcover (?:up )?my tracks\b|\bundetectable (?:in an autopsy|poison|by (?:an? )?(?:autopsy|toxicology))\b|\b(?:fake|false|solid|airtight|believable|bulletproof) alibi\b|\balibi that (?:holds up|will hold up|sticks|works)\b|\bcover story for (?:why|where|what) i\b/,
    words: ['without', 'accident', 'nobody', 'no', 'notice', 'find', 'know', 'tell', 'away', 'tracks', 'undetectable', 'alibi', 'cover'],
    needsRequest: true,
    unless: /\b(?:surprise|gift|present|birthday|party|proposal|propose|prank|tooth fairy|santa)\b/,
    weakAlone: true,
  },
  {
    name: 'harm passed off as natural causes',
    severity: 7,
    pattern: /\b(?:in a way that|so (?:that )?(?:it|the death|her death|his death)|and make it) (?:looks?|seems?|appears?|passes) (?:like |as )?(?:a |an )?(?:natural (?:illness|causes|death|disease)|suicide|food poisoning|heart attack|stroke|sids)\b|\b(?:amount|dose|how much) of (?:insulin|potassium(?: chloride)?|digoxin|[a-z]+) (?:would be|is|would go) (?:hard|impossible|difficult|tough) to (?:detect|trace|find)\b[^.?!\n]{0,60}\b(?:my|his|her|a|an|the) (?:non-diabetic|healthy|[a-z]+father|[a-z]+mother|husband|wife|boss|neighbou?r|adult|man|woman|person)\b/,
    words: ['natural', 'suicide', 'poisoning', 'attack', 'stroke', 'sids', 'detect', 'trace'],
    needsRequest: true,
    unless: /\b(?:novel|story|mystery|plot|detective|character|forensic|how do (?:investigators|detectives|coroners|doctors)|autopsy report)\b/,
  },
  {
    name: 'covert surveillance of another person',
    severity: 6,
    pattern: new RegExp(String.raw`\b(?:gps|location|tracking) (?:history|data|logs?|pings?)\b[^.?!\n]{0,80}\bwhere (?:she|he|they)(?:'s| is| has| have| are)? (?:been )?(?:staying|sleeping|going|spending)\b|\b(?:hidden|secret|covert|stealth|invisible|silent) (?:screen ?recorder|keylogger|spyware|tracker|tracking app|monitoring (?:app|software|agent|tool))\b[^.?!\n]{0,40}\b(?:on|to|onto|into) (?:[a-z]+'s|his|her|their)\b|\b(?:secretly|covertly|remotely|spy on|stalk|track|monitor|hack into|break into|get into|snoop (?:on|through)|intercept|tap)\b[^.?!\n]{0,30}\b${PERSON}(?:'s)?\b[^.?!\n]{0,30}\b(?:phone|messages|texts|text messages|location|whereabouts|email|emails|inbox|account|whatsapp|instagram|snapchat|facebook|dms|browsing history|calls|camera|webcam|diary|icloud|google photos|cloud storage|photos)\b`),
    words: ['phone', 'messages', 'texts', 'location', 'whereabouts', 'email', 'emails', 'inbox', 'account', 'whatsapp', 'instagram', 'snapchat', 'facebook', 'dms', 'gps', 'tracking',
      'hidden', 'secret', 'covert', 'stealth', 'invisible', 'silent',
      'browsing', 'calls', 'camera', 'webcam', 'diary', 'icloud', 'google', 'cloud', 'photos'],
    needsRequest: true,
    unless: /\b(?:my own|parental controls?|with (?:his|her|their) (?:consent|permission|knowledge)|(?:he|she|they) (?:knows|agreed|consented)|executor|estate|passed away|deceased|lost (?:his|her|their) phone)\b/,
  },
  {
    name: 'content that demeans a group of people',
    severity: 6,
    pattern: /\b(?:immigrants?|immigrant families|refugees|migrants|foreigners|jews|muslims|gays|black people|blacks|roma|gypsies|asians|mexicans|arabs|africans|[a-z]+ (?:people|families))\b[^.?!\n]{0,40}\b(?:are|as|like) (?:vermin|rats|cockroaches|parasites|animals|subhuman|an infestation|a plague|filth|savages|a disease)\b|\b(?:rant|insults?|slurs?|mock(?:s|ed|ing)?|ridicul(?:e|es|ed|ing)|demean(?:s|ed|ing)?|degrad(?:e|es|ed|ing)|humiliat(?:e|es|ed|ing)|insulting|(?:racist|sexist|hateful|offensive|derogatory|demeaning|degrading|cruel|mean|nasty) (?:jokes?|poem|song|speech|essay|post|tweet|paragraph|comments?|remarks?|names?))\b[^.?!\n]{0,60}\b(?:mexicans|jews|jewish people|muslims|christians|black people|blacks|asians|chinese people|asian people|arab people|indian people|mexican people|latino people|african people|korean people|japanese people|muslim people|jewish folks|arabs|africans|immigrants|refugees|gays|gay people|lesbians|transgender people|trans people|women|indians|hispanics|latinos|gypsies|roma|disabled people|autistic people|catholics|hindus|sikhs|white people)\b|\b(?:mexicans|jews|jewish people|muslims|christians|black people|blacks|asians|chinese people|asian people|arab people|indian people|mexican people|latino people|african people|korean people|japanese people|muslim people|jewish folks|arabs|africans|immigrants|refugees|gays|gay people|lesbians|transgender people|trans people|women|indians|hispanics|latinos|gypsies|roma|disabled people|autistic people|catholics|hindus|sikhs|white people) (?:are|is) (?:all )?(?:subhuman|inferior|animals|vermin|parasites|a disease|a plague|genetically inferior|not (?:really )?human)\b|\bwhy (?:are|is) (?:all )?(?:mexicans|jews|muslims|black people|blacks|asians|arabs|africans|immigrants|refugees|gays|women|indians|hispanics|latinos|gypsies|disabled people|white people) (?:so |too |more |naturally |genetically )?(?:stupid|dumb|lazy|inferior|violent|criminals?|dirty|greedy|evil|worthless|disgusting)\b/,
    words: ['mexicans', 'jews', 'jewish', 'muslims', 'christians', 'black', 'blacks', 'asians', 'chinese', 'arabs', 'africans', 'immigrants', 'refugees', 'gays', 'gay',
      'lesbians', 'transgender', 'trans', 'women', 'indians', 'hispanics', 'latinos', 'gypsies', 'roma', 'disabled', 'autistic', 'catholics', 'hindus', 'sikhs', 'white',
      'asian', 'arab', 'indian', 'mexican', 'latino', 'african', 'korean', 'japanese', 'muslim', 'folks', 'immigrant', 'migrants', 'foreigners', 'families', 'vermin', 'rats',
      'cockroaches', 'parasites', 'subhuman', 'infestation', 'plague', 'filth', 'savages'],
    needsRequest: false,
    unless: /\b(?:respectful|respectfully|kind|positive|celebrat\w*|appreciat\w*|not offensive|inoffensive|wholesome)\b/,
  },
  {
    name: 'spreading a known falsehood',
    severity: 6,
    pattern: /\bfake (?:news )?(?:story|stories|article|articles|post|posts|report|tweet|tweets) (?:claiming|saying|alleging|that (?:says|claims))\b|\b(?:vaccines? (?:cause|causes|causing|caused) autism|holocaust (?:never happened|did not happen|didn't happen|was (?:a )?(?:hoax|fake|lie|myth|exaggerated))|(?:the )?(?:\d{4} )?(?:presidential )?election was (?:stolen|rigged)|climate change is (?:a )?(?:hoax|fake|lie|scam|myth)|moon landings? (?:was |were )?(?:fake|faked|staged|a hoax)|5g (?:causes|caused|spreads|spread) (?:covid|coronavirus|cancer)|covid(?:-19)? (?:is|was) (?:a )?(?:hoax|fake|lie)|the earth is flat|chemtrails (?:are|poison)|(?:democrats|republicans|voters|[a-z]+ voters|you|they|people) (?:now |can now |will now |must now |should )?vote (?:on|by) (?:wednesday|thursday|friday|saturday|sunday|the next day|the day after)|(?:election day|voting|the election|polling day) (?:has been |is |was )?(?:moved|changed|postponed|rescheduled|extended) to (?:wednesday|thursday|friday|saturday|sunday|the next day|next week))\b/,
    words: ['vaccine', 'vaccines', 'holocaust', 'election', 'climate', 'moon', '5g', 'covid', 'earth', 'chemtrails', 'fake', 'vote', 'voting'],
    needsRequest: true,
    unless: /\b(?:debunk\w*|refut\w*|fact[- ]check\w*|is it true|is there (?:any )?evidence|why (?:do|did) (?:people|some)|myth)\b/,
  },
  {
    name: 'sexual content or contact involving a minor',
    severity: 9,
    pattern: /\b(?:minor|minors|child|children|kid|kids|underage|preteen|pre-teen|(?:[5-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old|schoolgirl|schoolboy|teen|teenager|teens|girl|boy)\b[^.?!\n]{0,60}\b(?:(?:comfortable|okay|ok) (?:with )?sending (?:me )?(?:pics|photos|pictures|selfies)|mature for (?:her|his|their) age|nudes?|naked|sexual(?:ly)?|explicit (?:photos|pictures|pics|images|videos)|porn(?:o|ography|ographic)?|sext(?:s|ing|ed)?|send me (?:photos|pictures|pics|videos)|meet (?:me |up )?alone|alone with me|undress(?:ing|ed)?)\b|\b(?:nudes?|naked|sexual|sexually|explicit|porn(?:o|ography|ographic)?)\b[^.?!\n]{0,40}\b(?:minor|minors|child|children|kids|underage|preteen|(?:[5-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old)\b|\b(?:satisfy|act on|indulge|fulfil+|feed|explore) (?:my|his|their|your) (?:pa?edophil\w+|urges? (?:for|towards|toward) (?:children|kids|minors))\b/,
    words: ['nude', 'nudes', 'naked', 'sexual', 'sexually', 'explicit', 'send', 'meet', 'alone', 'undress', 'undressing', 'undressed', 'porn', 'porno', 'pornography',
      'pornographic', 'sext', 'sexts', 'sexting', 'sexted', 'pedophilia', 'paedophilia', 'pedophilic', 'paedophilic', 'urge', 'urges', 'sending', 'mature'],
    needsRequest: false,
    unless: /\b(?:protect\w*|report\w*|warning signs|signs of|suspect|prevent\w*|talk to (?:my|our) (?:kids?|children|son|daughter)|sex education|puberty|is it normal|pediatrician|doctor|therap\w*|treatment|resist|never act|support group|counsel\w*)\b/,
  },
  {
    name: 'cruelty to an animal',
    severity: 6,
    pattern: /\b(?:dog|dogs|cat|cats)\b[^?!\n]{0,80}\b(?:put|hide|mix|lace)\b[^.?!\n]{0,30}\b(?:in|into) (?:a |some |the )?(?:piece of )?(?:meat|treat|food|sausage|hot dog|steak)\b[^.?!\n]{0,40}\b(?:stops? (?:for good|forever|permanently)|never (?:barks?|wakes?) (?:up )?again|shuts? up for good|(?:won't|will not) (?:bark|wake up) (?:again|anymore))|\b(?:torture|torturing|poison|poisoning|hurt|hurting|harm|harming|abuse|abusing|kick|kicking|starve|starving|drown|drowning|burn|burning|kill|killing|maim|skin|mutilate)\b[^.?!\n]{0,25}\b(?:(?:my |a |the |his |her |their |neighbou?r's |sister's |brother's |someone's )?(?:dog|dogs|cat|cats|puppy|puppies|kitten|kittens|pet|pets|animal|animals|horse|horses|bird|birds))\b/,
    words: ['dog', 'dogs', 'cat', 'cats', 'puppy', 'puppies', 'kitten', 'kittens', 'pet', 'pets', 'animal', 'animals', 'horse', 'horses', 'bird', 'birds'],
    needsRequest: true,
    unless: /\bwithout (?:hurting|harming|killing|poisoning|upsetting|bothering)\b|\b(?:vet|veterinarian|symptoms?|signs|treat\w*|first aid|emergency|was poisoned|got poisoned|is poisoned|accidentally|ate|eaten|swallowed|humane(?:ly)?|euthan\w*|put down|protect\w*|safe for|toxic to|poisonous to|flea|fleas|ticks?|worms?)\b/,
  },
  {
    name: 'a scam, forgery or fraud',
    severity: 6,
    pattern: /\b(?:pa(?:y|id|ying)|payment|settle(?:d)?)\b[^.?!\n]{0,30}\bin (?:gift cards|itunes cards|google play cards|steam cards|bitcoin|crypto)\b|\b(?:pretend(?:s|ed|ing)? to be|posing as|pose as|impersonat(?:e|es|ed|ing)|claiming to be) (?:the |a |an |my |your |their |from )?(?:bank|irs|tax office|police|government|microsoft|apple|amazon|paypal|netflix|tech support|customer support|ceo|grand(?:son|daughter|child)|charity|fedex|ups|dhl)\b|\b(?:fake|fraudulent|bogus|sham|spoofed|cloned) (?:charity|charities|invoices?|reviews?|review campaign|online store|shop|lottery|giveaway|fundraiser|crowdfunding|doctor's note|sick note|diplomas?|degrees?|insurance claims?|portal|login (?:page|portal|form)|sign-?in page|website|site|bank website)\b|\b(?:pump and dump|ponzi scheme|pyramid scheme|wire me (?:their|his|her|the)|carding|card skimm\w+|stolen (?:[a-z]+ )?(?:cards?|credit cards?|card numbers|accounts?|logins?|credentials|passwords|identit(?:y|ies)|databases?|data|goods)\b|counterfeit (?:money|bills|cash|currency|banknotes))\b|\bforg(?:e|ing) (?:a |my |his |her |the |their )?(?:[a-z]+'s )?(?:signature|documents?|cheques?|checks?|prescriptions?|sick note|doctor's note|passport|id)\b|\b(?:mislead(?:s|ing)?|deceiv(?:e|es|ing)|dupe|dupes|duping|defraud(?:s|ing)?) (?:the )?(?:consumers|customers|buyers|shoppers|public|voters|investors|readers|patients|users)\b|\breviews? (?:for|of|on|about) (?:a |an |the )?(?:product|service|restaurant|hotel|app|book|course|business) (?:that )?(?:you|i|we) (?:have|has)(?:n't| not| never) (?:even )?(?:used|tried|tested|bought|visited|read|taken)\b|\bmanipulat(?:e|es|ing) (?:the )?(?:stock|financial|crypto(?:currency)?|currency|commodity|share) (?:markets?|prices?)\b|\b(?:e-?mails?|texts?|sms|messages?|letters?|(?:log-?in |sign-?in )?pages?|sites?|websites?) (?:that looks? like it(?:'s| is| came) |pretending to be |as if (?:it(?:'s| is| came) )?)?from (?:the |my |your |their )?(?:paypal|amazon|apple|microsoft|netflix|bank|[a-z]+ bank|irs|hmrc|fedex|ups|dhl|usps|royal mail|chase|wells fargo|google|facebook|instagram|coinbase|binance)\b[^.?!\n]{0,60}\b(?:confirm|verify|update|enter|re-?enter|validate|provide|type in)\b[^.?!\n]{0,30}\b(?:account|login|password|card|bank|billing|payment|personal) (?:details|information|info|credentials|numbers?|data)\b|\b(?:use|cash out|spend|test|max out)\b[^.?!\n]{0,30}\b(?:(?:credit )?card numbers|cc numbers|ccs|cvvs?|dumps|fullz|(?:stolen|other people's|someone's|bought|leaked) (?:credit )?cards)\b[^.?!\n]{0,40}\b(?:without (?:triggering|tripping|setting off|getting caught by|getting flagged by) (?:the |any )?(?:fraud|anti-fraud|security|bank) ?(?:alerts?|checks?|detection|systems?|filters?)?|(?:i|we) bought (?:online|on (?:the )?dark ?web|from (?:a|the) (?:forum|vendor|site|shop)))|\b(?:reduce|cut|lower|shave|trim|alter)\b[^.?!\n]{0,30}\b(?:recorded |logged |reported )?(?:hours|timesheets?|wages|overtime)\b[^.?!\n]{0,60}\b(?:quietly|secretly|before payroll|(?:they|staff|employees|workers) (?:never|won't|don't) (?:check|notice))|\bquietly (?:reduce|cut|lower|shave|trim|alter)\b[^.?!\n]{0,30}\b(?:hours|timesheets?|wages|overtime|pay)\b|\b(?:change|alter|edit|backdate|fake|falsify|modify)\b[^.?!\n]{0,30}\b(?:timestamps?|dates?|records?|results?|logs?)\b[^.?!\n]{0,80}\bfailed\b[^.?!\n]{0,30}\b(?:shows?|show up|look|appear)s? as (?:passed|passing|ok)\b|\b(?:invoices?|payments?|expenses?|transfers?)\b[^.?!\n]{0,160}\b(?:just )?(?:under|below) the \$?[\d,.]+k? (?:review|approval|reporting|audit) (?:threshold|limit)\b|\b(?:doctor's|medical|sick) note\b[^.?!\n]{0,160}\bso (?:that )?i can (?:get out of|skip|miss|avoid)\b|\b(?:fake|realistic|forged|photoshopped|made-up|convincing) (?:[a-z$0-9@.-]+ ){0,2}(?:payment|transfer|transaction|wire|venmo|paypal|zelle|cash ?app|deposit)[- ](?:sent )?(?:confirmations?|receipts?|screenshots?|proofs?)\b[^.?!\n]{0,80}\b(?:to show|so (?:that )?i can show|as proof|already paid|i paid)\b|\b(?:two sets of books|double books|cook(?:ing)? the books)\b|\b(?:tax (?:office|man|authorities)|taxman|irs|hmrc) only (?:ever )?sees\b|\b(?:hide|conceal|under-?report|skim)\b[^.?!\n]{0,30}\b(?:cash )?(?:sales|income|revenue|earnings|profits?) from (?:the )?(?:tax(?:man| office| authorities)?|irs|hmrc|revenue service)\b|\b(?:gofundme|fundraiser|crowdfunding|donation (?:page|campaign)|charity)\b[^\n]{0,120}\b(?:(?:and|then) (?:just )?(?:keep|pocket) (?:the|all the|most of the|all of the) (?:money|donations|funds|cash)|i (?:don't|do not) (?:actually|really) have|isn't real|is not real|made[- ]up|doesn't exist|does not exist)\b|\btest (?:if|whether) (?:the |a |this |that )?card(?:'s| is) (?:live|valid|active|good|working)\b|\b(?:buy|get|find|download|obtain|purchase)\b[^.?!\n]{0,30}\bleaked (?:copies of |copy of |versions? of )?(?:the )?(?:[a-z]+ )?(?:exams?|tests?|answers|answer keys?|questions|papers?)\b|\b(?:get|obtain|see|buy|find)\b[^.?!\n]{0,30}\b(?<!(?:practice|sample|past|mock|old|previous|review|study|prep) )(?:exams?|tests?|quiz|finals?|midterms?)'? (?:questions|answers|answer keys?|papers?)\b[^.?!\n]{0,30}\b(?:before|ahead of) (?:the )?(?:test|exam|quiz|final|midterm)(?: day| date)?\b|\b(?:recruit|lure|trick|entice)(?:s|ed|ing)?\b[^.?!\n]{0,50}\bwith (?:fake|false|bogus|phony|made-up) (?:[a-z]+ ){0,3}(?:jobs?|job offers?|offers?|contracts?|visas?|opportunities)\b/,
    words: ['pretend', 'pretends', 'pretended', 'pretending', 'posing', 'pose', 'claiming', 'gift', 'itunes', 'google', 'steam', 'bitcoin', 'crypto', 'fake', 'fraudulent', 'bogus', 'sham', 'pump', 'ponzi', 'pyramid', 'wire', 'carding', 'card', 'stolen', 'counterfeit',
      'forge', 'forging', 'impersonate', 'impersonates', 'impersonated', 'impersonating',
      'mislead', 'misleads', 'misleading', 'deceive', 'deceives', 'deceiving', 'dupe', 'dupes', 'duping', 'defraud', 'defrauds', 'defrauding', 'review', 'reviews',
      'manipulate', 'manipulates', 'manipulating', 'false', 'phony', 'leaked', 'exam', 'exams', 'test', 'tests', 'quiz', 'final', 'finals', 'midterm', 'midterms', 'ccs', 'cvv', 'cvvs', 'dumps', 'fullz', 'numbers', 'credit',
      'note', 'confirmation', 'confirmations', 'receipt', 'receipts', 'screenshot', 'screenshots', 'proof', 'proofs', 'books', 'sees', 'sales', 'income', 'revenue', 'earnings', 'profit', 'profits',
      'gofundme', 'fundraiser', 'crowdfunding', 'donation', 'charity', 'card', 'hours', 'timesheet', 'timesheets', 'wages', 'overtime', 'failed', 'threshold', 'limit',
      'paypal', 'amazon', 'apple', 'microsoft', 'netflix', 'bank', 'irs', 'hmrc', 'fedex', 'ups', 'dhl', 'usps', 'royal', 'chase', 'wells', 'facebook', 'instagram', 'coinbase', 'binance'],
    needsRequest: true,
    unless: /\b(?:spot|recogni[sz]e|identify|detect|avoid|report|protect|warn|training|awareness|signs of|how do (?:scammers|fraudsters)|is this a scam|regulat\w*|prevent\w*|examples? of|history of|is it (?:legal|illegal|ethical)|(?:i|we) (?:got|received|have received|keep getting|was sent|were sent) (?:an? |this |the |some )?(?:e-?mails?|texts?|sms|messages?|letters?|calls?)|(?:check|tell|know|sure) (?:if |whether |that )?(?:it|this)(?:'s| is)? (?:real|legit|genuine|authentic))\b/,
  },
  {
    name: 'a scam aimed at the elderly',
    severity: 6,
    pattern: /\b(?:elderly|seniors?|old (?:people|folks|man|woman|lady|couples?)|older (?:people|adults)|grandparents?|grandmas?|grandpas?|retirees|pensioners|vulnerable (?:people|adults))\b/,
    words: ['elderly', 'senior', 'seniors', 'old', 'older', 'grandparent', 'grandparents', 'grandma', 'grandmas', 'grandpa', 'grandpas', 'retirees', 'pensioners', 'vulnerable'],
    alsoNeeds: [
      /\b(?:convinc(?:e|es|ed|ing)|trick(?:s|ed|ing)?|persuad(?:e|es|ed|ing)|pressur(?:e|es|ed|ing)|scam(?:s|med|ming)?|con them|fool(?:s|ed|ing)?|manipulat(?:e|es|ed|ing))\b/,
      /\b(?:money|bail|wire|gift cards?|savings|bank details|account details|pin|social security|inheritance|cash)\b/,
    ],
    needsRequest: true,
    unless: /\b(?:protect\w*|warn\w*|spot|recogni[sz]e|avoid|report\w*|awareness|signs of|is this a scam)\b/,
  },
  {
    name: 'finding where a person lives, to turn up or expose them',
    severity: 6,
    pattern: /\b(?:figure out|find out|work out|uncover|dig up|track down|identify|unmask|get)\b[^.?!\n]{0,20}\b(?:her|his|their|this (?:person|user|reviewer|account|poster)'s|the (?:reviewer|user|poster|commenter|account)'s) (?:real|full|actual|legal|true) (?:name|identity)\b|\bpay (?:her|him|them) a visit\b|\b(?:find out|figure out|track down|find|locate|work out|get) where (?:a |an |the |this |that |my |some )?[a-z-]+(?: [a-z-]+)? (?:lives|works|sleeps|stays|goes to school)\b|\b(?:find|get|locate|track down|dig up|look up|work out|figure out|find out|pin down|pinpoint) (?:someone's|somebody's|her|his|their|a person's|a stranger's|my ex's|[a-z-]+'s) (?:(?:family|parents|mom|mum|dad|mother|father)(?:'s|') )?(?:home |house |real |exact |current |private )?(?:address|whereabouts)\b|\bshow up at (?:her|his|their) (?:house|home|door|doorstep|work|workplace|place|school)\b|\bdox(?:x)?(?:ing|ed)?\b/,
    words: ['lives', 'works', 'sleeps', 'stays', 'school', 'address', 'whereabouts', 'show', 'dox', 'doxx', 'doxing', 'doxxing', 'doxed', 'doxxed', 'name', 'identity', 'visit'],
    needsRequest: true,
    unless: /\b(?:my own|package|parcel|delivery|business|restaurant|store|shop|company|office|embassy|museum|public records of my|with (?:his|her|their) permission|invited|protect\w*|prevent\w*|avoid being)\b/,
  },
  {
    name: 'promoting violent extremism',
    severity: 7,
    pattern: /\b(?:take|taking|took|takes) up arms against (?:the |our |all )?(?:immigrants|jews|muslims|refugees|minorities|blacks|black people|gays|christians|government|police|infidels|non-believers)\b|\b(?:armed (?:struggle|uprising|resistance)|violence|killing them|attacking them) is the only (?:answer|way|solution|option|language)\b|\b(?:recruit(?:ment|ing|s)?|propaganda|manifesto|glorif(?:y|ying|ies)|join|joining|praise|praising)\b[^.?!\n]{0,50}\b(?:(?:violent )?extremists?|(?:violent )?extremist (?:group|movement|cell|organi[sz]ation)|terrorists?|terrorist (?:group|cell|organi[sz]ation)|jihadis?t?s?|neo-?nazis?|isis|al-?qaeda|white supremacists?)\b|\b(?:isis|al-?qaeda|jihadi(?:st)?|taliban|hamas|neo-?nazi|white supremacist)[- ]style (?:statements?|videos?|posts?|speech(?:es)?|messages?|manifestos?|propaganda|posters?|pamphlets?|sermons?|recruitment)\b|\b(?:glorif(?:y|ying|ies)|celebrat(?:e|es|ing)|prais(?:e|es|ing))\b[^.?!\n]{0,30}\b(?:(?:terror|suicide|mass|lone[- ]wolf) )?(?:attacks?|bombings?|shootings?|massacres?)\b[^.?!\n]{0,80}\b(?:call(?:s|ing)? (?:on|for)|urg(?:e|es|ing)|inspire|encourag(?:e|es|ing))\b|\bcall(?:s|ing)? on (?:[a-z]+ ){1,5}to (?:carry out|launch|commit|stage) (?:more |new |further |similar |another )?(?:attacks?|operations|bombings?|shootings?|strikes)\b|\b(?:start|spark|trigger|ignite|begin|wage|kick off|provoke)(?:s|ed|ing)? (?:a |the )?(?:race war|racial holy war|rahowa)\b/,
    words: ['recruit', 'recruitment', 'recruiting', 'recruits', 'propaganda', 'manifesto', 'glorify', 'glorifying', 'glorifies', 'join', 'joining', 'praise', 'praising', 'arms', 'armed', 'violence', 'killing', 'attacking',
      'isis', 'qaeda', 'jihadi', 'jihadist', 'taliban', 'hamas', 'nazi', 'supremacist', 'race', 'racial', 'rahowa', 'celebrate', 'celebrates', 'celebrating', 'praises', 'call', 'calls', 'calling'],
    needsRequest: true,
    unless: /\b(?:history|historical|research\w*|counter\w*|prevent\w*|de-?radicali[sz]\w*|analy[sz]\w*|how do (?:extremists|terrorists|they)|recogni[sz]e|spot|warning signs|what (?:is|are|was))\b/,
  },
  {
    name: 'harassing or intimidating a person',
    severity: 6,
    pattern: /\b(?:witness|juror|jury|victim)\b[^.?!\n]{0,40}\b(?:changes? (?:her|his|their) (?:mind|story|testimony)|(?:doesn't|does not|don't|won't|never) testif(?:y|ies)|recants?|stays? (?:quiet|silent)|drops? the charges)\b|\b(?:talks?|talking|speaks?|joins?|joining|signs?|votes?) (?:to|with|for) (?:the )?union\b[^.?!\n]{0,60}\b(?:layoff|laid off|fired|let go|lose (?:their|his|her) jobs?|first to go)\b|\b(?:send|sending|post|posting|dm|dms|message|messages|text|texts|comment|comments)\b[^.?!\n]{0,40}\bfrom (?:a |several |multiple |different |many |\d+ )?(?:burner|fake|anonymous|throwaway|sock ?puppet|alt) (?:accounts?|profiles?|numbers?|emails?)\b|\b(?:bully|cyberbully|harass|intimidate|humiliate|blackmail|extort|gaslight|torment|threaten|terrori[sz]e)\b[^.?!\n]{0,40}\b(?:classmates?|coworkers?|colleagues?|neighbou?rs?|ex|girlfriend|boyfriend|wife|husband|partner|boss|teacher|students?|kids?|child|someone|somebody|her|him|them|a girl|a boy|people|my (?:sister|brother|mom|dad|roommate))\b|\b(?:unwanted|unsolicited) (?:messages|emails|e-mails|texts|sms|calls|comments|dms|friend requests)\b|\b(?:posts?|posting|spam(?:s|ming)?|flood(?:s|ing)?|sends?|sending|leaves?|leaving) (?:[a-z]+ ){0,2}(?:inflammatory|hateful|abusive|harassing|divisive|provocative|toxic) (?:comments|posts|messages|replies|tweets)\b|\b(?:drive|drives|driving|push|pushes|pushing|goad|goads|goading|pressure|pressures|pressuring|bully|bullies|bullying|encourage|encourages|encouraging|convince|convinces|convincing|talk|talking) (?:her|him|them|someone|somebody|my \w+|this \w+|that \w+) (?:in)?to (?:suicide|killing (?:her|him|them)sel(?:f|ves)|kill (?:her|him|them)sel(?:f|ves))\b/,
    words: ['bully', 'cyberbully', 'harass', 'intimidate', 'humiliate', 'blackmail', 'extort', 'gaslight', 'torment', 'threaten', 'terrorize', 'terrorise', 'burner', 'fake',
      'anonymous', 'throwaway', 'sock', 'sockpuppet', 'alt', 'witness', 'juror', 'jury', 'victim', 'union',
      'unwanted', 'unsolicited', 'inflammatory', 'hateful', 'abusive', 'harassing', 'divisive', 'provocative', 'toxic',
      'suicide', 'herself', 'himself', 'themselves', 'themself'],
    needsRequest: true,
    unless: /\b(?:stop|deal with|cope|handle|report\w*|being (?:bullied|harassed|blackmailed|threatened)|bullied|harassed|victim|protect\w*|prevent\w*|help my|respond to|what (?:to|should i) do|block|filter\w*|moderat\w*|detect\w*|flag\w*|remove|hide|classif\w*|avoid|reduce)\b/,
  },
  {
    name: 'spreading lies about a person',
    severity: 6,
    pattern: /\b(?:start|spread|make up|invent|fabricate|plant|post|making|containing|full of|with)\b[^.?!\n]{0,15}\b(?:rumou?rs?|lies|false (?:claims|accusations|stories|allegations|reviews)|fake (?:allegations|accusations|stories|screenshots))\b|\b(?:saying|claiming|stating|accusing|alleging|that)\b[^.?!\n]{0,80}\b(?:even though|although|when in fact) (?:it|he|she|they|this|that|we|i) (?:didn't|did not|isn't|is not|wasn't|was not|never|hasn't|doesn't|does not)\b/,
    words: ['rumor', 'rumors', 'rumour', 'rumours', 'lies', 'false', 'fake', 'though', 'although', 'fact'],
    needsRequest: true,
    unless: /\b(?:stop|deal with|handle|counter|respond to|someone (?:is|has been) spreading|spread about me|victim|debunk\w*|defend)\b/,
  },
  {
    name: 'revenge on a person',
    severity: 6,
    pattern: /\b(?:get |take |exact )?revenge on\b|\bget back at\b|\bmake (?:him|her|them|my \w+) (?:suffer|regret it)\b/,
    words: ['revenge', 'back', 'suffer', 'regret'],
    needsRequest: true,
    unless: /\b(?:prank|pranks|game|video game|board game|harmless|funny|friendly|in (?:a|the) (?:story|novel|movie|film)|let go|move on|forgive|cope|instead of)\b/,
  },
  {
    name: 'taking what is someone else\'s',
    severity: 6,
    pattern: /\b(?:pocket|skim|steal|pinch|take)\b[^.?!\n]{0,25}\bfrom (?:the |my |our )?(?:register|till|cash drawer|float|tip jar|petty cash)\b|\b(?:stores?|shops?|retailers?|places|walmart|target)\b[^.?!\n]{0,20}\b(?:easiest|easy|best) to (?:boost|lift|rack|steal|shoplift) from\b|\b(?:take|steal|siphon|grab|use|using|drain|empty|access|open|enter)\b[^.?!\n]{0,40}\b(?:someone else's|somebody else's|other people's|another person's|a stranger's|strangers'|my neighbou?r's|the neighbou?rs')\b|\b(?:someone else's|somebody else's|other people's)\b[^.?!\n]{0,30}\b(?:without (?:them|him|her) knowing|at night|while (?:they|he|she)(?:'re| are| is)? (?:away|asleep|out))\b|\bcatalytic converters?\b[^.?!\n]{0,20}\b(?:from|off|under) (?:a |an |the )?(?:parked|random|stranger's|someone's|somebody's|neighbou?r's|cars? (?:in|on) the street|[a-z]+ (?:in|on) the street|(?:car|truck|van)s? in (?:a|the) (?:parking lot|car park|lot))\b/,
    words: ['else', 'other', 'another', 'stranger', 'strangers', 'neighbor', 'neighbour', 'neighbors', 'neighbours', 'register', 'till', 'drawer', 'float', 'jar', 'petty', 'boost', 'lift', 'rack', 'steal', 'shoplift', 'catalytic'],
    needsRequest: true,
    unless: /\b(?:with (?:their|his|her) permission|permission|consent|return|give back|found|lost|borrow\w*|legally|legal)\b/,
  },
  {
    name: 'getting into another person\'s things or records',
    severity: 6,
    pattern: /\b(?:turn off|disable|stop|pause|suspend|bypass)\b[^.?!\n]{0,25}\b(?:audit (?:logging|logs?|trail)|logging|monitoring)\b[^.?!\n]{0,80}\b(?:so (?:that )?(?:nobody|no one|they|my boss|security|compliance|it)|without (?:triggering|tripping|alerting|anyone))|\b(?:read|open|go through|check|search|look through)\b[^.?!\n]{0,10}\b(?:my )?(?:manager|boss|supervisor|coworker|colleague|employee|ceo|director)(?: [a-z]+)?'s (?:inbox|mailbox|email|emails|mail|messages|chats|dms|slack)\b|\b(?:export|download|copy|upload|send|email|dump)\b[^.?!\n]{0,60}\b(?:customers?|clients?|employees?|patients?|users?|members?)(?:'|s'|'s)? (?:table|database|data|list|records|ssns?)\b[^.?!\n]{0,80}\b(?:(?:to )?my (?:personal|private|own)|personal (?:dropbox|drive|email|gmail|account)|for my new job|(?:a )?buyer)\b|\b(?:every|all) (?:employees?|customers?|patients?|users?|members?)(?:'s|s'|')? (?:home )?(?:address(?:es)?|phone|ssns?|records|data)\b[^\n]{0,120}\b(?:buyer|sell|pays? per)\b|\b(?:wipe|delete|clear|erase)\b[^.?!\n]{0,40}\b(?:logs?|history|records|footage)\b[^.?!\n]{0,80}\b(?:copied|took|downloaded|exported|stole|emailed)\b[^.?!\n]{0,30}\b(?:client|customer|company|employer's|patient|user) (?:database|data|list|lists|records|files)\b|\b(?:pick|drain|empty|access|open|read|unlock|hack|bypass|disable|get(?:ting)? (?:into|my hands on|access to)|break(?:ing)? into|look through|go through|wipe|delete)\b[^.?!\n]{0,25}\b(?:someone's|somebody's|a stranger's|my (?:roommate|neighbou?r|coworker|colleague|boss|ex|wife|husband|girlfriend|boyfriend|sister|brother|friend|parents|mom|dad|teacher|classmate|landlord|tenant)'s|(?:his|her|their) (?:private|personal))\b[^.?!\n]{0,25}\b(?:diary|journal|bank account|account|accounts|medical records|records|files|phone|email|emails|camera|security cameras?|safe|mailbox|mail|computer|laptop|wallet|purse|locker|car|house|yard|apartment|room|messages|savings|credit card|icloud|gmail|instagram|snapchat|whatsapp|facebook|tiktok|onedrive|google drive|dropbox|photos)\b|\blog ?(?:in|on)(?:to)? (?:her|his|my (?:ex|wife|husband|girlfriend|boyfriend|partner|roommate|sister|brother)'s) (?:[a-z]+ )?(?:account|email|e-mail|inbox|icloud|gmail|instagram|facebook|snapchat|whatsapp|phone)\b/,
    words: ['diary', 'journal', 'bank', 'account', 'accounts', 'records', 'files', 'phone', 'email', 'emails', 'camera', 'cameras', 'safe', 'mailbox', 'mail', 'computer', 'laptop',
      'wallet', 'purse', 'locker', 'car', 'house', 'yard', 'apartment', 'room', 'messages', 'savings', 'credit', 'card', 'icloud', 'gmail', 'instagram', 'snapchat', 'whatsapp',
      'facebook', 'tiktok', 'onedrive', 'drive', 'dropbox', 'photos', 'logs', 'log', 'history', 'footage', 'logging', 'monitoring', 'inbox', 'mailbox', 'mail', 'chats', 'dms',
      'slack', 'table', 'database', 'data', 'list', 'ssn', 'ssns', 'buyer', 'sell'],
    needsRequest: true,
    unless: /\b(?:with (?:their|his|her) (?:permission|consent|knowledge)|they asked me|(?:he|she|they) asked me|caregiver|guardian|executor|power of attorney|passed away|deceased|legal(?:ly)?|lost (?:the |their |his |her )?(?:key|password)|locked (?:out|in))\b/,
  },
  {
    name: 'tampering with someone\'s food or drink',
    severity: 7,
    pattern: /\b(?:thing|stuff|drug|pill|product) to (?:put|slip|add|mix|sneak) (?:in|into)\b[^.?!\n]{0,25}\b(?:someone's|somebody's|her|his|their|my [a-z]+'s) (?:drink|coffee|tea|food|water|meal|beer|wine|cocktail)\b|\b(?:put|slip|add|mix|sneak|spike|lace|dose|drop|pour)\b[^.?!\n]{0,30}\b(?:laxatives?|drugs?|sleeping pills|pills|poison|bleach|eye ?drops|ex-lax|roofies|ghb|rohypnol|xanax|antifreeze|rat poison|something)\b[^.?!\n]{0,20}\b(?:in|into)\b[^.?!\n]{0,25}\b(?:drink|coffee|tea|food|water|meal|lunch|dinner|soup|beer|wine|cocktail|smoothie|bottle)\b|\bspike (?:someone's|somebody's|her|his|their|a girl's|a guy's|my \w+'s) (?:drink|coffee|tea|food|water)\b|\b(?:laxatives?|drugs?|sleeping pills|pills|poison|bleach|eye ?drops|roofies|ghb|rohypnol|xanax|antifreeze|rat poison|drain cleaner)\b[^.?!\n]{0,30}\b(?:in|into) (?:someone's|somebody's|her|his|their|my [a-z]+'s) (?:drink|coffee|tea|food|water|meal|soup|beer|wine|smoothie)\b[^.?!\n]{0,40}\bbefore (?:he|she|they)(?:'d| would| will)? (?:taste|notice|smell)s?\b|\b(?:too|so) (?:drunk|wasted|out of it|high|hammered|sedated|sleepy) to (?:say no|resist|fight back|consent|refuse|remember)\b/,
    words: ['drink', 'coffee', 'tea', 'food', 'water', 'meal', 'lunch', 'dinner', 'soup', 'beer', 'wine', 'cocktail', 'smoothie', 'bottle', 'say', 'resist', 'fight', 'consent', 'refuse', 'remember'],
    needsRequest: true,
    unless: /\b(?:my own|myself|recipe|cocktail recipe|safely|dosage for|prescribed|doctor|pharmacist|what happens if|accidentally|by accident)\b/,
  },
  {
    name: 'secrecy between an adult and a minor',
    severity: 8,
    pattern: /\b(?:(?:alone|unsupervised|in private|privately)(?: time)?(?: alone)? (?:with|around) (?:the |some |young |little |other people's |their )?(?:kids|children|minors|boys|girls|campers|students|pupils|teens|teenagers)\b[^.?!\n]{0,40}\bwithout (?:anyone|anybody|the parents|their parents|parents|people|staff|other adults) (?:getting |being |becoming )?(?:suspicious|noticing|finding out|knowing|asking questions)|secret from (?:her|his|their) (?:parents|mom|mum|dad|family|mother|father)|(?:don't|do not|never) tell (?:your|her|his) (?:parents|mom|mum|dad|mother|father)|(?:between|just) (?:us|you and me),? (?:don't|do not) tell|(?:get|make|teach|convince|coach|keep) (?:my |the |our |a |her |his )?(?:kids?|child(?:ren)?|son|daughter|stepson|stepdaughter|boy|girl|\d{1,2}[- ]?(?:year|yr)[- ]?old) (?:to (?:keep (?:(?:his|her|their) mouth shut|quiet|(?:it|this|that) (?:a )?secret)|stay quiet|not tell|lie)|(?:too )?(?:scared|afraid|frightened) to (?:tell|talk to))\b[^.?!\n]{0,40}\b(?:(?:about|regarding) (?:the |her |his |their )?(?:bruises?|marks?|injuries|burns?|punishments?|beatings?|hitting|what (?:happened|i did|we did|goes on|happens at home))|(?:when|if) (?:the |a |her |his )?(?:school )?(?:counsell?ors?|teachers?|social workers?|cps|police|doctors?|nurses?) (?:asks?|questions?|comes?|calls?)|(?:his|her|their|the|a|any) (?:school )?(?:counsell?ors?|teachers?|social workers?|cps|police|doctors?|nurses?)\b[^.?!\n]{0,20}\babout\b))\b/,
    words: ['secret', 'tell', 'alone', 'unsupervised', 'private', 'privately', 'mouth', 'quiet', 'lie', 'talk'],
    alsoNeeds: [/\b(?:teens?|teenage|teenagers?|minors?|underage|kids?|child(?:ren)?|students?|pupils?|campers|(?:[5-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old|daughter's friend|son's friend|niece|nephew|schoolgirl|schoolboy|girl|boy)\b/],
    needsRequest: false,
    unless: /\b(?:surprise|birthday|gift|present|party|protect\w*|warning signs|is it normal|should i be worried|report)\b/,
  },
  {
    name: 'breaking into a home or vehicle',
    severity: 6,
    pattern: /\b(?:break(?:ing)?|sneak(?:ing)?) into (?:a |an |the |my \w+'s |someone's |somebody's |his |her |their |people's )?(?:\w+ )?(?:house|houses|home|homes|apartment|flat|car|cars|building|office|store|shop|school|garage|shed|warehouse|safe|vault)\b|\b(?:disable|disabling|cut|cutting|bypass|bypassing|deactivate|deactivating|kill|jam|jamming) (?:the |an? )?(?:alarms?|alarm system|security system|security cameras?|cameras?)\b[^.?!\n]{0,30}\b(?:vault|bank|store|shop|museum|jewell?ery store|gallery|warehouse|someone's|somebody's|neighbou?r's)\b/,
    words: ['house', 'houses', 'home', 'homes', 'apartment', 'flat', 'car', 'cars', 'building', 'office', 'store', 'shop', 'school', 'garage', 'shed', 'warehouse', 'safe', 'vault',
      'alarm', 'alarms', 'security', 'camera', 'cameras'],
    needsRequest: true,
    unless: /\b(?:locked (?:myself )?out|my own|own (?:house|home|car|apartment)|locksmith|lost (?:my|the) keys?|prevent\w*|protect\w*|secure|burglar-?proof|how do (?:burglars|thieves|criminals))\b/,
  },
  {
    name: 'sabotaging a vehicle',
    severity: 7,
    pattern: /\b(?:brakes?|brake lines?|steering|tyres?|tires?|wheel nuts|lug nuts)\b[^.?!\n]{0,60}\b(?:look like|pass (?:as|for)|seem like) (?:normal |natural |regular |ordinary )?(?:wear|an accident|a malfunction|a failure|an equipment failure)\b|\b(?:disable|cut|tamper(?:ing)? with|sabotage|mess(?:ing)? with|loosen|drain|jam)\b[^.?!\n]{0,30}\b(?:brakes?|brake lines?|brake fluid|steering|airbags?|tires|tyres|fuel lines?|throttle)\b|\b(?:make|cause|get)\b[^.?!\n]{0,30}\b(?:car|truck|house|school|building|office|plane|bus|train)\b[^.?!\n]{0,10}\b(?:explode|blow up|catch fire|burn down|crash)\b/,
    words: ['brake', 'brakes', 'lines', 'line', 'fluid', 'steering', 'airbag', 'airbags', 'tires', 'tyres', 'tire', 'tyre', 'nuts', 'fuel', 'throttle', 'explode', 'blow', 'catch', 'burn', 'crash'],
    needsRequest: true,
    unless: /\b(?:replace|replacing|fix|fixing|repair\w*|change|changing|bleed|bleeding|maintain\w*|inspect\w*|check|my own|mechanic|safely|why (?:do|did|would)|in (?:a|the) (?:game|movie|film|story)|volcano|science fair|experiment|model|toy|simulation|special effects)\b/,
  },
  {
    name: 'promoting self-harm or dangerous behaviour',
    severity: 6,
    pattern: /\b(?:encourag(?:e|es|ed|ing)|promot(?:e|es|ed|ing)|convinc(?:e|es|ed|ing)|persuad(?:e|es|ed|ing)|glamori[sz](?:e|es|ed|ing)|glorif(?:y|ies|ied|ying)|pressur(?:e|es|ed|ing))\b[^.?!\n]{0,40}\b(?:to (?:starve|purge|binge|overdose|drive drunk|drink bleach|(?:cut|harm|hurt|kill|starve) themselves|stop taking (?:their |your )?(?:medication|meds|insulin|medicine)|try (?:vaping|smoking|drugs|meth|heroin|cocaine|self-harm|starving|purging))|eating disorders?|anorexia|bulimia|self-harm|self harm|suicide|drunk driving|drinking bleach|vaping|smoking|drugs)\b|\b(?:tell(?:s|ing)?|urg(?:e|es|ing)|convinc(?:e|es|ing)|encourag(?:e|es|ing)|persuad(?:e|es|ing))\b[^.?!\n]{0,30}\b(?:should (?:just )?|to (?:just )?)(?:go all the way(?! (?:with|to|in|on|for|into|through|up|down|back|home|there)\b)|kill (?:herself|himself|themselves|yourself)|end (?:it all|her life|his life|their lives?|your life)|off (?:herself|himself|themselves|yourself)|do (?:the world|everyone) a favou?r and die)\b|\b(?:convinc(?:e|es|ed|ing)|encourag(?:e|es|ed|ing)|persuad(?:e|es|ed|ing)|get(?:ting)?|dar(?:e|es|ed|ing)|challeng(?:e|es|ed|ing)) (?:children|kids|teens|teenagers|toddlers|people|users|viewers|followers|readers) to (?:eat|drink|swallow|ingest|inhale|huff|snort|consume|chew) (?:laundry detergent|detergent(?: pods?)?|tide pods|laundry pods|bleach|antifreeze|cleaning products?|hand saniti[sz]er|batteries|paint thinner|cinnamon|nail polish remover)\b/,
    words: ['encourage', 'encourages', 'encouraged', 'encouraging', 'promote', 'promotes', 'promoted', 'promoting', 'convince', 'convinces', 'convinced', 'convincing',
      'persuade', 'persuades', 'persuaded', 'persuading', 'glamorize', 'glamorizes', 'glamorized', 'glamorizing', 'glamorise', 'glamorises', 'glamorised', 'glamorising',
      'glorify', 'glorifies', 'glorified', 'glorifying', 'pressure', 'pressures', 'pressured', 'pressuring', 'get', 'getting', 'dare', 'dares', 'dared', 'daring', 'challenge',
      'challenges', 'challenged', 'challenging', 'tell', 'tells', 'telling', 'urge', 'urges', 'urging'],
    needsRequest: true,
    unless: /\b(?:quit|quitting|stop|stopping|avoid|prevent\w*|recover\w*|risks?|dangers?|awareness|not to|never to|healthy|exercise|vegetables|study|studying|vote|voting|recycle|donate|seek help|get help|therapy|(?:keeps?|kept|been|are|is|were|was) (?:telling|urging))\b/,
  },
  {
    name: 'pirated content',
    severity: 6,
    pattern: /\bpirated (?:movies|films|software|games|music|content|books|copies|episodes|shows)\b|\bpirat(?:e|es|ing) (?:(?:copyrighted|paid|commercial) )?(?:software|movies|films|games|music|content|books|apps|episodes|shows|windows|photoshop)\b|\b(?:host|hosts|hosting|share|shares|sharing|distribute|distributes|distributing|stream|streams|streaming|sell|selling) (?:pirated|cracked|bootleg(?:ged)?|illegal copies of)\b|\b(?:read|give|list|tell|send|generate|recite|share)(?: me)?\b[^.?!\n]{0,30}\b(?:windows|office|photoshop|adobe|autocad|steam|xbox|playstation|psn)(?: \d+| xp| vista)?(?: pro| home| enterprise| professional)? (?:product|activation|license|licence|serial|cd|retail) (?:keys?|codes?)\b/,
    words: ['pirated', 'cracked', 'bootleg', 'bootlegged', 'illegal', 'pirate', 'pirates', 'pirating', 'key', 'keys', 'code', 'codes'],
    needsRequest: true,
    unless: /\b(?:legal(?:ly)?|report\w*|prevent\w*|protect\w*|copyright law|what (?:is|are))\b/,
  },
  {
    name: 'knocking a person out',
    severity: 6,
    pattern: /\bknock(?:ing|ed)?\s+(?:someone|somebody|him|her|them|a person|people|a guard|the guard|my \w+)\s+(?:out|unconscious|cold|senseless)\b|\b(?:render|leave|make)(?:ing)?\s+(?:someone|somebody|him|her|them|a person|people|a guard|the guard|my \w+)\s+(?:unconscious|senseless)\b|\b(?:homemade|home-?made|diy)\s+(?:taser|stun gun|tranquili[sz]er|knockout (?:gas|spray|drops))\b/,
    words: ['knock', 'render', 'make', 'leave', 'homemade', 'home', 'diy'],
    needsRequest: true,
    // "The doctor won't help" is no medical setting.
    unless: /\b(?:boxing|mma|martial arts?|self[- ]defen[cs]e class|sparring|anesthesia|anaesthesia|surgery|doctor(?! (?:won't|will not|refuses?|wouldn't|doesn't|does not|isn't|is not|can't|cannot)\b)|legal(?:ly)?)\b/,
  },
  {
    name: 'carrying contraband or people past security',
    severity: 6,
    pattern: /\b(?:sneak|smuggle|get|bring|carry|hide|slip)\b[^.?!\n]{0,40}\b(?:knife|knives|gun|guns|firearm|weapon|weapons|blade|explosives?|drugs|contraband)\b[^.?!\n]{0,30}\b(?:past|through|by|into)\b[^.?!\n]{0,20}\b(?:security|metal detectors?|(?:x-ray |body )?scanners?|airport|tsa|guards?|checkpoints?|customs|border|prison|jail|courthouse)\b|\b(?:get|bring|move|sneak|smuggle|take|ship)\b[^.?!\n]{0,30}\b(?:migrants|refugees|immigrants|people|children|girls|women)\b[^.?!\n]{0,40}\b(?:past (?:the )?(?:heartbeat |co2 |x-ray )?(?:scanners?|detectors?|sensors?)|undetected|without (?:papers|documents|visas?|being (?:caught|detected|seen|checked))|hidden in (?:a |the )?(?:lorry|lorries|truck|trucks|van|container|boot|trunk))/,
    words: ['security', 'metal', 'detector', 'detectors', 'scanner', 'scanners', 'airport', 'tsa', 'guard', 'guards', 'checkpoint', 'checkpoints', 'customs', 'border', 'prison', 'jail', 'courthouse',
      'sensor', 'sensors', 'migrants', 'refugees', 'immigrants', 'people', 'children', 'girls', 'women'],
    needsRequest: true,
    unless: /\b(?:allowed|permitted|rules for|legal(?:ly)?|declare|checked bag|tsa rules|prohibited items list)\b/,
  },
  {
    name: 'an attack on a computer system or its users',
    severity: 6,
    pattern: /\blog ?(?:in|on)(?:to)?\b[^.?!\n]{0,60}\busing (?:the )?(?:credentials|password|passwords|login|logins)\b[^.?!\n]{0,40}\b(?:saw|seen|spotted|noticed|overheard|shoulder[- ]surfed|glimpsed|copied)\b|\b(?:ddos|denial[- ]of[- ]service attack|flood(?:s|ing|ed)? (?:a |the |their |his |her |my \w+'s )?(?:website|site|server|network|inbox|phone) with|take (?:down|offline) (?:a |the |their |his |her |someone's |my \w+'s )?(?:website|site|server|network)|until (?:it|the (?:site|server|website|network)) (?:goes down|crashes|goes offline)|brute[- ]?forc(?:e|es|ed|ing) (?:the |a |their |his |her |someone's |my \w+'s )?(?:login|password|account|portal|wifi|router)|credential stuffing|(?:steal|steals|stealing|stole) (?:\w+ ){0,3}(?:cookies|passwords|credentials|session tokens|logins?|crypto wallets?)|(?:spreads?|propagates?|self-replicat(?:es|ing)) (?:itself )?(?:over|through|via|across) (?:usb|the (?:[a-z]+ )?network|networks|email|e-mail)|encrypts? (?:every|all|each|the) (?:[a-z]+ )?(?:files?|documents?|drives?)\b[^.?!\n]{0,60}\bransom|ransom (?:note|demand)|(?:take over|hijack|get into|break into|hack(?: into)?|access) (?:the |a |an |their |his |her |someone's |somebody's |my \w+'s )?(?:[\w@.'-]+ ){0,3}accounts?\b[^.?!\n]{0,40}\bwithout (?:knowing |having |needing )?(?:the |their |his |her )?(?:password|owner's (?:permission|consent)|(?:permission|consent))|bypass (?:the |a |their )?(?:login|authentication|2fa|two-factor|paywall|license check|drm|antivirus|age verification|age checks?|parental controls?|content filters?)|disable (?:the |their |someone's |all )?(?:antivirus|security cameras?|alarm system|cctv|cameras? and (?:the )?alarms?|alarms? and (?:the )?cameras?)|(?:fake|cloned?|copy of a|copy of the)[^.?!\n]{0,30}(?:login|sign[- ]?in) page|(?:login|sign[- ]?in) page (?:that )?(?:looks?|appears?) (?:exactly |just )?like|inject(?:s|ing)? (?:\w+ ){0,2}shellcode|shellcode (?:loader|injector|runner)|process (?:injection|hollowing)|(?:slip|slips|sneak|sneaks|get|gets|evade|evades|evading) (?:past|around|by) (?:windows defender|defender|antivirus|the antivirus|av|edr|endpoint protection)|without (?:tripping|triggering|alerting|being (?:caught|flagged|detected) by) (?:windows defender|defender|antivirus|the antivirus|av|edr|endpoint protection)|flood(?:s|ing|ed)? (?:a |the |their )?(?:target(?:'s)? |victim's )?(?:ip(?: address)?|host|router|server|port) with (?:syn|udp|icmp|http|ping|get) ?(?:packets|requests|floods?)?|syn flood(?:s|ing)?|take (?:a |the |their |his |her |someone's )?(?:website|site|server|network|service) (?:down|offline)|(?:pull|extract|dump|grab|steal|harvest)(?:s|ing)? (?:every |all |the )?(?:saved |stored )?(?:passwords?|credentials|cookies|session tokens) (?:out of|from) (?:a |the )?(?:victim's|target's|someone's|other people's|their)|polymorphic (?:loader|malware|payload|virus|dropper))\b|\b(?:harvest(?:s|ing)?|scrap(?:e|es|ing)|collect(?:s|ing)?|steal(?:s|ing)?|sell(?:s|ing)?)\b[^.?!\n]{0,20}\b(?:user|users'?|personal|private|customer|customers'?|people's) (?:data|information|details|emails?|contacts)\b[^.?!\n]{0,40}\b(?:sell(?:s|ing)?|to (?:third[- ]part(?:y|ies)|advertisers|data brokers)|without (?:their |the user's |users' |anyone's )?(?:consent|knowledge|permission))\b/,
    words: ['ddos', 'denial', 'account', 'accounts', 'down', 'offline', 'crashes', 'credential', 'bypass', 'disable', 'flood', 'floods', 'flooding', 'flooded', 'brute', 'bruteforce',
      'bruteforces', 'bruteforced', 'bruteforcing', 'steal', 'steals', 'stealing', 'stole', 'spread', 'spreads', 'propagate', 'propagates', 'self', 'ransom', 'login', 'signin', 'sign', 'shellcode', 'injection', 'hollowing', 'defender', 'antivirus', 'av', 'edr',
      'endpoint', 'polymorphic', 'syn', 'tripping', 'triggering', 'alerting', 'passwords', 'password', 'credentials', 'cookies', 'tokens',
      'harvest', 'harvests', 'harvesting', 'scrape', 'scrapes', 'scraping', 'collect', 'collects', 'collecting', 'sell', 'sells', 'selling'],
    needsRequest: true,
    unless: /\b(?:authori[sz]ed|my own|forg[eo]t\w*|locked out|legal(?:ly)?|lawful(?:ly)?|library|pentest\w*|penetration test\w*|ctf|capture the flag|lab environment|defend(?:s|ed|ing)?|protect\w*|prevent\w*|detect\w*|mitigat\w*|gdpr|ccpa|compl(?:y|iance)|privacy policy|opt[- ](?:in|out)|with (?:their|the user's|users') consent|anonymi[sz]\w*)\b/,
  },
  {
    name: 'a weapon or agent of mass harm',
    severity: 7,
    pattern: /\b(?:(?:strongest|most toxic|deadliest|most dangerous|worst) (?:fumes|gas|gases)\b[^.?!\n]{0,60}\b(?:closed|small|enclosed|sealed|unventilated) (?:bathroom|room|space|car|bedroom|closet)|(?:plan|execute|carry out|stage|cause|set off|trigger|detonate)(?: and (?:plan|execute|carry out|stage))? (?:a |an |the )?(?:[a-z]+ )?explosions? (?:at|in|on|inside|near|during) (?:a |an |the )?[a-z]+|(?:plan|execute|carry out|stage|cause|set off|trigger|detonate)(?: and (?:plan|execute|carry out|stage))? (?:a |an |the )?(?:stadium|school|church|mosque|synagogue|concert|subway|metro|airport|mall|hospital|crowd|embassy|office|building|bus|train|plane) explosions?|ricin|sarin|tabun|soman|novichok|anthrax|botulinum|botulism toxin|smallpox|weaponi[sz](?:e|es|ed|ing|ation)|bioweapons?|biological weapons?|chemical weapons?|nerve (?:agent|gas)|mustard gas|chlorine gas|phosgene|toxic gas|poison gas|dirty bomb|pipe bomb|(?:pack|fill|stuff)(?:s|ed|ing)? (?:a |the )?(?:steel |metal |pvc |copper |iron |galvani[sz]ed )?pipe with (?:black |gun ?|flash )?powder|maximum fragmentation|dry ice (?:bomb|in a (?:sealed|closed|capped) (?:plastic )?bottle)|(?:sealed|closed|capped) (?:plastic )?bottle (?:with|of|full of) dry ice|fragmentation (?:device|pattern|sleeve)|pressure cooker bomb|molotov cocktails?|thermite|tatp|c-?4 explosive|semtex|nitroglycerin|detonators?|ghost guns?|untraceable (?:gun|guns|firearm|weapon|poison)|3d[- ]printed (?:gun|firearm)|silencer|suppressor|full[- ]auto conversion|auto sear|bump stock)\b/,
    words: ['ricin', 'sarin', 'tabun', 'soman', 'novichok', 'anthrax', 'botulinum', 'botulism', 'smallpox', 'bioweapon', 'bioweapons', 'biological', 'chemical', 'nerve',
      'mustard', 'chlorine', 'phosgene', 'toxic', 'poison', 'dirty', 'pipe', 'pressure', 'fragmentation', 'dry', 'molotov', 'thermite', 'tatp', 'c4', 'explosive', 'semtex', 'nitroglycerin', 'detonator',
      'detonators', 'ghost', 'untraceable', '3d', 'silencer', 'suppressor', 'full', 'auto', 'bump', 'weaponize', 'weaponizes', 'weaponized', 'weaponizing',
      'weaponization', 'weaponise', 'weaponises', 'weaponised', 'weaponising', 'weaponisation', 'explosion', 'explosions', 'fumes', 'gas', 'gases'],
    needsRequest: true,
    unless: /\b(?:treaty|treaties|convention|history|historical|ban(?:ned)?|what (?:is|are|was|were)(?! the (?:exact |best |easiest |quickest |simplest |full )?(?:procedure|process|method|recipe|way|steps|formula|ingredients|amounts|quantities))|symptoms?|treat\w*|antidote|survive|protect\w*|detect\w*|safety (?:data|precautions|information|rules)|dispos\w+|(?:never|not) (?:be )?mix(?:ed)?|(?:never|not|don't|do not|won't) (?:to )?(?:combine|mix|use (?:them )?together)|avoid (?:combining|mixing)|shouldn't (?:be )?mix(?:ed)?|avoid mixing|dangerous to mix|accidentally)\b/,
  },
  {
    name: 'turning medicine into a street drug',
    severity: 7,
    pattern: /\bhow (?:much|many) (?:of )?(?:my |his |her |someone's |[a-z]+'s )?(?:[a-z]+'s )?(?:oxy|oxys|oxycodone|xanax|xans|percs?|percocet|vicodin|fentanyl|morphine|adderall|codeine|lean|benzos?|klonopin|valium|tramadol)\b[^.?!\n]{0,40}\b(?:to (?:actually )?(?:feel (?:it|high|something)|get (?:high|a buzz|buzzed|fucked up)|trip)|(?:but|without) (?:not )?(?:end(?:ing)? up|landing) in the (?:er|hospital))\b|\b(?:extract|extracting|pull|pulling|isolate|isolating|get|getting|separate|separating)\b[^.?!\n]{0,20}\bpseudoephedrine\b|\bpseudoephedrine\b[^.?!\n]{0,30}\b(?:out of|from) (?:the )?(?:cold|allergy|sinus|decongestant|sudafed)\b|\bpseudoephedrine\b[^.?!\n]{0,60}\b(?:stronger|meth|methamphetamine|crystal|sell)\b|\b(?:cook|cooking|make|making|brew|brewing)\b[^.?!\n]{0,30}\bfrom (?:the |some )?(?:cold (?:medicine|meds|pills|tablets)|allergy (?:medicine|pills|tablets)|sudafed|decongestants?)\b|\b(?:extract|extracting|harvest|harvesting|collect|collecting|scor(?:e|ing))\b[^.?!\n]{0,20}\b(?:raw )?opium\b|\bopium\b[^.?!\n]{0,30}\b(?:into|to make) (?:morphine|heroin)\b/,
    words: ['cook', 'cooking', 'brew', 'brewing', 'opium', 'cold', 'allergy', 'sudafed', 'decongestant', 'decongestants', 'pseudoephedrine', 'oxy', 'oxys', 'oxycodone', 'xanax', 'xans', 'perc', 'percs', 'percocet', 'vicodin', 'fentanyl', 'morphine', 'adderall', 'codeine', 'lean', 'benzo', 'benzos',
      'klonopin', 'valium', 'tramadol'],
    needsRequest: true,
    unless: /\b(?:side effects?|dosage|dose for|safe to take|interact\w*|blood pressure|why (?:is|are) (?:it|they) (?:kept|sold) behind|law|laws|regulat\w*)\b/,
  },
  {
    name: 'holding private images or identity numbers over a person',
    severity: 7,
    pattern: /\b(?:i have|i've got|i got|i still have|i kept)\b[^.?!\n]{0,25}\b(?:social security number|ssn|private (?:photos|pictures|pics|images|videos)|intimate (?:photos|pictures|images|videos)|nudes|nude (?:photos|pictures|pics))\b/,
    words: ['social', 'ssn', 'private', 'intimate', 'nudes', 'nude'],
    needsRequest: true,
    unless: /\b(?:leaked|were leaked|someone (?:posted|shared|leaked)|revenge porn (?:law|laws|victim)|report\w*|take (?:them )?down|remove|delete|protect\w*|safely (?:store|keep))\b/,
  },
  {
    name: 'crack cocaine',
    severity: 6,
    pattern: /\b(?:make|making|cook|cooking|buy|buying|get|getting|score|scoring|sell|selling|smoke|smoking|some|rock of) crack\b(?! (?:open|an? |the |in |on |down|up|my |your |his |her |this |that |it|a joke|jokes|the code|the password))|\bcrack (?:cocaine|pipe|rock|house)s?\b/,
    words: ['crack'],
    needsRequest: true,
  },
  {
    name: 'breaking bones of a person',
    severity: 6,
    pattern: /\b(?:crack|cracking|break|breaking|snap|snapping|smash|smashing|fracture|fracturing|shatter|shattering) (?:open )?(?:(?:a |an |the |someone's |somebody's |his |her |their |my [a-z]+'s )?(?:human )?(?:skull|skulls|neck|necks|spine|ribs|kneecaps?|jaw|jaws|windpipe)|(?:someone's|somebody's|his|her|their|my [a-z]+'s) (?:legs?|arms?|fingers?|knees?|bones|nose|teeth|wrists?|ankles?))\b/,
    words: ['skull', 'skulls', 'neck', 'necks', 'spine', 'ribs', 'kneecap', 'kneecaps', 'jaw', 'jaws', 'windpipe', 'leg', 'legs', 'arm', 'arms', 'finger', 'fingers', 'knee',
      'knees', 'bones', 'nose', 'teeth', 'wrist', 'wrists', 'ankle', 'ankles'],
    needsRequest: true,
    unless: /\b(?:chicken|crab|lobster|turkey|fish|x-?rays?|heal\w*|treat\w*|doctor|surgeon|surgery|injur(?:y|ies|ed)|recover\w*|fossil|skeleton model|chiropract\w*)\b/,
  },
  {
    name: 'getting round a legal control',
    severity: 6,
    pattern: /\b(?:delete|destroy|shred|wipe|remove|bury)\b[^.?!\n]{0,20}\b(?:the )?(?:original|records?|evidence|files?|logs?|emails?|documents?|reports?|versions?)\b[^.?!\n]{0,60}\bbefore (?:the )?(?:osha|police|auditors?|inspectors?|investigators?|regulators?|lawyers?|court|inspection|audit|investigation|fda|sec|hse)\b|\b(?:screen|filter|weed|sort) out\b[^.?!\n]{0,30}\b(?:muslim|jewish|black|gay|female|women|pregnant|disabled|older|christian|hindu|asian|hispanic|latino|immigrant|trans|arab|indian)\w* (?:applicants?|candidates?|people|tenants?|renters?|employees?|workers?)\b|\b(?:(?:auto-?)?reject(?:s|ed|ing)?|(?:screen|filter|weed)(?:s|ed|ing)? out|exclud(?:e|es|ed|ing)|depriorit[iy][sz](?:e|es|ed|ing))\b[^.?!\n]{0,30}\b(?:applicants?|candidates?|resumes?|cvs?|tenants?|renters?|job seekers?)\b[^.?!\n]{0,30}\b(?:over (?:the age of )?[4-9]\d|older than [4-9]\d|who (?:are|is|mention|mentions|say|says|have|has) (?:an? )?(?:pregnan\w*|maternity|disab\w*|muslim|jewish|black|gay|foreign|immigrants?|older)|with (?:foreign|ethnic|arabic|african|muslim)[- ](?:sounding )?names?)|\b(?:buy|get|obtain|acquire|order|purchase)\b[^.?!\n]{0,40}\bwithout (?:a |any |going through (?:a |the )?)?(?:prescription|background checks?|licen[cs]e|permit|id|age verification|serial numbers?)\b|\b(?:remove|take off|cut off|disable|block|jam|trick|fool|bypass)\b[^.?!\n]{0,40}\b(?:ankle (?:monitor|bracelet)|electronic (?:tag|monitor))\b|\b(?:ankle monitor|ankle bracelet|electronic tag)\b[^?!\n]{0,60}\b(?:take it off|cut it off|block (?:its|the) signal|without (?:my|the) (?:po|probation officer|parole officer) (?:getting|knowing|noticing))\b/,
    words: ['prescription', 'background', 'check', 'checks', 'license', 'licence', 'permit', 'id', 'age', 'serial', 'ankle', 'electronic', 'before', 'out',
      'reject', 'rejects', 'rejected', 'rejecting', 'autoreject', 'autorejects', 'autorejected', 'autorejecting', 'exclude', 'excludes', 'excluded', 'excluding',
      'deprioritize', 'deprioritizes', 'deprioritized', 'deprioritizing', 'deprioritise', 'deprioritises', 'deprioritised', 'deprioritising'],
    needsRequest: true,
    unless: /\b(?:over[- ]the[- ]counter|otc|legally|legal|is it legal|allowed|discriminat\w* against|equal opportunit\w*|unconscious bias|retention (?:policy|schedule))\b/,
  },
];

/** Trigger word → bit set of the cues (by index) whose matches may contain it. */
const CUE_WORDS = new Map<string, number>();
INTENT_CUES.forEach((cue, i) => {
  for (const w of cue.words) {
    if (!/^[a-z0-9]{2,}$/.test(w)) throw new LimitError('LIMIT_RULE_INVALID', `unsafe.intent cue "${cue.name}": trigger "${w}" is not two or more of a-z0-9`);
    CUE_WORDS.set(w, (CUE_WORDS.get(w) ?? 0) | (1 << i));
  }
});
if (INTENT_CUES.length > 31) throw new LimitError('LIMIT_RULE_INVALID', 'unsafe.intent holds more cues than its 31-bit candidate set');
const ALL_CUES = 2 ** INTENT_CUES.length - 1;
const isAscii = (text: string): boolean => Buffer.byteLength(text, 'utf8') === text.length;

/** The cues that need no request (their words carry the intent), as a bit set … */
const NO_REQUEST_CUES = INTENT_CUES.reduce((mask, cue, i) => (cue.needsRequest ? mask : mask | (1 << i)), 0);
/** … and their words as PatternTriggers: few enough to be interned by the engine's views (one bit test each). */
const NO_REQUEST_TRIGGERS: readonly (readonly [number, PatternTriggers])[] = INTENT_CUES.flatMap((cue, i) => (cue.needsRequest ? [] : [[i, { words: cue.words }] as const]));

/**
 * The cues that may match this view: those with a trigger word among its tokens (or among the
 * parts of a token split at apostrophes, where regex word boundaries also fall), of those in
 * `among`. A view of another text than the subject's, or a non-ASCII one (whose Unicode tokens need
 * not fall on regex word boundaries), gets every cue of `among`.
 */
function candidates(subject: RuleSubject, view: TextView, among: number): number {
  if (view.text !== subject.text || !isAscii(view.lower)) return among;
  const apostrophes = view.lower.includes("'");
  let mask = 0;
  for (const t of view.tokens) {
    mask |= CUE_WORDS.get(t.w) ?? 0;
    if (apostrophes && t.w.includes("'")) for (const part of t.w.split("'")) mask |= CUE_WORDS.get(part) ?? 0;
  }
  return mask & among;
}

/** `candidates` for the cues that need no request, from the views' trigger index instead of a token pass. */
function noRequestCandidates(subject: RuleSubject, view: TextView): number {
  if (view.text !== subject.text) return NO_REQUEST_CUES;
  let mask = 0;
  for (const [i, triggers] of NO_REQUEST_TRIGGERS) if (view.mayMatch(triggers)) mask |= 1 << i;
  return mask;
}

export interface IntentHit {
  cue: IntentCue;
  /** The cue's severity for this text, before the pack's mitigations. */
  severity: number;
  start: number;
  end: number;
}

/**
 * The cues of INTENT_CUES this view asks for (each at most once), in declaration order;
 * `harmful(view)` says whether the text holds a word of harm (for `weakAlone` cues).
 */
export function intentHits(subject: RuleSubject, view: TextView, harmful: (view: TextView) => boolean, ungated = false): IntentHit[] {
  const lower = view.lower;
  // Most cues need the text to ask for something: one regex decides whether they are tried at all,
  // before the token pass that finds which cues' words are present.
  const asks = REQUEST.test(lower) || (view.mayMatch(AGENT_VERB_TRIGGERS) && ordersAgent(lower));
  const among = asks ? ALL_CUES : NO_REQUEST_CUES;
  // `ungated`: every cue is tried (the reference the prefilter test compares the gate with).
  const may = ungated ? among : asks ? candidates(subject, view, among) : noRequestCandidates(subject, view);
  const hits: IntentHit[] = [];
  for (let i = 0; i < INTENT_CUES.length; i++) {
    if ((may & (1 << i)) === 0) continue;
    const cue = INTENT_CUES[i]!;
    const m = cue.pattern.exec(lower);
    if (!m) continue;
    if (cue.unless?.test(lower)) continue;
    if (cue.alsoNeeds && !cue.alsoNeeds.every((re) => re.test(lower))) continue;
    const severity = cue.weakAlone && !harmful(view) ? cue.severity - 2 : cue.severity;
    hits.push({ cue, severity, start: m.index, end: m.index + m[0].length });
  }
  return hits;
}
