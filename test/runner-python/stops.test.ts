/**
 * What a stopped task kills, what a queued one says, and how a failure is classified as the memory
 * limit (regressions of the orchestration audit, items 2, 6 and 7, and of a cold session's timeout
 * that killed the session's other running tasks).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { PythonRunner } from '../../plugins/runner-python/index.ts';
import { RunnerPythonOptions } from '../../plugins/runner-python/options.ts';
import { PYTHON, alive, code, pythonRuntime, settle, type PythonFixture } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
let counter = 0;
const ctx = (limits: Partial<SessionLimits> = {}, sessionId = `stop-${process.pid}-${++counter}`, signal = new AbortController().signal): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000, ...limits }) },
  traceId: `trace-${++counter}`,
  signal,
});
const kill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
};

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** Starts a double-forked, setsid'd `sleep 300` (out of the worker's process group), writes its pid to "escaped", then waits forever. */
const ESCAPE = [
  'import os, time',
  'if os.fork() == 0:',
  '    os.setsid()',
  '    pid = os.fork()',
  '    if pid == 0:',
  '        os.execv("/bin/sleep", ["sleep", "300"])',
  '    open("escaped", "w").write(str(pid))',
  '    os._exit(0)',
  'os.wait()',
  'while True:',
  '    time.sleep(0.05)',
].join('\n');

describe.each([true, false])('runner-python without a pids cgroup, with a session uid (warm: %s)', (warm) => {
  it.runIf(IS_ROOT)('a timeout kills descendants that left the process group', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, cgroupRoot: 'none' });
    expect(fixture.runner.capabilities.fileIsolation, 'no per-session uid here').toBe(true);
    const c = ctx({ timeoutMs: 1000 });
    const r = await fixture.runner.executeIsolated(code(ESCAPE), c);
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_TIMEOUT');
    const escaped = Number(readFileSync(path.join(fixture.runner.sessionDir(c.session.id, c.session.tenant), 'escaped'), 'utf8'));
    try {
      await settle();
      expect(alive(escaped), 'a setsid, double-forked descendant outlived the timeout').toBe(false);
      const after = await fixture.runner.executeIsolated(code('print("next")'), c);
      expect(after.stdout).toBe('next\n');
    } finally {
      kill(escaped);
    }
  }, 30_000);

  it.runIf(IS_ROOT)("an abort kills them too, and leaves other sessions' processes alone", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, cgroupRoot: 'none' });
    expect(fixture.runner.capabilities.fileIsolation, 'no per-session uid here').toBe(true);
    // Another session's running task (same runner, its own uid) must survive.
    const other = fixture.runner.executeIsolated(code('import time\ntime.sleep(2)\nprint("other done")'), ctx());
    const controller = new AbortController();
    const c = ctx({}, undefined, controller.signal);
    setTimeout(() => controller.abort(), 800);
    const r = await fixture.runner.executeIsolated(code(ESCAPE), c);
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_ABORTED');
    const escaped = Number(readFileSync(path.join(fixture.runner.sessionDir(c.session.id, c.session.tenant), 'escaped'), 'utf8'));
    try {
      await settle();
      expect(alive(escaped), 'a setsid, double-forked descendant outlived the abort').toBe(false);
      const o = await other;
      expect(o.ok, `another session's task was killed: ${JSON.stringify(o)}`).toBe(true);
      expect(o.stdout).toBe('other done\n');
    } finally {
      kill(escaped);
    }
  }, 30_000);
});

