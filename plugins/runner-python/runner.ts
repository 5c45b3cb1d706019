/**
 * The Python runner: one directory (and, as root, one uid) per session, every process started in
 * its own process group, pids cgroup and (without network) network namespace, limits applied by a
 * preamble before user code runs. Warm mode keeps one worker per session speaking JSON lines.
 */
import { constants as fsc, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { LimitError, SessionIdleSweeper, SessionLimits, allInOrder, checkSessionLimits, mapStringsDeep, sha256, toWellFormed, trackProcessGroup, type HealthResult, type LimitErrorCode, type Logger, type RunContext, type RunResult, type Runner, type RunnerCapabilities, type TaskParsed } from 'limit-graph';
import type { RunnerPythonOptions } from './options.ts';
import { PREAMBLE, WORKER } from './python.ts';
import { PidsCgroups, UidClaims, clearUid, findUnshare, killTree, killUid, probeDirName, probeMountns, probeNetns, socketFolders, sweepDeadProbes, untraversableAncestor } from './sandbox.ts';

const SESSION_ID = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$/;
/** The tenant of a boot probe's session (see #probe): its directory keeps its plain `.probe-…` name. */
const PROBE_TENANT = '.probe';
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

interface Platform {
  executable: string;
  version: string;
  /** Absolute path of `unshare`, resolved once at start (never looked up through PATH). */
  unshare: string | undefined;
  /** true, or why network isolation is unavailable. */
  netns: true | string;
  /** true when tasks without allowNetwork get a mount namespace in which `hidden` are empty, or why not. */
  mountns: true | string;
  /** The socket folders hidden (socketFolders()). */
  hidden: string[];
  cgroups: PidsCgroups | string;
  /** true when sessions run as their own uid, or why not. */
  dropUid: true | string;
}

/** The limits in force for one execution: the stricter of the runner's options and the session's. */
export function effectiveLimits(options: RunnerPythonOptions, session: SessionLimits): SessionLimits {
  return {
    timeoutMs: Math.min(options.timeoutMs, session.timeoutMs),
    memoryMb: Math.min(options.memoryMb, session.memoryMb),
    allowNetwork: options.allowNetwork && session.allowNetwork,
    maxConcurrency: Math.min(options.maxConcurrency, session.maxConcurrency),
  };
}

/**
 * task.env keys refused: they change how the dynamic loader or the interpreter starts (task.env is
 * applied after the uid drop, so these could only affect the session's own subprocesses, but a task
 * that sets them almost certainly expects an effect they cannot have safely).
 */
const FORBIDDEN_ENV = /^(LD_|DYLD_)|^(GCONV_PATH|PYTHONHOME|PYTHONPATH|PYTHONSTARTUP|PYTHONINSPECT|PYTHONUSERBASE|PYTHONEXECUTABLE|PYTHONPLATLIBDIR|PYTHONSAFEPATH|PYTHONNOUSERSITE|PYTHONBREAKPOINT)$/;

/** Throws LIMIT_VALIDATION naming the first task.env key that is refused. */
export function checkTaskEnv(env: Record<string, string> | undefined): void {
  if (!env) return;
  for (const [key, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new LimitError('LIMIT_VALIDATION', `task.env: ${JSON.stringify(key)} is not a valid variable name`, { plugin: 'runner-python' });
    }
    if (FORBIDDEN_ENV.test(key.toUpperCase())) {
      throw new LimitError('LIMIT_VALIDATION', `task.env: "${key}" is not allowed (it affects the dynamic loader or the interpreter's start)`, {
        plugin: 'runner-python', fix: 'Remove it from task.env; set paths from the task code (sys.path) instead.',
      });
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new LimitError('LIMIT_VALIDATION', `task.env: the value of "${key}" must be a string without NUL bytes`, { plugin: 'runner-python' });
    }
  }
}

/**
 * Throws LIMIT_VALIDATION naming the first task.args item with a NUL byte: a process argument
 * cannot hold one, and a cold task's args travel NUL-separated on its stdin (see coldStdin).
 */
export function checkTaskArgs(args: readonly string[] | undefined): void {
  const i = args?.findIndex((a) => a.includes('\0')) ?? -1;
  if (i < 0) return;
  throw new LimitError('LIMIT_VALIDATION', `task.args[${i}] contains a NUL byte, which a process argument cannot hold`, {
    plugin: 'runner-python', details: { field: `task.args.${i}` }, fix: 'Remove the NUL byte from the argument (pass binary data in task.files instead).',
  });
}

/**
 * What a cold task's process reads on stdin (see PREAMBLE): each task.env key and value and each
 * task.args item followed by a NUL, task.files as one JSON line (mode execf), then the source; and
 * how many env pairs and args there are, which is all its command line says: /proc/<pid>/cmdline
 * is readable by every user, and another session's task would read them there.
 */
function coldStdin(task: TaskParsed, files: Record<string, string> | undefined): { counts: [env: number, args: number]; input: string } {
  const env = Object.entries(task.env ?? {});
  const args = task.args ?? [];
  const fields = [...env.flat(), ...args].map((f) => `${f}\0`).join('');
  return { counts: [env.length, args.length], input: `${fields}${files ? `${JSON.stringify(files)}\n` : ''}${task.input}` };
}

class Semaphore {
  /** Slots not held; negative after a shrink while more than the new size are held. */
  #free: number;
  #size: number;
  readonly #waiters: { grant: () => void }[] = [];
  constructor(size: number) {
    this.#free = size;
    this.#size = size;
  }
  get size(): number {
    return this.#size;
  }
  /** Changes the number of slots; those held stay held and count against the new size. */
  resize(size: number): void {
    this.#free += size - this.#size;
    this.#size = size;
    while (this.#free > 0 && this.#waiters.length > 0) {
      this.#free--;
      this.#waiters.shift()!.grant();
    }
  }
  /** Resolves with a release function, or with undefined when `signal` fires first. */
  acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    const release = () => {
      const next = this.#free >= 0 ? this.#waiters.shift() : undefined;
      if (next) next.grant();
      else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(once(release));
    }
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined);
      const waiter = { grant: () => { signal.removeEventListener('abort', onAbort); resolve(once(release)); } };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

/** Keeps the first `max` bytes of a stream and counts the rest. */
class CappedBuffer {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  dropped = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    const room = this.max - this.#size;
    if (room >= chunk.length) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    } else {
      if (room > 0) this.#chunks.push(chunk.subarray(0, room));
      this.#size += Math.max(room, 0);
      this.dropped += chunk.length - Math.max(room, 0);
    }
  }
  text(): string {
    const body = Buffer.concat(this.#chunks).toString('utf8');
    return this.dropped > 0 ? `${body}\n${truncationMarker(this.max, this.dropped)}` : body;
  }
}

const truncationMarker = (max: number, dropped: number) => `[limit-graph: output truncated at maxOutputBytes=${max}; ${dropped} bytes dropped]\n`;

type Stop = 'timeout' | 'aborted' | 'closed';

interface Execution {
  readonly stop: AbortController;
  /** Settles when executeIsolated is done with it: its processes reaped, their cgroup's removal begun (#removals). */
  readonly ended: Promise<void>;
  /** The process group of its (cold) process, once launched. */
  pgid?: number;
}

/** One checked entry of task.files: its name as given and its path parts below the session directory. */
interface FilePlan {
  name: string;
  parts: string[];
  content: string;
}

const refuseFile = (name: string, why: string) =>
  new LimitError('LIMIT_VALIDATION', `task.files: "${name}" ${why}; nothing was written`, { plugin: 'runner-python' });

interface SessionState {
  readonly id: string;
  /** The tenant whose session this is: the id alone does not say (storage keys sessions by both). */
  readonly tenant: string;
  readonly dir: string;
  readonly tmp: string;
  /** The session's own uid (sandboxUser), claimed when it is prepared: no other live session holds it. */
  uid: number | undefined;
  python: string;
  venvDir: string | undefined;
  prepared: Promise<void> | undefined;
  /** Aborted by closeSession: a preparation still going (a per-session venv) stops, and is awaited before the files go. */
  readonly closing: AbortController;
  worker: Worker | undefined;
  /**
   * Why the session's last worker that ran a task is gone (killed at a stop, crashed, replaced for
   * other limits), its globals with it: said on the first task of the next worker (see #runWarm).
   */
  lost: string | undefined;
  /** The session's slots: one limiter for its life, resized when its maxConcurrency changes (tasks holding a slot stay counted). */
  readonly sem: Semaphore;
  readonly running: Set<Execution>;
  /** When a task of the session last started or ended (performance.now()): idle expiry (sessionIdleMs). */
  usedAt: number;
  /** The uid sweep after a cold task's end (see #sweep) while it runs; awaited by the close. */
  sweeping: Promise<void> | undefined;
  /** A cold task ended while the sweep ran: it goes over /proc once more when done. */
  sweepAgain: boolean;
}

