import type { ProvenanceOrigin } from '../storage-helpers.ts';
import type {
  ChainVerification, Checkpoint, Flag, FlagKind, HealthResult, Page, ProvenanceEntry, ProvenanceInput,
  QuarantineState, RdPoint, RdPointInput, RdSeries, Session, Trace, TraceStatus,
} from '../model/index.ts';

/** One schema migration of a SQL backend: applied in order, each once, recorded in `schema_migrations`. */
export interface SqlMigration {
  version: number;
  name: string;
  sql: string;
}

/** Optional features a backend may lack; the conformance suite skips groups a backend declares false. */
export interface StorageSupports {
  /** Several OS processes may open the same store at once (SQLite file, PostgreSQL). */
  multiProcess: boolean;
  /** Survives SIGKILL of a writer with every acknowledged write intact. */
  crashSafe: boolean;
  /** `batch` is all-or-nothing. */
  transactions: boolean;
}

/**
 * Filters of a trace listing (`storage.listTraces`, `orchestrator.listTraces`); the filters given
 * must all match. Results come a page at a time, with the cursor of the next page.
 */
export interface TraceQuery {
  sessionId?: string;
  status?: TraceStatus | TraceStatus[];
  flagKind?: FlagKind;
  /** Inclusive lower bound on createdAt (ISO timestamp). */
  from?: string;
  /** Exclusive upper bound on createdAt (ISO timestamp). A `to` before `from` is LIMIT_VALIDATION naming both (refuseReversedTimeRange). */
  to?: string;
  /** Most traces on the page: 1..1000, default 100. A page may hold fewer (see `maxBytes`). */
  limit?: number;
  /**
   * Most bytes of JSON on the page (the traces with their flags, as stored): 1..MAX_PAGE_BYTES,
   * default MAX_PAGE_BYTES (16 MiB). The page ends, with a `nextCursor`, before the trace that would
   * pass it; its first trace is always included.
   */
  maxBytes?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/**
 * Filters of a session listing (`listSessions`): the status, the page size (1..1000, default 100),
 * its byte budget (`maxBytes`, as for traces) and the cursor of the previous page.
 */
export interface SessionQuery {
  status?: Session['status'];
  limit?: number;
  maxBytes?: number;
  cursor?: string;
}

/**
 * An RD series without its points, and what its points add up to: what `getRdSeriesSummary` reads
 * without reading a point (the orchestrator needs no more to record the next step).
 */
export type RdSeriesSummary = Omit<RdSeries, 'points'> & {
  /** Points the series holds (at most MAX_RD_POINTS). */
  pointCount: number;
  /** UTF-8 bytes of the points' JSON, each point measured alone (at most maxRdPointsBytes). */
  pointBytes: number;
  /** One more than the largest step of its points; 0 for a series without points (the step an append without `step` gets). */
  nextStep: number;
};

/** What `appendRdPoint` returns: the point as stored (with its step), and the series' point count and bytes with it. */
export interface RdPointAppended {
  seriesId: string;
  point: RdPoint;
  pointCount: number;
  pointBytes: number;
}

/** Fields of a trace that may change after creation. */
export type TracePatch = Partial<Pick<Trace, 'status' | 'output' | 'metrics' | 'completedAt' | 'metadata'>>;

/** Persisted counters (governance statistics): name → value, per tenant. */
export type Counters = Record<string, number>;

/** One write inside `batch`; all succeed or none does. */
export type BatchOp =
  | { op: 'createSession'; session: Session }
  | { op: 'createTrace'; trace: Trace }
  /**
   * `ifStatus`: the update applies only while the stored trace has this status; otherwise the batch
   * fails with LIMIT_CONFLICT and writes nothing. A state transition (release, review) checked in the
   * transaction that makes it, so that of two concurrent transitions only one passes.
   * `ifFlagCount`: likewise, only while the stored trace holds this many flags (flags are only ever
   * added): a decision made on the trace's flags (a merge under blockUnsafeMerge) is not committed
   * over a flag added after it was read.
   */
  | { op: 'updateTrace'; id: string; patch: TracePatch; ifStatus?: TraceStatus; ifFlagCount?: number }
  | { op: 'addFlag'; flag: Flag }
  | { op: 'addCheckpoint'; checkpoint: Checkpoint }
  | { op: 'setQuarantine'; state: QuarantineState }
  | { op: 'incrementCounters'; deltas: Counters }
  /**
   * Appends to the trace's hash chain inside the batch: `seq` and `prevHash` follow the chain head
   * at the moment the op applies (so several appends to one trace in a batch chain in order, and a
   * trace created earlier in the same batch may be appended to). Same rules as `appendProvenance`,
   * `origin` included (default `system`; see "Provenance per trace").
   */
  | { op: 'appendProvenance'; input: ProvenanceInput; origin?: ProvenanceOrigin };

/** Options of `appendProvenance`. */
export interface AppendProvenanceOptions {
  /**
   * Who the entry is for, which decides how much of the trace's provenance limits it may use:
   * `system` (default), `decision` or `client` (see ProvenanceOrigin and "Provenance per trace").
   */
  origin?: ProvenanceOrigin;
}

/**
 * The storage contract every backend implements; `test/conformance/storage.ts` (exported as
 * `limit-graph/testing`) checks every rule below. Shared helpers for implementers (validation,
 * cursors, size checks, retries) are in `limit-graph` (kernel/storage-helpers.ts).
 *
 * - **Tenants.** Every method is scoped by `tenant`: a record of tenant A is invisible to tenant B
 *   (get returns null, list omits it; update, close, flag, checkpoint, quarantine, provenance and RD
 *   appends throw LIMIT_NOT_FOUND). Ids are unique per tenant, so two tenants may use the same id.
 * - **Validation.** Records are parsed with the kernel's zod schemas (defaults applied); invalid ids
 *   or tenants (reads included) throw LIMIT_VALIDATION, a record whose JSON exceeds `maxRecordBytes`
 *   throws LIMIT_PAYLOAD_TOO_LARGE — before anything is written. Creating an id that exists throws
 *   LIMIT_CONFLICT.
 * - **Record size** is measured per logical record, the same way on every backend whatever it
 *   stores together: a trace is its JSON without the `flags` field, and each flag counts alone; an
 *   RD series is its JSON without `points`, and each point counts alone. So a trace keeps taking
 *   flags (and a series points) as long as each one fits, and a trace whose JSON without flags is
 *   exactly `maxRecordBytes` is accepted — up to the trace's flag limits below.
 * - **Flags per trace.** A trace holds at most MAX_FLAGS_PER_TRACE (1,000) flags, and its flags
 *   together (each measured alone, as above) at most maxTraceFlagsBytes (4 × `maxRecordBytes`,
 *   16 MiB by default), because a trace is always read and answered with all its flags (get, every
 *   listing page, exports). An `addFlag`, a batch's `addFlag` op or a `createTrace` (its `flags`)
 *   past either throws LIMIT_PAYLOAD_TOO_LARGE naming the trace and the limit (`assertFlagsFit`)
 *   and writes nothing — a batch is refused whole. The check runs in the transaction (or under the
 *   lock) that inserts the flag, against totals read there, so concurrent adds cannot pass it
 *   together; SQL backends keep the totals on the trace row and read no flag to check them.
 * - **Provenance per trace.** A trace's chain holds at most MAX_PROVENANCE_PER_TRACE (10,000)
 *   entries, and its entries together (each entry's JSON as stored, with seq, prevHash and hash,
 *   measured alone) at most maxTraceProvenanceBytes (4 × `maxRecordBytes`, 16 MiB by default),
 *   because a chain is always read whole (GET /traces/:id/provenance, verification, merges,
 *   exports). An append of `origin` `decision` or `client` stops short of those limits
 *   (provenanceLimits: 9,900 entries and 3 × `maxRecordBytes`; 8,000 and 2 × `maxRecordBytes`), so
 *   that clients' notes cannot crowd out people's governance decisions, and neither can crowd out
 *   the entries the server itself must still write to finish a trace (`system`, the default).
 *   An `appendProvenance` or a batch's `appendProvenance` op past its origin's limits throws
 *   LIMIT_PAYLOAD_TOO_LARGE naming the trace and the limit (`assertProvenanceFits`; `details.field`
 *   `data` for a client's entry) and writes nothing — a batch is refused whole. The check runs in the transaction (or
 *   under the lock) of the append, against totals read there, so concurrent appends cannot pass it
 *   together; no backend reads the chain's entries to check it.
 * - **RD series size.** A series holds at most MAX_RD_POINTS (10,000) points, and its points
 *   together (each measured alone, as above) at most maxRdPointsBytes (4 × `maxRecordBytes`, 16 MiB
 *   by default): a create or an append past either throws LIMIT_PAYLOAD_TOO_LARGE and writes
 *   nothing, so a whole series always fits in a response and in memory. An append neither reads
 *   nor returns the series' other points.
 * - **RD steps.** A point appended without `step` gets the series' next step (one more than its
 *   largest, 0 for a series without points), read in the transaction (or under the lock) that
 *   appends it: concurrent appends without a step — from one store object, or from several opened
 *   on the same data (processes, connections) — get distinct, consecutive steps. A series whose next
 *   step is not below Number.MAX_SAFE_INTEGER has none to give (LIMIT_RD_INVALID_INPUT naming
 *   `step`, nothing written; `withRdStep`). A given `step` is stored as given: steps are not
 *   required to be unique, and a default step always follows the largest. Every point returned
 *   (appended, or read with its series) has its keys in the order `{ step, rate, distortion, meta }`
 *   (`rdPointInOrder`), whatever order it was given in.
 * - **Key order.** A record reads back with every key and value it was stored with, but objects
 *   (the records themselves and what they hold: `metadata`, `task`, `output.value`, provenance
 *   `data`, checkpoint `details`, RD `meta` …) may come back with their keys in another order:
 *   PostgreSQL's jsonb keeps none (shorter keys first), the other built-in backends keep the order
 *   written. RD points are the exception (see "RD steps"). Whatever hashes or compares records as
 *   text writes them as canonical JSON first (`canonicalJson`, RFC 8785: keys sorted): provenance
 *   hashes, artifact digests (json/jsonl records, and the JSON cells of a CSV export), so the same
 *   data gives the same hashes and digests on every backend. Compare records as values, never as
 *   `JSON.stringify` text.
 * - **What a write returns.** A create, update or append returns the record as stored: what a
 *   later read gives back (its JSON form: a Date is its ISO string, an undefined-valued key is absent,
 *   undefined in an array is null), not the values the caller gave. `validate.*` returns records in
 *   that form (`asStored`), so a backend that stores and returns the validated record keeps it.
 * - **`__proto__` and `constructor` keys** are ordinary keys at any depth of a record: stored, and
 *   read back as own properties (never as a prototype), on every backend.
 * - **Copies.** A backend keeps no object it was given and hands out none it keeps: changing a record
 *   after a create, or one a call returned (a get, a listing, what addFlag returned), changes nothing
 *   stored. A backend that holds objects in memory (an index, a cache) copies them in and out.
 * - **References.** Flags, checkpoints, quarantine states and provenance entries belong to a trace
 *   that must exist in the tenant (LIMIT_NOT_FOUND otherwise); RD points to an existing series.
 *   Traces and RD series name a session but the session is not required to be stored.
 * - **Order.** Lists of traces and sessions are newest first: by the instant of `createdAt`
 *   (millisecond precision), ties broken by id descending; cursors are stable under inserts.
 *   Flags, checkpoints and RD points come back in insertion order (a trace's `flags` too, whatever
 *   their ids and `at`: governance counts the flags added since a release by position,
 *   QuarantineState.flagCount), provenance in seq order.
 *   `listQuarantined` is by trace id ascending (ids are ASCII: code-unit, byte and "C" collation
 *   order agree); `listRdSeries` is oldest first, by the instant of `createdAt`, ties broken by id
 *   ascending. Neither depends on insertion order or on a restart.
 * - **Pages.** A page of traces or sessions holds at most `limit` records and at most `maxBytes`
 *   bytes of their JSON as stored (MAX_PAGE_BYTES, 16 MiB, by default): it ends early, with a
 *   `nextCursor`, before the record that would pass the budget, and always holds its first record.
 *   Backends stop reading there (the kernel's PageBuilder), so a page of large records never loads
 *   much more than its budget. `nextCursor` is null only on the last page.
 */
export interface Storage {
  /** `sqlite`, `postgres`, `file`, `kv`, or a third-party name. */
  readonly backend: string;
  readonly supports: StorageSupports;
  /**
   * Largest accepted record (its JSON, in UTF-8 bytes; a trace without its flags, an RD series without
   * its points — see "Record size" above); DEFAULT_MAX_RECORD_BYTES (4 MiB) unless configured.
   */
  readonly maxRecordBytes?: number;

