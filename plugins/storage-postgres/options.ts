import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES, postgresUrl } from 'limit-graph';

/** lockTimeoutMs when not given. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/**
 * idleInTransactionTimeoutMs when not given: this store's transactions pause between statements only
 * for its own work (milliseconds; a migration's backfill, seconds), so a minute idle means a stalled process.
 */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
/** queryTimeoutMs when not given: far above any statement of a healthy server (a large batch included). */
export const DEFAULT_QUERY_TIMEOUT_MS = 120_000;

export const StoragePostgresOptions = z
  .object({
    /** postgres://user:password@host:port/database (env DATABASE_URL). Required: there is no default server. */
    url: postgresUrl(),
    /** Schema holding the tables; created when missing. One schema per deployment (or per test run). */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'Expected a lower-case SQL identifier (letters, digits, "_")').default('public'),
    /** Connections in the pool. */
    poolSize: z.number().int().min(1).max(1000).default(10),
    /** Time to wait for a free connection or a new one before failing (ms). */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /**
     * Longest a statement waits for a row or table lock another transaction holds (a row taken FOR
     * UPDATE, a long batch) before failing with LIMIT_STORAGE_UNAVAILABLE (ms). 0: the server's
     * lock_timeout setting (by default none: a call waits as long as the lock is held). Bounds each lock
     * wait of a migration at open as well (LIMIT_STORAGE_MIGRATION_FAILED naming the sessions holding
     * the schema's tables); the wait for another instance migrating is not (its own lock
     * waits are, and the server ends a frozen one's session after idleInTransactionTimeoutMs).
     */
    lockTimeoutMs: z.number().int().min(0).max(600_000).default(DEFAULT_LOCK_TIMEOUT_MS),
    /**
     * Longest one statement may take (ms): the server cancels it then (the connection's
     * statement_timeout; LIMIT_STORAGE_UNAVAILABLE, the connection kept), and the client, waiting a
     * quarter longer (1 s at most) for a reply, fails the call with LIMIT_STORAGE_UNAVAILABLE and
     * discards the connection: a network that drops silently (no RST/FIN) otherwise leaves the call
     * waiting with no limit. 0: no limit (the server's statement_timeout). Migrations at open are not bound.
     */
    queryTimeoutMs: z.number().int().min(0).max(3_600_000).refine((v) => v === 0 || v >= 100, 'Expected 0 (no limit) or at least 100 ms').default(DEFAULT_QUERY_TIMEOUT_MS),
    /**
     * Longest one of this store's connections may stay idle inside a transaction (ms): the server then
     * ends the session (the connection's idle_in_transaction_session_timeout), rolling the transaction
     * back and freeing its locks. Every transaction is the plugin's own, so such a session is a process
     * stalled mid-transaction (frozen, its event loop blocked), holding locks others wait on — another
     * instance's start waiting to migrate included. 0: the server's setting (none by default).
     */
    idleInTransactionTimeoutMs: z.number().int().min(0).max(3_600_000).refine((v) => v === 0 || v >= 1000, 'Expected 0 (the server\'s setting) or at least 1000 ms').default(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: z.number().int().min(1024).default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export type StoragePostgresOptions = z.output<typeof StoragePostgresOptions>;
