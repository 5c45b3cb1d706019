/**
 * The pure governance engine: rules + preset → verdict. No storage, no container: the CLI's check
 * and eval commands and the `governance` service both drive this class.
 */
import { performance } from 'node:perf_hooks';
import { Evidence as EvidenceSchema, FLAG_KINDS, Finding as FindingSchema, GovernancePolicy as GovernancePolicySchema, LimitError, Severity, describeThrown, evidenceSpan, isLimitError, isWellFormed, z } from 'limit-graph';
import type {
  Decision, Evidence, Finding, GovernanceCallOptions, GovernancePolicy, GovernancePreset, GovernanceRule, GovernanceVerdict, RuleContext,
  RuleSubject, Surface, TextView, Trace,
} from 'limit-graph';
import { buildViews } from './views.ts';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';

/** The highest finding severity (Severity's maximum). */
export const MAX_SEVERITY = Severity.maxValue ?? 10;

/**
 * What is contradictory in a policy, or undefined: `blockAnomalyTraces` on with `maxAnomalySeverity`
 * at the highest severity can never block (only an Anomaly severity above it blocks). The one check
 * behind both the governance plugin's option check (LIMIT_PLUGIN_OPTIONS_INVALID, on the preset with
 * the config's overrides applied) and the GovernanceEngine constructor (LIMIT_VALIDATION), so both
 * refuse the same policies with the same words. `from(field)` says where a field's value came from
 * (the plugin: ` (from the "default" preset)`), or ''.
 */
export function anomalyPolicyProblem(policy: Pick<GovernancePolicy, 'blockAnomalyTraces' | 'maxAnomalySeverity'>, from: (field: 'blockAnomalyTraces' | 'maxAnomalySeverity') => string = () => ''): string | undefined {
  const max = policy.maxAnomalySeverity;
  if (!policy.blockAnomalyTraces || max < MAX_SEVERITY) return undefined;
  return `can never block: blockAnomalyTraces is on${from('blockAnomalyTraces')} but maxAnomalySeverity is ${max}${from('maxAnomalySeverity')}, and only an Anomaly severity above it blocks (severities go up to ${MAX_SEVERITY}). ` +
    `Set policy.maxAnomalySeverity below ${MAX_SEVERITY} (the "default" preset uses ${GOVERNANCE_PRESETS.default.policy.maxAnomalySeverity}), or set policy.blockAnomalyTraces: false`;
}

/**
 * The judge-phase rules of the built-in packs: they read `ctx.findings`, never `ctx.reviewBand`, so
 * a review band changes nothing they do (reviewBandProblem does not count them as reading it).
 * test/governance/engine.test.ts holds this list to the built-in packs' judge-phase rules.
 */
export const BAND_BLIND_JUDGES: ReadonlySet<string> = new Set(['classifier.linear', 'jailbreak.wrapped-request']);

/**
 * The ids of the rules among `rules` that may read the review band to decide what to do: the
 * judge-phase rules other than BAND_BLIND_JUDGES (the LLM judge is consulted only inside the band;
 * a third-party or inline judge may be too). Rules are read as given, not yet validated.
 */
export function bandJudges(rules: readonly unknown[]): string[] {
  const ids: string[] = [];
  for (const rule of rules) {
    if (typeof rule !== 'object' || rule === null) continue;
    const { id, phase } = rule as { id?: unknown; phase?: unknown };
    if (phase === 'judge' && !(typeof id === 'string' && BAND_BLIND_JUDGES.has(id))) ids.push(String(id));
  }
  return ids;
}

/**
 * What makes a review band unreachable, or undefined: with autoQuarantine on, decide() quarantines
 * (or blocks) every severity from quarantineSeverity up before it looks at the band, so a band whose
 * low end is at or above it never gives `review` — a config meaning "review 8–9" would quarantine
 * them and say nothing. A judge that reads the band (`judges`, from bandJudges: the LLM judge,
 * consulted only inside it) gives it an effect, and then it is accepted. The one check behind the
 * governance plugin's start-up refusal (LIMIT_PLUGIN_OPTIONS_INVALID, naming the option the config
 * set) and the GovernanceEngine constructor's (LIMIT_VALIDATION), in the same words; `from(field)`
 * says where a value came from, as in anomalyPolicyProblem.
 */
export function reviewBandProblem(
  preset: Pick<GovernancePreset, 'policy' | 'reviewBand'>, judges: readonly string[],
  from: (field: 'reviewBand' | 'autoQuarantine' | 'quarantineSeverity') => string = () => '',
): { message: string; fix: string } | undefined {
  const band = preset.reviewBand;
  const { autoQuarantine, quarantineSeverity: q } = preset.policy;
  if (!band || !autoQuarantine || band[0] < q || judges.length > 0) return undefined;
  const ways = [
    q > 1 ? `start the band below quarantineSeverity (its low end at most ${q - 1}; the "default" preset reviews [5, 6] under 7)` : undefined,
    band[0] < MAX_SEVERITY ? `raise policy.quarantineSeverity above ${band[0]}` : undefined,
    'set reviewBand: null for no review',
    'or load a judge that reads the band (governance-rules-llm-judge)',
  ].filter((w): w is string => w !== undefined);
  return {
    message: `can never give a review: reviewBand is [${band[0]}, ${band[1]}]${from('reviewBand')}, and with autoQuarantine on${from('autoQuarantine')} every severity from quarantineSeverity ${q}${from('quarantineSeverity')} up is quarantined (or blocked) before the band is looked at; ` +
      'no judge-phase rule that reads the band (the LLM judge) is loaded',
    fix: `${ways.join(', ')}.`.replace(/^./, (c) => c.toUpperCase()),
  };
}

/** A review band, `[low, high]` severities with low ≤ high: a preset's (PresetSchema) and the governance option's (options.ts). */
export const ReviewBandSchema = z.tuple([Severity, Severity]).refine((b) => b[0] <= b[1], 'must be [low, high] with low ≤ high');

/**
 * A preset as the engine reads it (GovernancePreset): checked when an engine is built directly, so a
 * hand-made preset missing a policy switch (undefined: nothing would ever block) or holding a field
 * no policy has is refused, naming the field, not read as off or ignored. Presets of the plugin are
 * the built-in three with options it has checked already.
 */
const PresetSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  policy: GovernancePolicySchema.strict(),
  packs: z.array(z.string().min(1)),
  blockSeverity: Severity,
  reviewBand: ReviewBandSchema.nullable(),
});

