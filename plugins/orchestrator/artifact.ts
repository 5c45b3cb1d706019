/**
 * Artifact export and verification: pure functions over already-loaded records, so `limit verify`
 * needs no runtime and the HTTP API returns what `exportArtifact` builds.
 *
 * Digests: json/jsonl hash each part's records as canonical JSON (RFC 8785) — whitespace and key
 * order do not matter, content does; csv hashes each file's exact bytes, whose JSON cells are
 * canonical JSON too. So the same records give the same digests from every backend, though not
 * every backend keeps the key order of stored objects (the Storage contract's "Key order").
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  ChainVerification, Checkpoint, Flag, Id, LimitError, flagDigest, MAX_EXPORT_TRACE_IDS, ProvenanceEntry, RdSeries, Session, Trace, TraceStatus, canonicalJson, illFormedText, jsonErrorPlace, mapStringsDeep, sha256, toWellFormed,
  mergeAncestryMemo, verifyMergeAncestry, verifyProvenanceChain, verifyTraceChain, z,
} from 'limit-graph';
import type { ArtifactExport, ArtifactFormat, ArtifactManifest, ArtifactMend, ArtifactPartName, ArtifactVerification, ChainBoundTrace, RunMetrics } from 'limit-graph';
import { csvLines, parseCsvObjects, type CsvCell } from './csv.ts';

export const PART_NAMES: readonly ArtifactPartName[] = ['sessions', 'traces', 'provenance', 'flags', 'checkpoints', 'rdSeries'];

export interface ArtifactData {
  tenant: string;
  sessionIds: string[];
  traceIds: string[];
  sessions: Session[];
  traces: Trace[];
  provenance: ProvenanceEntry[];
  flags: Flag[];
  checkpoints: Checkpoint[];
  rdSeries: RdSeries[];
}

/** A trace with its chain and checkpoints, all as of one moment (the orchestrator's #traceSnapshot). */
export interface TraceSnapshot {
  trace: Trace;
  provenance: ProvenanceEntry[];
  checkpoints: Checkpoint[];
}
/** Reads of a trace that keeps changing before an export gives up on it (LIMIT_CONFLICT). */
export const SNAPSHOT_ATTEMPTS = 5;

type Chain = z.infer<typeof ChainVerification> & { traceId: string };

const CSV_FILES: Record<ArtifactPartName, string> = {
  sessions: 'sessions.csv',
  traces: 'traces.csv',
  provenance: 'provenance.csv',
  flags: 'flags.csv',
  checkpoints: 'checkpoints.csv',
  rdSeries: 'rd_points.csv',
};

/** The files of a CSV artifact's folder, as buildArtifact writes them. */
export const CSV_ARTIFACT_FILES: readonly string[] = ['manifest.json', ...PART_NAMES.map((name) => CSV_FILES[name])];

const canonical = (value: unknown): string => canonicalJson(value ?? null);

/** Digest of a part in json/jsonl: one canonical JSON line per record, hashed one record at a time. */
function recordsDigest(records: readonly unknown[]): string {
  const hash = createHash('sha256');
  for (const r of records) hash.update(`${canonical(r)}\n`);
  return hash.digest('hex');
}

/** A trace as the artifact holds it, with what its chain binds (a CSV row gives just these). */
type BoundRecord = ChainBoundTrace & { id: string; flagCount?: number | string | undefined };

/**
 * Verifies each trace's chain and the trace bound to it (verifyTraceChain); a trace with no entries
 * is reported as unverifiable, and entries of a trace the artifact does not hold by their chain alone.
 * A merge's chain also verifies only while each parent's chain the artifact holds still holds the
 * head the merge recorded, and so on over its ancestry (verifyMergeAncestry); the ancestors the
 * artifact does not hold are named in the chain's `unchecked`. The chains do not change between the
 * traces' walks, so they share one memo: each recorded head is checked once, not once per descendant
 * (a line of k merges costs O(k) chain checks, not O(k²)).
 */
export function verifyChains(traces: readonly BoundRecord[], provenance: readonly ProvenanceEntry[], flags: readonly Flag[]): Chain[] {
  const byTrace = groupByTrace(provenance);
  const flagsOf = groupByTrace(flags);
  // Each trace is bound with the flags part's flags of it (a CSV trace row holds only their count).
  const records = new Map(traces.map((t) => [t.id, { ...t, flags: flagsOf.get(t.id) ?? [] }]));
  const ids = [...new Set([...records.keys(), ...byTrace.keys()])];
  const chainOf = (id: string) => byTrace.get(id);
  const memo = mergeAncestryMemo();
  return ids.map((traceId) => {
    const entries = byTrace.get(traceId) ?? [];
    const trace = records.get(traceId);
    const own = trace ? verifyTraceChain(trace, entries) : verifyProvenanceChain(entries);
    // A merge's recorded parent heads, and theirs, against the chains the artifact holds.
    return { traceId, ...verifyMergeAncestry(own, traceId, entries, chainOf, undefined, memo) };
  });
}

/** Records by their traceId, in their order. */
function groupByTrace<T extends { traceId: string }>(records: readonly T[]): Map<string, T[]> {
  const byTrace = new Map<string, T[]>();
  for (const r of records) {
    const list = byTrace.get(r.traceId);
    if (list) list.push(r);
    else byTrace.set(r.traceId, [r]);
  }
  return byTrace;
}

