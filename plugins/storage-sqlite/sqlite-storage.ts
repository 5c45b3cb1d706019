/**
 * The Storage contract on one SQLite file (better-sqlite3): WAL, prepared statements, IMMEDIATE
 * transactions so that several processes can share the file safely.
 *
 * Writes are group-committed: every write requested during one turn of the event loop joins one
 * IMMEDIATE transaction, run in the loop's check phase (setImmediate), each write in its own
 * savepoint. A write that fails rolls back alone and rejects alone; the others commit together
 * (unless SQLite rolled the whole transaction back: then every write of the group is rejected),
 * and every promise settles only after COMMIT returned, so an acknowledged write is as durable as
 * with one transaction per write. Under concurrency (an HTTP server, parallel pipelines) the cost
 * of a commit — WAL frames for the same index pages, the lock round trip — is paid once per group
 * instead of once per write.
 */
import { chmodSync, closeSync, constants as fsc, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  LimitError, applyTracePatch, atBatchOp, counterNotFinite, assertFlagsFit, assertProvenanceFits, assertId, assertRdPointsFit, assertRecordSize, conflict, nextRdStep, nextProvenanceEntry, notFound, rdPointInOrder, withRdStep, PageBuilder, retryOnConflict,
  schemaTooNew, serializeRecord, sumCounters, timeKey, validate, verifyProvenanceChain,
  type BatchOp, type ChainVerification, type Checkpoint, type Counters, type Flag, type FlagKind, type HealthResult, type Page,
  type AppendProvenanceOptions, type ProvenanceEntry, type ProvenanceInput, type ProvenanceOrigin, type QuarantineState, type RdPoint, type RdPointAppended, type RdPointInput, type RdSeries, type RdSeriesSummary, type Session, type SessionQuery,
  type Storage, type StorageSupports, type Trace, type TracePatch, type TraceQuery,
  fileInPlaceOfFolder, fileIdentity, fileNoLongerAt, fileNoLongerAtError, type FileIdentity,
  damagedRow, storedRecordProblem,
} from 'limit-graph';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';

type Db = Database.Database;
type Statement = Database.Statement;

export interface SqliteStorageConfig {
  /** File path or `:memory:`. */
  file: string;
  synchronous: 'normal' | 'full';
  busyTimeoutMs: number;
  maxRecordBytes: number;
}

const PLUGIN = 'storage-sqlite';

function sqliteCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}

const isUniqueViolation = (e: unknown) => sqliteCode(e) === 'SQLITE_CONSTRAINT_PRIMARYKEY' || sqliteCode(e) === 'SQLITE_CONSTRAINT_UNIQUE';
/** SQLITE_CORRUPT (and its extended codes) or SQLITE_NOTADB: the file is damaged, or not a database. */
const isCorrupt = (e: unknown) => /^SQLITE_(CORRUPT|NOTADB)/.test(sqliteCode(e) ?? '');
/** The lock stayed taken for busyTimeoutMs (SQLite's busy handler waited that long before giving up). */
const isBusy = (e: unknown) => sqliteCode(e)?.startsWith('SQLITE_BUSY') === true;

/** LIMIT_STORAGE_CORRUPT naming the file; `refused`: a later write, refused because damage was seen. */
function corruptError(file: string, cause: unknown, refused = false): LimitError {
  const code = sqliteCode(cause);
  const what = code === 'SQLITE_NOTADB' ? 'is not a SQLite database, or its header is damaged' : 'is damaged';
  const why = `${(cause as Error).message}, ${code}`;
  return new LimitError(
    'LIMIT_STORAGE_CORRUPT',
    refused ? `SQLite database ${file} ${what} (${why}): this write was refused, nothing more is written to the file` : `SQLite database ${file} ${what} (${why})`,
    {
      plugin: PLUGIN,
      cause,
      details: { file, code },
      fix: `Stop every process using it, then restore ${file} from a backup, or salvage what is readable with \`sqlite3 ${file} .recover | sqlite3 recovered.db\`, check it (PRAGMA integrity_check) and put it in its place; if the path is wrong, point storage-sqlite at the right file.`,
    },
  );
}

/**
 * A write the file system refused — a full disk or a file size limit (SQLITE_FULL), a read-only
 * file, folder or mount (SQLITE_READONLY*), a failed read or write (SQLITE_IOERR*) — as
 * LIMIT_STORAGE_UNAVAILABLE naming the file, its folder and the code; undefined for other errors.
 * The statement's transaction was rolled back: nothing of the write is stored.
 */
function fileRefused(file: string, cause: unknown): LimitError | undefined {
  const code = sqliteCode(cause) ?? '';
  const dir = path.dirname(path.resolve(file));
  const [why, fix] = code === 'SQLITE_FULL'
    ? [`no space is left on the device of ${dir}, or the file reached a size limit`, `Free space on that device (or raise the quota or the file size limit), or move the database (path, DATABASE_URL=sqlite://<path>).`]
    : code.startsWith('SQLITE_READONLY')
      ? [`the file, its folder ${dir} or its file system is read-only to this process`, `Give the server's user write permission on ${file}, its -wal and -shm files and ${dir} (chown, chmod u+w), or remount the file system read-write.`]
      : code.startsWith('SQLITE_IOERR')
        ? [`the file system failed a read or write in ${dir}`, `Check the device and the file system of ${dir} (dmesg, free space, quotas), then retry.`]
        : [];
  if (why === undefined) return undefined;
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `SQLite database ${file} cannot be written: ${why} (${(cause as Error).message}, ${code}); the write was rolled back`, {
    plugin: PLUGIN, cause, details: { file, path: dir, code }, fix,
  });
}

/** The driver's error under the LimitErrors wrapping it (a batch op's names the op: atBatchOp). */
function driverError(error: unknown): unknown {
  let e = error;
  while (e instanceof LimitError && e.cause !== undefined) e = e.cause;
  return e;
}

/** Statements as this store runs them: driver errors about the file come out as LimitErrors. */
class GuardedStatement {
  constructor(
    readonly statement: Statement,
    readonly fault: (error: unknown) => unknown,
  ) {}

  get(...params: unknown[]): unknown {
    try {
      return this.statement.get(...params);
    } catch (error) {
      throw this.fault(error);
    }
  }

  all(...params: unknown[]): unknown[] {
    try {
      return this.statement.all(...params);
    } catch (error) {
      throw this.fault(error);
    }
  }

  run(...params: unknown[]): Database.RunResult {
    try {
      return this.statement.run(...params);
    } catch (error) {
      throw this.fault(error);
    }
  }

