import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES, decimalInt } from 'limit-graph';

/** Env variables arrive as strings; accept the usual spellings of a boolean, refuse anything else. */
const Bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes'),
]);

export const StorageKvOptions = z
  .object({
    /** LMDB environment folder. Default `<dataDir>/kv`. Env LIMIT_KV_PATH. */
    path: z.string().min(1).optional(),
    /**
     * false (default): an acknowledged write is flushed to disk (survives power loss).
     * true: acknowledged once committed to the OS page cache; survives a process crash, but an OS
     * crash or power loss may lose recent commits. Env LIMIT_KV_NO_SYNC.
     */
    noSync: Bool.default(false),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: decimalInt(1024).default(DEFAULT_MAX_RECORD_BYTES),
    /** Initial LMDB map size in bytes (it grows on demand); mostly for tests. */
    mapSize: decimalInt(1 << 20).optional(),
  })
  .strict();

export type StorageKvOptions = z.output<typeof StorageKvOptions>;
