import type {
  ChainVerification, Checkpoint, Flag, FlagKind, HealthResult, Page, ProvenanceEntry, ProvenanceInput,
  QuarantineState, RdPoint, RdSeries, Session, Trace, TraceStatus,
} from '../model/index.ts';

/** Optional features a backend may lack; the conformance suite skips groups a backend declares false. */
export interface StorageSupports {
  /** Several OS processes may open the same store at once (SQLite file, PostgreSQL). */
  multiProcess: boolean;
  /** Survives SIGKILL of a writer with every acknowledged write intact. */
  crashSafe: boolean;
  /** `batch` is all-or-nothing. */
  transactions: boolean;
}

export interface TraceQuery {
  sessionId?: string;
  status?: TraceStatus | TraceStatus[];
  flagKind?: FlagKind;
  /** Inclusive lower bound on createdAt (ISO timestamp). */
  from?: string;
  /** Exclusive upper bound on createdAt (ISO timestamp). */
  to?: string;
  /** 1..1000, default 100. */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface SessionQuery {
  status?: Session['status'];
  limit?: number;
  cursor?: string;
}

/** Fields of a trace that may change after creation. */
export type TracePatch = Partial<Pick<Trace, 'status' | 'output' | 'metrics' | 'completedAt' | 'metadata'>>;

/** Persisted counters (governance statistics): name → value, per tenant. */
export type Counters = Record<string, number>;

/** One write inside `batch`; all succeed or none does. */
export type BatchOp =
  | { op: 'createSession'; session: Session }
  | { op: 'createTrace'; trace: Trace }
  | { op: 'updateTrace'; id: string; patch: TracePatch }
  | { op: 'addFlag'; flag: Flag }
  | { op: 'addCheckpoint'; checkpoint: Checkpoint }
  | { op: 'setQuarantine'; state: QuarantineState }
  | { op: 'incrementCounters'; deltas: Counters };

/**
 * The storage contract every backend implements. Every method is scoped by `tenant`: a record of
 * tenant A is invisible to tenant B (get returns null, list omits it, update throws LIMIT_NOT_FOUND).
 * Inputs are validated with the kernel's zod schemas; invalid ids and oversized records are refused
 * with LIMIT_VALIDATION / LIMIT_PAYLOAD_TOO_LARGE before anything is written.
 */
export interface Storage {
  /** `sqlite`, `postgres`, `file`, `kv`, or a third-party name. */
  readonly backend: string;
  readonly supports: StorageSupports;

  /** Opens connections and runs pending migrations (idempotent; tables and indexes). */
  open(): Promise<void>;
  close(): Promise<void>;
  health(): Promise<HealthResult>;
  /** The schema version recorded by the migrations. */
  schemaVersion(): Promise<number>;

  createSession(session: Session): Promise<Session>;
  getSession(tenant: string, id: string): Promise<Session | null>;
  listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>>;
  closeSession(tenant: string, id: string, closedAt: string): Promise<Session>;

  createTrace(trace: Trace): Promise<Trace>;
  updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace>;
  /** The trace with its flags. */
  getTrace(tenant: string, id: string): Promise<Trace | null>;
  /** Newest first (createdAt desc, id desc), cursor-paginated. */
  listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>>;

  /** Appends to the trace's hash chain; safe under concurrent appenders (threads and processes). */
  appendProvenance(tenant: string, input: ProvenanceInput): Promise<ProvenanceEntry>;
  /** Entries in seq order. */
  listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]>;
  verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification>;

  /** Stores the flag and adds it to its trace's `flags`. */
  addFlag(tenant: string, flag: Flag): Promise<Flag>;
  listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]>;

  addCheckpoint(tenant: string, checkpoint: Checkpoint): Promise<Checkpoint>;
  listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]>;

  setQuarantine(tenant: string, state: QuarantineState): Promise<QuarantineState>;
  getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null>;
  listQuarantined(tenant: string): Promise<QuarantineState[]>;

  createRdSeries(series: RdSeries): Promise<RdSeries>;
  appendRdPoint(tenant: string, seriesId: string, point: RdPoint): Promise<RdSeries>;
  getRdSeries(tenant: string, id: string): Promise<RdSeries | null>;
  listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]>;

  /** Atomically adds each delta (shared by every process on the same database). */
  incrementCounters(tenant: string, deltas: Counters): Promise<void>;
  getCounters(tenant: string): Promise<Counters>;

  /** Applies every op in one transaction (all or nothing). */
  batch(tenant: string, ops: BatchOp[]): Promise<void>;
}
