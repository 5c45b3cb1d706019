/**
 * What every CLI command needs for its arguments and files, so that all commands answer bad input
 * the same way: numeric options, JSON input files validated with a zod schema, and `--out` files
 * that never clobber data by accident.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { constants as fsPromiseConstants, copyFile, link, lstat, mkdir, open, realpath, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { formatIssues } from './config/issues.ts';
import { LimitError, type LimitErrorCode } from './errors.ts';
import { DECIMAL_INTEGER } from './option-schemas.ts';
import type { Runtime } from './runtime.ts';
import { removeAtExit } from './process-cleanup.ts';

// ---------------------------------------------------------------------------------------------
// Numeric options

/** What `parseNumberOption` requires (whole numbers, an inclusive range) and the code of its error. */
export interface NumberOptionSpec {
  /** Only whole numbers. */
  integer?: boolean;
  min?: number;
  max?: number;
  /** The error code (default LIMIT_VALIDATION; RD commands use LIMIT_RD_INVALID_INPUT). */
  code?: LimitErrorCode;
}

// Plain decimal notation only: Number() would also read "" and "  " as 0, "0x1f" as 31 and "1_0" as NaN.
// An integer option takes digits only (DECIMAL_INTEGER, as an option set by a variable): not "1e3", "+5", " 5" or "5.0".
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Parses the value of a numeric option such as `--alpha 0.5`: an empty or non-numeric value, a
 * fraction where a whole number is needed, or a value out of range is a LimitError naming the
 * option and the value, never a silent 0 or NaN.
 */
export function parseNumberOption(option: string, value: string, spec: NumberOptionSpec = {}): number {
  const { integer = false, min, max, code = 'LIMIT_VALIDATION' } = spec;
  const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
  const wanted = `${integer ? 'an integer' : 'a number'}${range}`;
  const n = (integer ? DECIMAL_INTEGER.test(value) : DECIMAL.test(value.trim())) ? Number(value) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n)) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new LimitError(code, `${option} must be ${wanted}, got ${JSON.stringify(value)}`, {
      details: { field: option, value },
      fix: `Pass ${option} <${integer ? 'integer' : 'number'}>${range ? ` (${range.trim()})` : ''}.`,
    });
  }
  return n;
}

/**
 * The value of `--name` in raw arguments (a benchmark's `run(args)`): undefined when the option is
 * absent, a LimitError when it is given without a value (`--scale` last, or followed by `--rounds`).
 */
export function rawOption(args: readonly string[], name: string): string | undefined {
  const option = `--${name}`;
  const i = args.indexOf(option);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) {
    throw new LimitError('LIMIT_VALIDATION', `${option} needs a value`, { details: { field: option }, fix: `Pass ${option} <value>.` });
  }
  return value;
}

/**
 * Parses the value of a text option (`--python`, a path) with an option schema — `pathText()`,
 * `unpaddedText(…)`, or a plugin's own field schema — so that the command line refuses what the
 * config would: a LimitError naming the option and what is wrong (`--python is empty`,
 * `--python: Expected an interpreter name or path without leading or trailing spaces, received " python3"`).
 */
export function parseTextOption<S extends z.ZodType>(option: string, value: string, schema: S, code: LimitErrorCode = 'LIMIT_VALIDATION'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fix = `Pass ${option} <value>, written as it is meant (quote a value with spaces inside it).`;
  if (value === '') throw new LimitError(code, `${option} is empty`, { details: { field: option, value }, fix });
  const issues = formatIssues(result.error.issues, option);
  throw new LimitError(code, `${option}: ${issues.map((i) => i.message).join('; ')}`, { details: { field: option, value, issues: issues.map((i) => i.message) }, fix });
}

/** `parseNumberOption` for an option that may be absent. */
export function optionalNumberOption(option: string, value: string | undefined, spec: NumberOptionSpec = {}): number | undefined {
  return value === undefined ? undefined : parseNumberOption(option, value, spec);
}

// ---------------------------------------------------------------------------------------------
// Input validation

