/**
 * Harmful requests in Spanish, French, German, Italian, Portuguese and Russian that the English
 * lexicons cannot read: how to make or get a bomb, explosives, methamphetamine, crack, napalm or a
 * nerve agent; a firearm without its serial number; a drug or weapon deal, hidden income, wiped audit
 * logs or an act against a person, kept from the police, the tax office or everyone; how to get a forged
 * certificate (also in Turkish, Chinese and Japanese); first-person suicide asked about (also in
 * Turkish, Japanese, Arabic, Chinese and Hindi); a threatening note, or a fake message in another
 * person's name, to be written; a person to be driven to suicide; fake IDs; fake reviews or rumours to
 * ruin a rival (also in Chinese); another person's account broken into (also in Arabic and Chinese).
 * The classifier reads thirty languages by their words; these are the requests that must not wait
 * for it.
 *
 * JavaScript's `\b` knows only ASCII word characters, so the Cyrillic alternatives open without it.
 */
import type { PatternTriggers } from 'limit-graph';

/** "how do I make / build / get" in the six languages. */
const HOW_MAKE = String.raw`(?:\b(?:c[oó]mo (?:puedo |se puede |podr[ií]a |podemos )?(?:hago|hacer|fabrico|fabricar|preparo|preparar|consigo|conseguir|construyo|construir|transformo|transformar)|comment (?:puis-je |peut-on |on peut |je peux |pourrais-je )?(?:faire|fabriquer|pr[ée]parer|obtenir|construire|transformer|synth[ée]tiser)|wie (?:kann ich |man |baue ich |mache ich |stelle ich )?(?:baue|bauen|baut|mache|machen|macht|stelle|herstellen|synthetisieren|kocht|kochen)|come (?:posso |si può |si puo |potrei |si )?(?:fa|fare|faccio|costruire|costruisco|fabbricare|preparare|sintetizzare)|como (?:posso |se pode |eu posso |poderia )?(?:fa[çc]o|fazer|fabricar|fabrico|preparar|construir|sintetizar))\b|как (?:мне |можно )?(?:сделать|изготовить|приготовить|собрать|синтезировать|сварить))`;
/** What such a request must not make: bombs and explosives, methamphetamine, crack, napalm, nerve agents. */
const AGENTS = String.raw`(?:\b(?:(?:bombas?|bombes?|bomben?)(?! (?:de (?:baño|semillas|humo|chocolate|crema|bain)|glac[ée]es?|à graines))|rohrbomben?|explosiv[oa]s?|explosifs?|sprengstoff\w*|esplosiv[oi]|metanfetamina|m[ée]thamph[ée]tamine|methamphetamin|crystal meth|crack|napalm|sarin|ricin[ea]?|tatp)\b|бомб[ау]|взрывчатк\w*|взрывное устройство|метамфетамин|нервно-паралитическ\w+|зарин)`;
const MAKE_AGENT = new RegExp(`${HOW_MAKE}[^.?!\\n]{0,60}?${AGENTS}`, 'u');

/** A firearm without its serial number: untraceable by design. */
const UNTRACEABLE_GUN = /(?:\b(?:schusswaffe|waffe|pistole|gewehr|armas?(?: de fuego)?|pistola|fusil|armes?(?: à feu)?|arma da fuoco)\b|пистолет|оружие)[^.?!\n]{0,40}(?:\b(?:ohne seriennummer|sin n[uú]mero de serie|sans num[ée]ro de s[ée]rie|senza (?:numero di serie|matricola)|sem n[uú]mero de s[ée]rie)\b|без (?:серийного )?номера)/u;