  /** Rows one at a time, so that a reader can stop early (a page that reached its byte budget). */
  *iterate(...params: unknown[]): Generator<unknown, void, undefined> {
    let rows: IterableIterator<unknown>;
    try {
      rows = this.statement.iterate(...params);
    } catch (error) {
      throw this.fault(error);
    }
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = rows.next();
        } catch (error) {
          throw this.fault(error);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      rows.return?.();
    }
  }
}

/**
 * The trace's JSON without its flags (they live in their own column and table). `trace` is always
 * this store's own validated copy, so the flags are left out by blanking them for the call (JSON
 * skips undefined) rather than by copying every trace of a bulk insert.
 */
function traceData(trace: Trace): string {
  const flags = trace.flags;
  (trace as { flags: Flag[] | undefined }).flags = undefined;
  try {
    return JSON.stringify(trace);
  } finally {
    trace.flags = flags;
  }
}

export class SqliteStorage implements Storage {
  readonly backend = 'sqlite';
  readonly supports: StorageSupports = { multiProcess: true, crashSafe: true, transactions: true };
  readonly maxRecordBytes: number;
  #db: Db | undefined;
  /** `fn => fn()` wrapped once: better-sqlite3 builds four wrappers per transaction() call. */
  #tx: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown } | undefined;
  #stmts = new Map<string, GuardedStatement>();
  /** The first damage seen (SQLITE_CORRUPT / NOTADB): from then on no write goes into the file. */
  #damaged: LimitError | undefined;
  /**
   * The database file opened (none in memory): once the path no longer names it, every group commit
   * is refused and health() fails (fileNoLongerAtError).
   */
  #opened: FileIdentity | undefined;
  /** Writes waiting for the next group commit, in the order they were requested. */
  #pending: PendingWrite[] = [];

  constructor(readonly config: SqliteStorageConfig) {
    this.maxRecordBytes = config.maxRecordBytes;
  }

  get file(): string {
    return this.config.file;
  }