  /** Opens connections and runs pending migrations (idempotent; tables and indexes). */
  open(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  health(): Promise<HealthResult>;
  /** The schema version recorded by the migrations. */
  schemaVersion(): Promise<number>;

  createSession(session: Session): Promise<Session>;
  getSession(tenant: string, id: string): Promise<Session | null>;
  listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>>;
  /** Sets status `closed` and `closedAt`; closing a closed session returns it unchanged. */
  closeSession(tenant: string, id: string, closedAt: string): Promise<Session>;

  createTrace(trace: Trace): Promise<Trace>;
  /**
   * Applies the patch unconditionally. The `ifStatus` and `ifFlagCount` preconditions exist only on
   * the batch op `updateTrace`; `applyTracePatch(stored, patch, ifStatus, ifFlagCount)` implements both.
   */
  updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace>;
  /** The trace with its flags. */
  getTrace(tenant: string, id: string): Promise<Trace | null>;
  /** Newest first (createdAt desc, id desc), cursor-paginated, each page bounded by `limit` and `maxBytes`. */
  listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>>;

  /**
   * Appends to the trace's hash chain; safe under concurrent appenders (threads and processes).
   * Checked against the chain's limits for `options.origin` first (see "Provenance per trace").
   */
  appendProvenance(tenant: string, input: ProvenanceInput, options?: AppendProvenanceOptions): Promise<ProvenanceEntry>;
  /** Entries in seq order. */
  listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]>;
  verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification>;

