/**
 * Artifact export and verification: pure functions over already-loaded records, so `limit verify`
 * needs no runtime and the HTTP API can stream what `exportArtifact` returns.
 *
 * Digests: json/jsonl hash each part's records as canonical JSON (RFC 8785) — whitespace and key
 * order do not matter, content does; csv hashes each file's exact bytes.
 */
import path from 'node:path';
import { canonicalJson, sha256, verifyProvenanceChain, verifyTraceChain } from 'limit-graph';
import type {
  ArtifactExport, ArtifactFormat, ArtifactManifest, ArtifactPartName, ArtifactVerification, ChainBoundTrace, ChainVerification,
  Checkpoint, Flag, ProvenanceEntry, RdSeries, Session, Trace,
} from 'limit-graph';
import { encodeCsv, parseCsvObjects, type CsvCell } from './csv.ts';

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

type Chain = ChainVerification & { traceId: string };

const CSV_FILES: Record<ArtifactPartName, string> = {
  sessions: 'sessions.csv',
  traces: 'traces.csv',
  provenance: 'provenance.csv',
  flags: 'flags.csv',
  checkpoints: 'checkpoints.csv',
  rdSeries: 'rd_points.csv',
};

const canonical = (value: unknown): string => canonicalJson(value ?? null);

/** Digest of a part in json/jsonl: one canonical JSON line per record. */
function recordsDigest(records: readonly unknown[]): string {
  return sha256(records.map((r) => `${canonical(r)}\n`).join(''));
}

/** A trace as the artifact holds it, with what its chain binds (a CSV row gives just these). */
type BoundRecord = ChainBoundTrace & { id: string };

/**
 * Verifies each trace's chain and the trace bound to it (verifyTraceChain); a trace with no entries
 * is reported as unverifiable, and entries of a trace the artifact does not hold by their chain alone.
 */
export function verifyChains(traces: readonly BoundRecord[], provenance: readonly ProvenanceEntry[]): Chain[] {
  const byTrace = new Map<string, ProvenanceEntry[]>();
  for (const e of provenance) {
    const list = byTrace.get(e.traceId) ?? [];
    list.push(e);
    byTrace.set(e.traceId, list);
  }
  const records = new Map(traces.map((t) => [t.id, t]));
  const ids = [...new Set([...records.keys(), ...byTrace.keys()])];
  return ids.map((traceId) => {
    const entries = byTrace.get(traceId) ?? [];
    const trace = records.get(traceId);
    return { traceId, ...(trace ? verifyTraceChain(trace, entries) : verifyProvenanceChain(entries)) };
  });
}

export function buildArtifact(data: ArtifactData, encoding: ArtifactFormat, createdAt: string): ArtifactExport {
  const chains = verifyChains(data.traces, data.provenance);
  const manifestBase = {
    format: 'limit-graph-artifact' as const,
    version: 1 as const,
    encoding,
    createdAt,
    tenant: data.tenant,
    sessionIds: data.sessionIds,
    traceIds: data.traceIds,
    provenance: { verified: chains.every((c) => c.verified), chains },
  };
  if (encoding === 'csv') {
    const contents = csvFiles(data);
    const parts = Object.fromEntries(
      PART_NAMES.map((name) => [name, { sha256: sha256(contents[name]), records: (data[name] as unknown[]).length, file: CSV_FILES[name] }]),
    ) as ArtifactManifest['parts'];
    const manifest: ArtifactManifest = { ...manifestBase, parts };
    return {
      manifest,
      files: [
        { path: 'manifest.json', content: `${JSON.stringify(manifest, null, 2)}\n` },
        ...PART_NAMES.map((name) => ({ path: CSV_FILES[name], content: contents[name] })),
      ],
    };
  }
  const parts = Object.fromEntries(
    PART_NAMES.map((name) => [name, { sha256: recordsDigest(data[name] as unknown[]), records: (data[name] as unknown[]).length }]),
  ) as ArtifactManifest['parts'];
  const manifest: ArtifactManifest = { ...manifestBase, parts };
  if (encoding === 'json') {
    const doc = { manifest, parts: Object.fromEntries(PART_NAMES.map((n) => [n, data[n]])) };
    return { manifest, files: [{ path: 'artifact.json', content: `${JSON.stringify(doc, null, 2)}\n` }] };
  }
  const lines = [JSON.stringify({ kind: 'manifest', manifest })];
  for (const name of PART_NAMES) for (const record of data[name] as unknown[]) lines.push(JSON.stringify({ kind: name, record }));
  return { manifest, files: [{ path: 'artifact.jsonl', content: `${lines.join('\n')}\n` }] };
}

// ───────────── CSV views ─────────────

const json = (v: unknown): CsvCell => (v === undefined ? null : JSON.stringify(v));
const str = (v: string | undefined): CsvCell => (v === undefined ? null : v);
const num = (v: number | undefined): CsvCell => (v === undefined ? null : String(v));

