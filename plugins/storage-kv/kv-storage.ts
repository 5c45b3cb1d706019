/**
 * The Storage contract on an embedded LMDB environment (npm `lmdb`). Records are JSON text under
 * ordered array keys, so every list is a key-range scan:
 *
 *   ['meta', 'schema']                      → schema version
 *   ['s',  tenant, id]                      → session          ['si', tenant, createdMs, id] → status
 *   ['t',  tenant, id]                      → trace (flags included; size-checked without them, each flag alone)
 *   ['tc', tenant, createdMs, id]           → status           (every trace, by time)
 *   ['ts', tenant, sessionId, createdMs, id]→ status           (traces of a session, by time)
 *   ['tf', tenant, kind, createdMs, id]     → ''               (traces carrying a flag kind)
 *   ['f',  tenant, n] → flag (n: tenant-wide insertion order)   ['fid', tenant, flagId] → n
 *   ['ft', tenant, traceId, n] / ['fk', tenant, kind, n] → ''  (flags by trace / by kind)
 *   ['c',  tenant, traceId, n]              → checkpoint
 *   ['q',  tenant, traceId]                 → quarantine state
 *   ['p',  tenant, traceId, seq]            → provenance entry
 *   ['pb', tenant, traceId]                 → { seq, bytes }   (the chain's bytes up to its head seq)
 *   ['rd', tenant, id] → RD series (points included, size-checked apart) ['rds', tenant, sessionId, id] → ''
 *   ['n',  tenant, name]                    → counter value
 *
 * Every write runs as an LMDB child transaction inside lmdb-js's batched write transaction: it can
 * read its own state, it is rolled back as a whole when it throws, and LMDB's single-writer lock
 * (shared by every process that opens the environment) serialises it against all other writers —
 * which is what keeps a provenance chain linear across processes, not an in-process lock.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { checkDataFile } from './data-file.ts';
import {
  LimitError, addCounter, atBatchOp, applyTracePatch, assertContainerSize, assertFlagsFit, assertProvenanceFits, assertId, flagsBytes, conflict, matchesTraceQuery, nextProvenanceEntry, notFound, PageBuilder, assertRdPointsFit, nextRdStep, rdPointInOrder, rdPointsBytes, rdSeriesSummary, withRdStep,
  retryOnConflict, schemaTooNew, serializeRecord, timeKey, validate, verifyProvenanceChain,
  type BatchOp, type ChainVerification, type Checkpoint, type Counters, type Flag, type FlagKind, type HealthResult, type Page,
  type AppendProvenanceOptions, type ProvenanceEntry, type ProvenanceInput, type ProvenanceOrigin, type QuarantineState, type RdPoint, type RdPointAppended, type RdPointInput, type RdSeries, type RdSeriesSummary, type Session, type SessionQuery,
  type Storage, type StorageSupports, type Trace, type TracePatch, type TraceQuery, type CursorPosition,
  fileInPlaceOfFolder, fileIdentity, fileNoLongerAt, fileNoLongerAtError, type FileIdentity,
  isStoredRecord,
} from 'limit-graph';

export const KV_SCHEMA_VERSION = 1;
const PLUGIN = 'storage-kv';
/** Above every epoch-ms key (year 9999 is 2.5e14) and below nothing we store. */
const MAX_TIME = Number.MAX_SAFE_INTEGER;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const SCHEMA_KEY = ['meta', 'schema'];
const MARKER_FIX = `Restore the store folder from a backup; if the data is known to be intact, put the version this store was written with (${KV_SCHEMA_VERSION} for this plugin) under the key.`;

type Key = (string | number | Uint8Array)[];
/** A raw key element (written as these bytes) above the encoding of every string, number, boolean and null. */
const ABOVE_EVERY_ELEMENT = Uint8Array.of(0xff);

/** What a key prefix holds, for error messages (see the layout above). */
const RECORD_KINDS: Record<string, string> = {
  s: 'session', t: 'trace', f: 'flag', c: 'checkpoint', q: 'quarantine state', p: 'provenance entry', pb: 'provenance total', rd: 'RD series', n: 'counter',
};

export interface KvStorageConfig {
  /** LMDB environment folder. */
  path: string;
  noSync: boolean;
  maxRecordBytes: number;
  mapSize?: number;
}

/**
 * The lmdb-js settings of the environment, durability included; exported so that a raw-lmdb
 * baseline (bench/storage.ts) runs with exactly the same ones.
 */
export function lmdbOptions(config: Pick<KvStorageConfig, 'noSync' | 'mapSize'>) {
  return {
    // JSON text as values: the stored form is what is size-checked and what every backend returns.
    encoding: 'string' as const,
    noSync: config.noSync,
    // noSync cannot be combined with overlappingSync; without noSync it moves the fsync out of the write lock.
    ...(config.noSync ? { overlappingSync: false } : {}),
    ...(config.mapSize ? { mapSize: config.mapSize } : {}),
  };
}

/**
 * Index values as ready-made bytes. lmdb-js turns a string value into a fresh Buffer on every put;
 * the few statuses repeat on every index entry, so they are encoded once. Stored bytes are the
 * same UTF-8 either way, and reads (encoding 'string') still return strings.
 */
const VALUE_BYTES = new Map<string, Buffer>();
function valueBytes(text: string): Buffer {
  let bytes = VALUE_BYTES.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(text, 'utf8');
    // Statuses and '' only; a bound keeps an unexpected caller from growing the map forever.
    if (VALUE_BYTES.size < 64) VALUE_BYTES.set(text, bytes);
  }
  return bytes;
}

const NO_OVERWRITE = { noOverwrite: true } as const;

/** Positions of the digits in `YYYY-MM-DDTHH:MM:SS.sssZ`. */
const ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
const d2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/**
 * timeKey() read digit by digit for the canonical `YYYY-MM-DDTHH:MM:SS.sssZ` form (what
 * `toISOString()` writes), several times faster than Date.parse; anything else — offsets, other
 * precisions, years below 100 (Date.UTC maps them to 19xx), hour 24, out-of-range fields — goes to
 * Date.parse, so the result is always Date.parse's.
 */