/** Dotted paths of the strings (values or keys) in a record that are not well-formed Unicode, as mended. */
const illFormedPaths = (value: unknown): string[] => illFormedText(value).map(({ path }) => path.map((p) => toWellFormed(String(p))).join('.'));

/**
 * Text that is not well-formed Unicode — half a surrogate pair, which JavaScript strings (and so
 * SQLite and the file store) allow but canonical JSON, UTF-8 and PostgreSQL do not — exported with
 * U+FFFD in its place, as a UTF-8 encoder writes it, and listed in the manifest. Verification stays
 * sound: the SHA-256 a chain recorded of the stored text was taken over those same UTF-8 bytes, and
 * provenance entries never hold such text (appending one is refused), so no entry changes. (The
 * digests a chain records over canonical JSON — of a task's details, metadata, output value — never
 * cover such text, which the orchestrator refuses: a record holding it there does not verify.)
 */
function mendText(data: ArtifactData): { data: ArtifactData; mended: ArtifactMend[] } {
  const mended: ArtifactMend[] = [];
  const parts = Object.fromEntries(PART_NAMES.map((part) => [part, (data[part] as unknown[]).map((record, index) => {
    const fields = illFormedPaths(record);
    if (fields.length === 0) return record;
    const { id, traceId } = record as { id?: string; traceId?: string };
    for (const field of fields) mended.push({ part, index, id: id ?? traceId ?? '', field });
    return mapStringsDeep(record, toWellFormed);
  })]));
  return { data: { ...data, ...parts }, mended };
}

/**
 * The most characters an artifact's files may hold together: 128 Mi. An export is built in memory
 * as text (the API returns it as strings, over HTTP inside one JSON response that escapes it once
 * more), and a JavaScript string holds at most 512 Mi characters (V8); this keeps the files and
 * that response well within it. A larger export is refused while its records are read, once the
 * text read is over the limit (ArtifactBudget), or else before any of it is joined, naming its size
 * and how to export it in parts — as databases and search engines bound a response and point to
 * paging rather than fail midway.
 */
export const MAX_ARTIFACT_CHARS = 128 * 1024 * 1024;

/** A file as the pieces it is made of, measured before they are joined into one string. */
interface Pieces {
  path: string;
  pieces: string[];
}

const indent = (json: string, pad: string) => json.replaceAll('\n', `\n${pad}`);

/** artifact.json as `JSON.stringify({ manifest, parts }, null, 2)` writes it, one record per piece. */
function jsonPieces(manifest: ArtifactManifest, data: ArtifactData): string[] {
  const pieces = [`{\n  "manifest": ${indent(JSON.stringify(manifest, null, 2), '  ')},\n  "parts": {`];
  PART_NAMES.forEach((name, i) => {
    const records = data[name] as unknown[];
    pieces.push(`${i ? ',' : ''}\n    ${JSON.stringify(name)}: [`);
    records.forEach((r, j) => pieces.push(`${j ? ',' : ''}\n      ${indent(JSON.stringify(r, null, 2), '      ')}`));
    pieces.push(records.length ? '\n    ]' : ']');
  });
  pieces.push('\n  }\n}\n');
  return pieces;
}

function jsonlPieces(manifest: ArtifactManifest, data: ArtifactData): string[] {
  const pieces = [`${JSON.stringify({ kind: 'manifest', manifest })}\n`];
  for (const name of PART_NAMES) for (const record of data[name] as unknown[]) pieces.push(`${JSON.stringify({ kind: name, record })}\n`);
  return pieces;
}

/**
 * The export refused: `chars` is its size, or — `soFar` — the text of the `traces` read so far,
 * already more than `maxChars` (ArtifactBudget), so the rest was never read. `traceId`: the one
 * trace read, when `traces` is 1 — a trace too large on its own, which no split into parts exports.
 */
function tooLarge(chars: number, maxChars: number, traces: number, sessionIds: string[], encoding: ArtifactFormat, soFar = false, traceId?: string): LimitError {
  // No more than one HTTP request takes (MAX_EXPORT_TRACE_IDS), so the fix works for every caller.
  const perPart = Math.min(MAX_EXPORT_TRACE_IDS, Math.max(1, Math.floor((traces * maxChars) / chars)));
  const n = (x: number) => x.toLocaleString('en-US');
  const message = soFar
    ? `The ${encoding} artifact would be more than ${n(maxChars)} characters: the ${n(traces)} traces read so far hold ${n(chars)} characters of text; an export holds at most ${n(maxChars)}`
    : `The ${encoding} artifact of ${n(traces)} traces would be ${n(chars)} characters; an export holds at most ${n(maxChars)}`;
  const ways = 'exportArtifact({ traceIds }), `limit export --trace ID…` or POST /artifacts/export {"traceIds": […]}';
  const single = traces === 1 && traceId !== undefined;
  const fix = single
    ? `Trace "${traceId}" alone is more than an export holds, so exporting it in parts cannot help: ${encoding === 'jsonl' ? '' : 'export it as jsonl (format "jsonl": a record a line, without the indentation of json or the quoting of csv), which may fit, or '}read its records on their own — GET /traces/:id (the trace with its flags), GET /traces/:id/provenance (its chain, verified) — and keep large data out of its records (store it elsewhere and record its digest or address).`
    : perPart === 1
      ? `Export the traces one at a time: ${ways} with one id each time (each part verifies on its own).`
      : `Export the traces in parts of about ${n(perPart)} or fewer: ${ways} with a slice of them each time (each part verifies on its own).`;
  return new LimitError('LIMIT_PAYLOAD_TOO_LARGE', message, {
    details: { format: encoding, chars, maxChars, traces, sessionIds, ...(soFar ? { soFar: true } : {}), ...(single ? { traceId } : {}) },
    fix,
  });
}