/** LIMIT_VALIDATION for a preset the engine cannot read: the first problem, its field (`preset.<path>`). */
function presetProblem(preset: unknown): LimitError | undefined {
  if (typeof preset !== 'object' || preset === null || Array.isArray(preset)) {
    return new LimitError('LIMIT_VALIDATION', `GovernanceEngine: preset must be a GovernancePreset { name, description, policy, packs, blockSeverity, reviewBand }, got ${describe(preset)}`, {
      details: { field: 'preset' },
      fix: "Pass one of the built-in presets (GOVERNANCE_PRESETS from 'limit-graph/plugins/governance'), or a copy of one with the fields you change.",
    });
  }
  const parsed = PresetSchema.safeParse(preset);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.');
  const name = typeof (preset as { name?: unknown }).name === 'string' ? `preset "${(preset as { name: string }).name}"` : 'preset';
  return new LimitError('LIMIT_VALIDATION', `GovernanceEngine: ${name}: ${path || '(preset)'}: ${issue.message}`, {
    details: { field: path ? `preset.${path}` : 'preset', problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
    fix: "Start from one of the built-in presets (GOVERNANCE_PRESETS from 'limit-graph/plugins/governance') and change the fields you need: a policy sets every GovernancePolicy switch and threshold.",
  });
}

/** Where a rule comes from, for its errors: `rule pack "acme"` and the plugin that provides the pack. */
export interface RuleOrigin {
  where: string;
  plugin?: string;
  /** A rule written in the governance plugin's own `rules` option (limit.config.ts), not in a pack. */
  inline?: boolean;
}

export interface EngineOptions {
  rules: readonly GovernanceRule[];
  /**
   * Where each rule comes from, by position: `origins[i]` is where `rules[i]` comes from (the
   * governance plugin fills it); errors about a rule name it. By position, not by rule object: one
   * rule object listed by two packs is two entries, each named with its own pack.
   */
  origins?: readonly (RuleOrigin | undefined)[];
  preset: GovernancePreset;
  /** Time budget of one rule on one subject, and of building one subject's views (ms). */
  ruleBudgetMs: number;
  /**
   * Time budget of one `judge`-phase rule call (ms; default 60,000): such a rule waits on a model,
   * so it has far more time than a scan rule, but never unbounded time.
   */
  judgeBudgetMs?: number;
  /**
   * Characters of one field that are scanned at most: a longer field is scanned as its first and
   * last maxScanChars/2, and the middle left out is reported as an Unverified finding.
   */
  maxScanChars: number;
  /** Rules see a long field as windows of this many characters (default 65,536). */
  scanWindowChars?: number;
  /** Consecutive windows share this many characters, so a match across a boundary is whole in one (default 2,048). */
  scanOverlapChars?: number;
  /** Severity of the Unverified finding for a field's unscanned middle (default 5). */
  unscannedSeverity?: number;
  /**
   * Findings of rules below this severity are dropped (noise floor); the engine's own
   * `governance.unscanned` and `governance.unchecked` findings are kept whatever their severity.
   */
  minSeverity: number;
}

/**
 * Options of one evaluation (the contract's GovernanceCallOptions): aborting `signal` ends the
 * evaluation (it rejects with the signal's reason) and aborts the `ctx.signal` of the rule call in
 * flight, so an async rule stops (a judge's model request is cancelled).
 */
export type EvaluateOptions = GovernanceCallOptions;

/** The subject a rule is called with: one view of one field (or window of it), frozen. */
type ViewSubject = Readonly<RuleSubject & { view: TextView; offset: number }>;

/** The middle of a field longer than maxScanChars, which was not read. */
interface ScanGap {
  field: string;
  start: number;
  end: number;
  /** The field's length. */
  length: number;
}

const FLAG_KINDS_BLOCKING = { Jailbreak: 'blockJailbreakTraces', Malicious: 'blockMaliciousTraces' } as const;

/** The engine's own findings: a field's unread middle, and async rules cut at their budget. */
const UNSCANNED_ID = 'governance.unscanned';
const UNCHECKED_ID = 'governance.unchecked';

/** judgeBudgetMs when none is given. */
export const DEFAULT_JUDGE_BUDGET_MS = 60_000;

/** What `overBudget` names when building a subject's views (normalising and decoding it) took longer than ruleBudgetMs. */
const VIEWS_ID = 'governance.views';

/**
 * The longest rule id: its statistics counter `governance.flags.rule.<id>` must fit storage's
 * 256-character counter names (and a stored flag's ruleId, 256).
 */
export const MAX_RULE_ID_LENGTH = 256 - 'governance.flags.rule.'.length;
/** The longest finding reason: a flag holds 2,048 characters of it. */
const MAX_REASON_LENGTH = 2048;
/**
 * The most evidence spans a finding keeps — the first ones it gives, its reason saying how many
 * were left out — as merging findings keeps (mergeFindings). Evidence is otherwise unbounded, and one
 * rule or tap citing every match (60,000 spans) made a flag of megabytes that storage refuses,
 * failing the whole batch: with this, a finding's flag stays a few KiB (excerpts hold 512 characters).
 */
export const MAX_FINDING_EVIDENCE = 5;

const RESERVED_PREFIX = 'governance.';
/** The ruleId of the flags a person adds (GovernanceService.flag): no rule or tap finding may carry it. */
export const MANUAL_RULE_ID = 'manual';

/** What is wrong with a rule id (or a tap finding's ruleId), or undefined: flags, provenance and counters are keyed by it. */
function ruleIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_RULE_ID_LENGTH) return `must be a non-empty string of at most ${MAX_RULE_ID_LENGTH} characters`;
  if (!isWellFormed(id)) return 'holds half a surrogate pair (not well-formed Unicode, so it cannot be stored)';
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'holds a control character (NUL, a line break…), which storage and logs cannot carry';
  // A rule's flags would read as a person's (ruleId "manual"), counted in flags.rule.manual with them.
  if (id === MANUAL_RULE_ID) return `"${MANUAL_RULE_ID}" is the ruleId of manual flags (governance.flag, POST /governance/flag): a rule's flags under it would be counted and shown as a person's; prefix it with your pack's name`;
  // The engine's own findings (governance.unscanned, governance.unchecked) and overBudget entries
  // (governance.views) use this namespace: a rule's or a tap's finding there would be merged and
  // counted with them, and kept under the noise floor as they are.
  if (id.startsWith(RESERVED_PREFIX)) return `starts with "${RESERVED_PREFIX}", which the engine's own findings use (governance.unscanned, governance.unchecked): prefix it with your pack's name`;
  return undefined;
}

