import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { ChainVerification, ProvenanceEntry, ProvenanceInput, TraceStatus } from './index.ts';

/** prevHash of the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hex SHA-256 of a string's UTF-8 bytes (Node's one-shot hash: no Hash object per call). */
export const sha256 = (text: string): string => hash('sha256', text, 'hex');

/**
 * hash = sha256(canonical JSON (RFC 8785) of the entry without `hash`). Canonical JSON makes the
 * hash independent of key order and of the backend that stored the entry; `undefined` fields are
 * dropped the same way JSON does.
 */
export function hashProvenance(entry: Omit<ProvenanceEntry, 'hash'>): string {
  const { hash: _ignored, ...rest } = entry as ProvenanceEntry;
  return sha256(canonicalJson(rest));
}

/** Builds the next link of a chain whose current head is `head` (undefined for an empty chain). */
export function nextProvenanceEntry(input: ProvenanceInput, head: Pick<ProvenanceEntry, 'seq' | 'hash'> | undefined): ProvenanceEntry {
  const body = {
    ...input,
    seq: head ? head.seq + 1 : 0,
    prevHash: head ? head.hash : GENESIS_HASH,
  };
  return { ...body, hash: hashProvenance(body) };
}

/** Checks seq continuity, the prevHash links and every hash; reports the first broken link. */
export function verifyProvenanceChain(entries: readonly ProvenanceEntry[]): ChainVerification {
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i) return { verified: false, length: entries.length, brokenAt: i, reason: `expected seq ${i}, found ${e.seq}` };
    if (e.prevHash !== prev) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'prevHash does not match the previous entry' };
    if (hashProvenance(e) !== e.hash) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'hash does not match the entry content' };
    prev = e.hash;
  }
  return { verified: true, length: entries.length, brokenAt: null };
}

/**
 * The fields of a trace its chain records (its id, its first entry's session, runner, parents and
 * task kind, a digest or a status), which `verifyTraceChain` compares.
 */
export interface ChainBoundTrace {
  id: string;
  sessionId: string;
  runner: string;
  parentIds: readonly string[];
  status: TraceStatus;
  task: { input: string; kind?: string | undefined };
  output?: { stdout: string; stderr: string } | undefined;
}

/** System actions whose entry records the status it set in `data.status` (see SYSTEM_PROVENANCE_ACTIONS). */
const STATUS_IN_DATA = new Set(['completed', 'blocked', 'failed', 'review-requested', 'released']);
/** System actions that set one status, which older entries did not record. */
const STATUS_OF_ACTION: Record<string, TraceStatus> = { quarantined: 'quarantined', approved: 'ok', rejected: 'rejected' };
const sameIds = (a: readonly unknown[], b: readonly string[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]);
const dataOf = (e: ProvenanceEntry): Record<string, unknown> => (e.data !== null && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : {});

/**
 * A trace's chain (`verifyProvenanceChain`), and the trace record bound to it: a stored trace has a
 * chain (none at all is not verified), every entry names the trace (a chain moved from another
 * trace does not verify), its session, runner, parents and task kind are those its first entry recorded,
 * its task input matches the `inputSha256` its first entry
 * recorded, its output the `stdoutSha256`/`stderrSha256` of the entry that recorded the output,
 * and its status the one the chain's last status change set. So an output, input or status
 * rewritten in storage, or the chain's last entries removed, no longer verifies. Only the system
 * actions are read (clients cannot append them); a digest or status an older entry did not record
 * is not checked. `brokenAt` is the seq of the entry the record disagrees with.
 */
export function verifyTraceChain(trace: ChainBoundTrace, entries: readonly ProvenanceEntry[]): ChainVerification {
  const chain = verifyProvenanceChain(entries);
  if (!chain.verified) return chain;
  const length = entries.length;
  if (length === 0) return { verified: false, length, brokenAt: null, reason: 'no provenance entries' };
  const unbound = (at: ProvenanceEntry, reason: string): ChainVerification => ({ verified: false, length, brokenAt: at.seq, reason });
  const stranger = entries.find((e) => e.traceId !== trace.id);
  if (stranger) return unbound(stranger, `the entry belongs to trace ${stranger.traceId}, not to this trace`);
  const first = entries[0]!;
  const recorded = dataOf(first);
  // Recorded since first entries name the session; a chain written before is not checked for it.
  if (typeof recorded.sessionId === 'string' && recorded.sessionId !== trace.sessionId) {
    return unbound(first, `the trace's session (${trace.sessionId}) is not the one its first entry recorded (${recorded.sessionId})`);
  }
  if (typeof recorded.runner === 'string' && recorded.runner !== trace.runner) {
    return unbound(first, `the trace's runner (${trace.runner}) is not the one its first entry recorded (${recorded.runner})`);
  }
  // A record read back from a file (an artifact) may leave out the schema's default, [].
  if (Array.isArray(recorded.parentIds) && !sameIds(recorded.parentIds, Array.isArray(trace.parentIds) ? trace.parentIds : [])) {
    return unbound(first, "the trace's parentIds are not the ones its first entry recorded");
  }
  if (typeof recorded.taskKind === 'string' && recorded.taskKind !== (trace.task.kind ?? 'code')) {
    return unbound(first, `the trace's task kind (${trace.task.kind ?? 'code'}) is not the one its first entry recorded (${recorded.taskKind})`);
  }
  const inputSha256 = recorded.inputSha256;
  if (typeof inputSha256 === 'string' && inputSha256 !== sha256(trace.task.input)) return unbound(first, "the trace's task input does not match the digest its first entry recorded");
  // The orchestrator's first entry (it records the input's digest) is that of a trace created `running`.
  let status: TraceStatus | undefined = typeof inputSha256 === 'string' ? 'running' : undefined;
  let statusAt = first;
  for (const e of entries) {
    const data = dataOf(e);
    if ((e.action === 'executed' || e === first) && typeof data.stdoutSha256 === 'string') {
      if (!trace.output || data.stdoutSha256 !== sha256(trace.output.stdout) || (typeof data.stderrSha256 === 'string' && data.stderrSha256 !== sha256(trace.output.stderr))) {
        return unbound(e, "the trace's output does not match the digests its entry recorded");
      }
    }
    if (STATUS_IN_DATA.has(e.action)) {
      // A release written before releases recorded their status: the status after it is unknown.
      status = typeof data.status === 'string' ? (data.status as TraceStatus) : undefined;
      statusAt = e;
    } else if (STATUS_OF_ACTION[e.action]) {
      status = STATUS_OF_ACTION[e.action];
      statusAt = e;
    }
  }
  if (status !== undefined && status !== trace.status) return unbound(statusAt, `the trace is ${trace.status}, but its chain's last status change (${statusAt.action}) set ${status}`);
  return chain;
}
