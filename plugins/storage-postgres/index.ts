/**
 * storage-postgres: every API instance points at one PostgreSQL database (DATABASE_URL); chains,
 * counters and batches stay consistent across instances through constraints and transactions.
 */
import { definePlugin, type EnvOptional } from 'limit-graph';
import { StoragePostgresOptions } from './options.ts';
import { PostgresStorage } from './postgres-storage.ts';

export { PostgresStorage, redactUrl } from './postgres-storage.ts';
export { StoragePostgresOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { DATABASE_URL: 'url', LIMIT_PG_SCHEMA: 'schema' } as const;

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'storage-postgres': EnvOptional<import('zod').input<typeof StoragePostgresOptions>, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'storage-postgres',
    version: '1.0.0',
    description: 'PostgreSQL storage (pg Pool, JSONB) for several API instances on one database',
    provides: ['storage'],
    env: ENV,
  },
  options: StoragePostgresOptions,
  setup(ctx, options) {
    const storage = new PostgresStorage(options);
    ctx.provide('storage', storage, { dispose: (s) => s.close() });
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await storage.open();
      ctx.logger.debug({ schema: storage.schema, schemaVersion: await storage.schemaVersion() }, 'PostgreSQL storage open');
    });
    return { health: () => storage.health() };
  },
});