/** A rule's surfaces as an error shows them (JSON, cut short). */
function describeSurfaces(v: unknown): string {
  const text = v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The fields of a rule (GovernanceRule). */
const RULE_KEYS: ReadonlySet<string> = new Set(['id', 'flag', 'surfaces', 'description', 'evaluate', 'phase']);
/** What a field a rule does not have was probably meant as. */
const RULE_KEY_HINTS: Readonly<Record<string, string>> = {
  severity: 'severity belongs on each finding evaluate returns',
  kind: 'the rule\'s flag kind is `flag` (a finding has `kind`)',
  surface: 'did you mean `surfaces` (a list)?',
  enabled: 'to turn a rule off, leave it out of the list',
  disabled: 'to turn a rule off, leave it out of the list',
  budgetMs: 'the time budget is the governance option ruleBudgetMs',
};

/**
 * Checks a rule's fields. `strictKeys`: a plain object with a field no rule has is refused too (a
 * rule written in limit.config.ts, where `severity: 8` or `enabled: false` would otherwise be
 * accepted and do nothing); a class instance may carry fields of its own.
 */
export function validateRule(rule: unknown, where: string, options: { strictKeys?: boolean } = {}): GovernanceRule {
  const r = rule as Partial<GovernanceRule> | null;
  const problems: string[] = [];
  if (!r || typeof r !== 'object') problems.push('is not an object');
  else {
    const proto = Object.getPrototypeOf(r);
    if (options.strictKeys && (proto === Object.prototype || proto === null)) {
      for (const key of Object.keys(r).filter((k) => !RULE_KEYS.has(k))) {
        problems.push(`unknown field ${JSON.stringify(key)} (a rule has ${[...RULE_KEYS].join(', ')})${RULE_KEY_HINTS[key] ? `: ${RULE_KEY_HINTS[key]}` : ''}`);
      }
    }
    const idProblem = ruleIdProblem(r.id);
    if (idProblem) problems.push(`id ${idProblem}`);
    if (typeof r.flag !== 'string' || !KINDS.has(r.flag)) problems.push(`flag must be a flag kind (${FLAG_KINDS.join(', ')}), got ${JSON.stringify(r.flag)}`);
    if (!Array.isArray(r.surfaces) || r.surfaces.length === 0 || r.surfaces.some((s) => !['input', 'output', 'tool'].includes(s))) problems.push(`surfaces must be a list of input, output and/or tool, got ${describeSurfaces(r.surfaces)}`);
    if (typeof r.evaluate !== 'function') problems.push('evaluate must be a function');
    if (r.phase !== undefined && r.phase !== 'scan' && r.phase !== 'judge') problems.push(`phase must be "scan" or "judge", got ${JSON.stringify(r.phase)}`);
    if (r.description !== undefined && typeof r.description !== 'string') problems.push('description must be a string');
  }
  if (problems.length) {
    throw new LimitError('LIMIT_RULE_INVALID', `Governance rule ${JSON.stringify(r?.id ?? '?')} from ${where} is invalid: ${problems.join('; ')}`, { details: { rule: r?.id, where, problems } });
  }
  return r as GovernanceRule;
}

const KINDS: ReadonlySet<string> = new Set(FLAG_KINDS);

/**
 * A rule's finding as the engine may use it, or the first problem with it as `path: message`.
 * Every finding of every evaluation passes here, so the usual valid finding is checked by hand in
 * a few comparisons; the schema only runs to word a problem (or to apply its defaults).
 */
export function checkFinding(f: unknown, ruleId: string | undefined, subject?: SpanSubject): Finding | string {
  if (isValidFinding(f, ruleId, subject)) return f;
  const parsed = FindingSchema.safeParse(f);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `${issue.path.length ? issue.path.join('.') : '(finding)'}: ${issue.message}`;
  }
  const finding = parsed.data;
  const idProblem = ruleId === undefined ? ruleIdProblem(finding.ruleId) : undefined;
  if (idProblem) return `ruleId: ${idProblem}`;
  if (ruleId !== undefined && finding.ruleId !== ruleId) return `ruleId: ${JSON.stringify(finding.ruleId)} is not the rule's own id (disable, flags and statistics go by it)`;
  const reversed = finding.evidence.findIndex((e) => e.start > e.end);
  if (reversed >= 0) return `evidence.${reversed}: start ${finding.evidence[reversed]!.start} is after end ${finding.evidence[reversed]!.end}`;
  const past = subject ? finding.evidence.findIndex((e) => e.field === subject.field && e.end > subject.text.length) : -1;
  if (past >= 0) return `evidence.${past}: end ${finding.evidence[past]!.end} is past the end of the text of ${subject!.field} the rule was given (${subject!.text.length} characters): give offsets into subject.text (evidenceSpan(subject, start, end)); the engine shifts them into the field`;
  return finding.evidence.length > MAX_FINDING_EVIDENCE ? trimEvidence(finding) : finding;
}

/** A finding with its first MAX_FINDING_EVIDENCE evidence spans, its reason noting how many more there were. */
function trimEvidence(f: Finding): Finding {
  const left = f.evidence.length - MAX_FINDING_EVIDENCE;
  const note = ` (${left.toLocaleString('en-US')} more evidence span${left === 1 ? '' : 's'} left out: a finding keeps at most ${MAX_FINDING_EVIDENCE})`;
  return { ...f, reason: withNote(f.reason, note), evidence: f.evidence.slice(0, MAX_FINDING_EVIDENCE) };
}

/** `reason` with `note` appended, kept whole within a flag's 2,048 characters: a reason at the limit gives way to it (cut with `…`). */
function withNote(reason: string, note: string): string {
  if (reason.length + note.length > MAX_REASON_LENGTH) {
    let cut = MAX_REASON_LENGTH - note.length - 1;
    // Never half a surrogate pair (it could not be stored).
    if (/[\uD800-\uDBFF]/.test(reason[cut - 1]!)) cut--;
    reason = `${reason.slice(0, cut)}…`;
  }
  return `${reason}${note}`;
}

/**
 * The subject a rule call was given: its evidence in this field must lie inside this text (offsets
 * into subject.text; the engine shifts them by the window's offset, or maps a derived view's back).
 */
type SpanSubject = Pick<RuleSubject, 'field' | 'text'>;

/** The keys of a finding and of its evidence (the Finding and Evidence schemas). */
const FINDING_KEYS: ReadonlySet<string> = new Set(Object.keys(FindingSchema.shape));
const EVIDENCE_KEYS: ReadonlySet<string> = new Set(Object.keys(EvidenceSchema.shape));
/** Whether `x` has only keys of `known` (a for…in: no array of keys made per finding). */
function onlyKeys(x: object, known: ReadonlySet<string>): boolean {
  for (const key in x) if (!known.has(key)) return false;
  return true;
}

/**
 * Whether `f` is a finding the engine may use as it is: valid, with no key the Finding (or Evidence)
 * schema lacks. A finding with other keys goes through the schema (checkFinding), which drops them,
 * so the verdict holds what the flag made of it holds.
 */
function isValidFinding(f: unknown, ruleId: string | undefined, subject?: SpanSubject): f is Finding {
  if (typeof f !== 'object' || f === null || !onlyKeys(f, FINDING_KEYS)) return false;
  const x = f as Record<string, unknown>;
  if (ruleId === undefined ? ruleIdProblem(x.ruleId) !== undefined : x.ruleId !== ruleId) return false;
  if (!KINDS.has(x.kind as string) || typeof x.reason !== 'string' || x.reason.length === 0 || x.reason.length > MAX_REASON_LENGTH) return false;
  const s = x.severity;
  if (!Number.isInteger(s) || (s as number) < 1 || (s as number) > 10) return false;
  const c = x.confidence;
  if (c !== undefined && !(typeof c === 'number' && c >= 0 && c <= 1)) return false;
  const evidence = x.evidence;
  // More spans than a finding keeps: checkFinding trims them (and notes it in the reason).
  if (!Array.isArray(evidence) || evidence.length > MAX_FINDING_EVIDENCE) return false;
  for (const e of evidence as Record<string, unknown>[]) {
    if (typeof e !== 'object' || e === null || !onlyKeys(e, EVIDENCE_KEYS) || typeof e.field !== 'string' || typeof e.excerpt !== 'string' || e.excerpt.length > 512) return false;
    if (!Number.isInteger(e.start) || !Number.isInteger(e.end) || (e.start as number) < 0 || (e.start as number) > (e.end as number)) return false;
    if (subject && e.field === subject.field && (e.end as number) > subject.text.length) return false;
  }
  return true;
}

/**
 * Checks what a rule returned (or, ruleId undefined, a governInput/governOutput tap): an array of
 * valid findings, else LIMIT_RULE_INVALID naming the source and the field. Runs per rule call: the
 * messages are built only on failure.
 */