/** Characters of every string in `value` (keys aside): what any format writes of it at the least. */
export function textChars(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value === null) return 0;
  let chars = 0;
  if (Array.isArray(value)) for (const v of value) chars += textChars(v);
  else for (const key in value) chars += textChars((value as Record<string, unknown>)[key]);
  return chars;
}

/**
 * A running lower bound of an artifact's size, kept while its records are read: the characters of
 * every string they hold, which json, jsonl and csv all write at least once (JSON escapes, CSV
 * quotes, indentation and keys only add). It refuses (LIMIT_PAYLOAD_TOO_LARGE, as buildArtifact
 * does) as soon as the bound passes `maxChars`, so an export too large is refused after reading
 * about `maxChars` of it — not after reading, mending and printing all of it.
 */
export class ArtifactBudget {
  #chars = 0;
  #traces = 0;
  #lastTraceId: string | undefined;
  readonly #sessionIds = new Set<string>();

  constructor(readonly encoding: ArtifactFormat, readonly maxChars: number = MAX_ARTIFACT_CHARS) {}

  /** Counts a trace (with its flags), or a trace's snapshot (with its chain and checkpoints). */
  addTrace(record: Trace | TraceSnapshot): void {
    const trace = 'trace' in record ? record.trace : record;
    this.#traces++;
    this.#lastTraceId = trace.id;
    this.#sessionIds.add(trace.sessionId);
    this.add(record);
  }