describe.each(['auto', 'none'])('runner-python cold session with tasks side by side (cgroupRoot: %s)', (cgroupRoot) => {
  it.runIf(IS_ROOT)("a timeout kills the task's escaped descendants but not the session's other running task", async () => {
    // Default options: cold executions have no cgroup of their own, so the kill goes by session uid.
    fixture = await pythonRuntime({ python: PYTHON, warm: false, cgroupRoot });
    expect(fixture.runner.capabilities.fileIsolation, 'no per-session uid here').toBe(true);
    const id = `side-${process.pid}-${++counter}`;
    const sibling = fixture.runner.executeIsolated(code('import time\ntime.sleep(1.5)\nprint("sibling done")'), ctx({ maxConcurrency: 4 }, id));
    await new Promise((r) => setTimeout(r, 200));
    const r = await fixture.runner.executeIsolated(code(ESCAPE), ctx({ maxConcurrency: 4, timeoutMs: 800 }, id));
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_TIMEOUT');
    const escaped = Number(readFileSync(path.join(fixture.runner.sessionDir(id, 't'), 'escaped'), 'utf8'));
    try {
      const s = await sibling;
      expect(s.ok, `the other task of the session was killed: ${JSON.stringify(s)}`).toBe(true);
      expect(s.stdout).toBe('sibling done\n');
      await settle();
      expect(alive(escaped), 'a setsid, double-forked descendant outlived the timeout').toBe(false);
    } finally {
      kill(escaped);
    }
  }, 30_000);
});

describe.each(['auto', 'none'])('runner-python cold task that ends normally (cgroupRoot: %s)', (cgroupRoot) => {
  it.runIf(IS_ROOT)("kills the descendants it left outside its process group, not the session's other running task", async () => {
    // Default options: cold executions have no cgroup of their own, so only the session uid finds them.
    fixture = await pythonRuntime({ python: PYTHON, warm: false, cgroupRoot });
    expect(fixture.runner.capabilities.fileIsolation, 'no per-session uid here').toBe(true);
    const id = `ended-${process.pid}-${++counter}`;
    const sibling = fixture.runner.executeIsolated(code('import time\ntime.sleep(1.5)\nprint("sibling done")'), ctx({ maxConcurrency: 4 }, id));
    await new Promise((r) => setTimeout(r, 200));
    // A daemon: double-forked, setsid, its output elsewhere; the task itself ends at once.
    const r = await fixture.runner.executeIsolated(code(ESCAPE.split('\nwhile True:')[0]!.replace('os.execv', 'os.dup2(os.open(os.devnull, os.O_RDWR), 1); os.dup2(1, 2); os.execv')), ctx({ maxConcurrency: 4 }, id));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const escaped = Number(readFileSync(path.join(fixture.runner.sessionDir(id, 't'), 'escaped'), 'utf8'));
    try {
      const deadline = performance.now() + 2000;
      while (alive(escaped) && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(alive(escaped), 'a setsid, double-forked descendant outlived its task').toBe(false);
      const s = await sibling;
      expect(s.ok, `the other task of the session was killed: ${JSON.stringify(s)}`).toBe(true);
      expect(s.stdout).toBe('sibling done\n');
    } finally {
      kill(escaped);
    }
  }, 30_000);
});

describe.each(['auto', 'none'])('runner-python cold task whose setsid child keeps its stdout open (cgroupRoot: %s)', (cgroupRoot) => {
  it.runIf(IS_ROOT)("returns its whole output without waiting out the 2 s drain timeout; the child is killed, the session's other task is not", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false, cgroupRoot });
    const id = `held-${process.pid}-${++counter}`;
    const sibling = fixture.runner.executeIsolated(code('import time\ntime.sleep(2.5)\nprint("sibling done")'), ctx({ maxConcurrency: 4 }, id));
    await new Promise((r) => setTimeout(r, 200));
    const task = [
      'import subprocess, sys',
      'p = subprocess.Popen(["sleep", "100"], start_new_session=True)',
      'print(p.pid)',
      'sys.stdout.write("x" * 100000 + "\\n")',
      'sys.stderr.write("to stderr\\n")',
    ].join('\n');
    // Warmed up first (interpreter pages cached), then timed.
    await fixture.runner.executeIsolated(code('print(1)'), ctx({ maxConcurrency: 4 }, id));
    const started = performance.now();
    const r = await fixture.runner.executeIsolated(code(task), ctx({ maxConcurrency: 4 }, id));
    const took = performance.now() - started;
    const [pid, xs] = r.stdout.split('\n');
    try {
      expect(r.ok, JSON.stringify(r).slice(0, 300)).toBe(true);
      expect(xs, 'the output written before the end was lost').toBe('x'.repeat(100000));
      expect(r.stderr).toBe('to stderr\n');
      expect(took, 'the result waited for the drain timeout (2 s)').toBeLessThan(1500);
      await settle();
      expect(alive(Number(pid)), 'the setsid child outlived its task').toBe(false);
      const s = await sibling;
      expect(s.stdout, `the other task of the session was killed: ${JSON.stringify(s)}`).toBe('sibling done\n');
    } finally {
      kill(Number(pid));
    }
  }, 30_000);
});

