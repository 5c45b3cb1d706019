/**
 * Helpers every storage backend needs, so that all of them validate, size-check, order and page
 * records the same way (the conformance suite holds them to it). Backends import these from
 * `limit-graph`; nothing here knows a concrete backend.
 */
import { z } from 'zod';
import { LimitError } from './errors.ts';
import {
  Checkpoint, Flag, FlagKind, Id, ProvenanceInput, QuarantineState, RdPoint, RdSeries, Session, SessionStatus, Tenant,
  Timestamp, Trace, TraceStatus,
  type Page,
} from './model/index.ts';
import type { BatchOp, Counters, SessionQuery, TracePatch, TraceQuery } from './contracts/storage.ts';

/** Default for a backend's `maxRecordBytes`: the model allows 1 MB task inputs, so leave room for output. */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

function invalid(what: string, error: z.ZodError): LimitError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const text = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new LimitError('LIMIT_VALIDATION', `Invalid ${what}: ${text}`, { details: { record: what, issues } });
}

/** Parses `value` with `schema` (defaults applied) or throws LIMIT_VALIDATION naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(what, result.error);
  return result.data;
}

/** Throws LIMIT_VALIDATION unless `value` is a valid id (no separators, no leading dot, 1–128 chars). */
export function assertId(value: unknown, field: string): string {
  const result = Id.safeParse(value);
  if (!result.success) {
    throw new LimitError('LIMIT_VALIDATION', `Invalid ${field} ${JSON.stringify(value)}: ${result.error.issues[0]?.message ?? 'not an id'}`, {
      details: { field, value: typeof value === 'string' ? value.slice(0, 200) : String(value) },
    });
  }
  return result.data;
}

export function assertTenant(value: unknown): string {
  return assertId(value, 'tenant');
}

// `metadata` has a default in the Trace schema; a patch must not turn "absent" into "{}" (that would wipe it).
const TracePatchSchema = Trace.pick({ status: true, output: true, metrics: true, completedAt: true })
  .extend({ metadata: z.record(z.string(), z.unknown()) })
  .partial()
  .strict();
const CountersSchema = z.record(z.string().min(1).max(256), z.number().finite());
const TraceQuerySchema = z
  .object({
    sessionId: Id.optional(),
    status: z.union([TraceStatus, z.array(TraceStatus).min(1)]).optional(),
    flagKind: FlagKind.optional(),
    from: Timestamp.optional(),
    to: Timestamp.optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: z.string().max(1024).optional(),
  })
  .strict();
const SessionQuerySchema = z
  .object({
    status: SessionStatus.optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: z.string().max(1024).optional(),
  })
  .strict();
const FlagQuerySchema = z.object({ traceId: Id.optional(), kind: FlagKind.optional() }).strict();

/** A trace query with defaults applied, the statuses as a list and the cursor decoded. */
export interface NormalizedTraceQuery {
  sessionId?: string;
  statuses?: TraceStatus[];
  flagKind?: FlagKind;
  /** Inclusive, epoch ms. */
  fromMs?: number;
  /** Exclusive, epoch ms. */
  toMs?: number;
  limit: number;
  after?: CursorPosition;
}

export interface NormalizedSessionQuery {
  status?: Session['status'];
  limit: number;
  after?: CursorPosition;
}