  /** Counts other records (sessions, RD series). */
  add(records: unknown): void {
    this.#chars += textChars(records);
    if (this.#chars > this.maxChars) throw tooLarge(this.#chars, this.maxChars, this.#traces, [...this.#sessionIds].sort(), this.encoding, true, this.#lastTraceId);
  }
}

export function buildArtifact(raw: ArtifactData, encoding: ArtifactFormat, createdAt: string, maxChars = MAX_ARTIFACT_CHARS): ArtifactExport {
  const { data, mended } = mendText(raw);
  const chains = verifyChains(data.traces, data.provenance, data.flags);
  const manifestBase = {
    format: 'limit-graph-artifact' as const,
    version: 1 as const,
    encoding,
    createdAt,
    tenant: data.tenant,
    sessionIds: data.sessionIds,
    traceIds: data.traceIds,
    provenance: { verified: chains.every((c) => c.verified), chains },
    ...(mended.length ? { mended } : {}),
  };
  const count = (name: ArtifactPartName) => (data[name] as unknown[]).length;
  let manifest: ArtifactManifest;
  let files: Pieces[];
  if (encoding === 'csv') {
    const lines = csvFiles(data);
    const digest = (pieces: string[]) => pieces.reduce((hash, piece) => hash.update(piece), createHash('sha256')).digest('hex');
    manifest = { ...manifestBase, parts: Object.fromEntries(PART_NAMES.map((name) => [name, { sha256: digest(lines[name]), records: count(name), file: CSV_FILES[name] }])) as ArtifactManifest['parts'] };
    files = [{ path: 'manifest.json', pieces: [`${JSON.stringify(manifest, null, 2)}\n`] }, ...PART_NAMES.map((name) => ({ path: CSV_FILES[name], pieces: lines[name] }))];
  } else {
    manifest = { ...manifestBase, parts: Object.fromEntries(PART_NAMES.map((name) => [name, { sha256: recordsDigest(data[name] as unknown[]), records: count(name) }])) as ArtifactManifest['parts'] };
    files = [{ path: `artifact.${encoding}`, pieces: encoding === 'json' ? jsonPieces(manifest, data) : jsonlPieces(manifest, data) }];
  }
  const chars = files.reduce((sum, f) => f.pieces.reduce((s, piece) => s + piece.length, sum), 0);
  if (chars > maxChars) throw tooLarge(chars, maxChars, data.traces.length, data.sessionIds, encoding, false, data.traces[0]?.id);
  return { manifest, files: files.map((f) => ({ path: f.path, content: f.pieces.join('') })) };
}

// ───────────── CSV views ─────────────

/**
 * A free-form value as one CSV cell: canonical JSON (RFC 8785: keys sorted), because a CSV part's
 * digest is its file's exact bytes and backends do not keep the key order of stored objects
 * (PostgreSQL's jsonb puts shorter keys first). With JSON.stringify the same records exported from
 * SQLite and from PostgreSQL gave different digests.
 */
const json = (v: unknown): CsvCell => (v === undefined ? null : canonicalJson(v));
const str = (v: string | undefined): CsvCell => (v === undefined ? null : v);
const num = (v: number | undefined): CsvCell => (v === undefined ? null : String(v));

/** The task's fields besides kind and input (language, files, env, args, toolOutputs …) as canonical JSON; absent when it has none. */
function taskDetails(task: Trace['task']): CsvCell {
  const { kind: _kind, input: _input, ...rest } = task;
  return Object.keys(rest).length ? json(rest) : null;
}

function csvFiles(d: ArtifactData): Record<ArtifactPartName, string[]> {
  return {
    sessions: csvLines(
      ['id', 'tenant', 'name', 'status', 'createdAt', 'closedAt', 'limits', 'metadata'],
      d.sessions.map((s) => [s.id, s.tenant, s.name, s.status, s.createdAt, str(s.closedAt), json(s.limits), json(s.metadata)]),
    ),
    traces: csvLines(
      ['id', 'sessionId', 'tenant', 'status', 'runner', 'parentIds', 'taskKind', 'taskInput', 'ok', 'stdout', 'stderr', 'value', 'error',
        'latencyMs', 'tokensIn', 'tokensOut', 'exitCode', 'flagCount', 'createdAt', 'completedAt', 'metadata',
        // Added last, so the columns before keep their places for readers that go by position.
        'taskDetails'],
      d.traces.map((t) => [
        t.id, t.sessionId, t.tenant, t.status, t.runner, json(t.parentIds), t.task.kind ?? 'code', t.task.input,
        t.output ? String(t.output.ok) : null, str(t.output?.stdout), str(t.output?.stderr), json(t.output?.value), json(t.output?.error),
        num(t.metrics?.latencyMs), num(t.metrics?.tokensIn), num(t.metrics?.tokensOut), num(t.metrics?.exitCode),
        String(t.flags.length), t.createdAt, str(t.completedAt), json(t.metadata), taskDetails(t.task),
      ]),
    ),
    provenance: csvLines(
      ['traceId', 'seq', 'at', 'actor', 'action', 'source', 'operation', 'rationale', 'data', 'prevHash', 'hash'],
      d.provenance.map((e) => [e.traceId, String(e.seq), e.at, e.actor, e.action, str(e.source), str(e.operation), str(e.rationale), json(e.data), e.prevHash, e.hash]),
    ),
    flags: csvLines(
      ['id', 'traceId', 'kind', 'severity', 'reason', 'ruleId', 'autoDetected', 'at', 'evidence'],
      d.flags.map((f) => [f.id, f.traceId, f.kind, String(f.severity), f.reason, f.ruleId, String(f.autoDetected), f.at, json(f.evidence)]),
    ),
    checkpoints: csvLines(
      ['traceId', 'label', 'passed', 'at', 'details'],
      d.checkpoints.map((c) => [c.traceId, c.label, String(c.passed), c.at, json(c.details)]),
    ),
    // The spreadsheet view: one row per point; a series without points keeps one row with no step.
    rdSeries: csvLines(
      ['seriesId', 'sessionId', 'name', 'createdAt', 'step', 'rate', 'distortion', 'meta'],
      d.rdSeries.flatMap((s) =>
        s.points.length === 0
          ? [[s.id, s.sessionId, s.name, s.createdAt, null, null, null, null]]
          : s.points.map((p) => [s.id, s.sessionId, s.name, s.createdAt, String(p.step), String(p.rate), String(p.distortion), json(p.meta)]),
      ),
    ),
  };
}

// ───────────── verification ─────────────

/**
 * What verification reads, checked with zod before use: the manifest, and every record of a
 * json/jsonl part with the kernel's own schema of its kind. A record or manifest field of the wrong
 * shape is a problem naming where it is (`parts.traces[3]: task.input: …`, `line 7 (provenance): …`,
 * `manifest.traceIds: …`), never a TypeError. Records are checked, not rewritten: digests and hash
 * chains are computed over what the files hold (a key a schema would drop still counts).
 */
const ChainResult = ChainVerification.extend({ traceId: z.string() });
const PartDigest = z.object({ sha256: z.string(), records: z.number(), file: z.string().optional() });
const ManifestSchema = z.object({
  format: z.literal('limit-graph-artifact', 'Expected "limit-graph-artifact"'),
  version: z.literal(1, 'Expected version 1'),
  encoding: z.enum(['json', 'jsonl', 'csv']),
  createdAt: z.string(),
  tenant: z.string(),
  sessionIds: z.array(z.string()),
  traceIds: z.array(z.string()),
  parts: z.object({ sessions: PartDigest, traces: PartDigest, provenance: PartDigest, flags: PartDigest, checkpoints: PartDigest, rdSeries: PartDigest }),
  provenance: z.object({ verified: z.boolean(), chains: z.array(ChainResult) }),
  mended: z.array(z.object({ part: z.enum(PART_NAMES as [ArtifactPartName, ...ArtifactPartName[]]), index: z.number(), id: z.string(), field: z.string() })).optional(),
});
const RECORD_SCHEMAS: Record<ArtifactPartName, z.ZodType> = { sessions: Session, traces: Trace, provenance: ProvenanceEntry, flags: Flag, checkpoints: Checkpoint, rdSeries: RdSeries };
/** The fields of a traces.csv row that verification reads. */
const CsvTraceRow = z.object({
  id: Id, sessionId: Id, status: TraceStatus, runner: z.string(), taskKind: z.string(), taskInput: z.string(),
  // A JSON array of trace ids (the cell verification compares with the chain's first entry).
  parentIds: z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a JSON array of trace ids' });
      return z.NEVER;
    }
  }).pipe(z.array(Id)),
});
const JsonlLine = z.object({
  kind: z.enum(PART_NAMES as [ArtifactPartName, ...ArtifactPartName[]]),
  record: z.custom<unknown>((v) => v !== undefined, 'missing'),
});
const JsonDocument = z.object({ manifest: z.unknown(), parts: z.record(z.string(), z.unknown()).optional() });

/** A value read from the artifact and where it was (for problems). */
interface Located {
  value: unknown;
  where: string;
}