/**
 * Parses `data` (read from `source`, e.g. a file name or `file.jsonl:12`) with a zod schema; the
 * issues become one LimitError listing `source › path.to.field: message`, as config errors do.
 * `path` prefixes the field paths when `data` is a part of the file (`['discrete', 0]`).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  data: unknown,
  source: string,
  options: { code?: LimitErrorCode; path?: readonly (string | number)[] } = {},
): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = formatIssues(result.error.issues, source, options.path ?? []);
  throw new LimitError(options.code ?? 'LIMIT_VALIDATION', issues.length === 1 ? issues[0]!.text : `${source} is invalid:\n  ${issues.map((i) => i.text).join('\n  ')}`, {
    details: { source, issues: issues.map(({ path: p, message }) => ({ path: p, message })) },
    fix: `Correct ${issues.length === 1 ? 'the field' : 'each field'} named above in ${source}.`,
  });
}

// ---------------------------------------------------------------------------------------------
// Input files

/** The largest input file `readInputText` reads by default (64 MiB): input files are read whole. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Options of `readInputText`. */
export interface InputFileOptions {
  /** The option or argument the path came from, for messages (`--input`, `--dataset`). */
  option?: string;
  /** The most bytes to read (default MAX_INPUT_BYTES); a larger file is LIMIT_PAYLOAD_TOO_LARGE. */
  maxBytes?: number;
  /** The code of a refusal that is the file's content or kind, not its absence (default LIMIT_VALIDATION). */
  code?: LimitErrorCode;
}

const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;

/** What a path that is not a regular file is, for messages: `a folder`, `a named pipe (FIFO)`, `a device`, `a socket`. */
export function fileKindOf(info: Stats): string {
  return info.isDirectory() ? 'a folder' : info.isFIFO() ? 'a named pipe (FIFO)' : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : info.isSocket() ? 'a socket' : 'not a regular file';
}

/**
 * Reads an input file of a command as UTF-8 text, refusing clearly — before reading anything —
 * what it cannot read: an empty path, a missing path (LIMIT_NOT_FOUND, `Cannot read <file>: ENOENT`), a folder, a
 * named pipe or a device (which would block or never end), a file larger than `maxBytes`
 * (LIMIT_PAYLOAD_TOO_LARGE: the file is read whole into memory); and after reading, text that is
 * not UTF-8 (naming the first bad line), never silently replaced by U+FFFD. A UTF-8 byte order
 * mark is dropped.
 */
