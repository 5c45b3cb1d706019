import type {
  Decision, Finding, Flag, FlagKind, GovernancePolicy, MergeRequest, Surface, Trace,
} from '../model/index.ts';
import type { BatchOp } from './storage.ts';

/** A word of a text view: its lower-cased form and its span in the view's text. */
export interface ViewToken {
  w: string;
  start: number;
  end: number;
}

/**
 * What every match of a pattern contains, declared so that a view can tell when the pattern cannot
 * match (`TextView.mayMatch`): a rule then skips its regex scan. Entries are lower case; the pattern
 * may match where any one of them is present.
 *
 * Soundness is the declaring rule's duty. A `words` entry is a run of ASCII letters/digits that
 * every match contains with a non-alphanumeric character (or the text's edge) on both sides — `\b`,
 * `\s`, `.`, `/`, `(` … in the pattern. A `prefixes` entry needs that boundary only before the run
 * (a word of the text starts with it), a `suffixes` entry only after it. `substrings` are for
 * punctuation a match contains (`<!--`, `[`), looked up in the view's `lower` as they are.
 * Views compile each triggers object once, by identity: declare them as module constants.
 */
export interface PatternTriggers {
  /** Two or more of `a-z0-9` each. */
  words: readonly string[];
  /** Two or more of `a-z0-9` each. */
  prefixes?: readonly string[];
  /** Two or more of `a-z0-9` each. */
  suffixes?: readonly string[];
  /**
   * Lower case; for punctuation and other strings that are no whole word (`'<!--'`, `'p.s'`). A view
   * with a character outside ASCII is never gated, so substrings in other scripts are not needed (and
   * are left out when the triggers are compiled).
   */
  substrings?: readonly string[];
}

/**
 * One reading of a subject's text. The engine builds them once per subject so that every rule sees
 * the same normalisation: `raw` (as written), `normalized` (NFKC, zero-width and homoglyph removal,
 * leetspeak folded) and `decoded:<codec>` (base64 / hex / rot13 / Caesar / Morse / Pig Latin payloads found in the
 * text, and ASCII written in invisible Unicode tag characters).
 */
export interface TextView {
  /** `raw`, `normalized`, `decoded:base64`, `decoded:hex`, `decoded:rot13`, `decoded:caesar`, `decoded:morse`, `decoded:piglatin`, `decoded:tags`. */
  name: string;
  text: string;
  /**
   * `text` lower-cased, one UTF-16 unit for each of `text`'s (every view), so a span found in
   * `lower` is the same span of `text`: a character whose lower case is longer keeps its first unit
   * ("İ" → "i", where `toLowerCase` gives "i" + U+0307).
   */
  lower: string;
  /** Words of `lower` in order, letters/digits/apostrophes only. */
  tokens: readonly ViewToken[];
  /** True when `text` holds ASCII characters only (worked out once per view, shared by every rule). */
  readonly ascii: boolean;
  /**
   * Pairs where a word of `a` is followed (or preceded, when `ordered` is false) by a word of `b`
   * within `window` words: the cheap, backtracking-free way to match "verb near target".
   */
  near(a: ReadonlySet<string>, b: ReadonlySet<string>, window: number, ordered?: boolean): { start: number; end: number }[];
  /**
   * False only when a pattern with these triggers cannot match `text`: no word of the view, nor a
   * part of one between apostrophes (regex word boundaries fall there, token boundaries do not), is
   * a trigger word or starts with a prefix or ends with a suffix, and `lower` holds no substring.
   * Always true when `text` has non-ASCII characters: its words follow Unicode letters, while regex
   * word boundaries follow ASCII ones. Throws LIMIT_RULE_INVALID for malformed triggers.
   */
  mayMatch(triggers: PatternTriggers): boolean;
  /**
   * The span of the text the views were built from — the `raw` view's `text`, which is
   * `subject.text` of the rule call on the raw view (one window of a long field) — that
   * [start, end) of this view was read from: for `raw` the span itself; for `normalized` the
   * characters themselves (full-width, homoglyph, zero-width-split or spaced-out letters); for
   * `decoded:rot13|caesar|tags` the enciphered characters; for `decoded:base64|hex|morse` the whole
   * encoded run (`sourceSpan(0, view.text.length)` is where the payload is written); for
   * `decoded:piglatin` the whole text. Spans are clamped to the texts; a view made by hand (not by
   * the engine) maps to itself. Worked out only when called (nothing is computed for views that no
   * rule asks).
   *
   * A rule on the raw view that reports something about another view (`subject.views`) passes this
   * span to `evidenceSpan(subject, start, end)` as it is: it is in `subject.text`, and the engine
   * shifts it into the field. A rule called on a derived view returns spans of that view's text, which
   * the engine maps back with this method itself.
   */
  sourceSpan(start: number, end: number): { start: number; end: number };
}

