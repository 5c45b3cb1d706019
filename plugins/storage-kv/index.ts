/**
 * storage-kv: the Storage contract on an embedded LMDB key-value store (npm `lmdb`), the
 * TypeScript counterpart of sled. Ordered array keys make every list a range scan; LMDB's
 * single-writer lock makes it safe for several processes on one folder.
 */
import path from 'node:path';
import { definePlugin, type EnvOptional } from 'limit-graph';
import { StorageKvOptions } from './options.ts';
import { KvStorage } from './kv-storage.ts';

export { KvStorage, KV_SCHEMA_VERSION } from './kv-storage.ts';
export { StorageKvOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { LIMIT_KV_PATH: 'path', LIMIT_KV_NO_SYNC: 'noSync' } as const;

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'storage-kv': EnvOptional<import('zod').input<typeof StorageKvOptions>, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'storage-kv',
    version: '1.0.0',
    description: 'Embedded key-value storage on LMDB: ordered keys, one transaction per batch, multi-process safe',
    provides: ['storage'],
    env: ENV,
  },
  options: StorageKvOptions,
  setup(ctx, options) {
    const storage = new KvStorage({
      path: path.resolve(ctx.config.rootDir, options.path ?? path.join(ctx.config.dataDir, 'kv')),
      noSync: options.noSync,
      maxRecordBytes: options.maxRecordBytes,
      ...(options.mapSize ? { mapSize: options.mapSize } : {}),
    });
    ctx.provide('storage', storage, { dispose: (s) => s.close() });
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await storage.open();
      ctx.logger.debug({ path: storage.path, schemaVersion: await storage.schemaVersion(), noSync: options.noSync }, 'KV storage open');
    });
    return { health: () => storage.health() };
  },
});