/** Validation of every record and query of the Storage contract, with the model's zod schemas. */
export const validate = {
  tenant: assertTenant,
  id: assertId,
  session: (v: unknown): Session => parseOrThrow(Session, v, 'session'),
  trace: (v: unknown): Trace => parseOrThrow(Trace, v, 'trace'),
  tracePatch: (v: unknown): TracePatch => parseOrThrow(TracePatchSchema, v, 'trace patch'),
  flag: (v: unknown): Flag => parseOrThrow(Flag, v, 'flag'),
  checkpoint: (v: unknown): Checkpoint => parseOrThrow(Checkpoint, v, 'checkpoint'),
  quarantine: (v: unknown): QuarantineState => parseOrThrow(QuarantineState, v, 'quarantine state'),
  rdSeries: (v: unknown): RdSeries => parseOrThrow(RdSeries, v, 'RD series'),
  rdPoint: (v: unknown): RdPoint => parseOrThrow(RdPoint, v, 'RD point'),
  provenanceInput: (v: unknown): ProvenanceInput => parseOrThrow(ProvenanceInput, v, 'provenance entry'),
  counters: (v: unknown): Counters => parseOrThrow(CountersSchema, v, 'counter deltas'),
  timestamp: (v: unknown, field: string): string => parseOrThrow(Timestamp, v, field),
  flagQuery: (v: unknown = {}): { traceId?: string; kind?: FlagKind } => parseOrThrow(FlagQuerySchema, v, 'flag query'),
  traceQuery(v: TraceQuery = {}): NormalizedTraceQuery {
    const q = parseOrThrow(TraceQuerySchema, v, 'trace query');
    return {
      ...(q.sessionId !== undefined ? { sessionId: q.sessionId } : {}),
      ...(q.status !== undefined ? { statuses: Array.isArray(q.status) ? q.status : [q.status] } : {}),
      ...(q.flagKind !== undefined ? { flagKind: q.flagKind } : {}),
      ...(q.from !== undefined ? { fromMs: timeKey(q.from) } : {}),
      ...(q.to !== undefined ? { toMs: timeKey(q.to) } : {}),
      limit: q.limit,
      ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    };
  },
  sessionQuery(v: SessionQuery = {}): NormalizedSessionQuery {
    const q = parseOrThrow(SessionQuerySchema, v, 'session query');
    return {
      ...(q.status !== undefined ? { status: q.status } : {}),
      limit: q.limit,
      ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    };
  },
  /**
   * Validates every op of a batch up front (so a bad op fails before anything is written) and checks
   * that each record belongs to `tenant`. Returns the ops with parsed records.
   */
  batch(tenant: string, ops: readonly BatchOp[]): BatchOp[] {
    assertTenant(tenant);
    if (!Array.isArray(ops)) throw new LimitError('LIMIT_VALIDATION', 'Invalid batch: expected an array of ops');
    const out = new Array<BatchOp>(ops.length);
    // A plain loop without per-op closures or strings: this runs for every row of bulk inserts.
    for (let i = 0; i < ops.length; i++) {
      try {
        out[i] = validateOp(tenant, ops[i]!);
      } catch (error) {
        const at = `batch op ${i} (${String((ops[i] as { op?: unknown } | undefined)?.op)})`;
        if (error instanceof LimitError) throw new LimitError(error.code, `Invalid ${at}: ${error.message}`, { cause: error, details: { index: i, ...error.details } });
        throw error;
      }
    }
    return out;
  },
} as const;

function validateOp(tenant: string, op: BatchOp): BatchOp {
  const own = (recordTenant: string) => {
    if (recordTenant !== tenant) throw new LimitError('LIMIT_VALIDATION', `record tenant "${recordTenant}" is not the batch tenant "${tenant}"`);
  };
  switch (op?.op) {
    case 'createSession': {
      const session = validate.session(op.session);
      own(session.tenant);
      return { op: 'createSession', session };
    }
    case 'createTrace': {
      const trace = validate.trace(op.trace);
      if (trace.tenant !== tenant) own(trace.tenant);
      return { op: 'createTrace', trace };
    }
    case 'updateTrace':
      return { op: 'updateTrace', id: assertId(op.id, 'trace id'), patch: validate.tracePatch(op.patch) };
    case 'addFlag':
      return { op: 'addFlag', flag: validate.flag(op.flag) };
    case 'addCheckpoint':
      return { op: 'addCheckpoint', checkpoint: validate.checkpoint(op.checkpoint) };
    case 'setQuarantine':
      return { op: 'setQuarantine', state: validate.quarantine(op.state) };
    case 'incrementCounters':
      return { op: 'incrementCounters', deltas: validate.counters(op.deltas) };
    default:
      throw new LimitError('LIMIT_VALIDATION', 'unknown op');
  }
}

/**
 * JSON text of a record, refusing records larger than `maxBytes` with LIMIT_PAYLOAD_TOO_LARGE
 * before anything is written.
 */
export function serializeRecord(value: unknown, what: string, maxBytes: number = DEFAULT_MAX_RECORD_BYTES): string {
  const text = JSON.stringify(value);
  assertRecordSize(text, what, maxBytes);
  return text;
}

/** Throws LIMIT_PAYLOAD_TOO_LARGE when the UTF-8 size of `json` exceeds `maxBytes`. */
export function assertRecordSize(json: string, what: string, maxBytes: number = DEFAULT_MAX_RECORD_BYTES): void {
  // Cheap bound first: UTF-8 is at most 3 bytes per UTF-16 unit, so short strings need no count.
  if (json.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) {
    throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `The ${what} is ${bytes} bytes as JSON; the limit is ${maxBytes} bytes`, {
      details: { record: what, bytes, maxBytes },
      fix: 'Store large outputs as files and reference them, or raise the backend option maxRecordBytes.',
    });
  }
}

/** Epoch milliseconds of an ISO timestamp: the sort and range key, independent of the offset written. */
export function timeKey(timestamp: string): number {
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new LimitError('LIMIT_VALIDATION', `Invalid timestamp ${JSON.stringify(timestamp)}`);
  return ms;
}

