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

export const FLAG_KINDS = ['Jailbreak', 'Anomaly', 'HighRisk', 'Unsafe', 'Malicious', 'Unverified'] as const;
export const FlagKind = z.enum(FLAG_KINDS);
export type FlagKind = z.infer<typeof FlagKind>;
export const Severity = z.number().int().min(1).max(10);

export const SessionLimits = z.object({
  maxConcurrency: z.number().int().min(1).max(1024).default(4),
  allowNetwork: z.boolean().default(false),
  timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
  memoryMb: z.number().int().min(16).max(1_048_576).default(512),
});
export type SessionLimits = z.infer<typeof SessionLimits>;

export const SessionStatus = z.enum(['open', 'closed']);
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

export const Surface = z.enum(['input', 'output', 'tool']);
export type Surface = z.infer<typeof Surface>;

export const Evidence = z.object({
  /** Which part of the trace: `task.input`, `output.stdout`, `tool:<name>` … */
  field: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  excerpt: z.string().max(512),
});
export type Evidence = z.infer<typeof Evidence>;

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
  reason: z.string().min(1),
  evidence: z.array(Evidence).default([]),
  /** Optional confidence in [0, 1]; the LLM judge is consulted for the uncertain band. */
  confidence: z.number().min(0).max(1).optional(),
});
export type Finding = z.infer<typeof Finding>;

export const TraceStatus = z.enum(['running', 'ok', 'error', 'blocked', 'quarantined', 'pending-review', 'rejected']);
export type TraceStatus = z.infer<typeof TraceStatus>;

/** A unit of work for a runner: code for a code runner, a prompt for a model runner. */
export const Task = z.object({
  input: z.string().max(1_000_000),
  kind: z.enum(['code', 'prompt', 'merge', 'external']).default('code'),
  language: z.string().max(64).optional(),
  /** Extra files to place in the session's working directory (path → content). */
  files: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  args: z.array(z.string()).optional(),
  /** Outputs of tools the agent called, scanned by governance on the `tool` surface. */
  toolOutputs: z.array(z.object({ name: z.string(), content: z.string().max(1_000_000) })).optional(),
});
export type Task = z.input<typeof Task>;
export type TaskParsed = z.output<typeof Task>;

export const RunOutput = z.object({
  ok: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  value: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RunOutput = z.infer<typeof RunOutput>;

export const RunMetrics = z.object({
  latencyMs: z.number().min(0),
  tokensIn: z.number().int().min(0).optional(),
  tokensOut: z.number().int().min(0).optional(),
  exitCode: z.number().int().optional(),
});
export type RunMetrics = z.infer<typeof RunMetrics>;

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

export const ProvenanceAction = z.string().min(1).max(64);
/**
 * The actions the runtime records itself (the run pipeline, merges and their review, governance).
 * API clients append entries of their own ("reviewed", "annotated"), never one of these: an entry
 * saying "approved" or "completed" must have come from the step it names.
 */
export const SYSTEM_PROVENANCE_ACTIONS: readonly string[] = Object.freeze([
  'created', 'executed', 'completed', 'blocked', 'failed', 'merge', 'review-requested', 'approved', 'rejected', 'quarantined', 'released', 'flagged',
]);
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

export const ProvenanceEntry = ProvenanceInput.extend({
  seq: z.number().int().min(0),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ProvenanceEntry = z.infer<typeof ProvenanceEntry>;

export const ChainVerification = z.object({
  verified: z.boolean(),
  length: z.number().int().min(0),
  /** seq of the first broken link, or null when the chain verifies. */
  brokenAt: z.number().int().nullable(),
  reason: z.string().optional(),
});
export type ChainVerification = z.infer<typeof ChainVerification>;

export const Checkpoint = z.object({
  traceId: Id,
  label: z.string().min(1).max(256),
  passed: z.boolean(),
  details: z.record(z.string(), z.unknown()).default({}),
  at: Timestamp,
});
export type Checkpoint = z.infer<typeof Checkpoint>;

export const QuarantineState = z.object({
  traceId: Id,
  quarantined: z.boolean(),
  reason: z.string().max(2048),
  actor: z.string().max(256),
  at: Timestamp,
  /** The status the trace had when it was quarantined, which a release gives back (absent: `ok`, or `error` for a failed output). */
  previousStatus: TraceStatus.optional(),
});
export type QuarantineState = z.infer<typeof QuarantineState>;

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

export const Decision = z.enum(['allow', 'block', 'quarantine', 'review']);
export type Decision = z.infer<typeof Decision>;

export const RdPoint = z.object({
  step: z.number().int().min(0),
  rate: z.number().finite().min(0),
  distortion: z.number().finite().min(0),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type RdPoint = z.infer<typeof RdPoint>;

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

export const RunRequest = z.object({
  sessionId: Id,
  tenant: Tenant,
  runner: z.string().min(1),
  task: Task,
  parentIds: z.array(Id).default([]),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type RunRequest = z.infer<typeof RunRequest>;

export const MergeStrategy = z.enum(['union', 'concat', 'first-success', 'majority', 'custom']);
export type MergeStrategy = z.infer<typeof MergeStrategy>;
export const MergeRequest = z.object({
  tenant: Tenant,
  sessionId: Id,
  parentIds: z.array(Id).min(1),
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

export const HealthStatus = z.enum(['ok', 'degraded', 'fail']);
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