function csvFiles(d: ArtifactData): Record<ArtifactPartName, string> {
  return {
    sessions: encodeCsv(
      ['id', 'tenant', 'name', 'status', 'createdAt', 'closedAt', 'limits', 'metadata'],
      d.sessions.map((s) => [s.id, s.tenant, s.name, s.status, s.createdAt, str(s.closedAt), json(s.limits), json(s.metadata)]),
    ),
    traces: encodeCsv(
      ['id', 'sessionId', 'tenant', 'status', 'runner', 'parentIds', 'taskKind', 'taskInput', 'ok', 'stdout', 'stderr', 'value', 'error',
        'latencyMs', 'tokensIn', 'tokensOut', 'exitCode', 'flagCount', 'createdAt', 'completedAt', 'metadata'],
      d.traces.map((t) => [
        t.id, t.sessionId, t.tenant, t.status, t.runner, json(t.parentIds), t.task.kind ?? 'code', t.task.input,
        t.output ? String(t.output.ok) : null, str(t.output?.stdout), str(t.output?.stderr), json(t.output?.value), json(t.output?.error),
        num(t.metrics?.latencyMs), num(t.metrics?.tokensIn), num(t.metrics?.tokensOut), num(t.metrics?.exitCode),
        String(t.flags.length), t.createdAt, str(t.completedAt), json(t.metadata),
      ]),
    ),
    provenance: encodeCsv(
      ['traceId', 'seq', 'at', 'actor', 'action', 'source', 'operation', 'rationale', 'data', 'prevHash', 'hash'],
      d.provenance.map((e) => [e.traceId, String(e.seq), e.at, e.actor, e.action, str(e.source), str(e.operation), str(e.rationale), json(e.data), e.prevHash, e.hash]),
    ),
    flags: encodeCsv(
      ['id', 'traceId', 'kind', 'severity', 'reason', 'ruleId', 'autoDetected', 'at', 'evidence'],
      d.flags.map((f) => [f.id, f.traceId, f.kind, String(f.severity), f.reason, f.ruleId, String(f.autoDetected), f.at, json(f.evidence)]),
    ),
    checkpoints: encodeCsv(
      ['traceId', 'label', 'passed', 'at', 'details'],
      d.checkpoints.map((c) => [c.traceId, c.label, String(c.passed), c.at, json(c.details)]),
    ),
    // The spreadsheet view: one row per point; a series without points keeps one row with no step.
    rdSeries: encodeCsv(
      ['seriesId', 'sessionId', 'name', 'createdAt', 'step', 'rate', 'distortion', 'meta'],
      d.rdSeries.flatMap((s) =>
        s.points.length === 0
          ? [[s.id, s.sessionId, s.name, s.createdAt, null, null, null, null]]
          : s.points.map((p) => [s.id, s.sessionId, s.name, s.createdAt, String(p.step), String(p.rate), String(p.distortion), json(p.meta)]),
      ),
    ),
  };
}

/** Rebuilds provenance entries from provenance.csv exactly (absent optional fields stay absent). */
function provenanceFromCsv(text: string): ProvenanceEntry[] {
  return parseCsvObjects(text).map((r) => {
    const entry: Record<string, unknown> = {
      traceId: r.traceId ?? '', seq: Number(r.seq), at: r.at ?? '', actor: r.actor ?? '', action: r.action ?? '',
      prevHash: r.prevHash ?? '', hash: r.hash ?? '',
    };
    if (r.source !== null && r.source !== undefined) entry.source = r.source;
    if (r.operation !== null && r.operation !== undefined) entry.operation = r.operation;
    if (r.rationale !== null && r.rationale !== undefined) entry.rationale = r.rationale;
    if (r.data !== null && r.data !== undefined) entry.data = JSON.parse(r.data);
    return entry as unknown as ProvenanceEntry;
  });
}

/** What a traces.csv row holds of the fields a chain binds (`ok` is empty for a trace without output). */
function boundRecordFromCsv(r: Record<string, CsvCell>): BoundRecord {
  return {
    id: r.id ?? '', status: (r.status ?? '') as Trace['status'], task: { input: r.taskInput ?? '' },
    output: r.ok === null || r.ok === undefined ? undefined : { stdout: r.stdout ?? '', stderr: r.stderr ?? '' },
  };
}

// ───────────── verification ─────────────