/**
 * What a rule looks at: the text of one surface of a trace. The governance engine gives it frozen,
 * with its views (the list, each view and a view's tokens) frozen too: they are shared by every rule,
 * and a write fails the evaluation with LIMIT_RULE_INVALID (`details.wroteReadOnlyInput`).
 */
export interface RuleSubject {
  surface: Surface;
  /** The field the text comes from, used in evidence (`task.input`, `output.stdout`, `tool:search`). */
  field: string;
  text: string;
  /**
   * The trace under evaluation: the governance engine gives one deep-frozen copy per evaluation
   * (a write fails the evaluation with LIMIT_RULE_INVALID, `details.wroteReadOnlyInput`).
   */
  trace: Trace;
  /** Readings of `text` (raw first); absent only when a caller builds subjects by hand. */
  views?: readonly TextView[];
  /** The reading this call scans (`text` is its text); the engine calls each rule once per view. */
  view?: TextView;
  /**
   * Offset of `text` inside the field: long fields are scanned as overlapping windows (and past
   * `maxScanChars` as head and tail), and the engine adds this offset to evidence spans so they
   * point into the original field.
   */
  offset?: number;
}

/**
 * What the engine passes to a rule with each subject: the active policy, the rule's time budget
 * and deadline, the preset's thresholds, and for `judge`-phase rules the scan's findings. The
 * governance engine gives `policy`, `reviewBand` and `findings` frozen: a rule that writes to them
 * fails the evaluation with LIMIT_RULE_INVALID (`details.wroteReadOnlyInput`).
 */
export interface RuleContext {
  policy: GovernancePolicy;
  /**
   * Time budget for this call in ms (`ruleBudgetMs`; `judgeBudgetMs` for a `judge`-phase rule);
   * rules must stop and return what they found. An async call is cut there and reported as a
   * `governance.unchecked` finding.
   */
  budgetMs: number;
  /**
   * Aborted when the engine cuts this (async) call at its budget — the reason a `TimeoutError`
   * naming the rule — or when the evaluation's caller aborts; pass it to what the rule waits on (a
   * model request, a fetch) so a cut call stops rather than working on unseen. The engine always
   * gives one; a caller building a context by hand may not.
   */
  signal?: AbortSignal;
  /** performance.now() value after which the rule should stop and return what it found. */
  deadline?: number;
  /** Findings of the scan phase, given to `judge`-phase rules (the LLM judge). */
  findings?: readonly Finding[];
  /** The uncertain severity band [low, high] of the active preset, when it has one. */
  reviewBand?: readonly [number, number];
  /** Severity at which Jailbreak / Malicious findings block under the active policy. */
  blockSeverity?: number;
  /** The evaluation's `unstoredTrace` (GovernanceCallOptions): the trace has no stored records yet. */
  unstoredTrace?: boolean;
  /**
   * The subject is a bare text (`GovernanceService.check`, `limit governance check|eval`), not a
   * trace: its trace is a stand-in (id, tenant and runner `check`, no metrics), the same for every
   * check. Rules that keep state across traces (a baseline) leave it out.
   */
  bareText?: boolean;
}

/** A governance rule: registered by rule-pack plugins or inline in limit.config.ts. */
export interface GovernanceRule {
  id: string;
  flag: FlagKind;
  surfaces: readonly Surface[];
  description?: string;
  evaluate(subject: RuleSubject, ctx: RuleContext): Finding[] | Promise<Finding[]>;
  /**
   * `scan` (default) rules run first on every subject; `judge` rules run afterwards with the scan
   * findings in `ctx.findings` (used to consult an LLM only for the uncertain band), within
   * `judgeBudgetMs` (60 s by default) rather than `ruleBudgetMs`.
   */
  phase?: 'scan' | 'judge';
}

