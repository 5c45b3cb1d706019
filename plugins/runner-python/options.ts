import { z } from 'zod';
import { pathText, sessionIdleMsOption, unpaddedText } from 'limit-graph';

export const RunnerPythonOptions = z
  .object({
    /** Interpreter: a name on PATH or a path. Resolved once at boot to its real executable (skips pyenv shims). */
    python: unpaddedText('an interpreter name or path').default('python3'),
    /** Use this existing virtual environment's interpreter for every session. */
    venvPath: pathText().optional(),
    /** 'per-session': `python -m venv` in each session's directory on its first task. */
    createVenv: z.enum(['none', 'per-session']).default('none'),
    /** Per-session venvs see the base interpreter's site-packages. */
    venvSystemSitePackages: z.boolean().default(false),
    /** Per-session venvs get pip (ensurepip takes seconds, so it is off unless asked for). */
    venvPip: z.boolean().default(false),
    /** Root of the per-session directories. Default `<dataDir>/sessions`. */
    workDir: pathText().optional(),
    /** Remove a session's directory when the session closes. */
    removeSessionFiles: z.boolean().default(true),
    timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
    // 32: under 20 MB CPython 3.7, 3.11-3.13 cannot import a few standard modules (the boot probe's task); 32 leaves a margin.
    memoryMb: z.number().int().min(32, 'must be at least 32 (MB): under that the sandboxed interpreter cannot import standard modules').max(1_048_576).default(512),
    /** Per stream (stdout, stderr), and for a warm task's value and error message; the rest is dropped and a marker line says so. */
    maxOutputBytes: z.number().int().min(256).max(256 * 1024 * 1024).default(1024 * 1024),
    /** Variables copied from the server's environment; everything else (secrets) never reaches user code. */
    envAllowList: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default(['PATH', 'LANG', 'LC_ALL']),
    allowNetwork: z.boolean().default(false),
    /** Executions running at once across all sessions (a session's own limit can only lower it). */
    maxConcurrency: z.number().int().min(1).max(1024).default(4),
    /** Processes (and threads) one execution or worker may have at once: the fork-bomb bound. */
    maxProcesses: z.number().int().min(2).max(100_000).default(64),
    /**
     * A session with no task for this long is closed as by closeSession (warm worker stopped,
     * processes killed, directory removed when removeSessionFiles), ms; a session with a task
     * running or waiting never is. Its next task starts a new, empty session.
     */
    sessionIdleMs: sessionIdleMsOption(),
    /** Keep a Python worker per session so repeated tasks skip the interpreter start (globals persist). */
    warm: z.boolean().default(true),
    /**
     * 'auto': when the server runs as root, each session runs as its own unprivileged uid (files of
     * one session are unreadable to another, RLIMIT_NPROC applies); otherwise as the server's user.
     * 'per-session' demands it (boot fails when not root); 'none' never drops privileges.
     */
    sandboxUser: z.enum(['auto', 'per-session', 'none']).default('auto'),
    /**
     * First uid of the range session uids are claimed from (each live session holds its own, see UidClaims).
     * At least 100000: below are the system's and ordinary users' accounts, whose files a session
     * running as their uid could read and change (boot also refuses a range /etc/passwd names a user in).
     */
    uidRangeStart: z.number().int().min(100_000, 'uidRangeStart must be at least 100000: lower uids belong to system and ordinary user accounts, and a session running as one could read and change its files').default(200_000),
    uidRangeSize: z.number().int().min(1).default(1 << 20),
    /** pids cgroup root under which per-execution cgroups are made; 'auto' probes cgroup v1 then v2; 'none' disables. */
    cgroupRoot: z.string().min(1).default('auto'),
    /**
     * Put cold executions in a pids cgroup too. Off by default: joining a cgroup (v1) costs ~10 ms
     * per process, and with a session uid RLIMIT_NPROC already bounds forks (a timeout then kills
     * every process of the session's uid). Warm workers always use the cgroup; so do cold
     * executions when there is no session uid.
     */
    coldCgroup: z.boolean().default(false),
  })
  .strict()
  .refine((o) => o.uidRangeStart + o.uidRangeSize <= 2 ** 31, {
    message: 'uidRangeStart + uidRangeSize must be at most 2^31 (2147483648): larger uids are not valid on every system',
    path: ['uidRangeSize'],
  })
  .refine((o) => !(o.venvPath && o.createVenv === 'per-session'), {
    message: 'venvPath and createVenv: "per-session" exclude each other; pick one',
    path: ['createVenv'],
  });

export type RunnerPythonOptions = z.output<typeof RunnerPythonOptions>;
