/**
 * The Storage contract on plain JSON / JSONL files:
 *
 *   <root>/schema.json                               { version }
 *   <root>/store.lock                                the open store's holder (see open)
 *   <root>/journal/<id>.json                         batches being applied (see #commit)
 *   <root>/tenants/<tenant>/counters.json
 *   <root>/tenants/<tenant>/rd/<seriesId>.json
 *   <root>/tenants/<tenant>/sessions/<sessionId>/session.json
 *   <root>/tenants/<tenant>/sessions/<sessionId>/traces/<traceId>/trace.json        { trace, flagSeq }
 *                                                        …/checkpoints.json, quarantine.json
 *                                                        …/provenance.jsonl
 *
 * Every JSON file is replaced atomically (temp + fsync + rename + folder fsync); provenance is an
 * append-only JSONL file (appends to one chain queue on an in-process mutex). A batch touching several files
 * is written to a journal first and replayed on open if the process died half-way.
 *
 * Lists are served from an in-memory index per tenant, built by scanning the tenant's folders the
 * first time the tenant is used and kept up to date by this process's writes. That is why one
 * process at a time may open a store: open() takes the store lock for the store's lifetime.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  LimitError, addCounter, atBatchOp, allInOrder, applyTracePatch, assertContainerSize, assertId, compareNewestFirst, conflict, isAfterCursor, nextProvenanceEntry, notFound,
  PageBuilder, assertFlagsFit, assertProvenanceFits, assertRdPointsFit, flagsBytes, nextRdStep, rdPointsBytes, withRdStep, rdSeriesSummary, schemaTooNew, serializeRecord, timeKey, validate, verifyProvenanceChain,
  type BatchOp, type ChainVerification, type Checkpoint, type Counters, type Flag, type FlagKind, type HealthResult, type Page,
  type AppendProvenanceOptions, type Logger, type ProvenanceEntry, type ProvenanceInput, type ProvenanceOrigin, type QuarantineState, type RdPoint, type RdPointAppended, type RdPointInput, type RdSeries, type RdSeriesSummary, type Session, type SessionQuery,
  type Storage, type StorageSupports, type Trace, type TracePatch, type TraceQuery,
  fileInPlaceOfFolder,
} from 'limit-graph';
import {
  KeyedMutex, acquireStoreLock, atomicWrite, atomicWriteAll, corruptFile, ensureDir, fileSize, fsyncDir, listDir, probeWritable, readError, readJson, readRecord, removeIfEmpty, removeStaleScratch, writeError,
} from './fs-utils.ts';

export const FILE_SCHEMA_VERSION = 1;
const PLUGIN = 'storage-file';

export interface FileStorageConfig {
  root: string;
  fsync: boolean;
  maxRecordBytes: number;
  staleLockMs: number;
  /** Where repairs are reported (a torn provenance append cut off and kept aside); the plugin passes its logger. */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * trace.json: the trace (flags included) and each flag's tenant-wide insertion number. The size
 * limit applies to the trace without its flags and to each flag alone (the contract's measure), not
 * to this file.
 */
interface TraceDoc {
  trace: Trace;
  flagSeq: number[];
}

interface TraceEntry {
  id: string;
  sessionId: string;
  createdAt: string;
  ms: number;
  status: Trace['status'];
  kinds: Set<FlagKind>;
}

interface SessionEntry {
  id: string;
  createdAt: string;
  status: Session['status'];
}

interface TenantIndex {
  traces: Map<string, TraceEntry>;
  /** Newest first; null when an insert made it stale (sorted again on the next list). */
  sorted: TraceEntry[] | null;
  sessions: Map<string, SessionEntry>;
  /** Every flag, in insertion order (its number n). */
  flags: { n: number; flag: Flag }[];
  flagIds: Set<string>;
  nextFlag: number;
  quarantined: Set<string>;
  /**
   * Sessions and traces whose files are damaged, by id: the LIMIT_STORAGE_CORRUPT naming the file.
   * Such a record refuses every call on it, and so do the lists and checks that would need it.
   */
  damagedSessions: Map<string, LimitError>;
  damagedTraces: Map<string, LimitError>;
}

/** Writes staged by one operation (or one batch), applied together by #commit. */
class Stage {
  readonly files = new Map<string, string>();
  readonly after: (() => void)[] = [];
  readonly docs = new Map<string, TraceDoc | null>();
  readonly checkpoints = new Map<string, Checkpoint[]>();
  readonly flagIds = new Set<string>();
  counters: Counters | undefined;
  /** Provenance chains a batch appends to: the file's full new content, its UTF-8 size, lines and last entry. */
  readonly chains = new Map<string, Head & { content: string }>();
}

/**
 * Provenance head cached per chain file: valid while the file still has `size` bytes. `lines`: its
 * entries (one a line), so that its entries' JSON is `size - lines` bytes (each line's newline aside).
 */
interface Head {
  size: number;
  lines: number;
  last: ProvenanceEntry | undefined;
}

export class FileStorage implements Storage {
  readonly backend = 'file';
  /**
   * multiProcess: false — lists and conflict checks use this process's in-memory index, so a second
   * process opening the store is refused (the store lock). crashSafe: atomic renames, fsync'd appends
   * and the batch journal keep every acknowledged write.
   */
  readonly supports: StorageSupports = { multiProcess: false, crashSafe: true, transactions: true };
  readonly maxRecordBytes: number;
  readonly #mutex = new KeyedMutex();
  #indexes = new Map<string, Promise<TenantIndex>>();
  #heads = new Map<string, Head>();
  #open = false;
  /** Set by close() until the calls in progress have finished: new calls are refused meanwhile. */
  #closing: Promise<void> | undefined;
  /** Calls in progress that reach the store (writes, index scans): close() waits for them before it gives up the lock. */
  readonly #busy = new Set<Promise<unknown>>();
  /** Releases the store lock; set while this instance holds it. */
  #unlock: (() => Promise<void>) | undefined;
  /** Why this instance may no longer use the store (its lock was removed or taken). */
  #lost: LimitError | undefined;

  constructor(readonly config: FileStorageConfig) {
    this.maxRecordBytes = config.maxRecordBytes;
  }

  get root(): string {
    return this.config.root;
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────────────

  async open(): Promise<void> {
    // A close() in progress finishes first (it releases the lock): opening meanwhile would take
    // its lock for held and be closed under the caller. A close() that failed (its lock not
    // released) is that call's error, not this one's: the open goes on and takes the lock again.
    await this.#closing?.catch(() => undefined);
    const locked = this.#unlock !== undefined;
    try {
      // A store a newer limit-graph wrote is refused before anything here changes it (modes, probe,
      // lock file); checked again under the lock below, where the marker of a new store is written.
      await this.#refuseNewer();
      await ensureDir(this.config.root, this.config.fsync);
      // The store holds every tenant's records: only the server's uid may enter it, whatever the
      // modes of what is inside (an existing store made by an older version is tightened here).
      await fs.chmod(this.config.root, 0o700);
      // Every write needs the folder: a store this process cannot write (read-only copy, another
      // owner, read-only mount, full disk) is refused now, naming the folder, not at the first write.
      await probeWritable(this.config.root);
      // One process per store, before anything is read: the index and the read-modify-writes assume
      // no one else writes, and the journals found below can only be a dead holder's.
      if (!locked) {
        this.#lost = undefined;
        this.#unlock = await acquireStoreLock(this.#under('store.lock'), { staleMs: this.config.staleLockMs, onLost: (why) => this.#loseLock(why) });
      }
      const schema = await this.#refuseNewer();
      // A store with records but no schema.json lost it: taking it for a new store would stamp the
      // current layout on data of unknown version.
      if (!schema) await this.#refuseUnmarkedData();
      // Version 1 is the layout above: migrating means recording it.
      if (!schema) await atomicWrite(path.join(this.config.root, 'schema.json'), JSON.stringify({ version: FILE_SCHEMA_VERSION }), this.config.fsync);
      await this.#replayJournals();
      // A dead holder's temp files and probes at the root; those in tenant folders go when the
      // tenant's folders are first scanned (#loadIndex), still under this lock.
      await removeStaleScratch(this.config.root);
    } catch (error) {
      if (!locked) await this.#releaseLock();
      if (error instanceof LimitError) throw error;
      throw fileInPlaceOfFolder(error, this.config.root, { plugin: PLUGIN, what: `The file store at ${this.config.root}`, setting: 'root, LIMIT_FILE_ROOT' }) ?? new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot open the file store at ${this.config.root}: ${(error as Error).message}`, {
        plugin: PLUGIN, cause: error, fix: 'Check that the folder exists or can be created and is writable.',
      });
    }
    this.#open = true;
  }

  /**
   * Refuses new calls, waits for the calls in progress (their writes still made under the store
   * lock), then releases the lock. Releasing it at once let those writes land after another process
   * had taken the store and built its index without them.
   */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#busy.size > 0) await Promise.allSettled([...this.#busy]);
      this.#open = false;
      this.#indexes = new Map();
      this.#heads = new Map();
      await this.#releaseLock();
    })().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  /** Runs a call that reaches the store: refused once close() has begun, waited for by close(). */
  #guard<T>(fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    const call = fn();
    this.#busy.add(call);
    const done = () => this.#busy.delete(call);
    call.then(done, done);
    return call;
  }

  async #releaseLock(): Promise<void> {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    await unlock?.();
  }

  #loseLock(why: string): void {
    this.#lost = new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store at ${this.config.root} is no longer locked by this process (${why}); it stops using the store rather than write beside another process`, {
      plugin: PLUGIN, details: { root: this.config.root },
      fix: 'Make sure only one process uses the store (do not remove store.lock while it runs), then restart this process.',
    });
  }

  async health(): Promise<HealthResult> {
    const started = performance.now();
    try {
      const probe = path.join(this.config.root, `.health-${process.pid}-${randomUUID()}.json`);
      const value = new Date().toISOString();
      const back = await this.#guard(async () => {
        await atomicWrite(probe, JSON.stringify({ value }), this.config.fsync);
        const read = await readJson<{ value: string }>(probe);
        await fs.rm(probe, { force: true });
        return read;
      });
      if (back?.value !== value) return { status: 'fail', message: 'health probe read back a different value', checks: [{ name: 'read-write', status: 'fail' }] };
      return {
        status: 'ok',
        message: `files under ${this.config.root}`,
        checks: [{ name: 'read-write', status: 'ok', message: `${(performance.now() - started).toFixed(1)} ms` }],
        details: { root: this.config.root, fsync: this.config.fsync, schemaVersion: await this.schemaVersion() },
      };
    } catch (error) {
      return { status: 'fail', message: (error as Error).message, checks: [{ name: 'read-write', status: 'fail', message: (error as Error).message }] };
    }
  }

  async schemaVersion(): Promise<number> {
    this.#assertOpen();
    return (await this.#readSchema())?.version ?? 0;
  }

  /** schema.json, undefined when missing (a new store); anything but { version: <positive integer> } is damage, never overwritten. */
  #readSchema(): Promise<{ version: number } | undefined> {
    return readRecord(path.join(this.config.root, 'schema.json'), 'the schema marker', (v) => {
      const version = isObject(v) ? v.version : undefined;
      if (!Number.isSafeInteger(version) || (version as number) < 1) throw new Error(`expected {"version": <a positive integer>}, found ${JSON.stringify(v).slice(0, 120)}`);
    }, `schema.json records the layout version of the store: restore it from a backup, or write {"version": ${FILE_SCHEMA_VERSION}} into it if this version of limit-graph made the store.`);
  }

  /** schema.json (see #readSchema); a version newer than this plugin knows is LIMIT_STORAGE_MIGRATION_FAILED. */
  async #refuseNewer(): Promise<{ version: number } | undefined> {
    const schema = await this.#readSchema();
    if (schema && schema.version > FILE_SCHEMA_VERSION) throw schemaTooNew(`The file store at ${this.config.root}`, schema.version, FILE_SCHEMA_VERSION, PLUGIN);
    return schema;
  }

  /** LIMIT_STORAGE_CORRUPT naming schema.json when the store has none but holds a tenant folder or a batch journal. */
  async #refuseUnmarkedData(): Promise<void> {
    for (const dir of ['tenants', 'journal']) {
      const [first] = (await listDir(this.#under(dir))).sort();
      if (first === undefined) continue;
      const file = path.join(this.config.root, 'schema.json');
      throw corruptFile(file, `is missing, but the store holds records (the first: ${dir}/${first}); it is not opened as a new store`, {
        details: { root: this.config.root, firstRecord: `${dir}/${first}` },
        fix: `Restore schema.json from a backup; if the data is known to be intact, write {"version": ${FILE_SCHEMA_VERSION}} into it (the layout version this plugin writes), then restart.`,
      });
    }
  }

  #assertOpen(): void {
    if (this.#lost) throw this.#lost;
    if (!this.#open || this.#closing) {
      throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `File storage ${this.config.root} is not open`, {
        plugin: PLUGIN, fix: 'Call open() (the plugin does it in the boot hook) and do not use the store after close().',
      });
    }
  }

  // ── paths (every id is validated by the caller; #under checks the result stays under root) ──────

  #under(...parts: string[]): string {
    const root = path.resolve(this.config.root);
    const full = path.resolve(root, ...parts);
    if (full !== root && !full.startsWith(root + path.sep)) {
      throw new LimitError('LIMIT_VALIDATION', `Refusing a path outside the store: ${JSON.stringify(parts.join('/'))}`, { plugin: PLUGIN, details: { parts } });
    }
    return full;
  }

  #tenantDir(tenant: string): string {
    return this.#under('tenants', tenant);
  }

  #sessionFile(tenant: string, sessionId: string): string {
    return this.#under('tenants', tenant, 'sessions', sessionId, 'session.json');
  }

  #traceDir(tenant: string, sessionId: string, traceId: string): string {
    return this.#under('tenants', tenant, 'sessions', sessionId, 'traces', traceId);
  }

  #rdFile(tenant: string, id: string): string {
    return this.#under('tenants', tenant, 'rd', `${id}.json`);
  }

  #countersFile(tenant: string): string {
    return this.#under('tenants', tenant, 'counters.json');
  }

  // ── the tenant index ─────────────────────────────────────────────────────────────────────────

  #index(tenant: string): Promise<TenantIndex> {
    this.#assertOpen();
    let index = this.#indexes.get(tenant);
    if (!index) {
      index = this.#guard(() => this.#loadIndex(tenant));
      this.#indexes.set(tenant, index);
      index.catch(() => this.#indexes.delete(tenant));
    }
    return index;
  }

  async #loadIndex(tenant: string): Promise<TenantIndex> {
    const index: TenantIndex = {
      traces: new Map(), sorted: null, sessions: new Map(), flags: [], flagIds: new Set(), nextFlag: 1, quarantined: new Set(), damagedSessions: new Map(), damagedTraces: new Map(),
    };
    // The scan also removes what a dead holder left (the store lock is held): its temp files
    // (removeStaleScratch), and the empty folders of creates that never committed.
    await removeStaleScratch(this.#tenantDir(tenant));
    await removeStaleScratch(path.join(this.#tenantDir(tenant), 'rd'));
    const sessionsDir = path.join(this.#tenantDir(tenant), 'sessions');
    for (const sessionId of (await listDir(sessionsDir)).sort()) {
      if (!validId(sessionId)) continue;
      await removeStaleScratch(path.join(sessionsDir, sessionId));
      let known = false;
      try {
        const session = await this.#readSession(tenant, sessionId);
        if (session) index.sessions.set(session.id, { id: session.id, createdAt: session.createdAt, status: session.status });
        known = session !== undefined;
      } catch (error) {
        index.damagedSessions.set(sessionId, damage(error));
        known = true;
      }
      // By id: the damaged traces are then listed (and the first of them reported) in the same
      // order whatever order the folder lists them in.
      const traceIds = (await listDir(path.join(sessionsDir, sessionId, 'traces'))).filter(validId).sort();
      // Reads overlap in chunks: opening a large store reads every trace file once. What each read
      // found is taken into the index in the order of traceIds, not as the reads end, so that the
      // damaged trace an error names does not depend on which read ended first.
      for (let i = 0; i < traceIds.length; i += 32) {
        const found = await allInOrder(traceIds.slice(i, i + 32).map(async (traceId): Promise<{ doc: TraceDoc; quarantined: boolean } | { damaged: LimitError } | undefined> => {
          const dir = this.#traceDir(tenant, sessionId, traceId);
          try {
            await removeStaleScratch(dir);
            // A folder without trace.json is a create that died before its rename (a create the file
            // system refused removes its folder itself): never acknowledged. Left empty, it is removed.
            const doc = await this.#readTraceDoc(tenant, sessionId, traceId);
            if (!doc) {
              await removeIfEmpty(dir);
              return undefined;
            }
            const q = await readQuarantine(path.join(dir, 'quarantine.json'), traceId);
            return { doc, quarantined: q?.quarantined === true };
          } catch (error) {
            return { damaged: damage(error) };
          }
        }));
        found.forEach((f, j) => {
          if (!f) return;
          const traceId = traceIds[i + j]!;
          if ('damaged' in f) index.damagedTraces.set(traceId, f.damaged);
          else {
            this.#indexTrace(index, f.doc);
            if (f.quarantined) index.quarantined.add(traceId);
          }
        });
      }
      // A session folder without session.json and nothing else in it: a create that never committed.
      if (!known) {
        await removeIfEmpty(path.join(sessionsDir, sessionId, 'traces'));
        await removeIfEmpty(path.join(sessionsDir, sessionId));
      }
    }
    index.flags.sort((a, b) => a.n - b.n);
    return index;
  }

  #indexTrace(index: TenantIndex, doc: TraceDoc): void {
    const t = doc.trace;
    index.traces.set(t.id, { id: t.id, sessionId: t.sessionId, createdAt: t.createdAt, ms: timeKey(t.createdAt), status: t.status, kinds: new Set(t.flags.map((f) => f.kind)) });
    index.sorted = null;
    t.flags.forEach((flag, i) => {
      const n = doc.flagSeq[i] ?? 0;
      index.flags.push({ n, flag });
      index.flagIds.add(flag.id);
      if (n >= index.nextFlag) index.nextFlag = n + 1;
    });
  }

  #readSession(tenant: string, id: string): Promise<Session | undefined> {
    return readRecord(this.#sessionFile(tenant, id), 'a session', (v) => sameIds(validate.session(v, 'read'), { tenant, id }));
  }

  #traceFile(tenant: string, sessionId: string, id: string): string {
    return path.join(this.#traceDir(tenant, sessionId, id), 'trace.json');
  }

  #readTraceDoc(tenant: string, sessionId: string, id: string): Promise<TraceDoc | undefined> {
    return readRecord(this.#traceFile(tenant, sessionId, id), 'a trace ({ trace, flagSeq })', (v) => {
      if (!isObject(v)) throw new Error('expected { "trace": …, "flagSeq": […] }');
      const trace = sameIds(validate.trace(v.trace, 'read'), { tenant, sessionId, id });
      const seq = v.flagSeq;
      if (!Array.isArray(seq) || seq.length !== trace.flags.length || !seq.every((n) => Number.isSafeInteger(n))) throw new Error('flagSeq must number each flag of the trace');
    });
  }

  #sortedTraces(index: TenantIndex): TraceEntry[] {
    index.sorted ??= [...index.traces.values()].sort(compareNewestFirst);
    return index.sorted;
  }

  // ── staging and committing ───────────────────────────────────────────────────────────────────

  async #doc(stage: Stage, index: TenantIndex, tenant: string, traceId: string): Promise<TraceDoc | null> {
    const key = `${tenant}/${traceId}`;
    if (stage.docs.has(key)) return stage.docs.get(key)!;
    const entry = traceEntry(index, traceId);
    const doc = entry ? ((await this.#readTraceDoc(tenant, entry.sessionId, traceId)) ?? null) : null;
    stage.docs.set(key, doc);
    return doc;
  }

  /** `traceText`: JSON.stringify(doc.trace) when the caller has it, so the trace is not serialised twice. */
  #stageDoc(stage: Stage, tenant: string, doc: TraceDoc, traceText?: string): void {
    stage.docs.set(`${tenant}/${doc.trace.id}`, doc);
    // The same text as JSON.stringify(doc): its keys are `trace` then `flagSeq`.
    const content = traceText === undefined ? JSON.stringify(doc) : `{"trace":${traceText},"flagSeq":${JSON.stringify(doc.flagSeq)}}`;
    stage.files.set(path.join(this.#traceDir(tenant, doc.trace.sessionId, doc.trace.id), 'trace.json'), content);
  }

  /**
   * Applies the staged files. One file: an atomic replace. Several: every file's new content is
   * written to its temp file first, then the journal (all contents) is made durable, then each temp
   * file is renamed into place, then the journal is removed — a crash in between is finished by
   * #replayJournals on the next open, so a batch is all or nothing. A write the file system refuses
   * (no permission, no space, a file size limit) fails before the journal or with it: nothing has
   * changed and no journal is left behind (which the next open would apply, over later writes).
   */
  async #commit(stage: Stage): Promise<void> {
    const entries = [...stage.files];
    if (entries.length === 1) {
      await atomicWrite(entries[0]![0], entries[0]![1], this.config.fsync);
    } else if (entries.length > 1) {
      const journal = this.#under('journal', `${Date.now()}-${process.pid}-${randomUUID()}.json`);
      const root = path.resolve(this.config.root);
      let journaled = false;
      try {
        await atomicWriteAll(entries, this.config.fsync, async () => {
          try {
            await atomicWrite(journal, JSON.stringify({ files: entries.map(([file, content]) => ({ file: path.relative(root, file), content })) }), this.config.fsync);
          } catch (error) {
            await fs.rm(journal, { force: true }).catch(() => undefined);
            throw error;
          }
          journaled = true;
        });
        await fs.rm(journal, { force: true });
      } catch (error) {
        if (journaled) throw this.#loseBatch(journal, error);
        throw error;
      }
    }
    for (const fn of stage.after) fn();
  }

  /**
   * A batch whose journal is on disk could not be applied or its journal not removed (a rename
   * refused, say): the store holds part of it, and the journal would be replayed over any later
   * write. This instance stops using the store; reopening it finishes the batch from the journal.
   */
  #loseBatch(journal: string, error: unknown): LimitError {
    return this.#lost = new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store at ${this.config.root} could not finish a batch (${(error as Error).message}); its journal ${journal} is kept, and this process stops using the store until it is reopened`, {
      plugin: PLUGIN, cause: error, details: { root: this.config.root, journal },
      fix: 'Fix the cause, then restart the process (or close and reopen the store): opening applies the journal, finishing the batch.',
    });
  }

  async #replayJournals(): Promise<void> {
    const dir = this.#under('journal');
    for (const name of (await listDir(dir)).sort()) {
      const file = path.join(dir, name);
      if (!name.endsWith('.json')) {
        await fs.rm(file, { force: true }); // a journal's own temp file: its batch never started
        continue;
      }
      // Journals are renamed into place complete, so an unreadable one is damage (or, with fsync off,
      // an OS crash): the batch may be half-applied and cannot be finished. Refuse, keep the file.
      const journal = await readRecord<{ files: { file: string; content: string }[] }>(file, 'a batch journal', checkJournal, [
        `The journal holds a batch that a process died while applying; it cannot be finished, so the store may hold part of that batch.`,
        `Restore the store from a backup, or move the file out of ${dir} to accept the store as it is.`,
      ].join(' '));
      if (journal) await atomicWriteAll(journal.files.map((f) => [this.#under(f.file), f.content] as const), this.config.fsync, async () => undefined);
      await fs.rm(file, { force: true });
    }
    if (this.config.fsync) await fsyncDir(dir).catch(() => undefined);
  }

  // ── op stagers: shared by single calls and batches (they read earlier staged ops' results) ──

  #stageCreateSession(stage: Stage, index: TenantIndex, session: Session, text: string): void {
    if (sessionKnown(index, session.id) || stage.files.has(this.#sessionFile(session.tenant, session.id))) throw conflict('session', session.tenant, session.id);
    stage.files.set(this.#sessionFile(session.tenant, session.id), text);
    stage.after.push(() => index.sessions.set(session.id, { id: session.id, createdAt: session.createdAt, status: session.status }));
  }

  /** `text`: JSON.stringify(trace), size-checked by the caller. */
  #stageCreateTrace(stage: Stage, index: TenantIndex, trace: Trace, text: string): void {
    const { tenant, id } = trace;
    if (traceEntry(index, id) || stage.docs.get(`${tenant}/${id}`)) throw conflict('trace', tenant, id);
    for (const f of trace.flags) this.#checkFlagId(stage, index, tenant, f.id);
    if (trace.flags.length > 0) assertFlagsFit(id, { count: 0, bytes: 0 }, { count: trace.flags.length, bytes: flagsBytes(trace.flags) }, this.maxRecordBytes);
    const doc: TraceDoc = { trace, flagSeq: trace.flags.map(() => index.nextFlag++) };
    this.#stageDoc(stage, tenant, doc, text);
    stage.after.push(() => this.#indexTrace(index, doc));
  }

  #checkFlagId(stage: Stage, index: TenantIndex, tenant: string, flagId: string): void {
    // Flag ids are unique per tenant: not checkable while a damaged trace's flags are unknown.
    assertNoDamaged(index.damagedTraces);
    if (stage.flagIds.has(flagId) || index.flagIds.has(flagId)) throw conflict('flag', tenant, flagId);
    stage.flagIds.add(flagId);
  }

  async #stageUpdateTrace(stage: Stage, index: TenantIndex, tenant: string, id: string, patch: TracePatch, ifStatus?: Trace['status'], ifFlagCount?: number): Promise<Trace> {
    const doc = await this.#doc(stage, index, tenant, id);
    if (!doc) throw notFound('trace', tenant, id);
    const next = applyTracePatch(doc.trace, patch, ifStatus, ifFlagCount);
    const text = JSON.stringify(next);
    assertContainerSize(text, 'trace', 'flags', next.flags, 'flag', this.maxRecordBytes);
    this.#stageDoc(stage, tenant, { ...doc, trace: next }, text);
    stage.after.push(() => {
      const entry = index.traces.get(id);
      if (entry) entry.status = next.status;
    });
    return next;
  }

  async #stageAddFlag(stage: Stage, index: TenantIndex, tenant: string, flag: Flag): Promise<void> {
    const doc = await this.#doc(stage, index, tenant, flag.traceId);
    if (!doc) throw notFound('trace', tenant, flag.traceId);
    // The trace's flags as staged (earlier ops of a batch included), read under its mutex key: a
    // concurrent add waits for this one, so the limits hold for both.
    const held = doc.trace.flags;
    assertFlagsFit(flag.traceId, { count: held.length, bytes: held.length === 0 ? 0 : flagsBytes(held) }, { count: 1, bytes: Buffer.byteLength(JSON.stringify(flag), 'utf8') }, this.maxRecordBytes);
    this.#checkFlagId(stage, index, tenant, flag.id);
    const n = index.nextFlag++;
    // The flag alone was size-checked by the caller; a trace is measured without its flags.
    const next: TraceDoc = { trace: { ...doc.trace, flags: [...doc.trace.flags, flag] }, flagSeq: [...doc.flagSeq, n] };
    this.#stageDoc(stage, tenant, next);
    stage.after.push(() => {
      // The index keeps its own copy: the caller's flag (which addFlag returns) is theirs to change.
      index.flags.push({ n, flag: structuredClone(flag) });
      index.flagIds.add(flag.id);
      // A newer flag can be committed before an older number's batch: keep insertion order by n.
      if (index.flags.length > 1 && index.flags[index.flags.length - 2]!.n > n) index.flags.sort((a, b) => a.n - b.n);
      index.traces.get(flag.traceId)?.kinds.add(flag.kind);
    });
  }

  async #stageCheckpoint(stage: Stage, index: TenantIndex, tenant: string, checkpoint: Checkpoint): Promise<void> {
    const doc = await this.#doc(stage, index, tenant, checkpoint.traceId);
    if (!doc) throw notFound('trace', tenant, checkpoint.traceId);
    const file = path.join(this.#traceDir(tenant, doc.trace.sessionId, doc.trace.id), 'checkpoints.json');
    const current = stage.checkpoints.get(file) ?? (await readCheckpoints(file, checkpoint.traceId)) ?? [];
    const next = [...current, checkpoint];
    stage.checkpoints.set(file, next);
    stage.files.set(file, JSON.stringify(next));
  }

  async #stageQuarantine(stage: Stage, index: TenantIndex, tenant: string, state: QuarantineState, text: string): Promise<void> {
    const doc = await this.#doc(stage, index, tenant, state.traceId);
    if (!doc) throw notFound('trace', tenant, state.traceId);
    stage.files.set(path.join(this.#traceDir(tenant, doc.trace.sessionId, doc.trace.id), 'quarantine.json'), text);
    stage.after.push(() => (state.quarantined ? index.quarantined.add(state.traceId) : index.quarantined.delete(state.traceId)));
  }

  /**
   * A provenance append inside a batch. The chain file is staged whole (its content so far plus the
   * new lines) so the journal makes it all-or-nothing with the batch's other files; the batch holds
   * the chain's mutex key from the head read until the commit, as a single append does.
   */
  async #stageProvenance(stage: Stage, index: TenantIndex, tenant: string, input: ProvenanceInput, origin: ProvenanceOrigin): Promise<void> {
    const doc = await this.#doc(stage, index, tenant, input.traceId);
    if (!doc) throw notFound('trace', tenant, input.traceId);
    const dir = this.#traceDir(tenant, doc.trace.sessionId, doc.trace.id);
    const file = path.join(dir, 'provenance.jsonl');
    let chain = stage.chains.get(file);
    if (!chain) {
      await ensureDir(dir, false);
      // A batch rewrites the chain whole, so it needs its content; but an entry past the limits of a
      // chain whose head is known is refused first, without reading it (the entry built on that head
      // is the one built below).
      const known = await this.#knownHead(file);
      if (known) {
        const bytes = Buffer.byteLength(serializeRecord(nextProvenanceEntry(input, known.last), 'provenance entry', this.maxRecordBytes), 'utf8');
        assertProvenanceFits(input.traceId, { count: known.lines, bytes: known.size - known.lines }, { count: 1, bytes }, this.maxRecordBytes, origin);
      }
      const { content, last, lines } = await this.#chainToExtend(file, input.traceId);
      chain = { content, last, lines, size: Buffer.byteLength(content, 'utf8') };
      // The head of the file as it is, kept whether or not this batch commits (see #head).
      this.#heads.set(file, { size: chain.size, lines, last });
    }
    const next = nextProvenanceEntry(input, chain.last);
    const json = serializeRecord(next, 'provenance entry', this.maxRecordBytes);
    const bytes = Buffer.byteLength(json, 'utf8');
    assertProvenanceFits(input.traceId, { count: chain.lines, bytes: chain.size - chain.lines }, { count: 1, bytes }, this.maxRecordBytes, origin);
    const updated = { content: `${chain.content}${json}\n`, last: next, lines: chain.lines + 1, size: chain.size + bytes + 1 };
    stage.chains.set(file, updated);
    stage.files.set(file, updated.content);
    stage.after.push(() => this.#heads.set(file, { size: updated.size, lines: updated.lines, last: updated.last }));
  }

  async #stageCounters(stage: Stage, tenant: string, deltas: Counters): Promise<void> {
    const file = this.#countersFile(tenant);
    const current = stage.counters ?? (await readCounters(file)) ?? {};
    // Without a prototype: a counter named `constructor` or `toString` is not found on Object.prototype.
    const next: Counters = Object.assign(Object.create(null) as Counters, current);
    // A sum past the finite numbers would be written as null, leaving the file unreadable as counters.
    for (const [name, delta] of Object.entries(deltas)) next[name] = addCounter(name, Object.hasOwn(next, name) ? next[name]! : 0, delta);
    stage.counters = next;
    stage.files.set(file, JSON.stringify(next));
  }

  /** Runs one write: lock the keys, stage against the index, commit. */
  async #run<T>(tenant: string, keys: string[], fn: (stage: Stage, index: TenantIndex) => Promise<T> | T): Promise<T> {
    return this.#guard(async () => {
      const index = await this.#index(tenant);
      return this.#mutex.run(keys.map((k) => `${tenant}\0${k}`), async () => {
        const stage = new Stage();
        const result = await fn(stage, index);
        await this.#commit(stage);
        return result;
      });
    });
  }

  // ── sessions ─────────────────────────────────────────────────────────────────────────────────

  async createSession(input: Session): Promise<Session> {
    const session = validate.session(input);
    const text = serializeRecord(session, 'session', this.maxRecordBytes);
    await this.#run(session.tenant, [`s:${session.id}`], (stage, index) => this.#stageCreateSession(stage, index, session, text));
    return session;
  }

  async getSession(tenant: string, id: string): Promise<Session | null> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    const index = await this.#index(tenant);
    if (!sessionKnown(index, id)) return null;
    return (await this.#readSession(tenant, id)) ?? null;
  }

  async listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>> {
    validate.tenant(tenant);
    const q = validate.sessionQuery(query);
    const index = await this.#index(tenant);
    assertNoDamaged(index.damagedSessions);
    const entries = [...index.sessions.values()]
      .filter((s) => (q.status === undefined || s.status === q.status) && (!q.after || isAfterCursor(s, q.after)))
      .sort(compareNewestFirst)
      .slice(0, q.limit + 1);
    return this.#page(entries, q, (e) => this.#sessionFile(tenant, e.id), (e) => this.#readSession(tenant, e.id));
  }

  /**
   * A page of the records of `entries` (index entries in list order, `limit + 1` at most): the page
   * is cut by the files' sizes (PageBuilder: `limit` records, `maxBytes` bytes), then only the
   * records on it are read.
   */
  async #page<E extends { createdAt: string; id: string }, T>(
    entries: E[], q: { limit: number; maxBytes: number }, file: (e: E) => string, read: (e: E) => Promise<T | undefined>,
  ): Promise<Page<T>> {
    const sizes = await allInOrder(entries.map((e) => fileSize(file(e))));
    const cut = new PageBuilder<E>(q.limit, q.maxBytes);
    for (let i = 0; i < entries.length && cut.takes(sizes[i]!); i++) cut.add(entries[i]!, sizes[i]!);
    const { items, nextCursor } = cut.page();
    const records: (T | undefined)[] = await allInOrder(items.map(read));
    return { items: records.filter((r): r is T => r !== undefined), nextCursor };
  }

  async closeSession(tenant: string, id: string, closedAt: string): Promise<Session> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    const at = validate.timestamp(closedAt, 'closedAt');
    return this.#run(tenant, [`s:${id}`], async (stage, index) => {
      const session = sessionKnown(index, id) ? await this.#readSession(tenant, id) : undefined;
      if (!session) throw notFound('session', tenant, id);
      if (session.status === 'closed') return session;
      const closed: Session = { ...session, status: 'closed', closedAt: at };
      stage.files.set(this.#sessionFile(tenant, id), serializeRecord(closed, 'session', this.maxRecordBytes));
      stage.after.push(() => index.sessions.set(id, { id, createdAt: closed.createdAt, status: 'closed' }));
      return closed;
    });
  }

  // ── traces ───────────────────────────────────────────────────────────────────────────────────

  async createTrace(input: Trace): Promise<Trace> {
    const trace = validate.trace(input);
    const text = this.#traceText(trace);
    await this.#run(trace.tenant, [`t:${trace.id}`, 'flags'], (stage, index) => this.#stageCreateTrace(stage, index, trace, text));
    return trace;
  }

  /** A new trace's JSON, size-checked without its flags, each flag alone. */
  #traceText(trace: Trace): string {
    const text = JSON.stringify(trace);
    const flagTexts = trace.flags.length === 0 ? [] : trace.flags.map((f) => serializeRecord(f, 'flag', this.maxRecordBytes));
    assertContainerSize(text, 'trace', 'flags', trace.flags, 'flag', this.maxRecordBytes, flagTexts);
    return text;
  }

  async updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const p = validate.tracePatch(patch);
    return this.#run(tenant, [`t:${id}`], (stage, index) => this.#stageUpdateTrace(stage, index, tenant, id, p));
  }

  async getTrace(tenant: string, id: string): Promise<Trace | null> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const index = await this.#index(tenant);
    const entry = traceEntry(index, id);
    if (!entry) return null;
    return (await this.#readTraceDoc(tenant, entry.sessionId, id))?.trace ?? null;
  }

  async listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>> {
    validate.tenant(tenant);
    const q = validate.traceQuery(query);
    const index = await this.#index(tenant);
    assertNoDamaged(index.damagedTraces);
    const sorted = this.#sortedTraces(index);
    // Binary search for the first entry after the cursor (the list is sorted newest first).
    let start = 0;
    if (q.after) {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (isAfterCursor(sorted[mid]!, q.after)) hi = mid;
        else lo = mid + 1;
      }
      start = lo;
    }
    const picked: TraceEntry[] = [];
    for (let i = start; i < sorted.length && picked.length <= q.limit; i++) {
      const e = sorted[i]!;
      if (q.toMs !== undefined && e.ms >= q.toMs) continue;
      if (q.fromMs !== undefined && e.ms < q.fromMs) break;
      if (q.sessionId !== undefined && e.sessionId !== q.sessionId) continue;
      if (q.statuses && !q.statuses.includes(e.status)) continue;
      if (q.flagKind !== undefined && !e.kinds.has(q.flagKind)) continue;
      picked.push(e);
    }
    return this.#page(picked, q, (e) => this.#traceFile(tenant, e.sessionId, e.id), async (e) => (await this.#readTraceDoc(tenant, e.sessionId, e.id))?.trace);
  }

  // ── provenance ───────────────────────────────────────────────────────────────────────────────

  async appendProvenance(tenant: string, input: ProvenanceInput, options: AppendProvenanceOptions = {}): Promise<ProvenanceEntry> {
    validate.tenant(tenant);
    const parsed = validate.provenanceInput(input);
    const { origin } = validate.appendProvenanceOptions(options);
    // No size check of the input here: the entry is measured once built (with seq and hashes), after
    // the trace is found, so a call gets the same answer and figure as on every other backend.
    return this.#guard(async () => {
      const index = await this.#index(tenant);
      const entry = traceEntry(index, parsed.traceId);
      if (!entry) throw notFound('trace', tenant, parsed.traceId);
      const dir = this.#traceDir(tenant, entry.sessionId, parsed.traceId);
      const file = path.join(dir, 'provenance.jsonl');
      // Appends to one chain queue on the mutex (batches take the same key); the store lock keeps
      // other processes out.
      return this.#mutex.run([`${tenant}\0p:${parsed.traceId}`], async () => {
        const head = await this.#head(file, parsed.traceId);
        const next = nextProvenanceEntry(parsed, head.last);
        const json = serializeRecord(next, 'provenance entry', this.maxRecordBytes);
        const bytes = Buffer.byteLength(json, 'utf8');
        // Under the chain's mutex key: the head, and the chain's totals with it, are the chain's own.
        assertProvenanceFits(parsed.traceId, { count: head.lines, bytes: head.size - head.lines }, { count: 1, bytes }, this.maxRecordBytes, origin);
        const line = `${json}\n`;
        try {
          const handle = await fs.open(file, 'a', 0o600);
          try {
            await handle.writeFile(line, 'utf8');
            if (this.config.fsync) await handle.datasync();
          } finally {
            await handle.close();
          }
        } catch (error) {
          // What a refused write (a full disk) did write is cut off again: the chain is as before, not
          // left with a torn line for the next append to set aside (or, cut just before its newline,
          // an entry this caller was told failed).
          await fs.truncate(file, head.size).catch(() => undefined);
          throw writeError(error, file);
        }
        if (this.config.fsync && head.size === 0) await fsyncDir(dir);
        this.#heads.set(file, { size: head.size + bytes + 1, lines: head.lines + 1, last: next });
        return next;
      });
    });
  }

  /**
   * The chain's last entry, read under the chain's mutex key. The file may have been changed from
   * outside the store since we last looked (a restore, a hand edit), so the cache is trusted only
   * while the file size matches. A head measured from the file is cached at once, whether or not the
   * append it serves is written: appends refused past the chain's limits do not read it again.
   */
  async #head(file: string, traceId: string): Promise<Head> {
    const known = await this.#knownHead(file);
    if (known) return known;
    const { content, last, lines } = await this.#chainToExtend(file, traceId);
    const head = { size: Buffer.byteLength(content), lines, last };
    this.#heads.set(file, head);
    return head;
  }

  /** The chain's head without reading the chain: cached (while the file keeps its size), or an empty chain; else undefined. */
  async #knownHead(file: string): Promise<Head | undefined> {
    const stat = await fs.stat(file).catch(() => null);
    const size = stat?.size ?? 0;
    const cached = this.#heads.get(file);
    if (cached && cached.size === size) return cached;
    if (size === 0) return { size: 0, lines: 0, last: undefined };
    return undefined;
  }

  /**
   * A chain file as an append must continue it (under the chain's mutex key): its content up to the last
   * newline and its last entry. What follows the last newline is settled first (see splitChain): a
   * complete entry that lost its newline gets it back; an append that never completed is cut off —
   * its bytes kept in `<file>.torn-<ms>` and reported, since a torn append cannot be told from an
   * entry damaged at its end; anything else, or a last line that is not JSON, is
   * LIMIT_STORAGE_CORRUPT naming the file and line, and nothing is written.
   */
  async #chainToExtend(file: string, traceId: string): Promise<{ content: string; last: ProvenanceEntry | undefined; lines: number }> {
    const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw readError(error, file);
    });
    const chain = splitChain(text, traceId);
    const content = text.slice(0, text.length - chain.tail.length);
    try {
      switch (chain.tailKind) {
        case 'damaged':
          throw corruptFile(file, `ends with an incomplete line that is not the start of an entry of trace "${traceId}"; nothing is appended after it`, { line: chain.lines.length + 1, fix: PROVENANCE_FIX, details: { traceId } });
        case 'entry':
          await fs.appendFile(file, '\n', 'utf8');
          this.config.logger?.warn({ file, line: chain.lines.length + 1 }, 'the last provenance entry had lost its newline; it was complete and is kept');
          return { content: `${text}\n`, last: chain.tailEntry, lines: chain.lines.length + 1 };
        case 'torn': {
          const aside = `${file}.torn-${Date.now()}`;
          await atomicWrite(aside, chain.tail, this.config.fsync);
          await fs.truncate(file, Buffer.byteLength(content));
          this.config.logger?.warn({ file, aside, bytes: Buffer.byteLength(chain.tail) }, 'cut an incomplete last line off a provenance chain (an append that never completed, or an entry damaged at its end); its bytes are kept aside');
          break;
        }
      }
    } catch (error) {
      throw writeError(error, file);
    }
    const lastLine = chain.lines[chain.lines.length - 1];
    return { content, last: lastLine === undefined ? undefined : parseEntry(lastLine, file, chain.lines.length), lines: chain.lines.length };
  }

  async listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]> {
    const { entries, corruptAt, file } = await this.#readChain(tenant, traceId);
    if (corruptAt !== null) {
      throw corruptFile(file, `holds an unreadable provenance entry of trace "${traceId}"`, { line: corruptAt + 1, fix: PROVENANCE_FIX, details: { tenant, traceId } });
    }
    return entries;
  }

  async #readChain(tenant: string, traceId: string): Promise<{ entries: ProvenanceEntry[]; corruptAt: number | null; file: string }> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const index = await this.#index(tenant);
    const entry = traceEntry(index, traceId);
    if (!entry) return { entries: [], corruptAt: null, file: '' };
    const file = path.join(this.#traceDir(tenant, entry.sessionId, traceId), 'provenance.jsonl');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], corruptAt: null, file };
      throw readError(error, file);
    }
    // A torn append (never acknowledged) is skipped; readers never change the file.
    const { lines, tailKind, tailEntry } = splitChain(text, traceId);
    const entries: ProvenanceEntry[] = [];
    for (let i = 0; i < lines.length; i++) {
      try {
        entries.push(JSON.parse(lines[i]!) as ProvenanceEntry);
      } catch {
        return { entries, corruptAt: i, file };
      }
    }
    if (tailKind === 'entry') entries.push(tailEntry!);
    return { entries, corruptAt: tailKind === 'damaged' ? lines.length : null, file };
  }

  async verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification> {
    const { entries, corruptAt } = await this.#readChain(tenant, traceId);
    const verification = verifyProvenanceChain(entries);
    if (corruptAt === null || !verification.verified) return verification;
    return { verified: false, length: entries.length + 1, brokenAt: corruptAt, reason: `entry at line ${corruptAt + 1} is not valid JSON` };
  }

  // ── flags, checkpoints, quarantine ───────────────────────────────────────────────────────────

  async addFlag(tenant: string, input: Flag): Promise<Flag> {
    validate.tenant(tenant);
    const flag = validate.flag(input);
    serializeRecord(flag, 'flag', this.maxRecordBytes);
    await this.#run(tenant, [`t:${flag.traceId}`, 'flags'], (stage, index) => this.#stageAddFlag(stage, index, tenant, flag));
    return flag;
  }

  async listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]> {
    validate.tenant(tenant);
    const q = validate.flagQuery(query);
    const index = await this.#index(tenant);
    assertNoDamaged(index.damagedTraces);
    return index.flags
      .filter(({ flag }) => (q.traceId === undefined || flag.traceId === q.traceId) && (q.kind === undefined || flag.kind === q.kind))
      .map(({ flag }) => structuredClone(flag)); // a copy: changing it must not change the index
  }

  async addCheckpoint(tenant: string, input: Checkpoint): Promise<Checkpoint> {
    validate.tenant(tenant);
    const checkpoint = validate.checkpoint(input);
    serializeRecord(checkpoint, 'checkpoint', this.maxRecordBytes);
    await this.#run(tenant, [`t:${checkpoint.traceId}`], (stage, index) => this.#stageCheckpoint(stage, index, tenant, checkpoint));
    return checkpoint;
  }

  async listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const entry = traceEntry(await this.#index(tenant), traceId);
    if (!entry) return [];
    return (await readCheckpoints(path.join(this.#traceDir(tenant, entry.sessionId, traceId), 'checkpoints.json'), traceId)) ?? [];
  }

  async setQuarantine(tenant: string, input: QuarantineState): Promise<QuarantineState> {
    validate.tenant(tenant);
    const state = validate.quarantine(input);
    const text = serializeRecord(state, 'quarantine state', this.maxRecordBytes);
    await this.#run(tenant, [`t:${state.traceId}`], (stage, index) => this.#stageQuarantine(stage, index, tenant, state, text));
    return state;
  }

  async getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const entry = traceEntry(await this.#index(tenant), traceId);
    if (!entry) return null;
    return (await readQuarantine(path.join(this.#traceDir(tenant, entry.sessionId, traceId), 'quarantine.json'), traceId)) ?? null;
  }

  async listQuarantined(tenant: string): Promise<QuarantineState[]> {
    validate.tenant(tenant);
    const index = await this.#index(tenant);
    assertNoDamaged(index.damagedTraces);
    // By trace id, as every backend lists them (the set's own order is insertion, or folder scan after a restart).
    const ids = [...index.quarantined].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const states = await allInOrder(ids.map((id) => this.getQuarantine(tenant, id)));
    return states.filter((s): s is QuarantineState => s !== null && s.quarantined);
  }

  // ── rate–distortion ──────────────────────────────────────────────────────────────────────────

  async createRdSeries(input: RdSeries): Promise<RdSeries> {
    const series = validate.rdSeries(input);
    const text = JSON.stringify(series);
    assertContainerSize(text, 'RD series', 'points', series.points, 'RD point', this.maxRecordBytes);
    assertRdPointsFit(series.id, { count: 0, bytes: 0 }, { count: series.points.length, bytes: rdPointsBytes(series.points) }, this.maxRecordBytes);
    await this.#run(series.tenant, [`rd:${series.id}`], async (stage) => {
      const file = this.#rdFile(series.tenant, series.id);
      if (await exists(file)) throw conflict('RD series', series.tenant, series.id);
      stage.files.set(file, text);
    });
    return series;
  }

  async appendRdPoint(tenant: string, seriesId: string, input: RdPointInput): Promise<RdPointAppended> {
    validate.tenant(tenant);
    assertId(seriesId, 'RD series id');
    const valid = validate.rdPointInput(input);
    return this.#run(tenant, [`rd:${seriesId}`], async (stage) => {
      // The series is one file, rewritten whole: its size is bounded by the series limits.
      const file = this.#rdFile(tenant, seriesId);
      const series = await readRdSeries(file, tenant, seriesId);
      if (!series) throw notFound('RD series', tenant, seriesId);
      // A point without a step gets the next one, read under the same lock as the append.
      const point = withRdStep(seriesId, valid, nextRdStep(series.points));
      // The point alone is size-checked; a series is measured without its points.
      const bytes = Buffer.byteLength(serializeRecord(point, 'RD point', this.maxRecordBytes), 'utf8');
      const held = { count: series.points.length, bytes: rdPointsBytes(series.points) };
      assertRdPointsFit(seriesId, held, { count: 1, bytes }, this.maxRecordBytes);
      const next: RdSeries = { ...series, points: [...series.points, point] };
      stage.files.set(file, JSON.stringify(next));
      return { seriesId, point, pointCount: held.count + 1, pointBytes: held.bytes + bytes };
    });
  }

  async getRdSeriesSummary(tenant: string, id: string): Promise<RdSeriesSummary | null> {
    const series = await this.getRdSeries(tenant, id);
    return series ? rdSeriesSummary(series) : null;
  }

  async getRdSeries(tenant: string, id: string): Promise<RdSeries | null> {
    validate.tenant(tenant);
    assertId(id, 'RD series id');
    this.#assertOpen();
    return (await readRdSeries(this.#rdFile(tenant, id), tenant, id)) ?? null;
  }

  async listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]> {
    validate.tenant(tenant);
    const sessionId = query?.sessionId === undefined ? undefined : assertId(query.sessionId, 'session id');
    this.#assertOpen();
    const dir = path.join(this.#tenantDir(tenant), 'rd');
    const names = (await listDir(dir)).filter((n) => n.endsWith('.json') && validId(n.slice(0, -5))).sort();
    const all = await allInOrder(names.map((n) => readRdSeries(path.join(dir, n), tenant, n.slice(0, -5))));
    return all
      .filter((s): s is RdSeries => s !== undefined && (sessionId === undefined || s.sessionId === sessionId))
      .sort((a, b) => timeKey(a.createdAt) - timeKey(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ── counters ─────────────────────────────────────────────────────────────────────────────────

  async incrementCounters(tenant: string, deltas: Counters): Promise<void> {
    validate.tenant(tenant);
    const d = validate.counters(deltas);
    await this.#run(tenant, ['counters'], (stage) => this.#stageCounters(stage, tenant, d));
  }

  async getCounters(tenant: string): Promise<Counters> {
    validate.tenant(tenant);
    this.#assertOpen();
    return (await readCounters(this.#countersFile(tenant))) ?? {};
  }

  // ── batch ────────────────────────────────────────────────────────────────────────────────────

  async batch(tenant: string, ops: BatchOp[]): Promise<void> {
    const valid = validate.batch(tenant, ops);
    if (valid.length === 0) return;
    const at = (error: unknown, i: number) => atBatchOp(error, `batch op ${i} (${valid[i]!.op})`, i);
    const texts = valid.map((op, i) => {
      try {
        switch (op.op) {
          case 'createSession': return serializeRecord(op.session, 'session', this.maxRecordBytes);
          case 'createTrace': return this.#traceText(op.trace);
          case 'addFlag': return serializeRecord(op.flag, 'flag', this.maxRecordBytes);
          case 'addCheckpoint': return serializeRecord(op.checkpoint, 'checkpoint', this.maxRecordBytes);
          case 'setQuarantine': return serializeRecord(op.state, 'quarantine state', this.maxRecordBytes);
          // The entry adds seq and hashes: it is measured when it is built, after its trace is found.
          default: return '';
        }
      } catch (error) {
        throw at(error, i);
      }
    });
    const keys = new Set<string>();
    for (const op of valid) {
      switch (op.op) {
        case 'createSession': keys.add(`s:${op.session.id}`); break;
        case 'createTrace': keys.add(`t:${op.trace.id}`).add('flags'); break;
        case 'updateTrace': keys.add(`t:${op.id}`); break;
        case 'addFlag': keys.add(`t:${op.flag.traceId}`).add('flags'); break;
        case 'addCheckpoint': keys.add(`t:${op.checkpoint.traceId}`); break;
        case 'setQuarantine': keys.add(`t:${op.state.traceId}`); break;
        case 'incrementCounters': keys.add('counters'); break;
        // The same in-process key as a single append to that chain.
        case 'appendProvenance': keys.add(`t:${op.input.traceId}`).add(`p:${op.input.traceId}`); break;
      }
    }
    await this.#run(tenant, [...keys], async (stage, index) => {
      // A failing op throws before #commit: nothing is written (flag numbers it took stay unused, which only leaves a gap).
      for (let i = 0; i < valid.length; i++) {
        const op = valid[i]!;
        try {
          switch (op.op) {
            case 'createSession': this.#stageCreateSession(stage, index, op.session, texts[i]!); break;
            case 'createTrace': this.#stageCreateTrace(stage, index, op.trace, texts[i]!); break;
            case 'updateTrace': await this.#stageUpdateTrace(stage, index, tenant, op.id, op.patch, op.ifStatus, op.ifFlagCount); break;
            case 'addFlag': await this.#stageAddFlag(stage, index, tenant, op.flag); break;
            case 'addCheckpoint': await this.#stageCheckpoint(stage, index, tenant, op.checkpoint); break;
            case 'setQuarantine': await this.#stageQuarantine(stage, index, tenant, op.state, texts[i]!); break;
            case 'incrementCounters': await this.#stageCounters(stage, tenant, op.deltas); break;
            case 'appendProvenance': await this.#stageProvenance(stage, index, tenant, op.input, op.origin ?? 'system'); break;
          }
        } catch (error) {
          throw at(error, i);
        }
      }
    });
  }
}

/** A record file's damage kept in the index (LIMIT_STORAGE_CORRUPT); any other error (a read refused) fails the load. */
function damage(error: unknown): LimitError {
  if (error instanceof LimitError && error.code === 'LIMIT_STORAGE_CORRUPT') return error;
  throw error;
}

/** A trace's index entry, undefined when there is none; its damage when its files are damaged. */
function traceEntry(index: TenantIndex, traceId: string): TraceEntry | undefined {
  const damaged = index.damagedTraces.get(traceId);
  if (damaged) throw damaged;
  return index.traces.get(traceId);
}

/** Whether the session exists; its damage when its file is damaged. */
function sessionKnown(index: TenantIndex, id: string): boolean {
  const damaged = index.damagedSessions.get(id);
  if (damaged) throw damaged;
  return index.sessions.has(id);
}

/** A list (or check) over every record of a kind cannot be complete while one of them is damaged. */
function assertNoDamaged(damaged: Map<string, LimitError>): void {
  for (const error of damaged.values()) throw error;
}

/** Throws unless the record carries the ids its path (or caller) gives it; returns it. */
function sameIds<T extends object>(record: T, ids: Record<string, string>): T {
  for (const [key, value] of Object.entries(ids)) {
    const found = (record as Record<string, unknown>)[key];
    if (found !== value) throw new Error(`its ${key} is ${JSON.stringify(found)}, where the file's place says ${JSON.stringify(value)}`);
  }
  return record;
}

function readCheckpoints(file: string, traceId: string): Promise<Checkpoint[] | undefined> {
  return readRecord(file, 'a list of checkpoints', (v) => {
    if (!Array.isArray(v)) throw new Error('expected an array of checkpoints');
    v.forEach((c, i) => {
      try {
        sameIds(validate.checkpoint(c, 'read'), { traceId });
      } catch (error) {
        throw new Error(`checkpoint ${i}: ${(error as Error).message}`);
      }
    });
  });
}

function readQuarantine(file: string, traceId: string): Promise<QuarantineState | undefined> {
  return readRecord(file, 'a quarantine state', (v) => sameIds(validate.quarantine(v), { traceId }));
}

function readRdSeries(file: string, tenant: string, id: string): Promise<RdSeries | undefined> {
  return readRecord(file, 'an RD series', (v) => sameIds(validate.rdSeries(v, 'read'), { tenant, id }));
}

function readCounters(file: string): Promise<Counters | undefined> {
  return readRecord(file, 'counters ({ name: number })', (v) => validate.counters(v));
}

const PROVENANCE_FIX = 'Restore provenance.jsonl from a backup (verifyProvenance reports the first broken link); appends to this chain are refused until then.';

/**
 * A chain file's complete lines, and what follows its last newline (`tail`), which is:
 *   'none'    nothing (the file ends with a newline, or is empty);
 *   'entry'   a JSON object: a complete entry that lost only its newline (`tailEntry`);
 *   'torn'    the start of an entry line of this trace — what an append killed mid-write leaves
 *             (never acknowledged), or what an entry damaged at its end looks like;
 *   'damaged' anything else.
 */
function splitChain(text: string, traceId: string): { lines: string[]; tail: string; tailKind: 'none' | 'entry' | 'torn' | 'damaged'; tailEntry?: ProvenanceEntry } {
  const lines = text.split('\n');
  const tail = lines.pop()!;
  if (tail === '') return { lines, tail, tailKind: 'none' };
  try {
    const value: unknown = JSON.parse(tail);
    return isObject(value) ? { lines, tail, tailKind: 'entry', tailEntry: value as ProvenanceEntry } : { lines, tail, tailKind: 'damaged' };
  } catch {
    // Every entry line starts so: the validated input's keys come first, traceId first (nextProvenanceEntry).
    const start = `{"traceId":${JSON.stringify(traceId)},`;
    return { lines, tail, tailKind: start.startsWith(tail) || tail.startsWith(start) ? 'torn' : 'damaged' };
  }
}

/** One complete line of a chain file (1-based `line`), LIMIT_STORAGE_CORRUPT naming the file and line when it is not JSON. */
function parseEntry(text: string, file: string, line: number): ProvenanceEntry {
  try {
    return JSON.parse(text) as ProvenanceEntry;
  } catch (error) {
    throw corruptFile(file, `is not a readable provenance entry (${(error as Error).message}); nothing is appended after it`, { cause: error, line, fix: PROVENANCE_FIX });
  }
}

/** journal/<id>.json: { files: [{ file, content }] } (see #commit). */
function checkJournal(v: unknown): void {
  const files = isObject(v) ? v.files : undefined;
  if (!Array.isArray(files) || !files.every((f) => isObject(f) && typeof f.file === 'string' && typeof f.content === 'string')) {
    throw new Error('expected { "files": [{ "file": <path>, "content": <text> }, …] }');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validId(name: string): boolean {
  try {
    assertId(name, 'id');
    return true;
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