/** Kept from the police or from everyone ("ohne von der Polizei erwischt zu werden", "sans que personne le sache", "чтобы никто не узнал"). */
const UNSEEN = String.raw`(?:\b(?:vor dem finanzamt (?:verstecken|verheimlichen|verbergen)|ohne (?:einen |den )?alarm auszul[öo]sen|ohne (?:von der polizei |dass (?:die polizei|es jemand|jemand) (?:davon )?)?(?:erwischt|geschnappt|entdeckt|erf[äa]hrt|merkt|bemerkt)|sin que (?:la polic[ií]a|nadie) (?:me )?(?:pille|descubra|se entere|lo note|note|sepa)|sin (?:que me pillen|ser descubierto|dejar rastro)|para que (?:nadie|recursos humanos|rrhh|mi jefe|la polic[ií]a|auditor[ií]a) no se d[eé] cuenta|sans d[ée]clencher (?:d'|l')?(?:alerte|alarme)|sans (?:que (?:la police|personne) (?:ne )?(?:le )?(?:sache|remarque|d[ée]couvre|s'en aper[çc]oive)|me faire (?:prendre|attraper|choper|rep[ée]rer)|laisser de traces?)|senza far scattare (?:l'|gli |un )?allarm\w*|senza (?:farmi (?:beccare|scoprire|prendere)|essere scopert[oa]|che (?:nessuno|la polizia) (?:se ne accorga|lo scopra|lo sappia)|lasciare tracce)|sem (?:ser (?:pego|descoberto)|que (?:a pol[ií]cia|ningu[ée]m) (?:perceba|descubra|saiba)|deixar rastros?))\b|чтобы (?:никто не (?:узнал|заметил)|полиция не (?:узнала|нашла))|не попавшись|незаметно)`;
/** What is kept unseen: a drug or weapon trade, or an act against a person. */
const DEED = String.raw`(?:\b(?:kokain|koks|heroin|drogen|waffen?|verkaufen|schmuggeln|vergiften|cocaína|coca[ïi]ne|cocaina|hero[ií]na|h[ée]ro[ïi]ne|eroina|drogas|drogues|droghe|armas|armes|armi|vender|vendre|vendere|contrabandear|passer en douce|envenenar|empoisonner|avvelenare|traficar|trafiquer|spacciare|registros de auditor[ií]a|hachages|mots de passe|contraseñas|passw[öo]rter|senhas|ingresos|einnahmen|eink[üu]nfte|revenus|redditi|renda|cpf de outra pessoa|dni de otra persona)\b|кокаин|героин|наркотик|оружи|продать|отравить|провезти)`;
const HIDDEN_DEED = new RegExp(`${DEED}[^.?!\\n]{0,80}${UNSEEN}|${UNSEEN}[^.?!\\n]{0,80}${DEED}`, 'u');

/** Every ASCII match holds one of these: a how-word, a serial number, a word of keeping unseen, a forgery, a suicide or a threat word, a name. */
export const FOREIGN_TRIGGERS: PatternTriggers = {
  words: ['como', 'comment', 'wie', 'come', 'ohne', 'sin', 'sans', 'senza', 'sem', 'seriennummer', 'serie', 'matricola', 'para', 'finanzamt', 'sahte', 'quitarme',
    'mettre', 'umbringen', 'nehmen', 'uccidermi', 'togliermi', 'matar', 'minha', 'kendimi',
    'minatorio', 'minatoria', 'amenazante', 'menace', 'menaces', 'menacant', 'ameacador', 'ameacadora',
    'namen', 'nombre', 'nom', 'nome', 'haciendome', 'faisant', 'fingendomi', 'facendomi', 'passando', 'fingindo',
    'selbstmord', 'suizid', 'suicide', 'suicidio', 'suicidarse', 'suicidarsi', 'tuer', 'matarse', 'uccidersi', 'matar',
    'bewertungen', 'rezensionen', 'avis', 'commentaires', 'resenas', 'opiniones', 'recensioni', 'avaliacoes', 'hackear', 'piratear', 'pirater', 'hacker', 'hackerare',
    'invadir', 'hacken', 'knacken', 'dni', 'pasaporte', 'carnet', 'licencia', 'passaporto', 'passaporte', 'rg', 'ausweis', 'pass', 'reisepass', 'identidade', 'passeport',
    'passeports', 'permis', 'carte', 'cartes', 'piece', 'pieces', 'identita'],
  prefixes: ['suicid', 'svegliar', 'droh'],
  // No substrings: a text with a character outside ASCII is never gated (TextView.mayMatch), so
  // Cyrillic, Arabic, Chinese or accented words need no trigger.
};