/** The rules a plugin contributes, registered under `governance:rules:<plugin>` (any number of packs). */
export interface RulePack {
  name: string;
  rules: readonly GovernanceRule[];
}

/** What governance decided about one surface of a trace, from which findings, and why. */
export interface GovernanceVerdict {
  decision: Decision;
  findings: Finding[];
  /** Why the decision was taken (the policy field that applied). */
  reasons: string[];
  /** Highest finding severity (0 when there is none). */
  maxSeverity?: number;
  /**
   * Rules that ran past their time budget (their findings so far are kept), and `governance.views`
   * when building a text's views (normalising, decoding) took longer than that budget.
   */
  overBudget?: string[];
  /**
   * Findings that were not stored as flags because the trace can hold no more (MAX_FLAGS_PER_TRACE
   * flags, maxTraceFlagsBytes of them): `assess` keeps the most severe findings as flags and says
   * here, in the `governance:<surface>` checkpoint (`unrecordedFindings`, `unrecordedReason`) and in
   * the flags' provenance entry how many were left out (`recordFlags` does the same and says so in
   * its provenance entry). The decision weighs every finding. Absent when every finding was recorded.
   */
  unrecordedFindings?: number;
}

/**
 * A governance preset (presets/governance/*.ts): the policy plus what the policy leaves to the
 * engine — which rule packs run and the severity thresholds. Only the built-in three exist (the
 * governance plugin's `preset` option takes their names); a variation is the plugin's `policy`,
 * `blockSeverity`, `reviewBand` and `packs` options over one of them (docs/governance.md).
 */
export interface GovernancePreset {
  name: string;
  description: string;
  policy: GovernancePolicy;
  /** Rule packs (the `<pack>` of `governance:rules:<pack>`) this preset runs. */
  packs: readonly string[];
  /** Jailbreak / Malicious findings at or above this severity block (when the policy says so). */
  blockSeverity: number;
  /** Highest severity at or inside this band, when nothing blocks or quarantines, asks for review; null: never. */
  reviewBand: readonly [number, number] | null;
}

/** How a merge is counted in the governance statistics. */
/**
 * A merge's final outcome as the statistics count it (`merges.<outcome>`): made (`allowed`, or
 * waiting for `review`), `refused` (by governance or the orchestrator: an unmergeable parent, a
 * veto, too large to store), or `failed` — allowed, but not made because of an error that refused
 * nothing (a rule or a hook tap that threw, storage failing).
 */
export type MergeCount = 'allowed' | 'review' | 'refused' | 'failed';

/**
 * Whether governance lets a merge through (`validateMerge`): allowed or not, whether it must wait
 * for a reviewer, and each refused parent with the reason.
 */
export interface MergeValidation {
  allowed: boolean;
  /** The merge must wait for a human (policy.requireHumanReview). */
  review: boolean;
  refusals: { parentId: string; reason: string }[];
}

/**
 * What `assess` decided, and the records that `evaluate` followed by `recordFlags` would have
 * written, for a caller that commits them in a batch of its own (the orchestrator stores a
 * pipeline's governance records and its final status in one transaction).
 */
export interface GovernanceAssessment {
  verdict: GovernanceVerdict;
  /** The flags made of the verdict's findings, as storage will hold them. */
  flags: Flag[];
  /**
   * Counters, the `governance:<surface>` checkpoint, the flags and their provenance entry, and the
   * auto-quarantine records when the decision is `quarantine` — not for a trace that is
   * `quarantined`, `blocked`, `pending-review` or `rejected`, which autoQuarantine leaves as it is
   * (as it does when flags are added, see `recordFlags`). The trace must be stored before
   * them (earlier in the same batch or in an earlier commit).
   */
  ops: BatchOp[];
  /**
   * The auto-quarantine's records among `ops` (the same objects; empty without one). They apply
   * only from the trace's status as assessed (an `updateTrace` with `ifStatus`): a batch refused
   * because another quarantine came first (`isStatusConflict`) is committed again without them.
   * Optional: a service without it gives none apart.
   */
  quarantineOps?: BatchOp[];
  /**
   * Call once `ops` are committed: runs the `traceFlagged` hooks of the new flags (every tap for
   * every flag; a failing tap is logged, not thrown: the records are stored already).
   */
  committed(): Promise<void>;
}

