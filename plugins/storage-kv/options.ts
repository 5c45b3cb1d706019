import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES, booleanText, decimalInt, pathText } from 'limit-graph';

export const StorageKvOptions = z
  .object({
    /** LMDB environment folder. Default `<dataDir>/kv`. Env LIMIT_KV_PATH. */
    path: pathText().optional(),
    /**
     * false (default): an acknowledged write is flushed to disk (survives power loss).
     * true: acknowledged once committed to the OS page cache; survives a process crash, but an OS
     * crash or power loss may lose recent commits. Env LIMIT_KV_NO_SYNC.
     */
    noSync: booleanText().default(false),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: decimalInt(1024).default(DEFAULT_MAX_RECORD_BYTES),
    /** Initial LMDB map size in bytes (it grows on demand); mostly for tests. */
    mapSize: decimalInt(1 << 20).optional(),
  })
  .strict();

export type StorageKvOptions = z.output<typeof StorageKvOptions>;
