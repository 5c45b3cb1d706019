/**
 * The orchestrator (`orchestrator` in the container): what users and the HTTP API call. It ties
 * sessions, storage, governance, runners and the RD plugins together into the governed run pipeline,
 * merges, federation, RD tracking and artifact export.
 *
 * Every method is tenant-scoped. `tenant` is optional in inputs and then means the runtime's
 * `config.tenant` (the CLI and `auth: none` default); the HTTP API always passes the caller's tenant.
 * Failures are `LimitError`s: LIMIT_NOT_FOUND (unknown session/trace of this tenant),
 * LIMIT_SESSION_CLOSED, LIMIT_RUNNER_NOT_FOUND, LIMIT_VALIDATION, LIMIT_MERGE_REFUSED, LIMIT_CONFLICT.
 */
import type {
  ChainVerification, Checkpoint, Flag, MergeRequest, MergeStrategy, Page, ProvenanceEntry, RdPoint, RdSeries, RunMetrics,
  RunOutput, Session, SessionLimits, Task, Trace,
} from '../model/index.ts';
import type { RdPointAppended, SessionQuery, TraceQuery } from './storage.ts';
import type { GovernanceVerdict, MergeValidation } from './governance.ts';
import type { AttributedGraph, DistortionOptions } from './rd.ts';

// ───────────────────────────── sessions ─────────────────────────────

/**
 * What `orchestrator.openSession` takes (POST /sessions): the session is stored and its kernel
 * scope opened.
 */
export interface OpenSessionRequest {
  tenant?: string;
  /** Chosen by the caller or a random UUID. */
  id?: string;
  name?: string;
  /** Missing fields take the kernel's SessionLimits defaults. */
  limits?: Partial<SessionLimits>;
  metadata?: Record<string, unknown>;
}

// ───────────────────────────── runs ─────────────────────────────

/**
 * One task for `orchestrator.run`: the session and runner, the task, and the parents and metadata
 * to record on its trace.
 */
export interface RunInput {
  tenant?: string;
  sessionId: string;
  /** Runner name without the `runner:` prefix (`python`, `llama`, …). */
  runner: string;
  task: Task;
  parentIds?: string[];
  metadata?: Record<string, unknown>;
  /** Who asked (recorded in provenance); default `orchestrator`. */
  actor?: string;
  /** Cancels this run (in addition to the session closing and the session's timeoutMs). */
  signal?: AbortSignal;
}

/**
 * The result of `run` / `recordTrace`. The trace is final: status `ok`, `error` (runner failure,
 * timeout, abort), `blocked` (input governance; the runner was never called) or `quarantined`.
 */
export interface RunOutcome {
  trace: Trace;
  /** Was the runner called? False exactly when input governance blocked the task. */
  executed: boolean;
  /**
   * The governance verdicts. A run cancelled while one of its evaluations ran has none for it (an
   * aborted evaluation gives no verdict, never an `allow`): `input` is absent when the cancel came
   * during input governance (the runner was then not called, and `output` is the verdict on the
   * abort's error output), `output` when it came during output governance.
   */
  verdicts: { input?: GovernanceVerdict; output?: GovernanceVerdict };
  checkpoints: Checkpoint[];
}

/** A trace produced outside LIMIT-Graph (POST /traces); governance applies as for `run`. */
export interface RecordTraceInput {
  tenant?: string;
  sessionId: string;
  /** Free-form name of what produced it (`langchain-agent`, …). */
  runner: string;
  task: Task;
  output: RunOutput;
  metrics?: RunMetrics;
  parentIds?: string[];
  metadata?: Record<string, unknown>;
  actor?: string;
  /** Where the trace came from, recorded in the `created` provenance entry. */
  source?: string;
  /**
   * Cancels the recording until its write begins: aborted before (or while governance evaluates the
   * trace: the rule call in flight has its `ctx.signal` aborted), the call rejects with
   * LIMIT_RUNNER_ABORTED and stores nothing — no trace, checkpoint, flag or counter. Once the write
   * has begun it completes, and the trace is stored whole.
   */
  signal?: AbortSignal;
}

/** A trace with everything recorded about it. */
export interface TraceDetail {
  trace: Trace;
  provenance: ProvenanceEntry[];
  verification: ChainVerification;
  checkpoints: Checkpoint[];
  flags: Flag[];
  quarantined: boolean;
}

// ───────────────────────────── merges ─────────────────────────────


/**
 * What `orchestrator.merge` takes: the parent traces, how their outputs combine, and who asks for it
 * and why (both recorded in provenance).
 */
