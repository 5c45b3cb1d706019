/**
 * Helpers every storage backend needs, so that all of them validate, size-check, order and page
 * records the same way (the conformance suite holds them to it). Backends import these from
 * `limit-graph`; nothing here knows a concrete backend.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LimitError, type LimitErrorCode } from './errors.ts';
import {
  Checkpoint, Flag, FlagKind, Id, ProvenanceInput, QuarantineState, RdPoint, RdPointInput, RdSeries, RunMetrics, RunOutput, Session, SessionStatus,
  TASK_LIMITS, Task, Tenant, Timestamp, Trace, TraceStatus, refuseReversedTimeRange,
  type Page,
} from './model/index.ts';
import type { BatchOp, Counters, RdSeriesSummary, SessionQuery, TracePatch, TraceQuery } from './contracts/storage.ts';
import type { HealthResult } from './model/index.ts';
import { illFormedText, isWellFormed } from './model/canonical-json.ts';

/** Default for a backend's `maxRecordBytes`: the model allows 1 MB task inputs, so leave room for output. */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
/** Page size of a listing that gives no `limit`. */
export const DEFAULT_PAGE_LIMIT = 100;
/** Largest `limit` a listing accepts; a larger one is LIMIT_VALIDATION. */
export const MAX_PAGE_LIMIT = 1000;
/**
 * Most bytes of JSON one page of a listing holds (traces with their flags, sessions), whatever its
 * `limit`: 16 MiB. Records may be up to `maxRecordBytes` each, so `limit` alone would let a page
 * reach gigabytes — more than a JavaScript string (512 Mi characters) or a response can hold. A page
 * that reaches it ends early with a `nextCursor` (see PageBuilder); a query may ask for less
 * (`maxBytes`), never more.
 */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** Most points one RD series holds (a refinement loop takes tens to hundreds of steps). */
export const MAX_RD_POINTS = 10_000;

/**
 * Most trace ids one POST /artifacts/export takes; an export too large to build suggests parts of
 * at most this many traces, so that every caller can follow its fix.
 */
export const MAX_EXPORT_TRACE_IDS = 10_000;

/**
 * Most bytes the points of one RD series hold together, each point's JSON measured alone: four
 * records' worth (16 MiB with the default `maxRecordBytes`). A point may be as large as a record, but
 * a series is read and answered whole (GET /rd/knee, exports), so its points are bounded together.
 */
export function maxRdPointsBytes(maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): number {
  return 4 * maxRecordBytes;
}

/**
 * Throws LIMIT_PAYLOAD_TOO_LARGE, before anything is written, when `added` points of `addedBytes`
 * would take a series holding `count` points of `bytes` past MAX_RD_POINTS or maxRdPointsBytes.
 */
export function assertRdPointsFit(seriesId: string, held: { count: number; bytes: number }, added: { count: number; bytes: number }, maxRecordBytes: number): void {
  const count = held.count + added.count;
  const bytes = held.bytes + added.bytes;
  const maxBytes = maxRdPointsBytes(maxRecordBytes);
  if (count <= MAX_RD_POINTS && bytes <= maxBytes) return;
  const n = (x: number) => x.toLocaleString('en-US');
  const what = added.count === 1 ? 'with this point' : `with its ${n(added.count)} points`;
  const message = count > MAX_RD_POINTS
    ? `RD series "${seriesId}" would hold ${n(count)} points ${what}; a series holds at most ${n(MAX_RD_POINTS)}`
    : `The points of RD series "${seriesId}" would be ${n(bytes)} bytes as JSON ${what}; a series' points hold at most ${n(maxBytes)} (4 × maxRecordBytes)`;
  throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${message}; nothing was written`, {
    details: { seriesId, points: count, maxPoints: MAX_RD_POINTS, bytes, maxBytes },
    fix: 'Record further steps in a new RD series, and keep large data out of point meta (store it in a trace and put its id in meta).',
  });
}

/**
 * Most flags one trace holds: 1,000. A trace is read and answered with all its flags (GET
 * /traces/:id, every listing page, exports), so they are bounded as an RD series' points are. The
 * governance engine merges a rule's findings into one per rule and kind, so one evaluation yields
 * at most a few dozen flags; 1,000 leaves room for every surface of a run, re-assessments and
 * manual flags, while a full trace of small flags stays well under a megabyte.
 */
export const MAX_FLAGS_PER_TRACE = 1_000;

/**
 * Most bytes the flags of one trace hold together, each flag's JSON measured alone: four records'
 * worth (16 MiB with the default `maxRecordBytes`), as maxRdPointsBytes for RD points.
 */
export function maxTraceFlagsBytes(maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): number {
  return 4 * maxRecordBytes;
}

/**
 * Throws LIMIT_PAYLOAD_TOO_LARGE, before anything is written, when `added` flags of `addedBytes`
 * would take a trace holding `held.count` flags of `held.bytes` past MAX_FLAGS_PER_TRACE or
 * maxTraceFlagsBytes. Backends call it inside the transaction (or under the lock) that inserts the
 * flags, with the totals read there, so that concurrent adds cannot pass it together.
 */
export function assertFlagsFit(traceId: string, held: { count: number; bytes: number }, added: { count: number; bytes: number }, maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): void {
  const count = held.count + added.count;
  const bytes = held.bytes + added.bytes;
  const maxBytes = maxTraceFlagsBytes(maxRecordBytes);
  if (count <= MAX_FLAGS_PER_TRACE && bytes <= maxBytes) return;
  const n = (x: number) => x.toLocaleString('en-US');
  const what = added.count === 1 ? 'with this flag' : `with its ${n(added.count)} new flags`;
  const message = count > MAX_FLAGS_PER_TRACE
    ? `Trace "${traceId}" would hold ${n(count)} flags ${what}; a trace holds at most ${n(MAX_FLAGS_PER_TRACE)} (MAX_FLAGS_PER_TRACE)`
    : `The flags of trace "${traceId}" would be ${n(bytes)} bytes as JSON ${what}; a trace's flags hold at most ${n(maxBytes)} (4 × maxRecordBytes)`;
  throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${message}; nothing was written`, {
    details: { traceId, flags: count, maxFlags: MAX_FLAGS_PER_TRACE, bytes, maxBytes },
    fix: 'The trace has as many flags as it can hold: quarantine or review it instead of flagging it again, and keep flag reasons and evidence short.',
  });
}

/**
 * Most entries one trace's provenance chain holds: 10,000. A chain is read whole (GET
 * /traces/:id/provenance, verification, merges, exports), so it is bounded as a trace's flags are.
 * A run writes fewer than ten entries and a person's governance decision one each, so this is far
 * more than a trace needs; each entry is hashed when the chain is verified, so the count bounds that
 * work where maxTraceProvenanceBytes alone would let tiny entries run into the tens of thousands.
 */
export const MAX_PROVENANCE_PER_TRACE = 10_000;

/**
 * Most bytes the provenance entries of one trace hold together, each entry's JSON (as stored: with
 * seq, prevHash and hash) measured alone: four records' worth (16 MiB with the default
 * `maxRecordBytes`), as maxTraceFlagsBytes for flags.
 */
export function maxTraceProvenanceBytes(maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): number {
  return 4 * maxRecordBytes;
}

/**
 * Who a provenance append is for, which decides how much of a trace's provenance limits it may use:
 * - `system` (the default): the server's own record of what happened — the run pipeline's entries
 *   (created, executed, flagged, completed, failed …), merges and review outcomes — and a release,
 *   so that a quarantine can always be undone (a release follows a quarantine, and past a
 *   decision's share a person can quarantine the trace no more: releases cannot fill the chain).
 *   May fill the chain to MAX_PROVENANCE_PER_TRACE and maxTraceProvenanceBytes.
 * - `decision`: a person's governance decision made by request (a manual flag, a quarantine),
 *   which a client can repeat: it stops 100 entries and one `maxRecordBytes` short of the
 *   limits, so that what a run still has to write (fewer than ten entries of a few kilobytes, any
 *   single one within `maxRecordBytes`) always fits, whatever clients did before.
 * - `client`: an entry whose content a client writes (POST /traces/:id/provenance). It stops at
 *   8,000 entries and half the bytes (2 × `maxRecordBytes`), so that clients' notes can neither
 *   crowd out governance decisions (2,000 entries and a record's worth of bytes stay theirs: more
 *   than the 1,000 `flagged` entries a trace's flags can add) nor the system's entries.
 */
export type ProvenanceOrigin = 'system' | 'decision' | 'client';

/** The origins of a provenance append, most allowed first (see ProvenanceOrigin). */
export const PROVENANCE_ORIGINS: readonly ProvenanceOrigin[] = ['system', 'decision', 'client'];

/** `value` when it is a ProvenanceOrigin (undefined: `system`), else LIMIT_VALIDATION naming `origin`. */
export function assertProvenanceOrigin(value: unknown): ProvenanceOrigin {
  if (value === undefined) return 'system';
  if (PROVENANCE_ORIGINS.includes(value as ProvenanceOrigin)) return value as ProvenanceOrigin;
  throw new LimitError('LIMIT_VALIDATION', `Invalid provenance origin ${JSON.stringify(value) ?? String(value)}: expected one of ${PROVENANCE_ORIGINS.join(', ')}`, {
    details: { field: 'origin', value: String(value).slice(0, 200) },
  });
}

/** What an append of `origin` may take a trace's chain to: its entries and their bytes (see ProvenanceOrigin). */
export function provenanceLimits(origin: ProvenanceOrigin = 'system', maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): { maxEntries: number; maxBytes: number } {
  const full = maxTraceProvenanceBytes(maxRecordBytes);
  switch (origin) {
    case 'system': return { maxEntries: MAX_PROVENANCE_PER_TRACE, maxBytes: full };
    case 'decision': return { maxEntries: MAX_PROVENANCE_PER_TRACE - 100, maxBytes: full - maxRecordBytes };
    case 'client': return { maxEntries: MAX_PROVENANCE_PER_TRACE - 2_000, maxBytes: full - 2 * maxRecordBytes };
    default: return provenanceLimits(assertProvenanceOrigin(origin), maxRecordBytes);
  }
}

/**
 * Throws LIMIT_PAYLOAD_TOO_LARGE, before anything is written, when `added` entries of `added.bytes`
 * (each entry's JSON as stored) would take a chain holding `held.count` entries of `held.bytes` past
 * the limits of `origin` (provenanceLimits). Backends call it inside the transaction (or under the
 * lock) that appends, with the totals read there, so that concurrent appends cannot pass it together.
 * The error names the trace and the limit it would pass — the entry count when that is passed, else
 * the bytes. Only a client's entry past the bytes names `details.field` `data`, what the client can
 * make smaller; past the count (or for a decision or the system) the trace is what is full.
 */
export function assertProvenanceFits(
  traceId: string, held: { count: number; bytes: number }, added: { count: number; bytes: number },
  maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES, origin: ProvenanceOrigin = 'system',
): void {
  const { maxEntries, maxBytes } = provenanceLimits(origin, maxRecordBytes);
  const count = held.count + added.count;
  const bytes = held.bytes + added.bytes;
  if (count <= maxEntries && bytes <= maxBytes) return;
  const n = (x: number) => x.toLocaleString('en-US');
  const what = added.count === 1 ? 'with this entry' : `with its ${n(added.count)} new entries`;
  const whose = origin === 'system' ? '' : ` for ${origin === 'client' ? "a client's entries" : 'governance decisions'} (the rest is kept for the server's own entries)`;
  const byCount = count > maxEntries;
  const message = byCount
    ? `Trace "${traceId}" would hold ${n(count)} provenance entries ${what}; its chain holds at most ${n(maxEntries)}${whose}`
    : `The provenance of trace "${traceId}" would be ${n(bytes)} bytes as JSON ${what}; its chain holds at most ${n(maxBytes)}${whose}`;
  let fix: string;
  if (origin === 'client') {
    fix = byCount
      ? `The trace holds as many entries as clients may append (${n(maxEntries)}; the rest of its chain is kept for governance decisions and the server's own entries), whatever their size: record further notes on another trace.`
      : "The trace's provenance holds as much as clients may append: keep large data out of entries (store it elsewhere and put its digest or address in `data`), and record further notes on another trace.";
  } else {
    fix = byCount
      ? `The trace's provenance holds as many entries as it may (${n(maxEntries)}${origin === 'decision' ? ' for governance decisions' : ''}): record further work on a new trace.`
      : "The trace's provenance is full: record further work on a new trace, and keep large data out of provenance entries.";
  }
  throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${message}; nothing was written`, {
    details: { traceId, ...(origin === 'client' && !byCount ? { field: 'data' } : {}), origin, entries: count, maxEntries, bytes, maxBytes },
    fix,
  });
}


/** UTF-8 bytes of each flag's JSON, summed (the measure of maxTraceFlagsBytes). */
export function flagsBytes(flags: readonly Flag[]): number {
  let bytes = 0;
  for (const f of flags) bytes += Buffer.byteLength(JSON.stringify(f), 'utf8');
  return bytes;
}

/** UTF-8 bytes of each point's JSON, summed (the measure of maxRdPointsBytes). */
export function rdPointsBytes(points: readonly RdPoint[]): number {
  let bytes = 0;
  for (const p of points) bytes += Buffer.byteLength(JSON.stringify(p), 'utf8');
  return bytes;
}

/** One more than the largest step of `points`, 0 when there are none: the default step of the next point. */
export function nextRdStep(points: readonly RdPoint[]): number {
  let next = 0;
  for (const p of points) if (p.step >= next) next = p.step + 1;
  return next;
}

/**
 * The point an append stores, `step` first (`{ step, rate, distortion, meta }`, as every backend
 * returns it): `point` with its own step, or else `nextStep` (the series' next step,
 * read in the transaction or under the lock of the append, so concurrent appenders without a step
 * get distinct steps). A series whose next step is not below Number.MAX_SAFE_INTEGER has none to
 * give: LIMIT_RD_INVALID_INPUT naming `step`, and nothing is written.
 */
export function withRdStep(seriesId: string, point: RdPointInput, nextStep: number): RdPoint {
  const { step, ...rest } = point;
  if (step !== undefined) return { step, ...rest };
  if (nextStep >= Number.MAX_SAFE_INTEGER) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `RD series "${seriesId}" has no next step: its largest step is ${nextStep - 1}; give \`step\` explicitly`, {
      details: { seriesId, field: 'step', step: nextStep }, fix: `Give steps below ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER).`,
    });
  }
  return { step: nextStep, ...rest };
}

