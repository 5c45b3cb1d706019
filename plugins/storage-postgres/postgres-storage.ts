/**
 * The Storage contract on PostgreSQL (pg Pool, JSONB). Every API instance may point at the same
 * database: provenance chains stay linear through a row lock on the trace plus the primary key
 * (tenant, trace_id, seq) with retries, counters through INSERT … ON CONFLICT DO UPDATE.
 */
import pg from 'pg';
import {
  LimitError, MAX_FLAGS_PER_TRACE, applyTracePatch, atBatchOp, assertFlagsFit, assertId, assertRdPointsFit, flagsBytes, maxTraceFlagsBytes, conflict, nextProvenanceEntry, nextRdStep, notFound, rdPointInOrder, withRdStep, PageBuilder, retryOnConflict,
  counterNotFinite, schemaTooNew, serializeRecord, sumCounters, timeKey, validate, verifyProvenanceChain,
  type BatchOp, type ChainVerification, type Checkpoint, type Counters, type Flag, type FlagKind, type HealthResult, type Page,
  type ProvenanceEntry, type ProvenanceInput, type QuarantineState, type RdPoint, type RdPointAppended, type RdPointInput, type RdSeries, type RdSeriesSummary, type Session, type SessionQuery,
  type Storage, type StorageSupports, type Trace, type TracePatch, type TraceQuery,
  redactUrl as redactKernelUrl,
} from 'limit-graph';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import { parseStoredJson, toStoredJson } from './nul.ts';
import { DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS, DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_QUERY_TIMEOUT_MS } from './options.ts';

const PLUGIN = 'storage-postgres';

export interface PostgresStorageConfig {
  url: string;
  schema: string;
  poolSize: number;
  connectTimeoutMs: number;
  /** Longest wait for a lock another transaction holds (ms); 0: the server's lock_timeout. Default DEFAULT_LOCK_TIMEOUT_MS. */
  lockTimeoutMs?: number;
  /** Longest wait for the server's reply to one statement (ms) before the call fails and the connection is discarded; 0: none. Default DEFAULT_QUERY_TIMEOUT_MS. */
  queryTimeoutMs?: number;
  /** Longest a connection may stay idle inside a transaction before the server ends its session (ms); 0: the server's setting. Default DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS. */
  idleInTransactionTimeoutMs?: number;
  maxRecordBytes: number;
}

type Queryable = pg.Pool | pg.PoolClient;

function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}

const UNIQUE_VIOLATION = '23505';
/**
 * The position in `ids` (the records of one multi-row insert) of the one whose id `taken` the server
 * refused as already used: its second occurrence when the insert repeats it, else its only one.
 */
function takenAt(ids: string[], taken: string): number {
  const first = ids.indexOf(taken);
  const second = ids.indexOf(taken, first + 1);
  return second >= 0 ? second : Math.max(first, 0);
}
/**
 * A trace row's size in a listing, the UTF-8 bytes of its JSON as the other backends count them: the
 * trace without its flags (data_bytes, stored on each write) plus its flags array (each flag's JSON,
 * flag_bytes, with the brackets and the commas between them).
 */
const TRACE_BYTES = 't.data_bytes + t.flag_bytes + GREATEST(t.flag_count, 1) + 1';
/** Worth another attempt: a lost race on a unique key, a serialization failure, a deadlock victim. */
const isRetryable = (e: unknown) => [UNIQUE_VIOLATION, '40001', '40P01'].includes(pgCode(e) ?? '');
/** A serialization failure or a deadlock victim: the server rolled the whole transaction back, so it may run again. */
const isRolledBack = (e: unknown) => ['40001', '40P01'].includes(pgCode(e) ?? '');

