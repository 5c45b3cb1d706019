/**
 * `unsafe.intent`: harmful requests recognised by their structure rather than by a lexicon pair —
 * the act is to be hidden ("without her knowing", "so it looks like an accident"), someone is to
 * be watched in secret, a group is to be demeaned, a known falsehood is to be spread, a minor is
 * drawn into sexual content, an animal is to be hurt, a scam or a cyber-attack is to be set up, a
 * mass-harm agent is to be made, or a legal control is to be dodged. Every category needs the text
 * to ask for something (a request or a stated intent), and the pack's mitigations (definition,
 * fiction, protective framing) lower the severity as for the other rules.
 */
import type { PatternTriggers, RuleSubject, TextView } from 'limit-graph';

export interface IntentCue {
  /** Why it is harmful, as the finding's reason says it. */
  name: string;
  /** Severity before mitigation. */
  severity: number;
  pattern: RegExp;
  /** What every match contains (see PatternTriggers): the regex runs only where it may match. */
  triggers: PatternTriggers;
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
export const REQUEST = /\b(?:how (?:do|can|could|would|should|might|does|did) (?:i|we|you|one|someone|somebody|a person)|how to|ways? (?:to|of|for)|best way|easiest way|quickest way|simplest way|steps? (?:to|for)|instructions|tutorial|guide|help me|teach me|tell me|show me|explain|give|provide|write|create|generate|draft|compose|make|build|produce|design|plan|describe|list|i (?:want|need|plan|intend|am going|'m going) to|what(?:'s| is) the (?:best|easiest|quickest|simplest|fastest) way|where (?:can|could|do|should|might) (?:i|we|you|one|someone) (?:buy|get|find|order|obtain|purchase|hire)|synthesi[sz]e|synthesis|recipe|procedure|method)\b/;

const PERSON = String.raw`(?:my |his |her |their |your |a |the |some )?(?:(?:ex[- ]?)?(?:wife|husband|girlfriend|boyfriend|partner|spouse)|ex|kid|kids|son|daughter|child|teen|teenager|employee|employees|coworker|colleague|neighbou?r|roommate|boss|sister|brother|mother|father|mom|dad|friend|someone|somebody|a person|people)`;

export const INTENT_CUES: readonly IntentCue[] = [
  {
    name: 'the act is to stay hidden or be passed off as something else',
    severity: 6,
    pattern: /\bwithout (?:(?:anyone|anybody|him|her|them|people|(?:my|his|her|their|the) [a-z-]+) )?(?:ever )?(?:knowing|noticing|finding out|suspecting|realizing|realising|tracing it)\b|\bwithout (?:getting |being )?(?:caught|noticed|detected|traced|identified|found out)\b|\bso (?:that )?(?:it looks like an accident|(?:nobody|no one) (?:notices|knows|finds out|will (?:know|notice|find out))|(?:they|he|she) (?:don't|doesn't|won't|can't) (?:notice|find out|know|tell))\b|\bget away with (?:it|murder|killing|stealing|hitting|hurting)\b|\bcover (?:up )?my tracks\b|\bwithout leaving (?:a |any )?(?:trace|evidence|fingerprints|marks)\b/,
    triggers: { words: ['without', 'accident', 'nobody', 'no', 'notice', 'find', 'know', 'tell', 'away', 'tracks'] },
    needsRequest: true,
    unless: /\b(?:surprise|gift|present|birthday|party|proposal|propose|prank|tooth fairy|santa)\b/,
    weakAlone: true,
  },
  {
    name: 'covert surveillance of another person',
    severity: 6,
    pattern: new RegExp(String.raw`\b(?:secretly|covertly|remotely|spy on|stalk|track|monitor|hack into|break into|get into|snoop (?:on|through)|intercept|tap)\b[^.?!\n]{0,30}\b${PERSON}(?:'s)?\b[^.?!\n]{0,30}\b(?:phone|messages|texts|text messages|location|whereabouts|email|emails|inbox|account|whatsapp|instagram|snapchat|facebook|dms|browsing history|calls|camera|webcam|diary)\b`),
    triggers: {
      words: ['phone', 'messages', 'texts', 'location', 'whereabouts', 'email', 'emails', 'inbox', 'account', 'whatsapp', 'instagram', 'snapchat', 'facebook', 'dms',
        'browsing', 'calls', 'camera', 'webcam', 'diary'],
    },
    needsRequest: true,
    unless: /\b(?:my own|parental controls?|with (?:his|her|their) (?:consent|permission|knowledge)|(?:he|she|they) (?:knows|agreed|consented)|executor|estate|passed away|deceased|lost (?:his|her|their) phone)\b/,
  },
  {
    name: 'content that demeans a group of people',
    severity: 6,
    pattern: /\b(?:jokes?|rant|insults?|slurs?|poem|song|speech|essay|post|tweet|paragraph|mock|mocks|mocking|ridicule|ridicules|demean|demeans|degrade|humiliate|insulting)\b[^.?!\n]{0,60}\b(?:mexicans|jews|jewish people|muslims|christians|black people|blacks|asians|chinese people|arabs|africans|immigrants|refugees|gays|gay people|lesbians|transgender people|trans people|women|indians|hispanics|latinos|gypsies|roma|disabled people|autistic people|catholics|hindus|sikhs|white people)\b|\bwhy (?:are|is) (?:all )?(?:mexicans|jews|muslims|black people|blacks|asians|arabs|africans|immigrants|refugees|gays|women|indians|hispanics|latinos|gypsies|disabled people|white people) (?:so |too |more |naturally |genetically )?(?:stupid|dumb|lazy|inferior|violent|criminals?|dirty|greedy|evil|worthless|disgusting)\b/,
    triggers: {
      words: ['mexicans', 'jews', 'jewish', 'muslims', 'christians', 'black', 'blacks', 'asians', 'chinese', 'arabs', 'africans', 'immigrants', 'refugees', 'gays', 'gay',
        'lesbians', 'transgender', 'trans', 'women', 'indians', 'hispanics', 'latinos', 'gypsies', 'roma', 'disabled', 'autistic', 'catholics', 'hindus', 'sikhs', 'white'],
    },
    needsRequest: false,
    unless: /\b(?:respectful|respectfully|kind|positive|celebrat\w*|appreciat\w*|not offensive|inoffensive|wholesome)\b/,
  },
  {
    name: 'spreading a known falsehood',
    severity: 6,
    pattern: /\b(?:vaccines? (?:cause|causes|causing|caused) autism|holocaust (?:never happened|did not happen|didn't happen|was (?:a )?(?:hoax|fake|lie|myth|exaggerated))|(?:the )?(?:\d{4} )?(?:presidential )?election was (?:stolen|rigged)|climate change is (?:a )?(?:hoax|fake|lie|scam|myth)|moon landings? (?:was |were )?(?:fake|faked|staged|a hoax)|5g (?:causes|caused|spreads|spread) (?:covid|coronavirus|cancer)|covid(?:-19)? (?:is|was) (?:a )?(?:hoax|fake|lie)|the earth is flat|chemtrails (?:are|poison))\b/,
    triggers: { words: ['vaccine', 'vaccines', 'holocaust', 'election', 'climate', 'moon', '5g', 'covid', 'earth', 'chemtrails'] },
    needsRequest: true,
    unless: /\b(?:debunk\w*|refut\w*|fact[- ]check\w*|is it true|is there (?:any )?evidence|why (?:do|did) (?:people|some)|myth)\b/,
  },
  {
    name: 'sexual content or contact involving a minor',
    severity: 9,
    pattern: /\b(?:minor|minors|child|children|kid|kids|underage|preteen|pre-teen|(?:[5-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old|schoolgirl|schoolboy|teen|teenager|teens|girl|boy)\b[^.?!\n]{0,60}\b(?:nudes?|naked|sexual(?:ly)?|explicit (?:photos|pictures|pics|images|videos)|porn(?:o|ography|ographic)?|sext(?:s|ing|ed)?|send me (?:photos|pictures|pics|videos)|meet (?:me |up )?alone|alone with me|undress(?:ing|ed)?)\b|\b(?:nudes?|naked|sexual|sexually|explicit|porn(?:o|ography|ographic)?)\b[^.?!\n]{0,40}\b(?:minor|minors|child|children|kids|underage|preteen|(?:[5-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old)\b/,
    triggers: {
      words: ['nude', 'nudes', 'naked', 'sexual', 'sexually', 'explicit', 'send', 'meet', 'alone', 'undress', 'undressing', 'undressed', 'porn', 'porno', 'pornography',
        'pornographic', 'sext', 'sexts', 'sexting', 'sexted'],
    },
    needsRequest: false,
    unless: /\b(?:protect\w*|report\w*|warning signs|signs of|suspect|prevent\w*|talk to (?:my|our) (?:kids?|children|son|daughter)|sex education|puberty|is it normal|pediatrician|doctor)\b/,
  },
  {
    name: 'cruelty to an animal',
    severity: 6,
    pattern: /\b(?:torture|torturing|poison|poisoning|hurt|hurting|harm|harming|abuse|abusing|kick|kicking|starve|starving|drown|drowning|burn|burning|kill|killing|maim|skin|mutilate)\b[^.?!\n]{0,25}\b(?:(?:my |a |the |his |her |their |neighbou?r's |sister's |brother's |someone's )?(?:dog|dogs|cat|cats|puppy|puppies|kitten|kittens|pet|pets|animal|animals|horse|horses|bird|birds))\b/,
    triggers: { words: ['dog', 'dogs', 'cat', 'cats', 'puppy', 'puppies', 'kitten', 'kittens', 'pet', 'pets', 'animal', 'animals', 'horse', 'horses', 'bird', 'birds'] },
    needsRequest: true,
    unless: /\b(?:vet|veterinarian|symptoms?|signs|treat\w*|first aid|emergency|was poisoned|got poisoned|is poisoned|accidentally|ate|eaten|swallowed|humane(?:ly)?|euthan\w*|put down|protect\w*|safe for|toxic to|poisonous to|flea|fleas|ticks?|worms?)\b/,
  },
  {
    name: 'a scam, forgery or fraud',
    severity: 6,
    pattern: /\b(?:pretend(?:ing)? to be|posing as|pose as|impersonat(?:e|es|ed|ing)|claiming to be) (?:the |a |an |my |your |their |from )?(?:bank|irs|tax office|police|government|microsoft|apple|amazon|paypal|netflix|tech support|customer support|ceo|grand(?:son|daughter|child)|charity|fedex|ups|dhl)\b|\b(?:fake|fraudulent|bogus|sham) (?:charity|charities|invoices?|reviews?|review campaign|online store|shop|lottery|giveaway|fundraiser|crowdfunding|doctor's note|sick note|diplomas?|degrees?|insurance claims?)\b|\b(?:pump and dump|ponzi scheme|pyramid scheme|wire me (?:their|his|her|the)|carding|card skimm\w+|stolen (?:credit )?cards?|stolen identit\w+|counterfeit (?:money|bills|cash|currency|banknotes))\b|\bforg(?:e|ing) (?:a |my |his |her |the |their )?(?:[a-z]+'s )?(?:signature|documents?|cheques?|checks?|prescriptions?|sick note|doctor's note|passport|id)\b|\b(?:convince|trick|persuade|pressure|get) (?:an? )?(?:elderly|old|older|senior|vulnerable|lonely)\b[^.?!\n]{0,40}\b(?:money|savings|wire|transfer|send|bank|pin|password|gift cards?)\b/,
    triggers: {
      words: ['pretend', 'pretending', 'posing', 'pose', 'claiming', 'fake', 'fraudulent', 'bogus', 'sham', 'pump', 'ponzi', 'pyramid', 'wire', 'carding', 'card', 'stolen', 'counterfeit',
        'forge', 'forging', 'elderly', 'old', 'older', 'senior', 'vulnerable', 'lonely', 'impersonate', 'impersonates', 'impersonated', 'impersonating'],
    },
    needsRequest: true,
    unless: /\b(?:spot|recogni[sz]e|identify|detect|avoid|report|protect|warn|training|awareness|signs of|how do (?:scammers|fraudsters)|is this a scam)\b/,
  },
  {
    name: 'an attack on a computer system or its users',
    severity: 6,
    pattern: /\b(?:ddos|denial[- ]of[- ]service attack|flood(?:s|ing|ed)? (?:a |the |their |his |her |my \w+'s )?(?:website|site|server|network|inbox|phone) with|take (?:down|offline) (?:a |the |their |his |her |someone's |my \w+'s )?(?:website|site|server|network)|until (?:it|the (?:site|server|website|network)) (?:goes down|crashes|goes offline)|brute[- ]?forc(?:e|es|ed|ing) (?:the |a |their |his |her |someone's |my \w+'s )?(?:login|password|account|portal|wifi|router)|credential stuffing|(?:steal|steals|stealing|stole) (?:\w+ ){0,3}(?:cookies|passwords|credentials|session tokens|logins?|crypto wallets?)|(?:spreads?|propagates?|self-replicat(?:es|ing)) (?:itself )?(?:over|through|via|across) (?:usb|the network|networks|email|e-mail)|bypass (?:the |a |their )?(?:login|authentication|2fa|two-factor|paywall|license check|drm|antivirus)|disable (?:the |their |someone's )?(?:antivirus|security cameras?|alarm system))\b/,
    triggers: {
      words: ['ddos', 'denial', 'down', 'offline', 'crashes', 'credential', 'bypass', 'disable', 'flood', 'floods', 'flooding', 'flooded', 'brute', 'bruteforce',
        'bruteforces', 'bruteforced', 'bruteforcing', 'steal', 'steals', 'stealing', 'stole', 'spread', 'spreads', 'propagate', 'propagates', 'self'],
    },
    needsRequest: true,
    unless: /\b(?:authori[sz]ed|my own|legal(?:ly)?|lawful(?:ly)?|library|pentest\w*|penetration test\w*|ctf|capture the flag|lab environment|defend\w*|protect\w*|prevent\w*|detect\w*|mitigat\w*)\b/,
  },
  {
    name: 'a weapon or agent of mass harm',
    severity: 7,
    pattern: /\b(?:ricin|sarin|tabun|soman|novichok|anthrax|botulinum|botulism toxin|smallpox|weaponi[sz](?:e|es|ed|ing|ation)|bioweapons?|biological weapons?|chemical weapons?|nerve (?:agent|gas)|mustard gas|chlorine gas|phosgene|toxic gas|poison gas|dirty bomb|pipe bomb|pressure cooker bomb|molotov cocktails?|thermite|tatp|c-?4 explosive|semtex|nitroglycerin|detonators?|ghost guns?|untraceable (?:gun|guns|firearm|weapon|poison)|3d[- ]printed (?:gun|firearm)|silencer|suppressor|full[- ]auto conversion|auto sear|bump stock)\b/,
    triggers: {
      words: ['ricin', 'sarin', 'tabun', 'soman', 'novichok', 'anthrax', 'botulinum', 'botulism', 'smallpox', 'bioweapon', 'bioweapons', 'biological', 'chemical', 'nerve',
        'mustard', 'chlorine', 'phosgene', 'toxic', 'poison', 'dirty', 'pipe', 'pressure', 'molotov', 'thermite', 'tatp', 'c4', 'explosive', 'semtex', 'nitroglycerin', 'detonator',
        'detonators', 'ghost', 'untraceable', '3d', 'silencer', 'suppressor', 'full', 'auto', 'bump', 'weaponize', 'weaponizes', 'weaponized', 'weaponizing',
        'weaponization', 'weaponise', 'weaponises', 'weaponised', 'weaponising', 'weaponisation'],
    },
    needsRequest: true,
    unless: /\b(?:treaty|treaties|convention|history|historical|ban(?:ned)?|what (?:is|are|was|were)|symptoms?|treat\w*|antidote|survive|protect\w*|detect\w*|safety|dispos\w+)\b/,
  },
  {
    name: 'crack cocaine',
    severity: 6,
    pattern: /\b(?:make|making|cook|cooking|buy|buying|get|getting|score|scoring|sell|selling|smoke|smoking|some|rock of) crack\b(?! (?:open|an? |the |in |on |down|up|my |your |his |her |this |that |it|a joke|jokes|the code|the password))|\bcrack (?:cocaine|pipe|rock|house)s?\b/,
    triggers: { words: ['crack'] },
    needsRequest: true,
  },
  {
    name: 'breaking bones of a person',
    severity: 6,
    pattern: /\b(?:crack|cracking|break|breaking|snap|snapping|smash|smashing|fracture|fracturing|shatter|shattering) (?:open )?(?:a |an |the |someone's |somebody's |his |her |their |my [a-z]+'s )?(?:human )?(?:skull|skulls|neck|necks|spine|ribs|kneecaps?|jaw|jaws|windpipe)\b/,
    triggers: { words: ['skull', 'skulls', 'neck', 'necks', 'spine', 'ribs', 'kneecap', 'kneecaps', 'jaw', 'jaws', 'windpipe'] },
    needsRequest: true,
    unless: /\b(?:chicken|crab|lobster|turkey|fish|x-?rays?|heal\w*|treat\w*|doctor|surgeon|surgery|injur(?:y|ies|ed)|recover\w*|fossil|skeleton model|chiropract\w*)\b/,
  },
  {
    name: 'getting round a legal control',
    severity: 6,
    pattern: /\b(?:buy|get|obtain|acquire|order|purchase)\b[^.?!\n]{0,40}\bwithout (?:a |any |going through (?:a |the )?)?(?:prescription|background checks?|licen[cs]e|permit|id|age verification|serial numbers?)\b/,
    triggers: { words: ['prescription', 'background', 'check', 'checks', 'license', 'licence', 'permit', 'id', 'age', 'serial'] },
    needsRequest: true,
    unless: /\b(?:over[- ]the[- ]counter|otc|legally|legal|is it legal|allowed)\b/,
  },
];

const mayMatch = (subject: RuleSubject, view: TextView, triggers: PatternTriggers): boolean =>
  view.text !== subject.text || view.mayMatch(triggers);

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
export function intentHits(subject: RuleSubject, view: TextView, harmful: (view: TextView) => boolean): IntentHit[] {
  const lower = view.lower;
  let asks: boolean | undefined;
  const hits: IntentHit[] = [];
  for (const cue of INTENT_CUES) {
    if (!mayMatch(subject, view, cue.triggers)) continue;
    const m = cue.pattern.exec(lower);
    if (!m) continue;
    if (cue.unless?.test(lower)) continue;
    if (cue.needsRequest) {
      // Tested only once a cue matched (rarely), so it needs no trigger gate of its own.
      asks ??= REQUEST.test(lower);
      if (!asks) continue;
    }
    const severity = cue.weakAlone && !harmful(view) ? cue.severity - 2 : cue.severity;
    hits.push({ cue, severity, start: m.index, end: m.index + m[0].length });
  }
  return hits;
}