/**
 * A stored RD point with its keys in the model's order, `{ step, rate, distortion, meta }`, as every
 * backend returns it: for a backend whose store does not keep key order (PostgreSQL's jsonb sorts
 * keys) or that holds points written in another order (before withRdStep put `step` first).
 */
export function rdPointInOrder(point: RdPoint): RdPoint {
  const { step, rate, distortion, ...rest } = point;
  return { step, rate, distortion, ...rest };
}

/** The summary of a series held whole (file, kv, test doubles): the series without points, and their count, bytes and next step. */
export function rdSeriesSummary(series: RdSeries): RdSeriesSummary {
  const { points, ...rest } = series;
  return { ...rest, pointCount: points.length, pointBytes: rdPointsBytes(points), nextStep: nextRdStep(points) };
}

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

/** Throws LIMIT_VALIDATION unless `value` is a valid tenant (the id rule); returns it. */
export function assertTenant(value: unknown): string {
  return assertId(value, 'tenant');
}

// `metadata` has a default in the Trace schema; a patch must not turn "absent" into "{}" (that would wipe it).
const TracePatchSchema = Trace.pick({ status: true, output: true, metrics: true, completedAt: true })
  .extend({ metadata: z.record(z.string(), z.unknown()) })
  .partial()
  .strict();
/**
 * A counter name is stored as it is (a text column, a key), not inside JSON, so it must be text every
 * backend stores unchanged: no NUL (PostgreSQL text refuses it, LMDB keys use it as a delimiter) and
 * no half a surrogate pair (SQLite and PostgreSQL would store U+FFFD instead, merging names). Nor
 * `__proto__`, refused by validate.counters (z.record would drop it). Names of Object.prototype's
 * members (`constructor`, `toString`) are names like any other.
 */
const CounterName = z.string().min(1).max(256)
  .refine((n) => !n.includes('\0'), 'a counter name may not contain a NUL character')
  .refine((n) => isWellFormed(n), 'a counter name may not contain half a surrogate pair (not well-formed Unicode)');
const CountersSchema = z.record(CounterName, z.number().finite());
const TraceQuerySchema = z
  .object({
    sessionId: Id.optional(),
    status: z.union([TraceStatus, z.array(TraceStatus).min(1)]).optional(),
    flagKind: FlagKind.optional(),
    from: Timestamp.optional(),
    to: Timestamp.optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    maxBytes: z.number().int().min(1).max(MAX_PAGE_BYTES).default(MAX_PAGE_BYTES),
    cursor: z.string().max(1024).optional(),
  })
  .strict()
  .superRefine(refuseReversedTimeRange);