export interface MergeInput {
  tenant?: string;
  /** Session that receives the merged trace; default: the parents' session (required if they differ). */
  sessionId?: string;
  parentIds: string[];
  /**
   * How the parents' outputs combine: `union` (value = every parent's output), `concat` (stdout
   * joined), `first-success` (the first ok parent in the given order), `majority` (the stdout, trimmed,
   * a strict majority of all the parents agree on, only ok parents voting; else LIMIT_VALIDATION),
   * `custom` (requires `output`).
   */
  strategy?: MergeStrategy;
  rationale?: string;
  actor?: string;
  /**
   * The merged output, for `strategy: 'custom'` only (which requires it): with any other strategy the
   * output is computed from the parents, and one given is refused (LIMIT_VALIDATION at `output`).
   */
  output?: RunOutput;
  /**
   * The caller's own keys, stored with the merged trace. `strategy`, `federation` and `excluded` are
   * the server's (a federation's merge writes the last two, `excluded` also into its `merge`
   * provenance entry): metadata holding one is refused (LIMIT_VALIDATION at `metadata.<key>`).
   */
  metadata?: Record<string, unknown>;
  /**
   * Cancels the merge until its write begins, as RecordTraceInput's `signal` does a recording
   * (LIMIT_RUNNER_ABORTED, nothing stored, the merge not counted in the governance statistics);
   * output governance of the merged output is cut by it.
   */
  signal?: AbortSignal;
}

/** The merge trace and governance's validation of the merge. */
export interface MergeOutcome {
  /** Status `ok`, or `pending-review` when the policy requires human review. */
  trace: Trace;
  validation: MergeValidation;
}

/** Who approves or rejects a merge waiting as `pending-review`, and why (recorded in provenance). */
export interface ReviewInput {
  tenant?: string;
  actor: string;
  rationale?: string;
  /** Cancels the decision until its write begins (LIMIT_RUNNER_ABORTED; the merge stays pending-review). */
  signal?: AbortSignal;
}

// ───────────────────────────── federation ─────────────────────────────

/** One branch of a fan-out: a runner, in a session (default: the federation's session). */
export interface FederationTarget {
  runner: string;
  sessionId?: string;
  /** Label shown in results; default `<runner>@<sessionId>`. */
  label?: string;
}

/** How `orchestrator.federate` combines its branches; see `FederateInput.aggregate`. */
export type AggregateStrategy = 'all' | 'first-success' | 'majority';

/**
 * One task fanned out by `orchestrator.federate` to several runners or sessions, the results
 * aggregated and, by default, merged under governance.
 */
export interface FederateInput {
  tenant?: string;
  /** Default session of the branches and the session that receives the merged trace. */
  sessionId: string;
  task: Task;
  targets: FederationTarget[];
  /**
   * Branches running at once (each session's maxConcurrency still applies); default: all. Branches
   * over a session's maxConcurrency + maxWaitingRuns are refused (LIMIT_SESSION_BUSY, excluded).
   */
  concurrency?: number;
  /**
   * `all`: every branch runs, ok iff every branch is ok; `first-success`: the first ok branch wins
   * and the others are aborted; `majority`: the stdout a strict majority of branches agree on. Only
   * an ok branch governance allows as a merge parent (validateMerge, checked as it ends) counts: one
   * it would refuse is excluded as a failed one is.
   */
  aggregate: AggregateStrategy;
  /** Merge the eligible branches under governance (default true). */
  merge?: boolean;
  rationale?: string;
  actor?: string;
  metadata?: Record<string, unknown>;
  /**
   * Stops the federation: no branch starts after the abort, the running ones are aborted, and the
   * merge, when the abort comes while it is being made, is cancelled before its write; the outcome
   * then has no aggregate (`ok: false`, no traceIds, the abort as `reason`) and no merge.
   */
  signal?: AbortSignal;
}

/** One branch of a federation: its target, its trace, and why it was left out of the merge. */
export interface FederationBranch {
  target: Required<Pick<FederationTarget, 'runner' | 'sessionId' | 'label'>>;
  /** Absent only when the branch was not started (first-success already won) or failed before a trace existed. */
  trace?: Trace;
  /** Why the branch is not part of the merge: status quarantined/blocked/error/…, ok but refused by governance as a merge parent, or not the winner. */
  excluded?: string;
  error?: { code: string; message: string };
}