export function readInputText(file: string, options: InputFileOptions = {}): string {
  const { option, maxBytes = MAX_INPUT_BYTES, code = 'LIMIT_VALIDATION' } = options;
  const named = option ? `${option} ${file}` : file;
  const fix = `Pass ${option ? `${option} ` : ''}a readable regular file (relative paths are read from the current directory).`;
  const cannot = (error: unknown): LimitError => {
    const errno = (error as NodeJS.ErrnoException).code;
    return new LimitError(errno === 'ENOENT' || errno === 'ENOTDIR' ? 'LIMIT_NOT_FOUND' : code, `Cannot read ${file}: ${errno ?? (error as Error).message}`, {
      cause: error, details: { file, ...(option ? { field: option } : {}) }, fix: `Check the path (relative paths are read from the current directory) and that the file is readable.`,
    });
  };
  const tooLarge = (size: number): void => {
    if (size <= maxBytes) return;
    throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${named} is ${size > maxBytes + 1 ? mib(size) : `over ${mib(maxBytes)}`}; an input file is read whole into memory and may be at most ${mib(maxBytes)}`, {
      details: { file, bytes: size, maxBytes, ...(option ? { field: option } : {}) },
      fix: `Split the input into files of at most ${mib(maxBytes)}.`,
    });
  };
  const refuse = (info: Stats): void => {
    if (!info.isFile()) {
      throw new LimitError(code, `Cannot read ${file}: it is ${fileKindOf(info)}, not a regular file`, { details: { file, ...(option ? { field: option } : {}) }, fix });
    }
    tooLarge(info.size);
  };
  // `--input ""` (say `--input "$FILE"` with FILE unset) names no file: not `Cannot read : ENOENT`.
  if (file === '') throw new LimitError(code, `${option ?? 'The input file name'} is empty: it names no file`, { details: { file, ...(option ? { field: option } : {}) }, fix });
  let info: Stats;
  try {
    info = statSync(file);
  } catch (error) {
    throw cannot(error);
  }
  refuse(info); // before open(): opening a FIFO for reading blocks until a writer comes
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw cannot(error);
  }
  let bytes: Buffer;
  try {
    refuse(fstatSync(fd)); // the path may have been replaced since statSync
    // Read to the end, whatever the size said (files in /proc report 0), never past maxBytes.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      tooLarge(total);
    }
    bytes = Buffer.concat(chunks, total);
  } catch (error) {
    throw error instanceof LimitError ? error : cannot(error);
  } finally {
    closeSync(fd);
  }
  if (!isUtf8(bytes)) {
    let line = 1;
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(0x0a, start);
      if (!isUtf8(bytes.subarray(start, end < 0 ? bytes.length : end))) break;
      if (end < 0) break;
      line++;
      start = end + 1;
    }
    throw new LimitError(code, `${file}:${line}: is not valid UTF-8 text`, {
      details: { file, line, ...(option ? { field: option } : {}) },
      fix: `Save ${file} as UTF-8 (e.g. iconv -f latin1 -t utf-8).`,
    });
  }
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Where JSON.parse stopped in `text`, as ` at line L, column C` (from the "position N" of its
 * message, or the end of the text for "Unexpected end of JSON input"); '' when it does not say.
 */
export function jsonErrorPlace(text: string, error: unknown): string {
  const at = jsonErrorPosition(text, error);
  return at ? ` at line ${at.line}, column ${at.column}` : '';
}

/** Where JSON.parse stopped in `text` (1-based line and column), as jsonErrorPlace says it; undefined when it does not say. */
export function jsonErrorPosition(text: string, error: unknown): { line: number; column: number } | undefined {
  const message = error instanceof Error ? error.message : '';
  const at = /at position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : /end of JSON input/.test(message) ? text.length : undefined;
  if (offset === undefined || offset > text.length) return undefined;
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

// ---------------------------------------------------------------------------------------------
// Output files

/** A path an output must never replace, and what it is (for the message). */
export interface ProtectedPath {
  path: string;
  /** e.g. "the input file (--input)", "the live store". */
  what: string;
  /** Also refuse anything inside it (a data folder). */
  folder?: boolean;
}

/** Options of `writeOutputFile` and `writeOutputFolder`. */
export interface OutputOptions {
  /** The option the path came from, for messages (default `--out`). */
  option?: string;
  /** Replace an existing file (the command's `--force`). Protected paths are refused even so. */
  force?: boolean;
  /** Paths never to write: the command's input files, the live store (see `storePaths`). */
  protect?: readonly ProtectedPath[];
}

/**
 * The paths of the runtime's live store, as its storage backend reports them in `health().details`:
 * a database `file` (with SQLite's -wal, -shm and -journal next to it), or a store folder (`root`,
 * `path`) with everything inside it. Empty without storage or for a server database.
 */
export async function storePaths(runtime: Runtime): Promise<ProtectedPath[]> {
  if (!runtime.has('storage')) return [];
  const health = await Promise.resolve(runtime.resolve('storage').health()).catch(() => undefined);
  const details = (health?.details ?? {}) as Record<string, unknown>;
  const out: ProtectedPath[] = [];
  for (const key of ['file', 'root', 'path']) {
    const p = details[key];
    if (typeof p !== 'string' || !p || p === ':memory:') continue;
    const resolved = path.resolve(runtime.config.rootDir, p);
    if (key === 'file') for (const s of ['', '-wal', '-shm', '-journal']) out.push({ path: resolved + s, what: `the live database (${resolved + s})` });
    else out.push({ path: resolved, what: `the live store (${resolved})`, folder: true });
  }
  return out;
}

/** The path with symlinks resolved as far as it exists, so that `a/../b` and links compare equal. */
async function canonical(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let head = abs;
  for (;;) {
    try {
      return path.join(await realpath(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

async function refuseProtected(target: string, option: string, protect: readonly ProtectedPath[]): Promise<void> {
  const t = await canonical(target);
  for (const p of protect) {
    const c = await canonical(p.path);
    if (t === c || (p.folder && t.startsWith(c + path.sep))) {
      throw new LimitError('LIMIT_VALIDATION', `${option} ${target} ${t === c ? 'would overwrite' : 'lies inside'} ${p.what}`, {
        details: { field: option, path: target, protected: p.path },
        fix: `Choose another ${option} path; ${p.what} is never written by this command, not even with --force.`,
      });
    }
  }
}

function outError(option: string, target: string, message: string, fix: string, cause?: unknown): LimitError {
  return new LimitError('LIMIT_VALIDATION', `${option} ${target}: ${message}`, { details: { field: option, path: target }, fix, ...(cause ? { cause } : {}) });
}

/** Creates the missing parent folders of `target`, or says clearly why they cannot be. */
async function ensureParent(target: string, option: string): Promise<void> {
  const parent = path.dirname(path.resolve(target));
  try {
    await mkdir(parent, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a part of its folder path is a file, not a folder' : code === 'EACCES' || code === 'EPERM' ? 'its folder cannot be created (permission denied)' : `its folder cannot be created (${code ?? (error as Error).message})`;
    throw outError(option, target, why, `Choose an ${option} path whose parent folders are folders you can write.`, error);
  }
}

/** lstat, or undefined when nothing is there (ENOTDIR: a parent is a file; ensureParent says so). */
async function existing(target: string, option: string): Promise<Stats | undefined> {
  try {
    return await lstat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw outError(option, target, `cannot be examined (${code ?? (error as Error).message})`, `Choose an ${option} path you can read and write.`, error);
  }
}

/** A name next to `target` that nothing else uses: `.<name>.<pid>.<hex>.<suffix>`. */
const besideName = (target: string, suffix: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);

/** Writes `content` to a new file `file` (refused if it exists) and flushes it to disk. */
async function writeNew(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx', 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `content` to a temporary file next to `target` (flushed to disk), then renames it over `target`. */
async function writeAtomic(target: string, content: string | Uint8Array, option: string): Promise<void> {
  const tmp = besideName(target, 'tmp');
  // Removed at exit too: a second Ctrl-C exits at once, past the catch below.
  const release = removeAtExit(tmp);
  try {
    await writeNew(tmp, content);
    await rename(tmp, target);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    throw outError(option, target, `cannot be written (${code ?? (error as Error).message}); nothing was changed`, `Check that the folder of ${option} is writable and has space.`, error);
  } finally {
    release();
  }
}

/**
 * Writes one `--out` file. Refuses a folder, a path that is not a regular file, an existing file
 * unless `force`, and any protected path (the input, the live store) even with `force`. Missing
 * parent folders are created. The content goes to a temporary file first and is renamed into place,
 * so a failure leaves either the old file or none, never half a file.
 */
export async function writeOutputFile(target: string, content: string | Uint8Array, options: OutputOptions = {}): Promise<string> {
  const { option = '--out' } = options;
  await checkOutputFile(target, options);
  await ensureParent(target, option);
  await writeAtomic(target, content, option);
  return target;
}

/**
 * Whether writeOutputFile would accept writing `target`, checked before a command does its work (so
 * that a refusal never comes after it): the same errors, nothing written. writeOutputFile checks
 * again when it writes.
 */
export async function checkOutputFile(target: string, options: OutputOptions = {}): Promise<void> {
  const { option = '--out', force = false, protect = [] } = options;
  if (!target.trim()) throw outError(option, JSON.stringify(target), 'is empty', `Pass ${option} <file>.`);
  await refuseProtected(target, option, protect);
  const info = await existing(target, option);
  if (info?.isDirectory()) throw outError(option, target, 'is a folder; a file path is needed', `Pass a file path, e.g. ${path.join(target, '<name>')}.`);
  if (info && !info.isFile()) throw outError(option, target, 'exists and is not a regular file', `Choose another ${option} path.`);
  if (info && !force) throw outError(option, target, 'already exists', `Pass --force to overwrite it, or choose another ${option} path.`);
}

/**
 * Whether writeOutputFolder would accept writing the files `names` into `target`, checked before a
 * command does its work (so that a refusal never comes after it): the same errors, nothing written.
 * Resolves to whether the folder exists already.
 */
export async function checkOutputFolder(target: string, names: readonly string[], options: OutputOptions = {}): Promise<boolean> {
  const { option = '--out', force = false, protect = [] } = options;
  if (!target.trim()) throw outError(option, JSON.stringify(target), 'is empty', `Pass ${option} <folder>.`);
  const paths = names.map((n) => path.join(target, n));
  await refuseProtected(target, option, protect);
  for (const p of paths) await refuseProtected(p, option, protect);
  const info = await existing(target, option);
  if (info && !info.isDirectory()) throw outError(option, target, 'exists and is not a folder; this writes a folder of files', `Pass a folder path (new or existing) to ${option}.`);
  if (!info) return false;
  const present = [];
  for (const p of paths) {
    const s = await existing(p, option);
    if (s?.isDirectory() || (s && !s.isFile())) throw outError(option, p, 'exists and is not a regular file', `Choose another ${option} folder.`);
    if (s) present.push(p);
  }
  if (present.length && !force) {
    throw outError(option, target, `already holds ${present.map((p) => path.basename(p)).join(', ')}`, `Pass --force to overwrite them, or choose another ${option} folder.`);
  }
  return true;
}

/**
 * Writes `files` into the existing folder `target` all or nothing: every file goes to a temporary
 * file next to its place first (a failure there removes them and changes nothing); then each is
 * renamed into place, the file it replaces kept aside (a hard link, or a copy) until all are in
 * place. A rename refused midway puts the earlier files back and removes the new ones, so the folder
 * never holds a new manifest.json beside old .csv files; should putting back fail too, the error
 * says which files are new.
 */
async function replaceAll(target: string, files: readonly { path: string; content: string }[], option: string): Promise<string[]> {
  const paths = files.map((f) => path.join(target, f.path));
  const staged: { path: string; tmp: string }[] = [];
  const releases: (() => void)[] = [];
  const fix = `Check that the folder of ${option} is writable and has space.`;
  const failed = (error: unknown) => String((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  try {
    try {
      for (const [i, f] of files.entries()) {
        const tmp = besideName(paths[i]!, 'tmp');
        releases.push(removeAtExit(tmp)); // a second Ctrl-C exits at once, past the catch below
        staged.push({ path: paths[i]!, tmp });
        await writeNew(tmp, f.content);
      }
    } catch (error) {
      await Promise.all(staged.map((s) => unlink(s.tmp).catch(() => undefined)));
      throw outError(option, staged.at(-1)!.path, `cannot be written (${failed(error)}); nothing was changed`, fix, error);
    }
    const placed: { path: string; kept?: string }[] = [];
    let keeping: string | undefined;
    try {
      for (const s of staged) {
        keeping = besideName(s.path, 'old');
        try {
          await link(s.path, keeping).catch(async (error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') throw error;
            await copyFile(s.path, keeping!, fsPromiseConstants.COPYFILE_EXCL); // no hard links here
          });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          keeping = undefined; // a new file: nothing to keep
        }
        await rename(s.tmp, s.path);
        placed.push({ path: s.path, ...(keeping ? { kept: keeping } : {}) });
        keeping = undefined;
      }
    } catch (error) {
      if (keeping) await unlink(keeping).catch(() => undefined);
      await Promise.all(staged.map((s) => unlink(s.tmp).catch(() => undefined)));
      const left: string[] = [];
      for (const p of placed.reverse()) {
        await (p.kept ? rename(p.kept, p.path) : unlink(p.path)).catch(() => left.push(p.path));
      }
      const at = staged[placed.length]?.path ?? target;
      throw left.length
        ? outError(option, at, `cannot be written (${failed(error)}); the folder now holds new ${left.map((p) => path.basename(p)).join(', ')} beside the earlier files (they could not be put back)`, `${fix} Then export again with --force.`, error)
        : outError(option, at, `cannot be written (${failed(error)}); nothing was changed`, fix, error);
    }
    await Promise.all(placed.map((p) => (p.kept ? unlink(p.kept).catch(() => undefined) : undefined)));
    return paths;
  } finally {
    for (const release of releases) release();
  }
}

/**
 * Writes files into the `--out` folder (created when missing). Refuses a path that exists and is not
 * a folder, files that already exist in it unless `force`, and protected paths. A new folder is
 * filled under a temporary name and renamed into place; an existing folder gets all the files or,
 * when one cannot be written, none (each written to a temporary file first, then all renamed into
 * place, see `replaceAll`).
 */
export async function writeOutputFolder(target: string, files: readonly { path: string; content: string }[], options: OutputOptions = {}): Promise<string[]> {
  const { option = '--out' } = options;
  const paths = files.map((f) => path.join(target, f.path));
  if (await checkOutputFolder(target, files.map((f) => f.path), options)) return replaceAll(target, files, option);
  await ensureParent(target, option);
  const tmp = path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const release = removeAtExit(tmp);
  try {
    await mkdir(tmp);
    for (const f of files) await writeAtomic(path.join(tmp, f.path), f.content, option);
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof LimitError) throw error;
    throw outError(option, target, `cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); nothing was changed`, `Check that the folder of ${option} is writable and has space.`, error);
  } finally {
    release();
  }
  return paths;
}
