/**
 * The `governance` service: the pure engine plus what needs storage — flags, provenance entries,
 * checkpoints, quarantine state, merge validation and persisted statistics. The engine's rules run
 * first, then the governInput/governOutput waterfall lets other plugins add findings, then the
 * policy decides; the orchestrator calls `evaluate` and must not call those hooks itself.
 *
 * Each operation writes through one `storage.batch`: its records (flags, provenance entry,
 * checkpoint, quarantine state, trace status, counters) are stored together or not at all, in one
 * transaction instead of one per record, and hooks (`traceFlagged`) fire only after the commit.
 *
 * autoQuarantine holds wherever flags are added: evaluate/assess apply it to a verdict, and `flag`
 * and `recordFlags` to a stored, completed trace whose flags reach quarantineSeverity, with the
 * same quarantine records (#quarantineOps) in the flags' batch.
 */
import {
  DEFAULT_MAX_RECORD_BYTES, Flag, LimitError, MAX_MERGE_ANCESTRY, MergeRequest, MergeStrategy, MAX_FLAGS_PER_TRACE, assertFlagsFit, flagDigest, flagsBytes, isFlagsConflict, isStatusConflict, maxTraceFlagsBytes, newId, parseOrThrow,
  isWellFormed, mapStringsDeep, memoizeChainOf, mergeAncestryMemo, runEveryTap, toWellFormed, statusUnchangedOps, verifyMergeAncestryAsync, verifyTraceChain, z,
} from 'limit-graph';
import type {
  BatchOp, Finding, FlagKind, FlagOutcome, GovernanceAssessment, GovernanceCallOptions, GovernHookContext, GovernancePolicy, GovernanceService, GovernanceVerdict, LimitHooks, Logger, MergeCount,
  MergeValidation, QuarantineState, Storage, Surface, Trace,
} from 'limit-graph';
import { MANUAL_RULE_ID, frozenCopy, tapAdditions, type GovernanceEngine, type TapSource } from './engine.ts';

const now = () => new Date().toISOString();
const PREFIX = 'governance.';
const MERGE_COUNTS: readonly MergeCount[] = ['allowed', 'review', 'refused', 'failed'];
/** The parents of a merge request as MergeRequest checks them: at least one, valid ids, each once. */
const MERGE_PARENTS = MergeRequest.pick({ parentIds: true });
/**
 * A flag as storage will hold it (the model's schema: defaults applied, unknown keys dropped), so
 * that what recordFlags/flag return and hand to `traceFlagged` is the stored record; a bad flag
 * fails with LIMIT_VALIDATION before the batch writes anything.
 */
const parseFlag = (flag: Flag): Flag => parseOrThrow(Flag, flag, 'flag');
/**
 * The reason and actor of a quarantine, a release or a manual flag, checked before anything is read
 * or written (LIMIT_VALIDATION naming the field): a reason of 1–2,048 characters, as the HTTP API's
 * body (ReasonBody, FlagBody) and a flag allow — the quarantine state keeps the reason whole, never
 * cut short — and an actor of 1–256 characters, as a provenance entry takes it; both well-formed Unicode.
 */
const WellFormed = (max: number) => z.string().min(1).max(max).refine(isWellFormed, 'is not well-formed Unicode: it holds half a surrogate pair (a lone \\uD800–\\uDFFF), which provenance (canonical JSON) and PostgreSQL cannot hold');
const DecisionInput = z.object({ reason: WellFormed(2048), actor: WellFormed(256) });
const parseDecision = (input: { reason: string; actor: string }, operation: 'quarantine' | 'release' | 'flag') =>
  parseOrThrow(DecisionInput, { reason: input.reason, actor: input.actor }, `${operation} input`);
/**
 * Statuses autoQuarantine leaves as they are, whichever path applies it (a verdict of evaluate or
 * assess, or flags added by `flag` or `recordFlags`): `quarantined` (already), `blocked` (never
 * executed; block takes precedence over quarantine, as in the pipeline), `pending-review` and
 * `rejected` (a review decides those, and merges refuse them already). A verdict or a flag on such a
 * trace is recorded (checkpoint, flag) without a quarantine; a person can still quarantine it.
 */
const NOT_AUTO_QUARANTINED: ReadonlySet<Trace['status']> = new Set(['quarantined', 'blocked', 'pending-review', 'rejected']);
/**
 * Whether autoQuarantine may quarantine a trace with `status`, by a verdict or by flags added later.
 * One rule for both (NOT_AUTO_QUARANTINED), and one difference: a `running` trace belongs to the
 * pipeline, whose verdict quarantines it (`from: running`) and which applies autoQuarantine itself
 * when the run finishes, so flags added while it runs do not.
 */
function autoQuarantinable(status: Trace['status'], by: 'verdict' | 'flags'): boolean {
  if (NOT_AUTO_QUARANTINED.has(status)) return false;
  return by === 'verdict' || status !== 'running';
}
/**
 * How many times a batch whose quarantine lost a race is built again: each retry follows a change
 * of the trace's status that another writer committed, so more than a few means something is wrong.
 */
const QUARANTINE_ATTEMPTS = 4;
/**
 * Where a quarantine comes from. `from` is the status it was decided on: the quarantine applies
 * only while the trace still has it (checked in the transaction), and a release gives it back.
 * `running` (a person's quarantine during the run, or the pipeline's own) is replaced by the status
 * the run ends with when the orchestrator writes it; until then a release is refused.
 */
interface QuarantineInput {
  reason: string;
  actor: string;
  auto?: boolean;
  /** Of its provenance entry: default `system` for an automatic quarantine, `decision` for another. */
  origin?: 'decision' | 'system';
  from: Trace['status'];
}
/**
 * The quarantine records to add to a batch, and the reason they carry (none: no quarantine).
 * `unchanged`: a "no quarantine" that rests on the status read (the trace was quarantined, or has a
 * status autoQuarantine leaves as it is) holds only while the trace still has it: these ops
 * (statusUnchangedOps) make the batch apply only then, and #commitWithQuarantine decides again
 * when another writer (a release, a review, the run's end) changed it first.
 */