export function msOf(iso: string): number {
  if (iso.length === 24 && iso.charCodeAt(23) === 90 /* Z */ && iso.charCodeAt(10) === 84 /* T */ && iso.charCodeAt(19) === 46 /* . */
    && iso.charCodeAt(4) === 45 && iso.charCodeAt(7) === 45 && iso.charCodeAt(13) === 58 && iso.charCodeAt(16) === 58) {
    let digits = true;
    for (const i of ISO_DIGITS) {
      const c = iso.charCodeAt(i);
      if (c < 48 || c > 57) digits = false;
    }
    const year = d2(iso, 0) * 100 + d2(iso, 2);
    const month = d2(iso, 5);
    const day = d2(iso, 8);
    const hour = d2(iso, 11);
    const minute = d2(iso, 14);
    const second = d2(iso, 17);
    // Days 29–31 past a month's end roll over in Date.parse too (V8 checks 1–31 only), as in Date.UTC.
    if (digits && year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59) {
      return Date.UTC(year, month - 1, day, hour, minute, second, d2(iso, 20) * 10 + iso.charCodeAt(22) - 48);
    }
  }
  return timeKey(iso);
}

function unavailable(dir: string, error: unknown): LimitError {
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot open LMDB environment ${dir}: ${(error as Error).message}`, {
    plugin: PLUGIN, cause: error, fix: 'Check that the folder is writable and not on a network file system (LMDB needs working mmap and file locks).',
  });
}

/** Thrown inside a transaction when a conditional provenance insert finds its seq taken. */
class SeqTaken extends Error {}

export class KvStorage implements Storage {
  readonly backend = 'kv';
  /** LMDB's write lock and reader table live in the environment's lock file: every process sees them. */
  readonly supports: StorageSupports = { multiProcess: true, crashSafe: true, transactions: true };
  readonly maxRecordBytes: number;
  #db: RootDatabase<string, Key> | undefined;
  /**
   * data.mdb as opened: once the path no longer names it, every write transaction is refused and
   * health() fails (fileNoLongerAtError).
   */
  #opened: FileIdentity | undefined;
  /**
   * Set while the write transactions lmdb-js runs back to back in one batch found data.mdb at its
   * path, cleared in the next microtask (after the batch's callbacks): one stat per batch.
   */
  #fileChecked = false;
  /** Set by close() until the transactions queued before it have run: calls from then on are refused. */
  #closing: Promise<void> | undefined;
  /** Transactions queued and not yet settled (close() waits for them). */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** >0 while a transaction callback runs: it still reaches the store during close(). */
  #inTransaction = 0;

  constructor(readonly config: KvStorageConfig) {
    this.maxRecordBytes = config.maxRecordBytes;
  }

  get path(): string {
    return this.config.path;
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────────────

  async open(): Promise<void> {
    await this.#closing;
    if (!this.#db) {
      try {
        // Every tenant's records live here: only the server's uid may enter the folder, whatever
        // modes LMDB gives data.mdb and lock.mdb. A new folder is made so; an existing one is
        // tightened once its schema marker is known (below), so a store refused stays as it was.
        mkdirSync(this.config.path, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw fileInPlaceOfFolder(error, this.config.path, { plugin: PLUGIN, what: `LMDB environment ${this.config.path}`, setting: 'path, LIMIT_KV_PATH' }) ?? unavailable(this.config.path, error);
      }
      await this.#checkDataFile();
      try {
        // ??=: another open() of this instance may have opened it during the check.
        this.#db ??= open<string, Key>({ path: this.config.path, ...lmdbOptions(this.config) });
        this.#opened = fileIdentity(path.join(this.config.path, 'data.mdb'));
      } catch (error) {
        throw unavailable(this.config.path, error);
      }
    }
    try {
      await this.#migrate();
    } catch (error) {
      // A refused store stays closed: nothing holds it open for a caller that only sees the error.
      await this.close();
      throw error;
    }
    try {
      chmodSync(this.config.path, 0o700);
    } catch (error) {
      await this.close();
      throw unavailable(this.config.path, error);
    }
  }

  /**
   * Refuses a data.mdb that LMDB would crash on (see data-file.ts). Another process may be creating
   * the file or committing to it meanwhile, so a failed check is repeated once after a pause: only
   * a state that lasts is refused.
   */
  async #checkDataFile(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        checkDataFile(this.config.path, this.config);
        return;
      } catch (error) {
        if (!(error instanceof LimitError)) throw unavailable(this.config.path, error);
        if (attempt === 2) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #migrate(): Promise<void> {
    const db = this.#open();
    try {
      await this.#write(() => {
        const current = this.#schemaMarker();
        if (current > KV_SCHEMA_VERSION) throw schemaTooNew(`The KV store at ${this.config.path}`, current, KV_SCHEMA_VERSION, PLUGIN);
        // A store with records but no marker lost it: taking it for a new store would stamp the
        // current layout on data of unknown version.
        if (current === 0) this.#refuseUnmarkedData(db);
        // Version 1 is the key layout above; LMDB needs no tables, so migrating means recording it.
        if (current < KV_SCHEMA_VERSION) db.put(SCHEMA_KEY, String(KV_SCHEMA_VERSION));
      });
    } catch (error) {
      if (error instanceof LimitError) throw error;
      throw new LimitError('LIMIT_STORAGE_MIGRATION_FAILED', `Migrating the KV store at ${this.config.path} failed: ${(error as Error).message}`, { plugin: PLUGIN, cause: error });
    }
  }

  /**
   * Closes the environment once the writes requested before the call have committed (and, unless
   * noSync, been flushed): they are not dropped. Calls made after it are refused
   * (LIMIT_STORAGE_UNAVAILABLE). Before, the environment was let go at once and every transaction
   * still queued failed with a TypeError (reading 'putSync' of undefined) — writes lost, no code.
   */
  async close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const db = this.#db;
    if (!db) return;
    this.#closing = (async () => {
      try {
        while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
        if (!this.config.noSync) await db.flushed.then(undefined, () => undefined);
      } finally {
        this.#db = undefined;
        try {
          await db.close();
        } finally {
          this.#closing = undefined;
        }
      }
    })();
    return this.#closing;
  }

  async health(): Promise<HealthResult> {
    const started = performance.now();
    try {
      const db = this.#open();
      // Writes are refused (#assertFileInPlace); reads go on from the open file.
      const gone = fileNoLongerAt('LMDB', path.join(this.config.path, 'data.mdb'), this.#opened, { plugin: PLUGIN, details: { path: this.config.path } });
      if (gone) return gone;
      const key: Key = ['health', `${process.pid}-${Math.random().toString(36).slice(2)}`];
      const value = new Date().toISOString();
      await this.#write(() => db.put(key, value));
      const readBack = db.get(key);
      await this.#write(() => db.remove(key));
      if (readBack !== value) return { status: 'fail', message: 'health probe read back a different value', checks: [{ name: 'read-write', status: 'fail' }] };
      const stat = db.getStats() as { entryCount?: number; mapSize?: number };
      return {
        status: 'ok',
        message: `LMDB at ${this.config.path}`,
        checks: [{ name: 'read-write', status: 'ok', message: `${(performance.now() - started).toFixed(1)} ms` }],
        details: { path: this.config.path, schemaVersion: this.#schemaMarker(), entries: stat.entryCount, noSync: this.config.noSync },
      };
    } catch (error) {
      return { status: 'fail', message: (error as Error).message, checks: [{ name: 'read-write', status: 'fail', message: (error as Error).message }] };
    }
  }

  async schemaVersion(): Promise<number> {
    this.#fresh();
    return this.#schemaMarker();
  }

  /**
   * The recorded schema version, 0 when none is recorded yet. Only `String(version)` is ever
   * written, so anything else is damage: refused, never read as NaN (which passes both the
   * "newer" and the "older" comparison and would open the store unchecked).
   */
  #schemaMarker(): number {
    const value = this.#open().get(SCHEMA_KEY);
    if (value === undefined) return 0;
    if (!/^[1-9][0-9]{0,8}$/.test(value)) {
      throw new LimitError('LIMIT_STORAGE_CORRUPT',
        `The KV store at ${this.config.path} has a damaged schema-version marker: key ${JSON.stringify(SCHEMA_KEY)} holds ${JSON.stringify(value.slice(0, 100))}${value.length > 100 ? '…' : ''}, not a version number`, {
          plugin: PLUGIN, details: { path: this.config.path, key: SCHEMA_KEY, value: value.slice(0, 100) },
          fix: MARKER_FIX,
        });
    }
    return Number(value);
  }

  /** LIMIT_STORAGE_CORRUPT when a store without a schema marker holds any record. */
  #refuseUnmarkedData(db: RootDatabase<string, Key>): void {
    for (const key of db.getKeys({ limit: 1 })) {
      throw new LimitError('LIMIT_STORAGE_CORRUPT',
        `The KV store at ${this.config.path} holds records (the first: key ${JSON.stringify(key)}) but no schema-version marker (key ${JSON.stringify(SCHEMA_KEY)}); it is not opened as a new store`, {
          plugin: PLUGIN, details: { path: this.config.path, key: SCHEMA_KEY, firstKey: key },
          fix: MARKER_FIX,
        });
    }
  }

  #open(): RootDatabase<string, Key> {
    if (!this.#db || (this.#closing && this.#inTransaction === 0)) {
      throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `KV storage ${this.config.path} is not open`, {
        plugin: PLUGIN, fix: 'Call open() (the plugin does it in the boot hook) and do not use the store after close().',
      });
    }
    return this.#db;
  }

  /**
   * Starts reads from the latest commit. lmdb-js keeps one read snapshot until its next timer tick,
   * so without this a read right after another process's (or handle's) commit could miss it.
   */
  #fresh(): void {
    this.#open().resetReadTxn();
  }

  /**
   * Runs `fn` as one child transaction of lmdb-js's next batched write transaction: reads inside see
   * the latest committed state plus the transaction's own writes; a throw rolls back everything `fn`
   * wrote. Resolves once committed — and, unless noSync, flushed to disk.
   */
  async #write<T>(fn: () => T): Promise<T> {
    const db = this.#open();
    try {
      const result = await this.#transaction(db, fn);
      if (!this.config.noSync) await db.flushed;
      return result;
    } catch (error) {
      throw await this.#commitFailed(error);
    }
  }

  /**
   * `fn` as a child transaction of lmdb-js's next batched write transaction, counted in flight until
   * it settles; while `fn` runs the store stays reachable even if close() was called after it was queued.
   */
  #transaction<T>(db: RootDatabase<string, Key>, fn: () => T): Promise<T> {
    const done = db.childTransaction(() => {
      this.#inTransaction++;
      try {
        this.#assertFileInPlace();
        return fn();
      } finally {
        this.#inTransaction--;
      }
    }) as Promise<T>;
    const settled = done.then(() => undefined, () => undefined);
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));
    return done;
  }

  /**
   * Throws LIMIT_STORAGE_UNAVAILABLE (the child transaction is rolled back, nothing written) when
   * data.mdb is no longer at its path: its writes would go into a file no restart finds.
   */
  #assertFileInPlace(): void {
    if (this.#fileChecked) return;
    const file = path.join(this.config.path, 'data.mdb');
    const gone = fileNoLongerAtError('LMDB', file, this.#opened, { plugin: PLUGIN, details: { path: this.config.path } });
    if (gone) throw gone;
    this.#fileChecked = true;
    queueMicrotask(() => {
      this.#fileChecked = false;
    });
  }

  /**
   * A transaction whose commit LMDB could not write (a full disk, a file size limit, a failing
   * device) rejects with lmdb-js's "Commit failed" and the cause in a second promise, `commitError`,
   * which nobody else handles (an unhandled rejection ends the process): it is taken here, and the
   * failure is LIMIT_STORAGE_UNAVAILABLE naming data.mdb and the cause. LMDB aborted the
   * transaction: nothing of the write is stored. Any other error is returned unchanged.
   */
  async #commitFailed(error: unknown): Promise<unknown> {
    const pending = (error as { commitError?: unknown } | undefined)?.commitError;
    if (!(pending instanceof Promise)) return error;
    // The batch's commit promise, which the puts inside the transaction returned, failed too.
    void this.#db?.committed.then(undefined, () => undefined);
    const cause = (await pending.then(() => undefined, (e: unknown) => e)) as (Error & { code?: unknown }) | undefined;
    const file = path.join(this.config.path, 'data.mdb');
    const why = cause ? `${cause.message}${cause.code === undefined ? '' : ` (${String(cause.code)})`}` : (error as Error).message;
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The LMDB store ${file} could not commit a write: ${why}; the transaction was rolled back, nothing of it is stored`, {
      plugin: PLUGIN, cause: cause ?? error, details: { file, path: this.config.path },
      fix: `Check the device of ${this.config.path}: free space (or raise the quota or the file size limit), look for I/O errors (dmesg), then retry.`,
    });
  }

  #json<T>(key: Key): T | undefined {
    const text = this.#open().get(key);
    return text === undefined ? undefined : this.#parse<T>(key, text);
  }

  /**
   * A stored value's JSON. Every value is written as the JSON text of a validated record (an
   * object), so one that does not parse, or parses to something else (`null` would read as a missing
   * record, which a create would then overwrite), was damaged outside this plugin: refused with its
   * key, not a bare SyntaxError.
   */
  #parse<T>(key: Key, text: string): T {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw this.#damaged(key, `its value is not valid JSON: ${(error as Error).message}`, error);
    }
    if (!isStoredRecord(value)) throw this.#damaged(key, `its value ${text.slice(0, 100)} is not a record (a JSON object)`);
    return value as T;
  }

  /** A counter's value: always written as String(finite number), so anything else is damage (never NaN). */
  #counter(key: Key, text: string): number {
    const n = Number(text);
    if (!Number.isFinite(n) || String(n) !== text) throw this.#damaged(key, `its value ${JSON.stringify(text.slice(0, 100))} is not a number`);
    return n;
  }

  #damaged(key: Key, problem: string, cause?: unknown): LimitError {
    const [prefix, tenant, ...rest] = key;
    const what = RECORD_KINDS[prefix as string] ?? 'record';
    return new LimitError('LIMIT_STORAGE_CORRUPT', `The KV store at ${this.config.path} holds a damaged ${what} of tenant "${tenant}" (key ${JSON.stringify(key)}): ${problem}`, {
      plugin: PLUGIN, cause, details: { path: this.config.path, key, tenant, kind: what, id: rest.join('/') },
      fix: 'Restore the store folder from a backup, or delete this key (with lmdb) if the record can be lost.',
    });
  }

  /** Keys (and values) under `prefix`, ascending; `reverse` walks from the top. */
  #range(prefix: Key, options: { reverse?: boolean; limit?: number } = {}) {
    const db = this.#open();
    // Any key with more elements than the prefix sorts after the prefix itself and before prefix+[0xff]:
    // ordered-binary writes each further element after a 0 separator, and no element's encoding starts
    // with byte 0xff (strings are UTF-8, whose bytes stop at 0xf4; numbers, booleans and null start lower).
    // A string bound such as '\uffff' would not do: text at or above U+FFFF (an emoji) sorts after it.
    const low = prefix;
    const high: Key = [...prefix, ABOVE_EVERY_ELEMENT];
    return options.reverse
      ? db.getRange({ start: high, end: low, reverse: true, ...(options.limit ? { limit: options.limit } : {}) })
      : db.getRange({ start: low, end: high, ...(options.limit ? { limit: options.limit } : {}) });
  }

  // ── sessions ─────────────────────────────────────────────────────────────────────────────────

  async createSession(input: Session): Promise<Session> {
    const session = validate.session(input);
    const text = serializeRecord(session, 'session', this.maxRecordBytes);
    this.#open();
    await this.#write(() => this.#putSession(session, text));
    return session;
  }

  #putSession(session: Session, text: string): void {
    const db = this.#open();
    if (db.doesExist(['s', session.tenant, session.id])) throw conflict('session', session.tenant, session.id);
    db.put(['s', session.tenant, session.id], text);
    db.put(['si', session.tenant, msOf(session.createdAt), session.id], session.status);
  }

  async getSession(tenant: string, id: string): Promise<Session | null> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(id, 'session id');
    return this.#json<Session>(['s', tenant, id]) ?? null;
  }

  async listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>> {
    validate.tenant(tenant);
    this.#fresh();
    const q = validate.sessionQuery(query);
    const page = new PageBuilder<Session>(q.limit, q.maxBytes);
    for (const { key, value } of this.#scanByTime(['si', tenant], q.after)) {
      if (q.status !== undefined && value !== q.status) continue;
      const record: Key = ['s', tenant, key[key.length - 1] as string];
      const text = this.#open().get(record);
      if (text === undefined) continue;
      const session = this.#parse<Session>(record, text);
      // The index value may lag a concurrent close by one read; the record decides.
      if (q.status !== undefined && session.status !== q.status) continue;
      const bytes = Buffer.byteLength(text, 'utf8');
      if (!page.takes(bytes)) break;
      page.add(session, bytes);
    }
    return page.page();
  }

  async closeSession(tenant: string, id: string, closedAt: string): Promise<Session> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    const at = validate.timestamp(closedAt, 'closedAt');
    const db = this.#open();
    return this.#write(() => {
      const session = this.#json<Session>(['s', tenant, id]);
      if (!session) throw notFound('session', tenant, id);
      if (session.status === 'closed') return session;
      const closed: Session = { ...session, status: 'closed', closedAt: at };
      db.put(['s', tenant, id], serializeRecord(closed, 'session', this.maxRecordBytes));
      db.put(['si', tenant, msOf(closed.createdAt), id], closed.status);
      return closed;
    });
  }

  // ── traces ───────────────────────────────────────────────────────────────────────────────────

  async createTrace(input: Trace): Promise<Trace> {
    const trace = validate.trace(input);
    const text = JSON.stringify(trace);
    const flagTexts = this.#flagTexts(trace);
    assertContainerSize(text, 'trace', 'flags', trace.flags, 'flag', this.maxRecordBytes, flagTexts);
    this.#open();
    await this.#write(() => this.#putNewTrace(trace, text, flagTexts));
    return trace;
  }

  /** The flags a trace is created with (validate.trace checked that they are its own), size-checked up front. */
  #flagTexts(trace: Trace): string[] {
    return trace.flags.map((f) => serializeRecord(f, 'flag', this.maxRecordBytes));
  }

  #putNewTrace(trace: Trace, text: string, flagTexts: string[]): void {
    const ms = this.#putTraceRecord(trace, text, flagTexts);
    const db = this.#db!;
    // lmdb's typings want the database's value type; a Buffer is stored as its bytes.
    const status = valueBytes(trace.status) as unknown as string;
    db.put(['tc', trace.tenant, ms, trace.id], status);
    db.put(['ts', trace.tenant, trace.sessionId, ms, trace.id], status);
  }

  /** A new trace's record and its flags, without the time and session index entries; returns createdAt in ms. */
  #putTraceRecord(trace: Trace, text: string, flagTexts: string[]): number {
    const db = this.#db!; // called inside #write, which checked
    const { tenant, id } = trace;
    if (trace.flags.length > 0) {
      let bytes = 0;
      for (const t of flagTexts) bytes += Buffer.byteLength(t, 'utf8');
      assertFlagsFit(id, { count: 0, bytes: 0 }, { count: trace.flags.length, bytes }, this.maxRecordBytes);
    }
    // One B-tree descent for the check and the insert: noOverwrite refuses an existing id.
    const inserted = db.putSync(['t', tenant, id], text, NO_OVERWRITE) as unknown as boolean;
    if (!inserted) throw conflict('trace', tenant, id);
    const ms = msOf(trace.createdAt);
    if (trace.flags.length > 0) {
      trace.flags.forEach((flag, i) => this.#putFlagRecord(tenant, flag, flagTexts[i]!));
      for (const kind of new Set(trace.flags.map((f) => f.kind))) db.put(['tf', tenant, kind, ms, id], '');
    }
    return ms;
  }

  /**
   * The time and session index entries of the new traces `ops[from..to)` (createTrace ops whose
   * records are in), one index after the other: successive inserts then land on the same B-tree
   * pages (typically 6 % less insert time than interleaving the three keys of each trace).
   */
  #putTraceIndexes(ops: BatchOp[], ms: Float64Array, from: number, to: number): void {
    const db = this.#db!;
    for (let i = from; i < to; i++) {
      const t = (ops[i] as { trace: Trace }).trace;
      db.put(['tc', t.tenant, ms[i]!, t.id], valueBytes(t.status) as unknown as string);
    }
    for (let i = from; i < to; i++) {
      const t = (ops[i] as { trace: Trace }).trace;
      db.put(['ts', t.tenant, t.sessionId, ms[i]!, t.id], valueBytes(t.status) as unknown as string);
    }
  }

  async updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const p = validate.tracePatch(patch);
    this.#open();
    return this.#write(() => this.#applyUpdate(tenant, id, p));
  }

  #applyUpdate(tenant: string, id: string, patch: TracePatch, ifStatus?: Trace['status'], ifFlagCount?: number): Trace {
    const db = this.#open();
    const trace = this.#json<Trace>(['t', tenant, id]);
    if (!trace) throw notFound('trace', tenant, id);
    const next = applyTracePatch(trace, patch, ifStatus, ifFlagCount);
    const text = JSON.stringify(next);
    assertContainerSize(text, 'trace', 'flags', next.flags, 'flag', this.maxRecordBytes);
    db.put(['t', tenant, id], text);
    if (next.status !== trace.status) {
      const ms = msOf(trace.createdAt);
      db.put(['tc', tenant, ms, id], next.status);
      db.put(['ts', tenant, trace.sessionId, ms, id], next.status);
    }
    return next;
  }

  async getTrace(tenant: string, id: string): Promise<Trace | null> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(id, 'trace id');
    return this.#json<Trace>(['t', tenant, id]) ?? null;
  }

  async listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>> {
    validate.tenant(tenant);
    this.#fresh();
    const q = validate.traceQuery(query);
    // The narrowest index that the query names; the rest is filtered on the way.
    const prefix: Key = q.sessionId !== undefined ? ['ts', tenant, q.sessionId] : q.flagKind !== undefined ? ['tf', tenant, q.flagKind] : ['tc', tenant];
    const statusInIndex = prefix[0] !== 'tf';
    const page = new PageBuilder<Trace>(q.limit, q.maxBytes);
    for (const { key, value } of this.#scanByTime(prefix, q.after, q.fromMs, q.toMs)) {
      if (statusInIndex && q.statuses && !q.statuses.includes(value as Trace['status'])) continue;
      const record: Key = ['t', tenant, key[key.length - 1] as string];
      const text = this.#open().get(record);
      if (text === undefined) continue;
      // A trace is stored with its flags: its size is its value's.
      const bytes = Buffer.byteLength(text, 'utf8');
      const trace = this.#parse<Trace>(record, text);
      if (!matchesTraceQuery(trace, q)) continue;
      if (!page.takes(bytes)) break;
      page.add(trace, bytes);
    }
    return page.page();
  }

  /**
   * Index entries `[...prefix, createdMs, id]` newest first, strictly after the cursor, with
   * createdMs in [fromMs, toMs).
   */
  *#scanByTime(prefix: Key, after?: CursorPosition, fromMs?: number, toMs?: number): Generator<{ key: Key; value: string }> {
    const db = this.#open();
    let start: Key = [...prefix, toMs ?? MAX_TIME];
    // In reverse, `start` is inclusive: [prefix, toMs] itself is never stored, and [prefix, toMs, id] sorts above it.
    if (after && (toMs === undefined || after.t < toMs)) start = [...prefix, after.t, after.id];
    const end: Key = fromMs === undefined ? prefix : [...prefix, fromMs];
    const depth = prefix.length;
    for (const entry of db.getRange({ start, end, reverse: true })) {
      const key = entry.key;
      if (after && key[depth] === after.t && key[depth + 1] === after.id) continue;
      yield { key, value: entry.value };
    }
  }

  // ── provenance ───────────────────────────────────────────────────────────────────────────────

  async appendProvenance(tenant: string, input: ProvenanceInput, options: AppendProvenanceOptions = {}): Promise<ProvenanceEntry> {
    validate.tenant(tenant);
    const parsed = validate.provenanceInput(input);
    const { origin } = validate.appendProvenanceOptions(options);
    // No size check of the input here: the entry is measured once built (with seq and hashes), after
    // the trace is found, so a call gets the same answer and figure as on every other backend.
    this.#open();
    return retryOnConflict(
      () => this.#write(() => this.#applyProvenance(tenant, parsed, origin)),
      { retryable: (e) => e instanceof SeqTaken, what: `Appending provenance to trace "${parsed.traceId}"` },
    );
  }

  /**
   * Inside a write transaction (a single append or a batch op): the head read is the real head, and
   * the chain's totals (seq + 1 entries, and the bytes kept under ['pb', …] for that head) are
   * checked against `origin`'s limits.
   */
  #applyProvenance(tenant: string, parsed: ProvenanceInput, origin: ProvenanceOrigin): ProvenanceEntry {
    const db = this.#open();
    if (!db.doesExist(['t', tenant, parsed.traceId])) throw notFound('trace', tenant, parsed.traceId);
    const head = this.#provenanceHead(tenant, parsed.traceId);
    const entry = nextProvenanceEntry(parsed, head);
    const text = serializeRecord(entry, 'provenance entry', this.maxRecordBytes);
    const bytes = Buffer.byteLength(text, 'utf8');
    const held = head ? { count: head.seq + 1, bytes: this.#chainBytes(tenant, parsed.traceId, head.seq) } : { count: 0, bytes: 0 };
    assertProvenanceFits(parsed.traceId, held, { count: 1, bytes }, this.maxRecordBytes, origin);
    // The write lock already serialises writers; the no-overwrite put is the constraint that
    // would refuse a second entry at the same seq even if it did not.
    // lmdb's typings say void; at run time putSync returns false when noOverwrite finds the key.
    const written = db.putSync(['p', tenant, parsed.traceId, entry.seq], text, NO_OVERWRITE) as unknown as boolean;
    if (!written) throw new SeqTaken(`seq ${entry.seq} taken`);
    db.put(['pb', tenant, parsed.traceId], JSON.stringify({ seq: entry.seq, bytes: held.bytes + bytes }));
    return entry;
  }

  /**
   * UTF-8 bytes of a chain's entries up to `seq`, its head: as kept under ['pb', …] for that head, or
   * — a chain written before this key existed, or changed around it — measured from its entries.
   */
  #chainBytes(tenant: string, traceId: string, seq: number): number {
    const kept = this.#json<{ seq?: unknown; bytes?: unknown }>(['pb', tenant, traceId]);
    if (kept && kept.seq === seq && typeof kept.bytes === 'number') return kept.bytes;
    let bytes = 0;
    for (const { value } of this.#range(['p', tenant, traceId])) bytes += Buffer.byteLength(value as string, 'utf8');
    return bytes;
  }

  #provenanceHead(tenant: string, traceId: string): ProvenanceEntry | undefined {
    for (const { key, value } of this.#open().getRange({ start: ['p', tenant, traceId, MAX_SEQ], end: ['p', tenant, traceId], reverse: true, limit: 1 })) {
      return this.#parse<ProvenanceEntry>(key, value);
    }
    return undefined;
  }

  async listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(traceId, 'trace id');
    return [...this.#range(['p', tenant, traceId])].map(({ key, value }) => this.#parse<ProvenanceEntry>(key, value));
  }

  async verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification> {
    return verifyProvenanceChain(await this.listProvenance(tenant, traceId));
  }

  // ── flags, checkpoints, quarantine ───────────────────────────────────────────────────────────

  async addFlag(tenant: string, input: Flag): Promise<Flag> {
    validate.tenant(tenant);
    const flag = validate.flag(input);
    const text = serializeRecord(flag, 'flag', this.maxRecordBytes);
    this.#open();
    await this.#write(() => this.#applyAddFlag(tenant, flag, text));
    return flag;
  }

  #applyAddFlag(tenant: string, flag: Flag, text: string): void {
    const db = this.#open();
    const trace = this.#json<Trace>(['t', tenant, flag.traceId]);
    if (!trace) throw notFound('trace', tenant, flag.traceId);
    // Read in the write transaction: a concurrent add waits for it, so the limits hold for both.
    const held = { count: trace.flags.length, bytes: trace.flags.length === 0 ? 0 : flagsBytes(trace.flags) };
    assertFlagsFit(flag.traceId, held, { count: 1, bytes: Buffer.byteLength(text, 'utf8') }, this.maxRecordBytes);
    this.#putFlagRecord(tenant, flag, text);
    const hadKind = trace.flags.some((f) => f.kind === flag.kind);
    // The flag alone was size-checked (its `text`); a trace is measured without its flags.
    const next: Trace = { ...trace, flags: [...trace.flags, flag] };
    db.put(['t', tenant, trace.id], JSON.stringify(next));
    if (!hadKind) db.put(['tf', tenant, flag.kind, msOf(trace.createdAt), trace.id], '');
  }

  /** The flag's own record and its indexes; refuses a flag id the tenant already has. */
  #putFlagRecord(tenant: string, flag: Flag, text: string): void {
    const db = this.#open();
    if (db.doesExist(['fid', tenant, flag.id])) throw conflict('flag', tenant, flag.id);
    const n = this.#lastNumber(['f', tenant]) + 1;
    db.put(['f', tenant, n], text);
    db.put(['fid', tenant, flag.id], String(n));
    db.put(['ft', tenant, flag.traceId, n], '');
    db.put(['fk', tenant, flag.kind, n], '');
  }

  /** The largest number under `prefix` (keys `[...prefix, n]`), or 0. */
  #lastNumber(prefix: Key): number {
    for (const { key } of this.#open().getRange({ start: [...prefix, MAX_SEQ], end: prefix, reverse: true, limit: 1 })) {
      return key[prefix.length] as number;
    }
    return 0;
  }

  async listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]> {
    validate.tenant(tenant);
    this.#fresh();
    const q = validate.flagQuery(query);
    const flags: Flag[] = [];
    if (q.traceId === undefined && q.kind === undefined) {
      for (const { key, value } of this.#range(['f', tenant])) flags.push(this.#parse<Flag>(key, value));
      return flags;
    }
    const prefix: Key = q.traceId !== undefined ? ['ft', tenant, q.traceId] : ['fk', tenant, q.kind!];
    for (const { key } of this.#range(prefix)) {
      const flag = this.#json<Flag>(['f', tenant, key[key.length - 1] as number]);
      if (flag && (q.kind === undefined || flag.kind === q.kind)) flags.push(flag);
    }
    return flags;
  }

  async addCheckpoint(tenant: string, input: Checkpoint): Promise<Checkpoint> {
    validate.tenant(tenant);
    const checkpoint = validate.checkpoint(input);
    const text = serializeRecord(checkpoint, 'checkpoint', this.maxRecordBytes);
    this.#open();
    await this.#write(() => this.#applyAddCheckpoint(tenant, checkpoint, text));
    return checkpoint;
  }

  #applyAddCheckpoint(tenant: string, checkpoint: Checkpoint, text: string): void {
    const db = this.#open();
    if (!db.doesExist(['t', tenant, checkpoint.traceId])) throw notFound('trace', tenant, checkpoint.traceId);
    const prefix: Key = ['c', tenant, checkpoint.traceId];
    db.put([...prefix, this.#lastNumber(prefix) + 1], text);
  }

  async listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(traceId, 'trace id');
    return [...this.#range(['c', tenant, traceId])].map(({ key, value }) => this.#parse<Checkpoint>(key, value));
  }

  async setQuarantine(tenant: string, input: QuarantineState): Promise<QuarantineState> {
    validate.tenant(tenant);
    const state = validate.quarantine(input);
    const text = serializeRecord(state, 'quarantine state', this.maxRecordBytes);
    this.#open();
    await this.#write(() => this.#applyQuarantine(tenant, state, text));
    return state;
  }

  #applyQuarantine(tenant: string, state: QuarantineState, text: string): void {
    const db = this.#open();
    if (!db.doesExist(['t', tenant, state.traceId])) throw notFound('trace', tenant, state.traceId);
    db.put(['q', tenant, state.traceId], text);
  }

  async getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(traceId, 'trace id');
    return this.#json<QuarantineState>(['q', tenant, traceId]) ?? null;
  }

  async listQuarantined(tenant: string): Promise<QuarantineState[]> {
    validate.tenant(tenant);
    this.#fresh();
    // Key order is trace id order (ids are ASCII), the order of every backend.
    return [...this.#range(['q', tenant])].map(({ key, value }) => this.#parse<QuarantineState>(key, value)).filter((q) => q.quarantined);
  }

  // ── rate–distortion ──────────────────────────────────────────────────────────────────────────

  async createRdSeries(input: RdSeries): Promise<RdSeries> {
    const series = validate.rdSeries(input);
    const text = JSON.stringify(series);
    assertContainerSize(text, 'RD series', 'points', series.points, 'RD point', this.maxRecordBytes);
    assertRdPointsFit(series.id, { count: 0, bytes: 0 }, { count: series.points.length, bytes: rdPointsBytes(series.points) }, this.maxRecordBytes);
    const db = this.#open();
    await this.#write(() => {
      if (db.doesExist(['rd', series.tenant, series.id])) throw conflict('RD series', series.tenant, series.id);
      db.put(['rd', series.tenant, series.id], text);
      db.put(['rds', series.tenant, series.sessionId, series.id], '');
    });
    return series;
  }

  async appendRdPoint(tenant: string, seriesId: string, input: RdPointInput): Promise<RdPointAppended> {
    validate.tenant(tenant);
    assertId(seriesId, 'RD series id');
    const valid = validate.rdPointInput(input);
    const db = this.#open();
    return this.#write(() => {
      // The series is one value, rewritten whole: its size is bounded by the series limits.
      const series = this.#json<RdSeries>(['rd', tenant, seriesId]);
      if (!series) throw notFound('RD series', tenant, seriesId);
      // A point without a step gets the next one, read under the same lock as the append.
      const point = withRdStep(seriesId, valid, nextRdStep(series.points));
      // The point alone is size-checked; a series is measured without its points.
      const bytes = Buffer.byteLength(serializeRecord(point, 'RD point', this.maxRecordBytes), 'utf8');
      const held = { count: series.points.length, bytes: rdPointsBytes(series.points) };
      assertRdPointsFit(seriesId, held, { count: 1, bytes }, this.maxRecordBytes);
      const next: RdSeries = { ...series, points: [...series.points, point] };
      db.put(['rd', tenant, seriesId], JSON.stringify(next));
      return { seriesId, point, pointCount: held.count + 1, pointBytes: held.bytes + bytes };
    });
  }

  async getRdSeriesSummary(tenant: string, id: string): Promise<RdSeriesSummary | null> {
    const series = await this.getRdSeries(tenant, id);
    return series ? rdSeriesSummary(series) : null;
  }

  async getRdSeries(tenant: string, id: string): Promise<RdSeries | null> {
    validate.tenant(tenant);
    this.#fresh();
    assertId(id, 'RD series id');
    return this.#rdSeries(this.#json<RdSeries>(['rd', tenant, id])) ?? null;
  }

  /** A stored series with its points' keys in order (points appended before withRdStep put `step` first). */
  #rdSeries(series: RdSeries | undefined): RdSeries | undefined {
    return series && { ...series, points: series.points.map(rdPointInOrder) };
  }

  async listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]> {
    validate.tenant(tenant);
    this.#fresh();
    let series: RdSeries[];
    if (query?.sessionId !== undefined) {
      const sessionId = assertId(query.sessionId, 'session id');
      series = [...this.#range(['rds', tenant, sessionId])]
        .map(({ key }) => this.#rdSeries(this.#json<RdSeries>(['rd', tenant, key[key.length - 1] as string])))
        .filter((s): s is RdSeries => s !== undefined);
    } else {
      series = [...this.#range(['rd', tenant])].map(({ key, value }) => this.#rdSeries(this.#parse<RdSeries>(key, value))!);
    }
    // The contract's order: oldest first by the instant of createdAt, then id.
    return series.sort((a, b) => timeKey(a.createdAt) - timeKey(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ── counters ─────────────────────────────────────────────────────────────────────────────────

  async incrementCounters(tenant: string, deltas: Counters): Promise<void> {
    validate.tenant(tenant);
    // validate.counters refuses names with a NUL (LMDB's ordered keys use it as the array delimiter).
    const d = validate.counters(deltas);
    this.#open();
    await this.#write(() => this.#applyCounters(tenant, d));
  }

  #applyCounters(tenant: string, deltas: Counters): void {
    const db = this.#open();
    for (const [name, delta] of Object.entries(deltas)) {
      const key: Key = ['n', tenant, name];
      const text = db.get(key);
      const next = addCounter(name, text === undefined ? 0 : this.#counter(key, text), delta);
      db.put(key, String(next));
    }
  }

  async getCounters(tenant: string): Promise<Counters> {
    validate.tenant(tenant);
    this.#fresh();
    const counters: Counters = {};
    for (const { key, value } of this.#range(['n', tenant])) counters[key[2] as string] = this.#counter(key, value);
    return counters;
  }

  // ── batch ────────────────────────────────────────────────────────────────────────────────────

  async batch(tenant: string, ops: BatchOp[]): Promise<void> {
    if (!Array.isArray(ops) || ops.length === 0) {
      validate.batch(tenant, ops); // refuses a bad tenant or a non-array
      return;
    }
    const db = this.#open();
    // Validation and serialisation run while lmdb-js's writer thread starts the transaction instead
    // of before queuing it: the transaction is queued first, this thread yields one turn (lmdb kicks
    // its writer on setImmediate), then prepares. The callback prepares too if it runs first, and a
    // preparation that threw rethrows inside it, so a bad op still writes nothing.
    let prepared: PreparedBatch | undefined;
    let failure: { error: unknown } | undefined;
    const prepare = (): PreparedBatch => {
      if (failure) throw failure.error;
      if (prepared) return prepared;
      try {
        return (prepared = this.#prepareBatch(tenant, ops));
      } catch (error) {
        failure = { error };
        throw error;
      }
    };
    const done = this.#transaction(db, () => this.#applyBatch(tenant, prepare()));
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      prepare();
    } catch {
      // Reported by `done`: the callback rethrows it and the child transaction is rolled back.
    }
    try {
      await done;
      if (!this.config.noSync) await db.flushed;
    } catch (error) {
      throw await this.#commitFailed(error);
    }
  }

  /**
   * Validates every op and serialises (and size-checks) every record: nothing is written if one is
   * invalid or too large. One plain loop and shared empty values: this runs for every row of bulk inserts.
   */
  #prepareBatch(tenant: string, ops: BatchOp[]): PreparedBatch {
    const valid = validate.batch(tenant, ops);
    const n = valid.length;
    const texts = new Array<string>(n);
    const flagTexts = new Array<string[]>(n);
    const deltas = new Array<Counters>(n);
    const none: string[] = [];
    const max = this.maxRecordBytes;
    for (let i = 0; i < n; i++) {
      const op = valid[i]!;
      flagTexts[i] = none;
      try {
        switch (op.op) {
          case 'createTrace':
            texts[i] = JSON.stringify(op.trace);
            if (op.trace.flags.length > 0) flagTexts[i] = this.#flagTexts(op.trace);
            assertContainerSize(texts[i]!, 'trace', 'flags', op.trace.flags, 'flag', max, flagTexts[i]);
            break;
          case 'createSession': texts[i] = serializeRecord(op.session, 'session', max); break;
          case 'addFlag': texts[i] = serializeRecord(op.flag, 'flag', max); break;
          case 'addCheckpoint': texts[i] = serializeRecord(op.checkpoint, 'checkpoint', max); break;
          case 'setQuarantine': texts[i] = serializeRecord(op.state, 'quarantine state', max); break;
          case 'incrementCounters': deltas[i] = op.deltas; break;
          // The entry adds seq and hashes: it is measured when it is built, in the transaction, after its trace is found.
          default: break;
        }
      } catch (error) {
        throw atBatchOp(error, `batch op ${i} (${op.op})`, i);
      }
    }
    return { valid, texts, flagTexts, deltas };
  }

  #applyBatch(tenant: string, { valid, texts, flagTexts, deltas }: PreparedBatch): void {
    // A run of createTrace ops puts its records first and its index entries when the run ends,
    // before any other op: later ops (a status update rewriting the index) see them in place.
    const ms = new Float64Array(valid.length);
    let run = -1;
    for (let i = 0; i < valid.length; i++) {
      const op = valid[i]!;
      if (op.op !== 'createTrace' && run >= 0) {
        this.#putTraceIndexes(valid, ms, run, i);
        run = -1;
      }
      try {
        switch (op.op) {
          case 'createTrace':
            ms[i] = this.#putTraceRecord(op.trace, texts[i]!, flagTexts[i]!);
            if (run < 0) run = i;
            break;
          case 'createSession': this.#putSession(op.session, texts[i]!); break;
          case 'updateTrace': this.#applyUpdate(tenant, op.id, op.patch, op.ifStatus, op.ifFlagCount); break;
          case 'addFlag': this.#applyAddFlag(tenant, op.flag, texts[i]!); break;
          case 'addCheckpoint': this.#applyAddCheckpoint(tenant, op.checkpoint, texts[i]!); break;
          case 'setQuarantine': this.#applyQuarantine(tenant, op.state, texts[i]!); break;
          case 'incrementCounters': this.#applyCounters(tenant, deltas[i]!); break;
          case 'appendProvenance': this.#applyProvenance(tenant, op.input, op.origin ?? 'system'); break;
        }
      } catch (error) {
        throw atBatchOp(error, `batch op ${i} (${op.op})`, i);
      }
    }
    if (run >= 0) this.#putTraceIndexes(valid, ms, run, valid.length);
  }
}

/** A batch's validated ops and their records' JSON texts (by op index). */
interface PreparedBatch {
  valid: BatchOp[];
  texts: string[];
  flagTexts: string[][];
  deltas: Counters[];
}