/** The messages of pg's errors (they have no code) for a connection that ended under a query or is used after it ended. */
const CONNECTION_LOST: ReadonlySet<string> = new Set([
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/** The server ended a session left idle inside a transaction past idle_in_transaction_session_timeout. */
const IDLE_IN_TRANSACTION_ENDED = '25P03';

/** pg's error (no code) when no reply to a statement came within query_timeout; the statement may still be running, on a connection now out of step. */
const QUERY_READ_TIMEOUT = 'Query read timeout';
const isQueryReadTimeout = (e: unknown) => !pgCode(e) && (e as Error | undefined)?.message === QUERY_READ_TIMEOUT;
/** A query read timeout, or an error caused by one (#translate's LimitError, a batch op's wrapping of it). */
function timedOut(e: unknown): boolean {
  for (let c = e, i = 0; c instanceof Error && i < 4; c = c.cause, i++) if (isQueryReadTimeout(c)) return true;
  return false;
}

/** How much longer than queryTimeoutMs the client waits for a reply: the server's own cancel (57014) arrives first. */
const QUERY_TIMEOUT_GRACE = (ms: number) => Math.min(1_000, Math.ceil(ms / 4));

/** TCP keepalive probes start after a connection was this long silent (ms), so a peer gone without RST/FIN is found even between statements. */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * Hides the credentials of a URL in messages: its password (all of it, an unencoded `@` included)
 * and secret query parameters (`?password=…`, `?sslpassword=…`, which pg reads as the password).
 */
export function redactUrl(url: string): string {
  return redactKernelUrl(url, '***');
}


/** The oids of json and jsonb: their text is read with parseStoredJson (see nul.ts). */
const JSON_OIDS: ReadonlySet<number> = new Set([114, 3802]);
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (JSON_OIDS.has(oid) && format !== 'binary' ? parseStoredJson : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig['getTypeParser'],
};

/** RD series order of every backend: the instant of createdAt ascending, then id ascending. */
function oldestFirst(a: RdSeries, b: RdSeries): number {
  return timeKey(a.createdAt) - timeKey(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function rowToTrace(row: { data: Trace; flags: Flag[] }): Trace {
  return { ...row.data, flags: row.flags };
}

export class PostgresStorage implements Storage {
  readonly backend = 'postgres';
  readonly supports: StorageSupports = { multiProcess: true, crashSafe: true, transactions: true };
  readonly maxRecordBytes: number;
  /** The quoted schema, safe to splice into SQL (the option is validated as a plain identifier). */
  readonly #s: string;
  #pool: pg.Pool | undefined;
  /**
   * One reject per call waiting for a pooled connection, removed when it has one: close() calls
   * them, so those calls fail at once. pg-pool's end() serves them no more, and they waited out
   * connectTimeoutMs to fail as "pool exhausted". Per call, not one promise settled at close(): each
   * race against that added a reaction to it kept until shutdown, a leak per pooled query.
   */
  #waiting = new Set<(error: LimitError) => void>();
  #names = new Map<string, string>();
  /**
   * Connections the server ended for staying idle in a transaction (25P03): pg reports that only as
   * an 'error' event, and the next statement on them fails with a bare "not queryable".
   */
  #endedIdle = new WeakSet<pg.Client>();

  constructor(readonly config: PostgresStorageConfig) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.schema)) {
      throw new LimitError('LIMIT_VALIDATION', `Invalid PostgreSQL schema name ${JSON.stringify(config.schema)}`, { plugin: PLUGIN });
    }
    this.maxRecordBytes = config.maxRecordBytes;
    this.#s = `"${config.schema}"`;
  }

  get #lockTimeoutMs(): number {
    return this.config.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  get #idleInTransactionTimeoutMs(): number {
    return this.config.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  }

  get #queryTimeoutMs(): number {
    return this.config.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  /**
   * pg's per-statement options bounding the wait for the server's reply; none when queryTimeoutMs is 0.
   * The server cancels a statement at queryTimeoutMs (the connection's statement_timeout), so the client
   * waits a little longer (QUERY_TIMEOUT_GRACE) for that answer: a healthy server's cancel keeps the
   * connection, only silence discards it. Per statement, not on the pool, so migrations stay unbound.
   */
  get #bound(): { query_timeout?: number } {
    const ms = this.#queryTimeoutMs;
    return ms > 0 ? { query_timeout: ms + QUERY_TIMEOUT_GRACE(ms) } : {};
  }

  /** The application_name of this store's connections (unless the URL or PGAPPNAME gives one). */
  get applicationName(): string {
    return `limit-graph:${this.config.schema}`;
  }

  get schema(): string {
    return this.config.schema;
  }

  /** A record's JSON as this backend stores it: size-checked, then NUL-escaped (nul.ts). */
  #record(value: unknown, what: string): string {
    return toStoredJson(serializeRecord(value, what, this.maxRecordBytes));
  }

  /**
   * A listed record's data column (as #record stores it) and the UTF-8 bytes of its JSON, which a
   * page's budget counts: the stored text can be shorter (a NUL is 6 bytes of JSON, 4 stored).
   */
  #listed(value: unknown, what: string): { data: string; bytes: number } {
    const json = serializeRecord(value, what, this.maxRecordBytes);
    return { data: toStoredJson(json), bytes: Buffer.byteLength(json, 'utf8') };
  }

  /** A trace's data column and its JSON bytes (#listed): the trace without its flags, stored beside it. */
  #traceData(trace: Trace): { data: string; bytes: number } {
    const { flags: _flags, ...rest } = trace;
    return this.#listed(rest, 'trace');
  }

  async open(): Promise<void> {
    if (!this.#pool) {
      const pool = new pg.Pool({
        connectionString: this.config.url,
        max: this.config.poolSize,
        connectionTimeoutMillis: this.config.connectTimeoutMs,
        // What pg_stat_activity shows for these connections (cut to 63 bytes by the server), so an
        // operator can tell them from other clients of a shared server; an application_name in the
        // URL or PGAPPNAME wins.
        fallback_application_name: this.applicationName,
        // Set on each connection at startup (0 is not sent: the server's own setting applies).
        lock_timeout: this.#lockTimeoutMs,
        // The server cancels a statement running past queryTimeoutMs (57014), so a runaway one stops
        // there instead of running on after the client gave up (0 is not sent: the server's own).
        statement_timeout: this.#queryTimeoutMs,
        // Every transaction is this store's own: one idle this long is a process stalled inside it
        // (frozen, its event loop blocked) holding its locks — the migration lock included, which
        // another instance's start waits on without a limit. The server ends that session, which frees
        // them (0 is not sent: the server's own).
        idle_in_transaction_session_timeout: this.#idleInTransactionTimeoutMs,
        // A server or network gone silent (no RST/FIN) is noticed by the OS between statements and
        // under a migration, where queryTimeoutMs does not apply: the connection errors and leaves the pool.
        keepAlive: true,
        keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
        types: TYPES,
      });
      // An idle client losing its connection must not crash the process; the pool drops it and the
      // next query opens another.
      pool.on('error', () => undefined);
      // Nor may a checked-out one (a transaction between two statements, or mid-statement: pg emits
      // 'error' on the client as well as failing its query, and pg-pool listens only while the client
      // is idle). The statement that needs it fails instead (#translate: LIMIT_STORAGE_UNAVAILABLE),
      // and release() drops the dead client from the pool.
      pool.on('connect', (client) => client.on('error', (e) => { if (pgCode(e) === IDLE_IN_TRANSACTION_ENDED) this.#endedIdle.add(client); }));
      this.#pool = pool;
    }
    try {
      await this.#migrate();
    } catch (error) {
      // A store this code must not write (a newer schema, a failed migration, no server) stays closed.
      await this.close();
      throw error;
    }
  }

  /** Applies pending migrations under an advisory lock; a schema newer than the last migration here is refused, untouched. */
  async #migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#connect(this.#conn);
    } catch (error) {
      throw error instanceof LimitError ? error : this.#unavailable(error);
    }
    let current: (typeof MIGRATIONS)[number] | undefined;
    /** The version read under the lock; undefined while a failure precedes reading it. */
    let before: number | undefined;
    try {
      await client.query('BEGIN');
      // A migration's statements (a backfill of a large table) may take long: no statement_timeout.
      // Instances starting together wait for the one migrating however long that takes: its own lock
      // waits are bounded (below), and a frozen one's session is ended by the server after
      // idleInTransactionTimeoutMs (its lock with it), so this wait is too.
      await client.query('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0');
      // Serialises concurrent starts: CREATE SCHEMA/TABLE IF NOT EXISTS alone still races in the catalogue.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`limit-graph:migrate:${this.config.schema}`]);
      // A table another session holds locked (a long transaction, one left idle in transaction) fails
      // the start after lockTimeoutMs, as it fails a call, instead of hanging it (and queueing every
      // other statement on that table behind the migration's lock).
      await client.query('SET LOCAL lock_timeout TO DEFAULT');
      // Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
      // exists, which a role given only its own schema (by a DBA) does not have.
      const { rowCount: exists } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.config.schema]);
      if (!exists) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${this.#s}.schema_migrations`);
      const applied = new Set(rows.map((r) => r.version));
      const newest = Math.max(0, ...applied);
      before = newest;
      if (newest > SCHEMA_VERSION) {
        throw schemaTooNew(`The PostgreSQL schema "${this.config.schema}" at ${redactUrl(this.config.url)}`, newest, SCHEMA_VERSION, PLUGIN);
      }
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        current = m;
        if (m.sql) await client.query(m.sql.replaceAll('{s}', this.#s));
        await m.backfill?.(client, this.#s);
        await client.query(`INSERT INTO ${this.#s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      }
      current = undefined;
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (error instanceof LimitError) throw error;
      const which = current ? `migration ${current.version} ("${current.name}")` : 'migration';
      const kept = before === undefined ? 'the schema was left as it was' : `the schema was left at version ${before}`;
      const details = { schema: this.config.schema, ...(current ? { migration: current.version, migrationName: current.name } : {}), ...(before === undefined ? {} : { schemaVersion: before }) };
      if (pgCode(error) === '55P03') {
        const lockTimeoutMs = this.#lockTimeoutMs;
        throw new LimitError('LIMIT_STORAGE_MIGRATION_FAILED',
          `PostgreSQL ${which} of schema "${this.config.schema}" waited lockTimeoutMs (${lockTimeoutMs} ms) for a lock another session holds${await this.#lockHolders(client)}; ${kept}`, {
            plugin: PLUGIN,
            cause: error,
            details: { ...details, lockTimeoutMs },
            fix: "Start again once that session's transaction ends; if it is stuck ('idle in transaction'), end it (pg_locks joined with pg_stat_activity on the server, pg_terminate_backend), or raise storage-postgres's lockTimeoutMs.",
          });
      }
      // The server, not the migration: gone, read-only, no permission, no disk or connection slot left.
      const translated = this.#translate(error, client);
      if (translated instanceof LimitError && translated.code === 'LIMIT_STORAGE_UNAVAILABLE') throw translated;
      // Rolled back: every pending migration is undone, the schema keeps its version.
      throw new LimitError('LIMIT_STORAGE_MIGRATION_FAILED', `PostgreSQL ${which} of schema "${this.config.schema}" failed: ${(error as Error).message}; ${kept}`, {
        plugin: PLUGIN,
        cause: error,
        details,
      });
    } finally {
      client.release();
    }
  }

  /**
   * The other sessions holding locks on this schema's tables, as ` (pid 42 (application_name 'x',
   * idle in transaction) holds AccessExclusiveLock on limit.traces)`; '' when none is seen (or the
   * query fails: the lock may be gone already, and the error must not hide the migration's).
   */
  async #lockHolders(client: pg.PoolClient): Promise<string> {
    try {
      const { rows } = await client.query<{ pid: number; app: string | null; state: string | null; mode: string; rel: string }>(
        `SELECT l.pid, a.application_name AS app, a.state, l.mode, n.nspname || '.' || c.relname AS rel
         FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.granted AND l.pid <> pg_backend_pid() AND n.nspname = $1 ORDER BY l.pid, rel, l.mode`,
        [this.config.schema],
      );
      const held = rows.map((r) => `pid ${r.pid} (application_name '${r.app ?? ''}'${r.state ? `, ${r.state}` : ''}) holds ${r.mode} on ${r.rel}`);
      return held.length > 0 ? ` (${held.join('; ')})` : '';
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const reject of waiting) {
      reject(new LimitError('LIMIT_STORAGE_UNAVAILABLE', `PostgreSQL storage (schema "${this.config.schema}") was closed while this call waited for a connection; nothing of it was stored`, {
        plugin: PLUGIN,
        fix: 'Do not use the store after close() (the runtime closes it at shutdown).',
      }));
    }
    await pool?.end();
  }

  /** A connection from `pool`, or the error translated; fails at once when close() is called meanwhile. */
  async #connect(pool: pg.Pool): Promise<pg.PoolClient> {
    const connecting = pool.connect();
    let reject!: (error: LimitError) => void;
    const closed = new Promise<never>((_resolve, rej) => { reject = rej; });
    this.#waiting.add(reject);
    try {
      return await Promise.race([connecting, closed]);
    } catch (error) {
      // Lost the race to close(): a connection that still comes goes back, a late failure is nobody's.
      if (error instanceof LimitError) connecting.then((c) => c.release(), () => undefined);
      throw this.#translate(error);
    } finally {
      this.#waiting.delete(reject);
    }
  }

  get #conn(): pg.Pool {
    if (!this.#pool) {
      throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', `PostgreSQL storage (schema "${this.config.schema}") is not open`, {
        plugin: PLUGIN,
        fix: 'Call open() (the plugin does it in the boot hook) and do not use the store after close().',
      });
    }
    return this.#pool;
  }

  #unavailable(error: unknown): LimitError {
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `Cannot reach PostgreSQL at ${redactUrl(this.config.url)}: ${(error as Error).message || pgCode(error)}`, {
      plugin: PLUGIN,
      cause: error,
      fix: 'Start the server or correct DATABASE_URL (postgres://user:password@host:5432/database).',
    });
  }

  /**
   * LIMIT_STORAGE_UNAVAILABLE for a reason on the server's side: `details` and the message name the
   * server (its URL redacted) and the schema, the `fix` what to do.
   */
  #serverError(error: unknown, message: string, details: Record<string, unknown>, fix: string): LimitError {
    const { url, schema } = this.config;
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE', message, { plugin: PLUGIN, cause: error, details: { server: redactUrl(url), schema, ...details }, fix });
  }

  /** `PostgreSQL at <server> (schema "<schema>")`, how the messages below begin. */
  get #at(): string {
    return `PostgreSQL at ${redactUrl(this.config.url)} (schema "${this.config.schema}")`;
  }

  /** Every pooled connection stayed busy for connectTimeoutMs: the load or something holding connections, not the server. */
  #poolExhausted(error: unknown): LimitError {
    const { url, schema, poolSize, connectTimeoutMs } = this.config;
    return this.#serverError(
      error,
      `No connection to PostgreSQL at ${redactUrl(url)} (schema "${schema}") came free within connectTimeoutMs (${connectTimeoutMs} ms): all poolSize (${poolSize}) connections are in use`,
      { poolSize, connectTimeoutMs },
      `Raise storage-postgres's poolSize (within the server's max_connections) or connectTimeoutMs, or find what holds the connections: long transactions or lock waits (pg_stat_activity on the server; this store's connections have application_name '${this.applicationName}' unless the URL names them).`,
    );
  }

  /** A statement waited lockTimeoutMs for a lock another transaction holds (55P03); its transaction was rolled back. */
  #lockTimeout(error: unknown): LimitError {
    const lockTimeoutMs = this.#lockTimeoutMs;
    return this.#serverError(
      error,
      `${this.#at}: a row or table this call needs stayed locked by another transaction for lockTimeoutMs (${lockTimeoutMs} ms); nothing of the call was stored (${(error as Error).message})`,
      { lockTimeoutMs },
      "Retry; if it persists, find the transaction that holds the lock (pg_locks joined with pg_stat_activity on the server: a long transaction, a session left 'idle in transaction'), or raise storage-postgres's lockTimeoutMs.",
    );
  }

  /** No reply to a statement within queryTimeoutMs (pg's query_timeout): the connection was discarded, not pooled again. */
  #queryTimeout(error: unknown): LimitError {
    const queryTimeoutMs = this.#queryTimeoutMs;
    return this.#serverError(
      error,
      `${this.#at} sent no reply within queryTimeoutMs (${queryTimeoutMs} ms): the network or the server is down or stalled; the connection was discarded; whether the call's writes were stored is unknown (a batch's are all or none)`,
      { queryTimeoutMs },
      "Check the network path to the server and the server itself (pg_stat_activity, its log), then retry; if statements are legitimately this slow (a very large batch), raise storage-postgres's queryTimeoutMs (0: no limit).",
    );
  }

  /** The server cancelled a statement (57014): it ran past queryTimeoutMs (statement_timeout), or pg_cancel_backend; its transaction was rolled back. */
  #cancelled(error: unknown): LimitError {
    const queryTimeoutMs = this.#queryTimeoutMs;
    const message = (error as Error).message;
    const after = /statement timeout/.test(message) ? ` after queryTimeoutMs (${queryTimeoutMs} ms)` : '';
    return this.#serverError(
      error,
      `${this.#at} cancelled a statement of this call${after} (${message}); nothing of the call was stored`,
      { queryTimeoutMs, sqlState: '57014' },
      "Retry; if it persists, find what slows the statement on the server (pg_stat_activity, its log: a lock wait, load, a missing index), or raise storage-postgres's queryTimeoutMs if statements are legitimately this slow (a very large batch). A statement cancelled by an operator (pg_cancel_backend) reads the same.",
    );
  }

  /** The server ended this connection's session, idle inside a transaction past idleInTransactionTimeoutMs (25P03); the transaction was rolled back. */
  #endedIdleInTransaction(error: unknown): LimitError {
    const idleInTransactionTimeoutMs = this.#idleInTransactionTimeoutMs;
    const limit = idleInTransactionTimeoutMs > 0 ? `idleInTransactionTimeoutMs (${idleInTransactionTimeoutMs} ms)` : "the server's idle_in_transaction_session_timeout";
    return this.#serverError(
      error,
      `${this.#at} ended the session of this call's transaction: it stayed idle in transaction past ${limit}, this process stalled between two statements; nothing of the call was stored`,
      { idleInTransactionTimeoutMs, sqlState: IDLE_IN_TRANSACTION_ENDED },
      "Retry; find what stalled the process (stopped by a debugger or SIGSTOP, an event loop blocked, swapping). If a transaction legitimately pauses this long, raise storage-postgres's idleInTransactionTimeoutMs (0: the server's setting).",
    );
  }

  /**
   * The server refused the work for a reason of its own, not of the call: it is read-only, the role
   * lacks a privilege, or it has no disk, memory or connection slot left.
   */
  #refused(error: unknown, fix: string): LimitError {
    return this.#serverError(error, `${this.#at} refused the operation: ${(error as Error).message} (${pgCode(error)})`, { sqlState: pgCode(error) }, fix);
  }

  /** Maps driver errors to LimitErrors; everything else passes through. `client`: the connection the error came on, if any. */
  #translate(error: unknown, client?: pg.PoolClient): unknown {
    if (error instanceof LimitError) return error;
    const code = pgCode(error) ?? '';
    if (code === IDLE_IN_TRANSACTION_ENDED || (client && this.#endedIdle.has(client) && CONNECTION_LOST.has((error as Error | undefined)?.message ?? ''))) {
      return this.#endedIdleInTransaction(error);
    }
    // pg-pool's own error (it has no code) when no pooled connection came free in time.
    if (!code && (error as Error | undefined)?.message === 'timeout exceeded when trying to connect') return this.#poolExhausted(error);
    if (code === '55P03') return this.#lockTimeout(error);
    if (code === '57014') return this.#cancelled(error);
    if (isQueryReadTimeout(error)) return this.#queryTimeout(error);
    const { schema } = this.config;
    if (code === '25006') return this.#refused(error, 'The server is read-only (a hot standby, or default_transaction_read_only set for the database or role): point DATABASE_URL at the primary, writable server.');
    if (code === '42501') return this.#refused(error, `Grant the role of DATABASE_URL what storage-postgres needs on schema "${schema}" (CREATE on the database while the schema is missing; USAGE and CREATE on the schema; SELECT, INSERT, UPDATE, DELETE on its tables), or connect as their owner.`);
    if (code === '53300') return this.#refused(error, "The server has no connection slot left (max_connections, or the role's or database's CONNECTION LIMIT): lower poolSize, summed over every instance, below the limit, or raise it.");
    if (code === '57P03') return this.#refused(error, 'The server cannot accept connections now: it is starting up, shutting down or recovering (a standby catching up, a failover under way). Retry in a few seconds; if it lasts, read the server log.');
    if (code.startsWith('53')) return this.#refused(error, 'The database server is out of a resource (53100: disk full, 53200: out of memory): free it on the server, then retry.');
    // 57P01–57P05: the server ended the connection (admin shutdown or pg_terminate_backend, crash, starting up, database dropped, idle timeout).
    // 28…, 3D000: a new connection refused (authentication, a database that does not exist — dropped or renamed since open).
    if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('28') || code === '3D000' || ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code)) return this.#unavailable(error);
    // pg's own errors (no code) for a connection lost under a query, or used again after it was lost.
    if (!code && CONNECTION_LOST.has((error as Error | undefined)?.message ?? '')) return this.#unavailable(error);
    // JSONB's parser refusing a lone \uD800–\uDFFF escape (JSON.stringify writes one for half a surrogate pair).
    if (code === '22P02' && /surrogate/i.test(String((error as { detail?: string }).detail))) {
      return new LimitError('LIMIT_VALIDATION', 'The record contains half a surrogate pair (a lone \\uD800–\\uDFFF), which is not Unicode text and PostgreSQL JSONB cannot store', {
        plugin: PLUGIN,
        cause: error,
        fix: "Store well-formed text: String.prototype.toWellFormed() replaces half pairs with U+FFFD (the orchestrator does so for runners' output).",
      });
    }
    return error;
  }

  /** A query with a named (server-side prepared, per connection) statement. */
  async #query<R extends pg.QueryResultRow>(db: Queryable, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    let name = this.#names.get(text);
    if (!name) {
      name = `lg_${this.config.schema}_${this.#names.size}`;
      this.#names.set(text, name);
    }
    // Pool.query would end the connection on any error (pg-pool releases it with the error): a refused
    // duplicate id or a statement the server cancelled would cost a reconnect and its prepared
    // statements. Only a statement left unanswered (it still holds the connection) discards it; a
    // connection that died leaves the pool anyway.
    const client = db instanceof pg.Pool ? await this.#connect(db) : db;
    let broken: Error | undefined;
    try {
      return await client.query<R>({ name, text, values, ...this.#bound });
    } catch (error) {
      if (timedOut(error)) broken = error as Error;
      throw this.#translate(error, client);
    } finally {
      if (client !== db) client.release(broken);
    }
  }

  /**
   * Runs `fn` in a transaction, again when the server aborted it as a deadlock victim or for a
   * serialization failure: nothing of it was stored, and `fn` reads what it needs afresh. A
   * transaction holding row locks in another order than a concurrent one (a batch updating two
   * traces, say) is thus retried, not failed; LIMIT_CONFLICT if it keeps losing.
   */
  #tx<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return retryOnConflict(() => this.#txOnce(fn), { retryable: isRolledBack, what, code: 'LIMIT_CONFLICT' });
  }

  async #txOnce<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#connect(this.#conn);
    /** Set when the connection must not be pooled again: a statement on it got no reply in time. */
    let broken: Error | undefined;
    try {
      await client.query({ text: 'BEGIN', ...this.#bound });
      const result = await fn(client);
      await client.query({ text: 'COMMIT', ...this.#bound });
      return result;
    } catch (error) {
      if (timedOut(error)) {
        // The unanswered statement still holds the connection (a ROLLBACK would queue behind it, and
        // a call given this client would wait behind it): discard it; the server rolls the transaction
        // back when the connection ends.
        broken = error instanceof Error ? error : new Error(QUERY_READ_TIMEOUT);
      } else {
        await client.query({ text: 'ROLLBACK', ...this.#bound }).catch((e: unknown) => { if (timedOut(e)) broken = e as Error; });
      }
      throw this.#translate(error, client);
    } finally {
      // release(error) ends the connection instead of returning it to the pool.
      client.release(broken);
    }
  }

  async health(): Promise<HealthResult> {
    try {
      // transaction_read_only: on for a hot standby (a failover that left DATABASE_URL on a replica) and under default_transaction_read_only.
      const { rows } = await this.#conn.query<{ version: string; read_only: string }>({ text: `SELECT version(), current_setting('transaction_read_only') AS read_only`, ...this.#bound });
      const version = await this.schemaVersion();
      const details = { server: rows[0]?.version, schema: this.config.schema, schemaVersion: version, pool: { total: this.#conn.totalCount, idle: this.#conn.idleCount } };
      const where = `PostgreSQL ${redactUrl(this.config.url)} schema "${this.config.schema}" (v${version})`;
      if (rows[0]?.read_only === 'on') {
        // Every write would fail (LIMIT_STORAGE_UNAVAILABLE): not ready, so a load balancer sends requests elsewhere.
        const message = `${where} is read-only (a hot standby, or default_transaction_read_only): writes fail; point DATABASE_URL at the primary, writable server`;
        return { status: 'fail', message, checks: [{ name: 'query', status: 'ok' }, { name: 'writable', status: 'fail', message }], details };
      }
      return { status: 'ok', message: where, checks: [{ name: 'query', status: 'ok' }, { name: 'writable', status: 'ok' }], details };
    } catch (error) {
      const message = (this.#translate(error) as Error).message;
      return { status: 'fail', message, checks: [{ name: 'query', status: 'fail', message }] };
    }
  }

  async schemaVersion(): Promise<number> {
    const { rows } = await this.#query<{ v: number | null }>(this.#conn, `SELECT MAX(version) AS v FROM ${this.#s}.schema_migrations`);
    return rows[0]?.v ?? 0;
  }

  // sessions ---------------------------------------------------------------------------------------

  async createSession(input: Session): Promise<Session> {
    const session = validate.session(input);
    await this.#insertSession(this.#conn, session);
    return session;
  }

  async #insertSession(db: Queryable, session: Session): Promise<void> {
    const { data, bytes } = this.#listed(session, 'session');
    try {
      await this.#query(db, `INSERT INTO ${this.#s}.sessions (tenant, id, status, created_ms, data, bytes) VALUES ($1, $2, $3, $4, $5, $6)`, [
        session.tenant, session.id, session.status, timeKey(session.createdAt), data, bytes,
      ]);
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION) throw conflict('session', session.tenant, session.id);
      throw error;
    }
  }

  async getSession(tenant: string, id: string): Promise<Session | null> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    const { rows } = await this.#query<{ data: Session }>(this.#conn, `SELECT data FROM ${this.#s}.sessions WHERE tenant = $1 AND id = $2`, [tenant, id]);
    return rows[0]?.data ?? null;
  }

  async listSessions(tenant: string, query?: SessionQuery): Promise<Page<Session>> {
    validate.tenant(tenant);
    const q = validate.sessionQuery(query);
    const params: unknown[] = [tenant];
    const where = ['tenant = $1'];
    if (q.status) where.push(`status = $${params.push(q.status)}`);
    if (q.after) where.push(`(created_ms, id) < ($${params.push(q.after.t)}, $${params.push(q.after.id)})`);
    return this.#page<{ data: Session }, Session>(['data'], 'sessions', 't.bytes', where, params, q, (r) => r.data);
  }

  /**
   * One page of a listing, newest first: the first `limit + 1` rows of `table` that match `where`,
   * each with its size (`bytes`, an expression on the row `t`: the UTF-8 bytes of its JSON, from sizes
   * stored on each write) and, only for the rows
   * the page takes (PageBuilder's rule, applied in the query), its `columns` — the rows past the
   * page are counted, never converted or sent, so a page of large records transfers about its
   * budget.
   */
  async #page<R extends pg.QueryResultRow, T extends { createdAt: string; id: string }>(
    columns: (keyof R & string)[], table: string, bytes: string, where: string[], params: unknown[], q: { limit: number; maxBytes: number }, read: (row: R) => T,
  ): Promise<Page<T>> {
    const limit = `$${params.push(q.limit)}`;
    const budget = `$${params.push(q.maxBytes)}`;
    const sql = `SELECT ${columns.map((c) => `CASE WHEN k.keep THEN k.${c} END AS ${c}`).join(', ')}, k.bytes, k.keep FROM (
        SELECT p.*, (row_number() OVER w <= ${limit} AND (row_number() OVER w = 1 OR sum(p.bytes) OVER w <= ${budget})) AS keep FROM (
          SELECT ${columns.map((c) => `t.${c}`).join(', ')}, ${bytes} AS bytes, t.created_ms, t.id FROM ${this.#s}.${table} t WHERE ${where.join(' AND ')}
          ORDER BY t.created_ms DESC, t.id DESC LIMIT ${limit} + 1
        ) p WINDOW w AS (ORDER BY p.created_ms DESC, p.id DESC ROWS UNBOUNDED PRECEDING)
      ) k ORDER BY k.created_ms DESC, k.id DESC`;
    const { rows } = await this.#query<R & { bytes: string; keep: boolean }>(this.#conn, sql, params);
    const page = new PageBuilder<T>(q.limit, q.maxBytes);
    for (const row of rows) {
      const bytes = Number(row.bytes);
      if (!row.keep || !page.takes(bytes)) {
        page.end();
        break;
      }
      page.add(read(row), bytes);
    }
    return page.page();
  }

  async closeSession(tenant: string, id: string, closedAt: string): Promise<Session> {
    validate.tenant(tenant);
    assertId(id, 'session id');
    validate.timestamp(closedAt, 'closedAt');
    return this.#tx(`Closing session "${id}"`, async (c) => {
      const { rows } = await this.#query<{ data: Session }>(c, `SELECT data FROM ${this.#s}.sessions WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, id]);
      const session = rows[0]?.data;
      if (!session) throw notFound('session', tenant, id);
      if (session.status === 'closed') return session;
      const closed: Session = { ...session, status: 'closed', closedAt };
      const { data, bytes } = this.#listed(closed, 'session');
      await this.#query(c, `UPDATE ${this.#s}.sessions SET status = 'closed', data = $3, bytes = $4 WHERE tenant = $1 AND id = $2`, [tenant, id, data, bytes]);
      return closed;
    });
  }

  // traces -----------------------------------------------------------------------------------------

  async createTrace(input: Trace): Promise<Trace> {
    const trace = validate.trace(input);
    if (trace.flags.length === 0) await this.#insertTraces(this.#conn, [trace]);
    else await this.#tx(`Creating trace "${trace.id}"`, (c) => this.#insertTraces(c, [trace]));
    return trace;
  }

  /**
   * Inserts traces with one statement however many there are (unnest of column arrays: one round
   * trip and one plan for a 1,000-trace batch), then their flags the same way. An error about one
   * trace (too large, its id or one of its flags' ids already taken) goes through `at` with the
   * trace's position, so that a batch names the op.
   */
  async #insertTraces(db: Queryable, traces: Trace[], at: (error: unknown, k: number) => unknown = (error) => error): Promise<void> {
    const cols: [string[], string[], string[], string[], number[], string[], string[], number[], number[], number[]] = [[], [], [], [], [], [], [], [], [], []];
    const flags: { tenant: string; flag: Flag }[] = [];
    const flagTrace: number[] = [];
    for (let k = 0; k < traces.length; k++) {
      const t = traces[k]!;
      let flagBytes: number;
      let stored: { data: string; bytes: number };
      try {
        // The flags a trace is created with count against its limits as added ones do.
        flagBytes = t.flags.length === 0 ? 0 : flagsBytes(t.flags);
        assertFlagsFit(t.id, { count: 0, bytes: 0 }, { count: t.flags.length, bytes: flagBytes }, this.maxRecordBytes);
        stored = this.#traceData(t);
      } catch (error) {
        throw at(error, k);
      }
      const { data, bytes } = stored;
      cols[7].push(t.flags.length);
      cols[8].push(flagBytes);
      cols[9].push(bytes);
      cols[0].push(t.tenant);
      cols[1].push(t.id);
      cols[2].push(t.sessionId);
      cols[3].push(t.status);
      cols[4].push(timeKey(t.createdAt));
      cols[5].push(data);
      cols[6].push(toStoredJson(JSON.stringify(t.flags)));
      for (const flag of t.flags) {
        flags.push({ tenant: t.tenant, flag });
        flagTrace.push(k);
      }
    }
    try {
      await this.#query(
        db,
        `INSERT INTO ${this.#s}.traces (tenant, id, session_id, status, created_ms, data, flags, flag_count, flag_bytes, data_bytes)
         SELECT a, b, c, d, e, f::jsonb, g::jsonb, h, i, j
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::integer[], $9::bigint[], $10::bigint[]) AS u(a, b, c, d, e, f, g, h, i, j)`,
        cols,
      );
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION) {
        const id = /\(tenant, id\)=\([^,]*, (.*)\) already exists/.exec(String((error as { detail?: string }).detail))?.[1] ?? traces[0]!.id;
        throw at(conflict('trace', traces[0]!.tenant, id), takenAt(traces.map((t) => t.id), id));
      }
      throw error;
    }
    if (flags.length === 0) return;
    try {
      await this.#insertFlagRows(db, flags);
    } catch (error) {
      const taken = error instanceof LimitError && error.code === 'LIMIT_CONFLICT' ? error.details?.id : undefined;
      if (typeof taken !== 'string') throw error;
      throw at(error, flagTrace[takenAt(flags.map((f) => f.flag.id), taken)]!);
    }
  }

  async updateTrace(tenant: string, id: string, patch: TracePatch): Promise<Trace> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const valid = validate.tracePatch(patch);
    return this.#tx(`Updating trace "${id}"`, (c) => this.#updateTrace(c, tenant, id, valid));
  }

  async #updateTrace(db: Queryable, tenant: string, id: string, patch: TracePatch, ifStatus?: Trace['status'], ifFlagCount?: number): Promise<Trace> {
    const { rows } = await this.#query<{ data: Trace; flags: Flag[] }>(db, `SELECT data, flags FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, id]);
    if (!rows[0]) throw notFound('trace', tenant, id);
    const next = applyTracePatch(rowToTrace(rows[0]), patch, ifStatus, ifFlagCount);
    const { data, bytes } = this.#traceData(next);
    await this.#query(db, `UPDATE ${this.#s}.traces SET status = $3, data = $4, data_bytes = $5 WHERE tenant = $1 AND id = $2`, [tenant, id, next.status, data, bytes]);
    return next;
  }

  async getTrace(tenant: string, id: string): Promise<Trace | null> {
    validate.tenant(tenant);
    assertId(id, 'trace id');
    const { rows } = await this.#query<{ data: Trace; flags: Flag[] }>(this.#conn, `SELECT data, flags FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2`, [tenant, id]);
    return rows[0] ? rowToTrace(rows[0]) : null;
  }

  async listTraces(tenant: string, query?: TraceQuery): Promise<Page<Trace>> {
    validate.tenant(tenant);
    const q = validate.traceQuery(query);
    const params: unknown[] = [tenant];
    const where = ['t.tenant = $1'];
    if (q.sessionId !== undefined) where.push(`t.session_id = $${params.push(q.sessionId)}`);
    if (q.statuses) where.push(`t.status = ANY($${params.push(q.statuses)}::text[])`);
    if (q.fromMs !== undefined) where.push(`t.created_ms >= $${params.push(q.fromMs)}`);
    if (q.toMs !== undefined) where.push(`t.created_ms < $${params.push(q.toMs)}`);
    if (q.flagKind) where.push(`EXISTS (SELECT 1 FROM ${this.#s}.flags f WHERE f.tenant = t.tenant AND f.kind = $${params.push(q.flagKind)} AND f.trace_id = t.id)`);
    if (q.after) where.push(`(t.created_ms, t.id) < ($${params.push(q.after.t)}, $${params.push(q.after.id)})`);
    return this.#page<{ data: Trace; flags: Flag[] }, Trace>(['data', 'flags'], 'traces', TRACE_BYTES, where, params, q, rowToTrace);
  }

  /** Locks the trace row (serialising appenders of one trace across connections) or throws NOT_FOUND. */
  async #lockTrace(db: Queryable, tenant: string, traceId: string): Promise<void> {
    const { rowCount } = await this.#query(db, `SELECT 1 FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, traceId]);
    if (!rowCount) throw notFound('trace', tenant, traceId);
  }


  // provenance -------------------------------------------------------------------------------------

  async appendProvenance(tenant: string, input: ProvenanceInput): Promise<ProvenanceEntry> {
    validate.tenant(tenant);
    const valid = validate.provenanceInput(input);
    return retryOnConflict(
      () => this.#txOnce((c) => this.#appendProvenance(c, tenant, valid)),
      { retryable: isRetryable, what: `Provenance append to trace "${valid.traceId}"` },
    );
  }

  /** Inside a transaction: the trace row lock serialises appenders, so the head read is the real head. */
  async #appendProvenance(c: Queryable, tenant: string, valid: ProvenanceInput): Promise<ProvenanceEntry> {
    await this.#lockTrace(c, tenant, valid.traceId);
    const { rows } = await this.#query<{ seq: number; hash: string }>(
      c, `SELECT seq, hash FROM ${this.#s}.provenance WHERE tenant = $1 AND trace_id = $2 ORDER BY seq DESC LIMIT 1`, [tenant, valid.traceId],
    );
    const entry = nextProvenanceEntry(valid, rows[0]);
    const data = this.#record(entry, 'provenance entry');
    await this.#query(c, `INSERT INTO ${this.#s}.provenance (tenant, trace_id, seq, hash, data) VALUES ($1, $2, $3, $4, $5)`, [tenant, valid.traceId, entry.seq, entry.hash, data]);
    return entry;
  }

  async listProvenance(tenant: string, traceId: string): Promise<ProvenanceEntry[]> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const { rows } = await this.#query<{ data: ProvenanceEntry; hash: string }>(this.#conn, `SELECT data, hash FROM ${this.#s}.provenance WHERE tenant = $1 AND trace_id = $2 ORDER BY seq`, [tenant, traceId]);
    // The hash column, which the next append chains onto: one edited apart from its entry does not verify.
    return rows.map((r) => ({ ...r.data, hash: r.hash }));
  }

  async verifyProvenance(tenant: string, traceId: string): Promise<ChainVerification> {
    return verifyProvenanceChain(await this.listProvenance(tenant, traceId));
  }

  // flags, checkpoints, quarantine -----------------------------------------------------------------

  async addFlag(tenant: string, input: Flag): Promise<Flag> {
    validate.tenant(tenant);
    const flag = validate.flag(input);
    await this.#tx(`Adding flag "${flag.id}"`, (c) => this.#addFlag(c, tenant, flag));
    return flag;
  }

  /**
   * Adds the flag to its trace's row only while the totals kept there (flag_count, flag_bytes) stay
   * within MAX_FLAGS_PER_TRACE and maxTraceFlagsBytes: the condition is checked under the row lock the
   * UPDATE takes (and checked again after a concurrent writer's commit), so concurrent adds cannot
   * pass it together, and no flag is read. An UPDATE that matched nothing reads the totals to say why.
   */
  async #addFlag(db: Queryable, tenant: string, flag: Flag): Promise<void> {
    const text = serializeRecord(flag, 'flag', this.maxRecordBytes);
    const bytes = Buffer.byteLength(text, 'utf8');
    const json = toStoredJson(text);
    const maxBytes = maxTraceFlagsBytes(this.maxRecordBytes);
    for (let attempt = 0; ; attempt++) {
      const { rowCount } = await this.#query(
        db,
        `UPDATE ${this.#s}.traces SET flags = flags || jsonb_build_array($3::jsonb), flag_count = flag_count + 1, flag_bytes = flag_bytes + $4
         WHERE tenant = $1 AND id = $2 AND flag_count < $5 AND flag_bytes + $4 <= $6`,
        [tenant, flag.traceId, json, bytes, MAX_FLAGS_PER_TRACE, maxBytes],
      );
      if (rowCount) break;
      const { rows } = await this.#query<{ flag_count: number; flag_bytes: string }>(
        db, `SELECT flag_count, flag_bytes FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2`, [tenant, flag.traceId],
      );
      if (!rows[0]) throw notFound('trace', tenant, flag.traceId);
      const held = { count: rows[0].flag_count, bytes: Number(rows[0].flag_bytes) };
      // Totals only grow, so a refused add is refused here; the loop only guards the impossible.
      if (attempt >= 2) held.count = MAX_FLAGS_PER_TRACE;
      assertFlagsFit(flag.traceId, held, { count: 1, bytes }, this.maxRecordBytes);
    }
    await this.#insertFlagRows(db, [{ tenant, flag }]);
  }

  async #insertFlagRows(db: Queryable, flags: { tenant: string; flag: Flag }[]): Promise<void> {
    const cols: [string[], string[], string[], string[], string[]] = [[], [], [], [], []];
    for (const { tenant, flag } of flags) {
      cols[0].push(tenant);
      cols[1].push(flag.id);
      cols[2].push(flag.traceId);
      cols[3].push(flag.kind);
      cols[4].push(this.#record(flag, 'flag'));
    }
    try {
      // WITH ORDINALITY keeps the flags' order in their seq numbers.
      await this.#query(
        db,
        `INSERT INTO ${this.#s}.flags (tenant, id, trace_id, kind, data)
         SELECT a, b, c, d, e::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(a, b, c, d, e, n) ORDER BY n`,
        cols,
      );
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION) {
        const id = /\(tenant, id\)=\([^,]*, (.*)\) already exists/.exec(String((error as { detail?: string }).detail))?.[1] ?? flags[0]!.flag.id;
        throw conflict('flag', flags[0]!.tenant, id);
      }
      throw error;
    }
  }

  async listFlags(tenant: string, query?: { traceId?: string; kind?: FlagKind }): Promise<Flag[]> {
    validate.tenant(tenant);
    const q = validate.flagQuery(query);
    const params: unknown[] = [tenant];
    const where = ['tenant = $1'];
    if (q.traceId !== undefined) where.push(`trace_id = $${params.push(q.traceId)}`);
    if (q.kind !== undefined) where.push(`kind = $${params.push(q.kind)}`);
    const { rows } = await this.#query<{ data: Flag }>(this.#conn, `SELECT data FROM ${this.#s}.flags WHERE ${where.join(' AND ')} ORDER BY seq`, params);
    return rows.map((r) => r.data);
  }

  async addCheckpoint(tenant: string, input: Checkpoint): Promise<Checkpoint> {
    validate.tenant(tenant);
    const checkpoint = validate.checkpoint(input);
    await this.#addCheckpoint(this.#conn, tenant, checkpoint);
    return checkpoint;
  }

  async #addCheckpoint(db: Queryable, tenant: string, checkpoint: Checkpoint): Promise<void> {
    const data = this.#record(checkpoint, 'checkpoint');
    // One statement: the insert happens only if the trace exists in this tenant.
    const { rowCount } = await this.#query(
      db,
      `INSERT INTO ${this.#s}.checkpoints (tenant, trace_id, data) SELECT $1, $2, $3::jsonb WHERE EXISTS (SELECT 1 FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2)`,
      [tenant, checkpoint.traceId, data],
    );
    if (!rowCount) throw notFound('trace', tenant, checkpoint.traceId);
  }

  async listCheckpoints(tenant: string, traceId: string): Promise<Checkpoint[]> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const { rows } = await this.#query<{ data: Checkpoint }>(this.#conn, `SELECT data FROM ${this.#s}.checkpoints WHERE tenant = $1 AND trace_id = $2 ORDER BY seq`, [tenant, traceId]);
    return rows.map((r) => r.data);
  }

  async setQuarantine(tenant: string, input: QuarantineState): Promise<QuarantineState> {
    validate.tenant(tenant);
    const state = validate.quarantine(input);
    await this.#setQuarantine(this.#conn, tenant, state);
    return state;
  }

  async #setQuarantine(db: Queryable, tenant: string, state: QuarantineState): Promise<void> {
    const data = this.#record(state, 'quarantine state');
    const { rowCount } = await this.#query(
      db,
      `INSERT INTO ${this.#s}.quarantine (tenant, trace_id, quarantined, data)
       SELECT $1, $2, $3, $4::jsonb WHERE EXISTS (SELECT 1 FROM ${this.#s}.traces WHERE tenant = $1 AND id = $2)
       ON CONFLICT (tenant, trace_id) DO UPDATE SET quarantined = excluded.quarantined, data = excluded.data`,
      [tenant, state.traceId, state.quarantined, data],
    );
    if (!rowCount) throw notFound('trace', tenant, state.traceId);
  }

  async getQuarantine(tenant: string, traceId: string): Promise<QuarantineState | null> {
    validate.tenant(tenant);
    assertId(traceId, 'trace id');
    const { rows } = await this.#query<{ data: QuarantineState }>(this.#conn, `SELECT data FROM ${this.#s}.quarantine WHERE tenant = $1 AND trace_id = $2`, [tenant, traceId]);
    return rows[0]?.data ?? null;
  }

  async listQuarantined(tenant: string): Promise<QuarantineState[]> {
    validate.tenant(tenant);
    // By trace id (COLLATE "C": byte order, the order of every backend).
    const { rows } = await this.#query<{ data: QuarantineState }>(this.#conn, `SELECT data FROM ${this.#s}.quarantine WHERE tenant = $1 AND quarantined ORDER BY trace_id`, [tenant]);
    return rows.map((r) => r.data);
  }

  // rate–distortion --------------------------------------------------------------------------------

  async createRdSeries(input: RdSeries): Promise<RdSeries> {
    const series = validate.rdSeries(input);
    const { points, ...rest } = series;
    const data = this.#record(rest, 'RD series');
    const texts = points.map((p) => serializeRecord(p, 'RD point', this.maxRecordBytes));
    const pointBytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t, 'utf8'), 0);
    assertRdPointsFit(series.id, { count: 0, bytes: 0 }, { count: points.length, bytes: pointBytes }, this.maxRecordBytes);
    const pointData = texts.map(toStoredJson);
    await this.#tx(`Creating RD series "${series.id}"`, async (c) => {
      try {
        await this.#query(
          c,
          `INSERT INTO ${this.#s}.rd_series (tenant, id, session_id, data, point_count, point_bytes, next_step) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [series.tenant, series.id, series.sessionId, data, points.length, pointBytes, nextRdStep(points)],
        );
      } catch (error) {
        if (pgCode(error) === UNIQUE_VIOLATION) throw conflict('RD series', series.tenant, series.id);
        throw error;
      }
      if (pointData.length) {
        await this.#query(
          c,
          `INSERT INTO ${this.#s}.rd_points (tenant, series_id, data) SELECT $1, $2, p::jsonb FROM unnest($3::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n`,
          [series.tenant, series.id, pointData],
        );
      }
    });
    return series;
  }

  async appendRdPoint(tenant: string, seriesId: string, input: RdPointInput): Promise<RdPointAppended> {
    validate.tenant(tenant);
    assertId(seriesId, 'RD series id');
    const valid = validate.rdPointInput(input);
    return this.#tx(`Appending to RD series "${seriesId}"`, async (c) => {
      // The lock orders concurrent appenders of one series (every process on the database), so seq
      // order is append order, a point without a step gets the next one, and the totals on the row
      // are checked and kept without reading a point.
      const { rows } = await this.#query<{ point_count: number; point_bytes: string; next_step: string }>(
        c, `SELECT point_count, point_bytes, next_step FROM ${this.#s}.rd_series WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, seriesId],
      );
      if (!rows[0]) throw notFound('RD series', tenant, seriesId);
      const point = withRdStep(seriesId, valid, Number(rows[0].next_step));
      const text = serializeRecord(point, 'RD point', this.maxRecordBytes);
      const bytes = Buffer.byteLength(text, 'utf8');
      const held = { count: rows[0].point_count, bytes: Number(rows[0].point_bytes) };
      assertRdPointsFit(seriesId, held, { count: 1, bytes }, this.maxRecordBytes);
      await this.#query(c, `INSERT INTO ${this.#s}.rd_points (tenant, series_id, data) VALUES ($1, $2, $3)`, [tenant, seriesId, toStoredJson(text)]);
      await this.#query(
        c,
        `UPDATE ${this.#s}.rd_series SET point_count = point_count + 1, point_bytes = point_bytes + $3, next_step = GREATEST(next_step, $4) WHERE tenant = $1 AND id = $2`,
        [tenant, seriesId, bytes, point.step + 1],
      );
      return { seriesId, point, pointCount: held.count + 1, pointBytes: held.bytes + bytes };
    });
  }

  async getRdSeriesSummary(tenant: string, id: string): Promise<RdSeriesSummary | null> {
    validate.tenant(tenant);
    assertId(id, 'RD series id');
    const { rows } = await this.#query<{ data: Omit<RdSeries, 'points'>; point_count: number; point_bytes: string; next_step: string }>(
      this.#conn, `SELECT data, point_count, point_bytes, next_step FROM ${this.#s}.rd_series WHERE tenant = $1 AND id = $2`, [tenant, id],
    );
    const row = rows[0];
    return row ? { ...row.data, pointCount: row.point_count, pointBytes: Number(row.point_bytes), nextStep: Number(row.next_step) } : null;
  }

  async #readRdSeries(db: Queryable, tenant: string, id: string): Promise<RdSeries | null> {
    const { rows } = await this.#query<{ data: Omit<RdSeries, 'points'>; points: RdPoint[] }>(
      db,
      `SELECT s.data, COALESCE((SELECT jsonb_agg(p.data ORDER BY p.seq) FROM ${this.#s}.rd_points p WHERE p.tenant = s.tenant AND p.series_id = s.id), '[]'::jsonb) AS points
       FROM ${this.#s}.rd_series s WHERE s.tenant = $1 AND s.id = $2`,
      [tenant, id],
    );
    // jsonb keeps no key order: the points are given theirs back.
    return rows[0] ? { ...rows[0].data, points: rows[0].points.map(rdPointInOrder) } : null;
  }

  async getRdSeries(tenant: string, id: string): Promise<RdSeries | null> {
    validate.tenant(tenant);
    assertId(id, 'RD series id');
    return this.#readRdSeries(this.#conn, tenant, id);
  }

  async listRdSeries(tenant: string, query?: { sessionId?: string }): Promise<RdSeries[]> {
    validate.tenant(tenant);
    const sessionId = query?.sessionId === undefined ? undefined : assertId(query.sessionId, 'session id');
    const params: unknown[] = [tenant];
    const filter = sessionId === undefined ? '' : `AND s.session_id = $${params.push(sessionId)}`;
    const { rows } = await this.#query<{ data: Omit<RdSeries, 'points'>; points: RdPoint[] }>(
      this.#conn,
      `SELECT s.data, COALESCE((SELECT jsonb_agg(p.data ORDER BY p.seq) FROM ${this.#s}.rd_points p WHERE p.tenant = s.tenant AND p.series_id = s.id), '[]'::jsonb) AS points
       FROM ${this.#s}.rd_series s WHERE s.tenant = $1 ${filter}`,
      params,
    );
    // The contract's order: oldest first by the instant of createdAt (offsets allowed, so not the text), then id.
    return rows.map((r) => ({ ...r.data, points: r.points.map(rdPointInOrder) })).sort(oldestFirst);
  }

  // counters ---------------------------------------------------------------------------------------

  async incrementCounters(tenant: string, deltas: Counters): Promise<void> {
    validate.tenant(tenant);
    const valid = validate.counters(deltas);
    await this.#increment(this.#conn, tenant, valid);
  }

  async #increment(db: Queryable, tenant: string, deltas: Counters): Promise<void> {
    // Sorted names: concurrent multi-counter upserts take row locks in one order and cannot deadlock.
    const names = Object.keys(deltas).sort();
    if (names.length === 0) return;
    try {
      await this.#query(
        db,
        `INSERT INTO ${this.#s}.counters (tenant, name, value) SELECT $1, n, v FROM unnest($2::text[], $3::float8[]) AS u(n, v)
         ON CONFLICT (tenant, name) DO UPDATE SET value = ${this.#s}.counters.value + excluded.value`,
        [tenant, names, names.map((n) => deltas[n]!)],
      );
    } catch (error) {
      // float8 overflow (22003): a sum past the finite numbers. The statement (and a batch's
      // transaction with it) is rolled back; the error names the counter, as every backend's does.
      if (pgCode(error) === '22003') throw await this.#counterOverflow(tenant, names, deltas);
      throw error;
    }
  }

  /**
   * counterNotFinite for the counter of `names` whose stored value plus its delta is not finite (the
   * values read afresh on the pool: the statement's own transaction may be aborted); the first name
   * when they can no longer be read.
   */
  async #counterOverflow(tenant: string, names: string[], deltas: Counters): Promise<LimitError> {
    try {
      const { rows } = await this.#query<{ name: string; value: number }>(this.#conn, `SELECT name, value FROM ${this.#s}.counters WHERE tenant = $1 AND name = ANY($2::text[]) ORDER BY name`, [tenant, names]);
      const over = rows.find((r) => !Number.isFinite(r.value + deltas[r.name]!));
      if (over) return counterNotFinite(over.name, deltas[over.name]!, over.value);
    } catch {
      // The message below still names a counter of the call.
    }
    return counterNotFinite(names[0]!, deltas[names[0]!]!);
  }

  async getCounters(tenant: string): Promise<Counters> {
    validate.tenant(tenant);
    const { rows } = await this.#query<{ name: string; value: number }>(this.#conn, `SELECT name, value FROM ${this.#s}.counters WHERE tenant = $1`, [tenant]);
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  // batch ------------------------------------------------------------------------------------------

  async batch(tenant: string, ops: BatchOp[]): Promise<void> {
    const valid = validate.batch(tenant, ops);
    if (valid.length === 0) return;
    await this.#tx(`Batch of ${valid.length} ops in tenant "${tenant}"`, async (c) => {
      // Counter deltas are summed and applied once, after the other ops, in name order (additions
      // commute; nothing in a batch reads them): batches touching the same counters in another op
      // order (governance's input and output evaluations) would otherwise lock them crosswise.
      let counters: Counters | undefined;
      let countersAt = -1;
      let i = 0;
      while (i < valid.length) {
        const op = valid[i]!;
        if (op.op === 'incrementCounters') {
          if (countersAt < 0) countersAt = i;
          counters = sumCounters(counters, op.deltas);
          i++;
          continue;
        }
        // Runs of createTrace ops go to the database as one multi-row insert.
        let j = i;
        while (j < valid.length && valid[j]!.op === 'createTrace') j++;
        // #insertTraces names the op of the trace that failed; an error about none (the server gone) names the run.
        const run = i;
        let named = false;
        const at = (error: unknown, k: number) => {
          named = true;
          return atBatchOp(error, `batch op ${run + k} (createTrace)`, run + k);
        };
        try {
          if (j > i) {
            await this.#insertTraces(c, valid.slice(i, j).map((o) => (o as Extract<BatchOp, { op: 'createTrace' }>).trace), at);
            i = j;
          } else {
            await this.#apply(c, tenant, op as Exclude<BatchOp, { op: 'incrementCounters' }>);
            i++;
          }
        } catch (error) {
          if (named) throw error;
          throw atBatchOp(error, j - 1 > i ? `batch ops ${i}–${j - 1} (createTrace)` : `batch op ${i} (${op.op})`, i);
        }
      }
      if (counters) {
        try {
          await this.#increment(c, tenant, counters);
        } catch (error) {
          throw atBatchOp(error, `batch op ${countersAt} (incrementCounters)`, countersAt);
        }
      }
    });
  }

  /** One op of a batch (counters excepted: `batch` sums them). */
  async #apply(db: Queryable, tenant: string, op: Exclude<BatchOp, { op: 'incrementCounters' }>): Promise<void> {
    switch (op.op) {
      case 'createSession':
        return this.#insertSession(db, op.session);
      case 'createTrace':
        return this.#insertTraces(db, [op.trace]);
      case 'updateTrace':
        await this.#updateTrace(db, tenant, op.id, op.patch, op.ifStatus, op.ifFlagCount);
        return;
      case 'addFlag':
        return this.#addFlag(db, tenant, op.flag);
      case 'addCheckpoint':
        return this.#addCheckpoint(db, tenant, op.checkpoint);
      case 'setQuarantine':
        return this.#setQuarantine(db, tenant, op.state);
      case 'appendProvenance':
        await this.#appendProvenance(db, tenant, op.input);
        return;
    }
  }
}