interface AutoQuarantine {
  ops: BatchOp[];
  reason?: string;
  unchanged?: BatchOp[];
}
const NO_QUARANTINE: AutoQuarantine = { ops: [] };
/** No quarantine because of the status `stored` was read with: valid only while it still has it. */
const noQuarantineWhile = (stored: Pick<Trace, 'id' | 'status'>): AutoQuarantine => ({ ops: [], unchanged: statusUnchangedOps([stored]) });
/** The hook context of an evaluation its caller cannot cancel: one shared signal that never aborts. */
const NOT_CANCELLED: GovernHookContext = Object.freeze({ signal: new AbortController().signal });
/** The hook context of a bare text's check its caller cannot cancel (governTaps). */
const BARE_TEXT: GovernHookContext = Object.freeze({ signal: NOT_CANCELLED.signal, bareText: true });

export interface ServiceDeps {
  engine: () => GovernanceEngine;
  hooks: LimitHooks;
  storage: () => Storage | undefined;
  actor: string;
  /** Where a failing traceFlagged tap is reported (the flag is stored by then: see #flagged). */
  logger: Pick<Logger, 'warn'>;
}

export class GovernanceServiceImpl implements GovernanceService {
  /** Merge requests validateMerge allowed (the objects themselves: the orchestrator hands the same one to beforeMerge). */
  readonly #allowed = new WeakSet<MergeRequest>();
  constructor(private readonly deps: ServiceDeps) {}

  get policy(): GovernancePolicy {
    return this.deps.engine().policy;
  }