/** Where a page ended: the sort key of its last item. */
export interface CursorPosition {
  /** createdAt as epoch ms. */
  t: number;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.t, position.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(parsed[0]) || !Id.safeParse(parsed[1]).success) {
    throw new LimitError('LIMIT_VALIDATION', 'Invalid cursor: pass the nextCursor of a previous page unchanged', { details: { cursor: cursor.slice(0, 200) } });
  }
  return { t: parsed[0] as number, id: parsed[1] as string };
}

/** The cursor after `item` in newest-first order. */
export function cursorAfter(item: { createdAt: string; id: string }): string {
  return encodeCursor({ t: timeKey(item.createdAt), id: item.id });
}

/** Newest first: createdAt instant descending, then id descending (code-unit order, as SQL's "C"/BINARY collation). */
export function compareNewestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  const d = timeKey(b.createdAt) - timeKey(a.createdAt);
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** True when `item` sorts strictly after the cursor position (i.e. belongs to a later page). */
export function isAfterCursor(item: { createdAt: string; id: string }, after: CursorPosition): boolean {
  const t = timeKey(item.createdAt);
  return t < after.t || (t === after.t && item.id < after.id);
}

/** For backends that filter in memory (file, kv): does the trace match the query? */
export function matchesTraceQuery(trace: Trace, q: NormalizedTraceQuery): boolean {
  if (q.sessionId !== undefined && trace.sessionId !== q.sessionId) return false;
  if (q.statuses !== undefined && !q.statuses.includes(trace.status)) return false;
  if (q.flagKind !== undefined && !trace.flags.some((f) => f.kind === q.flagKind)) return false;
  if (q.fromMs !== undefined || q.toMs !== undefined) {
    const t = timeKey(trace.createdAt);
    if (q.fromMs !== undefined && t < q.fromMs) return false;
    if (q.toMs !== undefined && t >= q.toMs) return false;
  }
  return true;
}

/**
 * For backends that filter in memory: sorts newest first, skips to the cursor and cuts a page.
 * `items` must already be filtered.
 */
export function paginate<T extends { createdAt: string; id: string }>(items: readonly T[], limit: number, after?: CursorPosition): Page<T> {
  const sorted = [...items].sort(compareNewestFirst);
  const rest = after ? sorted.filter((i) => isAfterCursor(i, after)) : sorted;
  return pageOf(rest.slice(0, limit + 1), limit);
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only proves there is a next page,
 * which avoids handing out a cursor to an empty page.
 */
export function pageOf<T extends { createdAt: string; id: string }>(rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  return { items, nextCursor: cursorAfter(items[items.length - 1]!) };
}

/** The trace after a validated patch (fields absent from the patch keep their value). */
export function applyTracePatch(trace: Trace, patch: TracePatch): Trace {
  const next: Trace = { ...trace };
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) (next as Record<string, unknown>)[key] = value;
  }
  return next;
}

export function notFound(kind: string, tenant: string, id: string): LimitError {
  return new LimitError('LIMIT_NOT_FOUND', `No ${kind} "${id}" in tenant "${tenant}"`, { details: { kind, tenant, id } });
}

export function conflict(kind: string, tenant: string, id: string): LimitError {
  return new LimitError('LIMIT_CONFLICT', `A ${kind} "${id}" already exists in tenant "${tenant}"`, {
    details: { kind, tenant, id },
    fix: 'Use a new id; records are immutable except through their update methods.',
  });
}

export interface RetryOptions {
  /** Total attempts, default 50. */
  attempts?: number;
  /** Which errors are worth another attempt (a unique violation, SQLITE_BUSY, 40001 …). */
  retryable(error: unknown): boolean;
  /** Base delay (ms) of the jittered, capped exponential backoff; default 2. */
  baseDelayMs?: number;
  /** What is retried, for the final error. */
  what?: string;
}

/**
 * Runs `fn` until it succeeds or a non-retryable error occurs. Used around provenance appends, where
 * a database constraint (not an in-process lock) is what keeps concurrent writers from forking a chain:
 * the loser of a race sees the violation and retries on the new head. Gives up with
 * LIMIT_PROVENANCE_CONFLICT (carrying the last error) after `attempts`.
 */
export async function retryOnConflict<T>(fn: (attempt: number) => Promise<T> | T, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 50;
  const base = options.baseDelayMs ?? 2;
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!options.retryable(error)) throw error;
      last = error;
      const delay = Math.min(100, base * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  throw new LimitError('LIMIT_PROVENANCE_CONFLICT', `${options.what ?? 'Write'} still conflicted after ${attempts} attempts`, { cause: last });
}
