/**
 * The domain records of LIMIT-Graph as zod schemas; the TypeScript types are inferred from them, so
 * the schema used to validate API input, storage rows and config is the same as the static type.
 */
import { randomFillSync } from 'node:crypto';
import { z } from 'zod';

/** Ids: 1–128 characters of [A-Za-z0-9_.:-], not starting with a dot (no path tricks, no separators). */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/, 'Expected an id of letters, digits, "_", "-", ":" or "." (not starting with ".")');
/**
 * A tenant: an id by the same rule. Every record belongs to one tenant, and storage never hands it
 * to another.
 */
export const Tenant = Id;

/** Random bytes drawn 4 KiB at a time: one native call per ~400 ids instead of one per id. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
const idState = { ms: -1, seq: 0 };
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function randomBytes(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}

/**
 * A new record id: a UUIDv7 (RFC 9562) — 48-bit Unix milliseconds, then a 32-bit counter that
 * starts at a random value each millisecond and counts up within it (method 1 of RFC 9562 §6.2, so
 * ids of one process sort in creation order), then 42 random bits. Records created one after
 * another get neighbouring keys, so an indexed store appends to the same B-tree pages instead of
 * touching a random page per record (measured on SQLite: ~40% more traces recorded per second than
 * with random v4 ids).
 */
export function newId(): string {
  const now = Date.now();
  if (now > idState.ms) {
    idState.ms = now;
    idState.seq = pool.readUInt32BE(randomBytes(4)) >>> 1; // room to count up within the millisecond
  } else if (++idState.seq > 0xffffffff) {
    idState.ms++; // 2^31 ids in one millisecond: borrow the next one, as RFC 9562 allows
    idState.seq = 0;
  }
  const { ms, seq } = idState;
  const r = randomBytes(6);
  const b = [
    Math.floor(ms / 0x10000000000) & 0xff, Math.floor(ms / 0x100000000) & 0xff, (ms >>> 24) & 0xff, (ms >>> 16) & 0xff, (ms >>> 8) & 0xff, ms & 0xff,
    0x70 | ((seq >>> 28) & 0x0f), (seq >>> 20) & 0xff, 0x80 | ((seq >>> 14) & 0x3f), (seq >>> 6) & 0xff, ((seq << 2) & 0xfc) | (pool[r]! & 0x03),
    pool[r + 1]!, pool[r + 2]!, pool[r + 3]!, pool[r + 4]!, pool[r + 5]!,
  ].map((x) => HEX[x]!);
  return `${b[0]}${b[1]}${b[2]}${b[3]}-${b[4]}${b[5]}-${b[6]}${b[7]}-${b[8]}${b[9]}-${b[10]}${b[11]}${b[12]}${b[13]}${b[14]}${b[15]}`;
}
/** ISO-8601 timestamps with milliseconds, UTC. */
export const Timestamp = z.iso.datetime({ offset: true });

/**
 * Refuses, in a listing's schema, a time range whose `from` (inclusive) is after its `to` (exclusive):
 * no instant is in it, so the listing would silently be empty. One issue at each of the two fields,
 * compared as instants (offsets applied). An empty window (`from` = `to`) is a range, and allowed.
 * The one rule of every `from`/`to` filter: storage's trace query and the HTTP API's query schema.
 */
export function refuseReversedTimeRange(range: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx): void {
  if (range.from === undefined || range.to === undefined) return;
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  if (Number.isNaN(from) || Number.isNaN(to) || from <= to) return;
  ctx.addIssue({ code: 'custom', path: ['from'], message: `${range.from} is after \`to\` (${range.to}): no time is in the range; give from at or before to` });
  ctx.addIssue({ code: 'custom', path: ['to'], message: `${range.to} is before \`from\` (${range.from})` });
}

/** The kinds of flag governance raises. */
export const FLAG_KINDS = ['Jailbreak', 'Anomaly', 'HighRisk', 'Unsafe', 'Malicious', 'Unverified'] as const;
/** One of FLAG_KINDS. */
export const FlagKind = z.enum(FLAG_KINDS);
export type FlagKind = z.infer<typeof FlagKind>;
/**
 * How serious a finding or flag is: an integer from 1 to 10. Policies block and quarantine from
 * thresholds of it.
 */
