/**
 * What this process started that must not outlive it, however it ends: the process groups of the
 * child processes it runs tasks in, temporary folders and files, terminal settings to restore. Whoever creates
 * one registers it here and releases it after cleaning it up the normal way; whatever is still
 * registered when the process exits — `process.exit` after a second Ctrl-C, say, which skips every
 * `finally` — is cleaned up synchronously in the 'exit' event (which allows nothing asynchronous).
 */
import { mkdtempSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const groups = new Map<number, string | undefined>();
/** Temporary folders and files, removed at exit unless released. */
const leftovers = new Set<string>();
const restores = new Set<() => void>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  process.on('exit', cleanUpNow);
}

/**
 * Registers a child process that leads its own process group (spawned `detached`), and the cgroup
 * that lists every process of it when there is one (children that left the group with setsid).
 * Returns the release to call once the group has been killed and reaped.
 */
export function trackProcessGroup(pgid: number | undefined, cgroupDir?: string): () => void {
  if (pgid === undefined) return () => {};
  listen();
  groups.set(pgid, cgroupDir);
  return () => void groups.delete(pgid);
}

/** A new folder under os.tmpdir() (`prefix` + random), removed by `remove()` or, at the latest, at exit. */
export function temporaryFolder(prefix: string): { path: string; remove(): void } {
  listen();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  leftovers.add(dir);
  return {
    path: dir,
    remove() {
      rmSync(dir, { recursive: true, force: true });
      leftovers.delete(dir);
    },
  };
}

/**
 * Registers a temporary path (a file or folder being written under a name of its own, to be renamed
 * into place) to be removed at exit, should the process end before it is renamed or removed — a
 * second Ctrl-C exits without the writer's `finally`. Returns the release to call once it is gone.
 */
export function removeAtExit(target: string): () => void {
  listen();
  leftovers.add(target);
  return () => void leftovers.delete(target);
}

/** Runs `restore` (synchronous: restore terminal settings, say) at exit unless released first. */
export function atExit(restore: () => void): () => void {
  listen();
  restores.add(restore);
  return () => void restores.delete(restore);
}

/** How long an exiting process waits for the kernel to let it remove its killed executions' cgroups. */
const CGROUP_REMOVAL_MS = 2_000;

/** Kills the processes a cgroup still lists; false when the cgroup is gone. */
function killCgroupProcs(cgroupDir: string): boolean {
  let procs: string;
  try {
    procs = readFileSync(path.join(cgroupDir, 'cgroup.procs'), 'utf8');
  } catch {
    return false;
  }
  for (const pid of procs.split('\n').filter(Boolean)) kill(Number(pid));
  return true;
}

/** Kills the registered process groups (and their cgroups' processes), removes the temporary folders and files, runs the restores. Synchronous. */
export function cleanUpNow(): void {
  const cgroups: string[] = [];
  for (const [pgid, cgroupDir] of groups) {
    kill(-pgid);
    if (cgroupDir && killCgroupProcs(cgroupDir)) cgroups.push(cgroupDir);
  }
  groups.clear();
  // A cgroup can be removed once its killed processes are gone, which takes the kernel a moment
  // (longer on a loaded machine: 200 ms was seen to fall short): short waits, killing whatever is
  // still listed, for up to CGROUP_REMOVAL_MS (nothing asynchronous runs any more); then it is left.
  const deadline = Date.now() + CGROUP_REMOVAL_MS;
  while (cgroups.length > 0) {
    for (const dir of [...cgroups]) {
      try {
        rmdirSync(dir);
        cgroups.splice(cgroups.indexOf(dir), 1);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || !killCgroupProcs(dir)) cgroups.splice(cgroups.indexOf(dir), 1);
      }
    }
    if (cgroups.length === 0 || Date.now() >= deadline) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  for (const leftover of leftovers) {
    try {
      rmSync(leftover, { recursive: true, force: true });
    } catch {
      // Exiting: nothing better to do.
    }
  }
  leftovers.clear();
  for (const restore of restores) {
    try {
      restore();
    } catch {
      // Exiting: nothing better to do.
    }
  }
  restores.clear();
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited meanwhile.
  }
}

/** Whether a process with this pid exists on this host (EPERM: it does, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