describe.each(['auto', 'none'])('runner-python warm session queue (cgroupRoot: %s)', (cgroupRoot) => {
  it('a task that times out waiting for the worker says so and kills nothing: the running task and its globals survive', async () => {
    fixture = await pythonRuntime({ python: PYTHON, cgroupRoot });
    const id = `queue-${process.pid}-${++counter}`;
    const first = await fixture.runner.executeIsolated(code('import os\nkept = 1\nos.getpid()'), ctx({}, id));
    const running = fixture.runner.executeIsolated(code('import time, os\ntime.sleep(1.5)\nkept += 1\nos.getpid()'), ctx({}, id));
    await new Promise((r) => setTimeout(r, 200));
    const queued = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({ timeoutMs: 400 }, id));
    expect(queued.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(queued.error?.message).toMatch(/timeoutMs=400 ms.*before it started: it waited \d+ ms for the session's worker .*never ran; nothing was killed/);
    expect(queued.error?.message).not.toMatch(/processes were killed/);
    expect(queued.stdout).toBe('');
    const done = await running;
    expect(done.ok, JSON.stringify(done)).toBe(true);
    expect(done.value, 'the running task was served by another worker').toBe(first.value);
    const after = await fixture.runner.executeIsolated(code('kept'), ctx({}, id));
    expect(after.value, "the session's globals were lost").toBe(2);
  }, 30_000);

  it('a task aborted while it waits says it never started, and kills nothing', async () => {
    fixture = await pythonRuntime({ python: PYTHON, cgroupRoot });
    const id = `queue-${process.pid}-${++counter}`;
    const first = await fixture.runner.executeIsolated(code('import os\nos.getpid()'), ctx({}, id));
    const running = fixture.runner.executeIsolated(code('import time, os\ntime.sleep(1)\nos.getpid()'), ctx({}, id));
    await new Promise((r) => setTimeout(r, 200));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const queued = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({}, id, controller.signal));
    expect(queued.error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(queued.error?.message).toMatch(/aborted before it started: it waited \d+ ms for the session's worker .*nothing was killed/);
    const done = await running;
    expect(done.ok, JSON.stringify(done)).toBe(true);
    expect(done.value).toBe(first.value);
  }, 30_000);
});

describe('runner-python cold session queue', () => {
  it("a task that times out waiting for the session's slot says so", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false });
    const id = `queue-${process.pid}-${++counter}`;
    const running = fixture.runner.executeIsolated(code('import time\ntime.sleep(1)\nprint("done")'), ctx({ maxConcurrency: 1 }, id));
    await new Promise((r) => setTimeout(r, 200));
    const queued = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({ maxConcurrency: 1, timeoutMs: 300 }, id));
    expect(queued.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(queued.error?.message).toMatch(/waited \d+ ms for a free execution slot of the session \(maxConcurrency=1\) and never ran/);
    expect((await running).stdout).toBe('done\n');
  }, 30_000);

  it('a task already running still counts when the session\'s maxConcurrency changes', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false });
    const id = `queue-${process.pid}-${++counter}`;
    const running = fixture.runner.executeIsolated(code('import time\ntime.sleep(1)\nprint("done")'), ctx({ maxConcurrency: 2 }, id));
    await new Promise((r) => setTimeout(r, 200));
    const queued = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({ maxConcurrency: 1, timeoutMs: 300 }, id));
    expect(queued.error?.message).toMatch(/waited \d+ ms for a free execution slot of the session \(maxConcurrency=1\) and never ran/);
    expect((await running).stdout).toBe('done\n');
  }, 30_000);
});