const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.length ? `${i.path.map(String).join('.')}: ` : ''}${i.message}`).join('; ');
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** What a file set holds, read but not yet compared with its manifest. */
interface Read {
  encoding: ArtifactFormat;
  manifest: unknown;
  /** Each part's digest as computed from the files; absent when a record could not be read. */
  digests: Map<ArtifactPartName, string>;
  traces: BoundRecord[];
  provenance: ProvenanceEntry[];
  flags: Flag[];
  /** Records of each part as the files hold them (rd_points.csv: its series), to compare with the manifest's counts. */
  records: Map<ArtifactPartName, number>;
  /** The ids of the session records, and the tenants the session and trace records name. */
  sessionIds: string[];
  tenants: Set<string>;
  /** The id of each trace and session record that names one, and where it is (repeated ids are problems). */
  located: { traces: LocatedId[]; sessions: LocatedId[] };
}

interface LocatedId {
  id: string;
  where: string;
}

/** The `id` of each record that holds a string one, with where the record is. */
const idsOf = (items: readonly Located[]): LocatedId[] =>
  items.flatMap((i) => {
    const id = typeof i.value === 'object' && i.value !== null ? (i.value as Record<string, unknown>).id : undefined;
    return typeof id === 'string' ? [{ id, where: i.where }] : [];
  });

/**
 * Problems of the records' ids: a trace or session id held by more than one record (a forged copy
 * beside the genuine one: the chains would bind only one of them), and a trace whose session is not
 * one of the artifact's sessions (the sessions part, which must equal manifest.sessionIds). Every
 * export holds each trace's session — a session export its one session, an export by traceIds the
 * sessions its traces belong to — so neither happens in an artifact as exported.
 */
function recordIdProblems(read: Read): string[] {
  const problems: string[] = [];
  for (const [part, noun] of [['sessions', 'session'], ['traces', 'trace']] as const) {
    const at = new Map<string, string[]>();
    for (const { id, where } of read.located[part]) at.set(id, [...(at.get(id) ?? []), where]);
    for (const [id, wheres] of at) {
      if (wheres.length > 1) problems.push(`${noun} ${id}: ${wheres.length} records of the ${part} part have this id (${wheres.join(', ')}); an artifact holds each ${noun} once`);
    }
  }
  const sessions = new Set(read.sessionIds);
  const reported = new Set<string>();
  for (const t of read.traces) {
    if (sessions.has(t.sessionId) || reported.has(t.id)) continue;
    reported.add(t.id);
    const held = sessions.size ? [...sessions].sort().join(', ') : 'none';
    problems.push(`trace ${t.id}: its session ${t.sessionId} is not one of the artifact's sessions (the sessions part holds ${held})`);
  }
  return problems;
}

/** A string field of each value that is an object holding one (for the manifest's claims about records). */
const fieldOf = (values: readonly unknown[], field: string): string[] =>
  values.flatMap((v) => (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[field] === 'string' ? [(v as Record<string, string>)[field]!] : []));

/** The values that pass `schema`, as they are in the file (each failure is a problem naming where). */
function valid<T>(items: readonly Located[], schema: z.ZodType, problems: string[]): T[] {
  const out: T[] = [];
  for (const item of items) {
    const result = schema.safeParse(item.value);
    if (result.success) out.push(item.value as T);
    else problems.push(`${item.where}: ${describeIssues(result.error)}`);
  }
  return out;
}

/** Digest of a json/jsonl part read back; undefined, with a problem naming the record, when one is not JSON text (RFC 8785). */
function partDigest(items: readonly Located[], problems: string[]): string | undefined {
  try {
    return recordsDigest(items.map((i) => i.value));
  } catch (error) {
    const bad = items.find((i) => {
      try {
        canonical(i.value);
        return false;
      } catch {
        return true;
      }
    });
    problems.push(`${bad?.where ?? 'a record'}: ${errorText(error)}`);
    return undefined;
  }
}

function readRecords(encoding: 'json' | 'jsonl', manifest: unknown, parts: Map<ArtifactPartName, Located[]>, problems: string[]): Read {
  const digests = new Map<ArtifactPartName, string>();
  const checked = new Map<ArtifactPartName, unknown[]>();
  const values = (name: ArtifactPartName) => (parts.get(name) ?? []).map((i) => i.value);
  for (const name of PART_NAMES) {
    const items = parts.get(name) ?? [];
    const digest = partDigest(items, problems);
    if (digest !== undefined) digests.set(name, digest);
    checked.set(name, valid(items, RECORD_SCHEMAS[name], problems));
  }
  return {
    encoding, manifest, digests, traces: checked.get('traces') as Trace[], provenance: checked.get('provenance') as ProvenanceEntry[], flags: checked.get('flags') as Flag[],
    records: new Map([...parts].map(([name, items]) => [name, items.length])),
    sessionIds: fieldOf(values('sessions'), 'id'),
    tenants: new Set([...fieldOf(values('sessions'), 'tenant'), ...fieldOf(values('traces'), 'tenant')]),
    located: { traces: idsOf(parts.get('traces') ?? []), sessions: idsOf(parts.get('sessions') ?? []) },
  };
}