export function verifyArtifactFiles(files: { path: string; content: string }[]): ArtifactVerification {
  const problems: string[] = [];
  const fail = (message: string): ArtifactVerification => ({ ok: false, encoding: null, parts: [], chains: [], problems: [message] });
  if (files.length === 0) return fail('no files given');
  const byName = new Map(files.map((f) => [path.basename(f.path), f.content]));

  let manifest: ArtifactManifest;
  let encoding: ArtifactFormat;
  const actual = new Map<ArtifactPartName, string>();
  let provenance: ProvenanceEntry[];
  let traces: BoundRecord[];

  try {
    if (byName.has('manifest.json')) {
      encoding = 'csv';
      manifest = JSON.parse(byName.get('manifest.json')!) as ArtifactManifest;
      for (const name of PART_NAMES) {
        const file = manifest.parts?.[name]?.file ?? CSV_FILES[name];
        const content = byName.get(file);
        if (content === undefined) {
          problems.push(`part "${name}": file ${file} is missing`);
          continue;
        }
        actual.set(name, sha256(content));
      }
      provenance = byName.has(CSV_FILES.provenance) ? provenanceFromCsv(byName.get(CSV_FILES.provenance)!) : [];
      traces = byName.has(CSV_FILES.traces) ? parseCsvObjects(byName.get(CSV_FILES.traces)!).map(boundRecordFromCsv) : [];
    } else {
      if (files.length !== 1) return fail('expected one .json/.jsonl file or a CSV folder with manifest.json');
      const text = files[0]!.content;
      const records = new Map<ArtifactPartName, unknown[]>(PART_NAMES.map((n) => [n, []]));
      let doc: { manifest?: ArtifactManifest; parts?: Record<string, unknown[]> } | undefined;
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch {
        doc = undefined;
      }
      if (doc && typeof doc === 'object' && doc.manifest) {
        encoding = 'json';
        manifest = doc.manifest;
        for (const name of PART_NAMES) {
          const part = doc.parts?.[name];
          if (!Array.isArray(part)) problems.push(`part "${name}" is missing`);
          else records.set(name, part);
        }
      } else {
        encoding = 'jsonl';
        const lines = text.split('\n').filter((l) => l.trim() !== '');
        const head = JSON.parse(lines[0] ?? 'null') as { kind?: string; manifest?: ArtifactManifest } | null;
        if (!head || head.kind !== 'manifest' || !head.manifest) return fail('the first line is not a manifest record');
        manifest = head.manifest;
        lines.slice(1).forEach((line, i) => {
          const rec = JSON.parse(line) as { kind?: string; record?: unknown };
          const list = records.get(rec.kind as ArtifactPartName);
          if (!list) problems.push(`line ${i + 2}: unknown record kind ${JSON.stringify(rec.kind)}`);
          else list.push(rec.record);
        });
      }
      for (const name of PART_NAMES) actual.set(name, recordsDigest(records.get(name)!));
      provenance = records.get('provenance') as ProvenanceEntry[];
      traces = records.get('traces') as Trace[];
    }
  } catch (error) {
    return fail(`unreadable artifact: ${error instanceof Error ? error.message : String(error)}`);
  }

  if (manifest.format !== 'limit-graph-artifact' || manifest.version !== 1) problems.push('manifest is not a limit-graph-artifact version 1');
  if (manifest.encoding !== encoding) problems.push(`manifest says encoding ${manifest.encoding}, files are ${encoding}`);

  const parts = PART_NAMES.filter((n) => actual.has(n)).map((name) => {
    const expected = manifest.parts?.[name]?.sha256 ?? null;
    const got = actual.get(name)!;
    const ok = expected === got;
    if (!ok) problems.push(`part "${name}": SHA-256 ${got} does not match the manifest (${expected ?? 'none'})`);
    return { name, expected, actual: got, ok };
  });

  const traceIds = traces.map((t) => t.id);
  const chains = verifyChains(traces, provenance);
  for (const c of chains) {
    if (!c.verified) problems.push(`trace ${c.traceId}: provenance chain broken${c.brokenAt === null ? '' : ` at seq ${c.brokenAt}`} (${c.reason ?? 'unverified'})`);
  }
  const recorded = new Map((manifest.provenance?.chains ?? []).map((c) => [c.traceId, c]));
  for (const c of chains) {
    const r = recorded.get(c.traceId);
    if (!r) problems.push(`trace ${c.traceId}: not listed in the manifest's provenance result`);
    else if (r.verified !== c.verified || r.length !== c.length) {
      problems.push(`trace ${c.traceId}: chain differs from the manifest (${r.verified !== c.verified ? `verified ${c.verified}, manifest ${r.verified}` : `length ${c.length}, manifest ${r.length}`})`);
    }
  }
  if (recorded.size !== chains.length) problems.push(`manifest lists ${recorded.size} chains, the artifact holds ${chains.length}`);
  const listed = [...(manifest.traceIds ?? [])].sort().join(',');
  if (listed !== [...traceIds].sort().join(',')) problems.push("manifest's traceIds differ from the traces part");

  return { ok: problems.length === 0, encoding, parts, chains, problems };
}
