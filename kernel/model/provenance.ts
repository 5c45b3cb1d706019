import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { SYSTEM_PROVENANCE_ACTIONS, type ChainVerification, type Flag, type ProvenanceEntry, type ProvenanceInput, type RunMetrics, type RunOutput, type TraceStatus } from './index.ts';

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

/**
 * Checks seq continuity, the prevHash links and every hash; reports the first broken link. An entry
 * that cannot be hashed (text with a lone surrogate, which no stored entry holds: a crafted artifact)
 * breaks the chain there, saying so, rather than throw.
 */
export function verifyProvenanceChain(entries: readonly ProvenanceEntry[]): ChainVerification {
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i) return { verified: false, length: entries.length, brokenAt: i, reason: `expected seq ${i}, found ${e.seq}` };
    if (e.prevHash !== prev) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'prevHash does not match the previous entry' };
    let hash: string;
    try {
      hash = hashProvenance(e);
    } catch (error) {
      return { verified: false, length: entries.length, brokenAt: e.seq, reason: `the entry cannot be hashed (${error instanceof Error ? error.message : String(error)})` };
    }
    if (hash !== e.hash) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'hash does not match the entry content' };
    prev = e.hash;
  }
  return { verified: true, length: entries.length, brokenAt: null };
}

/**
 * What the entry recording a trace's output (`executed`, or the first entry of a recorded or merged
 * trace) binds of it: the SHA-256 of its stdout and of its stderr, and `resultSha256`, the SHA-256
 * of the canonical JSON of the rest of the output (`ok`, `value`, `error`) and of the metrics. So
 * a rewritten output value, error message, token count or latency no longer verifies.
 */
export function outputDigests(output: RunOutput, metrics: RunMetrics | undefined): { stdoutSha256: string; stderrSha256: string; resultSha256: string } {
  return { stdoutSha256: sha256(output.stdout), stderrSha256: sha256(output.stderr), resultSha256: resultSha256(output, metrics) };
}

const resultSha256 = (output: Omit<RunOutput, 'stdout' | 'stderr'>, metrics: RunMetrics | undefined): string =>
  sha256(canonicalJson({ ok: output.ok, value: output.value, error: output.error, metrics }));

/**
 * What the first entry of a trace's chain binds of the record besides its input (`inputSha256`):
 * `taskSha256`, the SHA-256 of the canonical JSON of the task's other fields (language, files, env,
 * args, toolOutputs: all but `kind` and `input`, which the entry records themselves), and
 * `metadataSha256`, that of its metadata. So rewritten task files or metadata no longer verify.
 */
export function recordDigests(trace: Pick<ChainBoundTrace, 'task' | 'metadata'>): { taskSha256: string; metadataSha256: string } {
  const { input: _input, kind: _kind, ...details } = trace.task;
  return { taskSha256: sha256(canonicalJson(details)), metadataSha256: sha256(canonicalJson(trace.metadata ?? {})) };
}

/**
 * SHA-256 of the canonical JSON of a flag's fields (id, trace, kind, severity, reason, rule,
 * evidence, autoDetected, at): what the `flagged` entry recording a flag binds of it (`sha256` of
 * each item of its `data.flags`, or `flagSha256` for a person's flag), so a flag rewritten in
 * storage no longer verifies. Only the schema's fields count: a backend's extra columns do not.
 */
export function flagDigest(flag: Flag): string {
  const { id, traceId, kind, severity, reason, ruleId, evidence, autoDetected, at } = flag;
  return sha256(canonicalJson({ id, traceId, kind, severity, reason, ruleId, evidence: evidence ?? [], autoDetected, at }));
}

/**
 * The fields of a trace its chain records (its id, its first entry's session, runner, parents, task
 * kind and creation time, a digest, a status or a completion time), which `verifyTraceChain` compares.
 */
export interface ChainBoundTrace {
  id: string;
  sessionId: string;
  runner: string;
  parentIds: readonly string[];
  status: TraceStatus;
  task: { input: string; kind?: string | undefined; [field: string]: unknown };
  output?: { ok?: boolean; stdout: string; stderr: string; value?: unknown; error?: { code: string; message: string } | undefined } | undefined;
  metrics?: RunMetrics | undefined;
  metadata?: Record<string, unknown> | undefined;
  createdAt?: string | undefined;
  completedAt?: string | undefined;
  /** The trace's flags, when the caller has them: each is checked against the entry that recorded it. */
  flags?: readonly Flag[] | undefined;
}