function readJson(doc: z.infer<typeof JsonDocument>, problems: string[]): Read {
  const parts = new Map<ArtifactPartName, Located[]>();
  for (const name of PART_NAMES) {
    const part = doc.parts?.[name];
    if (part === undefined) problems.push(`part "${name}" is missing`);
    else if (!Array.isArray(part)) problems.push(`parts.${name}: expected an array of records`);
    else parts.set(name, part.map((value, i) => ({ value, where: `parts.${name}[${i}]` })));
  }
  return readRecords('json', doc.manifest, parts, problems);
}

/** `documentError`: why the whole text is not one JSON document (the .json encoding), when it is not. */
function readJsonl(lines: string[], problems: string[], documentError?: unknown): Read | string {
  if (lines.every((l) => l.trim() === '')) return 'the file is empty';
  let head: unknown;
  try {
    head = JSON.parse(lines[0] ?? 'null');
  } catch (error) {
    // Neither one JSON document (the .json encoding) nor JSON lines: say so, with the parser's words.
    // Over several lines, line 1 of a .json artifact (`{`) never parses alone: the document's own
    // error is the one that names the damaged place, not line 1's.
    if (documentError !== undefined && lines.filter((l) => l.trim() !== '').length > 1) {
      return `not JSON: the file does not parse as one JSON document (${errorText(documentError)}${jsonErrorPlace(lines.join('\n'), documentError)}), nor is its line 1 a JSON line, so this is neither a .json nor a .jsonl artifact`;
    }
    return `not JSON: line 1 does not parse (${errorText(error)}), so this is neither a .json nor a .jsonl artifact`;
  }
  const manifestLine = z.object({ kind: z.literal('manifest'), manifest: z.unknown() }).safeParse(head);
  if (!manifestLine.success || manifestLine.data.manifest === undefined) return 'the first line is not a manifest record';
  const parts = new Map<ArtifactPartName, Located[]>(PART_NAMES.map((n) => [n, []]));
  lines.forEach((text, i) => {
    if (i === 0 || text.trim() === '') return;
    const where = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      problems.push(`${where}: not JSON (${errorText(error)})`);
      return;
    }
    const line = JsonlLine.safeParse(value);
    if (!line.success) {
      problems.push(`${where}: expected {"kind": "<part>", "record": {…}}: ${describeIssues(line.error)}`);
      return;
    }
    parts.get(line.data.kind)!.push({ value: line.data.record, where: `${where} (${line.data.kind})` });
  });
  return readRecords('jsonl', manifestLine.data.manifest, parts, problems);
}

function readCsv(byName: Map<string, string>, problems: string[]): Read {
  let manifest: unknown;
  try {
    manifest = JSON.parse(byName.get('manifest.json')!);
  } catch (error) {
    problems.push(`manifest.json: not JSON (${errorText(error)})`);
  }
  const declared = ManifestSchema.shape.parts.safeParse((manifest as { parts?: unknown } | undefined)?.parts);
  const digests = new Map<ArtifactPartName, string>();
  for (const name of PART_NAMES) {
    // Each part has its one file: a manifest naming another (a copy of the original kept beside an
    // edited file) would have its digest checked against a file that verification does not read.
    const file = CSV_FILES[name];
    const named = declared.success ? declared.data[name].file : undefined;
    if (named !== undefined && named !== file) problems.push(`manifest.parts.${name}.file: "${named}", but the ${name} part is ${file}`);
    const content = byName.get(file);
    if (content === undefined) problems.push(`part "${name}": file ${file} is missing`);
    else digests.set(name, sha256(content));
  }
  const rows = (file: string): Located[] => {
    const text = byName.get(file);
    if (text === undefined) return [];
    try {
      return parseCsvObjects(text).map((value, i) => ({ value, where: `${file} record ${i + 1}` }));
    } catch (error) {
      problems.push(`${file}: ${errorText(error)}`);
      return [];
    }
  };
  const traceRows = rows(CSV_FILES.traces);
  const traces = valid<Record<string, CsvCell>>(traceRows, CsvTraceRow, problems).map(boundRecordFromCsv);
  const sessionLocated = rows(CSV_FILES.sessions);
  const sessionRows = sessionLocated.map((r) => r.value);
  const records = new Map<ArtifactPartName, number>();
  for (const name of PART_NAMES) {
    if (!byName.has(CSV_FILES[name])) continue;
    // rd_points.csv has a row per point (one for a series without points): its records are its series.
    if (name === 'rdSeries') records.set(name, new Set(fieldOf(rows(CSV_FILES.rdSeries).map((r) => r.value), 'seriesId')).size);
    else if (name === 'traces') records.set(name, traceRows.length);
    else if (name === 'sessions') records.set(name, sessionRows.length);
    else records.set(name, rows(CSV_FILES[name]).length);
  }
  const entries = rows(CSV_FILES.provenance).flatMap((row): Located[] => {
    try {
      return [{ value: provenanceFromCsv(row.value as Record<string, CsvCell>), where: row.where }];
    } catch (error) {
      problems.push(`${row.where}: data: not JSON (${errorText(error)})`);
      return [];
    }
  });
  return {
    encoding: 'csv', manifest, digests, traces, provenance: valid<ProvenanceEntry>(entries, ProvenanceEntry, problems), records,
    flags: valid<Flag>(rows(CSV_FILES.flags).map((row) => ({ value: flagFromCsv(row.value as Record<string, CsvCell>), where: row.where })), Flag, problems),
    sessionIds: fieldOf(sessionRows, 'id'), tenants: new Set([...fieldOf(sessionRows, 'tenant'), ...fieldOf(traceRows.map((r) => r.value), 'tenant')]),
    located: { traces: idsOf(traceRows), sessions: idsOf(sessionLocated) },
  };
}