  #storage(operation: string): Storage {
    const s = this.deps.storage();
    if (!s) throw new LimitError('LIMIT_GOVERNANCE_STORAGE_REQUIRED', `governance.${operation} needs a storage plugin, and none is loaded`, { plugin: 'governance' });
    return s;
  }

  async evaluate(trace: Trace, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceVerdict> {
    const verdict = await this.#verdict(trace, surface, options);
    const storage = this.deps.storage();
    if (!storage) return verdict;
    // A trace evaluated before (or without) being stored is counted but gets no checkpoint. The
    // stored trace's status, not the caller's copy, decides the auto-quarantine.
    const stored = await storage.getTrace(trace.tenant, trace.id);
    await this.#commitWithQuarantine(storage, trace.tenant, trace.id, this.#evaluationOps(trace, surface, verdict, stored !== null), stored,
      async (current) => {
        if (!current) return NO_QUARANTINE;
        const quarantine = this.#verdictQuarantine(trace.id, verdict, current.status);
        // A quarantine verdict left out because of the stored status holds only while it has it.
        return verdict.decision === 'quarantine' && quarantine.ops.length === 0 ? noQuarantineWhile(current) : quarantine;
      });
    return verdict;
  }

  async assess(trace: Trace, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceAssessment> {
    const verdict = await this.#verdict(trace, surface, options);
    // The copy's flags are the trace's as stored before these ops (the pipeline carries them along).
    const recorded = this.#flagRecords(trace, verdict.findings, trace.flags);
    noteUnrecorded(verdict, recorded);
    // The trace is stored before these ops (or earlier in their batch) with the status of this copy.
    const quarantine = this.#verdictQuarantine(trace.id, verdict, trace.status);
    return {
      verdict,
      flags: recorded.flags,
      ops: [...this.#evaluationOps(trace, surface, verdict, true), ...quarantine.ops, ...recorded.ops],
      quarantineOps: quarantine.ops,
      committed: () => this.#flagged(trace, recorded.flags),
    };
  }

  /**
   * The engine's rules, then the governInput/governOutput waterfall, then the policy. An aborted
   * `options.signal` rejects with its reason before anything is written (no verdict, no records).
   * The taps get it as `context.signal` (GovernHookContext), or one that never aborts.
   */
  #verdict(trace: Trace, surface: Surface, options: GovernanceCallOptions = {}): Promise<GovernanceVerdict> {
    // Other plugins' findings go through the same schema as rule findings; the taps read the
    // evaluation's frozen copy of the trace, as the rules do.
    return this.deps.engine().evaluate(trace, surface, governTaps(this.deps.hooks, surface, options), options);
  }

  /** Counters of an evaluation; for a stored trace also its checkpoint (the auto-quarantine: #verdictQuarantine). */
  #evaluationOps(trace: Trace, surface: Surface, verdict: GovernanceVerdict, stored: boolean): BatchOp[] {
    const deltas: Record<string, number> = { [`${PREFIX}evaluations`]: 1, [`${PREFIX}decision.${verdict.decision}`]: 1 };
    if (verdict.decision === 'block') deltas[`${PREFIX}blocked`] = 1;
    const ops: BatchOp[] = [{ op: 'incrementCounters', deltas }];
    if (!stored) return ops;
    const unrecorded = verdict.unrecordedFindings ? { unrecordedFindings: verdict.unrecordedFindings, unrecordedReason: unrecordedReason(trace.id, verdict.unrecordedFindings) } : {};
    ops.push({ op: 'addCheckpoint', checkpoint: {
      traceId: trace.id, label: `governance:${surface}`, passed: verdict.decision === 'allow',
      details: { decision: verdict.decision, reasons: verdict.reasons, findings: verdict.findings.map((f) => ({ ruleId: f.ruleId, kind: f.kind, severity: f.severity })), ...unrecorded },
      at: now(),
    } });
    return ops;
  }

  /**
   * autoQuarantine of a verdict, applied here so that it holds whoever calls evaluate or assess: the
   * quarantine records of a stored trace with `status`, unless autoQuarantinable says it is left as
   * it is (quarantined already, blocked, pending-review, rejected: the rule flags follow). A release
   * does not hold back a later verdict (it cleared the flags the trace carried; a verdict weighs the
   * trace's text): a released trace evaluated again to `quarantine` is quarantined again (docs).
   */
  #verdictQuarantine(traceId: string, verdict: GovernanceVerdict, status: Trace['status']): AutoQuarantine {
    if (verdict.decision !== 'quarantine' || !autoQuarantinable(status, 'verdict')) return NO_QUARANTINE;
    const reason = verdict.reasons.join('; ');
    return { ops: this.#quarantineOps(traceId, { reason, actor: this.deps.actor, auto: true, from: status }), reason };
  }

  /**
   * Commits `ops` with the quarantine `decide` makes of the stored trace (`stored`, then as read
   * again). A quarantine applies only from the status it was decided on (#quarantineOps); when
   * another writer changed that status first — a concurrent flag's quarantine, a manual one — the
   * batch writes nothing, and is built again from the trace as it is now: of concurrent quarantines
   * of one trace exactly one is written (one entry, one count), and the other batches store their
   * records without one. A decision of no quarantine made on the status read (quarantined, blocked,
   * pending-review, rejected, running: `unchanged`) is checked the same way: a release (or review,
   * or the run's end) that commits first makes the batch write nothing, and it is built again — a
   * severe flag racing a release quarantines the released trace, as it would after it.
   * Returns the quarantine that was committed.
   */
  async #commitWithQuarantine(
    storage: Storage, tenant: string, traceId: string, ops: BatchOp[], stored: Trace | null, decide: (stored: Trace | null) => Promise<AutoQuarantine>,
  ): Promise<AutoQuarantine> {
    let current = stored;
    for (let attempt = 1; ; attempt++) {
      const quarantine = await decide(current);
      const conditional = quarantine.ops.length > 0 || (quarantine.unchanged?.length ?? 0) > 0;
      try {
        await storage.batch(tenant, [...ops, ...quarantine.ops, ...(quarantine.unchanged ?? [])]);
        return quarantine;
      } catch (error) {
        if (!conditional || !isStatusConflict(error, traceId) || attempt === QUARANTINE_ATTEMPTS) throw error;
      }
      current = await storage.getTrace(tenant, traceId);
    }
  }

  /** A bare text's verdict, with the governInput/governOutput taps applied as evaluate applies them (governTaps). */
  check(text: string, surface: Surface, options?: GovernanceCallOptions): Promise<GovernanceVerdict> {
    return this.deps.engine().check(text, surface, options, governTaps(this.deps.hooks, surface, options, true));
  }

  async recordFlags(trace: Trace, findings: Finding[]): Promise<Flag[]> {
    if (!findings.length) return [];
    const storage = this.#storage('recordFlags');
    // The stored trace (its status and flags), not the caller's copy, decides the quarantine and
    // how many flags the trace can still take.
    const stored = await storage.getTrace(trace.tenant, trace.id);
    const { flags, ops } = this.#flagRecords(trace, findings, stored?.flags ?? trace.flags);
    await this.#commitWithQuarantine(storage, trace.tenant, trace.id, ops, stored,
      (current) => this.#autoQuarantine(storage, current, flags, this.deps.actor, (f) => `flag ${f.kind} severity ${f.severity} (rule ${f.ruleId}, ${f.id})`));
    await this.#flagged(trace, flags);
    return flags;
  }

  /**
   * The flags of automatic findings, their provenance entry and counters (nothing for no findings).
   * `held` are the trace's flags before these: the flags made are only as many as the trace can
   * still take (MAX_FLAGS_PER_TRACE, maxTraceFlagsBytes), the most severe findings first (in the
   * findings' order among equals), so the batch never fails on the limit and the trace stays
   * storable; the others are counted in `unrecorded` (the verdict still weighs every finding).
   */
  #flagRecords(trace: Trace, findings: Finding[], held: readonly Flag[]): { flags: Flag[]; ops: BatchOp[]; unrecorded: number } {
    if (!findings.length) return { flags: [], ops: [], unrecorded: 0 };
    // Text a rule took from the trace may hold half a surrogate pair (a stored trace's own text, a
    // rule's cut): written as U+FFFD, as a UTF-8 encoder does, so every backend stores the flag
    // and its digest (flagDigest, canonical JSON) can be taken.
    const made = findings.map((f) => parseFlag(mapStringsDeep({ id: newId(), traceId: trace.id, kind: f.kind, severity: f.severity, reason: f.reason, ruleId: f.ruleId, evidence: f.evidence, autoDetected: true, at: now() }, toWellFormed)));
    const flags = this.#fitting(held, made);
    const unrecorded = made.length - flags.length;
    const deltas: Record<string, number> = {};
    for (const f of flags) {
      deltas[`${PREFIX}flags.kind.${f.kind}`] = (deltas[`${PREFIX}flags.kind.${f.kind}`] ?? 0) + 1;
      deltas[`${PREFIX}flags.rule.${f.ruleId}`] = (deltas[`${PREFIX}flags.rule.${f.ruleId}`] ?? 0) + 1;
    }
    if (flags.length) deltas[`${PREFIX}flags.total`] = flags.length;
    if (unrecorded) deltas[`${PREFIX}flags.unrecorded`] = unrecorded;
    const note = unrecorded ? `; ${unrecordedReason(trace.id, unrecorded)}` : '';
    return {
      flags,
      unrecorded,
      ops: [
        ...flags.map((flag): BatchOp => ({ op: 'addFlag', flag })),
        ...(flags.length ? [{ op: 'appendProvenance', input: {
          traceId: trace.id, at: now(), actor: this.deps.actor, action: 'flagged', operation: 'flag',
          rationale: `${flags.length} automatic flag(s)${note}`,
          data: { flags: flags.map((f) => ({ id: f.id, kind: f.kind, severity: f.severity, ruleId: f.ruleId, sha256: flagDigest(f) })), ...(unrecorded ? { unrecordedFindings: unrecorded } : {}) },
        } } satisfies BatchOp] : []),
        { op: 'incrementCounters', deltas },
      ],
    };
  }

  /**
   * Of `made`, those a trace holding `held` can still take: most severe first, kept in their order.
   * A flag larger than maxRecordBytes by itself is never taken — storage refuses such a record, and
   * with it the whole batch (a finding keeps at most MAX_FINDING_EVIDENCE spans, so only a small
   * maxRecordBytes or an enormous field name makes one).
   */
  #fitting(held: readonly Flag[], made: Flag[]): Flag[] {
    const maxRecordBytes = this.deps.storage()?.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const maxBytes = maxTraceFlagsBytes(maxRecordBytes);
    let count = held.length;
    let bytes = held.length ? flagsBytes(held) : 0;
    const sizes = new Map(made.map((f) => [f, flagsBytes([f])]));
    let total = 0;
    let oversized = false;
    for (const size of sizes.values()) {
      total += size;
      if (size > maxRecordBytes) oversized = true;
    }
    if (!oversized && count + made.length <= MAX_FLAGS_PER_TRACE && bytes + total <= maxBytes) return made;
    const keep = new Set<Flag>();
    // Array.prototype.sort is stable: among equal severities the findings' order stands.
    for (const flag of [...made].sort((a, b) => b.severity - a.severity)) {
      if (count >= MAX_FLAGS_PER_TRACE) break;
      const size = sizes.get(flag)!;
      if (size > maxRecordBytes || bytes + size > maxBytes) continue;
      keep.add(flag);
      count++;
      bytes += size;
    }
    return made.filter((f) => keep.has(f));
  }

  /**
   * After the flags are committed: the traceFlagged hooks, one flag at a time, every tap for every
   * flag (runEveryTap). The flags, their quarantine and counters are stored by then, so a tap that
   * fails (a webhook down) does not make the operation fail — a caller retrying a "failed" flag
   * would store it twice — nor keep the other taps or flags from their hooks: each failure is
   * logged (warn) naming the tap's plugin, the flag and the trace, and the operation succeeds.
   */
  async #flagged(trace: Trace, flags: Flag[]): Promise<void> {
    for (const flag of flags) {
      for (const error of await runEveryTap(this.deps.hooks.traceFlagged, trace, flag)) {
        this.deps.logger.warn(
          { err: error, hook: 'traceFlagged', tapPlugin: error.plugin, traceId: trace.id, flagId: flag.id },
          `governance: the traceFlagged tap of plugin "${error.plugin ?? '?'}" failed for flag ${flag.id} (${flag.kind} ${flag.severity}) of trace "${trace.id}"; the flag is stored and the operation succeeded: ${error.message}`,
        );
      }
    }
  }

  async flag(tenant: string, traceId: string, input: { kind: FlagKind; severity: number; reason: string; actor: string }): Promise<FlagOutcome> {
    parseDecision(input, 'flag');
    const storage = this.#storage('flag');
    const trace = await this.#trace(storage, tenant, traceId);
    const flag = parseFlag({ id: newId(), traceId, kind: input.kind, severity: input.severity, reason: input.reason, ruleId: MANUAL_RULE_ID, evidence: [], autoDetected: false, at: now() });
    // A full trace refuses a manual flag (LIMIT_PAYLOAD_TOO_LARGE, nothing written); storage checks
    // it again in the batch's transaction, against a concurrent add.
    assertFlagsFit(traceId, { count: trace.flags.length, bytes: flagsBytes(trace.flags) }, { count: 1, bytes: flagsBytes([flag]) }, storage.maxRecordBytes);
    // Only the flag whose batch committed the quarantine says autoQuarantined: true.
    const quarantine = await this.#commitWithQuarantine(storage, tenant, traceId, [
      { op: 'addFlag', flag },
      { op: 'appendProvenance', input: { traceId, at: flag.at, actor: input.actor, action: 'flagged', operation: 'flag', rationale: input.reason, data: { flagId: flag.id, kind: flag.kind, severity: flag.severity, manual: true, flagSha256: flagDigest(flag) } }, origin: 'decision' },
      { op: 'addCheckpoint', checkpoint: { traceId, label: 'governance:manual-flag', passed: false, details: { flagId: flag.id, kind: flag.kind, severity: flag.severity, actor: input.actor }, at: flag.at } },
      { op: 'incrementCounters', deltas: { [`${PREFIX}flags.kind.${flag.kind}`]: 1, [`${PREFIX}flags.rule.manual`]: 1, [`${PREFIX}flags.total`]: 1, [`${PREFIX}flags.manual`]: 1 } },
    ], trace, (current) => this.#autoQuarantine(storage, current, [flag], input.actor, (f) => `manual flag ${f.kind} severity ${f.severity} (${f.id})`));
    await this.#flagged(trace, [flag]);
    return quarantine.reason === undefined ? { ...flag, autoQuarantined: false } : { ...flag, autoQuarantined: true, quarantineReason: quarantine.reason };
  }

  /**
   * autoQuarantine for flags added to a stored trace outside the pipeline: when the policy has it
   * on, the trace is completed and open to it (autoQuarantinable) and not quarantined, and its highest flag
   * severity, the added flags included, reaches quarantineSeverity, the records of a quarantine
   * (#quarantineOps, as evaluate writes them) to commit in the flags' batch. Flags present when a
   * person last released the trace do not count again: only flags added since can quarantine it.
   * `stored` is the trace as storage holds it (its flags before the added ones); null: none.
   */
  async #autoQuarantine(storage: Storage, stored: Trace | null, added: Flag[], actor: string, describe: (flag: Flag) => string): Promise<AutoQuarantine> {
    const policy = this.policy;
    if (!policy.autoQuarantine || !stored) return NO_QUARANTINE;
    const reaches = (flags: readonly Flag[]) => flags.some((f) => f.severity >= policy.quarantineSeverity);
    if (!reaches(stored.flags) && !reaches(added)) return NO_QUARANTINE;
    // Left out because of the status read (or a quarantine state a release clears with the status):
    // only while the trace keeps that status, checked in the transaction (noQuarantineWhile).
    if (!autoQuarantinable(stored.status, 'flags')) return noQuarantineWhile(stored);
    const state = await storage.getQuarantine(stored.tenant, stored.id);
    if (state?.quarantined) return noQuarantineWhile(stored);
    const earlier = flagsSinceRelease(stored.flags, state);
    const highest = (flags: readonly Flag[]) => flags.reduce<Flag | undefined>((m, f) => (!m || f.severity > m.severity ? f : m), undefined);
    const addedTop = highest(added);
    const earlierTop = highest(earlier);
    if (!addedTop) return NO_QUARANTINE;
    // The reason names the added flag; and the earlier one when that is what reaches the threshold.
    let trigger = describe(addedTop);
    if (addedTop.severity < policy.quarantineSeverity) {
      if (!earlierTop || earlierTop.severity < policy.quarantineSeverity) return NO_QUARANTINE;
      trigger += `; highest flag ${earlierTop.kind} severity ${earlierTop.severity} (rule ${earlierTop.ruleId}, ${earlierTop.id})`;
    }
    const reason = `autoQuarantine: ${trigger} ≥ quarantineSeverity ${policy.quarantineSeverity}`;
    return { ops: this.#quarantineOps(stored.id, { reason, actor, auto: true, from: stored.status }), reason };
  }

  async quarantine(tenant: string, traceId: string, input: { reason: string; actor: string; auto?: boolean; origin?: 'decision' | 'system' }): Promise<void> {
    const { reason, actor } = parseDecision(input, 'quarantine');
    // An origin other than these is refused by storage's batch validation (LIMIT_VALIDATION naming it).
    input = { reason, actor, origin: input.origin ?? 'decision', ...(input.auto === undefined ? {} : { auto: input.auto }) };
    const storage = this.#storage('quarantine');
    const trace = await this.#trace(storage, tenant, traceId);
    if (trace.status === 'quarantined' || (await storage.getQuarantine(tenant, traceId))?.quarantined) throw alreadyQuarantined(traceId, trace.status);
    try {
      await storage.batch(tenant, this.#quarantineOps(traceId, { ...input, from: trace.status }));
    } catch (error) {
      // Another quarantine (a flag's, a person's) committed first: the same answer as when it is seen before.
      if (isStatusConflict(error, traceId) && (await storage.getTrace(tenant, traceId))?.status === 'quarantined') throw alreadyQuarantined(traceId, 'quarantined');
      throw error;
    }
  }

  /**
   * The records of a quarantine, in the order they are written (shared by every quarantine, manual
   * or automatic). The trace update applies only while the trace still has the status the
   * quarantine was decided on (`ifStatus`, checked in the transaction): of two quarantines (or a
   * quarantine and a review, or a run's final status) racing, one passes and the other's batch
   * writes nothing — #commitWithQuarantine builds an automatic one's batch again without it.
   */
  #quarantineOps(traceId: string, input: QuarantineInput): BatchOp[] {
    const at = now();
    return [
      { op: 'setQuarantine', state: { traceId, quarantined: true, reason: input.reason.slice(0, 2048), actor: input.actor, at, previousStatus: input.from } },
      { op: 'updateTrace', id: traceId, patch: { status: 'quarantined' }, ifStatus: input.from },
      { op: 'appendProvenance', input: { traceId, at, actor: input.actor, action: 'quarantined', operation: 'quarantine', rationale: input.reason, data: { auto: input.auto === true } }, origin: input.origin ?? (input.auto ? 'system' : 'decision') },
      { op: 'addCheckpoint', checkpoint: { traceId, label: 'governance:quarantine', passed: false, details: { reason: input.reason, actor: input.actor, auto: input.auto === true }, at } },
      { op: 'incrementCounters', deltas: { [`${PREFIX}quarantined`]: 1 } },
    ];
  }

  async release(tenant: string, traceId: string, input: { reason: string; actor: string }): Promise<void> {
    input = parseDecision(input, 'release');
    const storage = this.#storage('release');
    const trace = await this.#trace(storage, tenant, traceId);
    const state = await storage.getQuarantine(tenant, traceId);
    if (!state?.quarantined) {
      throw new LimitError('LIMIT_CONFLICT', `Trace "${traceId}" is not quarantined, so it cannot be released`, { details: { traceId }, fix: 'Release only traces listed by storage.listQuarantined().' });
    }
    if (state.previousStatus === 'running') {
      throw new LimitError('LIMIT_CONFLICT', `Trace "${traceId}" was quarantined while it was running, and its run has not finished: there is no final status to give back yet`, {
        details: { traceId, status: trace.status },
        fix: 'Release it once its run has finished (the run records the status it ended with); to stop the run now, close its session.',
      });
    }
    await this.#requireDistinctReviewer(storage, tenant, traceId, input.actor, 'release');
    const at = now();
    // The status before the quarantine; a state written without one (by an earlier version, for the
    // pipeline's quarantine of a running trace) was `ok`, or `error` when the run failed.
    const status = state.previousStatus ?? (trace.output?.ok === false ? 'error' : 'ok');
    // A merge released to a final status holds its parents' output as an approval would: checked
    // like one, and written only while each parent still has what was checked. One going back to
    // `pending-review` is checked by its approval.
    const parents = isMerge(trace) && (status === 'ok' || status === 'error') ? await this.#mergeableParents(storage, trace, input.actor) : [];
    // The flags the person releasing it saw: flags are only ever added and come back in insertion
    // order, so those past this count were added since (flagsSinceRelease). A flag added between
    // this read and the batch lies past it too, and counts: no one released it.
    const flagCount = trace.flags.length;
    try {
      await storage.batch(tenant, [
        { op: 'setQuarantine', state: { traceId, quarantined: false, reason: input.reason, actor: input.actor, at, flagCount } },
        { op: 'updateTrace', id: traceId, patch: { status }, ifStatus: 'quarantined' },
        // Origin `system`, not `decision`: undoing a quarantine must always fit, also when the
        // quarantine's entry was the last a decision may write (9,900 entries) or an automatic one
        // written past it. It cannot be repeated to fill the room kept for the server: every release
        // follows a quarantine, and past a decision's share a person can no longer quarantine or flag
        // the trace, so the releases written there are at most one for the quarantine that reached
        // it and one per quarantine the server wrote past it (each a few kilobytes: the reason and
        // actor are bounded).
        { op: 'appendProvenance', input: { traceId, at, actor: input.actor, action: 'released', operation: 'release', rationale: input.reason, data: { status } }, origin: 'system' },
        { op: 'addCheckpoint', checkpoint: { traceId, label: 'governance:release', passed: true, details: { reason: input.reason, actor: input.actor }, at } },
        { op: 'incrementCounters', deltas: { [`${PREFIX}released`]: 1 } },
        ...statusUnchangedOps(parents, { flags: this.deps.engine().policy.blockUnsafeMerge }),
      ]);
    } catch (error) {
      const parentId = parents.find((p) => isStatusConflict(error, p.id) || isFlagsConflict(error, p.id))?.id;
      if (parentId === undefined) throw error;
      throw mergeNotReleased(trace, [{ parentId, reason: 'its status or flags changed while the merge was being released; release it again to have its parents checked anew' }], error);
    }
  }

  /**
   * The parents of the merge `trace`, as read before they are checked, once validateMerge (not
   * counted) allows them again — the same check an approval makes;
   * else LIMIT_MERGE_REFUSED naming each refused parent, and the merge stays quarantined.
   */
  async #mergeableParents(storage: Storage, trace: Trace, actor: string): Promise<Trace[]> {
    const parents = await Promise.all(trace.parentIds.map((id) => storage.getTrace(trace.tenant, id)));
    const strategy = MergeStrategy.safeParse(trace.metadata.strategy);
    const validation = await this.validateMerge(MergeRequest.parse({
      tenant: trace.tenant, sessionId: trace.sessionId, parentIds: trace.parentIds, strategy: strategy.success ? strategy.data : 'union', rationale: '', actor,
    }), { count: false });
    if (!validation.allowed) throw mergeNotReleased(trace, validation.refusals);
    return parents.filter((p): p is Trace => p !== null);
  }

  async review(tenant: string, traceId: string, input: { approved: boolean; reason: string; actor: string; unchanged?: readonly (Pick<Trace, 'id' | 'status'> & { flags?: readonly unknown[] })[] }): Promise<void> {
    const storage = this.#storage('review');
    const trace = await this.#trace(storage, tenant, traceId);
    if (trace.status !== 'pending-review') {
      throw new LimitError('LIMIT_CONFLICT', `Trace "${traceId}" is ${trace.status}, not pending-review`, { details: { traceId, status: trace.status } });
    }
    await this.#requireDistinctReviewer(storage, tenant, traceId, input.actor, input.approved ? 'approve' : 'reject');
    const at = now();
    // An approved merge follows its output, as one made without review does (`error` for a failed
    // output); the entry records the status it set, which verifyTraceChain reads.
    const status: Trace['status'] = input.approved ? (trace.output?.ok === false ? 'error' : 'ok') : 'rejected';
    await storage.batch(tenant, [
      { op: 'updateTrace', id: traceId, patch: { status, completedAt: at }, ifStatus: 'pending-review' },
      { op: 'appendProvenance', input: { traceId, at, actor: input.actor, action: input.approved ? 'approved' : 'rejected', operation: 'review', rationale: input.reason, data: { completedAt: at, status } } },
      { op: 'addCheckpoint', checkpoint: { traceId, label: 'governance:review', passed: input.approved, details: { actor: input.actor, reason: input.reason }, at } },
      { op: 'incrementCounters', deltas: { [`${PREFIX}reviewed`]: 1, [`${PREFIX}reviewed.${input.approved ? 'approved' : 'rejected'}`]: 1 } },
      // Under blockUnsafeMerge the merge's check depends on the parents' flags: those given with
      // their flags must still hold as many.
      ...statusUnchangedOps(input.unchanged ?? [], { flags: this.deps.engine().policy.blockUnsafeMerge }),
    ]);
  }

  /** Whether `actor` may make this decision on the trace (#requireDistinctReviewer), before anything else is checked. */
  async checkReviewer(tenant: string, traceId: string, actor: string, decision: 'release' | 'approve' | 'reject'): Promise<void> {
    await this.#requireDistinctReviewer(this.#storage('checkReviewer'), tenant, traceId, actor, decision);
  }

  /**
   * Under requireDistinctReviewer, refuses a release or review by the trace's author: the actor of
   * its first provenance entry, written with the trace ('created', or 'merge' for a merge).
   */
  async #requireDistinctReviewer(storage: Storage, tenant: string, traceId: string, actor: string, what: 'release' | 'approve' | 'reject'): Promise<void> {
    if (this.deps.engine().policy.requireDistinctReviewer !== true) return;
    const author = (await storage.listProvenance(tenant, traceId))[0]?.actor;
    if (author === actor) {
      throw new LimitError('LIMIT_FORBIDDEN', `Trace "${traceId}" was created by "${actor}", who may not ${what} it: the governance policy requires a distinct reviewer`, {
        details: { traceId, actor, policy: 'requireDistinctReviewer' },
        fix: 'Have another actor of the tenant (over HTTP: another API key) do it, or set policy.requireDistinctReviewer to false.',
      });
    }
  }

  async validateMerge(request: MergeRequest, options: { count?: boolean } = {}): Promise<MergeValidation> {
    const storage = this.#storage('validateMerge');
    // A parent named twice is the caller's error, refused as the orchestrator refuses it (its merge
    // input has the same rule): LIMIT_VALIDATION naming the repeat, nothing counted, rather than
    // each of that parent's refusals listed twice.
    parseOrThrow(MERGE_PARENTS, { parentIds: request.parentIds }, 'merge request');
    const engine = this.deps.engine();
    const policy = engine.policy;
    const refusals: MergeValidation['refusals'] = [];
    // One read of each chain for the whole validation: an ancestor several parents reach (or a
    // parent that is another's ancestor) is read, and each head it holds checked, once.
    const chainOf = memoizeChainOf((id: string) => storage.listProvenance(request.tenant, id));
    const memo = mergeAncestryMemo();
    const ancestry = new AncestryReader(storage, request.tenant);
    for (const parentId of request.parentIds) {
      const parent = await storage.getTrace(request.tenant, parentId);
      if (!parent) {
        refusals.push({ parentId, reason: 'parent trace not found' });
        continue;
      }
      const q = await storage.getQuarantine(request.tenant, parentId);
      if (q?.quarantined || parent.status === 'quarantined') refusals.push({ parentId, reason: `parent is quarantined${q?.reason ? `: ${q.reason}` : ''}` });
      else if (parent.status === 'blocked' || parent.status === 'rejected') refusals.push({ parentId, reason: `parent is ${parent.status}` });
      else if (isMerge(parent)) {
        // A merge holds its parents' output, and they theirs: a quarantined ancestor refuses it as a
        // quarantined parent does (always, whatever the policy).
        const why = await ancestry.quarantinedAncestor(parent);
        if (why) refusals.push({ parentId, reason: why });
      }
      if (policy.blockUnsafeMerge) {
        // A person's release cleared the flags the trace carried then, as it does for autoQuarantine.
        const violating = flagsSinceRelease(parent.flags, q).filter((f) => engine.decide([f]).decision !== 'allow');
        const since = q && !q.quarantined ? ' since its release' : '';
        if (violating.length) refusals.push({ parentId, reason: `blockUnsafeMerge: parent carries policy-violating flags${since} (${violating.map((f) => `${f.kind} ${f.severity} ${f.ruleId}`).join(', ')})` });
      }
      if (policy.requireProvenance) {
        // A parent that is a merge: the heads it recorded of its parents, and they of theirs, too.
        const entries = await chainOf(parentId);
        const v = await verifyMergeAncestryAsync(verifyTraceChain(parent, entries), parentId, entries, chainOf, undefined, memo);
        if (v.length === 0) refusals.push({ parentId, reason: 'requireProvenance: parent has no provenance chain' });
        else if (!v.verified) refusals.push({ parentId, reason: `requireProvenance: parent's provenance chain is broken at seq ${v.brokenAt}${v.reason ? ` (${v.reason})` : ''}` });
      }
    }
    const allowed = refusals.length === 0;
    const review = allowed && policy.requireHumanReview;
    if (options.count !== false) await this.countMerge(request.tenant, allowed ? (review ? 'review' : 'allowed') : 'refused');
    if (allowed) this.#allowed.add(request);
    return { allowed, review, refusals };
  }

  async countMerge(tenant: string, outcome: MergeCount): Promise<void> {
    if (!MERGE_COUNTS.includes(outcome)) {
      throw new LimitError('LIMIT_VALIDATION', `Unknown merge outcome ${JSON.stringify(outcome)}: expected one of ${MERGE_COUNTS.join(', ')}`, { details: { field: 'outcome' } });
    }
    await this.#storage('countMerge').incrementCounters(tenant, { [`${PREFIX}merges.${outcome}`]: 1 });
  }

  /** Whether validateMerge allowed this very request (the beforeMerge guard need not check it again). */
  allowedMerge(request: MergeRequest): boolean {
    return this.#allowed.has(request);
  }

  async stats(tenant: string): Promise<Record<string, number>> {
    const counters = await this.#storage('stats').getCounters(tenant);
    return Object.fromEntries(Object.entries(counters).filter(([k]) => k.startsWith(PREFIX)).map(([k, v]) => [k.slice(PREFIX.length), v]));
  }

  async #trace(storage: Storage, tenant: string, traceId: string): Promise<Trace> {
    const trace = await storage.getTrace(tenant, traceId);
    if (!trace) throw new LimitError('LIMIT_NOT_FOUND', `Trace "${traceId}" not found for tenant "${tenant}"`, { details: { traceId, tenant } });
    return trace;
  }
}