const SYSTEM_ACTIONS = new Set(SYSTEM_PROVENANCE_ACTIONS);
/** System actions whose entry records the status it set in `data.status` (see SYSTEM_PROVENANCE_ACTIONS). */
const STATUS_IN_DATA = new Set(['completed', 'blocked', 'failed', 'review-requested', 'released']);
/**
 * System actions that set one status, which older entries did not record. An `approved` merge
 * follows its output (`error` for a failed one): its entry records that status in `data.status`
 * (REVIEW_STATUS_IN_DATA), and one written before says nothing of it and set `ok`.
 */
const STATUS_OF_ACTION: Record<string, TraceStatus> = { quarantined: 'quarantined', approved: 'ok', rejected: 'rejected' };
const REVIEW_STATUS_IN_DATA = new Set(['approved', 'rejected']);
const sameIds = (a: readonly unknown[], b: readonly string[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]);
const dataOf = (e: ProvenanceEntry): Record<string, unknown> => (e.data !== null && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : {});

/**
 * A trace's chain (`verifyProvenanceChain`), and the trace record bound to it: a stored trace has a
 * chain (none at all is not verified), every entry names the trace (a chain moved from another
 * trace does not verify), its session, runner, parents, task kind and createdAt are those its
 * first entry recorded, its task input, the rest of its task and its metadata match the
 * `inputSha256`, `taskSha256` and `metadataSha256` its first entry recorded (recordDigests), its
 * output the `stdoutSha256`/`stderrSha256` of the entry that recorded the output, the rest of its
 * output and its metrics that entry's `resultSha256` (outputDigests), its status the one the
 * chain's last status change set, its completedAt the last one an entry recorded, and — when
 * `trace.flags` is given — its flags those the `flagged` entries recorded (flagDigest). So an
 * output, input, task, metadata, time, status or flag rewritten, removed or added in storage, or
 * the chain's last entries removed, no longer verifies. Only the system
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
  // Recorded since first entries bind the rest of the record; a chain written before is not checked for them.
  if (typeof recorded.createdAt === 'string' && recorded.createdAt !== trace.createdAt) {
    return unbound(first, `the trace's createdAt (${trace.createdAt}) is not the one its first entry recorded (${recorded.createdAt})`);
  }
  if (typeof recorded.taskSha256 === 'string' || typeof recorded.metadataSha256 === 'string') {
    const digests = digestsOf(trace);
    if (typeof recorded.taskSha256 === 'string' && recorded.taskSha256 !== digests?.taskSha256) {
      return unbound(first, "the trace's task (its language, files, env, args or tool outputs) does not match the digest its first entry recorded");
    }
    if (typeof recorded.metadataSha256 === 'string' && recorded.metadataSha256 !== digests?.metadataSha256) {
      return unbound(first, "the trace's metadata does not match the digest its first entry recorded");
    }
  }
  // The orchestrator's first entry (it records the input's digest) is that of a trace created `running`.
  let status: TraceStatus | undefined = typeof inputSha256 === 'string' ? 'running' : undefined;
  let statusAt = first;
  let completion: ProvenanceEntry | undefined;
  for (const e of entries) {
    const data = dataOf(e);
    if (typeof data.completedAt === 'string' && SYSTEM_ACTIONS.has(e.action)) completion = e;
    if ((e.action === 'executed' || e === first) && typeof data.stdoutSha256 === 'string') {
      if (!trace.output || data.stdoutSha256 !== sha256(trace.output.stdout) || (typeof data.stderrSha256 === 'string' && data.stderrSha256 !== sha256(trace.output.stderr))) {
        return unbound(e, "the trace's output does not match the digests its entry recorded");
      }
      if (typeof data.resultSha256 === 'string' && data.resultSha256 !== boundResult(trace)) {
        return unbound(e, "the trace's output status, value or error, or its metrics, do not match the digest its entry recorded");
      }
    }
    if (STATUS_IN_DATA.has(e.action)) {
      // A release written before releases recorded their status: the status after it is unknown.
      status = typeof data.status === 'string' ? (data.status as TraceStatus) : undefined;
      statusAt = e;
    } else if (STATUS_OF_ACTION[e.action]) {
      status = REVIEW_STATUS_IN_DATA.has(e.action) && typeof data.status === 'string' ? (data.status as TraceStatus) : STATUS_OF_ACTION[e.action];
      statusAt = e;
    }
  }
  if (status !== undefined && status !== trace.status) return unbound(statusAt, `the trace is ${trace.status}, but its chain's last status change (${statusAt.action}) set ${status}`);
  const completedAt = completion ? dataOf(completion).completedAt : undefined;
  if (completion && completedAt !== trace.completedAt) {
    return unbound(completion, `the trace's completedAt (${trace.completedAt ?? 'none'}) is not the one its entry recorded (${String(completedAt)})`);
  }
  // Chains that bind the rest of the record (taskSha256) were written with every flag in an entry.
  const flagProblem = trace.flags ? unboundFlag(trace.flags, entries, typeof recorded.taskSha256 === 'string') : undefined;
  if (flagProblem) return { verified: false, length, brokenAt: flagProblem.at?.seq ?? null, reason: flagProblem.reason };
  return chain;
}

/** The flags a `flagged` entry recorded: a rule's (`data.flags`) or a person's (`data.flagId`). */
function flagsRecorded(e: ProvenanceEntry): Record<string, unknown>[] {
  const data = dataOf(e);
  if (Array.isArray(data.flags)) return data.flags.filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null);
  return typeof data.flagId === 'string' ? [{ id: data.flagId, kind: data.kind, severity: data.severity, sha256: data.flagSha256 }] : [];
}