const SessionQuerySchema = z
  .object({
    status: SessionStatus.optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    maxBytes: z.number().int().min(1).max(MAX_PAGE_BYTES).default(MAX_PAGE_BYTES),
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
  /** Byte budget of the page (MAX_PAGE_BYTES unless the query asked for less); see PageBuilder. */
  maxBytes: number;
  after?: CursorPosition;
}

/** A session query with defaults applied and the cursor decoded. */
export interface NormalizedSessionQuery {
  status?: Session['status'];
  limit: number;
  /** Byte budget of the page (MAX_PAGE_BYTES unless the query asked for less); see PageBuilder. */
  maxBytes: number;
  after?: CursorPosition;
}

// Fast path for traces ---------------------------------------------------------------------------
// Bulk inserts validate every trace; zod's generic walk costs several µs per trace, more than the
// SQLite insert itself. `fastTrace` checks the common shape by hand and builds exactly what zod
// would return (same keys in schema order, unknown keys stripped, defaults applied, fresh objects
// and arrays); anything it is not sure about returns SLOW and zod decides, so error messages and
// edge cases are zod's own. test/storage/trace-fast-path.test.ts holds it to zod, case by case.

const SLOW = null;
type Obj = Record<string, unknown>;

interface StringChecks {
  min: number;
  max: number;
  pattern: RegExp | undefined;
}

/** min/max length and regex of a zod string schema, or undefined when it has any other check. */
function stringChecks(schema: z.ZodType): StringChecks | undefined {
  const def = (schema as unknown as { _zod: { def: { type: string; checks?: { _zod: { def: Record<string, unknown> } }[]; pattern?: RegExp } } })._zod.def;
  if (def.type !== 'string') return undefined;
  const out: StringChecks = { min: 0, max: Infinity, pattern: def.pattern };
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'min_length') out.min = d.minimum as number;
    else if (d.check === 'max_length') out.max = d.maximum as number;
    else if (d.check === 'string_format' && (d.format === 'regex' || d.format === 'datetime') && d.pattern instanceof RegExp) out.pattern = d.pattern;
    else return undefined;
  }
  // A global or sticky regex would carry state between tests.
  if (out.pattern && (out.pattern.global || out.pattern.sticky)) return undefined;
  return out;
}

const shapeKeys = (s: z.ZodObject) => Object.keys(s.shape).join(',');
const ID_CHECKS = stringChecks(Id);
const TIMESTAMP_CHECKS = stringChecks(Timestamp);
const TRACE_STATUSES: ReadonlySet<unknown> = new Set(TraceStatus.options);
const TASK_KINDS: ReadonlySet<unknown> = new Set(['code', 'prompt', 'merge', 'external']);
/**
 * The fast path knows these shapes by heart; if the model changes (a new field, other bounds), it
 * switches itself off and every trace goes through zod rather than being stripped of the new field.
 */
const FAST_TRACE =
  ID_CHECKS?.min === 1 && ID_CHECKS.max === 128 && ID_CHECKS.pattern !== undefined && TIMESTAMP_CHECKS?.pattern !== undefined &&
  TIMESTAMP_CHECKS.min === 0 && TIMESTAMP_CHECKS.max === Infinity &&
  shapeKeys(Trace) === 'id,sessionId,tenant,parentIds,runner,task,output,metrics,status,flags,createdAt,completedAt,metadata' &&
  shapeKeys(Task) === 'input,kind,language,files,env,args,toolOutputs' &&
  shapeKeys(RunOutput) === 'ok,stdout,stderr,value,error' &&
  shapeKeys(RunMetrics) === 'latencyMs,tokensIn,tokensOut,exitCode' &&
  (Task.shape.kind as unknown as { def: { innerType: { options: string[] } } }).def.innerType.options.join(',') === [...TASK_KINDS].join(',');
const ID_PATTERN = ID_CHECKS?.pattern ?? /$^/;
const TIMESTAMP_PATTERN = TIMESTAMP_CHECKS?.pattern ?? /$^/;

// zod measures lengths in code points; a string within `max` UTF-16 units is within `max` code
// points, and a non-empty string has at least one. Anything else is left to zod.
const isId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128 && ID_PATTERN.test(v);
const isTimestamp = (v: unknown): v is string => typeof v === 'string' && TIMESTAMP_PATTERN.test(v);
const isStringMax = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A plain object literal: z.object accepts more, but those go to zod. */
function isLiteral(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** util.isPlainObject of zod, which z.record requires. */
function isZodPlain(o: Obj): boolean {
  const ctor = o.constructor as unknown;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const prot = (ctor as { prototype?: unknown }).prototype;
  return typeof prot === 'object' && prot !== null && !Array.isArray(prot) && Object.prototype.hasOwnProperty.call(prot, 'isPrototypeOf');
}

/** z.record(z.string(), z.unknown() | z.string()): a fresh object with the own enumerable string keys. */
function fastRecord(v: unknown, stringValues: boolean): Obj | null {
  if (!isLiteral(v) || !isZodPlain(v) || Object.getOwnPropertySymbols(v).length > 0) return SLOW;
  const out: Obj = {};
  for (const key of Object.keys(v)) {
    if (key === '__proto__') return SLOW;
    const value = v[key];
    if (stringValues && typeof value !== 'string') return SLOW;
    out[key] = value;
  }
  return out;
}

function fastStringArray(v: unknown, ids: boolean): string[] | null {
  if (!Array.isArray(v)) return SLOW;
  const out = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (ids ? !isId(s) : typeof s !== 'string') return SLOW;
    out[i] = s as string;
  }
  return out;
}

function fastTask(v: unknown): Obj | null {
  if (!isLiteral(v)) return SLOW;
  const out: Obj = {};
  const input = v.input;
  if (!isStringMax(input, 1_000_000)) return SLOW;
  out.input = input;
  const kind = v.kind;
  if (kind === undefined) out.kind = 'code';
  else if (TASK_KINDS.has(kind)) out.kind = kind;
  else return SLOW;
  if ('language' in v) {
    const language = v.language;
    if (language !== undefined && !isStringMax(language, 64)) return SLOW;
    out.language = language;
  }
  for (const key of ['files', 'env'] as const) {
    if (key in v) {
      const value = v[key];
      if (value === undefined) out[key] = undefined;
      else if ((out[key] = fastRecord(value, true)) === SLOW || Object.keys(out[key] as Obj).length > TASK_LIMITS[key]) return SLOW;
    }
  }
  if ('args' in v) {
    const args = v.args;
    if (args === undefined) out.args = undefined;
    else if ((out.args = fastStringArray(args, false)) === SLOW || (args as unknown[]).length > TASK_LIMITS.args) return SLOW;
  }
  if ('toolOutputs' in v) {
    if (v.toolOutputs !== undefined) return SLOW;
    out.toolOutputs = undefined;
  }
  return out;
}

function fastOutput(v: unknown): Obj | null {
  if (!isLiteral(v)) return SLOW;
  const ok = v.ok;
  const stdout = v.stdout;
  const stderr = v.stderr;
  if (typeof ok !== 'boolean' || typeof stdout !== 'string' || typeof stderr !== 'string') return SLOW;
  const out: Obj = { ok, stdout, stderr };
  if ('value' in v) out.value = v.value;
  if ('error' in v) {
    const error = v.error;
    if (error === undefined) out.error = undefined;
    else {
      if (!isLiteral(error)) return SLOW;
      const code = error.code;
      const message = error.message;
      if (typeof code !== 'string' || typeof message !== 'string') return SLOW;
      out.error = { code, message };
    }
  }
  return out;
}

function fastMetrics(v: unknown): Obj | null {
  if (!isLiteral(v)) return SLOW;
  const latencyMs = v.latencyMs;
  if (!isNonNegative(latencyMs)) return SLOW;
  const out: Obj = { latencyMs };
  for (const key of ['tokensIn', 'tokensOut', 'exitCode'] as const) {
    if (key in v) {
      const n = v[key];
      if (n !== undefined && !(Number.isSafeInteger(n) && (key === 'exitCode' || (n as number) >= 0))) return SLOW;
      out[key] = n;
    }
  }
  return out;
}