/** Every branch of a federation, their aggregate, and the merge (or governance's refusal of it). */
export interface FederationOutcome {
  branches: FederationBranch[];
  aggregate: {
    strategy: AggregateStrategy;
    ok: boolean;
    /** Traces the aggregate (and the merge) is made of. */
    traceIds: string[];
    /** The agreed stdout for `majority`, the winner's for `first-success`. */
    stdout?: string;
    reason?: string;
  };
  /**
   * The merge of `aggregate.traceIds`, or why it was not made: refused (`code` LIMIT_MERGE_REFUSED,
   * `refusals` per parent) or failed after the fan-out (another code — LIMIT_SESSION_CLOSED,
   * LIMIT_PAYLOAD_TOO_LARGE, … — with one refusal `'*'` giving the message). Never thrown: the
   * branches' results are kept.
   */
  merge?: MergeOutcome | { refused: true; code: string; refusals: { parentId: string; reason: string }[]; message: string };
}

// ───────────────────────────── rate–distortion ─────────────────────────────

/**
 * A new rate–distortion series in a session (`orchestrator.createRdSeries`); steps given as graphs
 * are measured against `reference`.
 */
export interface CreateRdSeriesInput {
  tenant?: string;
  sessionId: string;
  name: string;
  /** Reference graph: steps given as graphs are measured against it with `distortionAlgorithm`. */
  reference?: AttributedGraph;
  /** `rd:<name>` used for graph steps; default `fgw`. */
  distortionAlgorithm?: string;
  distortionOptions?: DistortionOptions;
  /**
   * The caller's own keys. The series stores `reference`, `distortionAlgorithm` and
   * `distortionOptions` here from the fields above, so metadata holding one is refused
   * (LIMIT_VALIDATION at `metadata.<key>`).
   */
  metadata?: Record<string, unknown>;
}

/** One refinement step: either a graph (distortion computed vs the reference) or a distortion. */
export interface RdStepInput {
  tenant?: string;
  rate: number;
  graph?: AttributedGraph;
  distortion?: number;
  /** Default: the next step number of the series. */
  step?: number;
  /**
   * Stored as the point's `meta`; a measured `graph` adds RD_MEASURED_META_KEYS (`algorithm`,
   * `iterations`, `converged`, `nodes`, `edges`), which a graph step's own `meta` may not use.
   */
  meta?: Record<string, unknown>;
  /** Wall-clock limit (ms) handed to the distortion algorithm with the series' options when `graph` is measured. */
  timeLimitMs?: number;
  /**
   * Stops the measurement of `graph` (LIMIT_RD_ABORTED, nothing recorded) when aborted: an algorithm
   * with `distortionAsync` gets it; a synchronous one is only checked before it starts.
   */
  signal?: AbortSignal;
}

/** The knee of an RD series as one detector finds it (`orchestrator.rdKnee`). */
export interface RdKnee {
  seriesId: string;
  detector: string;
  /** Index into `points` (sorted by rate), or null when there is no knee. */
  index: number | null;
  point: RdPoint | null;
  points: RdPoint[];
}

/**
 * A refinement loop for `orchestrator.refine`: a new series, and `step`, called for step 0, 1, …
 * until it returns null or `maxSteps` steps are recorded.
 */
export interface RefineInput extends CreateRdSeriesInput {
  /** Steps to run (the loop also stops when `step` returns null). */
  maxSteps: number;
  /**
   * Produces step `i`'s graph (or distortion) and rate. `context.signal` is the refinement's
   * `signal` (one that never aborts when none was given): a step that takes long may stop on it.
   */
  step(index: number, context: RefineStepContext): Promise<Omit<RdStepInput, 'tenant' | 'step'> | null> | Omit<RdStepInput, 'tenant' | 'step'> | null;
  /**
   * `knee:<name>`; default `kneedle` when present, else `menger`. Resolved before the series is
   * created: one not registered is LIMIT_SERVICE_NOT_FOUND before any step runs, storing nothing.
   */
  detector?: string;
  /**
   * Stops the refinement (LIMIT_RUNNER_ABORTED, or the signal's reason's code when it is a
   * LimitError; the message and `details.steps` say how many steps were recorded): checked before
   * the series is created and before each step, given to `step` and to the measurement of the step's
   * graph (with the step's own `signal`). The points recorded before stay in the series.
   */
  signal?: AbortSignal;
}

/** The second argument of `RefineInput.step`. */
export interface RefineStepContext {
  signal: AbortSignal;
}

// ───────────────────────────── artifacts ─────────────────────────────

