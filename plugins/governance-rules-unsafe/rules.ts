/**
 * Unsafe-request rules: plain requests for harmful help. A request is unsafe when a harmful act is
 * aimed at a person (verb near a human target), when it asks how to commit a named crime, or when
 * it asks to produce a harmful artefact (malware, weapons, disinformation …). Fiction, games,
 * definitions and protective framing ("how to prevent …") lower the severity.
 */
import { evidenceSpan, type Finding, type GovernanceRule, negatedAt, type PatternTriggers, type RuleSubject, type TextView } from 'limit-graph';
import { FOREIGN_TRIGGERS, foreignHits } from './foreign.ts';
import { type IntentHit, intentHits } from './intent.ts';
import { hateHits, privacyHits, type TargetedHit } from './targeted.ts';

const set = (words: string) => new Set(words.split(/\s+/).filter(Boolean));
/** The lexicon with its inflections (plural, third person, past, gerund), so one entry covers them. */
function inflected(words: string): Set<string> {
  const out = new Set<string>();
  for (const w of words.split(/\s+/).filter(Boolean)) {
    out.add(w).add(`${w}s`).add(`${w}es`).add(`${w}ed`).add(`${w}d`).add(`${w}ing`);
    if (w.endsWith('e')) out.add(`${w.slice(0, -1)}ing`);
    if (w.endsWith('y')) out.add(`${w.slice(0, -1)}ies`).add(`${w.slice(0, -1)}ied`);
  }
  return out;
}
const viewOf = (s: RuleSubject): TextView | undefined => s.view ?? s.views?.[0];
/** Computing words in whose company "kill the child", "terminate the parent" are about processes. */
const COMPUTING = /\b(?:process|processes|thread|threads|pid|pids|daemon|daemons|subprocess|subprocesses|container|containers|pod|pods|zombie|zombies|orphaned|node|nodes|job|jobs|signal|sigterm|sigkill|git|branch|commit|tree|dom|element|elements|widget|component|class|classes|object|objects|instance)\b/;
/** "beat <someone> at/in <a game>" */
const CONTEST = /\bbeat(?:ing)? (?:[a-z']+ ){1,3}(?:at|in) (?:a |an |the )?[a-z]/;
/** Human targets that are also computing terms. */
const COMPUTING_KIN = /^(?:child|children|parent|parents|kid|kids|master|slave|orphan|orphans|sibling|siblings)$/;
const VIOLENCE = inflected(`kill killing murder murdering stab stabbing shoot shooting poison poisoning strangle strangling choke choking
  behead torture torturing kidnap kidnapping abduct rape raping assault assaulting attack attacking bomb bombing hang drown
  drowning butcher butchering slaughter massacre exterminate eradicate eliminate eliminating execute executing assassinate
  hurt harm harming beat beating punch punching smash crush terminate terminating slay snipe gut dismember decapitate
  suffocate burn burning torch maim injure wound cripple throttle overpower hunt capture hit chop stalk threaten blackmail
  drug dose push slash sever pierce cut annihilate obliterate wipe decimate liquidate exterminating eradicating strangling
  exploit abuse molest trafficking traffic enslave spike roofie shatter rip ripping hammer behead`);
const HUMANS = set(`someone somebody person persons people human humans humanity man men woman women child children kid kids
  baby babies toddler toddlers wife husband girlfriend boyfriend spouse partner ex neighbour neighbor neighbours neighbors
  boss coworker colleague president politician politicians cop cops police officer family parents grandparent grandparents
  grandmother grandfather mother father brother sister friend friends teacher classmates students class myself yourself
  immigrants minorities population village city crowd civilians victim victims date hostage jews muslims christians gays
  gay black blacks roma refugees elderly girl boy girls boys teen teenager teenagers skull spine head throat artery adult adults
  individual classmate classmates roommate roommates landlord tenant stranger strangers face legs neck`);
const CRIMES = inflected(`fraud murder arson treason terrorism robbery rape assault theft massacre kidnapping genocide assassination
  suicide burglary shoplift shoplifting trafficking launder laundering embezzlement extortion bribery smuggling piracy counterfeiting forgery poaching
  vandalism stalking harassment cyberbullying hacking scam scams phishing tax evasion insider trading crime crimes felony
  violence terrorist attack cyberattack cyberterrorism self-harm`);
const COMMIT = inflected(`commit committing perform carry plan planning engage get away execute organize organise orchestrate do
  conduct start launch pull run operate`);
const ARTEFACTS = inflected(`bomb bombs explosive explosives weapon weapons gun guns firearm ammunition grenade napalm malware virus marihuana marijuana ecstasy firearms
  viruses ransomware keylogger botnet trojan worm spyware rootkit exploit exploits poison poisons toxin nerve meth
  methamphetamine cocaine heroin fentanyl lsd mdma ketamine pcp dmt oxycodone drugs chloroform ghb rohypnol roofies nitroglycerin tatp thermite ricin sarin anthrax
  counterfeit fake misinformation disinformation propaganda
  conspiracy hoax fake news deepfake phishing scam hate racist sexist defamatory defaming cheat cheating`);
const PRODUCE = inflected(`how make making build building create creating develop developing write writing design designing produce output
  synthesize synthesise manufacture craft generate draft publish post spread give provide outline explain teach show
  instructions tutorial guide steps step ways way method plan script program code app website algorithm strategy recipe
  buy obtain get acquire sell distribute`);
/** Verbs of wrongdoing against systems, money or people that AdvBench-style requests combine with a target. */
const WRONGDOING = inflected(`hack hacking steal stealing evade evading launder laundering smuggle smuggling defraud manipulate
  manipulating exploit exploiting cheat cheating defame harass harassing bully bullying dox doxx spy impersonate bypass
  break infiltrate sabotage disrupt vandalize shoplift counterfeit forge cyberbully cyberstalk stalk extort blackmail
  radicalize recruit hotwire carjack rob mug burgle`);
/**
 * Verbs that promote something: harmful only for a harmful topic ("encourage self-harm"), never for
 * the people they address ("encourage people to try our café").
 */
const PROMOTE = inflected(`spread spreading incite inciting promote promoting glorify glorifies glorifying encourage encourages
  encouraging glamorize glamorise normalize normalise`);
const PROMOTE_TOPICS = inflected(`violence hatred hate racism terrorism terrorist terrorists suicide self-harm anorexia bulimia
  drugs drug alcohol misinformation disinformation extremism extremist extremists discrimination genocide massacre rape abuse
  cutting starvation malware virus viruses ransomware worm false lies rumor rumors rumour rumours propaganda conspiracy
  conspiracies hoax hoaxes fake risky dangerous reckless unsafe illegal`);
const WRONG_TARGETS = inflected(`database databases network networks system systems account accounts bank password passwords
  identity information data credit card cards money taxes tax government election elections voters security antivirus
  firewall computer computers website websites server servers people someone children minors violence hatred hate racism
  terrorism suicide self-harm anorexia bulimia drugs drug alcohol misinformation disinformation extremism discrimination
  store shop records email emails phone citizens users customers vulnerable individuals individual company reputation
  victims laws law enforcement police car cars vehicle vehicles truck motorcycle bike bicycle wallet purse jewelry jewellery phone
  laptop package packages parcel mail catalytic converter atm cash register register migrants refugees immigrants breathalyzer breathalyser
  interlock`);
/** Theft of goods and places that only a thief's verb makes harmful ("rob a casino", "steal an Xbox"; not "break my TV habit"). */
const THEFT = inflected(`steal shoplift rob burgle mug snatch pickpocket loot`);
const GOODS = inflected(`casino museum pharmacy playstation xbox console iphone ipad tv television watch handbag sneakers electronics painting
  copper jewelry jewellery bike car`);
/** "set up a trafficking ring": a criminal enterprise started (COMMIT reads single verbs; "set" alone is too common). */
const SET_UP_CRIME = /\bset(?:ting)? up (?:a |an |my |our |the |his |her |their )?(?:[a-z]+ ){0,2}(?:trafficking|smuggling|laundering|fraud|scam|ponzi|pyramid|counterfeit(?:ing)?|extortion|prostitution|drug|meth)\b/;
/** A span whose only destroying verb is "set" without fire. */
const SET_NOT_FIRE = /^(?=[^]*\bset(?:s|ting)?\b)(?![^]*\b(?:fire|alight|ablaze|blow|bomb|explode|torch|burn|destroy|demolish|vandali[sz]e|slash|smash|sabotage|poison|contaminate)\w*)/;
const DESTROY = inflected(`blow bomb explode torch burn destroy demolish vandalize slash set smash sabotage poison contaminate`);
const PLACES = inflected(`hospital school house home building base car stadium church mosque synagogue temple airport city village
  concert vault bank tire motorbike office infrastructure plant grid pipeline train plane bus reservoir water supply embassy
  army crowd mall market`);
/** Self-harm asked for; "kill ?myself" also reads the letters spelled apart and joined by the normalized view ("k i l l m y s e l f"). */
const SELF_HARM = /\b(?:how many (?:of )?my [^.?!\n]{0,40}\b(?:would be|is|are|will be) (?:lethal|fatal|deadly|enough to (?:die|kill me))|(?:painless|quick|quickest|easiest|surest|least painful) (?:ways?|methods?) (?:to |of )?(?:end(?:ing)? (?:my|your|their|his|her|one's) (?:own )?life|d(?:ie|ying)|kill(?:ing)? ?(?:myself|yourself|themselves|themself|oneself))|so (?:that )?i (?:don't|dont|do not|won't|will not|never) wake up|how (?:high|tall|far (?:up|down)) (?:does|do|would|should|must) (?:a |the |it |i )?(?:[a-z]+ ){0,2}(?:need to be|have to be|be|jump)\b[^.?!\n]{0,40}\b(?:definitely final|final|fatal|lethal|not survive|no surviving)|not looking for (?:a |any )?(?:hotline|crisis line|helpline)|(?:pills|tablets|capsules)\b[^.?!\n]{0,40}\b(?:to die|to end (?:it|my life)|lethal dose)|commit suicide|kill ?myself|end my (?:own )?life|hang myself|drown myself|cut(?:ting)? myself|burn(?:ing)? myself|(?:sever|slit|pierce) my (?:own )?(?:\w+ )?(?:artery|wrists?|veins?)|carve [^.?\n]{0,20}into my (?:arm|skin|leg)|hurt(?:ing)? myself|starv(?:e|ing) myself|overdose myself|(?:i (?:want|need|plan|am going|'m going|am gonna|'m gonna) to|how (?:can|do|could|should) i|help me) overdose|(?:how (?:much|many)|what dose|pills|tablets|meds|medications?)\b[^.?!\n]{0,50}\bto (?:overdose|die)|overdose (?:fast|quickly|painlessly|without)|(?:instructions|guide|tips|tutorial|ways|methods?|steps) (?:for|on|to|of) (?:self[- ]harm(?:ing)?|cutting (?:myself|yourself|my wrists|your wrists)|suicide|killing (?:myself|yourself)))\b/;
const NEWS_STORY = /\b(?:fake )?news (?:story|stories|article|articles|report|reports)\b/;
/** Safe framings: games, fiction, definitions, protection. */
const FICTION = /\b(?:(?:in|for|from|of|during) (?:a |an |the |my |our |this )?(?:video |computer |board )?(?:game|film|movie|novel|story|book|play|tv show|show|scene|series|crime novel|short story)|(?:tell|sing|recite) (?:me |us )?(?:a |the )?(?:tale|legend|saga|fable|ballad|bedtime story)|(?:write|writing|draft|drafting|plot|outline) (?:me )?(?!(?:a |an |the |my |our )?cover stor)(?:a |an |the |my |our )?(?:[a-z]+ ){0,2}(?:story|scene|novel|poem|screenplay|plot|chapter|monologue|script for (?:a |my )?(?:film|movie|play))|murder mystery|thriller|horror story|detective story|crime fiction|fan ?fiction|chess|checkers|judo|boxing|football|tennis|baseball|gta|call of duty|counter[- ]strike|minecraft|witcher|battlefield|fictional|character's|lyrics|ballad|rpg|among us|fortnite|cuphead|elden ring|dark souls|skyrim|zelda|overwatch|valorant|league of legends|pok[eé]mon|mario|the last of us|halo|apex legends|pubg|quest text|visual novel|choose[- ]your[- ]own[- ]adventure|improv|drama club|stage adaptation|macbeth|hamlet|shakespeare|creative writing|screenplay|dungeons? (?:and|&) dragons|d&d|lion king|die hard|terminator|mission impossible|ocean's|dark knight|mr and mrs smith)\b/;
const DEFINITION = /^\s*(?:what (?:is|are|was) (?!(?:the |some )?(?:best |easiest |quickest |simplest |most effective |perfect )?(?:ways?|process|method|methods|steps|strategy|strategies|technique|procedure)\b)(?:an? |the )?[\w' -]{1,30}\?|(?:what(?:'s| is| are) |explain |describe )?the differences? between\b|what does [^?]{1,60} mean|what (?:is|'s) the (?:legal |general )?definition of|what constitutes|what kind of (?:a )?drug|define\b|(?:can you |could you )?(?:explain|tell me|describe) what [\w' -]{1,30} (?:is|are|means?|involves?|entails?)\b)|\b(?:explain|tell me|describe)(?: to (?:him|her|them|me|us))? what ["'“]?[\w' -]{1,30}["'”]? (?:is|are|means?)\s*\?/;
/** A question about a name or word itself: where "Molotov cocktail" comes from. */
const ABOUT_WORD = /\b(?:where (?:the )?(?:name|word|term|phrase|expression)\b[^.?!\n]{1,40}\bcomes? from|(?:origin|etymology) of the (?:name|word|term|phrase|expression)|etymology)\b/;
const PROTECTIVE = /\b(?:addiction recovery|recovery|rehab|anti-?(?:theft|fraud|terrorism|money laundering|bullying|harassment|piracy|phishing|cheat)|spot|tell (?:if|whether)|identify|history class|school report|for (?:a|my|our) (?:[a-z0-9]+ ){0,2}(?:class|report|essay|paper|thesis)|prevent|preventing|prevention|protect|protecting|avoid|avoiding|detect|detects|detecting|defend|recogni[sz]e|awareness|combat|combating|(?<!(?:incident|the|this|that|a|my|our|his|her|their|expense|annual|quarterly|status|lab|test|audit|inspection|qa) )report|reporting|stop|stopping|debunk|debunking|safely|safe from|legal|(?<!(?:medical|criminal|browsing|search|credit|sexual|family|employment|travel|purchase|payment|health|location|call|chat|dating) )history of|historical|historians?|(?:first |second )?world war (?:i|ii|one|two|1|2)|ww(?:i|ii|1|2)|the (?:cold|civil|vietnam|korean|crimean|napoleonic) war|safe (?:daily )?(?:dose|dosage|amount)|max(?:imum)? (?:safe )?(?:daily )?(?:[a-z]+ )?(?:dose|dosage)|defensive|blue[- ]team|threat (?:briefing|intelligence|model(?:l?ing)?)|recommended (?:daily )?dose|dosage|patch(?:ed|es|ing)?|cve-\d+|security advisory|post-?mortem|impact of|effects of|risks of|dangers of|victims of|support|cope|coping|help (?:a |someone|victims)|(?:get|gets|receive|receives|receiving|handle|handling|respond(?:ing)? to) (?:a |the )?bomb threats?|get (?:her|him|them|my [a-z]+) (?:some |professional )?help|warn|warning signs|red flags?|(?:training|awareness) (?:module|slides|session|course|doc|document|materials?)|(?:staff|employee|security|user|internal) training|(?:phishing|social engineering) (?:simulations?|drills?|exercises?|tests?)|simulated phishing|media literacy|moderation|poison control|(?:safest|safe|secure|best) (?:way|ways|place) to (?:store|lock up|keep|transport|dispose of)|(?:domestic violence |women's |abuse )(?:shelters?|refuges?|hotlines?|helplines?)|get (?:away|out) from (?:an? |her |his |my |their )?abusive|historically|explain (?:the|what happened (?:in|at|during) the) (?:[a-z0-9]+ ){0,3}(?:massacre|genocide|war|famine|revolution|holocaust|purge|coup|siege|uprising|riots?)(?= ?[.?!,]| (?:of|in|at|and)\b|$)|how many (?:people |civilians |soldiers |victims )?(?:died|were killed|were injured|perished|lost their lives)|why (?:is|was) it (?:still )?controversial|in the (?:1[5-9]|20)\d0s|(?:1[5-9]|20)th century|differ(?:s|ence)? (?:from|between)|without (?:accidentally )?[a-z]+ing (?:myself|yourself|ourselves|anyone|anybody|people|others|the (?:kids|children|baby|dog|cat))|verify|verifying|fact-?check(?:ing)?|indicators|explainer|allegedly|defendant|prosecution|prosecutor|moot court|convicted|sentenced|acquitted|bug bounty|capture the flag|ctf|cvss|acceptable use|terms of (?:service|use)|writing (?:a|an|my|our) (?:[a-z0-9-]+ ){0,2}(?:paper|essay|thesis|dissertation)|statute of limitations|(?:jan(?:uary)?|feb(?:ruary)?|march|april|may|june|july|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?) \d{1,2},? (?:1[6-9]\d\d|20[01]\d)|(?:the )?(?:customer|user|licensee|tenant|employee)s? shall not|security awareness|(?:community|content|moderation|trust and safety) (?:guidelines|policy|policies|standards|rules)|what counts as|tabletop exercise|incident response|vulnerability management|(?:in|of|since|during|by|from) 1[6-9]\d\d(?!\d))\b/;
/**
 * Asks for the thing to work or pass for real — exact quantities, precursors, every component, "convincing",
 * "so it could go viral", getting past detection: a fiction, protective or historical framing around
 * such a request does not lower it.
 */
const OPERATIONAL = /\b(?:exact(?:ly)? (?:how|steps|amounts?|quantities|measurements|recipe|method|materials|components|parts|ingredients|procedure|process|formula|instructions|temperatures?)|with (?:the )?(?:exact )?(?:amounts|quantities|measurements)|(?:actual|real[- ]world|working|complete|full|realistic|every) (?:real[- ]world )?(?:materials|components|parts|ingredients|recipe|steps|walkthrough|instructions|quantities|amounts|(?:technical )?detail)|(?:specific|practical|concrete) (?:practical )?(?:steps?|tools|materials|instructions)|exact (?:[a-z]+ )?(?:ratios?|proportions?|concentrations?)|maximi[sz]e (?:the )?(?:casualties|deaths|fatalities|death toll|body count)|(?:nam(?:e|ing)|list(?:ing)?) (?:each|every) (?:method|step|ingredient|chemical|dose|drug)|(?:avoid(?:ing)?|evad(?:e|ing)|escap(?:e|ing)|past|beat(?:ing)?|get(?:ting)? (?:around|past)) (?:the |any |a |all )?(?:[a-z0-9'-]+ )?(?:detection|detectors?|scanners?|sensors?|sniffer dogs?|x-rays?|checkpoints?|getting caught|being caught|police|cops)|precursors?|(?:highly |very |more |most )?(?:convincing|believable)|realistic enough|(?:hard|impossible|difficult|tough) to (?:detect|trace)|go viral|pass (?:as|for) (?:real|genuine|authentic)|look (?:\d+% |totally |completely |really |super |very )?(?:legit|legitimate|official|real|authentic|genuine)|look like (?:it|they)(?:'s|'re| is| are| came| come| was| were) (?:from|written by|sent by)|undetectable|indistinguishable from)\b/;
/**
 * An act to be kept from whoever checks it — auditors, regulators, compliance, security, logs and
 * alerts, a post-mortem — or that must not lead back to the writer: "so AP and the auditors don't
 * notice", "without the variance report catching it", "so nobody traces it back to me", evidence
 * destroyed under a legal hold. Operational by nature: no framing lowers it.
 */
const OVERSIGHT_EVADED = /\b(?:so|without|before|until)\b[^.?!\n]{0,50}?\b(?:auditors?|audit (?:logs?|trail)|compliance|regulators?|sec|fda|inspectors?|soc|dlp|siem|insider[- ]threat \w+|fraud (?:team|checks?|alerts?)|variance reports?|outlier checks?|access logs?|logs?|alerts?|alarms?|monitoring|hr|ap|accounts payable|qa|security (?:team|desk)|police|cops|irs|bank|pension (?:service|office|fund)|benefits? (?:office|agency)|insurers?|insurance(?: company)?|tax (?:office|authorit(?:y|ies))|proctor(?:io|u|s)?|proctoring software|anti-?cheat)\b[^.?!\n]{0,40}?\b(?:(?:won't|can't|doesn't|don't|wouldn't|couldn't|never|will not|cannot|does not|do not) (?:\w+ )?(?:notice|catch|detect|connect|trace|flag|spot|link|match|find out|see (?:it|this|that|them|anything|a spike|my|our|the (?:spike|transfer|download|change|edit|export)))|(?:catching|flagging|noticing|detecting|pointing back|tracing|finding out))\b|\b(?:police|insurer|insurance|adjuster|investigators?|detectives?|cops)\b[^.?!\n]{0,40}\bso (?:the |our |my )?stor(?:y|ies) (?:match|matches|line up|lines up|hold up|holds up|check out|checks out)\b|\b(?:traces?|traced|tracing|points?|pointing|leads?|leading|connects?|connected|links?|linked|com(?:e|es|ing)) (?:it |this |them |that |the \w+ )?back (?:to|on) (?:me|my)\b|\bkeep (?:the |my |our )?(?:neighbou?rs?|teachers?|school|police|cops|cps|social services|social workers?|authorities|auditors?|regulators?)\b[^.?!\n]{0,20}\bfrom (?:calling|reporting|noticing|finding out|telling|checking)\b|\b(?:connect|link|tie) (?:the \w+ |it |this |them )?to me\b|\b(?:doesn't|won't|don't|does not|will not) (?:stand out|show up) (?:on|in) (?:the )?(?:post-?mortem|autopsy|tox(?:icology)?|labs?)\b|\b(?:delete|destroy|purge|wipe|shred|erase)\b[^.?!\n]{0,80}\b(?:litigation hold|legal hold|ediscovery|e-discovery|subpoena\w*)\b|\b(?:litigation|legal) hold\b(?:(?!\b(?:not|never|don't|dont|no)\b)[^\n]){0,200}\b(?:permanently delete|purge|wipe|shred|disappear)/;
const OVERSIGHT_TRIGGERS: PatternTriggers = {
  words: ['auditor', 'auditors', 'audit', 'compliance', 'regulator', 'regulators', 'sec', 'fda', 'inspector', 'inspectors', 'soc', 'dlp', 'siem', 'insider', 'fraud', 'variance',
    'outlier', 'log', 'logs', 'alert', 'alerts', 'alarm', 'alarms', 'monitoring', 'hr', 'ap', 'accounts', 'qa', 'security', 'police', 'cops', 'irs', 'back', 'connect',
    'link', 'tie', 'mortem', 'postmortem', 'autopsy', 'tox', 'toxicology', 'lab', 'labs', 'hold', 'ediscovery', 'discovery',
    'bank', 'pension', 'benefit', 'benefits', 'insurer', 'insurers', 'insurance', 'tax', 'proctor', 'proctors', 'proctorio', 'proctoru', 'proctoring', 'anticheat', 'cheat',
    'adjuster', 'investigator', 'investigators', 'detective', 'detectives', 'keep'],
  prefixes: ['subpoena'],
};

/**
 * Control of a partner's money or movements "so he can't afford to leave"; a document forged for a visa,
 * a loan or a landlord ("edit my bank statement so the balance shows €15,000"); a prescription drug
 * prepared to be snorted or to "hit faster".
 */
const CONTROL = /\bso (?:that )?(?:he|she|they|my (?:wife|husband|partner|girlfriend|boyfriend|spouse)) (?:literally |really |simply )?(?:can't|cannot|won't be able to|is unable to|has no way to) (?:afford to (?:leave|go|move out)|leave|escape|get away|move out)\b/;
const CONTROL_TRIGGERS: PatternTriggers = { words: ['leave', 'escape', 'afford', 'away', 'move'] };
const FORGED_DOCUMENT = /\b(?:edit|alter|change|fake|forge|doctor|photoshop|modify)\w* (?:a |an |my |the |our |his |her )?(?:pdf |scanned )?(?:bank statements?|pay ?slips?|pay stubs?|tax returns?|diplomas?|transcripts?|medical certificates?|sick notes?|doctor'?s notes?|prescriptions?|utility bills?)\b[^.?!\n]{0,60}\b(?:so (?:the|my|it|that)\b[^.?!\n]{0,30}\b(?:shows?|says|reads|looks)|for (?:my |a |the )?(?:visa|loan|mortgage|rental|apartment|landlord|employer|insurer|insurance|bank|application))/;
const FORGED_DOCUMENT_TRIGGERS: PatternTriggers = { words: ['statement', 'statements', 'payslip', 'payslips', 'slip', 'slips', 'stub', 'stubs', 'returns', 'return', 'diploma', 'diplomas',
  'transcript', 'transcripts', 'certificate', 'certificates', 'note', 'notes', 'prescription', 'prescriptions', 'bill', 'bills'] };
const DRUG_MISUSE = /\b(?:crush|snort|inject|plug|smoke)\w* (?:my |the |an? |his |her )?(?:[a-z]+ )?(?:adderall|ritalin|vyvanse|oxy(?:codone|contin)?|percocets?|percs|xanax|tramadol|morphine|fentanyl patch(?:es)?|pills?)\b[^.?!\n]{0,40}\b(?:snort\w*|hits? (?:faster|harder)|get (?:high|a buzz)|inject\w*|kicks? in faster)/;
/** Prefixes: the verbs are matched with any ending ("crushed", "smoking"). */
const DRUG_MISUSE_TRIGGERS: PatternTriggers = { words: [], prefixes: ['crush', 'snort', 'inject', 'plug', 'smok'] };

/**
 * A question about what someone else did in the past — "why did the Khmer Rouge kill …", "how did
 * the Nazis …": history asked, not a deed. Not when the writer asks to do it too (SELF_ASK).
 * `[^\S\n]*`, not `\s*`, after the mark: a line break is a mark of its own, and a run of blank lines
 * is then read once, not once per line (see OPENING_WORD in intent.ts).
 */
const PAST_DEED_QUESTION = /(?:^|[.?!\n])[^\S\n]*(?:why|how|what|when|where|who|which|in what way)\b[^.?!\n]{0,40}?\bdid (?!(?:i|we|you|u|one|my|our|your|me|us)\b)[a-z]/;
const SELF_ASK = /\b(?:how (?:can|do|could|should|would|might) (?:i|we|one|you)|how to|(?:i|we) (?:(?:want|need|plan|intend|am going|'m going|would like) to|will)|help me|teach me|show me|so (?:that )?(?:i|we) can|the same (?:way|thing)|like (?:he|she|they|it|[a-z]+) did)\b/;
/**
 * Malware and attacks on the record, by name ("explain the Stuxnet worm"): history asked about, unless
 * the writer asks for one too (SELF_ASK) or to build its like.
 */
const NAMED_INCIDENT = /\b(?:stuxnet|wannacry|notpetya|iloveyou (?:virus|worm)|conficker|morris worm|code red worm|sql slammer|mirai botnet|(?:solarwinds|colonial pipeline|equifax) (?:hack|attack|breach))\b/;
const BUILD_ONE = /\b(?:write|create|build|code|develop|make|replicate|recreate|clone)\b/;
/**
 * The writer (or someone close) was the target and asks what to do: "my account got hacked", "a scam
 * caller", "someone filed a return with my SSN", "so she doesn't fall for it".
 */
const VICTIM = /\b(?:my [\w' ]{1,25}(?:got|was|were|has been|have been|is being|are being) (?:hacked|stolen|compromised|scammed|phished|breached|cloned|skimmed|harassed|targeted|hijacked)|(?:i|we|he|she|they) (?:got|was|were|have been|has been|'ve been|am being|is being|are being) (?:hacked|scammed|phished|robbed|mugged|targeted|harassed|doxx?ed|blackmailed|stalked|catfished|defrauded|swatted)|(?:someone|somebody|scammers?|hackers?|a thief|thieves) (?:has |have |had )?(?:hacked|stole|scammed|phished|filed|used|opened|cloned|got into|broke into|is pretending|pretending|keeps)\b[^.?!\n]{0,40}\b(?:my|our|me|us|her|his)|scam (?:call|caller|calls|text|texts|email|emails)|(?:fall|falls|fell|fallen|falling) for (?:it|this|that|them|a scam|scams)|what (?:should|can|do) (?:i|we) do (?:about|if|now|next|first)|(?:remove|delete|scrub) (?:my|our) (?:home )?(?:address|data|details|information|info|name)|(?:get|got|recover|restore) (?:it|my account|our account|access) back|(?:recover|secure|restore) (?:my|our|his|her) (?:account|accounts|identity|email|phone))\b/;
const NON_HUMAN = /\b(?:gun (?:safes?|locks?|cabinets?|cases?|cleaning|range|show|licen[cs]e|permit)|website|site|content|dance floor|stage|process|processes|program|thread|task|lights|mosquito|mosquitoes|weeds|rats|vermin|bugs|bed bugs|pests|fish|pig|chicken|shrimp|balloon|soda can|log|garden|clutter|time|competition|opponent|mood|contract|jobs|costs|fear|doubts|lines|beer|coconut|piñata|tack|picture|picture|drywall|shed|building|photo|target|targets|goal|deal|deals|answer|record|exam|test|ball|king|(?:first|second|third|home) base|show|weight|niche|heart|music scene|laughter|hamster|dog|cat|grades)\b/;

/**
 * The pack's finding: `base` severity lowered by the text's mitigations (fiction, definitions,
 * protective framing), kept within 1–10, and the reason saying what lowered it.
 */
function unsafeFinding(subject: RuleSubject, lower: string, ruleId: string, base: number, reason: string, spans: { start: number; end: number }[], questions = true): Finding {
  const m = mitigation(lower, questions);
  return {
    ruleId,
    kind: 'Unsafe',
    severity: Math.max(1, Math.min(10, base + m.delta)),
    reason: `${reason}${m.why.length ? `; lowered for ${m.why.join(', ')}` : ''}`,
    evidence: spans.slice(0, 3).map((s) => evidenceSpan(subject, s.start, s.end)),
  };
}

/**
 * Lowers severity for fiction, games, definitions, history questions and protective framing.
 * `questions` false: the rule's questions are never definitions or history ("What is Jane Roe's home
 * address?" has the shape of a definition, "Where did my ex move to?" of a question about the past).
 */
function mitigation(lower: string, questions: boolean): { delta: number; why: string[] } {
  const why: string[] = [];
  let delta = 0;
  if (questions && (DEFINITION.test(lower) || ABOUT_WORD.test(lower))) {
    delta -= 4;
    why.push('definition question');
  }
  const operational = OPERATIONAL.test(lower) || OVERSIGHT_EVADED.test(lower);
  // "a fake news story" is disinformation, not fiction; a story that must work for real is no fiction.
  if (FICTION.test(lower) && !NEWS_STORY.test(lower) && !operational) {
    delta -= 3;
    why.push('fiction or game context');
  }
  if (operational) return { delta, why };
  if (PROTECTIVE.test(lower)) {
    delta -= 3;
    why.push('protective framing');
  } else if (VICTIM.test(lower)) {
    delta -= 3;
    why.push('the writer is the one harmed');
  } else if (questions && (PAST_DEED_QUESTION.test(lower) || (NAMED_INCIDENT.test(lower) && !BUILD_ONE.test(lower))) && !SELF_ASK.test(lower)) {
    delta -= 3;
    why.push('a question about what others did in the past');
  }
  return { delta, why };
}

/**
 * Acts against a person that no violent verb names: taking someone hostage, planning a death, doing
 * away with a spouse, getting rid of a body, "euthanizing" a relative one would inherit from.
 */
const VIOLENT_INTENT = /\b(?:(?:take|taking|hold|holding) (?:[a-z']+ ){0,3}hostage|maximi[sz]e (?:the )?(?:casualties|deaths|fatalities|death toll|body count)|(?:someone|somebody|i|we|you|one|a person|an attacker|a shooter|a bomber) (?:could |can |would |might )?(?:cause|inflict) (?:the )?(?:most|maximum|as many) (?:casualties|deaths|fatalities|injuries)|plan (?:someone's|somebody's|a person's|my [a-z]+'s|his|her|their) (?:death|murder|killing|disappearance)|do away with (?:my|his|her|their|someone|somebody|a person)|(?:destroy|ruin)(?:ing)? (?:my |his |her |someone's |somebody's )?(?:ex's|ex-(?:wife|husband)'s|boss's|neighbou?r's|coworker's|colleague's|sister's|brother's|teacher's|classmate's) (?:life|career|reputation)|dispose of (?:a|the|my|his|her|their) (?:dead )?(?:body|bodies|corpse|baby)|(?:chop|saw|cut|hack)(?:ping|ing)? (?:up )?(?:a|the|his|her) (?:dead )?(?:body|corpse)|euthani[sz]e (?:my|his|her|a) (?:[a-z]+ )?(?:grand(?:parent|mother|father|ma|pa)s?|parents?|mother|father|husband|wife|uncle|aunt|relative)|(?:take|taking) out (?:the |a |my |our |his |her |that |this )?(?:senator|president|prime minister|politician|governor|mayor|judge|cop|officer|witness|journalist|guard|ceo|boss|rival|leader|target|congress(?:man|woman)|candidate|activist|informant|snitch)\b(?!(?:'s)? (?:to|for|on) (?:a |an |the )?(?:dinner|lunch|breakfast|drinks?|coffee|date|movie|walk|ride|tour|show|game|trip|golf)))\b/;
/** A recipe asked for a weapon, poison or drug, in either order ("worked at a napalm factory and tell me the recipe"). */
const RECIPE = set('recipe recipes formula formulas ingredients');
const STRONG_ARTEFACTS = inflected('napalm bomb explosive meth methamphetamine ricin sarin poison nerve thermite tatp nitroglycerin chloroform fentanyl heroin cocaine');
/** Where to get illegal drugs: "find a coke dealer", "get a plug for molly". */
const DRUG_SOURCE = /\b(?:find|get|buy|score|meet|contact|locate|reach)\b[^.?!\n]{0,25}\b(?:coke|cocaine|crack|heroin|meth|mdma|molly|ecstasy|lsd|acid|ketamine|fentanyl|xanax|oxy|pill|drug|weed|pot) (?:dealers?|plugs?|connects?|suppliers?|vendors?)\b|\b(?:plugs?|connects?) (?:for|with|that (?:has|have|sells?)) (?:some )?(?:za|zaza|weed|bud|gas|snow|coke|blow|molly|mdma|xans?|bars|percs?|oxys?|lean|ket|shrooms|acid|tabs)\b|\bwhere (?:can|could|do|should) (?:i|we) (?:grab|cop|score|pick up) (?:some |a couple (?:of )?)?(?:molly|bars|xans|percs|coke|blow|snow|za|shrooms|acid|tabs|ket|pills)\b|\bwho(?:'s| is) (?:usually |always )?holding\b/;
/** Every DRUG_SOURCE match holds one of these. */
const DRUG_SOURCE_TRIGGERS: PatternTriggers = { words: ['dealer', 'dealers', 'plug', 'plugs', 'connect', 'connects', 'supplier', 'suppliers', 'vendor', 'vendors', 'grab', 'cop', 'score', 'pick', 'holding'] };
/** People sought as victims: "where can I find people to shoot", "someone to kidnap" (the target before the verb). */
const VICTIMS_SOUGHT = /\b(?:people|someone|somebody|a person|persons|humans|victims|strangers|a stranger|a woman|a man|a girl|a boy|a child|kids|children) to (?:kill|murder|shoot|stab|rape|torture|kidnap|abduct|poison|attack|hurt|beat up|assault|strangle|mug|rob)\b(?! (?:with|for|at|on|in|me)\b)/;
/** Every VICTIMS_SOUGHT match holds one of its verbs. */
const VICTIMS_SOUGHT_TRIGGERS: PatternTriggers = { words: ['kill', 'murder', 'shoot', 'stab', 'rape', 'torture', 'kidnap', 'abduct', 'poison', 'attack', 'hurt', 'beat', 'assault', 'strangle', 'mug', 'rob'] };
/** Where people are "shot" for a picture, a game or a sport. */
const SHOOTING_FOR_SPORT = /\b(?:photo\w*|camera|portraits?|models?|film(?:ing)?|shoot(?:ing)? range|hunting|paintball|airsoft|laser tag|video game|game|nerf|water guns?)\b/;
/** Body parts in HUMANS: a person's only when a person owns them ("someone's head", not "a shrimp's head"). */
const BODY_PARTS = set('head skull spine throat artery face legs neck');
const OWNERS = set('his her their my your our someone somebody');
function personsBody(view: TextView, span: { start: number; end: number }): boolean {
  const tokens = view.tokens;
  const i = tokens.findLastIndex((t) => t.end <= span.end);
  if (i < 0 || !BODY_PARTS.has(tokens[i]!.w)) return true;
  for (let j = i - 1; j >= Math.max(0, i - 2); j--) {
    const w = tokens[j]!.w.replace(/'s$/, '');
    if (OWNERS.has(w) || (HUMANS.has(w) && !BODY_PARTS.has(w))) return true;
  }
  return false;
}
const VIOLENT_INTENT_TRIGGERS: PatternTriggers = {
  words: ['out', 'hostage', 'death', 'murder', 'killing', 'disappearance', 'away', 'life', 'career', 'reputation', 'body', 'bodies', 'corpse', 'baby', 'euthanize', 'euthanise',
    'casualties', 'deaths', 'fatalities', 'injuries'],
};
const VIOLENCE_IDIOMS = /\b(?:punch(?:ing|es)? (?:up|down)|(?:final|raid|mini|end|level) ?boss(?:es)?|boss (?:fight|battle)s?|sick burn|hit (?:[a-z']+ ){1,3}(?:hard|harder|hardest)|(?:the|a|an) (?:wounded|injured|hurt|dying|dead|drowned|murdered|killed|slain|poisoned|stabbed|beaten|battered|abused|kidnapped|abducted|hanged|strangled|tortured|executed|assassinated|butchered|slaughtered|massacred)|(?:drugs|sex|alcohol), (?:sex|drugs|alcohol|friends|school)|black (?:friday|market|hole|belt|box|coffee|ice|widow|mirror|metal|tie|sheep|jack|mamba|pepper|beans?|tea|cat|dog|bear|forest|sea|death|plague))\b/g;
/** Grooming is a violent act only towards a minor ("the groom is my brother"). */
const GROOMING = /\bgroom(?:s|ed|ing)? (?:a |an |the |my |this |that |young |underage |vulnerable |local )?(?:\d{1,2}[- ](?:year|yr)s?[- ]old |little |young |underage )?(?:child|children|kid|kids|minor|minors|girl|girls|boy|boys|teen|teens|teenager|teenagers|student|students)\b/;
const SENTENCE_END = /[.?!](?:\s|$)|\n/;
/** The span does not run past the end of a sentence or line ("will it break stuff?\n```\nadded 1402 packages"). */
const oneSentence = (lower: string, span: { start: number; end: number }): boolean => !SENTENCE_END.test(lower.slice(span.start, span.end));
/** The ranges a global regex matches in `lower`, found once for every span a rule then checks. */
const rangesOf = (lower: string, re: RegExp): { start: number; end: number }[] => Array.from(lower.matchAll(re), (m) => ({ start: m.index!, end: m.index! + m[0].length }));
const overlaps = (ranges: readonly { start: number; end: number }[], span: { start: number; end: number }): boolean =>
  ranges.some((r) => r.start < span.end && r.end > span.start);

const violence: GovernanceRule = {
  id: 'unsafe.violence',
  flag: 'Unsafe',
  surfaces: ['input', 'tool'],
  description: 'Requests to harm people: a violent verb near a human target, or self-harm.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    const lower = view.lower;
    const self = SELF_HARM.exec(lower) ?? (view.mayMatch(VIOLENT_INTENT_TRIGGERS) ? VIOLENT_INTENT.exec(lower) : null);
    let spans = view.near(VIOLENCE, HUMANS, 5);
    if (spans.length && COMPUTING.test(lower)) {
      // "terminate all child processes": the target word names a process, not a person.
      spans = spans.filter((s) => !view.tokens.some((t) => t.start >= s.start && t.end <= s.end && HUMANS.has(t.w) && COMPUTING_KIN.test(t.w)));
    }
    // "beat my brother at Mario Kart", "beat her in chess": a contest, not a fight.
    if (spans.length && CONTEST.test(lower)) spans = spans.filter((s) => !lower.startsWith('beat', s.start));
    // "punching down", "why it hit young adults hard", "the wounded kid": idioms and a victim, not an act.
    if (spans.length) {
      const idioms = rangesOf(lower, VIOLENCE_IDIOMS);
      spans = spans.filter((s) => !overlaps(idioms, s) && !negatedAt(view, s) && personsBody(view, s));
    }
    const groom = lower.includes('groom') ? GROOMING.exec(lower) : null;
    if (groom) spans.push({ start: groom.index, end: groom.index + groom[0].length });
    const sought = view.mayMatch(VICTIMS_SOUGHT_TRIGGERS) ? VICTIMS_SOUGHT.exec(lower) : null;
    if (sought && !SHOOTING_FOR_SPORT.test(lower) && !negatedAt(view, { start: sought.index })) spans.push({ start: sought.index, end: sought.index + sought[0].length });
    if (!self && !spans.length) return [];
    const found = self ? [{ start: self.index, end: self.index + self[0].length }, ...spans] : spans;
    const reason = self ? 'Self-harm request' : 'Request to harm people (violent act near a human target)';
    return [unsafeFinding(subject, lower, 'unsafe.violence', 7, reason, found)];
  },
};

/** The crime rule's single-regex cues: [pattern, its trigger words, reason]. */
const EXTRA_CUES: readonly [RegExp, PatternTriggers, string][] = [
  [CONTROL, CONTROL_TRIGGERS, "control of a partner's money or movements"],
  [FORGED_DOCUMENT, FORGED_DOCUMENT_TRIGGERS, 'a forged document'],
  [DRUG_MISUSE, DRUG_MISUSE_TRIGGERS, 'a prescription drug prepared for misuse'],
];

const crime: GovernanceRule = {
  id: 'unsafe.crime',
  flag: 'Unsafe',
  surfaces: ['input', 'tool'],
  description: 'How to commit a crime, obtain drugs or produce weapons, malware or disinformation.',
  evaluate(subject) {
    const view = viewOf(subject);
    if (!view) return [];
    const lower = view.lower;
    const hits: { start: number; end: number }[] = [];
    const reasons: string[] = [];
    const cue = (found: { start: number; end: number }[], reason: string) => {
      // "Decline requests to synthesize explosives", "employees must not bypass security controls":
      // a rule against the act, not a request for it. A pair split by a sentence's end is no request either.
      const spans = found.filter((span) => oneSentence(lower, span) && !negatedAt(view, span));
      if (spans.length) {
        hits.push(...spans);
        reasons.push(reason);
      }
      return spans;
    };
    const setUp = lower.includes('set') ? SET_UP_CRIME.exec(lower) : null;
    // The harmless phrases, found once and only when a cue has spans to check against them.
    let phrases: { start: number; end: number }[] | undefined;
    const homonyms = () => (phrases ??= rangesOf(lower, HOMONYMS));
    // "If someone does, it's a scam": a verb and a crime in two clauses.
    const commit = cue([...view.near(COMMIT, CRIMES, 4).filter((span) => !overlaps(homonyms(), span) && !lower.slice(span.start, span.end).includes(', ')), ...(setUp ? [{ start: setUp.index, end: setUp.index + setUp[0].length }] : [])], 'how to commit a crime');
    const artefacts = view.near(PRODUCE, ARTEFACTS, 6);
    cue(artefacts.filter((span) => !overlaps(homonyms(), span) && !mechanism(view, span)), 'produce or obtain a harmful artefact');
    cue(view.near(PRODUCE, CRIMES, 6), 'instructions for a crime');
    if (!artefacts.length) cue(view.near(RECIPE, STRONG_ARTEFACTS, 8, false).filter((span) => !overlaps(homonyms(), span)), 'produce or obtain a harmful artefact');
    cue(leadingTask(view), 'a task whose object is a crime or harmful artefact');
    // "set" destroys only with fire ("set fire to the school", not "set the valve in the plant room").
    const destroy = view.near(DESTROY, PLACES, 5).filter((span) => !SET_NOT_FIRE.test(lower.slice(span.start, span.end + 24)));
    if (destroy.length && !/\b(?:i|we) own\b|\bmy (?:own|old)\b/.test(lower)) cue(destroy, 'destruction of a place or property');
    const wrongdoing = [...view.near(WRONGDOING, WRONG_TARGETS, 5), ...view.near(THEFT, GOODS, 5)];
    const wrong = cue(wrongdoing.filter((span) => !overlaps(homonyms(), span)), 'wrongdoing against a system, people or money');
    const promote = cue(view.near(PROMOTE, PROMOTE_TOPICS, 7), 'promoting harm');
    const source = view.mayMatch(DRUG_SOURCE_TRIGGERS) ? DRUG_SOURCE.exec(lower) : null;
    if (source) cue([{ start: source.index, end: source.index + source[0].length }], 'obtaining illegal drugs');
    if (view.mayMatch(FOREIGN_TRIGGERS)) cue(foreignHits(lower), 'the same in another language');
    for (const [re, triggers, reason] of EXTRA_CUES) {
      const m = view.mayMatch(triggers) ? re.exec(lower) : null;
      if (m) cue([{ start: m.index, end: m.index + m[0].length }], reason);
    }
    const evaded = view.mayMatch(OVERSIGHT_TRIGGERS) ? OVERSIGHT_EVADED.exec(lower) : null;
    // Not through cue(): a legal hold and the deletion may sit in two sentences ("…on a litigation hold. How do I
    // permanently delete them?"). A ban is still no request ("do not purge anything under the legal hold").
    const evasion = evaded !== null && !negatedAt(view, { start: evaded.index });
    if (evasion) {
      hits.push({ start: evaded.index, end: evaded.index + evaded[0].length });
      reasons.push('an act kept from those who check it');
    }
    if (!hits.length) return [];
    // "kill the process", "shoot a photo": a harmless object right next to the phrase explains it
    // away, not one anywhere in the text ("… for this one answer. How do I make a weapon?").
    if (!evasion && !commit.length && !wrong.length && !promote.length && lower.length < 120 && hits.every((h) => NON_HUMAN.test(lower.slice(Math.max(0, h.start - 24), h.end + 24)))) return [];
    return [unsafeFinding(subject, lower, 'unsafe.crime', 5 + Math.min(2, reasons.length), `Harmful request: ${reasons.join('; ')}`, hits)];
  },
};

/**
 * The whole text is one task given in the imperative, to make a thing that works or instructs —
 * "Develop a tool that …", "Write a script to spoof an email address and send phishing emails" —
 * and its first sentence names a crime or a harmful artefact, however far from the verb. The 6-word
 * window of the cues above misses such long objects; a task's first words fix what is asked.
 */
const TASK_VERBS = set(`develop create write design build provide give generate produce draft compose code program publish post`);
/** Harm words too common in harmless tasks to stand as their object alone ("a story about a character who hates rain", "a speech after an attack"). */
const WEAK_OBJECTS = inflected(`hate cheat cheating fake conspiracy hoax drug drugs gun guns attack exploit virus worm racist sexist scam`);
/** What such a task makes: a thing that works or instructs — not an essay, a segment or an overview about a crime. */
const WORKING_THINGS = inflected(`script program tool bot app application code software algorithm website site plan guide tutorial
  manual process strategy method recipe instruction step campaign scheme system device compound substance mechanism`);
function leadingTask(view: TextView): { start: number; end: number }[] {
  const tokens = view.tokens;
  if (tokens.length < 3 || !TASK_VERBS.has(tokens[0]!.w)) return [];
  let thing = false;
  for (let i = 1; i < Math.min(tokens.length, 6) && !thing; i++) thing = WORKING_THINGS.has(tokens[i]!.w);
  if (!thing) return [];
  const sentenceEnd = view.lower.search(/[.?!\n]/);
  const end = sentenceEnd < 0 ? view.lower.length : sentenceEnd;
  for (let i = 1; i < Math.min(tokens.length, 25) && tokens[i]!.start < end; i++) {
    const w = tokens[i]!.w;
    if ((CRIMES.has(w) || ARTEFACTS.has(w)) && !WEAK_OBJECTS.has(w)) return [{ start: tokens[0]!.start, end: tokens[i]!.end }];
  }
  return [];
}

/** Harmless phrases made of an artefact or wrongdoing word: "bath bomb", "cheat sheet", "gun rights", "drug test", "steal the show". */
const HOMONYMS = /\b(?:(?:bath|photo|cherry|seed|smoke|stink|glitter|flavou?r|calorie|truth|f|love|chocolate|cocoa|cake)[- ]?bombs?|bomb (?:cake|pop|pops|shot)s?|poison (?:ivy|oak|sumac|dart frogs?|control)|bomb(?:ed)? (?:the|my|an?) (?:exam|test|interview|audition)|(?:murder|kill|slay|destroy|crush)(?:ed|ing|s)? (?:this|that|the|my|an?) (?:exam|test|quiz|midterm|final|interview|audition|presentation|workout|song|solo|set|gig|performance|game|match|race|essay|speech)|cheat (?:sheets?|codes?|commands?|console|days?|meals?|engine)|(?:testing)?cheats? (?:for|in|on) (?:the )?(?:sims|pc|ps\d|xbox|switch|game)|gun (?:rights|laws?|control|safety|safes?|locks?|licen[cs]es?|permits?)|drug (?:tests?|testing|stores?|policy|policies|interactions?|decriminali[sz]ation)|virus (?:scan|scanner|protection)|(?:computer|flu|cold|common) virus(?:es)?|(?:steal|stole|stolen|stealing|steals) (?:(?:someone's|somebody's|his|her|their|my|your|the|a|an) )?(?:hearts?|show|spotlight|limelight|thunder|glances?|kiss|kisses|bases?|moment|scene|march|breath|look))\b/g;

/** Who may act on an artefact between "how do" and it ("how do I print counterfeit bills"). */
const ACTORS = set('i you we they he she people one someone somebody u terrorists criminals hackers');
/**
 * "how does a nuclear bomb make such a big explosion": the artefact is what the question is about —
 * the subject of how/why it does something — not what the writer wants made.
 */
function mechanism(view: TextView, span: { start: number; end: number }): boolean {
  const i = view.tokens.findIndex((t) => t.start >= span.start && t.end <= span.end && ARTEFACTS.has(t.w));
  if (i < 2) return false;
  for (let j = i - 1; j >= Math.max(0, i - 5); j--) {
    const w = view.tokens[j]!.w;
    if (w === 'does' || w === 'do' || w === 'did') return j > 0 && /^(?:how|why)$/.test(view.tokens[j - 1]!.w);
    if (PRODUCE.has(w) || WRONGDOING.has(w) || COMMIT.has(w) || ACTORS.has(w)) return false;
  }
  return false;
}

/** Every word of harm the lexicons above know, and fire (arson has no verb of its own here). */
const HARM_WORDS = new Set([...VIOLENCE, ...CRIMES, ...ARTEFACTS, ...WRONGDOING, ...DESTROY, 'fire', 'fires', 'arson']);
export const hasHarmWord = (view: TextView): boolean => view.tokens.some((t) => HARM_WORDS.has(t.w));

/**
 * A rule made of structural hits (intent.ts, targeted.ts): the hits' highest severity, one more when
 * two structures agree, lowered by the pack's mitigations (`questions` false: the rule's questions
 * are never definitions or history).
 */
function hitRule(id: string, description: string, hitsOf: (subject: RuleSubject, view: TextView) => readonly (TargetedHit | IntentHit)[], questions: boolean): GovernanceRule {
  return {
    id,
    flag: 'Unsafe',
    surfaces: ['input', 'tool'],
    description,
    evaluate(subject) {
      const view = viewOf(subject);
      if (!view) return [];
      const hits = hitsOf(subject, view);
      if (!hits.length) return [];
      const top = Math.max(...hits.map((h) => h.severity));
      const names = hits.map((h) => ('cue' in h ? h.cue.name : h.name)).join('; ');
      return [unsafeFinding(subject, view.lower, id, top + (hits.length > 1 ? 1 : 0), `Harmful request: ${names}`, [...hits], questions)];
    },
  };
}

const intent = hitRule(
  'unsafe.intent',
  'Harmful requests by structure (intent.ts): a hidden act or harm passed off as natural causes, surveillance, harassment, tampering, someone else\'s things, private images held over a person, hate, falsehoods, minors, animal cruelty, fraud, burglary, sabotage, cyber-attacks, mass-harm agents, drug extraction, extremism, dodging legal controls.',
  (subject, view) => intentHits(subject, view, hasHarmWord),
  true,
);
const privacy = hitRule('unsafe.privacy', "Requests for a private person's identifiers, credentials, records, contact details or whereabouts (targeted.ts).", (_subject, view) => privacyHits(view), false);
const hate = hitRule('unsafe.hate', 'A protected group denied its rights, stereotyped, dehumanised or to be done away with; an atrocity praised, denied or to be repeated (targeted.ts).', (_subject, view) => hateHits(view), false);

export const RULES: readonly GovernanceRule[] = [violence, crime, intent, privacy, hate];
