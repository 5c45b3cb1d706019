import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES } from 'limit-graph';

/** `sqlite://<path>`, `sqlite:<path>`, `file:<path>` or `file://<path>`; group 1 is the path (with any query string). */
export const SQLITE_URL = /^(?:sqlite:\/\/|sqlite:|file:(?:\/\/)?)(.+)$/;

export const StorageSqliteOptions = z
  .object({
    /** Database file; `:memory:` for a private in-memory database. Default `<dataDir>/limit.db`. */
    path: z.string().min(1).optional(),
    /**
     * `sqlite://<path>` or `file:<path>` (env DATABASE_URL); `path` wins when both are set. Any other
     * URL (a `postgres://` one above all) is refused here, so the config loader names where it came from.
     */
    url: z
      .string()
      .min(1)
      .refine((url) => SQLITE_URL.test(url), {
        // The URL itself is not repeated: it may hold a password.
        message: 'Expected sqlite://<path> or file:<path>; a postgres:// URL needs the postgres backend (storage: \'postgres\' or STORAGE_BACKEND=postgres)',
      })
      .optional(),
    /**
     * `normal` (default): acknowledged writes survive a process crash; a power loss or OS crash may
     * roll back the last commits (the file stays consistent). `full`: the WAL is fsync'd at every
     * commit, so acknowledged writes survive power loss too.
     */
    synchronous: z.enum(['normal', 'full']).default('normal'),
    /** How long a write waits for another connection's write lock before LIMIT_STORAGE_UNAVAILABLE (ms). */
    busyTimeoutMs: z.number().int().min(0).max(600_000).default(5_000),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: z.number().int().min(1024).default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export type StorageSqliteOptions = z.output<typeof StorageSqliteOptions>;