/** What `Trace.parse(v)` returns, built by hand, or SLOW when zod has to look (errors included). */
function fastTrace(v: unknown): Trace | null {
  if (!FAST_TRACE || !isLiteral(v)) return SLOW;
  const out: Obj = {};
  const id = v.id;
  const sessionId = v.sessionId;
  const tenant = v.tenant;
  if (!isId(id) || !isId(sessionId) || !isId(tenant)) return SLOW;
  out.id = id;
  out.sessionId = sessionId;
  out.tenant = tenant;
  const parentIds = v.parentIds;
  if ((out.parentIds = parentIds === undefined ? [] : fastStringArray(parentIds, true)) === SLOW) return SLOW;
  const runner = v.runner;
  if (typeof runner !== 'string' || runner.length < 1 || runner.length > 128) return SLOW;
  out.runner = runner;
  if ((out.task = fastTask(v.task)) === SLOW) return SLOW;
  if ('output' in v) {
    const output = v.output;
    if ((out.output = output === undefined ? undefined : fastOutput(output)) === SLOW) return SLOW;
  }
  if ('metrics' in v) {
    const metrics = v.metrics;
    if ((out.metrics = metrics === undefined ? undefined : fastMetrics(metrics)) === SLOW) return SLOW;
  }
  const status = v.status;
  if (!TRACE_STATUSES.has(status)) return SLOW;
  out.status = status;
  // Flags need the Flag schema (evidence, severities): a trace that has some goes to zod.
  const flags = v.flags;
  if (flags !== undefined && !(Array.isArray(flags) && flags.length === 0)) return SLOW;
  out.flags = [];
  const createdAt = v.createdAt;
  if (!isTimestamp(createdAt)) return SLOW;
  out.createdAt = createdAt;
  if ('completedAt' in v) {
    const completedAt = v.completedAt;
    if (completedAt !== undefined && !isTimestamp(completedAt)) return SLOW;
    out.completedAt = completedAt;
  }
  const metadata = v.metadata;
  if ((out.metadata = metadata === undefined ? {} : fastRecord(metadata, false)) === SLOW) return SLOW;
  return out as Trace;
}

// JSON safety -----------------------------------------------------------------------------------
// Free-form fields (metadata, output.value, provenance data, checkpoint details, RD meta) are
// z.unknown() in the model, so zod lets through what JSON cannot hold: every backend stores JSON,
// and JSON.stringify throws a bare TypeError on a cycle or a BigInt and silently writes Infinity and
// NaN as null (a Map or Set as {}). This walk, run on every validated record before any backend
// serialises it, turns each of those into LIMIT_VALIDATION naming the field.

type JsonProblem = { path: string; message: string } | undefined;

/**
 * The deepest nesting of objects and arrays a free-form field may hold (the field's own value at
 * depth 0, as api-http counts a request body, whose `maxDepth` option goes no higher): recursive
 * serialisers, hashers and the databases' JSON parsers would overflow their stacks on deeper values.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * Which checks `validate.*` (and assertJsonSafe) make of a record. `'write'` (the default): every
 * one, for a record about to be stored. `'read'`: for a record a backend stored and reads back
 * (storage-file checks every file it reads), perhaps written by an older version: without the
 * refusals added after such records could be stored (free-form nesting past MAX_JSON_DEPTH, a
 * trace's flag naming another trace), so that they stay readable. A read record is in its stored
 * form already (JSON.parse made it), so `'read'` returns it as parsed, without asStored.
 */
export type RecordChecks = 'write' | 'read';

/** An object or array being walked by jsonProblem: its keys (null for an array) and the next one to visit. */
interface JsonFrame { obj: object; path: string; keys: string[] | null; next: number }

/**
 * Why `value` would not survive JSON.stringify unchanged, and where; undefined when it would.
 * Iterative (an explicit stack, its objects in `ancestors` for the cycle check), so no depth of
 * input can overflow the walk itself: it stops at `maxDepth` (MAX_JSON_DEPTH, or no limit for reads).
 */
function jsonProblem(value: unknown, path: string, maxDepth: number): JsonProblem {
  const frames: JsonFrame[] = [];
  const ancestors = new Set<object>();
  let problem = enterJson(value, path, frames, ancestors, maxDepth);
  while (problem === undefined && frames.length > 0) {
    const frame = frames[frames.length - 1]!;
    const { obj, keys } = frame;
    if (frame.next >= (keys ? keys.length : (obj as unknown[]).length)) {
      ancestors.delete(obj);
      frames.pop();
      continue;
    }
    const i = frame.next++;
    if (keys) {
      const key = keys[i]!;
      problem = enterJson((obj as Record<string, unknown>)[key], frame.path ? `${frame.path}.${key}` : key, frames, ancestors, maxDepth);
    } else {
      problem = enterJson((obj as unknown[])[i], `${frame.path}.${i}`, frames, ancestors, maxDepth);
    }
  }
  return problem;
}

/** jsonProblem's step: the problem of `value` itself, or undefined (an object or array to walk pushed on `frames`). */
function enterJson(value: unknown, path: string, frames: JsonFrame[], ancestors: Set<object>, maxDepth: number): JsonProblem {
  switch (typeof value) {
    case 'string': case 'boolean': case 'undefined': return undefined;
    case 'number': return Number.isFinite(value) ? undefined : { path, message: `not a finite number (${value}); JSON would store it as null` };
    case 'bigint': return { path, message: `a BigInt (${value}n) is not JSON; store it as a string or a number` };
    case 'function': case 'symbol': return undefined; // JSON drops these like undefined
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return undefined; // Date and friends speak for themselves
  if (ancestors.has(obj)) return { path, message: 'a circular reference (the value contains itself)' };
  if (obj instanceof Map || obj instanceof Set) {
    return { path, message: `a ${obj instanceof Map ? 'Map' : 'Set'} is not JSON (it would be stored as {}); use a plain object or an array` };
  }
  if (frames.length >= maxDepth) return { path, message: `nested deeper than ${maxDepth} levels of objects and arrays (MAX_JSON_DEPTH); flatten it or store it as a string` };
  ancestors.add(obj);
  frames.push({ obj, path, keys: Array.isArray(obj) ? null : Object.keys(obj), next: 0 });
  return undefined;
}

/**
 * Throws LIMIT_VALIDATION unless `value` survives JSON unchanged: no cycles, BigInts, non-finite
 * numbers, Maps or Sets anywhere in it, nesting no deeper than MAX_JSON_DEPTH (with `'write'`
 * checks; `'read'` ones take any depth: RecordChecks). The message names the field path
 * (`metadata.a: not a finite number`); `path` is where `value` sits in the record. Returns the value.
 */
export function assertJsonSafe<T>(value: T, what: string, path = '', checks: RecordChecks = 'write'): T {
  const problem = jsonProblem(value, path, checks === 'write' ? MAX_JSON_DEPTH : Infinity);
  if (problem) {
    throw new LimitError('LIMIT_VALIDATION', `Invalid ${what}: ${problem.path || '(root)'}: ${problem.message}`, {
      details: { record: what, field: problem.path, issues: [problem] },
      fix: 'Store only JSON values (strings, finite numbers, booleans, null, arrays, plain objects) in the field named.',
    });
  }
  return value;
}

// Only the model's free-form fields are walked: zod has already checked the typed ones (z.number()
// refuses Infinity and NaN), and a trace's validation runs for every row of a bulk insert.
function jsonFields<T extends Record<string, unknown>>(record: T, what: string, checks: RecordChecks, ...fields: string[]): T {
  for (const field of fields) if (record[field] !== undefined) assertJsonSafe(record[field], what, field, checks);
  return record;
}
const traceJson = <T extends { metadata?: unknown; output?: { value?: unknown } }>(record: T, what: string, checks: RecordChecks): T => {
  if (record.output?.value !== undefined) assertJsonSafe(record.output.value, what, 'output.value', checks);
  if (record.metadata !== undefined) assertJsonSafe(record.metadata, what, 'metadata', checks);
  return record;
};
function rdSeriesJson(series: RdSeries, checks: RecordChecks): RdSeries {
  assertJsonSafe(series.metadata, 'RD series', 'metadata', checks);
  for (let i = 0; i < series.points.length; i++) if (series.points[i]!.meta !== undefined) assertJsonSafe(series.points[i]!.meta, 'RD series', `points.${i}.meta`, checks);
  return series;
}

// Stored form ------------------------------------------------------------------------------------
// Every backend stores JSON, so what a read gives back is a record's JSON form: a Date is its ISO
// string, an undefined-valued key (or a function) is absent, undefined in an array is null, -0 is 0,
// a class instance or a null-prototype object is a plain object. Validation hands backends records
// already in that form, so a create, update or append returns (and an in-memory index holds) exactly
// what a later read returns. One walk makes it: every subtree already in that form is kept as it is
// (the same reference: a megabyte of stdout is never copied), and new objects and arrays are built
// only along the paths to values that change.

/** What jsonForm gives for a value JSON leaves out (undefined, a function, a symbol). */
const OMIT: unique symbol = Symbol('omitted');

/** Sets `key` on a rebuilt plain object: an own `__proto__` key is defined as a data property, never assigned. */
function putKey(out: Obj, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/**
 * `value` as JSON.parse(JSON.stringify(value)) gives it back (keys in their order, an own
 * `__proto__` key kept as an own key), or OMIT where JSON leaves it out; `value` itself where it is
 * in that form already. `key` is the key it sits at (the argument of toJSON). `value` holds no cycle
 * (assertJsonSafe ran).
 */
function jsonForm(value: unknown, key: string, callToJson = true): unknown {
  switch (typeof value) {
    case 'string': case 'boolean': return value;
    case 'number': return Number.isFinite(value) ? (value === 0 ? 0 : value) : null; // -0 → 0, as JSON writes it
    case 'bigint': throw new TypeError('Do not know how to serialize a BigInt');
    case 'object': if (value === null) return null; break;
    case 'function': break; // only its toJSON counts
    default: return OMIT; // undefined, symbol
  }
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (callToJson && typeof toJson === 'function') return jsonForm(toJson.call(value, key), key, false);
  if (typeof value === 'function') return OMIT;
  if (Array.isArray(value)) return arrayJsonForm(value);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    // Boxed primitives are written as the primitive (JSON.stringify unwraps them).
    if (value instanceof Number) return jsonForm(Number(value), key, false);
    if (value instanceof String) return String(value);
    if (value instanceof Boolean) return value.valueOf();
  }
  return objectJsonForm(value as Obj, proto === Object.prototype);
}

function arrayJsonForm(array: unknown[]): unknown[] {
  const length = array.length;
  let out: unknown[] | undefined = Object.getPrototypeOf(array) === Array.prototype ? undefined : [];
  for (let i = 0; i < length; i++) {
    const item = array[i]; // a hole reads as undefined, written as null
    let form = jsonForm(item, String(i));
    if (form === OMIT) form = null;
    if (out === undefined && !Object.is(form, item)) {
      out = [];
      for (let j = 0; j < i; j++) out.push(array[j]);
    }
    out?.push(form);
  }
  return out ?? array;
}

function objectJsonForm(obj: Obj, plainPrototype: boolean): Obj {
  const keys = Object.keys(obj); // own enumerable string keys, as JSON.stringify takes them (an own `__proto__` included)
  // Another prototype (a class instance, a null-prototype object) or own symbol keys: a plain copy.
  let out: Obj | undefined = plainPrototype && Object.getOwnPropertySymbols(obj).length === 0 ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = obj[key];
    const form = jsonForm(item, key);
    if (out === undefined && (form === OMIT || !Object.is(form, item))) {
      out = {};
      for (let j = 0; j < i; j++) putKey(out, keys[j]!, obj[keys[j]!]);
    }
    if (out !== undefined && form !== OMIT) putKey(out, key, form);
  }
  return out ?? obj;
}