/** Encoding of an exported artifact: one JSON document, JSON lines, or a folder of CSV files. */
export type ArtifactFormat = 'json' | 'jsonl' | 'csv';
/** The record kinds an artifact holds; each is a part with its own digest in the manifest. */
export type ArtifactPartName = 'sessions' | 'traces' | 'provenance' | 'flags' | 'checkpoints' | 'rdSeries';

/**
 * The manifest of an exported artifact: what it holds, the SHA-256 of each part, and whether every
 * provenance chain verified at export time.
 */
export interface ArtifactManifest {
  format: 'limit-graph-artifact';
  version: 1;
  encoding: ArtifactFormat;
  createdAt: string;
  tenant: string;
  sessionIds: string[];
  traceIds: string[];
  /** SHA-256 (hex) of each part's serialised bytes (see the orchestrator README) and its record count. */
  parts: Record<ArtifactPartName, { sha256: string; records: number; file?: string }>;
  /** Provenance verification at export time, per trace. */
  provenance: { verified: boolean; chains: (ChainVerification & { traceId: string })[] };
  /**
   * Stored text that was not well-formed Unicode (half a surrogate pair), exported with U+FFFD in
   * its place: each field so mended, by part, record index and dotted path. Absent when none was.
   */
  mended?: ArtifactMend[];
}

/** One mended field of an export (see ArtifactManifest.mended). */
export interface ArtifactMend {
  part: ArtifactPartName;
  /** The record's index in its part. */
  index: number;
  /** The record's `id`, or the `traceId` of a record that belongs to a trace. */
  id: string;
  /** The field, dotted (`task.input`, `output.stdout`, `metadata.note`). */
  field: string;
}

/** What `orchestrator.exportArtifact` exports: a whole session or a set of traces, and the encoding. */
export interface ExportInput {
  tenant?: string;
  /** Export a whole session … */
  sessionId?: string;
  /** … or a set of traces (with their provenance, flags and checkpoints). */
  traceIds?: string[];
  format: ArtifactFormat;
  /**
   * Most characters the artifact's files may hold together: at most, and by default, the
   * orchestrator's limit (128 Mi). An export over it is refused with LIMIT_PAYLOAD_TOO_LARGE as soon
   * as the records read so far hold more text than that, before the rest is read.
   */
  maxChars?: number;
  /**
   * Stops the export (LIMIT_RUNNER_ABORTED, `The export was aborted: …`; the signal's reason as is
   * when it is a LimitError): checked before it reads, and after each page of a session's traces and
   * each trace it reads. An export only reads, so nothing is left behind.
   */
  signal?: AbortSignal;
}

/** An export: files relative to the artifact root (one file for json/jsonl, a folder for csv). */
export interface ArtifactExport {
  manifest: ArtifactManifest;
  files: { path: string; content: string }[];
}

/**
 * What `orchestrator.verifyArtifact` found: each part's expected and actual digest, each
 * provenance chain, and the problems (none when `ok`).
 */
export interface ArtifactVerification {
  ok: boolean;
  encoding: ArtifactFormat | null;
  parts: { name: string; expected: string | null; actual: string; ok: boolean }[];
  chains: (ChainVerification & { traceId: string })[];
  /** Human-readable reasons it failed (empty when ok). */
  problems: string[];
}

// ───────────────────────────── stale runs ─────────────────────────────

/**
 * What `orchestrator.failStaleRuns` looks at: the traces still `running` that were created more
 * than `olderThanMs` ago (1 ms to MAX_STALE_MS, ten years), in one session or the whole tenant.
 */
export interface FailStaleRunsInput {
  tenant?: string;
  olderThanMs: number;
  /** Only this session's traces (it must exist; it may be closed). */
  sessionId?: string;
  /** Written to each `failed` entry; default: the orchestrator's `actor` option. */
  actor?: string;
  /** Stops the marking (LIMIT_RUNNER_ABORTED) before its next page or trace; traces marked so far stay marked. */
  signal?: AbortSignal;
}

/** What `orchestrator.failStaleRuns` did. */
export interface FailStaleRunsResult {
  /** Traces created before this instant (now − olderThanMs, ISO) were looked at. */
  before: string;
  /** The traces recorded as `error` (LIMIT_RUN_LOST), newest first. */
  marked: string[];
  /** The traces listed as `running` but left as they are, and why (a run live in this process, a status changed meanwhile). */
  skipped: { traceId: string; reason: string }[];
}

// ───────────────────────────── the service ─────────────────────────────

