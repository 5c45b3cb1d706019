import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES } from 'limit-graph';

export const StorageSqliteOptions = z
  .object({
    /** Database file; `:memory:` for a private in-memory database. Default `<dataDir>/limit.db`. */
    path: z.string().min(1).optional(),
    /** `sqlite://<path>` or `file:<path>` (env DATABASE_URL); `path` wins when both are set. */
    url: z.string().min(1).optional(),
    /** `normal` (WAL default: a power loss may drop the last commits, never corrupts) or `full` (fsync every commit). */
    synchronous: z.enum(['normal', 'full']).default('normal'),
    /** How long a writer waits for another process's lock before SQLITE_BUSY (ms). */
    busyTimeoutMs: z.number().int().min(0).max(600_000).default(5_000),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: z.number().int().min(1024).default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export type StorageSqliteOptions = z.output<typeof StorageSqliteOptions>;
