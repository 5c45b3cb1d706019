/**
 * storage-file: the Storage contract on JSON / JSONL files under one root folder, per tenant and
 * per session. Atomic replaces, fsync'd appends, a journal for batches; one process per store (a
 * store lock taken at open).
 */
import path from 'node:path';
import { definePlugin, type EnvOptional } from 'limit-graph';
import { StorageFileOptions } from './options.ts';
import { FileStorage } from './file-storage.ts';

export { FileStorage, FILE_SCHEMA_VERSION } from './file-storage.ts';
export { StorageFileOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { LIMIT_FILE_ROOT: 'root', LIMIT_FILE_FSYNC: 'fsync' } as const;

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'storage-file': EnvOptional<import('zod').input<typeof StorageFileOptions>, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'storage-file',
    version: '1.0.0',
    description: 'JSON/JSONL files under a root folder: atomic writes, fsync, one process per store (store lock)',
    provides: ['storage'],
    env: ENV,
  },
  options: StorageFileOptions,
  setup(ctx, options) {
    const storage = new FileStorage({
      root: path.resolve(ctx.config.rootDir, options.root ?? path.join(ctx.config.dataDir, 'store')),
      fsync: options.fsync,
      maxRecordBytes: options.maxRecordBytes,
      staleLockMs: options.staleLockMs,
      logger: ctx.logger,
    });
    ctx.provide('storage', storage, { dispose: (s) => s.close() });
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await storage.open();
      ctx.logger.debug({ root: storage.root, fsync: options.fsync }, 'file storage open');
    });
    return { health: () => storage.health() };
  },
});