interface Launched {
  child: ResultPromise;
  cgroupDir: string | undefined;
  exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  /** Releases the process group from the kernel's exit cleanup (see trackProcessGroup) once it is reaped. */
  untrack: () => void;
}

interface WorkerResponse {
  id: number;
  ok: boolean;
  value?: unknown;
  /** `exitCode`: the task ended with sys.exit, with this status (not 0). */
  error?: { type: string; message: string; memory?: boolean; exitCode?: number };
  /** Bytes past maxOutputBytes that the worker did not send of what the task wrote to sys.stdout/sys.stderr. */
  dropped?: { stdout: number; stderr: number };
}

/** An uncaught exception as the process itself reported it (cold: fd 3; warm: the reply's error). */
interface Report {
  memory: boolean;
  type: string;
  message: string;
}

const REPORT_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r' };

/**
 * The cold preamble's report line `memory|error<TAB>type<TAB>message`, or undefined when there is
 * none. The message has its backslashes, newlines, tabs and CRs escaped (`\\`, `\n`, `\t`, `\r`).
 */
function parseReport(text: string): Report | undefined {
  const line = text.split('\n').find((l) => /^(memory|error)\t/.test(l));
  if (!line) return undefined;
  const [kind, type = '', ...message] = line.split('\t');
  const unescaped = message.join('\t').replace(/\\([\\ntr])/g, (_, c: string) => REPORT_ESCAPES[c] ?? c);
  return { memory: kind === 'memory', type, message: unescaped };
}

/** Added to the message of a warm task stopped while it ran: its worker was killed with it. */
const WORKER_LOST = " — with the session's Python worker: its globals are lost and the next task starts a fresh worker";

const memoryMessage = (limits: SessionLimits, r: { type: string; message: string }) =>
  `the task exceeded memoryMb=${limits.memoryMb} MB (${r.type}${r.message ? `: ${r.message}` : ''})`;

/**
 * The worker answered with a line that is not JSON while a task waited: its protocol on fd 3 is
 * broken (user code wrote there). The worker is replaced; the message says what came.
 */
class WorkerProtocolError extends LimitError {
  constructor(line: string, cause: Error) {
    const start = line.length > 80 ? `${JSON.stringify(line.slice(0, 80))}…` : JSON.stringify(line);
    super('LIMIT_RUNNER_FAILED', `runner-python: the session's Python worker sent a reply line that is not JSON (${cause.message}): ${start}`, {
      plugin: 'runner-python',
      cause,
      fix: "Do not write to file descriptor 3 in a warm session's code: it is the worker's reply channel (print to sys.stdout or sys.stderr instead).",
    });
  }
}

class WorkerExited extends Error {
  constructor(readonly exitCode: number | null, readonly signal: NodeJS.Signals | null, readonly stderrTail: string) {
    super(`the Python worker exited (${signal ? `signal ${signal}` : `exit code ${exitCode}`})`);
  }
}

/** A warm Python process of one session. One request at a time (the session's semaphore guarantees it). */
class Worker {
  dead = false;
  /** Whether a task was sent to it (it may hold globals). */
  ran = false;
  readonly ready: Promise<void>;
  #nextId = 1;
  #pending: { id: number; resolve: (r: WorkerResponse) => void; reject: (e: Error) => void } | undefined;
  /** The current task's fd 1/2 (sys.stdout/sys.stderr go there too), one capped stream each. */
  #output: { out: CappedBuffer; err: CappedBuffer } | undefined;
  #stderrTail = '';

