/**
 * Regression tests of the security review: task.files never follows a planted symlink, task.env
 * never reaches the root-run launcher, and the SQLite database is unreadable to session uids.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, Task, type RunContext } from 'limit-graph';
import { SqliteStorage } from '../../plugins/storage-sqlite/index.ts';
import { PythonRunner, RunnerPythonOptions } from '../../plugins/runner-python/index.ts';
import { PYTHON, pythonRuntime, type PythonFixture } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
let counter = 0;
const ctx = (sessionId = `hard-${process.pid}-${++counter}`): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
  traceId: `trace-${counter}`,
  signal: new AbortController().signal,
});
const code = (input: string, extra: Partial<Task> = {}) => Task.parse({ input, ...extra });

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe.each([true, false])('runner-python hardening (warm: %s)', (warm) => {
  it('task.files refuses a path through a planted symlink to a folder outside; nothing is written or chowned there', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const victim = path.join(fixture.dir, 'victim');
    mkdirSync(victim, { mode: 0o755 });
    const before = statSync(victim);
    const c = ctx();
    const plant = await fixture.runner.executeIsolated(code(`import os\nos.symlink(${JSON.stringify(victim)}, "evil")`), c);
    expect(plant.ok, JSON.stringify(plant)).toBe(true);
    const r = await fixture.runner.executeIsolated(code('print("ran")', { files: { 'evil/pwned.txt': 'x' } }), c);
    expect(r.error?.code).toBe('LIMIT_VALIDATION');
    expect(r.error?.message).toMatch(/evil.*symbolic link/);
    expect(r.stdout).not.toMatch(/ran/);
    expect(readdirSync(victim)).toEqual([]);
    const after = statSync(victim);
    expect([after.uid, after.gid, after.mode]).toEqual([before.uid, before.gid, before.mode]);
    // Deeper: a folder created by the request must not be created through the link either.
    const deep = await fixture.runner.executeIsolated(code('pass', { files: { 'evil/sub/pwned.txt': 'x' } }), c);
    expect(deep.error?.code).toBe('LIMIT_VALIDATION');
    expect(readdirSync(victim)).toEqual([]);
  });

  it("task.files refuses a symlink to another session's directory", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const a = ctx();
    const b = ctx();
    const made = await fixture.runner.executeIsolated(code('open("secret.txt", "w").write("b-secret")'), b);
    expect(made.ok, JSON.stringify(made)).toBe(true);
    const bDir = fixture.runner.sessionDir(b.session.id, b.session.tenant);
    const bOwner = statSync(bDir).uid;
    await fixture.runner.executeIsolated(code(`import os\nos.symlink(${JSON.stringify(bDir)}, "other")`), a);
    const r = await fixture.runner.executeIsolated(code('pass', { files: { 'other/secret.txt': 'overwritten', 'other/new.txt': 'x' } }), a);
    expect(r.error?.code).toBe('LIMIT_VALIDATION');
    expect(readFileSync(path.join(bDir, 'secret.txt'), 'utf8')).toBe('b-secret');
    expect(existsSync(path.join(bDir, 'new.txt'))).toBe(false);
    expect(statSync(bDir).uid).toBe(bOwner);
  });

  it('task.files refuses a planted symlink at the last component instead of writing through it', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const victimFile = path.join(fixture.dir, 'victim.txt');
    writeFileSync(victimFile, 'original', { mode: 0o644 });
    const c = ctx();
    await fixture.runner.executeIsolated(code(`import os\nos.makedirs("d")\nos.symlink(${JSON.stringify(victimFile)}, "d/f.txt")`), c);
    const r = await fixture.runner.executeIsolated(code('pass', { files: { 'd/f.txt': 'new' } }), c);
    expect(r.error?.code).toBe('LIMIT_VALIDATION');
    expect(r.error?.message).toMatch(/symbolic link/);
    expect(readFileSync(victimFile, 'utf8')).toBe('original');
    expect(statSync(victimFile).uid).toBe(process.getuid?.() ?? 0);
    // A regular file written earlier is replaced (fresh inode, owned by the session).
    const ok = await fixture.runner.executeIsolated(code('print(open("d/g.txt").read())', { files: { 'd/g.txt': 'one' } }), c);
    const ok2 = await fixture.runner.executeIsolated(code('print(open("d/g.txt").read())', { files: { 'd/g.txt': 'two' } }), c);
    expect([ok.stdout.trim(), ok2.stdout.trim()]).toEqual(['one', 'two']);
  });

  it('task.env refuses loader and interpreter variables, naming the key', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    for (const key of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONINSPECT']) {
      const r = await fixture.runner.executeIsolated(code('print("ran")', { env: { [key]: '/tmp/x' } }), ctx());
      expect(r.error?.code, key).toBe('LIMIT_VALIDATION');
      expect(r.error?.message).toContain(key);
      expect(r.stdout).toBe('');
    }
    const ok = await fixture.runner.executeIsolated(code('import os\nprint(os.environ["PATH"], os.environ["X"])', { env: { PATH: '/opt/bin:/usr/bin', X: 'y' } }), ctx());
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    expect(ok.stdout.trim()).toBe('/opt/bin:/usr/bin y');
  });

  it("task.env and task.args are on no process's command line (/proc/<pid>/cmdline is world-readable)", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const a = ctx();
    const started = path.join(fixture.runner.sessionDir(a.session.id, a.session.tenant), 'started');
    // Session A reads its own command line, shows its env and argv, then waits while B looks around.
    const running = fixture.runner.executeIsolated(code(`import os, sys, time
own = open('/proc/self/cmdline', 'rb').read()
print(b'SECRET' in own, os.environ['API_KEY'], sys.argv[1:])
open('started', 'w').close()
time.sleep(1.5)`, { env: { API_KEY: 'sk-alice-SECRET-123' }, args: ['--token=alice-arg-SECRET', 'x\r\ny'] }), a);
    for (let i = 0; i < 200 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(started), 'session A did not start').toBe(true);
    // Session B (another tenant's task) reads every process's command line meanwhile.
    const scan = await fixture.runner.executeIsolated(code(`import os
hits = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            if b'SECRET' in open('/proc/%s/cmdline' % p, 'rb').read():
                hits.append(p)
        except OSError:
            pass
print(hits)`), ctx());
    expect(scan.ok, JSON.stringify(scan)).toBe(true);
    expect(scan.stdout.trim()).toBe('[]');
    const own = await running;
    expect(own.ok, JSON.stringify(own)).toBe(true);
    expect(own.stdout.trim()).toBe("False sk-alice-SECRET-123 ['--token=alice-arg-SECRET', 'x\\r\\ny']");
    // A NUL byte cannot be in a process argument: refused, naming the item.
    const nul = await fixture.runner.executeIsolated(code('print("ran")', { args: ['ok', 'a\0b'] }), a);
    expect(nul.error).toEqual({ code: 'LIMIT_VALIDATION', message: 'task.args[1] contains a NUL byte, which a process argument cannot hold' });
  });
});

describe('runner-python cold launch', () => {
  it('task.env PATH never makes root run a planted unshare (or anything else from the session directory)', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false });
    const marker = path.join(fixture.dir, 'rooted');
    const c = ctx();
    const script = `#!/bin/sh\necho pwned > ${marker}\nexec /usr/bin/unshare "$@"\n`;
    const plant = await fixture.runner.executeIsolated(code(
      `import os\nfor n in ("unshare", "python3", "python"):\n    open(n, "w").write(${JSON.stringify(script)})\n    os.chmod(n, 0o755)`), c);
    expect(plant.ok, JSON.stringify(plant)).toBe(true);
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    const r = await fixture.runner.executeIsolated(code('import os\nprint(os.getuid() == 0, os.environ["PATH"].split(":")[0])', {
      env: { PATH: `${dir}:/usr/bin:/bin` },
    }), c);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.stdout.trim()).toBe(`${IS_ROOT ? 'False' : 'False'} ${dir}`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('runner-python module shadowing', () => {
  it.each([false, true])('a module a task plants in its directory (resource.py, ctypes/, json.py) is never imported by the launcher in place of its own; the task still imports its own modules (warm: %s)', async (warm) => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const marker = path.join(fixture.dir, 'shadowed');
    const c = ctx();
    // Write the modules, then end the worker (warm) so that the next task starts a new process.
    const shadow = `import os\nopen(${JSON.stringify(marker)}, "a").write("imported as uid %d\\n" % os.getuid())\n`;
    const plant = await fixture.runner.executeIsolated(code([
      'import os',
      `for name in ("resource.py", "errno.py", "codecs.py", "json.py", "ast.py", "traceback.py"):\n    open(name, "w").write(${JSON.stringify(shadow)})`,
      `os.makedirs("ctypes", exist_ok=True)\nopen("ctypes/__init__.py", "w").write(${JSON.stringify(shadow)})`,
      'open("mymod.py", "w").write("X = 5\\n")',
      ...(warm ? ['os._exit(0)'] : []),
    ].join('\n')), c);
    expect(plant.ok || warm, JSON.stringify(plant)).toBe(true);
    // Without network (the launcher mounts over /run with ctypes as root where it can).
    const r = await fixture.runner.executeIsolated(code('import mymod\nprint(mymod.X)'), c);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.stdout.trim()).toBe('5');
    // Neither as root before the drop nor by the launcher's own imports after it (the worker's json, ast, traceback).
    expect(existsSync(marker) ? readFileSync(marker, 'utf8') : '').toBe('');
  });
});

describe.runIf(IS_ROOT)('storage files vs session uids', () => {
  it('a python task under a session uid cannot open the SQLite database', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false, sandboxUser: 'per-session' });
    const file = path.join(fixture.dir, 'limit.db');
    const store = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
    await store.open();
    try {
      const r = await fixture.runner.executeIsolated(code(
        `res = []\nfor f in [${['', '-wal', '-shm'].map((s) => JSON.stringify(file + s)).join(', ')}]:\n    try:\n        open(f, "rb").read(1)\n        res.append("read")\n    except PermissionError:\n        res.append("denied")\n    except FileNotFoundError:\n        res.append("absent")\nprint(res)`), ctx());
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.stdout).not.toMatch(/read/);
      expect(r.stdout).toMatch(/^\['denied'/);
    } finally {
      await store.close();
    }
  });
});

describe('runner-python keeps sessions of different tenants apart, even with the same id', () => {
  const as = (tenant: string, sessionId: string): RunContext => ({
    session: { id: sessionId, tenant, limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
    traceId: `trace-${++counter}`,
    signal: new AbortController().signal,
  });

  it('refuses another tenant on a live session id, and never gives it the directory another tenant left behind', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: true, removeSessionFiles: false });
    const id = `shared-${process.pid}-${++counter}`;
    const wrote = await fixture.runner.executeIsolated(code('open("notes.txt", "w").write("A-PRIVATE")\nsecret = "A-GLOBAL"'), as('a', id));
    expect(wrote.ok, wrote.stderr).toBe(true);
    // Refused, naming the id and not whose it is.
    const refused = await fixture.runner.executeIsolated(code('print(open("notes.txt").read())'), as('b', id)).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'LIMIT_CONFLICT', message: `Session id "${id}" is in use on this runner by another tenant`, details: { sessionId: id } });
    expect((refused as { details?: unknown }).details).toEqual({ sessionId: id });
    // The same tenant goes on as before.
    expect((await fixture.runner.executeIsolated(code('print(open("notes.txt").read(), secret)'), as('a', id))).stdout.trim()).toBe('A-PRIVATE A-GLOBAL');
    // A's session ends but its files stay (removeSessionFiles: false), as after a crash and restart.
    await fixture.runner.closeSession(id);
    expect(existsSync(path.join(fixture.runner.sessionDir(id, 'a'), 'notes.txt'))).toBe(true);
    const b = await fixture.runner.executeIsolated(code('import os\nprint(os.path.exists("notes.txt"), "secret" in globals())'), as('b', id));
    expect(b.stdout.trim()).toBe('False False');
    // And A, coming back to its id after B used it, does not see B's files either: each tenant's
    // session of the id has its own directory (its name holds the tenant), so A finds its own kept file.
    await fixture.runner.executeIsolated(code('open("b.txt", "w").write("B")'), as('b', id));
    await fixture.runner.closeSession(id);
    expect((await fixture.runner.executeIsolated(code('import os\nprint(sorted(f for f in os.listdir(".") if not f.startswith(".")))'), as('a', id))).stdout.trim()).toBe("['notes.txt']");
  }, 60_000);

  it("another tenant closing a session of the same id leaves this tenant's worker, globals and files alone", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: true });
    const id = `shared-${process.pid}-${++counter}`;
    const a = await fixture.rt.openSession({ tenant: 'a', id });
    const actx: RunContext = { session: { id, tenant: 'a', limits: a.limits }, traceId: 't', signal: a.signal };
    expect((await fixture.runner.executeIsolated(code('open("notes.txt", "w").write("A-PRIVATE")\nsecret = "A-GLOBAL"'), actx)).ok).toBe(true);
    // What the orchestrator does when B closes its stored session of this id that is not live here.
    await fixture.runner.closeSession(id, 'b');
    const after = await fixture.runner.executeIsolated(code('print(open("notes.txt").read(), secret)'), actx);
    expect(after.stdout.trim(), JSON.stringify(after)).toBe('A-PRIVATE A-GLOBAL');
    await a.close();
    expect(existsSync(fixture.runner.sessionDir(id, 'a'))).toBe(false);
  }, 60_000);
});

describe.each([true, false])('runner-python writes task.files as the session uid (warm: %s)', (warm) => {
  it.runIf(IS_ROOT)('files and their new folders belong to the session uid, never written by root', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const c = ctx();
    const r = await fixture.runner.executeIsolated(code('import os\nprint(os.getuid())\nprint(open("deep/er/notes.txt").read())', { files: { 'deep/er/notes.txt': 'hello' } }), c);
    expect(r.ok, r.stderr).toBe(true);
    const [uid, text] = r.stdout.trim().split('\n');
    expect(text).toBe('hello');
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    expect(statSync(path.join(dir, 'deep/er/notes.txt')).uid).toBe(Number(uid));
    expect(statSync(path.join(dir, 'deep')).uid).toBe(Number(uid));
    expect(Number(uid)).not.toBe(0);
  }, 30_000);
});

describe('runner-python boot with an interpreter that is not Python 3', () => {
  it('refuses it naming the interpreter and what it printed, not with a bare JSON error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-not-python-'));
    try {
      const fake = (name: string, body: string) => {
        const file = path.join(dir, name);
        writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        return file;
      };
      const cases: [string, RegExp][] = [
        [fake('silent', 'exit 0'), /is not Python 3: asked for its path and version, it printed nothing$/],
        [fake('banner', 'echo "Welcome to the shim"'), /is not Python 3: asked for its path and version, it printed "Welcome to the shim"$/],
        [fake('python2', 'echo \'["/usr/bin/python2.7", "2.7.18"]\''), /is not Python 3: .* it printed "\[\\"\/usr\/bin\/python2\.7\\", \\"2\.7\.18\\"\]"$/],
      ];
      for (const [python, message] of cases) {
        await expect(pythonRuntime({ python }), python).rejects.toMatchObject({
          code: 'LIMIT_PLUGIN_SETUP_FAILED',
          message: expect.stringMatching(message),
          fix: expect.stringMatching(/`python` option/),
        });
        await expect(pythonRuntime({ python })).rejects.toThrow(`the interpreter "${python}" is not Python 3`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('runner-python boot with Python 3 older than 3.7', () => {
  it('refuses it naming the version, the interpreter and the python option', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-old-python-'));
    try {
      const python = path.join(dir, 'python3.6');
      // Answers the boot's question as Python 3.6 does (the preamble would then fail on reconfigure).
      writeFileSync(python, `#!/bin/sh\necho '["${python}", "3.6.15"]'\n`, { mode: 0o755 });
      await expect(pythonRuntime({ python })).rejects.toMatchObject({
        code: 'LIMIT_PLUGIN_SETUP_FAILED',
        message: `runner-python: the interpreter "${python}" is Python 3.6.15 (${python}); runner-python needs Python 3.7 or later`,
        fix: expect.stringMatching(/`python` option .*3\.7 or later/),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('runner-python session limits not made by SessionLimits', () => {
  it('are refused naming the field, never applied (memoryMb 0 set no memory limit at all)', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false });
    const valid = SessionLimits.parse({ timeoutMs: 20_000 });
    const cases: [Partial<Record<keyof SessionLimits, unknown>>, RegExp][] = [
      [{ memoryMb: 0 }, /memoryMb/],
      [{ memoryMb: -1 }, /memoryMb/],
      [{ memoryMb: 100.5 }, /memoryMb/],
      [{ maxConcurrency: 0 }, /maxConcurrency/],
      [{ timeoutMs: Number.NaN }, /timeoutMs/],
    ];
    for (const [bad, field] of cases) {
      const c = ctx();
      const run = fixture.runner.executeIsolated(code('x = bytearray(700 * 1024 * 1024)\nprint("allocated")'), { ...c, session: { ...c.session, limits: { ...valid, ...bad } as SessionLimits } });
      await expect(run, JSON.stringify(bad)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(field) });
    }
    const ok = await fixture.runner.executeIsolated(code('print("fine")'), ctx());
    expect(ok.stdout).toBe('fine\n');
  }, 30_000);
});

describe('runner-python whose interpreter is missing at first use', () => {
  it('fails clearly, and works once the interpreter exists (a failed probe is not kept)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-'));
    chmodSync(dir, 0o711);
    const python = path.join(dir, 'python3');
    const runner = new PythonRunner({ options: RunnerPythonOptions.parse({ python }), workDir: path.join(dir, 'sessions') });
    try {
      const missing = await runner.executeIsolated(code('print("hi")'), ctx());
      expect(missing.error?.code, JSON.stringify(missing)).toBe('LIMIT_RUNNER_UNAVAILABLE');
      expect(missing.error?.message).toContain(python);
      expect((await runner.health()).status).toBe('fail');
      const real = path.isAbsolute(PYTHON) ? PYTHON : execFileSync('which', ['python3'], { encoding: 'utf8' }).trim();
      symlinkSync(real, python);
      const ok = await runner.executeIsolated(code('print("hi")'), ctx());
      expect(ok.ok, JSON.stringify(ok)).toBe(true);
      expect(ok.stdout).toBe('hi\n');
      expect((await runner.health()).status).not.toBe('fail');
    } finally {
      await runner.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('runner-python memoryMb too small for the sandboxed interpreter', () => {
  it('is refused with the options under 32, and a boot that runs out of memory names memoryMb and the error', async () => {
    await expect(pythonRuntime({ python: PYTHON, memoryMb: 16 })).rejects.toThrow(/memoryMb.*at least 32/);
    expect(RunnerPythonOptions.parse({ memoryMb: 32 }).memoryMb).toBe(32);
    // Below the schema (a runner built directly): the probe's task runs out of memory; the boot says so.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-'));
    chmodSync(dir, 0o711);
    const runner = new PythonRunner({ options: { ...RunnerPythonOptions.parse({ python: PYTHON }), memoryMb: 8 }, workDir: path.join(dir, 'sessions') });
    try {
      await expect(runner.start()).rejects.toMatchObject({
        code: 'LIMIT_PLUGIN_SETUP_FAILED',
        message: expect.stringMatching(/^runner-python: the sandboxed interpreter does not start under memoryMb=8 \(RLIMIT_AS\): .*MemoryError/),
        fix: expect.stringMatching(/memoryMb/),
      });
    } finally {
      await runner.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