/**
 * The governInput/governOutput taps as the engine's `extra`: the hook of the surface (output:
 * governOutput; input and tool: governInput), its taps getting the caller's signal (or one that never
 * aborts) and, for a bare text's check (GovernanceService.check, `limit governance check|eval`),
 * `bareText: true` in their context (the trace is check's stand-in). Undefined when no plugin tapped
 * it: the evaluation is then the engine's alone.
 */
export function governTaps(hooks: LimitHooks, surface: Surface, options: GovernanceCallOptions = {}, bareText = false): ((findings: Finding[], trace: Trace) => Promise<Finding[]>) | undefined {
  const hookName = surface === 'output' ? 'governOutput' : 'governInput';
  const hook = hooks[hookName];
  if (hook.taps.length === 0) return undefined;
  const base = bareText ? BARE_TEXT : NOT_CANCELLED;
  const context: GovernHookContext = options.signal ? { ...base, signal: options.signal } : base;
  return (findings, frozen) => addingTaps(hook, hookName, findings, frozen, context);
}

/**
 * Runs the governInput/governOutput taps in order, as the waterfall does (each gets the findings so
 * far, the frozen trace and the context), except that a tap can only *add* findings: it gets the
 * findings so far as a frozen copy, and what it returns is read as additions. A finding it leaves
 * out of its result is kept anyway (a tap returning only its own findings, `[own]` for
 * `[...findings, own]`, no longer drops the rules' findings or an earlier tap's), an equal copy of
 * one it was given is that finding (givenFindings), and a changed copy it returns is one more finding (merged with the original, the most severe kept): a tap cannot
 * remove or lower a finding. A tap returning undefined adds nothing (a waterfall tap returning
 * undefined leaves the value as it is). Each result is checked as the tap returns it (tapAdditions):
 * one that is not an array, or an invalid finding among the additions, is LIMIT_RULE_INVALID naming
 * the tap's plugin and hook, and the index in that tap's own result.
 */