/**
 * Where a trace's flags and the `flagged` entries of its chain disagree: a flag an entry recorded
 * that the trace no longer holds (removed from storage), or holds changed — against the entry's
 * `sha256` (flagDigest), or its kind and severity where an older entry recorded no digest — and,
 * when `everyListed`, a flag no entry recorded (added in storage). `at` is the entry, if any.
 */
function unboundFlag(flags: readonly Flag[], entries: readonly ProvenanceEntry[], everyListed: boolean): { at?: ProvenanceEntry; reason: string } | undefined {
  const held = new Map(flags.map((f) => [f.id, f]));
  const listed = new Set<string>();
  for (const e of entries) {
    if (e.action !== 'flagged') continue;
    for (const item of flagsRecorded(e)) {
      if (typeof item.id !== 'string') continue;
      listed.add(item.id);
      const flag = held.get(item.id);
      if (!flag) return { at: e, reason: `the trace does not hold flag ${item.id}, which its entry recorded` };
      const same = typeof item.sha256 === 'string' ? item.sha256 === storedFlagDigest(flag) : item.kind === flag.kind && item.severity === flag.severity;
      if (!same) return { at: e, reason: `the trace's flag ${flag.id} does not match the one its entry recorded` };
    }
  }
  const unlisted = everyListed ? flags.find((f) => !listed.has(f.id)) : undefined;
  return unlisted && { reason: `the trace's flag ${unlisted.id} (${unlisted.kind}, severity ${unlisted.severity}) is recorded by no entry of its chain` };
}

/** flagDigest of a stored flag, or undefined when it cannot be written as canonical JSON (a crafted artifact's). */
function storedFlagDigest(flag: Flag): string | undefined {
  try {
    return flagDigest(flag);
  } catch {
    return undefined;
  }
}

/** recordDigests of a stored trace, or undefined when it cannot be written as canonical JSON (see boundResult). */
function digestsOf(trace: ChainBoundTrace): ReturnType<typeof recordDigests> | undefined {
  try {
    return recordDigests(trace);
  } catch {
    return undefined;
  }
}

/**
 * resultSha256 of a stored trace, or undefined when it has no output or cannot be written as
 * canonical JSON (text with a lone surrogate, which the orchestrator never stores: rewritten).
 */
