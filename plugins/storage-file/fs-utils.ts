/**
 * File-system primitives of the file backend: atomic replacement (temp + fsync + rename + folder
 * fsync), durable appends, an in-process keyed mutex and the store lock.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { LimitError, fileOnPath, pidAlive } from 'limit-graph';

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

/**
 * A failed read caused by permissions, as LIMIT_STORAGE_UNAVAILABLE naming the file; a folder where
 * the store keeps a file (EISDIR) as LIMIT_STORAGE_CORRUPT naming it (`fix`: how to restore the
 * file); other errors unchanged.
 */
export function readError(error: unknown, target: string, fix?: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EISDIR') {
    return corruptFile(target, 'is a folder where the store keeps a file', {
      cause: error, fix: `Move the folder ${target} out of the store (keep what it holds if it matters); then ${fix ?? 'restore the file from a backup (or leave it missing if the record can be lost), and restart the process'}. Nothing is written over the folder meanwhile.`,
    });
  }
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

/**
 * mkdir -p (new folders 0700) that fsyncs the parent of every folder it created (new folder entries
 * are metadata too). Returns the top-most folder it created (undefined when `dir` existed), for
 * removeCreated when what the folders were made for is refused.
 */
export async function ensureDir(dir: string, fsync: boolean): Promise<string | undefined> {
  let first: string | undefined;
  try {
    first = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw writeError(error, dir);
  }
  if (!first || !fsync) return first;
  // `first` is the top-most folder created; every folder from there down to `dir` is new.
  let current = dir;
  const created: string[] = [];
  while (current.length >= first.length) {
    created.push(current);
    current = path.dirname(current);
  }
  for (const d of created) await fsyncDir(path.dirname(d));
  return first;
}

/**
 * Removes the folders ensureDir created for `dir` (`first`, its return, down to `dir`) that are
 * still empty, deepest first: a create the file system refused leaves no empty folder behind (which
 * would otherwise stay until the tenant's next scan). A folder another write has put something in
 * meanwhile stays, and so do its parents.
 */
export async function removeCreated(dir: string, first: string | undefined): Promise<void> {
  for (const folder of createdFolders(dir, first)) if (!(await removeIfEmpty(folder))) return;
}

/** The folders from `dir` up to `first` (ensureDir's return), deepest first; none when `first` is undefined. */
function createdFolders(dir: string, first: string | undefined): string[] {
  const folders: string[] = [];
  if (first === undefined) return folders;
  for (let current = dir; current.length >= first.length; current = path.dirname(current)) folders.push(current);
  return folders;
}

/**
 * Replaces `file` with `content` atomically: readers and a crash see the old or the new content,
 * never a mix. With `fsync`, the content and the rename are on disk when this resolves.
 */
export async function atomicWrite(file: string, content: string, fsync: boolean): Promise<void> {
  const { temp, created } = await writeTemp(file, content, fsync);
  try {
    await renameTemp(temp, file);
  } catch (error) {
    await removeCreated(path.dirname(file), created);
    throw error;
  }
  if (fsync) await fsyncDir(path.dirname(file));
}

/**
 * Writes `content` to a new temp file beside `file` (its folder created; the file fsync'd with
 * `fsync`) and returns its path, with the top-most folder created for it (see ensureDir): nothing a
 * reader sees has changed yet. Every error a write can meet from the file system (no permission,
 * no space, a file size limit) happens here; on one, the temp file and the folders created for it
 * are removed (removeCreated).
 */
export async function writeTemp(file: string, content: string, fsync: boolean): Promise<{ temp: string; created: string | undefined }> {
  const written = await tryWriteTemp(file, content, fsync);
  if ('error' in written) {
    await removeCreated(path.dirname(file), written.created);
    throw written.error;
  }
  return written;
}

/**
 * writeTemp without removing the folders it made when the write is refused: the refusal comes back
 * with them, for a caller that removes the folders of several writes together (atomicWriteAll).
 */