/** Rebuilds a provenance entry from a provenance.csv row exactly (absent optional fields stay absent). */
function provenanceFromCsv(r: Record<string, CsvCell>): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    traceId: r.traceId, seq: r.seq === null || r.seq === undefined ? null : Number(r.seq), at: r.at, actor: r.actor, action: r.action, prevHash: r.prevHash, hash: r.hash,
  };
  if (r.source !== null && r.source !== undefined) entry.source = r.source;
  if (r.operation !== null && r.operation !== undefined) entry.operation = r.operation;
  if (r.rationale !== null && r.rationale !== undefined) entry.rationale = r.rationale;
  if (r.data !== null && r.data !== undefined) entry.data = JSON.parse(r.data);
  return entry;
}

/** Rebuilds a flag from a flags.csv row; a cell that does not read back as the exporter writes it is kept as its text (the flag then fails its schema). */
function flagFromCsv(r: Record<string, CsvCell>): Record<string, unknown> {
  let evidence: unknown = r.evidence;
  try {
    evidence = r.evidence === null || r.evidence === undefined ? undefined : JSON.parse(r.evidence);
  } catch {
    // kept as text
  }
  const severity = r.severity !== null && r.severity !== undefined && String(Number(r.severity)) === r.severity ? Number(r.severity) : r.severity;
  const autoDetected = r.autoDetected === 'true' ? true : r.autoDetected === 'false' ? false : r.autoDetected;
  return { id: r.id, traceId: r.traceId, kind: r.kind, severity, reason: r.reason, ruleId: r.ruleId, evidence, autoDetected, at: r.at };
}

/**
 * Where a trace record's own account of its flags disagrees with the flags part, which its chain
 * binds (verifyChains): a json/jsonl trace record holds its flags (the same records), a traces.csv
 * row their count (`flagCount`). A forged copy there would otherwise be read beside a verified part.
 */
function heldFlagProblems(read: Read): string[] {
  const flagsOf = groupByTrace(read.flags);
  const digest = (flag: Flag): string | undefined => {
    try {
      return flagDigest(flag);
    } catch {
      return undefined;
    }
  };
  return read.traces.flatMap((t) => {
    const part = flagsOf.get(t.id) ?? [];
    if (Array.isArray(t.flags)) {
      const same = t.flags.length === part.length && t.flags.every((f, i) => digest(f) !== undefined && digest(f) === digest(part[i]!));
      return same ? [] : [`trace ${t.id}: the flags its record holds (${t.flags.length}) are not the flags part's flags of it (${part.length})`];
    }
    return t.flagCount === undefined || t.flagCount === part.length ? [] : [`trace ${t.id}: its flagCount is ${String(t.flagCount)}, but the flags part holds ${part.length} flags of it`];
  });
}

/**
 * What a traces.csv row holds of the fields a chain binds (`ok` is empty for a trace without output,
 * the metrics' cells for one without metrics). A cell that does not read back as what the exporter
 * writes there (`ok` neither true nor false, a JSON cell that does not parse, a number cell that is
 * not a number) is kept as its text, so the digest of it does not match the one the chain recorded.
 */
function boundRecordFromCsv(r: Record<string, CsvCell>): BoundRecord {
  const given = (cell: CsvCell | undefined): string | undefined => (cell === null || cell === undefined ? undefined : cell);
  const parsed = (cell: CsvCell | undefined): unknown => {
    const text = given(cell);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  };
  const number = (cell: CsvCell | undefined): number | string | undefined => {
    const text = given(cell);
    return text === undefined || String(Number(text)) !== text ? text : Number(text);
  };
  const metrics = Object.fromEntries((['latencyMs', 'tokensIn', 'tokensOut', 'exitCode'] as const).flatMap((k) => (given(r[k]) === undefined ? [] : [[k, number(r[k])]])));
  const ok = r.ok === 'true' ? true : r.ok === 'false' ? false : given(r.ok);
  return {
    id: r.id!, sessionId: r.sessionId!, runner: r.runner!, parentIds: JSON.parse(r.parentIds!) as string[], status: r.status as Trace['status'],
    task: { ...(parsed(r.taskDetails) as Record<string, unknown> | undefined), input: r.taskInput!, kind: r.taskKind! },
    metadata: parsed(r.metadata) as Record<string, unknown> | undefined, createdAt: given(r.createdAt), completedAt: given(r.completedAt), flagCount: number(r.flagCount),
    output: ok === undefined ? undefined : { ok: ok as boolean, stdout: r.stdout ?? '', stderr: r.stderr ?? '', value: parsed(r.value), error: parsed(r.error) as { code: string; message: string } | undefined },
    metrics: Object.keys(metrics).length === 0 ? undefined : (metrics as unknown as RunMetrics),
  };
}

/**
 * Whether `text` is a json or jsonl artifact, not a CSV folder's manifest.json — decided from its
 * start, never by parsing the whole file (up to MAX_ARTIFACT_FILE_BYTES): a json artifact opens with
 * its "manifest" key, as the exporter writes it; a jsonl artifact's first line is its manifest record.
 */