  /**
   * Stores the flag and adds it to its trace's `flags`: the flag is size-checked alone, and the
   * trace's flags against MAX_FLAGS_PER_TRACE and maxTraceFlagsBytes (see "Flags per trace").
   */
  addFlag(tenant: string, flag: Flag): Promise<Flag>;
  listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]>;

  addCheckpoint(tenant: string, checkpoint: Checkpoint): Promise<Checkpoint>;
  listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]>;

  setQuarantine(tenant: string, state: QuarantineState): Promise<QuarantineState>;
  getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null>;
  /** The states with `quarantined: true`, by trace id ascending. */
  listQuarantined(tenant: string): Promise<QuarantineState[]>;

  createRdSeries(series: RdSeries): Promise<RdSeries>;
  /**
   * Appends a point (checked against the series' limits first, see "RD series size"); a point
   * without `step` gets the series' next step in the append's transaction (see "RD steps"). Returns
   * the point as stored and the series' new point count and bytes, without reading its other points.
   */
  appendRdPoint(tenant: string, seriesId: string, point: RdPointInput): Promise<RdPointAppended>;
  /** The series with every point (bounded by "RD series size"). */
  getRdSeries(tenant: string, id: string): Promise<RdSeries | null>;
  /** The series without its points, with their count, bytes and next step (no point is read on SQL backends). */
  getRdSeriesSummary(tenant: string, id: string): Promise<RdSeriesSummary | null>;
  /** Oldest first: the instant of createdAt ascending, then id ascending; each with its points. */
  listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]>;

  /**
   * Atomically adds each delta, creating counters at 0 (shared by every process on the same database).
   * A sum that is not a finite number throws LIMIT_VALIDATION naming the counter (`addCounter`,
   * `counterNotFinite`) and writes none of the deltas; a batch holding such an op is refused whole.
   * Names are 1–256 characters of well-formed text without NUL (stored as given on every backend);
   * another name is LIMIT_VALIDATION (`validate.counters`), nothing written.
   */
  incrementCounters(tenant: string, deltas: Counters): Promise<void>;
  getCounters(tenant: string): Promise<Counters>;

  /** Applies every op in one transaction (all or nothing). */
  batch(tenant: string, ops: BatchOp[]): Promise<void>;
}