function checkFindings(result: unknown, ruleId: string | undefined, origin?: RuleOrigin, subject?: SpanSubject): Finding[] {
  if (!Array.isArray(result)) throw invalidResult(ruleId, `returned ${describe(result)} instead of an array of findings`, {}, origin);
  let out: Finding[] = result;
  for (let i = 0; i < result.length; i++) {
    const f: unknown = result[i];
    if (isValidFinding(f, ruleId, subject)) continue;
    const checked = checkFinding(f, ruleId, subject);
    if (typeof checked === 'string') throw invalidResult(ruleId, `returned an invalid finding: findings[${i}].${checked}`, { index: i }, origin);
    if (out === result) out = [...result];
    out[i] = checked;
  }
  return out;
}

/**
 * A finding's value as a key: its Finding fields only, in a fixed order (a copy with keys the schema
 * lacks, or its keys in another order, is the same finding: the check would drop those keys).
 */
function findingKey(f: Record<string, unknown>): string {
  const evidence = Array.isArray(f.evidence)
    ? f.evidence.map((e: unknown) => (typeof e === 'object' && e !== null ? [(e as Evidence).field, (e as Evidence).start, (e as Evidence).end, (e as Evidence).excerpt] : e))
    : f.evidence;
  return JSON.stringify([f.ruleId, f.kind, f.severity, f.reason, f.confidence ?? null, evidence]);
}

/**
 * Whether an element of a governInput/governOutput tap's result is one of the findings it was
 * `given`: the object itself, or a copy of one equal by value (findingKey) — a tap that hands on
 * copies (`findings.map((f) => ({ ...f }))`, a JSON round trip through a service) hands on the same
 * findings, the engine's own governance.unscanned and governance.unchecked among them, which are
 * neither checked again nor refused for their reserved ruleId. A changed copy is not one of them.
 * The keys of the given findings are made only when the result holds an object that is not one.
 */
export function givenFindings(given: readonly unknown[]): (f: unknown) => boolean {
  const same = new Set<unknown>(given);
  let byValue: Set<string> | undefined;
  return (f) => {
    if (same.has(f)) return true;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return false;
    byValue ??= new Set(given.map((g) => findingKey(g as Record<string, unknown>)));
    return byValue.has(findingKey(f as Record<string, unknown>));
  };
}

/** The governInput/governOutput tap a result came from, for its errors (the service knows it; an engine's `extra` has none). */
export interface TapSource {
  plugin: string;
  hook: 'governInput' | 'governOutput';
}

/**
 * What a governInput/governOutput tap result adds: its findings other than the `given` ones (the
 * frozen findings it was handed, or copies of them: givenFindings; the engine keeps those and does
 * not check them again — they include the engine's own governance.* findings), each checked as
 * checkFindings checks one. A problem is LIMIT_RULE_INVALID naming the tap's plugin and hook
 * (`tap`, when known) and the index in this result; a result that throws when read, unreadableResult.
 * The service checks each tap's result as it returns it; the engine checks what `extra` returns.
 */
export function tapAdditions(result: unknown, given: readonly unknown[], tap?: TapSource): Finding[] {
  if (!Array.isArray(result)) throw invalidResult(undefined, `returned ${describe(result)} instead of an array of findings`, {}, undefined, tap);
  try {
    const added: Finding[] = [];
    const isGiven = givenFindings(given);
    for (let i = 0; i < result.length; i++) {
      const f: unknown = result[i];
      if (isGiven(f)) continue;
      if (isValidFinding(f, undefined)) {
        added.push(f);
        continue;
      }
      const checked = checkFinding(f, undefined);
      if (typeof checked === 'string') throw invalidResult(undefined, `returned an invalid finding: findings[${i}].${checked}`, { index: i }, undefined, tap);
      added.push(checked);
    }
    return added;
  } catch (error) {
    // A result that throws when read (a getter, a Proxy): said as the tap's, naming its plugin.
    throw isLimitError(error) ? error : unreadableResult(undefined, error, undefined, tap?.plugin);
  }
}

/** Two rules with one id: both are named, with the packs (and plugins) they come from. */
function duplicateRule(id: string, origins: RuleOrigin[], index: number): LimitError {
  const named = origins.map((o) => `${o.where}${o.plugin ? ` (plugin ${o.plugin})` : ''}`);
  return new LimitError('LIMIT_RULE_INVALID', `Two governance rules share the id "${id}": ${named.join(' and ')}`, {
    details: { rule: id, index, sources: origins },
    fix: `Give every rule a unique id (prefix it with its pack name); to keep only one, leave the other out with its pack's disable option (disable: ['${id}']) or remove its pack's plugin.`,
  });
}

/**
 * A deep copy of plain data (objects, arrays) with every level frozen, sharing the primitives
 * (strings are not copied). Rules, judges and governInput/governOutput taps get their inputs as
 * such copies: a rule cannot change the trace, policy or findings that later rules, the decision or
 * storage see. Other objects (a Date, a class instance) are kept as they are.
 */
export function frozenCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = frozenCopy(value[i]);
    return Object.freeze(out) as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) out[key] = frozenCopy((value as Record<string, unknown>)[key]);
  return Object.freeze(out) as T;
}

/**
 * Whether a thrown value is the TypeError strict-mode code gets for writing to a frozen object
 * (assigning, adding or deleting a property, push/sort on a frozen array): a write to the rule's
 * read-only inputs. A LimitError from a hook tap is looked at through its cause.
 */
function isReadOnlyWrite(error: unknown): boolean {
  const e = error instanceof LimitError && error.cause !== undefined ? error.cause : error;
  return e instanceof TypeError && /read only property|object is not extensible|Cannot delete property|Cannot redefine property/.test(e.message);
}

/** What a rule (or a hook tap) gets read-only, as its error names it. */
const READ_ONLY_INPUTS = 'the subject (its text, trace, views and view), ctx.policy, ctx.reviewBand and ctx.findings are frozen';

/**
 * A rule whose evaluate threw (or rejected): a crash while it ran, not a malformed rule. The message
 * names the rule, its pack and the field it was reading; the thrown value is the cause. A write to
 * the rule's frozen inputs is worded as such (`rule inputs are read-only`, details.wroteReadOnlyInput).
 * The rule-pack conformance suite words a rule's throw with it too, so a pack fails there as it would here.
 */
export function ruleThrew(id: string, field: string, error: unknown, origin: RuleOrigin | undefined): LimitError {
  const from = origin ? ` (${origin.where})` : '';
  if (isReadOnlyWrite(error)) {
    return new LimitError('LIMIT_RULE_INVALID', `Governance rule "${id}"${from} wrote to its inputs on field ${field}: rule inputs are read-only (${READ_ONLY_INPUTS}): ${describeThrown(error)}`, {
      cause: error,
      ...(origin?.plugin ? { plugin: origin.plugin } : {}),
      details: { rule: id, field, wroteReadOnlyInput: true },
      fix: `A rule must not change what it reads (later rules, the decision and storage read the same trace, policy and findings): copy what you need to change ({ ...obj }, [...list], structuredClone) and change the copy, ${origin?.inline
        ? `in the rule where you wrote it (${origin.where})`
        : `in the rule${origin?.plugin ? ` of the plugin ${origin.plugin}` : ''}`}.`,
    });
  }
  return new LimitError('LIMIT_RULE_INVALID', `Governance rule "${id}"${from} threw on field ${field}: ${describeThrown(error)}`, {
    cause: error,
    ...(origin?.plugin ? { plugin: origin.plugin } : {}),
    details: { rule: id, field },
    fix: `The rule's evaluate threw while reading ${field}${error instanceof Error ? ' (the cause has its stack)' : ''}: ${origin?.inline
      ? `fix the rule where you wrote it (${origin.where}), or leave it out of plugins.governance.rules`
      : `fix the rule${origin?.plugin ? ` in the plugin ${origin.plugin}` : ''}, or leave it out${origin?.plugin ? ` with that pack's disable option (disable: ['${id}'])` : ''}`} until it is fixed.`,
  });
}