async function addingTaps(hook: LimitHooks['governInput'], hookName: TapSource['hook'], findings: Finding[], trace: Trace, context: GovernHookContext): Promise<Finding[]> {
  let current = findings;
  for (const tap of hook.taps) {
    const given = frozenCopy(current);
    const fn = tap.fn as (...args: unknown[]) => unknown;
    // The taps are wrapped by the kernel (a failure names the plugin and the hook): called as tapable would.
    const result: unknown = tap.type === 'async'
      ? await new Promise((resolve, reject) => fn(given, trace, context, (error: unknown, value: unknown) => (error ? reject(error) : resolve(value))))
      : await fn(given, trace, context);
    if (result === undefined) continue;
    // Checked as this tap returns it, so an error names its plugin and the index in its own result;
    // the findings it was given, or copies of them, are not additions (givenFindings).
    const added = tapAdditions(result, given, { plugin: tap.name, hook: hookName });
    if (added.length) current = [...current, ...added];
  }
  return current;
}

/**
 * The flags of a trace that the policy still acts on: all of them, or after a release (a quarantine
 * state that is not quarantined) only those added since — the person who released the trace
 * cleared the ones it carried then. Used by autoQuarantine and by blockUnsafeMerge alike.
 * "Since" is by position, not by clock: the release records how many flags the trace held
 * (`flagCount`), and flags come back in insertion order (the storage contract), so a flag added in
 * the release's millisecond, or stamped by a clock behind the releasing process's, still counts.
 * A release written without `flagCount` (by an earlier version) falls back to the timestamps,
 * counting a flag of the release's own millisecond (it may have come after).
 */