function boundResult(trace: ChainBoundTrace): string | undefined {
  if (!trace.output || typeof trace.output.ok !== 'boolean') return undefined;
  try {
    return resultSha256(trace.output as Omit<RunOutput, 'stdout' | 'stderr'>, trace.metrics);
  } catch {
    return undefined;
  }
}

/** The most traces of a merge's ancestry verifyMergeAncestry reads; those beyond are named `unchecked`. */
export const MAX_MERGE_ANCESTRY = 1000;

/**
 * What several merge-ancestry walks can share (mergeAncestryMemo): the outcome of each recorded head
 * checked against its trace's chain, by (traceId, seq, hash). Share one only between walks whose
 * `chainOf` gives the same chain for a trace each time (one artifact; one read of storage, through
 * memoizeChainOf): a head is then checked once however many walks reach it.
 */
export interface MergeAncestryMemo {
  /** `${traceId} ${seq} ${hash}` → why that head does not hold, or null when it holds. */
  readonly heads: Map<string, string | null>;
}

/** A fresh MergeAncestryMemo, to pass to several verifyMergeAncestry(Async) calls. */
export const mergeAncestryMemo = (): MergeAncestryMemo => ({ heads: new Map() });

/**
 * `read` asked once per trace id, its answer (a promise too, while in flight) kept: one `chainOf` to
 * share between several walks (the parents of one merge validation) so that an ancestor several of
 * them reach is read once. Keep it no longer than the one operation it serves (it never re-reads).
 */
export function memoizeChainOf<T>(read: (traceId: string) => T): (traceId: string) => T {
  const cache = new Map<string, T>();
  return (traceId) => {
    if (!cache.has(traceId)) cache.set(traceId, read(traceId));
    return cache.get(traceId)!;
  };
}

/** The most chains verifyMergeAncestryAsync reads at once. */
const ANCESTRY_READ_CONCURRENCY = 16;

type Chain = readonly ProvenanceEntry[] | undefined;

/**
 * Where a merge's ancestry walk stands: the ids of the traces whose chains it needs next — those of
 * one breadth-first level, or its rest — to be answered with their chains in the same order.
 */
type AncestryWalk = Generator<readonly string[], ChainVerification, readonly Chain[]>;

/** A parent head a `merge` entry recorded, or why it is not one (see recordedHeads). */
type RecordedHead = { entry: ProvenanceEntry; parent: string; seq: number; hash: string; invalid?: undefined } | { entry: ProvenanceEntry; invalid: string };

const HEX_HASH = /^[0-9a-f]{64}$/;
/** A value read from an entry, for a reason: JSON, cut short (a crafted entry may hold anything). */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * The parent heads a chain's `merge` entries recorded (`data.parents`: `{ traceId, seq, hash }` each,
 * as the orchestrator writes them), in order, with the entry that recorded each. A head of a parent
 * that had no entries (seq and hash null) names nothing to check and is left out. Anything else —
 * no `parents` list, a head that is not an object, a traceId that is not a string, a seq that is
 * not an integer >= 0, a hash that is not 64 hex characters (a crafted or damaged entry) — is
 * yielded as `invalid`, saying why, so that the walk fails the merge rather than skip the head or
 * index a chain with it.
 */
function* recordedHeads(held: readonly ProvenanceEntry[]): Generator<RecordedHead> {
  for (const entry of held) {
    if (entry.action !== 'merge') continue;
    const parents = dataOf(entry).parents;
    if (!Array.isArray(parents)) {
      yield { entry, invalid: `records no list of parent heads (data.parents: ${shown(parents)})` };
      continue;
    }
    for (const [i, head] of (parents as unknown[]).entries()) {
      const at = `parent head ${i}`;
      if (head === null || typeof head !== 'object' || Array.isArray(head)) {
        yield { entry, invalid: `records an invalid ${at} (${shown(head)}): not an object of { traceId, seq, hash }` };
        continue;
      }
      const { traceId: parent, seq, hash } = head as { traceId?: unknown; seq?: unknown; hash?: unknown };
      const named = `${at} (traceId ${shown(parent)}, seq ${shown(seq)}, hash ${shown(hash)})`;
      if (typeof parent !== 'string' || parent === '') yield { entry, invalid: `records an invalid ${named}: its traceId is not a trace id` };
      else if (seq === null && hash === null) continue; // the parent had no entries when the merge was made
      else if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) yield { entry, invalid: `records an invalid ${named}: its seq is not an integer >= 0` };
      else if (typeof hash !== 'string' || !HEX_HASH.test(hash)) yield { entry, invalid: `records an invalid ${named}: its hash is not 64 hex characters` };
      else yield { entry, parent, seq, hash };
    }
  }
}