export const Severity = z.number().int().min(1).max(10);

/**
 * Limits of each task in a session: tasks at once (default 4), network access (default off), a
 * wall-clock timeout (default 30 s) and memory (default 512 MB; runner-python bounds each process of
 * a task by it, not the task's processes together). A runner applies the stricter of
 * these and its own options.
 */
export const SessionLimits = z.object({
  maxConcurrency: z.number().int().min(1).max(1024).default(4),
  allowNetwork: z.boolean().default(false),
  timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
  memoryMb: z.number().int().min(16).max(1_048_576).default(512),
});
export type SessionLimits = z.infer<typeof SessionLimits>;

/** A session is `open` until it is closed; a closed session runs no more tasks. */
export const SessionStatus = z.enum(['open', 'closed']);
/**
 * A session as stored: a context of runs (a runner keeps its per-session state, working directory or
 * conversation, per session) with limits that apply to each task.
 */
export const Session = z.object({
  id: Id,
  tenant: Tenant,
  name: z.string().max(256).default(''),
  status: SessionStatus,
  createdAt: Timestamp,
  closedAt: Timestamp.optional(),
  limits: SessionLimits,
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type Session = z.infer<typeof Session>;

/**
 * Where governance reads a trace: the task `input`, the runner's `output`, or the `tool` outputs
 * the agent received.
 */
export const Surface = z.enum(['input', 'output', 'tool']);
export type Surface = z.infer<typeof Surface>;

/**
 * Where a finding was seen: a field of the trace, the span [start, end) in its text, and an excerpt
 * of at most 512 characters.
 */
export const Evidence = z.object({
  /** Which part of the trace: `task.input`, `output.stdout`, `tool:<name>` … */
  field: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  excerpt: z.string().max(512),
});
export type Evidence = z.infer<typeof Evidence>;

/**
 * A finding recorded on a trace: its kind and severity, the rule that raised it, why, and where
 * (evidence). A flag a person added has `autoDetected: false` and the rule id `manual`.
 */
export const Flag = z.object({
  id: Id,
  traceId: Id,
  kind: FlagKind,
  severity: Severity,
  reason: z.string().min(1).max(2048),
  ruleId: z.string().min(1).max(256),
  evidence: z.array(Evidence).default([]),
  autoDetected: z.boolean(),
  at: Timestamp,
});
export type Flag = z.infer<typeof Flag>;

/** What a governance rule reports; the engine turns findings into flags. */
export const Finding = z.object({
  ruleId: z.string().min(1),
  kind: FlagKind,
  severity: Severity,
  /** At most 2,048 characters: the flag made of the finding holds it. */
  reason: z.string().min(1).max(2048),
  evidence: z.array(Evidence).default([]),
  /** Optional confidence in [0, 1]; the LLM judge is consulted for the uncertain band. */
  confidence: z.number().min(0).max(1).optional(),
});
export type Finding = z.infer<typeof Finding>;

/**
 * Where a trace stands: `running` (in the pipeline), `ok`, `error` (the runner failed), `blocked`
 * (governance stopped it; a blocked task is not executed), `quarantined`, `pending-review` (a merge
 * waiting for a reviewer) or `rejected` (a merge the reviewer refused).
 */
export const TraceStatus = z.enum(['running', 'ok', 'error', 'blocked', 'quarantined', 'pending-review', 'rejected']);
export type TraceStatus = z.infer<typeof TraceStatus>;

/**
 * How many entries a task's lists and maps may hold. Governance reads every file, every variable
 * and every tool output as a field of its own (~70 µs each before any rule finds anything), so
 * their number is bounded, not only the body's size: 60,000 one-character files cost 5 s of
 * governance while staying under a 1 MiB body. The bounds sit far above what a task needs — a
 * process's whole environment is typically 30–150 variables, a task ships a few source or data
 * files, and arguments are a command line — and keep a trace's governance overhead at a few hundred
 * milliseconds at most (1 + 1,024 + 1 + 1,024 input fields, 256 tool outputs).
 */
export const TASK_LIMITS = Object.freeze({
  /** Entries of `task.files`. */
  files: 1024,
  /** Variables of `task.env`. */
  env: 1024,
  /** Items of `task.args` (governance reads them joined, as one field). */
  args: 4096,
  /** Items of `task.toolOutputs`. */
  toolOutputs: 256,
});

/**
 * A string map of at most `max` entries (JSON Schema `maxProperties`); more is a validation issue
 * on the map itself, so the error names the field (`task.env: …`).
 */
export function boundedRecord<K extends z.core.$ZodRecordKey>(key: K, max: number) {
  return z
    .record(key, z.string())
    .refine((r) => Object.keys(r).length <= max, { message: `Too big: expected at most ${max} entries` })
    .meta({ maxProperties: max });
}

/**
 * A unit of work for a runner: code for a code runner, a prompt for a model runner. The counts of
 * files, env, args and toolOutputs are bounded by TASK_LIMITS.
 */
export const Task = z.object({
  input: z.string().max(1_000_000),
  kind: z.enum(['code', 'prompt', 'merge', 'external']).default('code'),
  language: z.string().max(64).optional(),
  /** Extra files to place in the session's working directory (path → content). */
  files: boundedRecord(z.string(), TASK_LIMITS.files).optional(),
  env: boundedRecord(z.string(), TASK_LIMITS.env).optional(),
  args: z.array(z.string()).max(TASK_LIMITS.args).optional(),
  /** Outputs of tools the agent called, scanned by governance on the `tool` surface. */
  toolOutputs: z.array(z.object({ name: z.string(), content: z.string().max(1_000_000) })).max(TASK_LIMITS.toolOutputs).optional(),
});
export type Task = z.input<typeof Task>;
/** A task after parsing, defaults applied (`kind` is always set): what runners receive. */
export type TaskParsed = z.output<typeof Task>;

/**
 * What a runner produced: `ok`, stdout, stderr, an optional `value` (e.g. the last expression's value),
 * and `error` (code and message) when `ok` is false.
 */
export const RunOutput = z.object({
  ok: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  value: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RunOutput = z.infer<typeof RunOutput>;

/** Measurements of a run: its latency, and the token counts and exit code when the runner knows them. */
export const RunMetrics = z.object({
  latencyMs: z.number().min(0),
  tokensIn: z.number().int().min(0).optional(),
  tokensOut: z.number().int().min(0).optional(),
  exitCode: z.number().int().optional(),
});
export type RunMetrics = z.infer<typeof RunMetrics>;

/**
 * One task executed in a session (or a merge of traces): the task, output, metrics, status and flags;
 * `parentIds` names the traces it was made from.
 */
export const Trace = z.object({
  id: Id,
  sessionId: Id,
  tenant: Tenant,
  parentIds: z.array(Id).default([]),
  runner: z.string().min(1).max(128),
  task: Task,
  output: RunOutput.optional(),
  metrics: RunMetrics.optional(),
  status: TraceStatus,
  flags: z.array(Flag).default([]),
  createdAt: Timestamp,
  completedAt: Timestamp.optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type Trace = z.infer<typeof Trace>;

/**
 * What a provenance entry records, 1–64 characters: `created`, `executed`, … (the runtime's own are
 * SYSTEM_PROVENANCE_ACTIONS) or an action of an API client's own.
 */
export const ProvenanceAction = z.string().min(1).max(64);
/**
 * The actions the runtime records itself (the run pipeline, merges and their review, governance).
 * API clients append entries of their own ("reviewed", "annotated"), never one of these: an entry
 * saying "approved" or "completed" must have come from the step it names.
 */
export const SYSTEM_PROVENANCE_ACTIONS: readonly string[] = Object.freeze([
  'created', 'executed', 'completed', 'blocked', 'failed', 'merge', 'review-requested', 'approved', 'rejected', 'quarantined', 'released', 'flagged',
]);

/**
 * An action name folded for comparison with SYSTEM_PROVENANCE_ACTIONS: compatibility forms unified
 * (NFKD, then NFKC: `ａｐｐｒｏｖｅｄ`, `ﬂagged`), accents and other combining marks removed, invisible
 * characters removed (default-ignorable code points such as U+200B, format and control characters),
 * case folded (`APPROVED`, `Approved`; upper then lower case, so `ı` and `ſ` fold too), each run of
 * spaces, underscores and dashes made one `-` (`review requested`, `review_requested`, `review‐requested`)
 * and `-` trimmed from both ends (`approved `). Lookalike letters of other scripts (Cyrillic `а`) are
 * not folded.
 */
export function foldProvenanceAction(action: string): string {
  return action
    .normalize('NFKD')
    .replace(/[\s_\p{Pd}]+/gu, '-')
    .replace(/[\p{Default_Ignorable_Code_Point}\p{Mn}\p{Me}\p{Cf}\p{Cc}]/gu, '')
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * The system action (SYSTEM_PROVENANCE_ACTIONS) an action name reads as once folded
 * (foldProvenanceAction), or undefined: `Approved`, `APPROVED`, `approved ` and `created\u200b` are
 * `approved` and `created`. Appends from outside the runtime (the HTTP API's
 * `POST /traces/:id/provenance`) refuse such a name, so no client entry reads as one the runtime wrote.
 */
export function systemProvenanceAction(action: string): string | undefined {
  const folded = foldProvenanceAction(action);
  return SYSTEM_PROVENANCE_ACTIONS.find((a) => a === folded);
}

/** What a provenance entry did to the trace graph or to the trace's state. */
export const ProvenanceOperation = z.enum(['add', 'merge', 'split', 'remove', 'rewire', 'update', 'flag', 'quarantine', 'release', 'review']);

/** What a caller supplies; storage assigns `seq`, `prevHash` and `hash`. */
export const ProvenanceInput = z.object({
  traceId: Id,
  at: Timestamp,
  actor: z.string().min(1).max(256),
  action: ProvenanceAction,
  source: z.string().max(1024).optional(),
  operation: ProvenanceOperation.optional(),
  rationale: z.string().max(8192).optional(),
  data: z.unknown().optional(),
});
export type ProvenanceInput = z.infer<typeof ProvenanceInput>;

/**
 * A link of a trace's provenance chain: the caller's input plus `seq` (from 0), `prevHash` (the
 * previous entry's `hash`; GENESIS_HASH for the first) and `hash`, the SHA-256 of the entry's
 * canonical JSON without `hash` (`hashProvenance`).
 */
export const ProvenanceEntry = ProvenanceInput.extend({
  seq: z.number().int().min(0),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ProvenanceEntry = z.infer<typeof ProvenanceEntry>;

/** The result of checking a provenance chain: whether it verifies, its length, its first broken link. */
export const ChainVerification = z.object({
  verified: z.boolean(),
  length: z.number().int().min(0),
  /** seq of the first broken link, or null when the chain verifies. */
  brokenAt: z.number().int().nullable(),
  reason: z.string().optional(),
  /**
   * For a merge that verifies: what of its ancestry was not checked (verifyMergeAncestry) — an
   * ancestor whose chain was not available (an artifact that does not hold it), or the ancestry
   * beyond MAX_MERGE_ANCESTRY traces. Absent when everything was checked.
   */
  unchecked: z.array(z.string()).optional(),
});
export type ChainVerification = z.infer<typeof ChainVerification>;

/**
 * A governance decision recorded on a trace: a label (e.g. `governance:input`), whether it passed, and
 * the details.
 */
export const Checkpoint = z.object({
  traceId: Id,
  label: z.string().min(1).max(256),
  passed: z.boolean(),
  details: z.record(z.string(), z.unknown()).default({}),
  at: Timestamp,
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** Whether a trace is quarantined, by whom, since when and why. */
export const QuarantineState = z.object({
  traceId: Id,
  quarantined: z.boolean(),
  reason: z.string().max(2048),
  actor: z.string().max(256),
  at: Timestamp,
  /**
   * The status the trace had when it was quarantined, which a release gives back (absent: `ok`, or
   * `error` for a failed output). `running`: quarantined while it ran; the run's final write puts
   * the status it ended with here, and until then a release is refused.
   */
  previousStatus: TraceStatus.optional(),
  /**
   * On a release (`quarantined: false`): how many flags the trace held when it was released. Flags
   * are only ever added and come back in insertion order, so the flags past this count are the ones
   * added since the release, whatever their timestamps (blockUnsafeMerge and autoQuarantine count
   * only those). Absent (a state written by an earlier version): flags at or after `at` count.
   */
  flagCount: z.number().int().min(0).optional(),
});
export type QuarantineState = z.infer<typeof QuarantineState>;

/**
 * What governance enforces: which flags block, when traces are quarantined, and what a merge needs.
 * The presets (permissive, default, strict) set these; docs/governance.md compares them.
 */
export const GovernancePolicy = z.object({
  /** Refuse merges whose parents carry policy-violating flags. */
  blockUnsafeMerge: z.boolean(),
  /** Refuse merges of parents whose provenance chain is missing or does not verify. */
  requireProvenance: z.boolean(),
  /** Block (do not execute) traces flagged Jailbreak at or above `blockSeverity`. */
  blockJailbreakTraces: z.boolean(),
  /** Block traces flagged Anomaly above `maxAnomalySeverity`. */
  blockAnomalyTraces: z.boolean(),
  maxAnomalySeverity: Severity,
  /** Merges wait as `pending-review` until approved or rejected. */
  requireHumanReview: z.boolean(),
  /** Quarantine traces whose highest flag severity reaches `quarantineSeverity`. */
  autoQuarantine: z.boolean(),
  quarantineSeverity: Severity,
  /** Block traces flagged Malicious at or above `blockSeverity`. */
  blockMaliciousTraces: z.boolean(),
  /**
   * Separation of duties: the actor who created a trace (ran it, recorded it, requested the merge:
   * the actor of its first provenance entry) may not release it from quarantine nor approve or
   * reject it; another actor of the tenant must (LIMIT_FORBIDDEN otherwise). Default false; the
   * `strict` preset sets it.
   */
  requireDistinctReviewer: z.boolean().optional(),
});
export type GovernancePolicy = z.infer<typeof GovernancePolicy>;

/**
 * What governance decided for a trace: `allow`, `block`, `quarantine` or `review` (the highest
 * severity lies in the preset's uncertain band); docs/governance.md, "Decisions", gives the rules.
 */
export const Decision = z.enum(['allow', 'block', 'quarantine', 'review']);
export type Decision = z.infer<typeof Decision>;

/**
 * One step of a rate–distortion series: its number, the rate spent (≥ 0, in bits or an operational
 * unit) and the distortion reached (≥ 0).
 */
export const RdPoint = z.object({
  step: z.number().int().min(0),
  rate: z.number().finite().min(0),
  distortion: z.number().finite().min(0),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type RdPoint = z.infer<typeof RdPoint>;

/**
 * The keys a step measured from a graph writes into its point's `meta` (orchestrator.recordRdStep):
 * the algorithm, its iterations and convergence, and the graph's node and edge counts. A graph step's
 * own `meta` may not use them (LIMIT_VALIDATION naming `meta.<key>`), so neither overwrites the other.
 */
export const RD_MEASURED_META_KEYS = ['algorithm', 'iterations', 'converged', 'nodes', 'edges'] as const;

/**
 * A refinement refusing each of `keys` present in the input's `field` (a record the server writes
 * those keys of itself): one issue per key, at `<field>.<key>`, saying `why(key)`.
 */
export function refuseReservedKeys<F extends string>(field: F, keys: readonly string[], why: (key: string) => string) {
  return (input: { [K in F]?: Record<string, unknown> | undefined }, ctx: z.RefinementCtx): void => {
    const held = input[field];
    if (!held) return;
    for (const key of keys) if (Object.hasOwn(held, key)) ctx.addIssue({ code: 'custom', path: [field, key], message: why(key) });
  };
}

const refuseMeasuredKeys = refuseReservedKeys('meta', RD_MEASURED_META_KEYS, () => `is written by the measurement of \`graph\` (meta keys ${RD_MEASURED_META_KEYS.join(', ')}); give your own value another key`);

/**
 * Refuses, in a step's schema, a graph step whose `meta` holds a key its measurement writes
 * (RD_MEASURED_META_KEYS): one issue per key, at `meta.<key>`.
 */
export function refuseMeasuredMetaKeys(step: { graph?: unknown; meta?: Record<string, unknown> | undefined }, ctx: z.RefinementCtx): void {
  if (step.graph !== undefined) refuseMeasuredKeys(step, ctx);
}

/**
 * A point to append (`storage.appendRdPoint`): without `step`, storage gives it the series' next step
 * (one more than its largest) inside the append's own transaction.
 */
export const RdPointInput = RdPoint.extend({ step: RdPoint.shape.step.optional() });
export type RdPointInput = z.infer<typeof RdPointInput>;

/** A named rate–distortion series of a session, its points step by step. */
export const RdSeries = z.object({
  id: Id,
  sessionId: Id,
  tenant: Tenant,
  name: z.string().min(1).max(256),
  points: z.array(RdPoint).default([]),
  createdAt: Timestamp,
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type RdSeries = z.infer<typeof RdSeries>;

/** A run before its trace exists: what `beforeRun` taps receive and may rewrite. */
export const RunRequest = z.object({
  sessionId: Id,
  tenant: Tenant,
  runner: z.string().min(1),
  task: Task,
  parentIds: z.array(Id).default([]),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type RunRequest = z.infer<typeof RunRequest>;

/** How a merge combines its parents' outputs; see `MergeInput.strategy`. */
export const MergeStrategy = z.enum(['union', 'concat', 'first-success', 'majority', 'custom']);
export type MergeStrategy = z.infer<typeof MergeStrategy>;
/**
 * A merge names each parent once (zod refinement of a `parentIds` list): a repeat is named by its
 * position and the one it repeats (`parentIds.2: "a" repeats parentIds.0`). The orchestrator's merge
 * input and `MergeRequest` (so `validateMerge`) share it.
 */
export function eachParentOnce(ids: readonly string[], ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  ids.forEach((id, i) => {
    const seen = first.get(id);
    if (seen === undefined) first.set(id, i);
    else ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(id)} repeats parentIds.${seen}; a merge names each parent once` });
  });
}

/**
 * A merge's `output` goes with strategy `custom`, and only with it (zod refinement of a merge input
 * `{ strategy?, output? }`; the strategy left out is `union`): `custom` without one, or one given with
 * another strategy — which computes the merged output from the parents, so the caller's would be
 * dropped — is an issue at `output`. The orchestrator's merge input and api-http's `POST /merges`
 * body share it.
 */
export function outputOnlyWithCustom(input: { strategy?: MergeStrategy | undefined; output?: unknown }, ctx: z.RefinementCtx): void {
  if (input.strategy === 'custom') {
    if (input.output === undefined) ctx.addIssue({ code: 'custom', path: ['output'], message: 'strategy "custom" requires output' });
  } else if (input.output !== undefined) {
    ctx.addIssue({
      code: 'custom', path: ['output'],
      message: `applies only to strategy "custom": strategy "${input.strategy ?? 'union'}"${input.strategy === undefined ? ' (the default)' : ''} computes the merged output from the parents, so this output would be ignored; give strategy "custom" with it, or leave output out`,
    });
  }
}

/**
 * A merge as governance (`validateMerge`) and `beforeMerge` taps see it: the parents (each once),
 * the strategy, and who asks for it and why.
 */
export const MergeRequest = z.object({
  tenant: Tenant,
  sessionId: Id,
  parentIds: z.array(Id).min(1).superRefine(eachParentOnce),
  strategy: MergeStrategy.default('union'),
  rationale: z.string().max(8192).default(''),
  actor: z.string().default('system'),
});
export type MergeRequest = z.infer<typeof MergeRequest>;
/** A `beforeMerge` tap returns a veto to refuse the merge, or undefined to let it through. */
export interface MergeVeto {
  reason: string;
  by: string;
}

/**
 * Outcome of a health check: `ok`, `degraded` (working, with something not enforced or missing), or
 * `fail`.
 */
export const HealthStatus = z.enum(['ok', 'degraded', 'fail']);
/** A plugin's or service's health: a status, a message, and named checks that `limit doctor` prints. */
export const HealthResult = z.object({
  status: HealthStatus,
  message: z.string().optional(),
  checks: z
    .array(z.object({ name: z.string(), status: HealthStatus, message: z.string().optional() }))
    .default([]),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type HealthResult = z.input<typeof HealthResult>;

/** A page of results with an opaque cursor for the next page (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