/**
 * `record` in its JSON form, as a read gives it back (see "Stored form" above): the result of
 * JSON.parse(JSON.stringify(record)) up to key order, except that every subtree already in that
 * form is kept by reference (`record` itself when all of it is), and only the objects and arrays on
 * the way to a changed value are new. For validated records (no cycles, BigInts or non-finite
 * numbers: assertJsonSafe); validate applies it to every record it returns.
 */
export function asStored<T>(record: T): T {
  const form = jsonForm(record, '');
  return (form === OMIT ? undefined : form) as T;
}

/** A checked record in its stored form: asStored for `'write'` checks; as it is for `'read'` ones (RecordChecks). */
const storedForm = <T>(record: T, checks: RecordChecks): T => (checks === 'write' ? asStored(record) : record);

/**
 * zod's z.record leaves an own `__proto__` key out of what it returns (assigning it would set the
 * prototype), so `metadata.__proto__` would be dropped in silence while a `__proto__` one level down
 * (z.unknown values) is kept. Every own key is kept instead: a `__proto__` of `from` (the input's
 * object) is defined on `to` (zod's fresh copy) as an own data property, never assigned. `strings`:
 * a string map (task.files, task.env) whose value must be a string and whose entries are bounded.
 */
function keepProtoKey(from: unknown, to: unknown, what: string, path: string, strings?: { max: number }): void {
  if (typeof from !== 'object' || from === null || typeof to !== 'object' || to === null || !Object.hasOwn(from, '__proto__') || Object.hasOwn(to, '__proto__')) return;
  const value = (from as Obj)['__proto__'];
  if (strings && typeof value !== 'string') throw invalidField(what, `${path}.__proto__`, `Invalid input: expected string, received ${value === null ? 'null' : typeof value}`);
  Object.defineProperty(to, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  if (strings && Object.keys(to).length > strings.max) throw invalidField(what, path, `Too big: expected at most ${strings.max} entries`);
}

function invalidField(what: string, path: string, message: string): LimitError {
  return new LimitError('LIMIT_VALIDATION', `Invalid ${what}: ${path}: ${message}`, { details: { record: what, issues: [{ path, message }] } });
}

/** The own `__proto__` key of `input[field]` on `record[field]` (keepProtoKey). */
function keepProtoKeyOf(input: unknown, record: object, field: string, what: string): void {
  if (typeof input === 'object' && input !== null) keepProtoKey((input as Obj)[field], (record as Obj)[field], what, field);
}

/**
 * What validate.trace makes of a parsed trace (`parsed`, from zod or its fast path, of `input`):
 * its flags its own (on writes), the JSON-safety check of its free-form fields, the `__proto__`
 * keys zod leaves out (keepProtoKey) and its stored form (storedForm).
 */
export function traceAsStored(parsed: Trace, input: unknown, checks: RecordChecks = 'write'): Trace {
  if (checks === 'write') assertOwnFlags(parsed);
  const task = typeof input === 'object' && input !== null ? (input as Obj).task : undefined;
  keepProtoKeyOf(input, parsed, 'metadata', 'trace');
  if (typeof task === 'object' && task !== null) {
    keepProtoKey((task as Obj).files, parsed.task.files, 'trace', 'task.files', { max: TASK_LIMITS.files });
    keepProtoKey((task as Obj).env, parsed.task.env, 'trace', 'task.env', { max: TASK_LIMITS.env });
  }
  return storedForm(traceJson(parsed, 'trace', checks), checks);
}

/**
 * Throws LIMIT_VALIDATION, naming the field, when a flag the trace is created with names another
 * trace: it would be stored on this trace yet listed (listFlags by traceId) under the other. Not
 * checked on reads: sqlite and postgres stored such traces before it was refused.
 */
function assertOwnFlags(trace: Trace): void {
  for (let i = 0; i < trace.flags.length; i++) {
    const flag = trace.flags[i]!;
    if (flag.traceId === trace.id) continue;
    const field = `flags.${i}.traceId`;
    const message = `flag "${flag.id}" names trace ${JSON.stringify(flag.traceId)}, not this trace "${trace.id}"`;
    throw new LimitError('LIMIT_VALIDATION', `Invalid trace: ${field}: ${message}`, {
      details: { record: 'trace', field, issues: [{ path: field, message }] },
      fix: `Give the flags a trace is created with its id as traceId; flag another trace with addFlag on that trace.`,
    });
  }
}

/** A parsed record of `input` with `field`'s `__proto__` key kept, its free-form `field` checked, in its stored form. */
function recordAsStored<T extends object>(record: T, input: unknown, what: string, field: string, checks: RecordChecks): T {
  keepProtoKeyOf(input, record, field, what);
  return storedForm(jsonFields(record as Record<string, unknown>, what, checks, field) as T, checks);
}

function rdSeriesAsStored(series: RdSeries, input: unknown, checks: RecordChecks): RdSeries {
  keepProtoKeyOf(input, series, 'metadata', 'RD series');
  const points = typeof input === 'object' && input !== null ? (input as Obj).points : undefined;
  if (Array.isArray(points)) series.points.forEach((p, i) => keepProtoKey((points[i] as Obj | undefined)?.meta, p.meta, 'RD series', `points.${i}.meta`));
  return storedForm(rdSeriesJson(series, checks), checks);
}

/**
 * Validation of every record and query of the Storage contract, with the model's zod schemas. Each
 * record comes back in its stored form (asStored): what a read of it will give back. A backend that
 * checks the records it reads back passes `'read'` (RecordChecks) to session, trace, checkpoint and
 * rdSeries, so that what an older version stored stays readable.
 */
export const validate = {
  tenant: assertTenant,
  id: assertId,
  session: (v: unknown, checks: RecordChecks = 'write'): Session => recordAsStored(parseOrThrow(Session, v, 'session'), v, 'session', 'metadata', checks),
  trace: (v: unknown, checks: RecordChecks = 'write'): Trace => traceAsStored(fastTrace(v) ?? parseOrThrow(Trace, v, 'trace'), v, checks),
  tracePatch: (v: unknown): TracePatch => {
    const patch = parseOrThrow(TracePatchSchema, v, 'trace patch');
    keepProtoKeyOf(v, patch, 'metadata', 'trace patch');
    return asStored(traceJson(patch, 'trace patch', 'write'));
  },
  flag: (v: unknown): Flag => asStored(parseOrThrow(Flag, v, 'flag')),
  checkpoint: (v: unknown, checks: RecordChecks = 'write'): Checkpoint => recordAsStored(parseOrThrow(Checkpoint, v, 'checkpoint'), v, 'checkpoint', 'details', checks),
  quarantine: (v: unknown): QuarantineState => asStored(parseOrThrow(QuarantineState, v, 'quarantine state')),
  rdSeries: (v: unknown, checks: RecordChecks = 'write'): RdSeries => rdSeriesAsStored(parseOrThrow(RdSeries, v, 'RD series'), v, checks),
  rdPoint: (v: unknown): RdPoint => recordAsStored(parseOrThrow(RdPoint, v, 'RD point'), v, 'RD point', 'meta', 'write'),
  /** A point to append: `step` may be left out (see `withRdStep`). */
  rdPointInput: (v: unknown): RdPointInput => recordAsStored(parseOrThrow(RdPointInput, v, 'RD point'), v, 'RD point', 'meta', 'write'),
  provenanceInput: (v: unknown): ProvenanceInput => {
    const input = asStored(jsonFields(parseOrThrow(ProvenanceInput, v, 'provenance entry'), 'provenance entry', 'write', 'data'));
    // An entry is hashed as canonical JSON (RFC 8785), which has no half a surrogate pair.
    const [bad] = illFormedText(input, 1);
    if (bad) throw invalidField('provenance entry', bad.path.join('.'), `${bad.key ? 'a key that ' : ''}is not well-formed Unicode: it holds half a surrogate pair (a lone \\uD800–\\uDFFF), which canonical JSON (RFC 8785) refuses; String.prototype.toWellFormed() replaces it with U+FFFD`);
    return input;
  },
  /**
   * The options of `appendProvenance` (AppendProvenanceOptions): nothing, or an object whose only
   * key is `origin`. Anything else — null, a string, a misspelt key that would leave the entry with
   * the system's room — is LIMIT_VALIDATION naming it (`details.field`), on every backend.
   */
  appendProvenanceOptions: (v: unknown = {}): { origin: ProvenanceOrigin } => {
    const what = 'provenance append options';
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
      throw new LimitError('LIMIT_VALIDATION', `Invalid ${what}: expected an object ({ origin }) or nothing, got ${got}`, {
        details: { record: what, field: 'options', issues: [{ path: '', message: `expected an object, got ${got}` }] },
        fix: "Pass { origin: 'system' | 'decision' | 'client' }, or leave the options out (origin system).",
      });
    }
    const unknown = Object.keys(v).find((k) => k !== 'origin');
    if (unknown !== undefined) {
      throw new LimitError('LIMIT_VALIDATION', `Invalid ${what}: ${JSON.stringify(unknown)} is not an option (the only one is origin)`, {
        details: { record: what, field: `options.${unknown}`, issues: [{ path: unknown, message: 'is not an option' }] },
        fix: "Pass { origin: 'system' | 'decision' | 'client' }, or leave the options out (origin system).",
      });
    }
    return { origin: assertProvenanceOrigin((v as { origin?: unknown }).origin) };
  },
  counters: (v: unknown): Counters => {
    // z.record leaves an own `__proto__` key out of what it returns (see keepProtoKey): `{"__proto__": 2}`
    // would resolve, storing nothing. No backend keeps it either way (a JavaScript object read back
    // gives that key a special meaning), so it is refused, naming it, on every backend.
    if (typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__')) {
      throw invalidField('counter deltas', '__proto__', 'a counter may not be named "__proto__" (JavaScript objects give that key a special meaning, so it would not be stored as given); choose another name');
    }
    return parseOrThrow(CountersSchema, v, 'counter deltas');
  },
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
      maxBytes: q.maxBytes,
      ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    };
  },
  sessionQuery(v: SessionQuery = {}): NormalizedSessionQuery {
    const q = parseOrThrow(SessionQuerySchema, v, 'session query');
    return {
      ...(q.status !== undefined ? { status: q.status } : {}),
      limit: q.limit,
      maxBytes: q.maxBytes,
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
        throw atBatchOp(error, `Invalid ${at}`, i);
      }
    }
    return out;
  },
} as const;