/** A governInput/governOutput tap that wrote to the frozen trace it was given. */
function tapWroteInput(error: unknown): LimitError {
  const plugin = error instanceof LimitError ? error.plugin : undefined;
  return new LimitError('LIMIT_RULE_INVALID', `A governInput/governOutput hook tap${plugin ? ` of plugin "${plugin}"` : ''} wrote to the trace or findings it was given: rule inputs are read-only (the tap's trace and findings are frozen, as a rule's inputs are): ${describeThrown(error instanceof LimitError && error.cause !== undefined ? error.cause : error)}`, {
    cause: error,
    ...(plugin ? { plugin } : {}),
    details: { wroteReadOnlyInput: true },
    fix: 'Return the findings with yours added ([...findings, yours]) and leave the trace and findings as they are; to change a value, copy it ({ ...trace }, structuredClone) and change the copy.',
  });
}

/** LIMIT_RULE_INVALID for what a rule (ruleId) or a governInput/governOutput tap (undefined; `tap` when known) returned. */
function invalidResult(ruleId: string | undefined, what: string, details: Record<string, unknown> = {}, origin?: RuleOrigin, tap?: TapSource): LimitError {
  const source = ruleId === undefined ? `A governInput/governOutput hook tap${tap ? ` of plugin "${tap.plugin}"` : ''}` : `Governance rule "${ruleId}"${origin ? ` (${origin.where})` : ''}`;
  const plugin = tap?.plugin ?? origin?.plugin;
  return new LimitError('LIMIT_RULE_INVALID', `${source} ${what}`, {
    ...(plugin ? { plugin } : {}),
    ...(tap ? { hook: tap.hook } : {}),
    details: { ...(ruleId === undefined ? {} : { rule: ruleId }), ...(tap ? { plugin: tap.plugin } : {}), ...details },
    fix: `Return an array of findings { ruleId${ruleId === undefined ? '' : ` (${JSON.stringify(ruleId)})`}, kind (${FLAG_KINDS.join(', ')}), severity (integer 1–10), reason, evidence [{ field, start ≤ end, excerpt }], confidence? (0–1) } ([] when nothing is found).`,
  });
}

/**
 * A rule (ruleId) or a governInput/governOutput tap (undefined; `plugin` when known) whose result
 * threw while the engine read it — a getter that throws, a Proxy: LIMIT_RULE_INVALID naming it,
 * the thrown value as the cause, rather than that bare error.
 */
export function unreadableResult(ruleId: string | undefined, error: unknown, origin?: RuleOrigin, plugin?: string): LimitError {
  const source = ruleId === undefined ? `A governInput/governOutput hook tap${plugin ? ` of plugin "${plugin}"` : ''}` : `Governance rule "${ruleId}"${origin ? ` (${origin.where})` : ''}`;
  const by = plugin ?? origin?.plugin;
  return new LimitError('LIMIT_RULE_INVALID', `${source} returned findings that throw when read: ${describeThrown(error)}`, {
    cause: error,
    ...(by ? { plugin: by } : {}),
    details: { ...(ruleId === undefined ? {} : { rule: ruleId }), unreadable: true },
    fix: 'Return a plain array of plain finding objects (no getters that throw, no Proxy): { ruleId, kind, severity, reason, evidence } ([] when nothing is found).',
  });
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `a string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value} (${String(value)})`;
}

/** The texts of a trace that a surface covers, with the field names used in evidence. */
export function surfaceFields(trace: Trace, surface: Surface): { field: string; text: string }[] {
  switch (surface) {
    case 'input': {
      const fields = [{ field: 'task.input', text: trace.task.input }];
      for (const [name, content] of Object.entries(trace.task.files ?? {})) fields.push({ field: `task.files:${name}`, text: content });
      // Arguments and environment reach the task as well as its input does ("exec(os.environ['P'])").
      if (trace.task.args?.length) fields.push({ field: 'task.args', text: trace.task.args.join(' ') });
      for (const [name, value] of Object.entries(trace.task.env ?? {})) fields.push({ field: `task.env:${name}`, text: value });
      return fields;
    }
    case 'output': {
      const out = trace.output;
      if (!out) return [];
      // Every part of the output a caller reads: a value or an error message can carry what stdout does.
      const value = out.value === undefined ? '' : typeof out.value === 'string' ? out.value : JSON.stringify(out.value) ?? '';
      return [
        { field: 'output.stdout', text: out.stdout }, { field: 'output.stderr', text: out.stderr },
        { field: 'output.value', text: value }, { field: 'output.error', text: out.error?.message ?? '' },
      ].filter((f) => f.text.length > 0);
    }
    case 'tool':
      return (trace.task.toolOutputs ?? []).map((t) => ({ field: `tool:${t.name}`, text: t.content }));
  }
}

let stampMs = -1;
let stampIso = '';
/** The current time as ISO text, formatted once per millisecond (checks run thousands per second). */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== stampMs) {
    stampMs = ms;
    stampIso = new Date(ms).toISOString();
  }
  return stampIso;
}

/** A trace for evaluating a bare text (CLI check, eval): the text is placed on the chosen surface. */
export function textTrace(text: string, surface: Surface): Trace {
  const now = nowIso();
  return {
    id: 'check', sessionId: 'check', tenant: 'check', parentIds: [], runner: 'check',
    // kind "external": a text of unknown origin, so code-only rules (HighRisk) still look at it.
    task: surface === 'tool' ? { input: '', kind: 'external', toolOutputs: [{ name: 'document', content: text }] } : { input: surface === 'input' ? text : '', kind: 'external' },
    ...(surface === 'output' ? { output: { ok: true, stdout: text, stderr: '' } } : {}),
    status: 'running', flags: [], createdAt: now, metadata: {},
  };
}

export class GovernanceEngine {
  readonly preset: GovernancePreset;
  readonly policy: GovernancePolicy;
  readonly #scan: Map<Surface, GovernanceRule[]>;
  readonly #judge: Map<Surface, GovernanceRule[]>;
  readonly #options: EngineOptions;
  /** Each rule's origin (options.origins by position; a rule object is listed once, as ids are unique). */
  readonly #origins = new Map<GovernanceRule, RuleOrigin>();

