/**
 * Characters of fiction, film, games and comics whose "home address" or "bank account" is no
 * person's: asking for James Bond's social security number harms no one. Lower-case full names as
 * the privacy rule reads a named person (two or three capitalised words); a name that is also a
 * common real one is listed only with its fictional surname ("Peter Parker", not "Peter").
 */
const NAMES = `
  harry potter|hermione granger|ron weasley|albus dumbledore|severus snape|lord voldemort|draco malfoy|ginny weasley|rubeus hagrid|sirius black|neville longbottom
  luna lovegood|frodo baggins|bilbo baggins|samwise gamgee|tony stark|peter parker|bruce wayne|clark kent|diana prince|bruce banner|steve rogers|natasha romanoff
  wanda maximoff|stephen strange|peter quill|nick fury|lex luthor|lois lane|barry allen|hal jordan|arthur curry|selina kyle|harley quinn|matt murdock|logan howlett
  wade wilson|scott summers|jean grey|charles xavier|james bond|jason bourne|ethan hunt|jack reacher|jack ryan|lisbeth salander|sherlock holmes|john watson|hercule poirot
  jane marple|miss marple|nancy drew|philip marlowe|sam spade|indiana jones|lara croft|nathan drake|luke skywalker|leia organa|princess leia|han solo|darth vader
  anakin skywalker|obi-wan kenobi|padme amidala|kylo ren|boba fett|din djarin|jean-luc picard|james kirk|james t. kirk|kathryn janeway|ellen ripley|sarah connor|john connor
  marty mcfly|emmett brown|forrest gump|rocky balboa|john rambo|john mcclane|john wick|hannibal lecter|clarice starling|norman bates|michael corleone|vito corleone
  tony montana|travis bickle|jay gatsby|atticus finch|holden caulfield|elizabeth bennet|fitzwilliam darcy|jane eyre|edward rochester|ebenezer scrooge|oliver twist
  huckleberry finn|tom sawyer|anna karenina|don quixote|captain ahab|captain nemo|phileas fogg|dorian gray|victor frankenstein|count dracula|jonathan harker
  allan quatermain|robinson crusoe|lemuel gulliver|katniss everdeen|peeta mellark|bella swan|edward cullen|jacob black|percy jackson|annabeth chase|tris prior
  thomas anderson|walter white|jesse pinkman|saul goodman|jimmy mcgill|tony soprano|don draper|dexter morgan|buffy summers|dana scully|fox mulder|jack bauer|carrie mathison
  olivia pope|frank underwood|claire underwood|jon snow|daenerys targaryen|tyrion lannister|cersei lannister|jaime lannister|arya stark|sansa stark|ned stark|eddard stark
  bran stark|sheldon cooper|leonard hofstadter|ross geller|rachel green|monica geller|chandler bing|joey tribbiani|phoebe buffay|ted mosby|barney stinson|michael scott
  dwight schrute|jim halpert|pam beesly|leslie knope|ron swanson|homer simpson|marge simpson|bart simpson|lisa simpson|ned flanders|montgomery burns|peter griffin
  stewie griffin|rick sanchez|morty smith|bob belcher|hank hill|eric cartman|fred flintstone|george jetson|scooby doo|shaggy rogers|charlie brown|mickey mouse|minnie mouse
  donald duck|daisy duck|bugs bunny|daffy duck|porky pig|elmer fudd|christopher robin|peter pan|captain hook|tinker bell|alice liddell|willy wonka|charlie bucket
  mary poppins|paddington bear|harry callahan|dirty harry|ace ventura|ferris bueller|napoleon dynamite|austin powers|jack sparrow|captain jack sparrow|will turner
  elizabeth swann|buzz lightyear|sheriff woody|lightning mcqueen|princess fiona|princess peach|princess zelda|solid snake|master chief|gordon freeman|arthur morgan
  john marston|cloud strife|ellie williams|joel miller|ash ketchum|light yagami|naruto uzumaki|monkey d. luffy|son goku|sailor moon|usagi tsukino|spike spiegel|edward elric
  miss piggy|big bird|cookie monster|peppa pig|spongebob squarepants|patrick star|squidward tentacles|eugene krabs|optimus prime|the joker|arthur fleck|doctor who
  doctor strange|doctor octopus|otto octavius|norman osborn|victor von doom|doctor doom|gregory house|meredith grey|derek shepherd|walter mitty|hank moody|don corleone
  lara jean covey|carrie bradshaw|samantha jones|blair waldorf|serena van der woodsen|mr bean|borat sagdiyev|harry dresden|jack torrance|danny torrance|patrick bateman
  tom ripley|holly golightly|rhett butler|jim hopper|steve harrington|dustin henderson|mike wheeler|will byers|wednesday addams|gomez addams|morticia addams|beth harmon
  ted lasso|roy kent|kendall roy|logan roy|lady macbeth|romeo montague|juliet capulet|prince hamlet|king lear|robin hood|maid marian|king arthur|ichabod crane
  rip van winkle`;

export const FICTIONAL_NAMES: ReadonlySet<string> = new Set(NAMES.split(/\s*[|\n]\s*/).map((n) => n.trim()).filter(Boolean));

/** Titles before a character's name ("Captain Jack Sparrow", "Professor Severus Snape"). */
const TITLE = /^(?:captain|professor|doctor|dr\.?|mr\.?|mrs\.?|ms\.?|miss|lord|lady|king|queen|prince|princess|sir|agent|detective|inspector|uncle|aunt|sheriff|officer|general|count) /;

/** Whether a capitalised name (as the privacy rule finds it) is a fictional character's. */
export function isFictional(name: string): boolean {
  const lower = name.toLowerCase().replace(/’/g, "'");
  return FICTIONAL_NAMES.has(lower) || FICTIONAL_NAMES.has(lower.replace(TITLE, ''));
}