  constructor(readonly launched: Launched, readonly key: string, maxOutputBytes: number) {
    const { child } = launched;
    const proto = child.stdio[3] as Readable;
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    // A reply holds at most two fields of maxOutputBytes each (value, error: the output travels on
    // fd 1/2), which JSON's \uXXXX escapes make up to six times longer; a longer line is user code
    // writing to the reply channel, and is not kept whole (an unbounded line would grow this process's memory).
    const maxLine = 12 * maxOutputBytes + 65_536;
    boundedLines(proto, maxLine, (line) => {
      let message: WorkerResponse & { ready?: boolean };
      try {
        message = JSON.parse(line) as WorkerResponse & { ready?: boolean };
      } catch (error) {
        // The worker itself writes only JSON (NaN and Infinity included: it refuses them), so a line
        // that does not parse is user code writing to fd 3 or a reply broken by it. The task waiting
        // for its reply fails now instead of at its timeout; with no task waiting there is nobody to tell.
        const pending = this.#pending;
        if (pending) {
          this.#pending = undefined;
          pending.reject(new WorkerProtocolError(line, error as Error));
        }
        return;
      }
      if (message.ready) return markReady();
      const pending = this.#pending;
      if (pending && message.id === pending.id) {
        this.#pending = undefined;
        // Half a surrogate pair (a str the task made from bytes) becomes U+FFFD, as in a cold run's
        // output: JSON.stringify escapes exactly those, so the raw line says whether there is one.
        pending.resolve(/\\u[dD][89a-fA-F]/.test(line) ? mapStringsDeep(message, toWellFormed) : message);
      }
    }, (start) => {
      const pending = this.#pending;
      if (pending) {
        this.#pending = undefined;
        pending.reject(new WorkerProtocolError(start, new Error(`a line longer than ${maxLine} bytes`)));
      }
    });
    // Everything on fd 1/2 belongs to the current task: what went through sys.stdout/sys.stderr (the
    // worker waits until it has been read here before it replies) and what was written there directly.
    child.stdout!.on('data', (b: Buffer) => this.#output?.out.push(b));
    child.stderr!.on('data', (b: Buffer) => {
      this.#output?.err.push(b);
      this.#stderrTail = (this.#stderrTail + b.toString('utf8')).slice(-4096);
    });
    void launched.exited.then(({ exitCode, signal }) => {
      this.dead = true;
      const error = new WorkerExited(exitCode, signal, this.#stderrTail);
      failReady(error);
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(error);
    });
    this.maxOutputBytes = maxOutputBytes;
  }
  private readonly maxOutputBytes: number;

  request(req: { code: string; args: string[]; env?: Record<string, string>; files?: Record<string, string> }): Promise<WorkerResponse> {
    if (this.dead) return Promise.reject(new WorkerExited(null, null, this.#stderrTail));
    const id = this.#nextId++;
    this.ran = true;
    this.#output = { out: new CappedBuffer(this.maxOutputBytes), err: new CappedBuffer(this.maxOutputBytes) };
    return new Promise<WorkerResponse>((resolve, reject) => {
      this.#pending = { id, resolve, reject };
      (this.launched.child.stdin as Writable).write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  /**
   * The last task's stdout and stderr as read so far (after a crash, once the pipes are drained:
   * what it wrote before it died), `dropped` being what the worker itself did not send.
   */
  output(dropped?: { stdout: number; stderr: number }): { stdout: string; stderr: string } {
    const o = this.#output;
    if (!o) return { stdout: '', stderr: '' };
    o.out.dropped += dropped?.stdout ?? 0;
    o.err.dropped += dropped?.stderr ?? 0;
    this.#output = undefined;
    return { stdout: o.out.text(), stderr: o.err.text() };
  }
}

/** The `[sys.executable, version]` a Python 3 interpreter prints as its last line at start, or undefined for anything else. */
function interpreterInfo(stdout: string): [string, string] | undefined {
  try {
    const info: unknown = JSON.parse(stdout.trim().split('\n').pop()!);
    if (Array.isArray(info) && info.length === 2 && typeof info[0] === 'string' && info[0] !== '' && typeof info[1] === 'string' && /^3\./.test(info[1])) return info as [string, string];
  } catch {
    // not JSON: not Python's answer
  }
  return undefined;
}

export interface PythonRunnerInit {
  options: RunnerPythonOptions;
  workDir: string;
  logger?: Logger;
}

export class PythonRunner implements Runner {
  readonly name = 'python';
  readonly options: RunnerPythonOptions;
  readonly workDir: string;
  readonly #logger: Logger | undefined;
  readonly #sessions = new Map<string, SessionState>();
  readonly #global: Semaphore;
  #platform: Promise<Platform> | undefined;
  #resolved: Platform | undefined;
  #closed = false;
  readonly #removals = new Set<Promise<void>>();
  /**
   * The closes under way, by session id (closeSession, idle expiry): a task of the id arriving
   * meanwhile gets a new session, which waits for the close to end before it prepares its
   * directory — the close kills the session uid's processes and removes the directory, and would
   * otherwise take the new session's worker and files with it.
   */
  readonly #closes = new Map<string, Promise<void>>();
  /**
   * Idle expiry (sessionIdleMs): a session with no task started or ended for that long, and none
   * running or waiting, is closed as by closeSession (its warm worker stopped, its processes
   * killed, its directory removed when removeSessionFiles is on). A task of the id arriving later
   * starts a new, empty session (after the close has ended, see #closes).
   */
  readonly #idle: SessionIdleSweeper<SessionState>;
  /** Which session directory holds which uid (workDir/.uids, 0700): one live session per uid, across processes. */
  readonly #uids: UidClaims;

  constructor(init: PythonRunnerInit) {
    this.options = init.options;
    this.workDir = path.resolve(init.workDir);
    this.#uids = new UidClaims(path.join(this.workDir, '.uids'), init.options.uidRangeStart, init.options.uidRangeSize);
    this.#logger = init.logger;
    this.#global = new Semaphore(init.options.maxConcurrency);
    this.#idle = new SessionIdleSweeper({
      plugin: 'runner-python',
      idleMs: init.options.sessionIdleMs,
      sessions: this.#sessions,
      idleSince: (state) => (state.running.size > 0 ? undefined : state.usedAt),
      close: (id, tenant) => this.closeSession(id, tenant),
      logger: init.logger,
    });
  }

  get capabilities(): RunnerCapabilities {
    const p = this.#resolved;
    return {
      timeout: true,
      memoryLimit: process.platform === 'linux',
      networkIsolation: p?.netns === true && p.mountns === true,
      // Without a uid of its own a task runs as the server's uid and reads /proc/<server pid>/environ.
      envControl: p?.dropUid === true,
      concurrencyLimit: true,
      fileIsolation: p?.dropUid === true,
      processLimit: p !== undefined && (p.cgroups instanceof PidsCgroups || p.dropUid === true),
      outputLimit: true,
    };
  }

  /**
   * Probes the platform (interpreter, namespaces, cgroups, uids) and proves the launch chain works.
   * A success is kept; a failure is not: the calls waiting on that probe get its error, and the next
   * use probes again (an interpreter installed since, a workDir fixed) instead of failing every
   * task and health check until the process restarts.
   */
  start(): Promise<Platform> {
    if (!this.#platform) {
      const probe = this.#probe().then((p) => (this.#resolved = p));
      this.#platform = probe;
      probe.catch(() => {
        if (this.#platform !== probe) return;
        this.#platform = undefined;
        this.#resolved = undefined; // set part-way through the probe; the capabilities must not claim it
      });
    }
    return this.#platform;
  }

  async #probe(): Promise<Platform> {
    const o = this.options;
    const interpreter = o.venvPath ? path.join(o.venvPath, 'bin', 'python') : o.python;
    if (o.venvPath && !existsSync(interpreter)) {
      throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: venvPath "${o.venvPath}" has no bin/python`, {
        plugin: 'runner-python', fix: 'Point venvPath at a directory made by `python3 -m venv`.',
      });
    }
    const info = await execa(interpreter, ['-E', '-s', '-c', 'import sys, json; print(json.dumps([sys.executable, sys.version.split()[0]]))'], { reject: false, timeout: 30_000 });
    if (info.failed) {
      throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: the interpreter "${interpreter}" does not run: ${info.stderr || info.shortMessage}`, {
        plugin: 'runner-python', fix: 'Set the `python` option to an installed Python 3 (e.g. /usr/bin/python3).', cause: info,
      });
    }
    // A program that exits 0 without being Python (a shim, `true`, a wrapper that prints a banner)
    // says so here, naming itself, not as a bare JSON.parse error at boot.
    const [resolved, version] = interpreterInfo(info.stdout) ?? [];
    if (resolved === undefined || version === undefined) {
      const said = info.stdout.trim().replace(/\s+/g, ' ').slice(0, 120);
      throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: the interpreter "${interpreter}" is not Python 3: asked for its path and version, it printed ${said ? JSON.stringify(said) : 'nothing'}`, {
        plugin: 'runner-python', fix: 'Set the `python` option (or LIMIT_PYTHON, or venvPath) to an installed Python 3 (e.g. /usr/bin/python3).',
      });
    }
    // 3.7 at least: the preamble needs TextIOWrapper.reconfigure (3.7); an older Python 3 would pass
    // the question above and then fail every start with an AttributeError.
    const [major, minor] = version.split('.').map(Number);
    if (major === 3 && (minor === undefined || !(minor >= 7))) {
      throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: the interpreter "${interpreter}" is Python ${version} (${resolved}); runner-python needs Python 3.7 or later`, {
        plugin: 'runner-python', fix: `Set the \`python\` option (or LIMIT_PYTHON${o.venvPath ? ', or venvPath' : ''}) to Python 3.7 or later (e.g. /usr/bin/python3).`,
      });
    }
    // A venv's python must be started by its own path (pyvenv.cfg is found next to it); a base
    // interpreter is started by its real path, which skips wrappers such as pyenv's shell shims.
    const executable = o.venvPath ? interpreter : resolved;

    let dropUid: true | string;
    if (o.sandboxUser === 'none') dropUid = 'sandboxUser is "none"';
    else if (!IS_ROOT) {
      if (o.sandboxUser === 'per-session') {
        throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', 'runner-python: sandboxUser "per-session" needs the server to run as root', {
          plugin: 'runner-python', fix: 'Run as root (e.g. in a container) or set sandboxUser to "auto" or "none".',
        });
      }
      dropUid = 'the server does not run as root, so sessions share its uid';
    } else if (o.createVenv === 'per-session') {
      // Root starts each session's interpreter; a per-session venv's bin/python would be a file the
      // session's uid owns, so a task could replace what root runs next. Not combined, then.
      const reason = 'createVenv "per-session" puts the interpreter root starts in a folder the session owns, so sessions run without their own uid';
      if (o.sandboxUser === 'per-session') {
        throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: sandboxUser "per-session" cannot be combined with ${reason.split(',')[0]}`, {
          plugin: 'runner-python', fix: 'Use venvPath (one venv that root owns, shared by the sessions) with per-session uids, or sandboxUser: "auto" to run per-session venvs without them.',
        });
      }
      dropUid = reason;
    } else dropUid = true;

    await mkdir(this.workDir, { recursive: true, mode: 0o711 });
    if (dropUid === true) {
      await chmod(this.workDir, 0o711);
      const blocked = await untraversableAncestor(this.workDir);
      if (blocked) {
        const reason = `session uids cannot reach workDir "${this.workDir}": "${blocked}" is not traversable (o+x)`;
        if (o.sandboxUser === 'per-session') {
          throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: ${reason}`, {
            plugin: 'runner-python', fix: `Set workDir outside "${blocked}" (e.g. /var/lib/limit/sessions), chmod o+x "${blocked}", or set sandboxUser: "none".`,
          });
        }
        dropUid = reason;
      }
    }
    if (dropUid === true) {
      // A session must never run as a real account's uid (it could read and change that user's files).
      const taken = await accountsInRange(o.uidRangeStart, o.uidRangeSize);
      if (taken.length > 0) {
        throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: uidRangeStart=${o.uidRangeStart}, uidRangeSize=${o.uidRangeSize} (uids ${o.uidRangeStart}–${o.uidRangeStart + o.uidRangeSize - 1}) include the uid of account(s) in /etc/passwd: ${taken.slice(0, 5).join(', ')}; sessions could run as them`, {
          plugin: 'runner-python', fix: 'Set uidRangeStart (and uidRangeSize) to a range no account in /etc/passwd uses.',
        });
      }
    }
    if (dropUid === true) {
      // (dropUid may have been demoted above.) The interpreter's own files must be readable by other uids (a pyenv build under /root is not).
      const probeUid = o.uidRangeStart;
      // fd 3 is the preamble's report pipe: an uncaught exception is reported there even when the uid
      // cannot import what printing a traceback needs (then stderr stays empty).
      const r = await execa(executable, ['-E', '-s', '-c', PREAMBLE, 'exec', '', '0', String(probeUid), '0', '0', '0', ''], {
        reject: false, timeout: 30_000, cwd: '/', input: 'import ast, email.message, decimal\nprint("ok")\n', extendEnv: false, env: {},
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      });
      if (r.exitCode !== 0 || r.stdout.trim() !== 'ok') {
        const report = parseReport(String(r.stdio[3] ?? ''));
        const why = report ? `${report.type}: ${report.message}` : String(r.stderr).trim().split('\n').pop() || (r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`);
        const reason = `the interpreter ${executable} does not work as an unprivileged uid (${why}); install Python where other users can read it (e.g. /usr/bin/python3)`;
        if (o.sandboxUser === 'per-session') {
          throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: sandboxUser "per-session": ${reason}`, { plugin: 'runner-python', fix: 'Set `python` to an interpreter readable by all users, or sandboxUser: "auto".' });
        }
        dropUid = reason;
      }
    }
    const unshare = findUnshare();
    const netns = await probeNetns(executable, unshare);
    // Unix sockets on disk are outside the network namespace: only a mount namespace hides them, and
    // only from a task that is not root there (root could unmount what hides them).
    const hidden = socketFolders();
    const mountns = netns !== true ? 'no network namespace'
      : !IS_ROOT ? 'the server does not run as root: mounting needs root, and under `unshare -r` a task stays root in its namespace and could unmount what hides them'
      : dropUid !== true ? `tasks keep root (${dropUid}) and could unmount what hides them`
      : await probeMountns(executable, unshare!, hidden, this.workDir);
    const cgroups = o.cgroupRoot === 'none' ? 'cgroupRoot is "none"' : await PidsCgroups.probe(o.cgroupRoot);
    const platform: Platform = { executable, version, unshare, netns, mountns, hidden, cgroups, dropUid };
    this.#resolved = platform;

    // Prove the whole launch chain (namespace, cgroup, rlimits, uid) with a real task.
    await sweepDeadProbes(this.workDir);
    const state = this.#newState(probeDirName(), PROBE_TENANT, platform);
    try {
      await this.#prepare(state);
      const memoryMb = Math.min(o.memoryMb, 512);
      const launched = await this.#launch(platform, state, 'exec', { timeoutMs: 30_000, memoryMb, allowNetwork: false, maxConcurrency: 1 }, [0, 0]);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const rep: Buffer[] = [];
      launched.child.stdout!.on('data', (b: Buffer) => out.push(b));
      launched.child.stderr!.on('data', (b: Buffer) => err.push(b));
      // The preamble's report of an uncaught exception: under a small memoryMb the traceback itself
      // may not print (stderr stays empty), but the report says what failed.
      (launched.child.stdio[3] as Readable).on('data', (b: Buffer) => rep.push(b));
      (launched.child.stdin as Writable).end('import os, ast, email.message\nprint("uid", os.getuid())\n');
      const exit = await launched.exited;
      await this.#reap(launched, true);
      if (exit.exitCode !== 0) {
        const report = parseReport(Buffer.concat(rep).toString());
        const stderr = Buffer.concat(err).toString().trim().split('\n').slice(-3).join(' | ');
        const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.exitCode}`;
        if (report?.memory) {
          throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: the sandboxed interpreter does not start under memoryMb=${memoryMb} (RLIMIT_AS): importing a few standard modules failed with ${report.type}${report.message ? `: ${report.message}` : ''}`, {
            plugin: 'runner-python', fix: 'Raise the memoryMb option of runner-python (64 or more leaves room for real tasks).',
          });
        }
        const why = report ? `${report.type}${report.message ? `: ${report.message}` : ''}` : stderr || how;
        throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `runner-python: the sandboxed interpreter does not start (${how}): ${why}`, {
          plugin: 'runner-python', fix: 'Read the Python error; set sandboxUser: "none" or cgroupRoot: "none" if the sandbox is the cause.',
        });
      }
    } finally {
      await this.#removeFiles(state);
    }
    this.#logger?.info({ python: executable, version, netns: netns === true, mountns: mountns === true, cgroups: cgroups instanceof PidsCgroups, dropUid: dropUid === true }, 'runner-python ready');
    return platform;
  }

  async health(): Promise<HealthResult> {
    let p: Platform;
    try {
      p = await this.start();
    } catch (error) {
      return { status: 'fail', message: (error as Error).message, checks: [{ name: 'python', status: 'fail', message: (error as Error).message }] };
    }
    const o = this.options;
    const caps = this.capabilities;
    const check = (key: keyof RunnerCapabilities, okMessage: string, notMessage: string) => ({
      name: `capability:${key}`,
      status: caps[key] ? ('ok' as const) : ('degraded' as const),
      message: caps[key] ? okMessage : notMessage,
    });
    const checks = [
      { name: 'python', status: 'ok' as const, message: `Python ${p.version} at ${p.executable}` },
      check('timeout', `process group (and cgroup) killed at timeoutMs (default ${o.timeoutMs} ms)`, ''),
      check('memoryLimit', `RLIMIT_AS set to memoryMb (default ${o.memoryMb} MB) for each process, not for the task as a whole: a task's processes together may use up to memoryMb × maxProcesses (${o.maxProcesses}), and files it writes to tmpfs (/dev/shm) are RAM not counted`, `RLIMIT_AS is not available on ${process.platform}; memoryMb is NOT enforced`),
      check('networkIsolation',
        `tasks without allowNetwork run in an empty network namespace and a private mount namespace (unshare -n -m) with an empty read-only tmpfs over ${p.hidden.join(', ')}: no TCP/UDP (127.0.0.1 included), no abstract Unix sockets, no Unix sockets in ${p.hidden.join(', ')} (e.g. /var/run/postgresql/.s.PGSQL.5432, /run/mysqld/mysqld.sock); Unix sockets placed elsewhere stay reachable (/tmp, /dev/shm and other shared folders: e.g. /tmp/.s.PGSQL.5432 where PostgreSQL is built to use /tmp, /var/lib/mysql/mysql.sock)`,
        p.netns !== true ? `allowNetwork=false is NOT enforced: ${p.netns}`
          : `tasks without allowNetwork run in an empty network namespace (unshare -n): no TCP/UDP (127.0.0.1 included) and no abstract Unix sockets; but Unix sockets on disk stay reachable (e.g. /var/run/postgresql/.s.PGSQL.5432, /run/mysqld/mysqld.sock): ${p.hidden.join(', ') || '/run'} is not hidden (${String(p.mountns)})`),
      check('envControl', `environment built from envAllowList [${o.envAllowList.join(', ')}], HOME and TMPDIR in the session directory; the server's own environment is unreadable to a session uid`,
        `tasks run as the server's uid (${typeof p.dropUid === 'string' ? p.dropUid : ''}), so a task can read the server's whole environment, secrets included, in /proc/<server pid>/environ: envAllowList [${o.envAllowList.join(', ')}] only sets what tasks start with. Run the server as root with sandboxUser "auto" or "per-session" (and venvPath instead of createVenv "per-session") so that each session has its own uid, or keep secrets out of the server's environment`),
      check('concurrencyLimit', `at most ${o.maxConcurrency} executions at once; one at a time per warm session`, ''),
      check('fileIsolation', "each session has its own 0700 directory owned by its own uid, and what its tasks create elsewhere is private to that uid (umask 077); the host's /tmp and /dev/shm stay shared (names visible, contents not)",
        `sessions have separate directories but share one uid, so one session's code can read another's files: ${typeof p.dropUid === 'string' ? p.dropUid : ''}`),
      check('processLimit',
        [
          p.cgroups instanceof PidsCgroups ? `pids cgroup (pids.max=${o.maxProcesses}) per warm worker${o.coldCgroup || p.dropUid !== true ? ' and per cold execution' : ''}` : '',
          p.dropUid === true ? `RLIMIT_NPROC=${o.maxProcesses} per session uid; a timeout kills every process of the session uid` : '',
        ].filter(Boolean).join('; '),
        `the number of processes is NOT bounded (no writable pids cgroup: ${typeof p.cgroups === 'string' ? p.cgroups : ''}; no per-session uid); only the process group is killed at the timeout`),
      check('outputLimit', `stdout and stderr each capped at ${o.maxOutputBytes} bytes${o.warm ? ", and a warm task's value" : ''}`, ''),
    ];
    const degraded = checks.some((c) => c.status !== 'ok');
    return {
      status: degraded ? 'degraded' : 'ok',
      message: degraded ? 'some limits are not enforced on this platform (see checks)' : `Python ${p.version}; every limit enforced`,
      checks,
      details: { executable: p.executable, version: p.version, workDir: this.workDir, warm: o.warm, sessions: this.#sessions.size },
    };
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    const started = performance.now();
    const done = (r: Omit<RunResult, 'metrics'>, exitCode?: number | null): RunResult => ({
      ...r,
      metrics: { latencyMs: performance.now() - started, ...(typeof exitCode === 'number' ? { exitCode } : {}) },
    });
    const fail = (code: LimitErrorCode, message: string, stdout = '', stderr = '', exitCode?: number | null) =>
      done({ ok: false, stdout, stderr, error: { code, message } }, exitCode);

    if (this.#closed) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'runner-python has been disposed', { plugin: 'runner-python' });
    if (!SESSION_ID.test(ctx.session.id)) {
      throw new LimitError('LIMIT_VALIDATION', `runner-python: session id ${JSON.stringify(ctx.session.id)} is not a valid id`, { plugin: 'runner-python' });
    }
    // Limits not made by SessionLimits (a caller using the runner directly) are refused, not applied:
    // memoryMb 0 or below would set no RLIMIT_AS at all, a fraction would fail every task's start,
    // maxConcurrency 0 would queue every task until its timeout.
    const checked = checkSessionLimits('runner-python', ctx);
    if (task.kind !== 'code' || (task.language !== undefined && !/^(python|python3|py)$/i.test(task.language))) {
      return fail('LIMIT_VALIDATION', `runner-python runs Python code tasks; got kind "${task.kind}"${task.language ? `, language "${task.language}"` : ''}`);
    }
    let platform: Platform;
    try {
      platform = await this.start();
    } catch (error) {
      return fail('LIMIT_RUNNER_UNAVAILABLE', (error as Error).message);
    }
    // Checked after start() (which probes the platform on first use, for seconds): an abort while it
    // ran would otherwise go unseen, the listener below being added after it fired.
    if (ctx.signal.aborted) return fail('LIMIT_RUNNER_ABORTED', 'the task was aborted before it started');
    const limits = effectiveLimits(this.options, checked);

    const state = this.#state(ctx.session.id, ctx.session.tenant, platform, limits.maxConcurrency);
    const stop = new AbortController();
    let end!: () => void;
    const execution: Execution = { stop, ended: new Promise<void>((resolve) => (end = resolve)) };
    const timer = setTimeout(() => stop.abort('timeout' satisfies Stop), limits.timeoutMs);
    const onAbort = () => stop.abort('aborted' satisfies Stop);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    // Where the task was when it was stopped: a task stopped before it reached a process of its own
    // had nothing killed (and must not kill the worker another task of the session is using).
    // The session's own slot is taken first, then the runner's: a task waiting for its session (a
    // warm session runs one task at a time) holds none of the runner's slots meanwhile, so one busy
    // session cannot starve the others. Both waits count toward timeoutMs (the timer runs from here).
    let phase: 'global' | 'session' | 'prepare' | 'started' = 'session';
    // `output`: what a task stopped while it ran had written (and flushed) by then, kept as a crashed task's is.
    // `workerLost`: a warm task stopped while it ran killed the session's worker, and its globals with it.
    const stopped = (output: { stdout: string; stderr: string } = { stdout: '', stderr: '' }, { workerLost = false } = {}): RunResult => {
      const reason = stop.signal.reason as Stop;
      const waited = Math.round(performance.now() - started);
      const where = {
        global: `waited ${waited} ms for a free execution slot of the runner (maxConcurrency=${this.options.maxConcurrency} across all sessions)`,
        session: this.options.warm
          ? `waited ${waited} ms for the session's worker (another task of this session was running; a warm session runs one task at a time)`
          : `waited ${waited} ms for a free execution slot of the session (maxConcurrency=${state.sem.size})`,
        prepare: `waited ${waited} ms for the session directory to be prepared`,
        started: '',
      }[phase];
      if (phase !== 'started') {
        const what = reason === 'timeout' ? `the task exceeded timeoutMs=${limits.timeoutMs} ms (which includes waiting)` : reason === 'closed' ? 'the session was closed' : 'the task was aborted';
        return fail(reason === 'timeout' ? 'LIMIT_RUNNER_TIMEOUT' : 'LIMIT_RUNNER_ABORTED', `${what} before it started: it ${where} and never ran; nothing was killed`);
      }
      const lost = workerLost ? WORKER_LOST : '';
      if (reason === 'timeout') return fail('LIMIT_RUNNER_TIMEOUT', `the task exceeded timeoutMs=${limits.timeoutMs} ms; its processes were killed${lost}`, output.stdout, output.stderr);
      return fail('LIMIT_RUNNER_ABORTED', reason === 'closed' ? 'the session was closed while the task ran' : `the task was aborted; its processes were killed${lost}`, output.stdout, output.stderr);
    };

    state.running.add(execution);
    let releaseGlobal: (() => void) | undefined;
    let releaseSession: (() => void) | undefined;
    try {
      releaseSession = await state.sem.acquire(stop.signal);
      if (!releaseSession) return stopped();
      phase = 'global';
      releaseGlobal = await this.#global.acquire(stop.signal);
      if (!releaseGlobal) return stopped();
      phase = 'prepare';
      const prepared = await race(this.#prepareOnce(state), stop.signal);
      if (prepared === STOPPED) return stopped();
      phase = 'started';
      checkTaskEnv(task.env);
      checkTaskArgs(task.args);
      const files = task.files ? await this.#stageFiles(state, task.files) : undefined;
      return this.options.warm
        ? await this.#runWarm(platform, state, task, files, limits, stop.signal, fail, done, stopped)
        : await this.#runCold(platform, state, execution, task, files, limits, stop.signal, fail, done, stopped);
    } catch (error) {
      if (isLimitErrorLike(error) && error.code === 'LIMIT_VALIDATION') return fail('LIMIT_VALIDATION', error.message);
      this.#logger?.error({ err: error, session: ctx.session.id }, 'runner-python failed');
      return fail('LIMIT_RUNNER_FAILED', `runner-python could not run the task: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      state.running.delete(execution);
      state.usedAt = performance.now();
      releaseGlobal?.();
      releaseSession?.();
      end();
    }
  }

  async #runCold(platform: Platform, state: SessionState, execution: Execution, task: TaskParsed, files: Record<string, string> | undefined, limits: SessionLimits, signal: AbortSignal,
    fail: (code: LimitErrorCode, message: string, stdout?: string, stderr?: string, exitCode?: number | null) => RunResult,
    done: (r: Omit<RunResult, 'metrics'>, exitCode?: number | null) => RunResult, stopped: (output?: { stdout: string; stderr: string }) => RunResult): Promise<RunResult> {
    const stdin = coldStdin(task, files);
    const launched = await this.#launch(platform, state, files ? 'execf' : 'exec', limits, stdin.counts);
    execution.pgid = launched.child.pid;
    const out = new CappedBuffer(this.options.maxOutputBytes);
    const err = new CappedBuffer(this.options.maxOutputBytes);
    // The report line holds the exception's message bounded at maxOutputBytes, escaped (at most twice as long).
    const report = new CappedBuffer(2 * this.options.maxOutputBytes + 8192);
    launched.child.stdout!.on('data', (b: Buffer) => out.push(b));
    launched.child.stderr!.on('data', (b: Buffer) => err.push(b));
    (launched.child.stdio[3] as Readable).on('data', (b: Buffer) => report.push(b));
    (launched.child.stdin as Writable).on('error', () => undefined);
    (launched.child.stdin as Writable).end(stdin.input);
    const exit = await race(launched.exited, signal);
    // Whatever the task left running (background children) dies with it; after a normal exit the
    // output is read to its end first — and when a child that left the process group (setsid) still
    // holds the pipes, it is killed by session uid (sparing the session's other running tasks'
    // groups) instead of waiting out the drain's timeout.
    const sweep = !launched.cgroupDir && state.uid !== undefined ? async () => void (await killUid(state.uid!, () => this.#otherGroups(state, execution))) : undefined;
    await this.#reap(launched, exit !== STOPPED, sweep);
    if (exit === STOPPED) {
      // Without a cgroup listing them, children that left the process group (setsid) are found by
      // uid — sparing the process groups of the session's other running executions (a cold session
      // runs up to its maxConcurrency tasks at once, all under the one uid).
      if (!launched.cgroupDir && state.uid !== undefined) await killUid(state.uid, () => this.#otherGroups(state, execution));
      return stopped({ stdout: out.text(), stderr: err.text() });
    }
    // The same after a normal end: a descendant that left the process group (setsid, a daemon)
    // must not outlive the task, and no cgroup lists it. After the result (a /proc scan takes
    // ~10 ms, as long as the cold run itself), so the task's latency does not pay for it.
    if (!launched.cgroupDir && state.uid !== undefined) this.#sweep(state, execution);
    const stdout = out.text();
    const stderr = err.text();
    if (exit.exitCode === 0) return done({ ok: true, stdout, stderr }, 0);
    return this.#failure(fail, stdout, stderr, exit.exitCode, exit.signal, limits, parseReport(report.text()));
  }

  /**
   * The process groups of a session's running executions other than `execution` — those a kill by
   * session uid spares — or false once the session is no longer this one (closed: its close kills
   * the uid itself, and a session of the same id opened meanwhile has the same uid).
   */
  #otherGroups(state: SessionState, execution: Execution): ReadonlySet<number> | false {
    if (this.#sessions.get(state.id) !== state) return false;
    return new Set([...state.running].filter((e) => e !== execution && e.pgid !== undefined).map((e) => e.pgid!));
  }

  /**
   * Kills, by session uid, what a cold task that ended left running outside its process group
   * (the group itself is killed by #reap). In the background, one sweep per session at a time (a
   * task ending meanwhile asks for one more pass); the session's close awaits it.
   */
  #sweep(state: SessionState, execution: Execution): void {
    if (state.sweeping) {
      state.sweepAgain = true;
      return;
    }
    const uid = state.uid!;
    const run = async () => {
      do {
        state.sweepAgain = false;
        await killUid(uid, () => this.#otherGroups(state, execution));
      } while (state.sweepAgain && this.#sessions.get(state.id) === state);
    };
    state.sweeping = run()
      .catch((error: unknown) => this.#logger?.warn({ err: error, session: state.id }, 'runner-python: killing what a cold task left running failed'))
      .finally(() => {
        state.sweeping = undefined;
      });
  }

  /**
   * A failed process. Whether it was the memory limit is decided only by the preamble's report of the
   * uncaught exception (fd 3, see MEMORY_RULE in python.ts), never by the task's stderr, which is the
   * task's to write: printing "MemoryError" is not running out of memory.
   */
  #failure(fail: (code: LimitErrorCode, message: string, stdout?: string, stderr?: string, exitCode?: number | null) => RunResult,
    stdout: string, stderr: string, exitCode: number | null, signal: NodeJS.Signals | null, limits: SessionLimits, report?: Report): RunResult {
    if (report?.memory) return fail('LIMIT_RUNNER_MEMORY_EXCEEDED', memoryMessage(limits, report), stdout, stderr, exitCode);
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    // The uncaught exception as the process reported it (type and whole message, as a warm task's
    // error gives them); stderr's last line only without a report (sys.exit, os._exit, a signal):
    // a multi-line message or a traceback cut at maxOutputBytes would give a wrong last line.
    const lastLine = stderr.trim().split('\n').filter((l) => !l.startsWith('[limit-graph:')).pop() ?? '';
    const why = report ? `${report.type}${report.message ? `: ${report.message}` : ''}` : lastLine;
    return fail('LIMIT_RUNNER_TASK_ERROR', why ? `Python ${how}: ${why}` : `Python ${how}`, stdout, stderr, exitCode);
  }

  async #runWarm(platform: Platform, state: SessionState, task: TaskParsed, files: Record<string, string> | undefined, limits: SessionLimits, signal: AbortSignal,
    fail: (code: LimitErrorCode, message: string, stdout?: string, stderr?: string, exitCode?: number | null) => RunResult,
    done: (r: Omit<RunResult, 'metrics'>, exitCode?: number | null) => RunResult, stopped: (output?: { stdout: string; stderr: string }, opts?: { workerLost?: boolean }) => RunResult): Promise<RunResult> {
    // A worker is started under the limits of its first task; other limits need another worker.
    const key = `${limits.memoryMb}:${limits.allowNetwork}`;
    let worker = state.worker;
    if (worker && (worker.dead || worker.key !== key)) {
      if (worker.ran) {
        const [memoryMb, allowNetwork] = worker.key.split(':');
        state.lost = worker.dead ? 'exited after its last task'
          : `ran under other limits (memoryMb=${memoryMb}, allowNetwork=${allowNetwork}; this task's: memoryMb=${limits.memoryMb}, allowNetwork=${limits.allowNetwork})`;
      }
      await this.#dropWorker(state);
      worker = undefined;
    }
    // Said on the first task of a new worker: the session's globals were reset, and why.
    let lost: string | undefined;
    if (!worker) {
      const launched = await this.#launch(platform, state, 'worker', limits, [0, 0]);
      worker = new Worker(launched, key, this.options.maxOutputBytes);
      state.worker = worker;
      const ready = await race(worker.ready.then(() => 'ready' as const, (e: unknown) => e as WorkerExited), signal);
      if (ready === STOPPED) {
        await this.#killWorker(state, signal);
        return stopped();
      }
      if (ready !== 'ready') {
        await this.#dropWorker(state);
        return fail('LIMIT_RUNNER_FAILED', `the Python worker did not start: ${ready.message}: ${ready.stderrTail.trim().split('\n').slice(-3).join(' | ')}`);
      }
      lost = state.lost;
      state.lost = undefined;
    }
    const noted = (r: RunResult): RunResult => {
      if (lost === undefined) return r;
      const note = `this task ran on a new Python worker of the session: the previous one ${lost}; the session's globals were reset`;
      r.stderr = `[limit-graph: ${note}]\n${r.stderr}`;
      if (r.error) r.error.message = `${r.error.message} (${note})`;
      return r;
    };
    const reply = await race(worker.request({ code: task.input, args: task.args ?? [], ...(task.env ? { env: task.env } : {}), ...(files ? { files } : {}) }).catch((e: unknown) => e as WorkerExited | WorkerProtocolError), signal);
    if (reply === STOPPED) {
      // The worker may be stuck in user code: kill it; the session's next task gets a fresh one.
      await this.#killWorker(state, signal);
      state.lost = signal.reason === ('timeout' satisfies Stop) ? 'was killed when a task exceeded its timeoutMs' : 'was killed when a task was aborted';
      return noted(stopped(worker.output(), { workerLost: true }));
    }
    if (reply instanceof WorkerProtocolError) {
      // What the worker does next is unknown (the task may still run): it is killed like a stopped one.
      await this.#killWorker(state, signal);
      state.lost = 'was replaced after a task wrote to its reply channel';
      return noted(fail('LIMIT_RUNNER_FAILED', `${reply.message} — the worker was replaced; the session's globals are lost. ${reply.fix}`));
    }
    if (reply instanceof WorkerExited) {
      // Drained first: what the task wrote before it died is in the pipes.
      await this.#dropWorker(state, true);
      state.lost = 'died during a task';
      const { stdout, stderr } = worker.output();
      const r = this.#failure(fail, stdout, stderr, reply.exitCode, reply.signal, limits);
      if (r.error?.code === 'LIMIT_RUNNER_TASK_ERROR') r.error.message = `${r.error.message} — the session's Python worker died during the task; its globals are lost and the next task starts a fresh worker`;
      return noted(r);
    }
    const { stdout, stderr } = worker.output(reply.dropped);
    if (reply.ok) return noted(done({ ok: true, stdout, stderr, ...(reply.value !== undefined ? { value: reply.value } : {}) }));
    const error = reply.error ?? { type: 'Error', message: 'unknown error' };
    // sys.exit: the result a cold process that exits with that status gets.
    if (error.exitCode !== undefined) return noted(this.#failure(fail, stdout, stderr, error.exitCode, null, limits));
    if (error.memory === true) return noted(fail('LIMIT_RUNNER_MEMORY_EXCEEDED', memoryMessage(limits, error), stdout, stderr));
    return noted(fail('LIMIT_RUNNER_TASK_ERROR', `${error.type}: ${error.message}`, stdout, stderr));
  }

  /**
   * A stopped warm task: its worker is killed, and — without a cgroup listing the worker's
   * processes — every process of the session uid, so descendants that left the process group
   * (setsid, double fork) die too, as in the cold path. Nothing else of the session can be running
   * under that uid: a warm session runs one task at a time (its semaphore is held here), its only
   * processes are this worker and what its tasks started, and a queued task has none yet. A session
   * being closed is left to closeSession (which kills the uid itself): a session of the same id
   * opened after the close may already own the uid.
   */
  async #killWorker(state: SessionState, signal: AbortSignal): Promise<void> {
    const cgroupDir = state.worker?.launched.cgroupDir;
    await this.#dropWorker(state);
    if (!cgroupDir && state.uid !== undefined && signal.reason !== ('closed' satisfies Stop) && this.#sessions.get(state.id) === state) await killUid(state.uid, new Set(), this.#resolved?.executable);
  }

  async #dropWorker(state: SessionState, drain = false): Promise<void> {
    const worker = state.worker;
    state.worker = undefined;
    if (worker) await this.#reap(worker.launched, drain);
  }

  /**
   * Kills what is left of a launched process tree, removes its cgroup and closes its pipes — with
   * `drain`, only once the output still in them has been read ('exit' can come before it, and a
   * destroyed stream drops it: under load a cold task's stdout came back empty). `sweep` kills what
   * the process group kill cannot reach (a setsid child, found by session uid): run when the pipes
   * are still open shortly after the group died — such a child holding a copy of stdout would keep
   * them open until outputDrained's timeout — and then the draining goes on, so no output is lost.
   */
  async #reap(launched: Launched, drain = false, sweep?: () => Promise<void>): Promise<void> {
    await killTree(launched.child.pid, launched.cgroupDir);
    launched.untrack();
    if (drain && !(sweep && (await outputDrained(launched.child, 20)))) {
      await sweep?.();
      await outputDrained(launched.child);
    }
    const cg = this.#resolved?.cgroups;
    if (launched.cgroupDir && cg instanceof PidsCgroups) {
      const removal = cg.remove(launched.cgroupDir).finally(() => this.#removals.delete(removal));
      this.#removals.add(removal);
    }
    for (const s of [launched.child.stdout, launched.child.stderr, launched.child.stdio[3]]) (s as Readable | null | undefined)?.destroy();
    (launched.child.stdin as Writable | null)?.destroy();
  }

  async #launch(platform: Platform, state: SessionState, mode: 'exec' | 'execf' | 'worker', limits: SessionLimits, counts: [env: number, args: number]): Promise<Launched> {
    const o = this.options;
    const useCgroup = platform.cgroups instanceof PidsCgroups && (mode === 'worker' || o.coldCgroup || state.uid === undefined);
    const cgroupDir = useCgroup ? await (platform.cgroups as PidsCgroups).create(o.maxProcesses) : undefined;
    // RLIMIT_NPROC counts every process of a uid and root ignores it: only meaningful with a session uid.
    // A cold task's env and args are only counted here: they go on stdin (see coldStdin). The preamble
    // applies task.env after the uid drop: the launcher (unshare, then python until the drop) runs as
    // root with the fixed environment of #env(). Without allowNetwork, the preamble hides the socket
    // folders in the mount namespace unshare -m gives it (mounts stay in it: private propagation).
    const isolate = !limits.allowNetwork && platform.netns === true && platform.unshare !== undefined;
    const hide = isolate && platform.mountns === true ? platform.hidden.join(':') : '';
    const preambleArgs = [
      mode,
      cgroupDir ? path.join(cgroupDir, 'cgroup.procs') : '',
      process.platform === 'linux' ? String(limits.memoryMb * 1024 * 1024) : '0',
      state.uid !== undefined ? String(state.uid) : '',
      state.uid !== undefined ? String(o.maxProcesses) : '0',
      String(counts[0]),
      String(counts[1]),
      hide,
      // A cold run's message on fd 3 is bounded at maxOutputBytes, as a warm reply's is.
      ...(mode === 'worker' ? [WORKER, String(o.maxOutputBytes)] : [String(o.maxOutputBytes)]),
    ];
    const pyArgs = ['-E', '-s', '-c', PREAMBLE, ...preambleArgs];
    const file = isolate ? platform.unshare! : state.python;
    const argv = isolate ? [...(IS_ROOT ? ['-n'] : ['-r', '-n']), ...(hide ? ['-m', '--propagation', 'private'] : []), state.python, ...pyArgs] : pyArgs;
    const child = execa(file, argv, {
      cwd: state.dir,
      env: this.#env(state),
      extendEnv: false,
      detached: true,
      buffer: false,
      reject: false,
      cleanup: false,
      // fd 3: the worker's protocol, or a cold process's report of an uncaught exception.
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe', ...'pipe'[]],
    });
    child.catch(() => undefined);
    const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
      child.once('error', () => resolve({ exitCode: null, signal: null }));
    });
    // A process that exits without its finally blocks (a second Ctrl-C) still kills the group.
    const untrack = trackProcessGroup(child.pid, cgroupDir);
    return { child, cgroupDir, exited, untrack };
  }

  #env(state: SessionState): Record<string, string> {
    const env: Record<string, string> = {};
    for (const key of this.options.envAllowList) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    env.HOME = state.dir;
    env.TMPDIR = state.tmp;
    if (state.venvDir) {
      env.VIRTUAL_ENV = state.venvDir;
      env.PATH = `${path.join(state.venvDir, 'bin')}${env.PATH ? `:${env.PATH}` : ''}`;
    }
    return env;
  }

  #newState(id: string, tenant: string, platform: Platform): SessionState {
    // A boot probe's directory keeps its plain name (sweepDeadProbes reads its host and pid there).
    const dir = tenant === PROBE_TENANT ? path.join(this.workDir, id) : this.sessionDir(id, tenant);
    return {
      id, tenant, dir, tmp: path.join(dir, '.tmp'),
      uid: undefined,
      python: platform.executable, venvDir: undefined, prepared: undefined, closing: new AbortController(), worker: undefined, lost: undefined,
      sem: new Semaphore(1), running: new Set(), usedAt: performance.now(), sweeping: undefined, sweepAgain: false,
    };
  }