  constructor(options: EngineOptions) {
    this.#options = options;
    const malformed = presetProblem(options.preset);
    if (malformed) throw malformed;
    // The engine's own frozen copy: rules get it as ctx.policy / ctx.reviewBand, and neither a rule
    // nor the caller's later change to its preset object changes what the engine decides by.
    this.preset = frozenCopy(options.preset);
    this.policy = this.preset.policy;
    // The plugin refuses such a policy among its options; this covers direct use (same check, same words).
    const policyProblem = anomalyPolicyProblem(this.policy);
    if (policyProblem) {
      throw new LimitError('LIMIT_VALIDATION', `GovernanceEngine: preset "${this.preset.name}": policy.maxAnomalySeverity ${policyProblem}`, {
        details: { field: 'preset.policy.maxAnomalySeverity', blockAnomalyTraces: this.policy.blockAnomalyTraces, maxAnomalySeverity: this.policy.maxAnomalySeverity },
        fix: `Pass a preset whose policy has maxAnomalySeverity below ${MAX_SEVERITY}, or blockAnomalyTraces: false.`,
      });
    }
    const ids = new Map<string, number>();
    // The plugin validates with better names (the pack, the config path); this covers direct use.
    options.rules.forEach((rule, i) => validateRule(rule, `rules[${i}]`));
    // The plugin refuses such a band at start-up (naming the option); this covers direct use.
    const band = reviewBandProblem(this.preset, bandJudges(options.rules));
    if (band) {
      throw new LimitError('LIMIT_VALIDATION', `GovernanceEngine: preset "${this.preset.name}": reviewBand ${band.message}`, {
        details: { field: 'preset.reviewBand', reviewBand: this.preset.reviewBand, autoQuarantine: this.policy.autoQuarantine, quarantineSeverity: this.policy.quarantineSeverity },
        fix: band.fix,
      });
    }
    const originAt = (i: number): RuleOrigin => options.origins?.[i] ?? { where: `rules[${i}]` };
    options.rules.forEach((rule, i) => {
      const first = ids.get(rule.id);
      if (first !== undefined) throw duplicateRule(rule.id, [originAt(first), originAt(i)], i);
      ids.set(rule.id, i);
      const origin = options.origins?.[i];
      if (origin) this.#origins.set(rule, origin);
    });
    const bySurface = (phase: 'scan' | 'judge') =>
      new Map((['input', 'output', 'tool'] as const).map((s) => [s, options.rules.filter((r) => (r.phase ?? 'scan') === phase && r.surfaces.includes(s))]));
    this.#scan = bySurface('scan');
    this.#judge = bySurface('judge');
  }

  get rules(): readonly GovernanceRule[] {
    return this.#options.rules;
  }

  /**
   * The subjects of a surface: each field, as overlapping windows when it is long; frozen as rules
   * get them (the subject, its views, and one deep-frozen copy of `trace`, made with frozenCopy).
   */
  subjects(trace: Trace, surface: Surface): RuleSubject[] {
    return this.#plan(frozenCopy(trace), surface).subjects;
  }

