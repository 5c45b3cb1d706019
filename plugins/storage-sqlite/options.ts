import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES, pathText } from 'limit-graph';

/** `sqlite://<path>`, `sqlite:<path>`, `file:<path>` or `file://<path>`; group 1 is the path (with any query string). */
export const SQLITE_URL = /^(?:sqlite:\/\/|sqlite:|file:(?:\/\/)?)(.+)$/;

/**
 * The query parameters a URL may carry: `mode=rwc` (read, write, create), which is what the store
 * does anyway. better-sqlite3 takes a plain path, so any other parameter (`mode=ro`, `cache=shared`,
 * a typo) would be dropped and the file opened read-write all the same: it is refused instead.
 */
const ACCEPTED_QUERY = 'the only one accepted is mode=rwc, which the store does anyway (it opens the file read-write and creates it); remove the query string';

/** Why the query string (without its `?`) cannot be honoured, or undefined when it can. */
function queryProblem(query: string): string | undefined {
  for (const [name, value] of new URLSearchParams(query)) {
    if (name === 'mode' && value === 'rwc') continue;
    // The value of `mode` is a mode name; other values are not repeated (one may be a key).
    const what = name === 'mode' ? `mode=${JSON.stringify(value).slice(1, -1)}` : JSON.stringify(name);
    const why = name === 'mode' ? ' (a read-only or in-memory open is not offered: storage-sqlite migrates and writes the file)' : '';
    return `Query parameter ${what} is not supported${why}: ${ACCEPTED_QUERY}`;
  }
  return undefined;
}

/**
 * The file a `sqlite://` or `file:` URL names — its path without the query string, %-escapes
 * decoded — or why it names none. A query string may only hold `mode=rwc` (what the store does
 * anyway); any other parameter is a problem naming it, never dropped in silence. A fragment (`#…`)
 * is a problem too (a `#` in the file name is written %23). The problem never
 * repeats the URL: it may hold a password.
 */
export function parseSqliteUrl(url: string): { file: string } | { problem: string } {
  const match = SQLITE_URL.exec(url);
  if (!match?.[1]) return { problem: "Expected sqlite://<path> or file:<path>; a postgres:// URL needs the postgres backend (storage: 'postgres' or STORAGE_BACKEND=postgres)" };
  // In a URL, `#` starts the fragment, which names no part of the file: `sqlite:x.db#a` names x.db by
  // URL rules, while a plain path would be the file "x.db#a". Neither guess is made: it is refused.
  if (match[1].includes('#')) return { problem: 'A URL fragment ("#…") is not supported: it names no part of the file; remove it, or write a "#" in the file name as %23' };
  const q = match[1].indexOf('?');
  let file: string;
  try {
    file = decodeURIComponent(q < 0 ? match[1] : match[1].slice(0, q));
  } catch {
    return { problem: 'Expected a path with well-formed %-escapes (%XX, two hex digits); a "%" in the file name is written %25' };
  }
  // `sqlite://` alone, or a query string alone, would open the root folder or the project folder.
  if (/^\/*$/.test(file)) return { problem: 'Expected a file after the scheme: sqlite://<relative path> or sqlite:///<absolute path>' };
  const problem = q < 0 ? undefined : queryProblem(match[1].slice(q + 1));
  return problem ? { problem } : { file };
}

export const StorageSqliteOptions = z
  .object({
    /** Database file; `:memory:` for a private in-memory database. Default `<dataDir>/limit.db`. */
    path: pathText().optional(),
    /**
     * `sqlite://<path>` or `file:<path>` (env DATABASE_URL); `path` wins when both are set. Any other
     * URL (a `postgres://` one above all), and a query parameter other than `mode=rwc` (`mode=ro`,
     * `cache=shared`: better-sqlite3 takes a plain path, so they would be ignored), is refused here,
     * so the config loader names where it came from.
     */
    url: z
      .string()
      .min(1)
      .superRefine((url, ctx) => {
        const parsed = parseSqliteUrl(url);
        if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
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
