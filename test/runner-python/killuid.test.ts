/**
 * What the kill by session uid must reach without a pids cgroup (security review pyiso, finding 1):
 * a process whose main thread has exited while another thread runs (it reads "Z" in /proc, yet is
 * alive), and a process that hops to new pids (fork, parent exits) while it is being killed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { PYTHON, code, pythonRuntime, type PythonFixture } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
let counter = 0;
const ctx = (limits: Partial<SessionLimits> = {}, sessionId = `kill-${process.pid}-${++counter}`): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000, ...limits }) },
  traceId: `trace-${++counter}`,
  signal: new AbortController().signal,
});

/** Pids whose real uid is `uid` and that still have a live thread (a zombie leader with threads counts). */
function livePids(uid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let status = '';
    try {
      status = readFileSync(`/proc/${name}/status`, 'utf8');
    } catch {
      continue;
    }
    if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) continue;
    const zombie = /^State:\s+[ZX]/m.test(status);
    if (!zombie || Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1') > 1) pids.push(Number(name));
  }
  return pids;
}

/** Kills what a failing test left (only processes of the test's session uid). */
function cleanup(uid: number): void {
  for (let i = 0; i < 50; i++) {
    const pids = livePids(uid);
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

const waitGone = async (uid: number, ms: number) => {
  const deadline = performance.now() + ms;
  while (livePids(uid).length > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return livePids(uid);
};

/** A task that prints its uid and leaves a setsid child (stdio on /dev/null) running `body` (indented 4). */
const detached = (body: string) => `
import os, time, threading, ctypes
if os.fork():
    print(os.getuid(), flush=True)
    time.sleep(0.3)
else:
    fd = os.open('/dev/null', os.O_RDWR)
    for i in (0, 1, 2): os.dup2(fd, i)
    os.setsid()
${body}`;

/** A setsid child whose main thread exits (raw SYS_exit) while a thread runs for 30 s; the task prints its uid. */
const ZOMBIE_LEADER = detached(`
    threading.Thread(target=lambda: (time.sleep(30), os._exit(0))).start()
    time.sleep(0.05)
    ctypes.CDLL(None).syscall(60, 0)
`);

/** A setsid child that keeps hopping to a new pid (fork, parent exits) for 30 s; the task prints its uid. */
const HOPPER = detached(`
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if os.fork():
                os._exit(0)
        except OSError:
            time.sleep(0.01)
    os._exit(0)
`);

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe.each([false, true])('runner-python kill by session uid, no pids cgroup (warm: %s)', (warm) => {
  it.runIf(IS_ROOT)('kills a process whose main thread exited while another thread runs ("Z" with live threads)', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, cgroupRoot: 'none', maxProcesses: 16 });
    const c = ctx();
    const r = await fixture.runner.executeIsolated(code(ZOMBIE_LEADER), c);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const uid = Number(r.stdout.trim());
    try {
      expect(uid).toBeGreaterThan(0);
      // Cold: the sweep after the task's end kills it; warm: the worker lives on until the close.
      if (!warm) expect(await waitGone(uid, 3000), 'the leftover outlived its cold task').toEqual([]);
      await fixture.runner.closeSession(c.session.id, 't');
      expect(await waitGone(uid, 500), 'the leftover outlived closeSession').toEqual([]);
    } finally {
      cleanup(uid);
    }
  }, 30_000);

  it.runIf(IS_ROOT)('closeSession kills a process that keeps hopping to new pids', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, cgroupRoot: 'none', maxProcesses: 16 });
    const c = ctx();
    const r = await fixture.runner.executeIsolated(code(HOPPER), c);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const uid = Number(r.stdout.trim());
    try {
      expect(uid).toBeGreaterThan(0);
      await fixture.runner.closeSession(c.session.id, 't');
      expect(await waitGone(uid, 500), 'the pid hopper outlived closeSession').toEqual([]);
    } finally {
      cleanup(uid);
    }
  }, 30_000);
});