function flagsSinceRelease(flags: readonly Flag[], state: QuarantineState | null | undefined): readonly Flag[] {
  if (!state || state.quarantined) return flags;
  return state.flagCount === undefined ? flags.filter((f) => f.at >= state.at) : flags.slice(state.flagCount);
}

/** Records on the verdict how many findings were not stored as flags (none: the field is absent). */
function noteUnrecorded(verdict: GovernanceVerdict, recorded: { unrecorded: number }): void {
  if (recorded.unrecorded > 0) verdict.unrecordedFindings = recorded.unrecorded;
}

const unrecordedReason = (traceId: string, n: number) =>
  `${n} finding(s) not recorded as flags: trace "${traceId}" holds at most ${MAX_FLAGS_PER_TRACE.toLocaleString('en-US')} flags (MAX_FLAGS_PER_TRACE) and 4 × maxRecordBytes of flags, each at most maxRecordBytes, and keeps the most severe`;

/**
 * Reads a merge's ancestry — its parents, and theirs for each that is a merge — for quarantined
 * traces, breadth first. The reads (trace and quarantine state) are shared by every walk of one
 * validation and bounded: at most MAX_MERGE_ANCESTRY traces, past which a walk cannot say the
 * ancestry is clean, and says so.
 */
class AncestryReader {
  readonly #read = new Map<string, Promise<{ trace: Trace | null; quarantine: QuarantineState | null }>>();
  constructor(private readonly storage: Storage, private readonly tenant: string) {}