  #state(id: string, tenant: string, platform: Platform, maxConcurrency: number): SessionState {
    let state = this.#sessions.get(id);
    if (!state) {
      state = this.#newState(id, tenant, platform);
      this.#sessions.set(id, state);
      this.#idle.watch();
    } else if (state.tenant !== tenant) {
      // Never another tenant's files, globals or worker; the message does not say whose it is.
      throw new LimitError('LIMIT_CONFLICT', `Session id "${id}" is in use on this runner by another tenant`, {
        plugin: 'runner-python', details: { sessionId: id }, fix: 'Use the session ids the server generates; they are unique.',
      });
    }
    // A warm worker runs one task at a time, so a warm session is a queue of one.
    state.sem.resize(this.options.warm ? 1 : maxConcurrency);
    state.usedAt = performance.now();
    return state;
  }

  #prepareOnce(state: SessionState): Promise<void> {
    state.prepared ??= this.#prepare(state).catch((error: unknown) => {
      state.prepared = undefined;
      throw error;
    });
    return state.prepared;
  }

  async #prepare(state: SessionState): Promise<void> {
    // A close of the id still under way (see #closes) ends first: this session starts after it, empty.
    await this.#closes.get(state.id)?.catch(() => undefined);
    // A new directory (not one kept from before) means a new holder of its uid.
    const fresh = !existsSync(state.dir);
    // The directory is made before its uid is claimed: a claim whose directory is gone may be taken over (see UidClaims).
    await mkdir(state.tmp, { recursive: true, mode: 0o700 });
    if (this.#resolved?.dropUid === true && state.uid === undefined) {
      state.uid = await this.#uids.claim(state.dir);
      // Whatever an earlier holder of the uid left (a crash before its close, a claim taken over):
      // its processes killed and its files in the shared temporary folders removed before this
      // session's first task runs under that uid.
      if (fresh) await clearUid(state.uid, this.#resolved.executable);
    }
    await chmod(state.dir, 0o700);
    if (this.options.createVenv === 'per-session') {
      const venvDir = path.join(state.dir, '.venv');
      if (!existsSync(path.join(venvDir, 'bin', 'python'))) {
        const flags = [...(this.options.venvSystemSitePackages ? ['--system-site-packages'] : []), ...(this.options.venvPip ? [] : ['--without-pip'])];
        const closed = () => new Error('the session was closed while its venv was being created');
        if (state.closing.signal.aborted) throw closed();
        // In its own process group: closing the session kills it with the pip it may be running.
        const creation = execa(this.#resolved!.executable, ['-E', '-m', 'venv', ...flags, venvDir], { reject: false, timeout: 300_000, cwd: state.dir, detached: true });
        const stop = () => void killTree(creation.pid, undefined);
        state.closing.signal.addEventListener('abort', stop, { once: true });
        const r = await creation.finally(() => state.closing.signal.removeEventListener('abort', stop));
        if (state.closing.signal.aborted) throw closed();
        if (r.failed) throw new Error(`python -m venv failed: ${r.stderr || r.shortMessage}`);
      }
      state.venvDir = venvDir;
      state.python = path.join(venvDir, 'bin', 'python');
    } else if (this.options.venvPath) {
      state.venvDir = path.resolve(this.options.venvPath);
    }
    if (state.uid !== undefined) await chownSession(state.dir, state.tmp, state.uid);
  }

  /**
   * With a session uid, task.files are checked here (the request refused whole, before anything is
   * written) and handed to the session's own process, which writes them as that uid: no root write
   * can be raced into following a link the session plants meanwhile. Without one (the server's own
   * uid runs the task anyway) they are written here. Returns the files for the process to write.
   */
  async #stageFiles(state: SessionState, files: Record<string, string>): Promise<Record<string, string> | undefined> {
    const plans = await this.#checkFiles(state, files);
    if (state.uid === undefined) {
      await this.#writeFiles(state, plans);
      return undefined;
    }
    return Object.fromEntries(plans.map((p) => [path.join(state.dir, ...p.parts), p.content]));
  }

  /** task.files checked whole: inside the session directory, through no link or non-directory. */
  async #checkFiles(state: SessionState, files: Record<string, string>): Promise<FilePlan[]> {
    const plans: FilePlan[] = [];
    for (const [name, content] of Object.entries(files)) {
      const parts = name.split('/').filter((p) => p !== '' && p !== '.');
      if (path.isAbsolute(name) || name.includes('\0') || parts.length === 0 || parts.includes('..')) {
        throw refuseFile(name, 'is outside the session directory');
      }
      plans.push({ name, parts, content });
    }
    for (const { name, parts } of plans) {
      let current = state.dir;
      for (const [i, part] of parts.entries()) {
        current = path.join(current, part);
        const st = await lstat(current).catch(() => undefined);
        if (!st) break;
        const rel = parts.slice(0, i + 1).join('/');
        if (st.isSymbolicLink()) throw refuseFile(name, `goes through "${rel}", which is a symbolic link`);
        if (i < parts.length - 1 && !st.isDirectory()) throw refuseFile(name, `goes through "${rel}", which is not a directory`);
        if (i === parts.length - 1 && !st.isFile()) throw refuseFile(name, `names "${rel}", which is not a regular file`);
      }
    }
    return plans;
  }

  /**
   * Writes checked task.files as the server's uid (no session uid): missing folders one at a time,
   * each re-checked after mkdir, the file with O_CREAT|O_EXCL|O_NOFOLLOW (an existing file is
   * unlinked first, which removes a link rather than following it).
   */
  async #writeFiles(state: SessionState, plans: readonly FilePlan[]): Promise<void> {
    for (const { name, parts, content } of plans) {
      let current = state.dir;
      for (const part of parts.slice(0, -1)) {
        current = path.join(current, part);
        try {
          await mkdir(current, { mode: 0o700 });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        // Re-checked after mkdir: a link swapped in meanwhile is refused, never followed further.
        const st = await lstat(current);
        if (st.isSymbolicLink() || !st.isDirectory()) throw refuseFile(name, `goes through "${path.relative(state.dir, current)}", which is not a plain directory`);
      }
      const target = path.join(current, parts[parts.length - 1]!);
      const existing = await lstat(target).catch(() => undefined);
      if (existing) {
        if (!existing.isFile() && !existing.isSymbolicLink()) throw refuseFile(name, 'is not a regular file');
        await unlink(target); // removes the entry itself; a link's target is untouched
      }
      const handle = await open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST' || error.code === 'ELOOP') throw refuseFile(name, 'was replaced while it was being written');
        throw error;
      });
      try {
        await handle.writeFile(content, 'utf8');
      } finally {
        await handle.close();
      }
    }
  }

  /**
   * The session directory of a session id and tenant: `workDir/<id>@<first 16 hex of
   * sha256(tenant)>` ("@" is never in an id). The tenant is part of the name, so the same id from
   * two tenants never shares a directory — nor, the uid claim being the directory's, a uid — even
   * in two processes sharing the workDir, which know nothing of each other's live sessions. Without
   * `tenant`, the tenant of the live session of that id (for tests and tools).
   */
  sessionDir(sessionId: string, tenant: string | undefined = this.#sessions.get(sessionId)?.tenant): string {
    if (tenant === undefined) {
      throw new LimitError('LIMIT_VALIDATION', `runner-python: sessionDir("${sessionId}"): no live session of that id on this runner, so its tenant is unknown; pass the tenant`, { plugin: 'runner-python', details: { sessionId } });
    }
    return path.join(this.workDir, `${sessionId}@${sha256(tenant).slice(0, 16)}`);
  }

  /**
   * Kills the session's worker and tasks and removes its directory. With `tenant` (the orchestrator
   * always passes it), only that tenant's session: another tenant closing a session of the same id
   * (ids are the caller's to choose) leaves this one alone.
   */
  async closeSession(sessionId: string, tenant?: string): Promise<void> {
    const state = this.#sessions.get(sessionId);
    if (!state || (tenant !== undefined && state.tenant !== tenant)) return;
    this.#sessions.delete(sessionId);
    for (const execution of state.running) execution.stop.abort('closed' satisfies Stop);
    // A preparation under way (a per-session venv takes seconds) would write into the directory
    // after it is removed: it is stopped, and its end awaited, before the files go.
    state.closing.abort();
    // After an earlier close of the id still under way (a session made and closed meanwhile).
    const earlier = this.#closes.get(sessionId)?.catch(() => undefined);
    const closing = Promise.resolve(earlier).then(() => this.#close(state)).finally(() => {
      if (this.#closes.get(sessionId) === closing) this.#closes.delete(sessionId);
    });
    this.#closes.set(sessionId, closing);
    await closing;
  }

  /** What closing a session takes once its tasks and preparation were told to stop. */
  async #close(state: SessionState): Promise<void> {
    const ending = [...state.running].map((e) => e.ended);
    await state.prepared?.catch(() => undefined);
    await this.#dropWorker(state);
    // Its stopped tasks reap their processes themselves: their ends are awaited, so that a dispose
    // after this close finds their cgroups' removals (#removals) and the process does not exit first.
    await Promise.all(ending);
    await state.sweeping;
    if (state.uid !== undefined) await killUid(state.uid, new Set(), this.#resolved?.executable);
    if (this.options.removeSessionFiles) await this.#removeFiles(state);
  }

  /** Removes a session's directory; only then, with none of its processes and files left, may another session get its uid. */
  async #removeFiles(state: SessionState): Promise<void> {
    const remove = async () => {
      // What the uid left in the host's shared /tmp, /var/tmp and /dev/shm goes too, before the
      // uid can go to another session (the same id from another tenant gets the same uid).
      if (state.uid !== undefined && this.#resolved) await clearUid(state.uid, this.#resolved.executable);
      await this.#removeDir(state);
    };
    if (state.uid === undefined) await remove();
    else await this.#uids.release(state.dir, state.uid, remove);
  }

  /**
   * Removes a closed session's directory. A process of its uid still writing there (ENOTEMPTY while
   * rm empties a folder) is killed again and the removal retried; a removal that still fails is a
   * LimitError naming the session and the directory (which, with its uid claim, stays).
   */
  async #removeDir(state: SessionState): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await rm(state.dir, { recursive: true, force: true });
        return;
      } catch (error) {
        if (attempt < 4) {
          if (state.uid !== undefined) await killUid(state.uid, new Set(), this.#resolved?.executable);
          await new Promise((r) => setTimeout(r, 20 * attempt));
          continue;
        }
        throw new LimitError('LIMIT_RUNNER_FAILED', `runner-python: closing session "${state.id}": its directory ${state.dir} could not be removed after ${attempt} tries: ${(error as Error).message}`, {
          plugin: 'runner-python', cause: error, details: { sessionId: state.id, dir: state.dir },
          fix: `Something kept writing into ${state.dir} while it was removed${state.uid !== undefined ? ` (a process of uid ${state.uid}?)` : ''}; remove it by hand once nothing uses it.`,
        });
      }
    }
  }

  async dispose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    try {
      // Every session's close ends before dispose does (a failing one does not cut the others short);
      // the first failure in session order is thrown, after the cgroups are cleaned up.
      await allInOrder([...this.#sessions.keys()].map((id) => this.closeSession(id)));
    } finally {
      const cg = this.#resolved?.cgroups;
      if (cg instanceof PidsCgroups) {
        await Promise.all([...this.#removals]);
        await cg.dispose();
      }
    }
  }
}

/**
 * Calls `onLine` with each line of `input` (UTF-8, without its newline) of at most `max` bytes; a
 * longer one is not collected: `onOverflow` gets its first bytes and the rest, to its newline, is dropped.
 */
function boundedLines(input: Readable, max: number, onLine: (line: string) => void, onOverflow: (start: string) => void): void {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  const take = (piece: Buffer): void => {
    if (skipping) return;
    if (size + piece.length > max) {
      onOverflow(Buffer.concat([...parts, piece.subarray(0, 80)]).subarray(0, 80).toString('utf8'));
      parts = [];
      size = 0;
      skipping = true;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  input.on('data', (chunk: Buffer) => {
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      take(chunk.subarray(from, nl));
      if (!skipping) onLine(Buffer.concat(parts).toString('utf8'));
      parts = [];
      size = 0;
      skipping = false;
      from = nl + 1;
    }
    if (from < chunk.length) take(chunk.subarray(from));
  });
}

const STOPPED = Symbol('stopped');

function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof STOPPED> {
  if (signal.aborted) return Promise.resolve(STOPPED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(STOPPED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

function isLimitErrorLike(e: unknown): e is LimitError {
  return e instanceof Error && (e as { name?: string }).name === 'LimitError';
}

/**
 * Resolves once the child's stdout and stderr have ended — 'exit' can come before the last output
 * is read, which loaded machines show as an empty stdout — or after `ms` (a descendant that
 * escaped the reap could hold a pipe open).
 */
function outputDrained(child: ResultPromise, ms = 2_000): Promise<boolean> {
  const ended = (s: Readable | null | undefined) =>
    !s || s.readableEnded || s.destroyed ? Promise.resolve() : new Promise<void>((resolve) => {
      s.once('end', resolve);
      s.once('close', resolve);
      s.once('error', () => resolve());
    });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([Promise.all([ended(child.stdout), ended(child.stderr), ended(child.stdio[3] as Readable | undefined)]).then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/** Accounts of /etc/passwd (`name (uid)`) whose uid is in [start, start + size). */
export async function accountsInRange(start: number, size: number, file = '/etc/passwd'): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').map((line) => line.split(':')).filter((f) => f.length > 2 && Number(f[2]) >= start && Number(f[2]) < start + size).map((f) => `${f[0]} (${f[2]})`);
}

/**
 * Hands a session directory and its `.tmp` to its uid — those two only, never a walk of what is in
 * them: the directory may already be the uid's, and a live process of the uid could swap a folder
 * for a link between a walk's check and its chown, making root chown a file outside (security
 * review pyiso, finding 2). Each is opened with O_DIRECTORY|O_NOFOLLOW and chowned through its fd
 * (fchown): a link is never followed. A `.tmp` that is not a plain directory (a link or file the
 * session put there) is unlinked — the entry itself, not what a link points to — and made again.
 * The directory's other contents are the uid's already: its tasks made them (a directory whose uid
 * changed keeps its files under their old owner; they are not handed over).
 */
async function chownSession(dir: string, tmp: string, uid: number): Promise<void> {
  const chownDir = async (p: string) => {
    const handle = await open(p, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    try {
      await handle.chown(uid, uid);
    } finally {
      await handle.close();
    }
  };
  // The session directory's parent is workDir (root's, 0711): no session can swap it.
  await chownDir(dir);
  try {
    await chownDir(tmp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENOTDIR' && code !== 'ENOENT') throw error;
    // unlink only: never a recursive removal as root in a folder the session can change.
    if (code !== 'ENOENT') await unlink(tmp).catch(() => undefined);
    await mkdir(tmp, { mode: 0o700 });
    await chownDir(tmp);
  }
}