  /**
   * A field up to maxScanChars long is scanned whole, in windows of scanWindowChars that overlap by
   * scanOverlapChars; a longer one as its first and last maxScanChars/2 (attacks sit at the ends of
   * long documents far more often than in the middle, and the cost stays bounded), its middle
   * becoming a gap the verdict reports. Building a subject's views (normalising and decoding it) is
   * timed like a rule call: past ruleBudgetMs it is reported in `overBudget` as `governance.views`.
   * `trace` is the evaluation's frozen copy. Every subject is frozen, and so are its views (built and
   * frozen once, in buildViews); `viewSubjects` holds, per subject, the frozen subject of each of its
   * views that rules are called with — built once per evaluation and shared by both phases.
   */
  #plan(trace: Trace, surface: Surface, overBudget?: Set<string>): { subjects: RuleSubject[]; viewSubjects: ViewSubject[][]; gaps: ScanGap[] } {
    const { maxScanChars: cap, scanWindowChars: window = 65_536, scanOverlapChars: overlap = 2_048, ruleBudgetMs: budget } = this.#options;
    const subjects: RuleSubject[] = [];
    const viewSubjects: ViewSubject[][] = [];
    const gaps: ScanGap[] = [];
    const scan = (field: string, text: string, from: number, to: number) => {
      for (let start = from; ; start = Math.max(start + 1, start + window - overlap)) {
        const end = Math.min(start + window, to);
        const piece = start === 0 && end === text.length ? text : text.slice(start, end);
        const started = performance.now();
        const views = buildViews(piece);
        if (overBudget && performance.now() - started > budget) overBudget.add(VIEWS_ID);
        subjects.push(Object.freeze({ surface, field, text: piece, trace, views, offset: start }));
        // One subject per view, shared by every rule. A derived view's rules give spans of its
        // text (field `<field>#<view>`); fromView points them back at the field.
        const perView: ViewSubject[] = new Array(views.length);
        for (let v = 0; v < views.length; v++) {
          const view = views[v]!;
          perView[v] = Object.freeze({ surface, field: v === 0 ? field : `${field}#${view.name}`, text: view.text, trace, views, view, offset: v === 0 ? start : 0 });
        }
        viewSubjects.push(perView);
        if (end === to) break;
      }
    };
    for (const { field, text } of surfaceFields(trace, surface)) {
      if (text.length <= cap) scan(field, text, 0, text.length);
      else {
        const half = Math.floor(cap / 2);
        scan(field, text, 0, half);
        scan(field, text, text.length - half, text.length);
        gaps.push({ field, start: half, end: text.length - half, length: text.length });
      }
    }
    return { subjects, viewSubjects, gaps };
  }

  /**
   * Runs the scan rules (then the judge rules) on every subject of the surface; `extra` lets the
   * service add findings from the governInput/governOutput hooks before the decision. Rules and
   * `extra` read one deep-frozen copy of `trace` (extra gets it as its second argument, to hand to
   * the taps); a write to it is refused as LIMIT_RULE_INVALID (details.wroteReadOnlyInput).
   * `extra` only adds: it gets the findings as a frozen copy, and a finding missing from its result
   * is kept (what it returns besides the given findings are its additions).
   */
  evaluate(trace: Trace, surface: Surface, extra?: (findings: Finding[], trace: Trace) => Promise<Finding[]>, options: EvaluateOptions = {}): Promise<GovernanceVerdict> {
    return this.#evaluate(trace, surface, extra, options, undefined);
  }

  async #evaluate(trace: Trace, surface: Surface, extra: ((findings: Finding[], trace: Trace) => Promise<Finding[]>) | undefined, options: EvaluateOptions, bareText: true | undefined): Promise<GovernanceVerdict> {
    const { signal } = options;
    signal?.throwIfAborted();
    const overBudget = new Set<string>();
    const cut = new Set<string>();
    // One deep-frozen copy per evaluation (not per rule call), read by every rule and hook tap; the
    // caller's trace is left as it is.
    const frozen = frozenCopy(trace);
    const { viewSubjects: subjects, gaps } = this.#plan(frozen, surface, overBudget);
    const unstoredTrace = options.unstoredTrace === true || undefined;
    let findings = await this.#run(this.#scan.get(surface)!, subjects, { unstoredTrace, bareText }, this.#options.ruleBudgetMs, overBudget, cut, signal);
    // Never a silent pass: what was not read (or not checked: a rule cut at its budget) is said,
    // and the policy decides what that is worth.
    const unread = this.#options.unscannedSeverity ?? 5;
    for (const gap of gaps) findings.push(unscannedFinding(gap, this.#options.maxScanChars, unread));
    const scanCut = { ruleIds: [...cut], option: 'ruleBudgetMs', budgetMs: this.#options.ruleBudgetMs } as const;
    const scanUnchecked = cut.size ? uncheckedFinding([scanCut], unread) : undefined;
    if (scanUnchecked) findings.push(scanUnchecked);
    if (extra) {
      // A tap that gave up because the caller did (its context.signal aborted) ends the evaluation
      // with the caller's reason, as a rule does — not as the tap's failure.
      // The taps *add* findings: they get the findings frozen, and the result is read as additions —
      // a finding left out of it is kept (before, a tap returning `[own]` dropped every rule
      // finding, and a block became an allow), a changed copy is one more finding (merged below).
      const given = frozenCopy(findings);
      const result = await extra(given, frozen).catch((error: unknown) => {
        if (signal?.aborted) throw signal.reason;
        throw isReadOnlyWrite(error) ? tapWroteInput(error) : error;
      });
      // The service has checked each tap's result (naming its plugin); another `extra` is checked here.
      const added = tapAdditions(result, given);
      // Kept one per rule, kind and field like the rules' own findings (before, only the judge phase
      // merged them: a tap's findings were one flag or several depending on whether a judge was loaded).
      findings = mergeFindings([...findings, ...added]);
    }
    signal?.throwIfAborted();
    const judges = this.#judge.get(surface)!;
    if (judges.length > 0) {
      const judgeBudget = this.#options.judgeBudgetMs ?? DEFAULT_JUDGE_BUDGET_MS;
      const judgeCut = new Set<string>();
      // Judges read the findings frozen (one copy per evaluation); the verdict keeps its own.
      const judged = await this.#run(judges, subjects, { findings: frozenCopy(findings), unstoredTrace, bareText }, judgeBudget, overBudget, judgeCut, signal);
      // A judge that never answers is said as a scan rule cut at its budget is, never waited on forever;
      // with scan rules cut too, the one finding names both (two would merge into the first alone).
      if (judgeCut.size) {
        const judgeCutAt = { ruleIds: [...judgeCut], option: 'judgeBudgetMs', budgetMs: judgeBudget } as const;
        if (scanUnchecked) findings = findings.filter((f) => f.ruleId !== UNCHECKED_ID);
        judged.push(uncheckedFinding(scanUnchecked ? [scanCut, judgeCutAt] : [judgeCutAt], unread));
      }
      findings = mergeFindings([...findings, ...judged]);
    }
    // The noise floor is for rule findings: what was not read or not checked is always said.
    const floor = this.#options.minSeverity;
    findings = findings.filter((f) => f.severity >= floor || f.ruleId === UNSCANNED_ID || f.ruleId === UNCHECKED_ID);
    // Built field by field: spreading the decision into the verdict was a slow object clone.
    const { decision, reasons, maxSeverity } = this.decide(findings);
    const verdict: GovernanceVerdict = { decision, reasons, maxSeverity, findings };
    if (overBudget.size) verdict.overBudget = [...overBudget];
    // An evaluation aborted while its last (synchronous) rules ran gives no verdict either.
    signal?.throwIfAborted();
    return verdict;
  }

  /**
   * Evaluates a bare text placed on a surface; rules get `ctx.bareText` (no baseline takes it).
   * `extra` adds findings as evaluate's does: the governance service and the CLI pass the
   * governInput/governOutput taps (governTaps), so a check decides as the pipeline would.
   */
  check(text: string, surface: Surface = 'input', options: EvaluateOptions = {}, extra?: (findings: Finding[], trace: Trace) => Promise<Finding[]>): Promise<GovernanceVerdict> {
    return this.#evaluate(textTrace(text, surface), surface, extra, options, true);
  }

  /**
   * `overBudget` collects the rules that ran past the budget, `cut` those of them whose findings were lost (async, cut off).
   * Rules get `ctx.signal`: one controller serves the calls of this phase (calls run one after
   * another, and a synchronous call cannot be cut, so it costs one controller per phase), aborted
   * when the call in flight is cut at its budget — and then replaced, so the calls after it get a
   * live signal — or when the caller's `signal` aborts, which also ends the evaluation with its reason.
   */
  async #run(rules: readonly GovernanceRule[], subjects: readonly ViewSubject[][], extraCtx: Partial<RuleContext>, budget: number, overBudget: Set<string>, cut: Set<string>, caller?: AbortSignal): Promise<Finding[]> {
    if (rules.length === 0 || subjects.length === 0) return [];
    let controller = new AbortController();
    const onAbort = caller && (() => controller.abort(caller.reason));
    if (onAbort) caller!.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#calls(rules, subjects, extraCtx, budget, overBudget, cut, caller, () => controller.signal, (ruleId) => {
        controller.abort(new DOMException(`rule ${ruleId} was cut at its time budget (${budget} ms)`, 'TimeoutError'));
        controller = new AbortController();
      });
    } finally {
      if (onAbort) caller!.removeEventListener('abort', onAbort);
    }
  }

  /** #run's loop; `signal()` is the signal of the next call, `cutCall()` aborts it (the call in flight was cut). */
  async #calls(
    rules: readonly GovernanceRule[], subjects: readonly ViewSubject[][], extraCtx: Partial<RuleContext>, budget: number, overBudget: Set<string>, cut: Set<string>,
    caller: AbortSignal | undefined, signal: () => AbortSignal, cutCall: (ruleId: string) => void,
  ): Promise<Finding[]> {
    const all: Finding[] = [];
    const band = this.preset.reviewBand;
    const policy = this.policy;
    const blockSeverity = this.preset.blockSeverity;
    const reviewBand = band ?? undefined;
    const findings = extraCtx.findings;
    const unstoredTrace = extraCtx.unstoredTrace;
    const bareText = extraCtx.bareText;
    // One clock read per rule call: a call starts when the previous one ended (the loop between
    // them costs nanoseconds), which halves the timer reads of an evaluation.
    let clock = performance.now();
    // One frozen subject per view, built in #plan and shared by every rule of both phases.
    for (const viewSubjects of subjects) {
      for (const rule of rules) {
        // A rule cut at its budget is not called again in this phase: its check is already reported
        // as not done, and a rule that hangs would otherwise cost its whole budget once per field,
        // window and view (a trace of many fields waited minutes on one stalled lookup).
        if (cut.has(rule.id)) continue;
        for (let v = 0; v < viewSubjects.length; v++) {
          const viewSubject = viewSubjects[v]!;
          const started = clock;
          // A literal with a fixed shape: spreading a shared base context per call cost more than
          // most rules (it was 13% of an evaluation).
          const ctx: RuleContext = { policy, budgetMs: budget, signal: signal(), deadline: started + budget, blockSeverity, reviewBand, findings, unstoredTrace, bareText };
          let result: unknown;
          try {
            result = rule.evaluate(viewSubject, ctx);
            // Judge rules wait on a model: their budget is judgeBudgetMs, and a judge that keeps its own
            // (fail-closed) timeout keeps it inside ctx.deadline (the LLM judge does).
            if (result instanceof Promise) result = await withBudget(result as Promise<unknown>, budget, rule.id, caller);
          } catch (error) {
            if (error instanceof BudgetExceeded) {
              // The cut call is told to stop (its model request cancelled), not left working unseen.
              cutCall(rule.id);
              overBudget.add(rule.id);
              cut.add(rule.id);
              clock = performance.now();
              break;
            }
            // The caller gave up (its signal aborted): the evaluation ends with its reason, as
            // documented — not as a rule that threw (LIMIT_RULE_INVALID), whatever the rule did with its aborted ctx.signal.
            if (caller?.aborted) throw caller.reason;
            throw ruleThrew(rule.id, viewSubject.field, error, this.#origins.get(rule));
          }
          clock = performance.now();
          if (clock - started > budget) overBudget.add(rule.id);
          // An invalid result is the rule's error, as a throw is: never dropped, never read as no finding.
          // Reading it may throw too (a getter, a Proxy): that is said as the rule's, naming it.
          let checked: Finding[];
          try {
            checked = Array.isArray(result) && result.length === 0 ? result : checkFindings(result, rule.id, this.#origins.get(rule), viewSubject);
          } catch (error) {
            throw isLimitError(error) ? error : unreadableResult(rule.id, error, this.#origins.get(rule));
          }
          for (const f of checked) all.push(v === 0 ? shift(f, viewSubject.offset, undefined) : fromView(f, viewSubjects[0]!, viewSubject));
        }
      }
    }
    return all.length ? mergeFindings(all) : all;
  }

  /** Applies the policy and the preset's thresholds to findings. */
  decide(findings: readonly Finding[]): { decision: Decision; reasons: string[]; maxSeverity: number } {
    const p = this.policy;
    const block = this.preset.blockSeverity;
    const max = (kind?: Finding['kind']) => findings.reduce((m, f) => (kind === undefined || f.kind === kind ? Math.max(m, f.severity) : m), 0);
    const maxSeverity = max();
    const blocks: string[] = [];
    for (const [kind, field] of Object.entries(FLAG_KINDS_BLOCKING) as [Finding['kind'], keyof GovernancePolicy][]) {
      const s = max(kind);
      if (p[field] && s >= block) blocks.push(`${field}: ${kind} severity ${s} ≥ blockSeverity ${block}`);
    }
    const anomaly = max('Anomaly');
    if (p.blockAnomalyTraces && anomaly > p.maxAnomalySeverity) blocks.push(`blockAnomalyTraces: Anomaly severity ${anomaly} > maxAnomalySeverity ${p.maxAnomalySeverity}`);
    if (blocks.length) return { decision: 'block', reasons: blocks, maxSeverity };
    if (p.autoQuarantine && maxSeverity >= p.quarantineSeverity) {
      return { decision: 'quarantine', reasons: [`autoQuarantine: severity ${maxSeverity} ≥ quarantineSeverity ${p.quarantineSeverity}`], maxSeverity };
    }
    const band = this.preset.reviewBand;
    if (band && maxSeverity >= band[0]) {
      // Above the band (no block or quarantine applied: their switches are off or their thresholds
      // higher) it is still a review, as documented; the reason must not call it "in" the band.
      const where = maxSeverity <= band[1] ? `in the uncertain band ${band[0]}–${band[1]}` : `above the uncertain band ${band[0]}–${band[1]}, and no block or quarantine applies`;
      return { decision: 'review', reasons: [`reviewBand: severity ${maxSeverity} ${where}`], maxSeverity };
    }
    return { decision: 'allow', reasons: [], maxSeverity };
  }
}

class BudgetExceeded extends Error {}

/** `promise`, or BudgetExceeded after `ms`, or the caller's abort reason when `caller` aborts first. */
function withBudget<T>(promise: Promise<T>, ms: number, ruleId: string, caller?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceeded(ruleId)), ms);
    if (caller) {
      onAbort = () => reject(caller.reason);
      if (caller.aborted) onAbort();
      else caller.addEventListener('abort', onAbort, { once: true });
    }
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) caller!.removeEventListener('abort', onAbort);
  });
}