/** A forged document asked for: "sahte engelli raporu nasıl alabilirim", "如何伪造医院的诊断证明", "comment faire un faux certificat". */
const FORGED = /(?:\b(?:c[oó]mo|comment|wie|come|como)\b[^.?!\n]{0,40}\b(?:(?:certificado|informe|diploma|documento|atestado|receta|justificante)s? (?:m[ée]dicos? )?fals[oa]s?|faux (?:certificats?|dipl[ôo]mes?|papiers|documents?|arr[êe]ts? de travail|bulletins? de salaire|ordonnances?|passeports?|permis)|fausses? (?:cartes? d'identit[ée]|pi[èe]ces? d'identit[ée])|(?:(?:dni|pasaporte|carn[ée]t|licencia|passaporto|passaporte|rg|ausweis|pass|reisepass)(?: de conducir| de identidad)? fals[oa]|carta d'identit[àa] falsa|identidade falsa)|(?:ein(?:e[nm]?)? )?(?:gef[äa]lscht|falsch)e[nrs]? (?:attest|krankschreibung|zeugnis|ausweis|dokument|rezept)\w*|(?:certificat|document|diplom|attestat)[oi] fals[oi])|\bsahte (?:[a-zçğıöşü]+ )?(?:rapor|belge|kimlik|diploma|imza|re[çc]ete)\w*[^.?!\n]{0,40}nas[ıi]l|(?:如何|怎么|怎样)[^。？！\n]{0,20}伪造|伪造[^。？！\n]{0,30}(?:方法|怎么|如何)|(?:どうやって|方法)[^。？！\n]{0,20}偽造|偽造[^。？！\n]{0,30}(?:方法|どうやって))/u;
/** First-person suicide asked about in other languages ("quante compresse … per non svegliarsi più", "何錠飲めば確実に死ねますか"). */
const SELF_HARM_FOREIGN = /(?:\b(?:suicidarme|quitarme la vida|me suicider|mettre fin à mes jours|mich umbringen|mir das leben nehmen|uccidermi|togliermi la vita|per non svegliar(?:mi|si) pi[uù]|me matar|tirar (?:a )?minha (?:pr[óo]pria )?vida|kendimi [öo]ld[üu]r\w*)(?![a-z])|確実に死ね|死ねますか|楽に死ね|لإنهاء حياتي|أنهي حياتي|أقتل نفسي|أنتحر|我想自杀|怎么自杀|如何自杀|मैं आत्महत्या|खुद को मार)/u;

/** "Write (me)" in the five languages, for what must be asked to be written (`\b` knows no "é": letters are looked for around it). */
const WRITE = String.raw`(?<!\p{L})(?:scrivi(?:mi)?|prepara(?:mi)?|escr[ií]be(?:me)?|escribir|redacta(?:me)?|[ée]cri(?:s|re|vez)(?:-moi)?|r[ée]dige(?:r|z)?(?:-moi)?|schreib(?:e|en)?|verfasse(?:n)?|formulier(?:e|en)|escreva|escreve(?:r)?|redija)(?!\p{L})`;

/** A threatening note asked to be written ("scrivimi un biglietto minatorio", "schreib einen Drohbrief", "напиши угрожающее письмо"). */
const THREAT_NOTE = new RegExp(String.raw`(?:${WRITE}[^.?!\n]{0,40}\b(?:(?:biglietto|lettera|messaggio|nota|mail) (?:\w+ )?minatori[oa]|(?:carta|nota|mensaje|correo) (?:\w+ )?amenazante|(?:lettre|message|mot|courriel) (?:\w+ )?(?:de menaces?|mena[çc]ant)|drohbrief|drohnachricht|droh-?e-?mail|drohschreiben|(?:carta|bilhete|mensagem|nota) (?:\w+ )?amea[çc]ador[a]?)|напиши[^.?!\n]{0,40}угрожающ)`, 'u');

/** A deceptive message in another person's name ("täuschend echte E-Mail im Namen unseres Geschäftsführers", "faux e-mail au nom de", "haciéndome pasar por"). */
const IMPERSONATION = new RegExp(String.raw`${WRITE}[^.?!\n]{0,30}(?:\b(?:t[äa]uschend echt\w*|gef[äa]lscht\w*|falsch\w*|fake|falsos?|falsas?|faux|fausses?|fals[oaie])\b[^.?!\n]{0,30}\b(?:e-?mails?|nachricht\w*|brief|schreiben|correos?|mensajes?|cartas?|courriels?|messages?|lettres?|messaggio|lettera|mensage(?:m|ns)|sms)\b[^.?!\n]{0,40}\b(?:im namen (?:des|der|unseres|unserer|meines|meiner|von|vom)|en (?:nombre|nom) de|au nom d[eu']|a nome d|em nome d)|\b(?:haci[ée]ndome pasar por|en me faisant passer pour|fingendomi|facendomi passare per|me passando por|fingindo ser)\b)`, 'u');

/** Someone driven to suicide ("pousser ma collègue à se suicider", "in den Selbstmord treiben", "empujarla al suicidio"). */
const DRIVEN_TO_SUICIDE = new RegExp(String.raw`(?:${WRITE}|(?<!\p{L})(?:comment|c[oó]mo|wie|come|como|je veux|quiero|ich will|voglio|eu quero)(?!\p{L}))[^.?!\n]{0,60}(?<!\p{L})(?:(?:pousser|conduire|amener|acculer)(?!\p{L})[^.?!\n]{0,30}(?:au suicide|[àa] se (?:suicider|tuer))|(?:empujar|llevar|inducir|orillar)\p{L}*[^.?!\n]{0,30}(?:al suicidio|a (?:suicidarse|matarse))|(?:spingere|portare|indurre)\p{L}*[^.?!\n]{0,30}(?:al suicidio|a (?:suicidarsi|uccidersi))|(?:levar|empurrar|induzir)\p{L}*[^.?!\n]{0,30}(?:ao suic[ií]dio|a se matar)|in den (?:selbstmord|suizid) (?:treiben|zu treiben|dr[äa]ngen)|zum (?:selbstmord|suizid) (?:treiben|bringen|dr[äa]ngen|zu treiben|zu bringen))(?!\p{L})`, 'u');

/** Fake reviews or rumours to ruin a rival ("gefälschte Bewertungen … damit der Laden meines Konkurrenten pleitegeht", "散布谣言，让竞争对手的餐厅关门"). */
const RIVAL_SMEARED = /(?:(?<!\p{L})(?:gef[äa]lschte|falsche|fake|faux|fausses|falsas|falsos|false|falsi|falsas) (?:bewertungen|rezensionen|avis|commentaires|rese[ñn]as|opiniones|recensioni|avalia[çc][õo]es)(?!\p{L})[^.?!\n]{0,80}(?<!\p{L})(?:konkurrent\p{L}*|mitbewerber\p{L}*|concurrent\p{L}*|competidor\p{L}*|competencia|concorrent\p{L}*|pleite|ruiner|arruinar|rovinare|falir)|(?:散布|传播|编造)(?:谣言|假消息|虚假)[^。？！\n]{0,30}(?:竞争对手|对手|关门|倒闭))/u;

/** Another person's account broken into ("اختراق حساب إنستغرام الخاص بزميلي", "如何盗取别人的微信号", "взломать страницу бывшей", "hackear la cuenta de mi ex"). */
const ACCOUNT_BROKEN = /(?:اختراق (?:حساب|هاتف|بريد|واتساب|إنستغرام|فيسبوك)|(?:盗取|黑进|入侵|破解|盗)(?:别人|他人|同事|前任|女朋友|男朋友|老婆|老公|对方)?(?:的)?(?:账号|帐号|账户|邮箱|微信|qq|手机)|взломать (?:чужой |чужую |его |её |ее )?(?:аккаунт|страниц|почт|телефон|инстаграм|ватсап)|(?<!\p{L})(?:hackear|piratear|pirater|hacker|hackerare|invadir) (?:la |le |l'|a |o )?(?:cuenta|compte|account|conta|perfil|profil|correo|instagram|whatsapp|facebook) (?:de|d'|di|da|do) (?:mi|mon|ma|mio|mia|meu|minha|un|una|une|otra|otro|autre|alguien|quelqu'un|qualcuno|algu[ée]m)|(?:account|konto|handy|e-?mail-?konto|instagram|whatsapp)(?: von| meines| meiner| meinem)? [^.?!\n]{0,30}(?<!\p{L})(?:hacken|knacken)(?!\p{L}))/u;

/** Spans of such requests in `lower` (the text lower-cased); the caller checks FOREIGN_TRIGGERS first. */
export function foreignHits(lower: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const re of [MAKE_AGENT, UNTRACEABLE_GUN, HIDDEN_DEED, FORGED, SELF_HARM_FOREIGN, THREAT_NOTE, IMPERSONATION, DRIVEN_TO_SUICIDE, RIVAL_SMEARED, ACCOUNT_BROKEN]) {
    const m = re.exec(lower);
    if (m) out.push({ start: m.index, end: m.index + m[0].length });
  }
  return out;
}