  #get(id: string) {
    let got = this.#read.get(id);
    if (!got) {
      got = Promise.all([this.storage.getTrace(this.tenant, id), this.storage.getQuarantine(this.tenant, id)]).then(([trace, quarantine]) => ({ trace, quarantine }));
      this.#read.set(id, got);
    }
    return got;
  }

  /** Why the merge `root` may not be merged because of an ancestor (the nearest quarantined one), or undefined. */
  async quarantinedAncestor(root: Trace): Promise<string | undefined> {
    const seen = new Set([root.id]);
    let level: { trace: Trace; path: string[] }[] = [{ trace: root, path: [root.id] }];
    while (level.length) {
      const next: typeof level = [];
      const wanted: { id: string; path: string[] }[] = [];
      for (const { trace, path } of level) {
        for (const id of trace.parentIds) if (!seen.has(id)) (seen.add(id), wanted.push({ id, path: [...path, id] }));
      }
      if (this.#read.size + wanted.filter(({ id }) => !this.#read.has(id)).length > MAX_MERGE_ANCESTRY) {
        return `its merge ancestry holds more than ${MAX_MERGE_ANCESTRY} traces (MAX_MERGE_ANCESTRY): its ancestors cannot all be checked for quarantine`;
      }
      const got = await Promise.all(wanted.map(({ id }) => this.#get(id)));
      for (const [i, { trace, quarantine }] of got.entries()) {
        const { id, path } = wanted[i]!;
        if (!trace) continue; // an ancestor no longer stored holds nothing to check
        if (quarantine?.quarantined || trace.status === 'quarantined') {
          return `ancestor ${id} is quarantined${quarantine?.reason ? `: ${quarantine.reason}` : ''} (reached through ${path.join(' → ')})`;
        }
        if (isMerge(trace)) next.push({ trace, path });
      }
      level = next;
    }
    return undefined;
  }
}

/** A trace the orchestrator's merge() wrote (its runner and task kind, which no run or recorded trace may take). */
const isMerge = (trace: Trace): boolean => trace.runner === 'merge' && trace.task.kind === 'merge';

/** LIMIT_MERGE_REFUSED for the release of a merge whose parents governance no longer allows. */
const mergeNotReleased = (trace: Trace, refusals: MergeValidation['refusals'], cause?: unknown) =>
  new LimitError('LIMIT_MERGE_REFUSED', `Trace "${trace.id}" is a merge, and governance no longer allows its parents (${refusals.map((r) => `${r.parentId}: ${r.reason}`).join('; ')}): it holds their output, so it stays quarantined`, {
    ...(cause === undefined ? {} : { cause }),
    details: { traceId: trace.id, parentIds: [...trace.parentIds], refusals },
    fix: 'Deal with the parents first (release one quarantined by mistake), then release the merge again; or leave the merge quarantined.',
  });

const alreadyQuarantined = (traceId: string, status: Trace['status']) =>
  new LimitError('LIMIT_CONFLICT', `Trace "${traceId}" is already quarantined`, { details: { traceId, status }, fix: 'Release it first to quarantine it again with another reason.' });