/** The Unverified finding for the middle of a field longer than maxScanChars. */
function unscannedFinding(gap: ScanGap, cap: number, severity: number): Finding {
  return {
    ruleId: UNSCANNED_ID, kind: 'Unverified', severity,
    reason: `${gap.field} is ${gap.length} characters long: characters ${gap.start}–${gap.end} were not scanned (maxScanChars ${cap})`,
    evidence: [{ field: gap.field, start: gap.start, end: gap.end, excerpt: '' }],
  };
}

/**
 * The Unverified finding for the async rules cut at their budget: what they check was not checked.
 * One finding names them all, scan rules and judges with their budgets (findings are kept one per
 * rule id and field, and this one has no field).
 */
function uncheckedFinding(cuts: readonly { ruleIds: readonly string[]; option: 'ruleBudgetMs' | 'judgeBudgetMs'; budgetMs: number }[], severity: number): Finding {
  const count = cuts.reduce((n, c) => n + c.ruleIds.length, 0);
  const named = cuts.map(({ ruleIds, option, budgetMs }) =>
    `${ruleIds.length === 1 ? `rule ${ruleIds[0]}` : `rules ${ruleIds.join(', ')}`} did not finish within ${option} (${budgetMs} ms)`).join('; ');
  return {
    ruleId: UNCHECKED_ID, kind: 'Unverified', severity,
    reason: `${named}: what ${count === 1 ? 'it checks' : 'they check'} was not checked`.slice(0, MAX_REASON_LENGTH),
    evidence: [],
  };
}

/**
 * A finding of a derived view with its evidence in that view (field `<field>#<view>`, spans of the
 * view's text) pointed back at the field: the span of the raw text it was read from (TextView.sourceSpan),
 * shifted by the window's offset, the excerpt cut from the raw text there; other evidence (carried
 * from other findings) is kept as it is. The reason notes the view.
 */
function fromView(f: Finding, raw: ViewSubject, derived: ViewSubject): Finding {
  const evidence = f.evidence.map((e) => {
    if (e.field !== derived.field) return e;
    // Clamped to the text the views were built from: raw.text (buildViews(piece)).
    const span = derived.view.sourceSpan(e.start, e.end);
    const cut = evidenceSpan(raw, span.start, span.end);
    return { ...cut, start: cut.start + raw.offset, end: cut.end + raw.offset };
  });
  return shift({ ...f, evidence }, 0, derived.view.name);
}

function shift(f: Finding, offset: number, viewName: string | undefined): Finding {
  const out = offset === 0 ? f : { ...f, evidence: f.evidence.map((e) => ({ ...e, start: e.start + offset, end: e.end + offset })) };
  // A finding that only appears after normalisation or decoding is itself a sign of obfuscation.
  if (viewName === undefined || out.reason.includes('(after ')) return out;
  return { ...out, reason: withNote(out.reason, ` (after ${viewName})`) };
}

/**
 * One finding per rule, kind and field: the most severe, with the evidence of all (at most MAX_FINDING_EVIDENCE). The
 * kind is part of the key: a rule may name another kind than its `flag` (the classifier and the LLM
 * judge name the class they found), and the policy weighs each kind apart — a Jailbreak 7 merged into
 * the same rule's HighRisk 8 would turn a block into a quarantine, and its flag would be lost.
 */
export function mergeFindings(findings: readonly Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const full = f.evidence[0]?.field ?? '';
    const hash = full.indexOf('#');
    const field = hash < 0 ? full : full.slice(0, hash);
    const key = `${f.ruleId}\u0000${f.kind}\u0000${field}`;
    const prev = byKey.get(key);
    if (!prev) byKey.set(key, f);
    else {
      const [hi, lo] = f.severity > prev.severity ? [f, prev] : [prev, f];
      // Overlapping windows see a match twice: the same span is kept once.
      const evidence = [...hi.evidence];
      for (const e of lo.evidence) {
        if (!evidence.some((x) => x.field === e.field && x.start === e.start && x.end === e.end)) evidence.push(e);
      }
      byKey.set(key, { ...hi, evidence: evidence.slice(0, MAX_FINDING_EVIDENCE) });
    }
  }
  return [...byKey.values()];
}