describe.each([true, false])("runner-python: a task waiting for its own session holds none of the runner's slots (warm: %s)", (warm) => {
  it('another session runs while one session has tasks queued behind its running one', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxConcurrency: 2 });
    const a = `busy-${process.pid}-${++counter}`;
    // Session A runs one task at a time: one runs, two wait for A (and must not take the runner's second slot).
    const queue = [1, 2, 3].map(() => fixture!.runner.executeIsolated(code('import time\ntime.sleep(1.5)'), ctx({ maxConcurrency: 1, timeoutMs: 20_000 }, a)));
    await new Promise((r) => setTimeout(r, 300));
    const b = await fixture.runner.executeIsolated(code('print("B")'), ctx({ timeoutMs: 1200 }));
    expect(b.error, JSON.stringify(b)).toBeUndefined();
    expect(b.stdout).toBe('B\n');
    for (const r of await Promise.all(queue)) expect(r.ok, JSON.stringify(r)).toBe(true);
  }, 30_000);

  it("a task waiting for the runner's slot times out counting the whole wait; one aborted there frees its session's slot", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxConcurrency: 1 });
    const started = performance.now();
    const busy = fixture.runner.executeIsolated(code('import time\ntime.sleep(1.5)'), ctx());
    await new Promise((r) => setTimeout(r, 200));
    const b = `wait-${process.pid}-${++counter}`;
    const queued = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({ timeoutMs: 400, maxConcurrency: 1 }, b));
    expect(queued.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(queued.error?.message).toMatch(/timeoutMs=400 ms.*before it started: it waited \d+ ms for a free execution slot of the runner \(maxConcurrency=1 .*never ran; nothing was killed/);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const aborted = await fixture.runner.executeIsolated(code('print("must not run")'), ctx({ maxConcurrency: 1 }, b, controller.signal));
    expect(aborted.error?.message).toMatch(/aborted before it started: it waited \d+ ms for a free execution slot of the runner/);
    expect((await busy).ok).toBe(true);
    // Session B's own slot was given back by both: its next task runs at once.
    const next = await fixture.runner.executeIsolated(code('print("B")'), ctx({ timeoutMs: 2000, maxConcurrency: 1 }, b));
    expect(next.stdout, JSON.stringify(next)).toBe('B\n');
    expect(performance.now() - started).toBeLessThan(10_000);
  }, 30_000);
});

describe.each([true, false])('runner-python memory classification (warm: %s)', (warm) => {
  const THREADS = (n: number, stack = 0) => [
    'import threading, time',
    ...(stack ? [`threading.stack_size(${stack})`] : []),
    `ts = [threading.Thread(target=time.sleep, args=(2,), daemon=True) for _ in range(${n})]`,
    'for t in ts:',
    '    t.start()',
  ].join('\n');

  it('printing "MemoryError" is not running out of memory', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, memoryMb: 128 });
    const c = ctx();
    const printed = await fixture.runner.executeIsolated(code('import sys\nsys.stderr.write("MemoryError\\n")\nsys.exit(1)'), c);
    expect(printed.error?.code, JSON.stringify(printed)).toBe('LIMIT_RUNNER_TASK_ERROR');
    const named = await fixture.runner.executeIsolated(code('raise ValueError("MemoryError")'), c);
    expect(named.error?.code, JSON.stringify(named)).toBe('LIMIT_RUNNER_TASK_ERROR');
    expect(named.error?.message).toMatch(/ValueError: MemoryError/);
  }, 30_000);

  it('ENOMEM from mmap under RLIMIT_AS is the memory limit', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, memoryMb: 128 });
    const r = await fixture.runner.executeIsolated(code('import mmap\nm = mmap.mmap(-1, 400 << 20)'), ctx());
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_MEMORY_EXCEEDED');
    expect(r.error?.message).toBe('the task exceeded memoryMb=128 MB (OSError: [Errno 12] Cannot allocate memory)');
    // A caught ENOMEM is the task's own business.
    const caught = await fixture.runner.executeIsolated(code('import mmap\ntry:\n    mmap.mmap(-1, 400 << 20)\nexcept OSError as e:\n    print("caught", e.errno)'), ctx());
    expect(caught.ok, JSON.stringify(caught)).toBe(true);
    expect(caught.stdout).toBe('caught 12\n');
  }, 30_000);

  it('a thread that cannot start for want of address space is the memory limit', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, memoryMb: 128 });
    // 32 MB stacks: the fourth or so thread's stack does not fit, and the threads already started
    // keep room for their own allocations (with small stacks a thread could start and then fail
    // inside CPython's bootstrap for want of memory, leaving start() waiting for ever).
    const r = await fixture.runner.executeIsolated(code(THREADS(200, 32 * 1024 * 1024)), ctx());
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_MEMORY_EXCEEDED');
    expect(r.error?.message).toMatch(/memoryMb=128 MB \(RuntimeError: can't start new thread\)/);
  }, 30_000);

  it('a thread refused by the process limit, with address space to spare, is a task error', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, memoryMb: 2048, maxProcesses: 16 });
    expect(fixture.runner.capabilities.processLimit, 'no pids cgroup and no session uid here').toBe(true);
    const r = await fixture.runner.executeIsolated(code(THREADS(100, 256 * 1024)), ctx());
    expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_TASK_ERROR');
    expect(r.error?.message).toMatch(/can't start new thread/);
  }, 30_000);
});