  async open(): Promise<void> {
    /** Puts back the modes restrictDatabaseFiles changed, when this open() refuses the file. */
    let restoreModes: (() => void) | undefined;
    if (!this.#db) {
      const { file } = this.config;
      if (file !== ':memory:') {
        const dir = path.dirname(path.resolve(file));
        try {
          mkdirSync(dir, { recursive: true });
        } catch (error) {
          throw fileInPlaceOfFolder(error, dir, { plugin: PLUGIN, what: `SQLite database ${file}`, setting: SQLITE_PATH_SETTING }) ?? folderError(dir, file, error);
        }
        try {
          restoreModes = restrictDatabaseFiles(file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EISDIR') {
            throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `SQLite database ${file} cannot be opened: it is a folder, not a file`, {
              plugin: PLUGIN, cause: error, details: { path: file, code: 'EISDIR' },
              fix: `Name a file for the database (${SQLITE_PATH_SETTING}), e.g. ${path.join(file, 'limit.db')}.`,
            });
          }
          throw accessError(file, error) ?? new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot restrict SQLite database ${file} to mode 0600: ${(error as Error).message}`, {
            plugin: PLUGIN, cause: error, details: { file, ...((error as NodeJS.ErrnoException).code ? { code: (error as NodeJS.ErrnoException).code } : {}) },
          });
        }
      }
      let db: Db;
      try {
        db = new Database(file, { timeout: this.config.busyTimeoutMs });
      } catch (error) {
        restoreModes?.();
        throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot open SQLite database ${file}: ${(error as Error).message}`, { plugin: PLUGIN, cause: error });
      }
      try {
        db.pragma(`busy_timeout = ${this.config.busyTimeoutMs}`);
        if (file !== ':memory:') db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${this.config.synchronous.toUpperCase()}`);
        db.pragma('foreign_keys = OFF');
      } catch (error) {
        db.close();
        // A file refused here (not a database, damaged, locked) keeps the mode it had.
        restoreModes?.();
        // Switching to WAL needs the file to itself: a connection holding it locked past busyTimeoutMs
        // (a rollback-journal writer) is reported as for a write, so are a damaged or refused file.
        const fault = this.#fault(error);
        if (fault instanceof LimitError) throw fault;
        throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot configure SQLite database ${file}: ${(error as Error).message}`, { plugin: PLUGIN, cause: error });
      }
      this.#db = db;
      this.#opened = file === ':memory:' ? undefined : fileIdentity(file);
      this.#tx = db.transaction((fn: () => unknown) => fn());
      this.#stmts.clear();
      this.#damaged = undefined;
    }
    try {
      this.#migrate();
    } catch (error) {
      // A store this code must not write (a newer schema, a failed migration) stays closed, and a
      // file this call opened keeps the mode it had.
      restoreModes?.();
      this.#db?.close();
      this.#db = undefined;
      this.#tx = undefined;
      this.#stmts.clear();
      throw error;
    }
  }

  /**
   * Applies pending migrations under the write lock, so concurrent openers apply each exactly once.
   * A file recording a version newer than the last migration here is refused, untouched.
   */
  #migrate(): void {
    const db = this.#db!;
    // The migration being applied and the version the file had before, for the error if one fails.
    let current: (typeof MIGRATIONS)[number] | undefined;
    let before = 0;
    const run = db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
      const newest = Math.max(0, ...applied);
      before = newest;
      if (newest > SCHEMA_VERSION) throw schemaTooNew(`The SQLite database ${this.config.file}`, newest, SCHEMA_VERSION, PLUGIN);
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        current = m;
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      }
      current = undefined;
    });
    try {
      run.immediate();
    } catch (error) {
      if (error instanceof LimitError) throw error;
      const fault = this.#fault(error);
      if (fault instanceof LimitError) throw fault;
      // The transaction rolled back: every pending migration is undone, the file keeps its version.
      const which = current ? `migration ${current.version} ("${current.name}")` : 'migration';
      throw new LimitError('LIMIT_STORAGE_MIGRATION_FAILED',
        `SQLite ${which} of ${this.config.file} failed: ${(error as Error).message}; the database was left at schema version ${before}`, {
          plugin: PLUGIN, cause: error,
          details: { file: this.config.file, ...(current ? { migration: current.version, migrationName: current.name } : {}), schemaVersion: before },
        });
    }
  }

  async close(): Promise<void> {
    // Writes already requested are committed, not dropped.
    this.#flush();
    const db = this.#db;
    this.#db = undefined;
    this.#tx = undefined;
    this.#stmts.clear();
    db?.close();
  }

  get #conn(): Db {
    if (!this.#db) throw this.#notOpen();
    return this.#db;
  }

  #notOpen(): LimitError {
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `SQLite storage ${this.config.file} is not open`, { plugin: PLUGIN, fix: 'Call open() (the plugin does it in the boot hook) and do not use the store after close().' });
  }

  /** Prepared statements are cached by SQL text; dynamic list queries have a handful of shapes. */
  #q(sql: string): GuardedStatement {
    let s = this.#stmts.get(sql);
    if (!s) {
      const db = this.#conn;
      try {
        s = new GuardedStatement(db.prepare(sql), this.#fault);
      } catch (error) {
        throw this.#fault(error);
      }
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Driver errors that are about the file, as LimitErrors naming it: damage (remembered: no write
   * goes into the file after it) and a lock held past busyTimeoutMs. Everything else unchanged.
   */
  #fault = (error: unknown): unknown => {
    const { file, busyTimeoutMs } = this.config;
    if (isCorrupt(error)) {
      const limit = corruptError(file, error);
      this.#damaged ??= limit;
      return limit;
    }
    if (isBusy(error)) {
      return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `SQLite database ${file} stayed locked by another connection for busyTimeoutMs (${busyTimeoutMs} ms): ${(error as Error).message} (${sqliteCode(error)})`, {
        plugin: PLUGIN,
        cause: error,
        details: { file, busyTimeoutMs },
        fix: `Raise storage-sqlite's busyTimeoutMs, or find the process holding a long write transaction on ${file} (a long import, a sqlite3 shell with an open transaction, a backup or VACUUM) and end it.`,
      });
    }
    const refused = fileRefused(file, error);
    if (refused) return refused;
    return error;
  };

  /**
   * Queues `fn` for the next group commit and settles with its result once that commit returned.
   * The group runs in an IMMEDIATE transaction (the write lock is taken up front: no lock-upgrade
   * deadlocks between processes), `fn` in a savepoint of its own.
   */
  #write<T>(fn: () => T): Promise<T> {
    if (!this.#tx) return Promise.reject(this.#notOpen());
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.push({ fn, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(this.#flush);
    });
  }

  /** Commits the queued writes as one transaction; see the class comment. */
  #flush = (): void => {
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    const tx = this.#tx;
    if (!tx) {
      for (const w of group) w.reject(this.#notOpen());
      return;
    }
    if (this.#damaged) {
      for (const w of group) w.reject(this.#refused());
      return;
    }
    const db = this.#db!;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      tx.immediate(() => {
        for (const w of group) {
          try {
            // A transaction function called inside a transaction runs in a SAVEPOINT, rolled back if it throws.
            outcomes.push({ ok: true, value: tx(w.fn) });
          } catch (error) {
            // Some errors make SQLite roll back the whole transaction, not just the statement (a full
            // disk or an I/O error met spilling the cache, SQLITE_FULL of a statement without a
            // statement journal, NOMEM): the writes before this one are gone, and the next ones
            // would each run in autocommit, outside the group's lock and checks. The group stops
            // here and every write of it is rejected with this error; nothing of it is stored.
            if (!db.inTransaction) {
              // This write keeps its own error (a batch's names the op); the others get the driver's, mapped.
              const own = this.#fault(error);
              const group = this.#rolledBack(driverError(error));
              outcomes.push({ ok: false, value: own instanceof LimitError ? own : group });
              throw group;
            }
            outcomes.push({ ok: false, value: this.#fault(error) });
            // Nothing more goes into a damaged file: the whole group rolls back (SQLite's COMMIT
            // usually fails after damage anyway; this does not depend on it).
            if (this.#damaged) throw this.#damaged;
          }
        }
        // Once per group, just before COMMIT (one stat): a file no longer at its path takes the
        // group with it — rolled back, nothing written into a file no restart finds.
        const gone = this.#fileGone();
        if (gone) throw gone;
      });
    } catch (error) {
      // BEGIN or COMMIT failed, SQLite rolled the transaction back, the file is damaged or no longer
      // at its path: nothing of the group is stored. A write that failed on its own keeps its error;
      // the others get the group's.
      const fault = this.#fault(error);
      group.forEach((w, i) => {
        const own = outcomes[i];
        w.reject(own && !own.ok ? own.value : this.#damaged ? this.#refused() : fault);
      });
      return;
    }
    group.forEach((w, i) => (outcomes[i]!.ok ? w.resolve(outcomes[i]!.value) : w.reject(outcomes[i]!.value)));
  };

  /**
   * The error after which SQLite rolled back a group's whole transaction, as a LimitError: #fault's
   * (SQLITE_FULL, IOERR: the file refused; damage) or, for any other error, LIMIT_STORAGE_UNAVAILABLE
   * saying that the group's writes were rolled back.
   */
  #rolledBack(error: unknown): LimitError {
    const fault = this.#fault(error);
    if (fault instanceof LimitError) return fault;
    const { file } = this.config;
    const code = sqliteCode(error);
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE',
      `SQLite rolled back the transaction on ${file} (${(error as Error).message}${code ? `, ${code}` : ''}): this write and the others of its group commit were not stored`, {
        plugin: PLUGIN, cause: error, details: { file, ...(code ? { code } : {}) },
        fix: 'Retry the write; if it keeps failing, check the memory and the file system of the process (dmesg, free space).',
      });
  }

  /**
   * A stored record's JSON, from the `column` (default `data`) of the row of `table` whose key is
   * `key` (column → value, the tenant first). Text that does not parse, or that is not a record (a
   * JSON object; for `array`, an array of them) — damage SQLite's page checks cannot see, or a row
   * edited by hand — is LIMIT_STORAGE_CORRUPT naming the file, the kind of record, the table and the
   * row, not a raw SyntaxError or TypeError, nor a record that reads as missing (`null`).
   */
  #json<T>(text: string, what: string, table: string, key: RowKey, options: { column?: string; array?: boolean } = {}): T {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw this.#corruptRow(what, table, key, options.column, `is not valid JSON (${(error as Error).message})`, error);
    }
    const problem = storedRecordProblem(value, options.array);
    if (problem) throw this.#corruptRow(what, table, key, options.column, problem);
    return value as T;
  }

  #corruptRow(what: string, table: string, key: RowKey, column = 'data', problem: string, cause?: unknown): LimitError {
    const { file } = this.config;
    const { named, id, select } = damagedRow(table, column, key);
    return new LimitError('LIMIT_STORAGE_CORRUPT', `SQLite database ${file} holds a ${what} record that ${problem} (table ${table}, ${named})`, {
      plugin: PLUGIN,
      ...(cause === undefined ? {} : { cause }),
      details: { file, record: what, table, column, tenant: key.tenant, id, row: key },
      fix: `Restore ${file} from a backup, or correct or delete that row (\`${select}\`); the other records stay readable.`,
    });
  }

  #trace(row: { id: string; data: string; flags: string }, tenant: string): Trace {
    const key = { tenant, id: row.id };
    const trace = this.#json<Trace>(row.data, 'trace', 'traces', key);
    trace.flags = this.#json<Flag[]>(row.flags, 'trace\'s flags', 'traces', key, { column: 'flags', array: true });
    return trace;
  }

  /** LIMIT_STORAGE_UNAVAILABLE when the database file opened is no longer at its path (never in memory). */
  #fileGone(): LimitError | undefined {
    const { file } = this.config;
    return fileNoLongerAtError('SQLite database', file, this.#opened, { plugin: PLUGIN, details: { file } });
  }

  /** A write refused because the file was found damaged. */
  #refused(): LimitError {
    return corruptError(this.config.file, this.#damaged!.cause, true);
  }

  async health(): Promise<HealthResult> {
    if (this.#damaged) {
      const message = this.#damaged.message;
      return { status: 'fail', message, checks: [{ name: 'integrity', status: 'fail', message }] };
    }
    try {
      // Writes are refused (see #flush); reads go on from the open file.
      const gone = fileNoLongerAt('SQLite database', this.config.file, this.#opened, { plugin: PLUGIN, details: { file: this.config.file } });
      if (gone) return gone;
      const version = await this.schemaVersion();
      const mode = this.#conn.pragma('journal_mode', { simple: true }) as string;
      return {
        status: 'ok',
        message: `SQLite ${this.config.file} (schema v${version}, ${mode})`,
        checks: [{ name: 'query', status: 'ok' }],
        details: { file: this.config.file, schemaVersion: version, journalMode: mode, synchronous: this.config.synchronous },
      };
    } catch (error) {
      const message = (this.#fault(error) as Error).message;
      return { status: 'fail', message, checks: [{ name: 'query', status: 'fail', message }] };
    }
  }

  async schemaVersion(): Promise<number> {
    const row = this.#q('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  // sessions ---------------------------------------------------------------------------------------

  async createSession(input: Session): Promise<Session> {
    const session = validate.session(input);
    await this.#write(() => this.#insertSession(session));
    return session;
  }

  #insertSession(session: Session): void {
    const data = serializeRecord(session, 'session', this.maxRecordBytes);
    try {
      this.#q('INSERT INTO sessions (tenant, id, status, created_ms, data) VALUES (?, ?, ?, ?, ?)').run(session.tenant, session.id, session.status, timeKey(session.createdAt), data);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('session', session.tenant, session.id);
      throw error;
    }
  }

  async getSession(tenant: string, id: string): Promise<Session | null> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    const row = this.#q('SELECT data FROM sessions WHERE tenant = ? AND id = ?').get(tenant, id) as { data: string } | undefined;
    return row ? this.#json<Session>(row.data, 'session', 'sessions', { tenant, id }) : null;
  }

  async listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>> {
    validate.tenant(tenant);
    const q = validate.sessionQuery(query);
    const where = ['tenant = ?'];
    const params: unknown[] = [tenant];
    if (q.status) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.after) {
      where.push('(created_ms, id) < (?, ?)');
      params.push(q.after.t, q.after.id);
    }
    const sql = `SELECT id, data, octet_length(data) AS bytes FROM sessions WHERE ${where.join(' AND ')} ORDER BY created_ms DESC, id DESC LIMIT ?`;
    return this.#page(sql, [...params, q.limit + 1], q, (r: { id: string; data: string }) => this.#json<Session>(r.data, 'session', 'sessions', { tenant, id: r.id }));
  }

  /**
   * A page of the rows `sql` lists (each with its `bytes`, read by octet_length from the row header,
   * not the text), read one row at a time and parsed only when the page takes it: it ends at
   * `limit` rows or `maxBytes` bytes (PageBuilder), so the rows after that are never read.
   */
  #page<R, T extends { createdAt: string; id: string }>(sql: string, params: unknown[], q: { limit: number; maxBytes: number }, read: (row: R) => T): Page<T> {
    const page = new PageBuilder<T>(q.limit, q.maxBytes);
    for (const row of this.#q(sql).iterate(...params) as Iterable<R & { bytes: number }>) {
      if (!page.takes(row.bytes)) break;
      page.add(read(row), row.bytes);
    }
    return page.page();
  }

  async closeSession(tenant: string, id: string, closedAt: string): Promise<Session> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    validate.timestamp(closedAt, 'closedAt');
    return this.#write(() => {
      const row = this.#q('SELECT data FROM sessions WHERE tenant = ? AND id = ?').get(tenant, id) as { data: string } | undefined;
      if (!row) throw notFound('session', tenant, id);
      const session = this.#json<Session>(row.data, 'session', 'sessions', { tenant, id });
      if (session.status === 'closed') return session;
      const closed: Session = { ...session, status: 'closed', closedAt };
      this.#q('UPDATE sessions SET status = ?, data = ? WHERE tenant = ? AND id = ?').run('closed', serializeRecord(closed, 'session', this.maxRecordBytes), tenant, id);
      return closed;
    });
  }

  // traces -----------------------------------------------------------------------------------------

  async createTrace(input: Trace): Promise<Trace> {
    const trace = validate.trace(input);
    await this.#write(() => this.#insertTrace(trace));
    return trace;
  }

  #insertTrace(trace: Trace): void {
    const data = traceData(trace);
    assertRecordSize(data, 'trace', this.maxRecordBytes);
    const flags = trace.flags.length ? JSON.stringify(trace.flags) : '[]';
    const flagTexts = trace.flags.map((f) => serializeRecord(f, 'flag', this.maxRecordBytes));
    let flagBytes = 0;
    for (const t of flagTexts) flagBytes += Buffer.byteLength(t, 'utf8');
    assertFlagsFit(trace.id, { count: 0, bytes: 0 }, { count: flagTexts.length, bytes: flagBytes }, this.maxRecordBytes);
    try {
      this.#q('INSERT INTO traces (tenant, id, session_id, status, created_ms, data, flags, flag_count, flag_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        trace.tenant, trace.id, trace.sessionId, trace.status, timeKey(trace.createdAt), data, flags, flagTexts.length, flagBytes,
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('trace', trace.tenant, trace.id);
      throw error;
    }
    trace.flags.forEach((flag, i) => this.#insertFlagRow(trace.tenant, flag, flagTexts[i]!));
  }

  async updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const valid = validate.tracePatch(patch);
    return this.#write(() => this.#updateTrace(tenant, id, valid));
  }

  #updateTrace(tenant: string, id: string, patch: TracePatch, ifStatus?: Trace['status'], ifFlagCount?: number): Trace {
    const row = this.#q('SELECT id, data, flags FROM traces WHERE tenant = ? AND id = ?').get(tenant, id) as { id: string; data: string; flags: string } | undefined;
    if (!row) throw notFound('trace', tenant, id);
    const next = applyTracePatch(this.#trace(row, tenant), patch, ifStatus, ifFlagCount);
    const data = traceData(next);
    assertRecordSize(data, 'trace', this.maxRecordBytes);
    this.#q('UPDATE traces SET status = ?, data = ? WHERE tenant = ? AND id = ?').run(next.status, data, tenant, id);
    return next;
  }

  async getTrace(tenant: string, id: string): Promise<Trace | null> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const row = this.#q('SELECT id, data, flags FROM traces WHERE tenant = ? AND id = ?').get(tenant, id) as { id: string; data: string; flags: string } | undefined;
    return row ? this.#trace(row, tenant) : null;
  }

  async listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>> {
    validate.tenant(tenant);
    const q = validate.traceQuery(query);
    const where = ['t.tenant = ?'];
    const params: unknown[] = [tenant];
    if (q.sessionId !== undefined) {
      where.push('t.session_id = ?');
      params.push(q.sessionId);
    }
    if (q.statuses) {
      where.push(`t.status IN (${q.statuses.map(() => '?').join(', ')})`);
      params.push(...q.statuses);
    }
    if (q.fromMs !== undefined) {
      where.push('t.created_ms >= ?');
      params.push(q.fromMs);
    }
    if (q.toMs !== undefined) {
      where.push('t.created_ms < ?');
      params.push(q.toMs);
    }
    if (q.flagKind) {
      where.push('EXISTS (SELECT 1 FROM flags f WHERE f.tenant = t.tenant AND f.kind = ? AND f.trace_id = t.id)');
      params.push(q.flagKind);
    }
    if (q.after) {
      where.push('(t.created_ms, t.id) < (?, ?)');
      params.push(q.after.t, q.after.id);
    }
    // A trace's JSON is its data (the trace without flags) with `,"flags":` (9 bytes) and the flags array added.
    const sql = `SELECT t.id, t.data, t.flags, octet_length(t.data) + 9 + octet_length(t.flags) AS bytes FROM traces t WHERE ${where.join(' AND ')} ORDER BY t.created_ms DESC, t.id DESC LIMIT ?`;
    return this.#page(sql, [...params, q.limit + 1], q, (r: { id: string; data: string; flags: string }) => this.#trace(r, tenant));
  }

  /** `scope`: a trace created or appended to earlier in the same batch is known to exist. */
  #assertTrace(tenant: string, traceId: string, scope?: BatchScope): void {
    if (scope && (scope.created.has(traceId) || scope.heads.has(traceId))) return;
    if (!this.#q('SELECT 1 FROM traces WHERE tenant = ? AND id = ?').get(tenant, traceId)) throw notFound('trace', tenant, traceId);
  }

  // provenance -------------------------------------------------------------------------------------

  async appendProvenance(tenant: string, input: ProvenanceInput, options: AppendProvenanceOptions = {}): Promise<ProvenanceEntry> {
    validate.tenant(tenant);
    const valid = validate.provenanceInput(input);
    const { origin } = validate.appendProvenanceOptions(options);
    // Reading the head and inserting its successor happen under one write lock; the primary key
    // (tenant, trace_id, seq) is the backstop if anything slips past it, and the loser retries.
    // (A lock held past busyTimeoutMs is not retried: busyTimeoutMs is how long a write waits.)
    return retryOnConflict(() => this.#write(() => this.#appendProvenance(tenant, valid, origin)), {
      retryable: isUniqueViolation,
      what: `Provenance append to trace "${valid.traceId}"`,
    });
  }

  /**
   * Under the write lock: the head (and with it the chain's totals: seq + 1 entries of chain_bytes)
   * is the real head, so the limits of `origin` are checked against what the chain holds.
   */
  #appendProvenance(tenant: string, input: ProvenanceInput, origin: ProvenanceOrigin, scope?: BatchScope): ProvenanceEntry {
    let head = scope?.heads.get(input.traceId);
    if (!head) {
      this.#assertTrace(tenant, input.traceId, scope);
      // A trace created in this batch has no entries yet (appends need the trace: no orphans).
      const row = scope?.created.has(input.traceId)
        ? undefined
        : (this.#q('SELECT seq, hash, chain_bytes FROM provenance WHERE tenant = ? AND trace_id = ? ORDER BY seq DESC LIMIT 1').get(tenant, input.traceId) as
          { seq: number; hash: string; chain_bytes: number | null } | undefined);
      head = row && { seq: row.seq, hash: row.hash, bytes: row.chain_bytes ?? this.#chainBytes(tenant, input.traceId) };
    }
    const entry = nextProvenanceEntry(input, head);
    const data = serializeRecord(entry, 'provenance entry', this.maxRecordBytes);
    const bytes = Buffer.byteLength(data, 'utf8');
    const held = head ? { count: head.seq + 1, bytes: head.bytes } : { count: 0, bytes: 0 };
    assertProvenanceFits(input.traceId, held, { count: 1, bytes }, this.maxRecordBytes, origin);
    this.#q('INSERT INTO provenance (tenant, trace_id, seq, hash, data, chain_bytes) VALUES (?, ?, ?, ?, ?, ?)')
      .run(tenant, input.traceId, entry.seq, entry.hash, data, held.bytes + bytes);
    scope?.heads.set(input.traceId, { seq: entry.seq, hash: entry.hash, bytes: held.bytes + bytes });
    return entry;
  }

  /** UTF-8 bytes of a chain's entries, measured from its rows: for a head stored without chain_bytes (before migration 4). */
  #chainBytes(tenant: string, traceId: string): number {
    const row = this.#q('SELECT COALESCE(SUM(octet_length(data)), 0) AS bytes FROM provenance WHERE tenant = ? AND trace_id = ?').get(tenant, traceId) as { bytes: number };
    return row.bytes;
  }

  async listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const rows = this.#q('SELECT seq, data, hash FROM provenance WHERE tenant = ? AND trace_id = ? ORDER BY seq').all(tenant, traceId) as { seq: number; data: string; hash: string }[];
    // The hash column, which the next append chains onto: one edited apart from its entry does not verify.
    return rows.map((r) => ({ ...this.#json<ProvenanceEntry>(r.data, 'provenance entry', 'provenance', { tenant, trace_id: traceId, seq: r.seq }), hash: r.hash }));
  }

  async verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification> {
    return verifyProvenanceChain(await this.listProvenance(tenant, traceId));
  }

  // flags, checkpoints, quarantine -----------------------------------------------------------------

  async addFlag(tenant: string, input: Flag): Promise<Flag> {
    validate.tenant(tenant);
    const flag = validate.flag(input);
    await this.#write(() => this.#addFlag(tenant, flag));
    return flag;
  }

  /**
   * Checks the trace's flag totals (kept on its row: one primary-key read, no flag is read) against
   * MAX_FLAGS_PER_TRACE and maxTraceFlagsBytes inside the write transaction, then stores the flag.
   */
  #addFlag(tenant: string, flag: Flag): void {
    const json = serializeRecord(flag, 'flag', this.maxRecordBytes);
    const bytes = Buffer.byteLength(json, 'utf8');
    const row = this.#q('SELECT flag_count, flag_bytes FROM traces WHERE tenant = ? AND id = ?').get(tenant, flag.traceId) as { flag_count: number; flag_bytes: number } | undefined;
    if (!row) throw notFound('trace', tenant, flag.traceId);
    assertFlagsFit(flag.traceId, { count: row.flag_count, bytes: row.flag_bytes }, { count: 1, bytes }, this.maxRecordBytes);
    this.#insertFlagRow(tenant, flag, json);
    this.#q("UPDATE traces SET flags = json_insert(flags, '$[#]', json(?)), flag_count = flag_count + 1, flag_bytes = flag_bytes + ? WHERE tenant = ? AND id = ?")
      .run(json, bytes, tenant, flag.traceId);
  }

  #insertFlagRow(tenant: string, flag: Flag, json: string): string {
    try {
      this.#q('INSERT INTO flags (tenant, id, trace_id, kind, data) VALUES (?, ?, ?, ?, ?)').run(tenant, flag.id, flag.traceId, flag.kind, json);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('flag', tenant, flag.id);
      throw error;
    }
    return json;
  }

  async listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]> {
    validate.tenant(tenant);
    const q = validate.flagQuery(query);
    const where = ['tenant = ?'];
    const params: unknown[] = [tenant];
    if (q.traceId !== undefined) {
      where.push('trace_id = ?');
      params.push(q.traceId);
    }
    if (q.kind !== undefined) {
      where.push('kind = ?');
      params.push(q.kind);
    }
    const rows = this.#q(`SELECT id, data FROM flags WHERE ${where.join(' AND ')} ORDER BY seq`).all(...params) as { id: string; data: string }[];
    return rows.map((r) => this.#json<Flag>(r.data, 'flag', 'flags', { tenant, id: r.id }));
  }

  async addCheckpoint(tenant: string, input: Checkpoint): Promise<Checkpoint> {
    validate.tenant(tenant);
    const checkpoint = validate.checkpoint(input);
    await this.#write(() => this.#addCheckpoint(tenant, checkpoint));
    return checkpoint;
  }

  #addCheckpoint(tenant: string, checkpoint: Checkpoint, scope?: BatchScope): void {
    const data = serializeRecord(checkpoint, 'checkpoint', this.maxRecordBytes);
    this.#assertTrace(tenant, checkpoint.traceId, scope);
    this.#q('INSERT INTO checkpoints (tenant, trace_id, data) VALUES (?, ?, ?)').run(tenant, checkpoint.traceId, data);
  }

  async listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const rows = this.#q('SELECT seq, data FROM checkpoints WHERE tenant = ? AND trace_id = ? ORDER BY seq').all(tenant, traceId) as { seq: number; data: string }[];
    return rows.map((r) => this.#json<Checkpoint>(r.data, 'checkpoint', 'checkpoints', { tenant, trace_id: traceId, seq: r.seq }));
  }

  async setQuarantine(tenant: string, input: QuarantineState): Promise<QuarantineState> {
    validate.tenant(tenant);
    const state = validate.quarantine(input);
    await this.#write(() => this.#setQuarantine(tenant, state));
    return state;
  }

  #setQuarantine(tenant: string, state: QuarantineState, scope?: BatchScope): void {
    const data = serializeRecord(state, 'quarantine state', this.maxRecordBytes);
    this.#assertTrace(tenant, state.traceId, scope);
    this.#q(
      'INSERT INTO quarantine (tenant, trace_id, quarantined, data) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, trace_id) DO UPDATE SET quarantined = excluded.quarantined, data = excluded.data',
    ).run(tenant, state.traceId, state.quarantined ? 1 : 0, data);
  }

  async getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const row = this.#q('SELECT data FROM quarantine WHERE tenant = ? AND trace_id = ?').get(tenant, traceId) as { data: string } | undefined;
    return row ? this.#json<QuarantineState>(row.data, 'quarantine state', 'quarantine', { tenant, trace_id: traceId }) : null;
  }

  async listQuarantined(tenant: string): Promise<QuarantineState[]> {
    validate.tenant(tenant);
    // By trace id (ids are ASCII: SQLite's BINARY collation is the order of every backend).
    const rows = this.#q('SELECT trace_id, data FROM quarantine WHERE tenant = ? AND quarantined = 1 ORDER BY trace_id').all(tenant) as { trace_id: string; data: string }[];
    return rows.map((r) => this.#json<QuarantineState>(r.data, 'quarantine state', 'quarantine', { tenant, trace_id: r.trace_id }));
  }

  // rate–distortion --------------------------------------------------------------------------------

  async createRdSeries(input: RdSeries): Promise<RdSeries> {
    const series = validate.rdSeries(input);
    const { points, ...rest } = series;
    const data = serializeRecord(rest, 'RD series', this.maxRecordBytes);
    const pointData = points.map((p) => serializeRecord(p, 'RD point', this.maxRecordBytes));
    const pointBytes = pointData.reduce((sum, p) => sum + Buffer.byteLength(p, 'utf8'), 0);
    assertRdPointsFit(series.id, { count: 0, bytes: 0 }, { count: points.length, bytes: pointBytes }, this.maxRecordBytes);
    await this.#write(() => {
      try {
        this.#q('INSERT INTO rd_series (tenant, id, session_id, data, point_count, point_bytes, next_step) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
          series.tenant, series.id, series.sessionId, data, points.length, pointBytes, nextRdStep(points),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('RD series', series.tenant, series.id);
        throw error;
      }
      for (const p of pointData) this.#q('INSERT INTO rd_points (tenant, series_id, data) VALUES (?, ?, ?)').run(series.tenant, series.id, p);
    });
    return series;
  }

  async appendRdPoint(tenant: string, seriesId: string, input: RdPointInput): Promise<RdPointAppended> {
    validate.tenant(tenant);
    assertId(seriesId, 'RD series id');
    const valid = validate.rdPointInput(input);
    return this.#write(() => {
      // The series row holds its points' totals and next step: the limits are checked, and kept, and
      // a point without a step gets the next one, without reading a point — under the write lock.
      const row = this.#q('SELECT point_count, point_bytes, next_step FROM rd_series WHERE tenant = ? AND id = ?').get(tenant, seriesId) as
        { point_count: number; point_bytes: number; next_step: number } | undefined;
      if (!row) throw notFound('RD series', tenant, seriesId);
      const point = withRdStep(seriesId, valid, row.next_step);
      const data = serializeRecord(point, 'RD point', this.maxRecordBytes);
      const bytes = Buffer.byteLength(data, 'utf8');
      assertRdPointsFit(seriesId, { count: row.point_count, bytes: row.point_bytes }, { count: 1, bytes }, this.maxRecordBytes);
      this.#q('INSERT INTO rd_points (tenant, series_id, data) VALUES (?, ?, ?)').run(tenant, seriesId, data);
      this.#q('UPDATE rd_series SET point_count = point_count + 1, point_bytes = point_bytes + ?, next_step = MAX(next_step, ?) WHERE tenant = ? AND id = ?').run(
        bytes, point.step + 1, tenant, seriesId,
      );
      return { seriesId, point, pointCount: row.point_count + 1, pointBytes: row.point_bytes + bytes };
    });
  }

  async getRdSeriesSummary(tenant: string, id: string): Promise<RdSeriesSummary | null> {
    validate.tenant(tenant);
    assertId(id, 'RD series id');
    const row = this.#q('SELECT data, point_count, point_bytes, next_step FROM rd_series WHERE tenant = ? AND id = ?').get(tenant, id) as
      { data: string; point_count: number; point_bytes: number; next_step: number } | undefined;
    if (!row) return null;
    return { ...this.#json<Omit<RdSeries, 'points'>>(row.data, 'RD series', 'rd_series', { tenant, id }), pointCount: row.point_count, pointBytes: row.point_bytes, nextStep: row.next_step };
  }

  #readRdSeries(tenant: string, id: string): RdSeries | null {
    const row = this.#q('SELECT data FROM rd_series WHERE tenant = ? AND id = ?').get(tenant, id) as { data: string } | undefined;
    if (!row) return null;
    const points = (this.#q('SELECT seq, data FROM rd_points WHERE tenant = ? AND series_id = ? ORDER BY seq').all(tenant, id) as { seq: number; data: string }[]).map(
      (r) => rdPointInOrder(this.#json<RdPoint>(r.data, 'RD point', 'rd_points', { tenant, series_id: id, seq: r.seq })),
    );
    return { ...this.#json<Omit<RdSeries, 'points'>>(row.data, 'RD series', 'rd_series', { tenant, id }), points };
  }

  async getRdSeries(tenant: string, id: string): Promise<RdSeries | null> {
    validate.tenant(tenant);
    assertId(id, 'RD series id');
    return this.#readRdSeries(tenant, id);
  }

  async listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]> {
    validate.tenant(tenant);
    const sessionId = query?.sessionId === undefined ? undefined : assertId(query.sessionId, 'session id');
    const rows = (
      sessionId === undefined
        ? this.#q('SELECT id FROM rd_series WHERE tenant = ?').all(tenant)
        : this.#q('SELECT id FROM rd_series WHERE tenant = ? AND session_id = ?').all(tenant, sessionId)
    ) as { id: string }[];
    // The contract's order: oldest first by the instant of createdAt (offsets allowed, so not the text), then id.
    return rows.map((r) => this.#readRdSeries(tenant, r.id)!).sort(oldestFirst);
  }

  // counters ---------------------------------------------------------------------------------------

  async incrementCounters(tenant: string, deltas: Counters): Promise<void> {
    validate.tenant(tenant);
    const valid = validate.counters(deltas);
    await this.#write(() => this.#increment(tenant, valid));
  }

  /**
   * Adds each delta in the caller's savepoint or transaction. A sum past the finite numbers (SQLite
   * would store it as Inf, which JSON answers as null) is not written: the update's WHERE leaves the
   * row alone, no row comes back, and counterNotFinite rolls the call (or batch) back.
   */
  #increment(tenant: string, deltas: Counters): void {
    const stmt = this.#q(`INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) ON CONFLICT (tenant, name) DO UPDATE SET value = value + excluded.value
      WHERE abs(value + excluded.value) < 9e999`);
    for (const [name, delta] of Object.entries(deltas)) {
      if (stmt.run(tenant, name, delta).changes === 0) {
        const held = this.#q('SELECT value FROM counters WHERE tenant = ? AND name = ?').get(tenant, name) as { value: number } | undefined;
        throw counterNotFinite(name, delta, held?.value);
      }
    }
  }

  async getCounters(tenant: string): Promise<Counters> {
    validate.tenant(tenant);
    const rows = this.#q('SELECT name, value FROM counters WHERE tenant = ?').all(tenant) as { name: string; value: number }[];
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  // batch ------------------------------------------------------------------------------------------

  async batch(tenant: string, ops: BatchOp[]): Promise<void> {
    const valid = validate.batch(tenant, ops);
    if (valid.length === 0) return;
    // One prepared single-row INSERT per op: with better-sqlite3 a bound step costs no more per row
    // than a multi-row INSERT (measured), and a failure names the exact op. Counter deltas are
    // summed and applied once, after the other ops (additions commute; nothing reads them here).
    await this.#write(() => {
      const scope: BatchScope = { created: new Set(), heads: new Map() };
      let counters: Counters | undefined;
      let countersAt = -1;
      const fail = (error: unknown, i: number): unknown => atBatchOp(error, `batch op ${i} (${valid[i]!.op})`, i);
      for (let i = 0; i < valid.length; i++) {
        const op = valid[i]!;
        if (op.op === 'incrementCounters') {
          if (countersAt < 0) countersAt = i;
          counters = sumCounters(counters, op.deltas);
          continue;
        }
        try {
          this.#apply(tenant, op, scope);
        } catch (error) {
          throw fail(error, i);
        }
      }
      if (counters) {
        try {
          this.#increment(tenant, counters);
        } catch (error) {
          throw fail(error, countersAt);
        }
      }
    });
  }

  /** One op of a batch (counters excepted: `batch` sums them); `scope` is what the batch wrote so far. */
  #apply(tenant: string, op: Exclude<BatchOp, { op: 'incrementCounters' }>, scope: BatchScope): void {
    switch (op.op) {
      case 'createSession':
        return this.#insertSession(op.session);
      case 'createTrace':
        this.#insertTrace(op.trace);
        scope.created.add(op.trace.id);
        return;
      case 'updateTrace':
        this.#updateTrace(tenant, op.id, op.patch, op.ifStatus, op.ifFlagCount);
        return;
      case 'addFlag':
        return this.#addFlag(tenant, op.flag);
      case 'addCheckpoint':
        return this.#addCheckpoint(tenant, op.checkpoint, scope);
      case 'setQuarantine':
        return this.#setQuarantine(tenant, op.state, scope);
      case 'appendProvenance':
        // Under the batch's write lock, like a single append: the head read (or carried from the
        // batch's previous append to this trace) is the real head.
        this.#appendProvenance(tenant, op.input, op.origin ?? 'system', scope);
        return;
    }
  }
}

/** A chain's last entry, and the UTF-8 bytes of the chain's entries up to it (chain_bytes). */
type ChainHead = { seq: number; hash: string; bytes: number };

/** A row's key: its columns (the tenant first) and their values, as a damaged record's error names them. */
type RowKey = { tenant: string } & Record<string, string | number>;

/**
 * What a batch wrote so far, inside its savepoint: traces it created (they exist, with an empty
 * chain) and the chain head after its last append to a trace — reads the batch need not repeat.
 */
interface BatchScope {
  created: Set<string>;
  heads: Map<string, ChainHead>;
}

/** RD series order of every backend: the instant of createdAt ascending, then id ascending. */
function oldestFirst(a: RdSeries, b: RdSeries): number {
  return timeKey(a.createdAt) - timeKey(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}


/** Error codes of a folder this process may not (or cannot) write to. */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

/** The settings that choose the database file. */
const SQLITE_PATH_SETTING = 'path, DATABASE_URL=sqlite://<path> or LIMIT_DATA_DIR';

/** LIMIT_STORAGE_UNAVAILABLE for a database folder that cannot be created, naming the folder and why. */
function folderError(dir: string, file: string, error: unknown): LimitError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'EROFS' ? 'is on a read-only file system'
    : code === 'ENOSPC' || code === 'EDQUOT' ? 'cannot be created: no space left on the device'
    : NOT_WRITABLE.has(code ?? '') ? 'cannot be created: its parent is not writable by this process'
    : 'cannot be created';
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The folder ${dir} of SQLite database ${file} ${why} (${(error as Error).message})`, {
    plugin: PLUGIN, cause: error, details: { path: dir, ...(code ? { code } : {}) },
    fix: `Create the folder with write permission for the server's user, or point storage-sqlite elsewhere (${SQLITE_PATH_SETTING}).`,
  });
}