/**
 * A batch op's failure, named by `at` (`batch op 3 (createTrace)`): a LimitError keeps its code, fix,
 * plugin and details (plus `index`), its message prefixed with `at`; anything else passes through.
 */
export function atBatchOp(error: unknown, at: string, index: number): unknown {
  if (!(error instanceof LimitError)) return error;
  return new LimitError(error.code, `${at}: ${error.message}`, {
    cause: error,
    fix: error.fix,
    ...(error.plugin === undefined ? {} : { plugin: error.plugin }),
    ...(error.hook === undefined ? {} : { hook: error.hook }),
    details: { index, ...error.details },
  });
}

function notOwnTenant(recordTenant: string, tenant: string): LimitError {
  return new LimitError('LIMIT_VALIDATION', `record tenant "${recordTenant}" is not the batch tenant "${tenant}"`);
}

/** A batch `updateTrace`'s `ifFlagCount`: a number of flags a trace can hold. */
const FlagCount = z.number().int().min(0);

// No closures here: this runs for every row of bulk inserts.
function validateOp(tenant: string, op: BatchOp): BatchOp {
  switch (op?.op) {
    case 'createSession': {
      const session = validate.session(op.session);
      if (session.tenant !== tenant) throw notOwnTenant(session.tenant, tenant);
      return { op: 'createSession', session };
    }
    case 'createTrace': {
      const trace = validate.trace(op.trace);
      if (trace.tenant !== tenant) throw notOwnTenant(trace.tenant, tenant);
      return { op: 'createTrace', trace };
    }
    case 'updateTrace':
      return {
        op: 'updateTrace', id: assertId(op.id, 'trace id'), patch: validate.tracePatch(op.patch),
        ...(op.ifStatus === undefined ? {} : { ifStatus: parseOrThrow(TraceStatus, op.ifStatus, 'updateTrace ifStatus') }),
        ...(op.ifFlagCount === undefined ? {} : { ifFlagCount: parseOrThrow(FlagCount, op.ifFlagCount, 'updateTrace ifFlagCount') }),
      };
    case 'addFlag':
      return { op: 'addFlag', flag: validate.flag(op.flag) };
    case 'addCheckpoint':
      return { op: 'addCheckpoint', checkpoint: validate.checkpoint(op.checkpoint) };
    case 'setQuarantine':
      return { op: 'setQuarantine', state: validate.quarantine(op.state) };
    case 'incrementCounters':
      return { op: 'incrementCounters', deltas: validate.counters(op.deltas) };
    case 'appendProvenance':
      return {
        op: 'appendProvenance', input: validate.provenanceInput(op.input),
        ...(op.origin === undefined ? {} : { origin: assertProvenanceOrigin(op.origin) }),
      };
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

/**
 * The UTF-8 size of `json` when it exceeds `maxBytes`, else undefined. Cheap bound first: UTF-8 is
 * at most 3 bytes per UTF-16 unit, so short strings need no count.
 */
export function bytesOverLimit(json: string, maxBytes: number): number | undefined {
  if (json.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(json, 'utf8');
  return bytes > maxBytes ? bytes : undefined;
}

/**
 * Throws LIMIT_PAYLOAD_TOO_LARGE when the UTF-8 size of `json` exceeds `maxBytes`, naming the
 * record's largest field (`details.largestField`, see largestField), so a caller can say which of its
 * fields to shrink (the HTTP API answers `body.data` for a provenance entry's data, when the request
 * body holds that field). Not `details.field`: the record may be one the server built (a merged
 * trace), whose fields are not the caller's.
 */
export function assertRecordSize(json: string, what: string, maxBytes: number = DEFAULT_MAX_RECORD_BYTES): void {
  const bytes = bytesOverLimit(json, maxBytes);
  if (bytes !== undefined) throw tooLarge(what, bytes, maxBytes, json);
}

/**
 * The top-level field of a record's JSON text that takes the most UTF-8 bytes, with its size; undefined
 * when the text is not an object with a field. Only on the refusal path: it parses the text again.
 */
export function largestField(json: string): { field: string; bytes: number } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  let best: { field: string; bytes: number } | undefined;
  for (const [field, v] of Object.entries(value)) {
    const text = JSON.stringify(v);
    const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    if (!best || bytes > best.bytes) best = { field, bytes };
  }
  return best;
}

function tooLarge(what: string, bytes: number, maxBytes: number, json?: string): LimitError {
  const largest = json === undefined ? undefined : largestField(json);
  return new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `The ${what} is ${bytes} bytes as JSON; the limit is ${maxBytes} bytes${largest ? ` (its largest field, ${largest.field}, is ${largest.bytes} bytes)` : ''}`, {
    details: { record: what, bytes, maxBytes, ...(largest ? { largestField: largest.field } : {}) },
    fix: `${largest ? `Make ${largest.field} smaller: s` : 'S'}tore large outputs as files and reference them, or raise the backend option maxRecordBytes.`,
  });
}

/**
 * The size check of a record stored together with its children — a trace with its flags, an RD
 * series with its points — by the contract's measure (kernel/contracts/storage.ts, "Record size"):
 * the record's JSON without the children's field, and each child alone, as the SQL backends store
 * them. Throws LIMIT_PAYLOAD_TOO_LARGE when the record without its `field` or one of its children
 * is over `maxBytes`. `text` is JSON.stringify(record), children included; `field` must be one of
 * several keys of the record (its children are `children`, serialised again only when the record
 * is near the limit; `childTexts`, when given, are their JSON texts). Nothing is serialised twice
 * on the common path: a text whose UTF-16 length is within a third of the limit is within it in
 * bytes, and so is every part of it.
 */
export function assertContainerSize(
  text: string, what: string, field: string, children: readonly unknown[], childWhat: string, maxBytes: number, childTexts?: readonly string[],
): void {
  if (text.length * 3 <= maxBytes) return;
  const texts = childTexts ?? children.map((c) => JSON.stringify(c));
  // `[a,b,c]`: the brackets and n - 1 commas.
  let childBytes = texts.length === 0 ? 2 : texts.length + 1;
  for (const t of texts) {
    const bytes = Buffer.byteLength(t, 'utf8');
    if (bytes > maxBytes) throw tooLarge(childWhat, bytes, maxBytes);
    childBytes += bytes;
  }
  // `"field":` plus the comma that separates it from a neighbouring key.
  const own = Buffer.byteLength(text, 'utf8') - (field.length + 4) - childBytes;
  if (own > maxBytes) throw tooLarge(what, own, maxBytes);
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

/** The opaque `nextCursor` of a page that ended at `position` (`decodeCursor` reads it back). */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.t, position.id]), 'utf8').toString('base64url');
}