async function tryWriteTemp(file: string, content: string, fsync: boolean): Promise<{ temp: string; created: string | undefined } | { error: unknown; created: string | undefined }> {
  const dir = path.dirname(file);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`; // TEMP_NAME below
  let created: string | undefined;
  let handle: fs.FileHandle | undefined;
  // Twice at most: a concurrent create refused in a folder this one found (its own, made for it)
  // may have removed it between the two steps (ENOENT); the folder is then made again.
  for (let attempt = 0; !handle; attempt++) {
    try {
      created ??= await ensureDir(dir, fsync);
      handle = await fs.open(temp, 'w', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) continue;
      return { error: writeError(error, temp), created };
    }
  }
  try {
    await handle.writeFile(content, 'utf8');
    if (fsync) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    return { error: writeError(error, temp), created };
  }
  await handle.close();
  return { temp, created };
}

/**
 * The names this backend gives its own scratch files, with the writer's pid: writeTemp's temp files
 * (`<name>.<pid>.<8 hex>.tmp` of a `.json` record, a `provenance.jsonl` chain staged by a batch, or
 * the `provenance.jsonl.torn-<ms>` copy of a torn line), open()'s write probe (`.probe-<pid>-<8
 * hex>`) and health()'s probe (`.health-<pid>-<uuid>.json`). Nothing else matches, so a user's own
 * files are never taken.
 */
const SCRATCH_NAMES = [
  /^(?:.+\.json|provenance\.jsonl(?:\.torn-\d+)?)\.(\d+)\.[0-9a-f]{8}\.tmp$/,
  /^\.probe-(\d+)-[0-9a-f]{8}$/,
  /^\.health-(\d+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/,
];

/**
 * Removes from `dir` the scratch files (SCRATCH_NAMES) of a process that died between writing and
 * renaming (or removing) them; `names` is the folder's listing when the caller has it. Only under
 * the store lock: no other process writes the store then, and this process's own files (its pid)
 * are left alone, since a write of its own may be in flight. Returns how many were removed.
 */
export async function removeStaleScratch(dir: string, names?: readonly string[]): Promise<number> {
  let removed = 0;
  for (const name of names ?? await listDir(dir)) {
    const pid = SCRATCH_NAMES.map((re) => re.exec(name)?.[1]).find((p) => p !== undefined);
    if (pid === undefined || Number(pid) === process.pid) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Removes `dir` if it is empty (a folder a create made before it was refused or its process died); true when it did. */
export async function removeIfEmpty(dir: string): Promise<boolean> {
  try {
    await fs.rmdir(dir);
    return true;
  } catch {
    return false;
  }
}

/** Renames a temp file of writeTemp over `file` (its folder is not fsync'd: the caller does it). */
async function renameTemp(temp: string, file: string): Promise<void> {
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw writeError(error, file);
  }
}

/**
 * Replaces several files, as far as the file system's refusals go all or nothing: every new content
 * is written to its temp file first (a few at a time, so the fsyncs overlap); if any of them fails
 * (no permission, no space, a file size limit), every temp file is removed, nothing visible has
 * changed, and the first error is thrown. `ready` then runs (the batch journal is written there;
 * its failure too removes the temp files), and only then are the temp files renamed into place and
 * their folders fsync'd, once each. An error from here on (a rename refused) leaves part of the
 * files replaced: the caller must finish them from its journal.
 */
export async function atomicWriteAll(entries: readonly (readonly [string, string])[], fsync: boolean, ready: () => Promise<void>): Promise<void> {
  const width = 16;
  const temps: string[] = [];
  /** The folders created for the temp files, removed again (those still empty) if the batch is refused. */
  const made = new Set<string>();
  let failed: { error: unknown } | undefined;
  for (let i = 0; i < entries.length && !failed; i += width) {
    const settled = await Promise.all(entries.slice(i, i + width).map(([file, content]) => tryWriteTemp(file, content, fsync)));
    settled.forEach((r, j) => {
      for (const folder of createdFolders(path.dirname(entries[i + j]![0]), r.created)) made.add(folder);
      if ('error' in r) failed ??= { error: r.error };
      else temps.push(r.temp);
    });
  }
  if (!failed) {
    try {
      await ready();
    } catch (error) {
      failed = { error };
    }
  }
  if (failed) {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
    // Deepest first, so that a folder made for several files (a new session's, for its traces) is empty when its turn comes.
    for (const folder of [...made].sort((a, b) => b.length - a.length)) await removeIfEmpty(folder);
    throw failed.error;
  }
  for (let i = 0; i < entries.length; i += width) {
    await Promise.all(entries.slice(i, i + width).map(([file], j) => renameTemp(temps[i + j]!, file)));
  }
  if (!fsync) return;
  const dirs = [...new Set(entries.map(([file]) => path.dirname(file)))];
  for (let i = 0; i < dirs.length; i += width) await Promise.all(dirs.slice(i, i + width).map(fsyncDir));
}

/** Reads a JSON file, or undefined when it does not exist; `fix`: how to repair this file when it is not JSON. */
export async function readJson<T>(file: string, fix?: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readError(error, file, fix);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    // Writes are atomic, so only an edit or a disk fault outside this backend gets here.
    throw corruptFile(file, `is not valid JSON: ${(error as Error).message}`, { cause: error, ...(fix === undefined ? {} : { fix }) });
  }
}

/** A file's size in bytes, or 0 when it does not exist (a listing then finds no record there). */
export async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw readError(error, file);
  }
}

/**
 * Reads a JSON file that must hold what `check` accepts (check throws, naming what is wrong):
 * undefined when the file does not exist, LIMIT_STORAGE_CORRUPT naming the file for anything else
 * than `what` — `null` included, which is never a record — so that no caller takes damage for a
 * missing record (and writes over it). Returns the value as read.
 */
export async function readRecord<T>(file: string, what: string, check: (value: unknown) => unknown, fix?: string): Promise<T | undefined> {
  const value = await readJson<unknown>(file, fix);
  if (value === undefined) return undefined;
  try {
    check(value);
  } catch (error) {
    throw corruptFile(file, `does not hold ${what}: ${(error as Error).message}`, { cause: error, ...(fix === undefined ? {} : { fix }) });
  }
  return value as T;
}

/** LIMIT_STORAGE_CORRUPT naming a file of the store (and a line of it) that this backend cannot have written. */
export function corruptFile(file: string, problem: string, options: { cause?: unknown; line?: number; fix?: string; details?: Record<string, unknown> } = {}): LimitError {
  const where = options.line === undefined ? file : `${file} line ${options.line}`;
  return new LimitError('LIMIT_STORAGE_CORRUPT', `${where} ${problem}`, {
    plugin: 'storage-file', cause: options.cause, details: { ...options.details, file, ...(options.line === undefined ? {} : { line: options.line }) },
    fix: options.fix ?? 'Restore the file from a backup (or remove it, and its folder, if the record can be lost), then restart the process; nothing is written over it meanwhile.',
  });
}

/**
 * Lists a folder's entries, or [] when it does not exist. A file where the store keeps a folder
 * (`tenants/<t>/sessions` made a file outside the store) is LIMIT_STORAGE_CORRUPT naming that file,
 * not a raw ENOTDIR.
 */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    const file = code === 'ENOTDIR' ? fileOnPath(dir) : undefined;
    if (file !== undefined) throw corruptFile(file, 'is a file where the store keeps a folder', { cause: error });
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

const HOST = hostname();

/** Creates `file` with `content` unless it exists (O_EXCL): false when another holder has it. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw writeError(error, file);
  }
  try {
    await handle.writeFile(content, 'utf8');
  } catch (error) {
    // A lock this open could not fill in (a full disk): an empty one would keep every opener out for
    // staleMs as "an unknown holder". It is ours, just created: remove it.
    await handle.close().catch(() => undefined);
    await fs.rm(file, { force: true });
    throw writeError(error, file);
  }
  await handle.close();
  return true;
}

async function removeIfOurs(file: string, content: string): Promise<void> {
  const current = await fs.readFile(file, 'utf8').catch(() => '');
  if (current === content) await fs.rm(file, { force: true });
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

// ── the store lock ────────────────────────────────────────────────────────────────────────────

/**
 * The processes whose pids this one can check: same host name, same boot, same pid namespace (a
 * container has its own, and may share the host name and the store's volume with another).
 */
const MACHINE = [
  HOST,
  readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
  readOr(() => readlinkSync('/proc/self/ns/pid')),
].join(' ');

function readOr(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

/** Tokens of the store locks this process holds (a lock naming our pid with another token is a dead predecessor's). */
const HELD = new Set<string>();

/**
 * When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat; Linux only,
 * undefined elsewhere or when the process is gone). With the boot id in MACHINE, pid and start
 * time name one process: a pid reused by a later process has another start time.
 */
function processStart(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // The command name (field 2) is in parentheses and may hold spaces or ')': read after the last one.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] || undefined;
}

/** What a store lock file holds. */
interface StoreLockHolder {
  pid: number;
  host: string;
  machine: string;
  token: string;
  since: string;
  /** The holder's start time (processStart), where the system tells it. */
  started?: string;
}

function parseHolder(text: string): StoreLockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<StoreLockHolder> | null;
    return v && Number.isSafeInteger(v.pid) && typeof v.machine === 'string' && typeof v.token === 'string' ? (v as StoreLockHolder) : undefined;
  } catch {
    return undefined;
  }
}

export interface StoreLockOptions {
  /** A lock from another machine whose file was not refreshed for this long (ms) is a dead holder's. */
  staleMs: number;
  /** Called (once) when a held lock turns out to be gone or someone else's: the store must stop writing. */
  onLost: (why: string) => void;
}

/**
 * An exclusive lock on a whole store, held from open() to close(): `file` is created with O_EXCL
 * and holds the holder's pid, host, machine identity, a random token and the time it was taken.
 * While held, its mtime is refreshed every staleMs / 3 and its content checked.
 *
 * An existing lock is a dead holder's, and is broken (renamed away, checked to be the one judged
 * stale, see breakLock) when: it names this machine and a pid that is not running, or running
 * but started at another time than the holder (the pid given to a later process), or this
 * process's pid with a token this process does not hold (a container restarted with the same
 * pid); or it names another machine (whose pids cannot be checked) and was not refreshed for
 * `staleMs`. Any other lock belongs to a live process: LIMIT_STORAGE_UNAVAILABLE naming the store,
 * the lock file and the holder.
 */
export async function acquireStoreLock(file: string, options: StoreLockOptions): Promise<() => Promise<void>> {
  const token = randomBytes(8).toString('hex');
  const started = processStart(process.pid);
  const holder: StoreLockHolder = { pid: process.pid, host: HOST, machine: MACHINE, token, since: new Date().toISOString(), ...(started ? { started } : {}) };
  const content = `${JSON.stringify(holder)}\n`;
  // A few rounds: a stale lock broken here may be taken by another opener first, which then holds it.
  for (let round = 0; ; round++) {
    if (await createExclusive(file, content)) break;
    const seen = await readLock(file);
    // null: released in between.
    if (round < 3 && (seen === null || (await storeLockStale(file, seen, options.staleMs)))) {
      if (seen !== null) await breakLock(file, seen);
      continue;
    }
    throw storeInUse(file, seen ?? '');
  }
  HELD.add(token);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const current = await fs.readFile(file, 'utf8').catch(() => null);
      if (current !== content) {
        clearInterval(timer);
        options.onLost(current === null ? `${file} was removed` : `${file} now names ${describeHolder(current)}`);
        return;
      }
      const now = new Date();
      await fs.utimes(file, now, now).catch(() => undefined);
    })().finally(() => (busy = false));
  }, Math.max(100, Math.floor(options.staleMs / 3)));
  timer.unref();
  return async () => {
    clearInterval(timer);
    HELD.delete(token);
    await removeIfOurs(file, content);
  };
}

/**
 * The content of an existing store lock, or null when it is gone (released in between). A folder
 * there is no lock at all (nor a holder to wait for): LIMIT_STORAGE_CORRUPT naming it, left as it
 * is; an unreadable lock is LIMIT_STORAGE_UNAVAILABLE (readError), not an unknown holder.
 */
async function readLock(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EISDIR') {
      throw corruptFile(file, 'is a folder, not a lock file: no process holds the store through it, and storage-file cannot take its lock while it is there', {
        cause: error, fix: `Move the folder ${file} out of the store (keep what it holds if it matters), then open the store again: storage-file creates its lock file itself.`,
      });
    }
    throw readError(error, file);
  }
}

async function storeLockStale(file: string, seen: string, staleMs: number): Promise<boolean> {
  const holder = parseHolder(seen);
  if (holder?.machine === MACHINE) {
    if (holder.pid === process.pid) return !HELD.has(holder.token);
    if (!pidAlive(holder.pid)) return true;
    // Alive: the holder itself, or a later process that was given its pid.
    const started = holder.started === undefined ? undefined : processStart(holder.pid);
    return started !== undefined && started !== holder.started;
  }
  // Another machine, or a lock being written (or torn by a crash): only its age can tell.
  const stat = await fs.stat(file).catch(() => null);
  return stat !== null && Date.now() - stat.mtimeMs > staleMs;
}

function describeHolder(text: string): string {
  const holder = parseHolder(text);
  if (!holder) return `an unknown holder (${JSON.stringify(text.trim().slice(0, 120))})`;
  return `process ${holder.pid} on ${holder.host} since ${holder.since}`;
}

function storeInUse(file: string, seen: string): LimitError {
  const root = path.dirname(file);
  const holder = parseHolder(seen);
  const details = { root, lockFile: file, ...(holder ? { pid: holder.pid, host: holder.host, since: holder.since } : {}) };
  if (holder?.pid === process.pid && holder.machine === MACHINE) {
    return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store at ${root} is already open in this process (another FileStorage instance, since ${holder.since}; lock file ${file})`, {
      plugin: 'storage-file', details, fix: 'Use the open instance, or close it before opening the store again.',
    });
  }
  return new LimitError('LIMIT_STORAGE_UNAVAILABLE', `The file store at ${root} is in use by ${describeHolder(seen)} (lock file ${file}); storage-file allows one process per store`, {
    plugin: 'storage-file', details,
    fix: `Stop that process (a running \`limit serve\`, say) before opening the store from another one, use its HTTP API instead, or choose storage-sqlite, storage-kv or storage-postgres for several processes. If no such process runs any more, remove ${file}.`,
  });
}
