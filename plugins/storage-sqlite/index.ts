/**
 * storage-sqlite: the embedded default backend. One SQLite file (WAL) holds every record; several
 * processes may share it (the write lock and primary keys keep provenance chains linear).
 */
import path from 'node:path';
import { LimitError, definePlugin, redactUrl, type EnvOptional } from 'limit-graph';
import { StorageSqliteOptions, parseSqliteUrl } from './options.ts';
import { SqliteStorage } from './sqlite-storage.ts';

export { SqliteStorage } from './sqlite-storage.ts';
export { StorageSqliteOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { DATABASE_URL: 'url' } as const;

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'storage-sqlite': EnvOptional<import('zod').input<typeof StorageSqliteOptions>, typeof ENV>;
  }
}

/**
 * `sqlite://relative/or/absolute.db`, `sqlite:///abs.db`, `file:path` → a file path. The options schema
 * already refuses other URLs (with the config file or env variable they came from); this check stays
 * for direct callers.
 */
export function sqlitePathFromUrl(url: string): string {
  const parsed = parseSqliteUrl(url);
  if ('problem' in parsed) {
    throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `storage-sqlite cannot use the URL ${JSON.stringify(redactUrl(url, '***'))}: ${parsed.problem}`, {
      plugin: 'storage-sqlite',
      fix: 'Set DATABASE_URL to sqlite://<path> or file:<path>, or select the postgres backend (STORAGE_BACKEND=postgres) for postgres:// URLs.',
    });
  }
  return parsed.file;
}

export default definePlugin({
  meta: {
    name: 'storage-sqlite',
    version: '1.0.0',
    description: 'Embedded SQLite storage (better-sqlite3, WAL): the default backend',
    provides: ['storage'],
    env: ENV,
  },
  options: StorageSqliteOptions,
  setup(ctx, options) {
    // path wins over url: a url beside it (DATABASE_URL, say) is not used, and says so (never quoting the URL).
    if (options.path !== undefined && options.url !== undefined) {
      ctx.logger.warn({ path: options.path }, 'storage-sqlite: path is set, so it is the database; the url option (or DATABASE_URL) is not used');
    }
    const file = options.path ?? (options.url ? sqlitePathFromUrl(options.url) : path.join(ctx.config.dataDir, 'limit.db'));
    const storage = new SqliteStorage({
      file: file === ':memory:' ? file : path.resolve(ctx.config.rootDir, file),
      synchronous: options.synchronous,
      busyTimeoutMs: options.busyTimeoutMs,
      maxRecordBytes: options.maxRecordBytes,
    });
    ctx.provide('storage', storage, { dispose: (s) => s.close() });
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await storage.open();
      ctx.logger.debug({ file: storage.file, schemaVersion: await storage.schemaVersion() }, 'SQLite storage open');
    });
    return { health: () => storage.health() };
  },
});