/** Reads a cursor made by `encodeCursor`; anything else is LIMIT_VALIDATION naming the field `cursor`. */
export function decodeCursor(cursor: string): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(parsed[0]) || !Id.safeParse(parsed[1]).success) {
    throw new LimitError('LIMIT_VALIDATION', 'Invalid cursor: pass the nextCursor of a previous page unchanged', { details: { field: 'cursor', cursor: cursor.slice(0, 200) } });
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
 * For backends that filter in memory: sorts newest first, skips to the cursor and cuts a page of at
 * most `limit` items and `maxBytes` bytes of their JSON (PageBuilder). `items` must already be filtered.
 */
export function paginate<T extends { createdAt: string; id: string }>(items: readonly T[], limit: number, after?: CursorPosition, maxBytes: number = MAX_PAGE_BYTES): Page<T> {
  const sorted = [...items].sort(compareNewestFirst);
  const rest = after ? sorted.filter((i) => isAfterCursor(i, after)) : sorted;
  const page = new PageBuilder<T>(limit, maxBytes);
  for (const item of rest) {
    const bytes = Buffer.byteLength(JSON.stringify(item), 'utf8');
    if (!page.takes(bytes)) break;
    page.add(item, bytes);
  }
  return page.page();
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

/**
 * Builds one page of a listing from rows read in list order, bounded by count (`limit`) and by
 * size (`maxBytes`: the rows' JSON as the backend stores it, a trace with its flags). A backend asks
 * `takes(bytes)` before it reads or parses a row, and stops reading at the first no: that row only
 * proves a next page exists, as the extra row of `pageOf` does, so the page gets a `nextCursor`.
 * The first row is always taken, however large, so paging moves on. A page is thus at most
 * `maxBytes`, or one record when a single record is larger; `limit` is a maximum, not a promise.
 */
export class PageBuilder<T extends { createdAt: string; id: string }> {
  readonly items: T[] = [];
  #bytes = 0;
  #more = false;

  constructor(readonly limit: number, readonly maxBytes: number) {}

  /** Whether the next row, `bytes` long, belongs on this page; false ends the page (a next page exists). */
  takes(bytes: number): boolean {
    if (this.#more) return false;
    if (this.items.length >= this.limit || (this.items.length > 0 && this.#bytes + bytes > this.maxBytes)) {
      this.#more = true;
      return false;
    }
    return true;
  }

  /** Ends the page before the next row, which exists (for a backend whose query applied `takes`'s rule itself). */
  end(): void {
    this.#more = true;
  }

  /** Adds a row `takes` accepted. */
  add(item: T, bytes: number): void {
    this.items.push(item);
    this.#bytes += bytes;
  }

  /** The page: its rows, and the cursor after the last one when a row was refused. */
  page(): Page<T> {
    const last = this.items[this.items.length - 1];
    return { items: this.items, nextCursor: this.#more && last ? cursorAfter(last) : null };
  }
}

/**
 * The trace with `patch` applied; with `ifStatus` (a batch's `updateTrace` precondition), only from
 * that status, and with `ifFlagCount`, only while the trace (read with its flags) holds that many
 * flags. Otherwise LIMIT_CONFLICT, whose details name the trace and what was expected
 * (isStatusConflict, isFlagsConflict).
 */
export function applyTracePatch(trace: Trace, patch: TracePatch, ifStatus?: TraceStatus, ifFlagCount?: number): Trace {
  if (ifStatus !== undefined && trace.status !== ifStatus) {
    throw new LimitError('LIMIT_CONFLICT', `Trace "${trace.id}" is ${trace.status}, not ${ifStatus}: another change to it came first`, {
      details: { traceId: trace.id, status: trace.status, expected: ifStatus },
    });
  }
  if (ifFlagCount !== undefined && trace.flags.length !== ifFlagCount) {
    throw new LimitError('LIMIT_CONFLICT', `Trace "${trace.id}" has ${trace.flags.length} flags, not ${ifFlagCount}: another change to it came first`, {
      details: { traceId: trace.id, flagCount: trace.flags.length, expectedFlagCount: ifFlagCount },
    });
  }
  const next: Trace = { ...trace };
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) (next as Record<string, unknown>)[key] = value;
  }
  return next;
}

/**
 * Batch ops that write nothing and make the batch apply only while each trace still has the status
 * it was read with: an `updateTrace` with an empty patch and `ifStatus` (so every backend checks it
 * in the transaction, under the lock a status change takes). A decision made on traces read earlier
 * (a merge's parents, checked before the merge is stored or approved) is then committed only if none
 * of them changed status meanwhile; otherwise the batch is refused whole (isStatusConflict).
 * With `{ flags: true }`, also only while each trace given with its `flags` still holds that many
 * (`ifFlagCount`; flags are only ever added): for a decision that depended on the traces' flags (a
 * merge under blockUnsafeMerge), a flag added meanwhile refuses the batch too (isFlagsConflict).
 */
export function statusUnchangedOps(traces: readonly (Pick<Trace, 'id' | 'status'> & { flags?: readonly unknown[] })[], options: { flags?: boolean } = {}): BatchOp[] {
  return traces.map((t) => ({
    op: 'updateTrace', id: t.id, patch: {}, ifStatus: t.status,
    ...(options.flags && t.flags ? { ifFlagCount: t.flags.length } : {}),
  }));
}

/**
 * Whether `error` is the refusal of a batch's `updateTrace` precondition (`ifStatus`, applied by
 * applyTracePatch in every backend) on this trace: another change to its status committed first,
 * and the batch wrote nothing. The caller reads the trace again and decides anew (a quarantine that
 * finds the trace already quarantined, a run's final status that finds it quarantined meanwhile).
 */
export function isStatusConflict(error: unknown, traceId: string): error is LimitError {
  return error instanceof LimitError && error.code === 'LIMIT_CONFLICT' && error.details?.traceId === traceId && typeof error.details?.expected === 'string';
}

/**
 * Whether `error` is the refusal of a batch's `updateTrace` flag precondition (`ifFlagCount`) on
 * this trace: a flag was added to it after it was read, and the batch wrote nothing.
 */
export function isFlagsConflict(error: unknown, traceId: string): error is LimitError {
  return error instanceof LimitError && error.code === 'LIMIT_CONFLICT' && error.details?.traceId === traceId && typeof error.details?.expectedFlagCount === 'number';
}

/**
 * A record as every backend stores it (a row's data column, a KV value): a JSON object, not `null`,
 * an array or a scalar. A stored value that is not — damage, or a row edited by hand — must be
 * refused as LIMIT_STORAGE_CORRUPT naming where it is, never read as a missing record (`null`) or
 * spread into a wrong one. One typeof check: cheap enough for every read.
 */
export function isStoredRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How LIMIT_STORAGE_CORRUPT names a damaged row of `table` whose key is `key` (the tenant first):
 * `named` (`tenant "t", id "a"`), `id` (the key after the tenant, joined by '/') and `select`, the
 * SQL that shows its `column` (`from`: the table as the query names it, schema-qualified or not).
 */
export function damagedRow(from: string, column: string, key: Readonly<Record<string, string | number>>): { named: string; id: string; select: string } {
  const where = Object.entries(key);
  return {
    named: where.map(([c, v]) => `${c} ${JSON.stringify(v)}`).join(', '),
    id: where.slice(1).map(([, v]) => String(v)).join('/'),
    select: `SELECT ${column} FROM ${from} WHERE ${where.map(([c, v]) => `${c} = ${typeof v === 'number' ? v : `'${v.replaceAll("'", "''")}'`}`).join(' AND ')}`,
  };
}

/**
 * What is wrong with a stored value read back as a record (`array`: an array of records, such as a
 * trace's flags column), as LIMIT_STORAGE_CORRUPT's messages say it (`is not a JSON object: 42`);
 * undefined when nothing is.
 */
export function storedRecordProblem(value: unknown, array = false): string | undefined {
  if (array ? Array.isArray(value) && value.every(isStoredRecord) : isStoredRecord(value)) return undefined;
  let text: string;
  try {
    text = value === undefined ? 'nothing (no value)' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  const preview = text.length > 100 ? `${text.slice(0, 100)}…` : text;
  return `is not ${array ? 'an array of JSON objects' : 'a JSON object'}: ${preview}`;
}

/** LIMIT_NOT_FOUND for a record the tenant does not have, worded as every backend words it. */
export function notFound(kind: string, tenant: string, id: string): LimitError {
  return new LimitError('LIMIT_NOT_FOUND', `No ${kind} "${id}" in tenant "${tenant}"`, { details: { kind, tenant, id } });
}

/** LIMIT_CONFLICT for creating a record whose id the tenant already has. */
export function conflict(kind: string, tenant: string, id: string): LimitError {
  return new LimitError('LIMIT_CONFLICT', `A ${kind} "${id}" already exists in tenant "${tenant}"`, {
    details: { kind, tenant, id },
    fix: 'Use a new id; records are immutable except through their update methods.',
  });
}

/**
 * LIMIT_STORAGE_MIGRATION_FAILED for a store whose recorded schema version is newer than the last
 * migration the backend knows: a newer limit-graph wrote it, and this code does not know its layout,
 * so it must neither read nor write it. `store` names the store as the backend's messages do
 * ("The SQLite database /srv/limit.db").
 */
export function schemaTooNew(store: string, version: number, known: number, plugin: string): LimitError {
  return new LimitError('LIMIT_STORAGE_MIGRATION_FAILED', `${store} has schema version ${version}; this plugin knows up to ${known}`, {
    plugin,
    details: { schemaVersion: version, knownVersion: known },
    fix: 'Upgrade limit-graph to the version that wrote this store (every instance that shares it).',
  });
}

/** Options of `retryOnConflict`. */
export interface RetryOptions {
  /** Total attempts, default 50. */
  attempts?: number;
  /** Which errors are worth another attempt (a unique violation, SQLITE_BUSY, 40001 …). */
  retryable(error: unknown): boolean;
  /** Base delay (ms) of the jittered, capped exponential backoff; default 2. */
  baseDelayMs?: number;
  /** What is retried, for the final error. */
  what?: string;
  /** Code of the final error, default LIMIT_PROVENANCE_CONFLICT (what the helper was written for). */
  code?: LimitErrorCode;
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
  throw new LimitError(options.code ?? 'LIMIT_PROVENANCE_CONFLICT', `${options.what ?? 'Write'} still conflicted after ${attempts} attempts`, { cause: last });
}

/**
 * Adds `deltas` into `sum` (a new object when undefined). A batch's counter ops summed this way are
 * applied once, in one place: additions commute, and one write per counter name (in name order)
 * cannot form a lock cycle with another batch touching the same counters in another op order.
 */
export function sumCounters(sum: Counters | undefined, deltas: Counters): Counters {
  const out = sum ?? (Object.create(null) as Counters);
  for (const name in deltas) out[name] = addCounter(name, out[name] ?? 0, deltas[name]!);
  return out;
}

/**
 * `held + delta`, the next value of counter `name`, or LIMIT_VALIDATION (counterNotFinite) when
 * that is not a finite number: JSON and the SQL backends cannot hold ±Infinity (it would be stored
 * as null, or the server refuses it), so every backend refuses such an increment, writing nothing.
 */
export function addCounter(name: string, held: number, delta: number): number {
  const next = held + delta;
  if (!Number.isFinite(next)) throw counterNotFinite(name, delta, held);
  return next;
}

/**
 * LIMIT_VALIDATION for an increment that would take counter `name` past the finite numbers
 * (±Number.MAX_VALUE); `held`, the value it had, when known.
 */
export function counterNotFinite(name: string, delta: number, held?: number): LimitError {
  const sum = held === undefined ? `adding ${delta}` : `${held} + ${delta}`;
  return new LimitError('LIMIT_VALIDATION', `Counter "${name}" would leave the finite numbers (${sum} is past ±Number.MAX_VALUE); nothing was written`, {
    details: { counter: name, delta, ...(held === undefined ? {} : { value: held }) },
    fix: 'Keep counters well within ±1.7976931348623157e308: count in smaller units, or reset the counter by incrementing it by its negated value.',
  });
}

/** The file (anything but a folder) at `dir` or at the nearest existing parent; undefined when that is a folder. */
export function fileOnPath(dir: string): string | undefined {
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    try {
      return statSync(p).isDirectory() ? undefined : p;
    } catch {
      if (path.dirname(p) === p) return undefined;
    }
  }
}

/**
 * A store folder that a file stands in place of: `dir` itself, or a parent of it, is a file, so
 * mkdir fails with EEXIST or ENOTDIR and opening what is inside with ENOTDIR. Returns
 * LIMIT_STORAGE_UNAVAILABLE naming that file (`details.path`) and the setting that chose `dir` —
 * `${what} cannot be opened: <file> is a file, not a folder` — or undefined for any other error.
 */
export function fileInPlaceOfFolder(error: unknown, dir: string, store: { plugin: string; what: string; setting: string }): LimitError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EEXIST' && code !== 'ENOTDIR') return undefined;
  const file = fileOnPath(dir);
  if (file === undefined) return undefined;
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `${store.what} cannot be opened: ${file} is a file, not a folder`, {
    plugin: store.plugin, cause: error, details: { path: file, code },
    fix: `Point ${store.plugin} at a folder (${store.setting}), or move the file ${file} out of the way.`,
  });
}

/** Which file a path named when a store opened it (device and inode), to tell later whether it still does. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** The identity of the file at `file` now. */
export function fileIdentity(file: string): FileIdentity {
  const { dev, ino } = statSync(file);
  return { dev, ino };
}

/**
 * LIMIT_STORAGE_UNAVAILABLE when `file` no longer names the file a store opened as `opened` — it was
 * removed (the file, or a folder above it: a temp cleaner, an operator, a volume unmounted) or another
 * file stands there now — or undefined while it does (or when nothing was opened: `:memory:`). Such a
 * store could still write into the file it holds open, but no restart finds that file: every write
 * it acknowledged would be lost, so backends refuse writes with this error (checked once per write
 * transaction: one stat, identity compared by device and inode) and health() fails with its message
 * (fileNoLongerAt). Reads go on from the open file. `what` names the store (`SQLite database`),
 * `details` go with the error. Any other error of stat is thrown.
 */
export function fileNoLongerAtError(what: string, file: string, opened: FileIdentity | undefined, store: { plugin: string; details: Record<string, unknown> }): LimitError | undefined {
  if (opened === undefined) return undefined;
  let now: FileIdentity | undefined;
  try {
    now = fileIdentity(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  if (now?.dev === opened.dev && now.ino === opened.ino) return undefined;
  const gone = now === undefined ? `${file} was removed while open` : `${file} was replaced by another file while open`;
  const message = `${what} ${gone}: writes are refused, since they would go into a file no restart finds and every one acknowledged would be lost (reads still answer from the open file); restore the file at its path, or restart`;
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', message, {
    plugin: store.plugin, details: { ...store.details, path: file, reason: now === undefined ? 'removed' : 'replaced' },
    fix: `Put the file this process opened back at ${file} (writes resume once it is there), or restart the process to open what stands at that path now.`,
  });
}

/** The failing health (check `file`) of a store whose file no longer is at its path: see fileNoLongerAtError. */
export function fileNoLongerAt(what: string, file: string, opened: FileIdentity | undefined, store: { plugin: string; details: Record<string, unknown> }): HealthResult | undefined {
  const gone = fileNoLongerAtError(what, file, opened, store);
  if (!gone) return undefined;
  const { message } = gone;
  return { status: 'fail', message, checks: [{ name: 'file', status: 'fail', message }], details: gone.details };
}