/**
 * The walk over a merge's ancestry (see verifyMergeAncestry), level by level: before each
 * breadth-first level it yields the ids of the traces that level reaches whose chains it has not
 * read (each once, at most as many as the bound still lets it visit, and again for the rest should
 * the level need more), and receives their chains (undefined: not available); returns the
 * verification — the same as reading each chain the moment the walk first needs it.
 */
function* walkMergeAncestry(own: ChainVerification, traceId: string, entries: readonly ProvenanceEntry[], maxTraces: number, memo?: MergeAncestryMemo): AncestryWalk {
  if (!own.verified) return own;
  const chains = new Map<string, Chain>([[traceId, entries]]);
  const visited = new Set([traceId]);
  const unchecked: string[] = [];
  // Breadth first: each trace with the prefix of its chain the merge below it recorded (its history
  // at that merge), and the merges it was reached through from `traceId`.
  let level: { id: string; held: readonly ProvenanceEntry[]; via: string[] }[] = [{ id: traceId, held: entries, via: [] }];
  const rootMerge = entries.find((e) => e.action === 'merge');
  while (level.length) {
    // The chains this level needs, in the order it needs them.
    const wanted: string[] = [];
    const seen = new Set<string>();
    for (const item of level) {
      for (const head of recordedHeads(item.held)) {
        if (head.invalid === undefined && !chains.has(head.parent) && !seen.has(head.parent)) (seen.add(head.parent), wanted.push(head.parent));
      }
    }
    let asked = 0;
    const next: typeof level = [];
    for (const item of level) {
      for (const head of recordedHeads(item.held)) {
        if (head.invalid !== undefined) {
          // Never skipped, never used to index a chain: the merge that recorded it does not verify.
          return {
            verified: false, length: entries.length, brokenAt: (rootMerge ?? head.entry).seq,
            reason: item.via.length === 0
              ? `the merge entry ${head.invalid}`
              : `ancestor ${item.id}'s merge entry ${head.invalid}; reached through this merge's parent ${item.via.join(' → ')}`,
          };
        }
        const { entry, parent, seq, hash } = head;
        if (!chains.has(parent)) {
          // The walk reads no further than it visits: at most the traces the bound still admits
          // (one more names what lies beyond), those not available aside, which it asks for again.
          const ids = wanted.slice(asked, asked + Math.max(1, maxTraces - visited.size + 1));
          asked += ids.length;
          const got = yield ids;
          ids.forEach((id, i) => chains.set(id, got[i]));
        }
        const chain = chains.get(parent);
        const merge = item.via.length === 0 ? 'this merge' : `merge ${item.id}`;
        if (chain === undefined) {
          unchecked.push(`${item.via.length === 0 ? 'parent' : 'ancestor'} ${parent} (recorded by ${merge}): its chain was not available`);
          continue;
        }
        const held = chain.slice(0, seq + 1);
        const key = `${parent} ${seq} ${hash}`;
        let why = memo?.heads.get(key);
        if (why === undefined) {
          const prefix = verifyProvenanceChain(held);
          why = held.length <= seq ? `its chain has ${chain.length} entries`
            : !prefix.verified ? `its chain is broken at seq ${prefix.brokenAt}${prefix.reason ? ` (${prefix.reason})` : ''}`
            : held[seq]!.hash !== hash ? `its entry at seq ${seq} has hash ${held[seq]!.hash}`
            : null;
          memo?.heads.set(key, why);
        }
        if (why !== null) {
          const recorded = `(seq ${seq}, hash ${hash}): ${why}`;
          return {
            verified: false, length: entries.length, brokenAt: (rootMerge ?? entry).seq,
            reason: item.via.length === 0
              ? `parent ${parent} no longer holds the chain head the merge recorded ${recorded}`
              : `ancestor ${parent} no longer holds the chain head merge ${item.id} recorded ${recorded}; reached through this merge's parent ${item.via.join(' → ')}`,
          };
        }
        if (visited.has(parent)) continue;
        if (visited.size >= maxTraces) {
          unchecked.push(`the merge ancestry beyond its first ${maxTraces} traces (from ${parent}, recorded by ${merge})`);
          return { ...own, unchecked };
        }
        visited.add(parent);
        next.push({ id: parent, held, via: [...item.via, parent] });
      }
    }
    level = next;
  }
  return unchecked.length ? { ...own, unchecked } : own;
}