/**
 * What `flag` returns: the stored flag, and whether adding it quarantined the trace. With
 * `autoQuarantine` on, a flag that takes a completed trace's highest flag severity to
 * `quarantineSeverity` quarantines it in the batch that stores the flag.
 */
export interface FlagOutcome extends Flag {
  /** True when this flag quarantined the trace (false when it did not, or the trace already was). */
  autoQuarantined: boolean;
  /** The reason recorded with that quarantine; only when `autoQuarantined`. */
  quarantineReason?: string;
}

/**
 * Options of one evaluation (`evaluate`, `assess`, `check`).
 *
 * `signal`: the caller's cancellation (the orchestrator passes a run's: `cancel()`, the caller's
 * own signal, a session or runtime close). When it aborts, the evaluation stops — the rule call in
 * flight has its `ctx.signal` aborted (an LLM judge's model request is cancelled) — and the call
 * rejects with the signal's reason, writing nothing: an aborted evaluation gives no verdict. Optional
 * for callers and for services: a custom service that ignores it finishes its evaluation as before
 * (the caller then goes on with that verdict).
 */
export interface GovernanceCallOptions {
  signal?: AbortSignal;
  /**
   * The trace is not stored yet: its creation is pending in the batch the evaluation's records
   * join (the orchestrator's recorded traces). Rules get it as `ctx.unstoredTrace` and skip reading
   * the trace's own stored records, which cannot exist yet (the provenance rule its chain).
   */
  unstoredTrace?: boolean;
}