describe('runner-python aborted during its start-up', () => {
  it('a task aborted while the runner probes the platform (its first use) is not run', async () => {
    // A runner used without boot probes on its first task (seconds); the abort comes meanwhile.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-'));
    chmodSync(dir, 0o711);
    const runner = new PythonRunner({ options: RunnerPythonOptions.parse({ python: PYTHON }), workDir: path.join(dir, 'sessions') });
    try {
      const controller = new AbortController();
      const run = runner.executeIsolated(code('import time\ntime.sleep(3)\nprint("ran")'), ctx({}, undefined, controller.signal));
      setTimeout(() => controller.abort(), 20);
      const r = await run;
      expect(r.error?.code, JSON.stringify(r)).toBe('LIMIT_RUNNER_ABORTED');
      expect(r.stdout).not.toContain('ran');
    } finally {
      await runner.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe.each([true, false])('runner-python task stopped while it runs (warm: %s)', (warm) => {
  it('keeps what the task wrote (and flushed) before its timeout or abort, as a crashed task does', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const task = code('import sys, time\nprint("step 1 done", flush=True)\nprint("warning: slow", file=sys.stderr, flush=True)\ntime.sleep(30)');
    const timedOut = await fixture.runner.executeIsolated(task, ctx({ timeoutMs: 1_500 }));
    expect(timedOut.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(timedOut.stdout).toBe('step 1 done\n');
    expect(timedOut.stderr).toBe('warning: slow\n');
    const controller = new AbortController();
    const running = fixture.runner.executeIsolated(task, ctx({}, undefined, controller.signal));
    setTimeout(() => controller.abort(), 1_500);
    const aborted = await running;
    expect(aborted.error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(aborted.stdout).toBe('step 1 done\n');
    // The next task of the session starts clean: nothing of the stopped one's output is carried over.
    const next = await fixture.runner.executeIsolated(code('print("next")'), ctx({}, undefined));
    expect(next.stdout).toBe('next\n');
  }, 30_000);
});

describe.each([true, false])('runner-python session closed while a task runs (warm: %s)', (warm) => {
  it('closeSession resolves only once the stopped task has returned, its processes reaped (a dispose right after finds its cgroup removal)', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, coldCgroup: true, sandboxUser: 'none', removeSessionFiles: false });
    const c = ctx();
    let returned = false;
    const running = fixture.runner.executeIsolated(code('import time\nopen("started", "w").close()\nwhile True:\n    time.sleep(0.01)'), c).then((r) => {
      returned = true;
      return r;
    });
    const started = path.join(fixture.runner.sessionDir(c.session.id, c.session.tenant), 'started');
    for (const until = Date.now() + 20_000; !existsSync(started) && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(started), 'the task did not start').toBe(true);
    await fixture.runner.closeSession(c.session.id);
    expect(returned).toBe(true);
    expect((await running).error?.code).toBe('LIMIT_RUNNER_ABORTED');
  });
});