/** `user <name> (uid <n>)`, or `uid <n>`, of this process, for messages; undefined where there are no uids. */
function processUser(): { text: string; name: string } | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // A uid without a passwd entry (a container's arbitrary uid).
  }
  return name ? { text: `user ${name}, uid ${uid}`, name } : { text: `uid ${uid}`, name: String(uid) };
}

/**
 * What restrictDatabaseFiles met when the file system refused it — no permission (EACCES, EPERM) or
 * a read-only file system (EROFS) — as LIMIT_STORAGE_UNAVAILABLE naming the file or folder, the code,
 * this process's user and a fix (chown / chmod); undefined for other errors.
 */
function accessError(file: string, error: unknown): LimitError | undefined {
  const e = error as NodeJS.ErrnoException;
  const code = e.code;
  if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return undefined;
  const failed = e.path ?? file;
  const dir = path.dirname(path.resolve(file));
  const user = processUser();
  const who = user ? ` (${user.text})` : '';
  const owner = user?.name ?? "the server's user";
  const elsewhere = `or point storage-sqlite at a file it may write (${SQLITE_PATH_SETTING})`;
  const fail = (message: string, at: string, fix: string, more: Record<string, unknown> = {}) =>
    new LimitError('LIMIT_STORAGE_UNAVAILABLE', message, { plugin: PLUGIN, cause: error, details: { file, path: at, code, ...more }, fix });
  if (code === 'EROFS') {
    return fail(`SQLite database ${file} cannot be opened for writing: ${dir} is on a read-only file system (${code})`, dir,
      `Remount the file system of ${dir} read-write, ${elsewhere}.`);
  }
  if (e.syscall === 'chmod') {
    // The file (or its -wal/-shm) can be written but belongs to another user: only its owner may restrict it.
    let uid: number | undefined;
    try {
      uid = statSync(failed).uid;
    } catch {
      // Gone meanwhile: the message still names it.
    }
    return fail(`SQLite database ${file} cannot be restricted to mode 0600: ${failed} belongs to another user${uid === undefined ? '' : ` (uid ${uid})`}, and only its owner may change its mode; this process runs as ${user?.text ?? 'another user'} (${code})`, failed,
      `Make the server's user the owner of the database files, as root: chown ${owner} ${file} ${file}-wal ${file}-shm (those that exist); ${elsewhere}.`,
      uid === undefined ? {} : { owner: uid });
  }
  if (existsSync(failed)) {
    return fail(`SQLite database ${file} cannot be opened: ${failed} is not readable and writable by this process${who} (${code})`, failed,
      `Make the server's user its owner, as root: chown ${owner} ${failed} (and its -wal and -shm files, where they exist); if that user owns it already: chmod u+rw ${failed}. Or point storage-sqlite at a file it may write (${SQLITE_PATH_SETTING}).`);
  }
  return fail(`SQLite database ${file} cannot be created: its folder ${dir} does not let this process${who} create files in it (${code})`, dir,
    `Give the server's user write permission on ${dir}: chown ${owner} ${dir} (as root) or chmod u+wx ${dir}; ${elsewhere}.`);
}

/**
 * The database holds every tenant's data and its folder may have to stay traversable (runner-python
 * keeps `sessions/` next to it): the file is created 0600 before SQLite opens it, so the -wal and
 * -shm files SQLite makes later get the same mode, and an existing file (and its -wal/-shm) is
 * tightened to 0600. Returns what puts the modes it changed back, for an open() that then refuses
 * the file (not a database, damaged, a newer schema): a refused file is left as it was.
 */
export function restrictDatabaseFiles(file: string): () => void {
  const changed: [string, number][] = [];
  const restrict = (p: string) => {
    const mode = statSync(p).mode & 0o7777;
    if (mode === 0o600) return;
    chmodSync(p, 0o600);
    changed.push([p, mode]);
  };
  const fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT, 0o600);
  closeSync(fd);
  restrict(file);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(file + suffix)) restrict(file + suffix);
  }
  return () => {
    for (const [p, mode] of changed) {
      try {
        chmodSync(p, mode);
      } catch {
        // Best effort: the refusal being reported matters more.
      }
    }
  };
}
