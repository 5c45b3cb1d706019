/**
 * Platform facilities the runner uses to enforce limits, each probed once so that health() can say
 * exactly which are in force: a network namespace (`unshare -n`) with a mount namespace hiding the
 * socket folders (`unshare -m`, see socketFolders), a pids cgroup (fork bombs, and a
 * list of every process of an execution to kill), and per-session uids (file isolation, RLIMIT_NPROC).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, realpathSync, rmdirSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, readdir, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { LimitError, atExit, pidAlive, sha256 } from 'limit-graph';
import { HIDE_RULE } from './python.ts';

/** Kills a detached execution: its process group, then anything left in its cgroup (escaped via setsid). */
export async function killTree(pid: number | undefined, cgroupDir: string | undefined): Promise<void> {
  if (pid !== undefined) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
  }
  if (cgroupDir) {
    // Forks may race the kill; a few passes catch the children of processes being killed.
    for (let pass = 0; pass < 5; pass++) {
      const pids = await cgroupPids(cgroupDir);
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export async function cgroupPids(cgroupDir: string): Promise<number[]> {
  try {
    const text = await readFile(path.join(cgroupDir, 'cgroup.procs'), 'utf8');
    return text.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** How long PidsCgroups.remove waits for a killed execution's processes to be reaped. */
const REMOVE_WAIT_MS = 10_000;

/** A pids cgroup directory under which the runner makes one child cgroup per execution. */
export class PidsCgroups {
  // A process that exits without disposing the runner (a second Ctrl-C) still removes the base.
  readonly #release = atExit(() => {
    try {
      rmdirSync(this.base);
    } catch {
      // Not empty (a cgroup of a process still dying) or gone.
    }
  });

  private constructor(readonly base: string) {}

  /** Tries `root` (or the v1 then v2 mount points) and returns a usable base, or the reason it is not usable. */
  static async probe(root: string): Promise<PidsCgroups | string> {
    const candidates = root === 'auto' ? ['/sys/fs/cgroup/pids', '/sys/fs/cgroup'] : [root];
    const reasons: string[] = [];
    for (const candidate of candidates) {
      if (!existsSync(candidate)) {
        reasons.push(`${candidate} does not exist`);
        continue;
      }
      const base = path.join(candidate, `limit-graph-${process.pid}-${randomUUID().slice(0, 8)}`);
      try {
        await mkdir(base);
        if (!existsSync(path.join(base, 'pids.max'))) {
          await rmdir(base).catch(() => undefined);
          reasons.push(`${candidate} has no pids controller for child groups`);
          continue;
        }
        const cg = new PidsCgroups(base);
        const probe = await cg.create(4);
        await cg.remove(probe);
        return cg;
      } catch (error) {
        await rmdir(base).catch(() => undefined);
        reasons.push(`${candidate}: ${(error as Error).message}`);
      }
    }
    return reasons.join('; ');
  }

  async create(maxPids: number): Promise<string> {
    const dir = path.join(this.base, randomUUID());
    await mkdir(dir);
    await writeFile(path.join(dir, 'pids.max'), String(maxPids));
    return dir;
  }

  /**
   * Removes a (killed) execution's cgroup; retries while the kernel reaps its last processes — for
   * up to REMOVE_WAIT_MS, not a number of tries: on a loaded machine reaping a killed tree can take
   * well over a second, and a cgroup given up on stays behind after the process exits.
   */
  async remove(dir: string): Promise<void> {
    const deadline = performance.now() + REMOVE_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 100)) {
      try {
        await rmdir(dir);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || performance.now() > deadline) return;
        await killTree(undefined, dir);
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  async dispose(): Promise<void> {
    await rmdir(this.base).catch(() => undefined);
    this.#release();
  }
}

/** Whether `unshare -n` gives a process an empty network namespace here. */
export async function probeNetns(python: string, unshare: string | undefined): Promise<string | true> {
  if (!unshare) return `unshare is unavailable: none of ${UNSHARE_PATHS.join(', ')} exists`;
  try {
    const r = await execa(unshare, ['-n', python, '-c', 'import socket; socket.create_connection(("127.0.0.1", 9), timeout=1)'], {
      reject: false, timeout: 10_000, extendEnv: false, env: {},
    });
    if (r.failed && /unreachable|Errno 101|Errno 99/i.test(r.stderr)) return true;
    return r.exitCode === 0 ? 'a socket connected inside `unshare -n`' : `unshare -n failed: ${String(r.stderr || r.message || '').split('\n').pop() ?? ''}`;
  } catch (error) {
    return `unshare is unavailable: ${(error as Error).message}`;
  }
}

/**
 * The standard folders of services' Unix sockets (PostgreSQL's /var/run/postgresql, MariaDB's
 * /run/mysqld, D-Bus, Docker...), which a task without allowNetwork does not see. Not /tmp: the
 * host's /tmp is shared by design (and the session's TMPDIR is in its own directory).
 */
export const SOCKET_FOLDERS = ['/run', '/var/run'];

/** The real folders to hide: each of SOCKET_FOLDERS that exists, once, none inside another (/var/run is mostly a link to /run). */
export function socketFolders(): string[] {
  const real = [...new Set(SOCKET_FOLDERS.filter((p) => existsSync(p)).map((p) => realpathSync(p)))];
  return real.filter((d) => !real.some((other) => other !== d && d.startsWith(`${other}/`)));
}

/**
 * Whether a task in `unshare -n -m --propagation private` (as root, before its uid drop) can hide
 * `folders` (HIDE_RULE) so that a Unix socket listening in the first of them is unreachable, while
 * the interpreter and `workDir` stay reachable.
 */
export async function probeMountns(python: string, unshare: string, folders: string[], workDir: string): Promise<string | true> {
  if (folders.length === 0) return `none of ${SOCKET_FOLDERS.join(', ')} exists to hide`;
  let dir: string | undefined;
  const server = net.createServer((socket) => socket.destroy());
  try {
    dir = await mkdtemp(path.join(folders[0]!, 'limit-graph-probe-'));
    const sock = path.join(dir, 's.sock');
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(sock, resolve));
    const script = `${HIDE_RULE}
import os, sys, socket
_hide(sys.argv[1].split(':'))
for p in (sys.executable, sys.prefix, sys.base_prefix, sys.argv[3]):
    if not os.path.exists(p):
        sys.exit('unreachable ' + p)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[2])
    sys.exit('connected')
except FileNotFoundError:
    print('hidden')
`;
    const r = await execa(unshare, ['-n', '-m', '--propagation', 'private', python, '-E', '-s', '-c', script, folders.join(':'), sock, workDir], {
      reject: false, timeout: 10_000, extendEnv: false, env: {}, cwd: '/',
    });
    if (r.exitCode === 0 && r.stdout.trim() === 'hidden') return true;
    const said = String(r.stderr || r.message || '').trim().split('\n').pop() ?? '';
    if (said.startsWith('unreachable ')) return `${said.slice(12)} (the interpreter or workDir) lies in ${folders.join(' or ')}, which would be hidden from tasks: move it elsewhere`;
    if (said === 'connected') return `a Unix socket in ${folders[0]} stayed reachable after mounting tmpfs over it`;
    return `unshare -m failed: ${said}`;
  } catch (error) {
    return `cannot probe a mount namespace: ${(error as Error).message}`;
  } finally {
    await new Promise((r) => server.close(r));
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** The name of a boot probe's session directory in workDir: `.probe-<host>-<pid>-<random>`. */
export const probeDirName = (): string => `.probe-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;

/**
 * Removes the boot probes' directories (probeDirName) in `workDir` left by a process that crashed
 * while probing, and with each the uid claim it held (a claim is taken over only once its directory
 * is gone: UidClaims): this host's whose process is gone, and any probe directory (another host's,
 * an older name) untouched for UidClaims.GRACE_MS — a probe lasts seconds. A live probe is left alone.
 */
export async function sweepDeadProbes(workDir: string): Promise<void> {
  const names = await readdir(workDir).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.startsWith('.probe-')).map(async (name) => {
    const dir = path.join(workDir, name);
    // A pid says something only of this host's (and PID namespace's) processes.
    const [, host, pid] = /^\.probe-(.+)-(\d+)-[0-9a-f]{8}$/.exec(name) ?? [];
    const deadHere = host === hostname() && Number(pid) !== process.pid && !pidAlive(Number(pid));
    if (!deadHere) {
      const info = await stat(dir).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < UidClaims.GRACE_MS) return;
    }
    await rm(dir, { recursive: true, force: true });
  }));
}

/** Where `unshare` is looked for. Never found through PATH: the root-run launcher must not depend on any environment. */
export const UNSHARE_PATHS = ['/usr/bin/unshare', '/bin/unshare', '/usr/sbin/unshare', '/sbin/unshare'];

/** The absolute path of `unshare`, resolved once at start, or undefined. */
export function findUnshare(): string | undefined {
  return UNSHARE_PATHS.find((p) => existsSync(p));
}

/** Where a session directory's uid claim search starts: start + hash(directory) % size. */
export function sessionUid(sessionDir: string, start: number, size: number): number {
  const digest = createHash('sha256').update(path.resolve(sessionDir)).digest();
  return start + (digest.readUInt32BE(0) % size);
}

/**
 * The uid claims of session directories, in `folder` (root-only, shared by every process of the
 * workDir): `uid-<uid>` names the directory that holds the uid, made whole by link(2) of a written
 * temporary file (never seen empty; link fails if the uid is held) so that no two sessions (of any
 * process) ever hold one uid; `dir-<sha256(directory)>` notes which uid a directory holds, so that it
 * keeps it across a restart (its files stay its own). A claim whose directory has been gone for
 * GRACE_MS (its mtime: when it was made or its release began) is left by a crash and is taken over.
 */
export class UidClaims {
  /** How long a claim whose directory is gone stays held: a release removes the directory first. */
  static readonly GRACE_MS = 10 * 60_000;

  constructor(readonly folder: string, readonly start: number, readonly size: number) {}

  #claimFile(uid: number): string {
    return path.join(this.folder, `uid-${uid}`);
  }

  #noteFile(dir: string): string {
    return path.join(this.folder, `dir-${sha256(dir)}`);
  }

  async #holder(uid: number): Promise<string | undefined> {
    return readFile(this.#claimFile(uid), 'utf8').catch(() => undefined);
  }

  /**
   * The uid of a session directory: the one it already holds (within the range), else the first
   * free one from sessionUid on (a uid held by another directory is skipped, never shared).
   */
  async claim(sessionDir: string): Promise<number> {
    const dir = path.resolve(sessionDir);
    const noted = Number(await readFile(this.#noteFile(dir), 'utf8').catch(() => ''));
    if (Number.isInteger(noted) && (await this.#holder(noted)) === dir) {
      if (noted >= this.start && noted < this.start + this.size) {
        await this.#touch(noted);
        return noted;
      }
      // The range was shrunk or moved: a uid outside it may now be a real account's.
      await rm(this.#claimFile(noted), { force: true });
    }
    const temp = path.join(this.folder, `.claim-${randomUUID()}`);
    await writeFile(temp, dir, { flag: 'wx', mode: 0o600 }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      await writeFile(temp, dir, { flag: 'wx', mode: 0o600 });
    });
    try {
      const first = sessionUid(dir, this.start, this.size) - this.start;
      for (let i = 0; i < this.size; i++) {
        const uid = this.start + ((first + i) % this.size);
        if ((await this.#take(uid, temp)) || (await this.#holder(uid)) === dir || ((await this.#takeOver(uid)) && (await this.#take(uid, temp)))) {
          await this.#touch(uid);
          await writeFile(this.#noteFile(dir), String(uid), { mode: 0o600 });
          return uid;
        }
      }
    } finally {
      await rm(temp, { force: true });
    }
    throw new LimitError('LIMIT_RUNNER_FAILED', `runner-python: every uid of uidRangeStart=${this.start}, uidRangeSize=${this.size} is held by a session directory (claims in ${this.folder}); no uid is left for ${dir}`, {
      plugin: 'runner-python', details: { field: 'uidRangeSize' },
      fix: `Raise uidRangeSize, or close sessions. A uid is held while its session directory exists (with removeSessionFiles: false also after the session closes): remove the directories of sessions no longer used; a claim whose directory has been gone for ${UidClaims.GRACE_MS / 60_000} minutes is taken over.`,
    });
  }

  /** Whether linking `temp` (the claim, written) made `uid` this claim's (false: it is held). */
  async #take(uid: number, temp: string): Promise<boolean> {
    try {
      await link(temp, this.#claimFile(uid));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return false;
    }
  }

  /** Refreshes a claim's mtime: for GRACE_MS it is not taken over, even with its directory gone. */
  async #touch(uid: number): Promise<void> {
    const now = new Date();
    await utimes(this.#claimFile(uid), now, now);
  }

  /**
   * Removes the claim of `uid` when it is stale: its directory is gone and it is older than
   * GRACE_MS (checked in that order: a release refreshes it before removing the directory). Of the
   * processes that find it stale, only the one that links the token `take-<uid>-<inode>` removes it;
   * the others, and a claim replaced meanwhile (another inode), are left alone. True when removed.
   */
  async #takeOver(uid: number): Promise<boolean> {
    const claim = this.#claimFile(uid);
    const stale = async (): Promise<{ holder: string; ino: number } | undefined> => {
      const holder = await this.#holder(uid);
      if (holder === undefined || (holder !== '' && existsSync(holder))) return undefined;
      const info = await stat(claim).catch(() => undefined);
      return info && Date.now() - info.mtimeMs >= UidClaims.GRACE_MS ? { holder, ino: info.ino } : undefined;
    };
    const seen = await stale();
    if (!seen) return false;
    const token = path.join(this.folder, `take-${uid}-${seen.ino}`);
    try {
      await link(claim, token);
    } catch (error) {
      // A token whose link is GRACE_MS old was left by a process that died taking the claim over:
      // removed, so that the next claim takes it over (a live takeover's token is moments old).
      const left = (error as NodeJS.ErrnoException).code === 'EEXIST' ? await stat(token).catch(() => undefined) : undefined;
      if (left && Date.now() - left.ctimeMs >= UidClaims.GRACE_MS) await rm(token, { force: true });
      return false;
    }
    try {
      const again = await stale();
      if (again?.ino !== seen.ino || (await stat(token)).ino !== seen.ino) return false;
      await rm(claim, { force: true });
      if (seen.holder !== '') await rm(this.#noteFile(seen.holder), { force: true });
      return true;
    } finally {
      await rm(token, { force: true });
    }
  }

  /**
   * Runs `removeFiles` (the removal of the session directory, once its processes are killed), then
   * frees the directory's uid. The claim is refreshed first: while the directory is being removed
   * and the claim is still there, no other process takes the claim over as stale.
   */
  async release(sessionDir: string, uid: number, removeFiles: () => Promise<void>): Promise<void> {
    const dir = path.resolve(sessionDir);
    const held = (await this.#holder(uid)) === dir;
    if (held) await this.#touch(uid);
    await removeFiles();
    // Reopened meanwhile (another process's run in the same session made the directory again): it
    // keeps its uid.
    if (await this.dirExists(dir)) return;
    if (held) {
      // A reopening makes the directory, then claims (claim() reuses a claim naming it). Between the
      // check above and the removal it could reuse this one and then run under a uid no longer
      // claimed. So the claim is first marked released (held by no directory: not reused, not taken,
      // taken over only as stale), and the directory checked again: made meanwhile, it may have
      // reused the claim before the mark, and gets it back (if it took another uid instead, this one
      // stays held by it until stale: a uid kept, never one shared). Made after this second check, it
      // finds the mark or no claim, and claims anew.
      await this.#write(uid, '');
      if (await this.dirExists(dir)) return this.#write(uid, dir);
      await rm(this.#claimFile(uid), { force: true });
    }
    // The note is removed only while it still names this uid (a reopening may have noted another).
    const note = this.#noteFile(dir);
    if ((await readFile(note, 'utf8').catch(() => undefined)) === String(uid)) await rm(note, { force: true });
  }

  /** Whether a session directory exists: the check a release and a reopening race on (a seam for tests). */
  protected async dirExists(dir: string): Promise<boolean> {
    return existsSync(dir);
  }

  /** Replaces the claim of `uid` (held by this process) whole, by rename(2) of a written temporary file. */
  async #write(uid: number, holder: string): Promise<void> {
    const temp = path.join(this.folder, `.claim-${randomUUID()}`);
    await writeFile(temp, holder, { flag: 'wx', mode: 0o600 });
    await rename(temp, this.#claimFile(uid));
  }
}

/** The first ancestor of `dir` another uid cannot traverse (lacks o+x), or undefined when all are traversable. */
export async function untraversableAncestor(dir: string): Promise<string | undefined> {
  let current = path.resolve(dir);
  const chain: string[] = [];
  while (true) {
    chain.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const d of chain.reverse()) {
    try {
      const s = await stat(d);
      if ((s.mode & 0o001) === 0) return d;
    } catch {
      return undefined; // Not created yet: the runner creates it with o+x.
    }
  }
  return undefined;
}

/**
 * Whether a /proc/<pid>/status is of a process that is gone: "Z"/"X" with at most one thread. A
 * thread group whose leader thread has exited while another thread runs also reads "Z", with
 * `Threads:` > 1: it is alive (a SIGKILL to its pid kills the whole group), and must not be skipped.
 */
function goneStatus(status: string): boolean {
  if (!/^State:\s+[ZX]/m.test(status)) return false;
  const threads = /^Threads:\s+(\d+)/m.exec(status);
  return !threads || Number(threads[1]) <= 1;
}

/**
 * The helper of killUid: started as root, it drops to the uid (groups, gid, uid: real, effective and
 * saved) and sends SIGKILL to every process it may signal — every process of that uid — with
 * kill(-1), until /proc shows none of the uid alive (kill(-1) itself does not say: it fails with
 * ESRCH only when there is no other process at all). kill(-1) is atomic against fork, so neither a
 * fork nor a process hopping to new pids (fork, parent exits) escapes it. Exits 0 once none is
 * left, 3 when processes were still there after every try.
 */
const KILL_ALL = `import os, sys, time
u = int(sys.argv[1])
os.setgroups([])
os.setresgid(u, u, u)
os.setresuid(u, u, u)
def left():
    for n in os.listdir('/proc'):
        if not n.isdigit() or int(n) == os.getpid():
            continue
        try:
            with open('/proc/' + n + '/status') as f:
                s = f.read()
        except OSError:
            continue
        f = dict(l.split(':', 1) for l in s.splitlines() if ':' in l)
        if int(f.get('Uid', '-1').split()[0]) != u:
            continue
        if f.get('State', '').split()[:1] in (['Z'], ['X']) and int(f.get('Threads', '1')) <= 1:
            continue
        return True
    return False
for i in range(200):
    try:
        os.kill(-1, 9)
    except ProcessLookupError:
        pass
    time.sleep(0.002)
    if not left():
        break
else:
    sys.exit(3)
`;

/** The host's shared temporary folders: what a session uid leaves there is removed before the uid goes to another session (clearUid). */
const SHARED_TMP = ['/tmp', '/var/tmp', '/dev/shm'];

/**
 * The helper of clearUid: KILL_ALL, then — still as the uid, so it removes nothing the uid could
 * not remove itself, and no link makes it touch another's file — each folder of argv[2]
 * (colon-separated) is scanned on its own filesystem: an entry the uid owns is removed (a folder
 * with its content; a link itself, never its target), a folder the uid may write into is scanned
 * in turn (at most 100000 entries in all). Exits 0, or 3 when processes of the uid were left.
 */
const CLEAR_UID = `${KILL_ALL}import shutil, stat
budget = [100000]
def clear(d, dev):
    try:
        entries = list(os.scandir(d))
    except OSError:
        return
    for e in entries:
        budget[0] -= 1
        if budget[0] < 0:
            return
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_dev != dev:
            continue
        folder = stat.S_ISDIR(st.st_mode)
        if st.st_uid == u:
            try:
                if folder:
                    shutil.rmtree(e.path, ignore_errors=True)
                else:
                    os.unlink(e.path)
            except OSError:
                pass
        elif folder and os.access(e.path, os.W_OK | os.X_OK):
            clear(e.path, dev)
for root in sys.argv[2].split(':'):
    try:
        st = os.lstat(root)
    except OSError:
        continue
    if stat.S_ISDIR(st.st_mode):
        clear(root, st.st_dev)
`;

/**
 * Makes a session uid clean for its next holder: kills every process of it (as KILL_ALL) and removes
 * what it owns in the shared temporary folders `roots` (see CLEAR_UID), by a helper started as root
 * (`python`) that drops to the uid first. Only as root. Resolves false when the helper failed or
 * processes of the uid were left.
 */
export async function clearUid(uid: number, python: string, roots: readonly string[] = SHARED_TMP): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const r = await execa(python, ['-E', '-s', '-c', CLEAR_UID, String(uid), roots.join(':')], { reject: false, timeout: 60_000, extendEnv: false, env: {}, cwd: '/' }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** How many /proc passes killUid makes at most while each finds a process (a forker, a pid hopper). */
const KILL_PASSES = 100;

/**
 * Kills every process owned by `uid` (a session's uid): the tree kill when no cgroup lists them.
 * Processes in a process group of `spare` (the other running executions of the session, each the
 * leader of its own group) are left alone; what left those groups (setsid) cannot be told apart
 * and is killed. `spare` may be a function, asked again before each kill (an execution may start
 * while /proc is read); when it returns `false` the sweep ends at once, killing nothing more (the
 * uid is no longer the caller's to sweep: its session was closed).
 *
 * With `spare` an empty set (nothing of the uid may survive: a closing session, a warm worker whose
 * task holds the session) and `python` given (a root-started interpreter, see KILL_ALL), the kill is
 * done by a helper running as the uid with kill(-1), which no fork outruns. Otherwise (or when the
 * helper cannot run) /proc is swept again until two passes in a row find no process of the uid (at
 * most KILL_PASSES passes): forkers and pid hoppers are caught by the passes that follow. Resolves
 * true when the last look found none left.
 */
export async function killUid(uid: number, spare: ReadonlySet<number> | (() => ReadonlySet<number> | false) = new Set(), python?: string): Promise<boolean> {
  const spared = typeof spare === 'function' ? spare : () => spare;
  if (typeof spare !== 'function' && spare.size === 0 && python !== undefined && process.getuid?.() === 0) {
    const r = await execa(python, ['-E', '-s', '-c', KILL_ALL, String(uid)], { reject: false, timeout: 10_000, extendEnv: false, env: {}, cwd: '/' }).catch(() => undefined);
    if (r?.exitCode === 0) {
      // Confirmed on /proc (a helper that could not run — no interpreter — falls through to the sweep).
      if ((await uidPids(uid)).length === 0) return true;
    }
  }
  let empty = 0;
  for (let pass = 0; pass < KILL_PASSES; pass++) {
    let found = 0;
    for (const pid of await uidPids(uid)) {
      let groups = spared();
      if (groups === false) return true;
      if (groups.size > 0) {
        // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        groups = spared(); // asked again after the read: it is the kill that must see the current state
        if (groups === false) return true;
        if (groups.has(pgrp)) continue;
      }
      found++;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    if (found === 0 && ++empty === 2) return true;
    if (found > 0) empty = 0;
    await new Promise((r) => setTimeout(r, found > 0 ? 5 : 1));
  }
  return false;
}

/** The pids of live processes (goneStatus) whose real uid is `uid`. */
export async function uidPids(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    const m = /^Uid:\s+(\d+)/m.exec(status);
    if (m && Number(m[1]) === uid && !goneStatus(status)) pids.push(Number(name));
  }
  return pids;
}