/** The governance engine (`governance` in the container). */
export interface GovernanceService {
  readonly policy: GovernancePolicy;
  /**
   * Runs every rule for the surface and applies the policy (`options.signal`: GovernanceCallOptions).
   * With storage, a `quarantine` verdict on a stored `running`, `ok` or `error` trace quarantines
   * it; `blocked`, `pending-review` and `rejected` traces keep their status (as with flags).
   */
  evaluate(trace: Trace, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceVerdict>;
  /**
   * `evaluate` and `recordFlags` of its findings without writing: the records come back as batch
   * ops. Optional; a caller without it calls `evaluate` then `recordFlags`.
   */
  assess?(trace: Trace, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceAssessment>;
  /**
   * Turns findings into persisted flags, in the batch that appends their `flagged` provenance entry:
   * `data.flags` lists each flag as `{ id, kind, severity, ruleId, sha256 }`, `sha256` its
   * `flagDigest` (a manual flag's entry: `data.flagId` and `data.flagSha256`). verifyTraceChain
   * binds a trace's flags to these entries: a flag no entry lists does not verify. On a stored, completed trace
   * (`ok` or `error`) it applies `autoQuarantine` like `flag`; a trace still `running` is left to
   * the pipeline, which applies it when the trace finishes.
   */
  recordFlags(trace: Trace, findings: Finding[]): Promise<Flag[]>;
  /**
   * A manual flag; applies `autoQuarantine` to the trace in the same batch (see FlagOutcome). Its
   * `flagged` entry is a decision's (ProvenanceOrigin), as a person's quarantine's is.
   */
  flag(tenant: string, traceId: string, input: { kind: FlagKind; severity: number; reason: string; actor: string }): Promise<FlagOutcome>;
  /**
   * Takes a trace out of circulation (merges refuse it), remembering its status for the release.
   * LIMIT_CONFLICT when it is already quarantined, also when another quarantine of it (a flag's,
   * a person's) commits first: the status it was read with is checked in the transaction.
   * `origin` (the provenance entry's, see ProvenanceOrigin): `decision` (default), a person's by
   * request; `system`, the run pipeline's own, which may use the room kept for the server's entries.
   */
  quarantine(tenant: string, traceId: string, input: { reason: string; actor: string; origin?: 'decision' | 'system' }): Promise<void>;
  /**
   * Gives a quarantined trace back the status it had before (so a blocked, rejected or failed trace
   * stays so), back in circulation: `blockUnsafeMerge` and autoQuarantine then count only the flags
   * added since the release (the flags past the count it records, QuarantineState.flagCount). LIMIT_CONFLICT when it is not quarantined — or no longer is, when two releases race —
   * and while a trace quarantined during its run has not finished it (no final status to give back).
   * Its provenance entry is written with origin `system` (ProvenanceOrigin), so that a quarantine
   * can always be undone, also when the quarantine's entry was the last a decision may write.
   * A merge quarantined by output governance as it was made gets back what it would have been:
   * `pending-review` when its merge needed review (its approval then checks it), else its output's
   * status. A merge released to `ok` or `error` is checked as an approval is (validateMerge of its
   * parents, not counted, written only while they still have what was checked): refused parents
   * make it LIMIT_MERGE_REFUSED, and the merge stays quarantined.
   */
  release(tenant: string, traceId: string, input: { reason: string; actor: string }): Promise<void>;
  /**
   * Checks a merge against the policy and, unless `{ count: false }`, counts this check's outcome in
   * the statistics (`merges.allowed|review|refused`, one per merge; `merges.failed` is only ever counted by a caller, through countMerge). `{ count: false }` only checks:
   * for a re-check of a merge already counted (its approval), and for a caller that may still refuse
   * the merge after this check — the orchestrator refuses unmergeable parents, a `beforeMerge` veto,
   * a merge too large to store — and so counts the merge itself with `countMerge` once its outcome is
   * known (`refused` when it is refused, `failed` when an error that refused nothing stopped it; a merge its caller must correct, such as a `majority` whose
   * parents disagree, LIMIT_VALIDATION, is not counted, like any input error). A request naming a
   * parent twice is such an error: LIMIT_VALIDATION naming the repeat (`parentIds.2: "a" repeats
   * parentIds.0`, as the orchestrator's merge input words it), nothing counted. A quarantined parent
   * is always refused, and so is a parent that is a merge with a quarantined ancestor (over the merges
   * it was made of, at most MAX_MERGE_ANCESTRY traces read; a larger ancestry is refused as unchecked).
   */
  validateMerge(request: MergeRequest, options?: { count?: boolean }): Promise<MergeValidation>;
  /**
   * Counts one merge's final outcome (`merges.<outcome>`), for a caller that validated it with
   * `{ count: false }`. Optional: a caller facing a service without it lets validateMerge count.
   */
  countMerge?(tenant: string, outcome: MergeCount): Promise<void>;
  stats(tenant: string): Promise<Record<string, number>>;
  /**
   * Evaluates a bare text without a stored trace (CLI `governance check`, API previews), as
   * `evaluate` would: the governInput/governOutput taps apply (their context says `bareText: true`).
   */
  check?(text: string, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceVerdict>;
  /**
   * Records a human review decision on a trace waiting as `pending-review` (its status — approved,
   * the one its output calls for, `ok` or `error` for a failed output; else `rejected` — recorded
   * in the decision's entry as `data.status`, and its `completedAt`, with the decision's provenance and checkpoint), in one transaction that
   * applies only while the trace is still `pending-review` and each trace of `unchanged` (an approved
   * merge's parents, as the caller read them before its check) still has the status given there
   * and, under blockUnsafeMerge, each given with its `flags` still holds as many
   * (`statusUnchangedOps`); otherwise it throws LIMIT_CONFLICT (isStatusConflict, isFlagsConflict)
   * and writes nothing.
   */
  review?(tenant: string, traceId: string, input: { approved: boolean; reason: string; actor: string; unchanged?: readonly (Pick<Trace, 'id' | 'status'> & { flags?: readonly unknown[] })[] }): Promise<void>;
  /**
   * Throws LIMIT_FORBIDDEN when `actor` may not make this decision on the trace (under
   * `requireDistinctReviewer`: its author); `review` and `release` check it too. Optional; the
   * orchestrator asks it first, before an approval checks the merge's parents again, so an actor
   * who may not decide hears that rather than the state of the parents.
   */
  checkReviewer?(tenant: string, traceId: string, actor: string, decision: 'release' | 'approve' | 'reject'): Promise<void>;
}