/**
 * The `orchestrator` service: sessions, the governed run pipeline, merges and their review,
 * federation, RD series and artifact export. plugins/orchestrator/README.md describes each step.
 */
export interface Orchestrator {
  openSession(input?: OpenSessionRequest): Promise<Session>;
  getSession(tenant: string | undefined, id: string): Promise<Session | null>;
  listSessions(tenant: string | undefined, query?: SessionQuery): Promise<Page<Session>>;
  /**
   * Aborts running tasks, releases runner workers (runner.closeSession) and the kernel scope. Work
   * still in progress after closeWaitMs is cut off (its trace recorded as `error`, LIMIT_SESSION_CLOSED)
   * before storage marks the session closed; nothing of it is written after.
   */
  closeSession(tenant: string | undefined, id: string): Promise<Session>;

  /**
   * The governed pipeline; never loses a trace (runner failures become status `error`). A run that
   * finds its session with the orchestrator's maxWaitingRuns runs already waiting for a slot is
   * refused with LIMIT_SESSION_BUSY before anything of it is stored.
   */
  run(input: RunInput): Promise<RunOutcome>;
  /**
   * Stores and governs an external trace. One larger than the storage backend keeps (maxRecordBytes)
   * is refused before governance with LIMIT_PAYLOAD_TOO_LARGE naming its parts' sizes; nothing is stored.
   * One posing as a merge (runner or task kind `merge`, or a merge's metadata keys `strategy`,
   * `federation`, `excluded`) is refused with LIMIT_VALIDATION naming the field: only merge() and
   * federate() write those.
   */
  recordTrace(input: RecordTraceInput): Promise<RunOutcome>;
  /** Aborts a running trace; false when it is not running in this process. */
  cancel(tenant: string | undefined, traceId: string): boolean;
  /**
   * The operator's way out for runs whose process died without shutting down (SIGKILL, out of
   * memory): every trace still `running` created more than `olderThanMs` ago is recorded as `error`
   * with a `failed` entry (LIMIT_RUN_LOST), as the runtime's close records unfinished work — only
   * from `running` (a status set meanwhile is kept), and never a run still live in this process.
   * Refused once the runtime's close has begun (LIMIT_RUNTIME_CLOSED); a close that begins during it
   * stops it before its next trace (LIMIT_RUNTIME_CLOSED, `details` the result so far: the traces
   * marked stay marked).
   */
  failStaleRuns(input: FailStaleRunsInput): Promise<FailStaleRunsResult>;
  getTrace(tenant: string | undefined, id: string): Promise<Trace | null>;
  listTraces(tenant: string | undefined, query?: TraceQuery): Promise<Page<Trace>>;
  inspectTrace(tenant: string | undefined, id: string): Promise<TraceDetail>;

  /** Refusals throw LIMIT_MERGE_REFUSED (details: parents and reasons); a beforeMerge veto too. */
  merge(input: MergeInput): Promise<MergeOutcome>;
  /**
   * pending-review → the status its output calls for: `ok`, or `error` for a failed output (as the
   * merge made without review would be), recorded in the `approved` entry's `data.status`. A review is work in flight for the runtime's close (waited for; refused
   * with LIMIT_RUNTIME_CLOSED once the close has begun), though its session may be closed.
   */
  approveMerge(traceId: string, input: ReviewInput): Promise<Trace>;
  /** pending-review → rejected (in flight for the runtime's close, as approveMerge). */
  rejectMerge(traceId: string, input: ReviewInput): Promise<Trace>;

  federate(input: FederateInput): Promise<FederationOutcome>;

  createRdSeries(input: CreateRdSeriesInput): Promise<RdSeries>;
  /**
   * Records one step: its point (step, rate, the distortion given or measured, meta) and the
   * series' point count and bytes after it — not the series' other points (rdKnee returns them).
   */
  recordRdStep(seriesId: string, input: RdStepInput): Promise<RdPointAppended>;
  /** `detector`: `knee:<name>` suffix; default `kneedle` when present, else `menger`. */
  rdKnee(tenant: string | undefined, seriesId: string, detector?: string): Promise<RdKnee>;
  /** A refinement loop: creates a series, records each step, reports the knee. */
  refine(input: RefineInput): Promise<{ series: RdSeries; knee: RdKnee }>;

  exportArtifact(input: ExportInput): Promise<ArtifactExport>;
  /** Re-checks every digest and every provenance chain of exported files. */
  verifyArtifact(files: { path: string; content: string }[]): ArtifactVerification;
}
