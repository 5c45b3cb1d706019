import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES, booleanText, decimalInt, pathText } from 'limit-graph';

export const StorageFileOptions = z
  .object({
    /** Folder that holds every record. Default `<dataDir>/store`. Env LIMIT_FILE_ROOT. */
    root: pathText().optional(),
    /**
     * true (default): every acknowledged write is fsync'd (file and folder) before the call returns.
     * false: writes are still atomic (temp file + rename) and survive a process crash, but an OS
     * crash or power loss may lose recent ones. Env LIMIT_FILE_FSYNC.
     */
    fsync: booleanText().default(true),
    /** Largest record accepted, as JSON bytes. */
    maxRecordBytes: decimalInt(1024).default(DEFAULT_MAX_RECORD_BYTES),
    /**
     * A store lock from another machine not refreshed for this long (ms) is a dead holder's; the
     * holder refreshes it every third of this (see the README). At most a day: a third of more than
     * setInterval's 2^31-1 ms would make Node refresh the lock every millisecond.
     */
    staleLockMs: decimalInt(1000, 86_400_000).default(30_000),
  })
  .strict();

export type StorageFileOptions = z.output<typeof StorageFileOptions>;