/**
 * A merge bound to its whole ancestry, not only its parents: each `merge` entry's `data.parents`
 * names each parent's chain head when the merge was made (`{ traceId, seq, hash }`, seq and hash null
 * for a parent that had no entries), and each parent's chain must still hold that head — the entry at
 * `seq` with `hash`, and a chain that verifies up to it. A parent that is itself a merge holds, in
 * that prefix, its own `merge` entry with its parents' heads, which are checked the same way, and so
 * on over the merge DAG (breadth first, each trace's chain asked of `chainOf` once, at most
 * `maxTraces` traces): so a grandparent's history rewritten after the first merge recorded its head
 * does not verify from a merge of that merge either. A chain's entries after the head recorded (a
 * later quarantine) are not its history at the merge and are not checked, nor are the ancestors'
 * trace records (their own verification binds them).
 *
 * `own` is the trace's own verification (verifyTraceChain or verifyProvenanceChain of `entries`):
 * returned as is when it fails, or when every head checked holds — with `unchecked` naming the
 * ancestors whose chains `chainOf` did not give (undefined: an artifact that does not hold them)
 * and any ancestry beyond `maxTraces`. A head that does not hold fails the trace at its `merge`
 * entry, `reason` naming the trace whose chain broke and the merges it was reached through.
 *
 * Several walks over chains that do not change between them (every trace of an artifact) can share
 * one `memo` (mergeAncestryMemo), so that each recorded head is checked once, not once per descendant.
 */
export function verifyMergeAncestry(own: ChainVerification, traceId: string, entries: readonly ProvenanceEntry[], chainOf: (traceId: string) => Chain, maxTraces = MAX_MERGE_ANCESTRY, memo?: MergeAncestryMemo): ChainVerification {
  const walk = walkMergeAncestry(own, traceId, entries, maxTraces, memo);
  for (let step = walk.next(); ; step = walk.next(step.value.map(chainOf))) if (step.done) return step.value;
}

/**
 * verifyMergeAncestry with chains read asynchronously (from storage): level by level, the chains of
 * one breadth-first level read together (at most 16 at once), so a merge of N parents waits for one
 * round of reads, not N. Walks of one operation (the parents of a merge validation) can share one
 * `chainOf` (memoizeChainOf), so that an ancestor several of them reach is read once, and one `memo`.
 */
export async function verifyMergeAncestryAsync(own: ChainVerification, traceId: string, entries: readonly ProvenanceEntry[], chainOf: (traceId: string) => Promise<Chain>, maxTraces = MAX_MERGE_ANCESTRY, memo?: MergeAncestryMemo): Promise<ChainVerification> {
  const walk = walkMergeAncestry(own, traceId, entries, maxTraces, memo);
  for (let step = walk.next(); ; step = walk.next(await readAll(step.value, chainOf))) if (step.done) return step.value;
}

/**
 * chainOf of each id, in order, at most ANCESTRY_READ_CONCURRENCY in flight. When reads fail, the
 * error is the first failed read's in the order of `ids` (all of them are read first), not
 * whichever failed first in time: the same walk always gets the same error.
 */
async function readAll(ids: readonly string[], chainOf: (traceId: string) => Promise<Chain>): Promise<Chain[]> {
  const out: Chain[] = new Array(ids.length);
  const failed: { at: number; error: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      try {
        out[i] = await chainOf(ids[i]!);
      } catch (error) {
        failed.push({ at: i, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ANCESTRY_READ_CONCURRENCY, ids.length) }, worker));
  if (failed.length) throw failed.reduce((a, b) => (b.at < a.at ? b : a)).error;
  return out;
}
