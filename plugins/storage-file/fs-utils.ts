/**
 * File-system primitives of the file backend: atomic replacement (temp + fsync + rename + folder
 * fsync), durable appends, an in-process keyed mutex and a cross-process lock file.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { LimitError } from 'limit-graph';

/** Error codes of a folder that this process may not, or cannot, write to. */
const NOT_WRITABLE: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

/**
 * A failed write (mkdir, create, rename, append) whose cause is the store's folder rather than this
 * backend — no permission, a read-only file system, a full disk — as LIMIT_STORAGE_UNAVAILABLE
 * naming the folder (`details.path`); any other error is returned unchanged. `target` is the file or
 * folder that was being written; the folder named is the one whose entries could not be changed.
 */
export function writeError(error: unknown, target: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof LimitError || code === undefined || !NOT_WRITABLE.has(code)) return error;
  const failed = (error as NodeJS.ErrnoException).path ?? target;
  const dir = path.dirname(failed);
  const [why, fix] = code === 'EROFS'
    ? [`${dir} is on a read-only file system`, 'Remount the file system read-write, or point storage-file at a writable folder (root, LIMIT_FILE_ROOT).']
    : code === 'ENOSPC' || code === 'EDQUOT'
      ? [`no space is left on the device of ${dir}`, 'Free space on that device (or raise the quota), or move the store (root, LIMIT_FILE_ROOT).']
      : [`the folder ${dir} is not writable by this process`, "Give the server's user write permission on the store and everything in it (chown -R, chmod u+w), or point storage-file at a writable folder (root, LIMIT_FILE_ROOT)."];
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store cannot write ${failed}: ${why} (${code})`, {
    plugin: 'storage-file', cause: error, details: { path: dir, file: failed, code }, fix,
  });
}

/** A failed read caused by permissions, as LIMIT_STORAGE_UNAVAILABLE naming the file; other errors unchanged. */
function readError(error: unknown, target: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EACCES' && code !== 'EPERM') return error;
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store cannot read ${target}: it is not readable by this process (${code})`, {
    plugin: 'storage-file', cause: error, details: { path: target, code },
    fix: "Give the server's user read and write permission on the store and everything in it (chown -R, chmod u+rw).",
  });
}

/** Creates and removes a file in `dir`: LIMIT_STORAGE_UNAVAILABLE (see writeError) when the folder cannot be written. */
export async function probeWritable(dir: string): Promise<void> {
  const probe = path.join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await fs.open(probe, 'wx', 0o600);
    await handle.close();
    await fs.rm(probe, { force: true });
  } catch (error) {
    throw writeError(error, probe);
  }
}

/** fsyncs a folder so that a rename or a new entry in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p (new folders 0700) that fsyncs the parent of every folder it created (new folder entries are metadata too). */
export async function ensureDir(dir: string, fsync: boolean): Promise<void> {
  let first: string | undefined;
  try {
    first = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw writeError(error, dir);
  }
  if (!first || !fsync) return;
  // `first` is the top-most folder created; every folder from there down to `dir` is new.
  let current = dir;
  const created: string[] = [];
  while (current.length >= first.length) {
    created.push(current);
    current = path.dirname(current);
  }
  for (const d of created) await fsyncDir(path.dirname(d));
}

/**
 * Replaces `file` with `content` atomically: readers and a crash see the old or the new content,
 * never a mix. With `fsync`, the content and the rename are on disk when this resolves.
 */
export async function atomicWrite(file: string, content: string, fsync: boolean): Promise<void> {
  const dir = path.dirname(file);
  await ensureDir(dir, fsync);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(temp, 'w', 0o600);
  } catch (error) {
    throw writeError(error, temp);
  }
  try {
    await handle.writeFile(content, 'utf8');
    if (fsync) await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw writeError(error, temp);
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw writeError(error, file);
  }
  if (fsync) await fsyncDir(dir);
}

/** Reads a JSON file, or undefined when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readError(error, file);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    // Writes are atomic, so only an edit or a disk fault outside this backend gets here.
    throw new LimitError('LIMIT_STORAGE_CORRUPT', `${file} is not valid JSON: ${(error as Error).message}`, {
      plugin: 'storage-file', cause: error, details: { file },
      fix: 'Restore the file from a backup, or remove it (and its folder) if the record can be lost.',
    });
  }
}

/** Lists a folder's entries, or [] when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw readError(error, dir);
  }
}

/**
 * Async mutex per key, for one process. `lock(keys)` takes several keys in sorted order, so two
 * callers that need overlapping sets never deadlock.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async lock(keys: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) releases.push(await this.#lockOne(key));
    return () => {
      for (const r of releases.reverse()) r();
    };
  }

  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const release = await this.lock(keys);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  async #lockOne(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    return () => {
      release();
      // Drop the entry once nobody queues behind us, so the map does not grow with every key ever used.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}

export interface LockFileOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** A lock older than this is broken even when its pid looks alive (pid reuse). */
  staleMs: number;
}

const HOST = hostname();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock between processes on one machine: the lock file is created with O_EXCL and
 * holds `pid host token time`. A lock whose pid is dead (same host) or that is older than `staleMs`
 * is stale: it is renamed away (only one breaker can win the rename), checked to be the one judged
 * stale, and removed. Resolves with a release function, or rejects after `timeoutMs`.
 */
export async function acquireLockFile(file: string, options: LockFileOptions): Promise<() => Promise<void>> {
  const token = randomBytes(8).toString('hex');
  const content = `${process.pid} ${HOST} ${token} ${Date.now()}\n`;
  const deadline = Date.now() + options.timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      const handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(content, 'utf8');
      } finally {
        await handle.close();
      }
      return async () => {
        // Remove it only while it is still ours (a breaker may have judged us stale after staleMs).
        const current = await fs.readFile(file, 'utf8').catch(() => '');
        if (current === content) await fs.rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError(error, file);
    }
    const seen = await fs.readFile(file, 'utf8').catch(() => null);
    if (seen !== null && (await isStale(file, seen, options.staleMs))) {
      await breakLock(file, seen);
      continue;
    }
    if (Date.now() > deadline) {
      throw Object.assign(new Error(`lock ${file} is held by ${seen?.trim() || 'another process'} for longer than ${options.timeoutMs} ms`), { code: 'ELOCKTIMEOUT' });
    }
    // Backoff capped at a few ms: a holder appending in a loop re-takes the lock at once, so waiters
    // that slept 10–30 ms (the old cap of 20) kept missing it — 3 writers interleaved only 3–8 times
    // in 180 appends under load; with 4 ms, 27–36 times.
    await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    delay = Math.min(delay * 2, 4);
  }
}

async function isStale(file: string, seen: string, staleMs: number): Promise<boolean> {
  const [pid, host, , time] = seen.trim().split(' ');
  const written = Number(time);
  if (!pid || !time) {
    // Created but not yet written (the holder is between open and write), or torn by a crash: judge by age.
    const stat = await fs.stat(file).catch(() => null);
    return stat !== null && Date.now() - stat.mtimeMs > staleMs;
  }
  if (Date.now() - written > staleMs) return true;
  return host === HOST && !pidAlive(Number(pid));
}

async function breakLock(file: string, seen: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke or released it
    throw error;
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => '');
  if (moved !== seen) {
    // Between our read and our rename the stale lock was broken and a live holder took the lock:
    // put the live lock back (link fails if yet another holder exists, which is then the owner).
    await fs.link(aside, file).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}