function holdsManifest(text: string): boolean {
  if (/^\s*\{\s*"manifest"\s*:/.test(text.slice(0, 4096))) return true;
  try {
    const value = JSON.parse(text.slice(0, text.indexOf('\n') >>> 0)) as unknown;
    return typeof value === 'object' && value !== null && 'manifest' in value;
  } catch {
    return false;
  }
}

/**
 * A CSV export is a folder with manifest.json; a json or jsonl export given alone may be named
 * manifest.json too (`limit export --format json --out manifest.json`), and is read as what it is.
 */
export function isCsvArtifact(files: readonly { path: string; content: string }[]): boolean {
  if (!files.some((f) => path.basename(f.path) === 'manifest.json')) return false;
  return files.length > 1 || !holdsManifest(files[0]!.content);
}

function readFiles(files: { path: string; content: string }[], problems: string[]): Read | string {
  if (files.length === 0) return 'no files given';
  const byName = new Map(files.map((f) => [path.basename(f.path), f.content]));
  if (isCsvArtifact(files)) return readCsv(byName, problems);
  if (files.length !== 1) return 'expected one .json/.jsonl file or a CSV folder with manifest.json';
  const text = files[0]!.content;
  let parsed: unknown;
  let documentError: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    parsed = undefined;
    documentError = error;
  }
  // A jsonl artifact of nothing but its manifest line is one JSON object too: its `kind` tells it apart.
  const doc = JsonDocument.safeParse(parsed);
  if (doc.success && doc.data.manifest !== undefined && (parsed as { kind?: unknown }).kind !== 'manifest') return readJson(doc.data, problems);
  // A .jsonl file is read as JSON lines: its own line 1 error is the one to give.
  return readJsonl(text.split('\n'), problems, files[0]!.path.endsWith('.jsonl') ? undefined : documentError);
}

export function verifyArtifactFiles(files: { path: string; content: string }[]): ArtifactVerification {
  const problems: string[] = [];
  const read = readFiles(files, problems);
  if (typeof read === 'string') return { ok: false, encoding: null, parts: [], chains: [], problems: [read] };

  const parsed = ManifestSchema.safeParse(read.manifest);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`manifest${issue.path.map((p) => `.${String(p)}`).join('')}: ${issue.message}`);
  }
  const manifest = parsed.success ? parsed.data : undefined;
  if (manifest && manifest.encoding !== read.encoding) problems.push(`manifest says encoding ${manifest.encoding}, files are ${read.encoding}`);

  const parts = PART_NAMES.filter((n) => read.digests.has(n)).map((name) => {
    const expected = manifest?.parts[name].sha256 ?? null;
    const actual = read.digests.get(name)!;
    const ok = expected === actual;
    // A CSV part is a file of the folder: name it (rd_points.csv is the rdSeries part), so the damaged file is found.
    const where = read.encoding === 'csv' ? ` (${CSV_FILES[name]})` : '';
    if (!ok && manifest) problems.push(`part "${name}"${where}: SHA-256 ${actual} does not match the manifest (${expected})`);
    return { name, expected, actual, ok };
  });

  problems.push(...recordIdProblems(read), ...heldFlagProblems(read));
  const chains = verifyChains(read.traces, read.provenance, read.flags);
  for (const c of chains) {
    if (!c.verified) problems.push(`trace ${c.traceId}: provenance chain broken${c.brokenAt === null ? '' : ` at seq ${c.brokenAt}`} (${c.reason ?? 'unverified'})`);
  }
  if (manifest) {
    const recorded = new Map(manifest.provenance.chains.map((c) => [c.traceId, c]));
    for (const c of chains) {
      const r = recorded.get(c.traceId);
      if (!r) problems.push(`trace ${c.traceId}: not listed in the manifest's provenance result`);
      else if (r.verified !== c.verified || r.length !== c.length || r.brokenAt !== c.brokenAt) {
        const diff = r.verified !== c.verified ? `verified ${c.verified}, manifest ${r.verified}` : r.length !== c.length ? `length ${c.length}, manifest ${r.length}` : `broken at ${c.brokenAt}, manifest ${r.brokenAt}`;
        problems.push(`trace ${c.traceId}: chain differs from the manifest (${diff})`);
      }
    }
    if (recorded.size !== chains.length) problems.push(`manifest lists ${recorded.size} chains, the artifact holds ${chains.length}`);
    // Against the manifest's own chains: a chain that differs from the artifact is reported above.
    const verified = manifest.provenance.chains.every((c) => c.verified);
    if (manifest.provenance.verified !== verified) problems.push(`manifest.provenance.verified is ${manifest.provenance.verified}, but its chains ${verified ? 'all verify' : 'do not all verify'}`);
    if ([...manifest.traceIds].sort().join(',') !== read.traces.map((t) => t.id).sort().join(',')) problems.push("manifest's traceIds differ from the traces part");
    // Every claim the manifest makes about the records is checked against them, not only the digests.
    for (const name of PART_NAMES) {
      const held = read.records.get(name);
      if (held !== undefined && held !== manifest.parts[name].records) problems.push(`manifest.parts.${name}.records: ${manifest.parts[name].records}, but the ${name} part holds ${held}`);
    }
    if ([...manifest.sessionIds].sort().join(',') !== [...read.sessionIds].sort().join(',')) problems.push("manifest's sessionIds differ from the sessions part");
    const others = [...read.tenants].filter((t) => t !== manifest.tenant);
    if (others.length) problems.push(`manifest.tenant is "${manifest.tenant}", but records name tenant ${others.map((t) => `"${t}"`).join(', ')}`);
  }

  return { ok: problems.length === 0, encoding: read.encoding, parts, chains, problems };
}
