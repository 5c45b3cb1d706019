import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SessionLimits, createRuntime, type RunContext } from 'limit-graph';
import { effectiveLimits } from '../../plugins/runner-python/index.ts';
import { accountsInRange } from '../../plugins/runner-python/runner.ts';
import { RunnerPythonOptions } from '../../plugins/runner-python/options.ts';
import { UidClaims, sessionUid } from '../../plugins/runner-python/sandbox.ts';
import { PYTHON, alive, code, pythonRuntime, settle, type PythonFixture } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
let counter = 0;
const ctx = (limits: Partial<SessionLimits> = {}, sessionId = `iso-${process.pid}-${++counter}`, signal = new AbortController().signal): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000, ...limits }) },
  traceId: `trace-${counter}`,
  signal,
});

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe.each([true, false])('runner-python limits (warm: %s)', (warm) => {
  it("reports a syntax error in the task with the task's line, not the runner's own frames", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const r = await fixture.runner.executeIsolated(code('x = 1\nprint("unclosed'), ctx());
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/SyntaxError/);
    expect(r.stderr).toMatch(/line 2/);
    expect(r.stderr).not.toMatch(/ast\.py|Traceback/);
  }, 30_000);

  it('kills an infinite loop and a setsid-escaped child at the timeout', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const c = ctx({ timeoutMs: 700 });
    const result = await fixture.runner.executeIsolated(code([
      'import os, subprocess, sys',
      'child = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)',
      'open("pids", "w").write("%d %d" % (os.getpid(), child.pid))',
      'while True: pass',
    ].join('\n')), c);
    expect(result.ok).toBe(false);
    // The session's 700 ms is what ended it (not the runner's default), and not before it was up.
    const lost = warm ? " — with the session's Python worker: its globals are lost and the next task starts a fresh worker" : '';
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_TIMEOUT', message: `the task exceeded timeoutMs=700 ms; its processes were killed${lost}` });
    expect(result.metrics.latencyMs).toBeGreaterThanOrEqual(700);
    const [pid, child] = readFileSync(path.join(fixture.runner.sessionDir(c.session.id, c.session.tenant), 'pids'), 'utf8').split(' ').map(Number);
    await settle();
    expect(alive(pid!), 'the Python process outlived its timeout').toBe(false);
    if (fixture.runner.capabilities.processLimit) expect(alive(child!), 'a setsid child outlived the timeout').toBe(false);
    const after = await fixture.runner.executeIsolated(code('print("alive")'), c);
    expect(after.stdout).toContain('alive');
  });

  it('stops a memory bomb with LIMIT_RUNNER_MEMORY_EXCEEDED and keeps working', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, memoryMb: 256 });
    const c = ctx();
    const result = await fixture.runner.executeIsolated(code('chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))'), c);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('LIMIT_RUNNER_MEMORY_EXCEEDED');
    expect(result.error?.message).toContain('memoryMb=256');
    const big = await fixture.runner.executeIsolated(code('x = bytearray(1024 ** 3)'), c);
    expect(big.error?.code).toBe('LIMIT_RUNNER_MEMORY_EXCEEDED');
    const after = await fixture.runner.executeIsolated(code('chunks = None\nprint("still here")'), c);
    expect(after.ok, JSON.stringify(after)).toBe(true);
    expect(after.stdout).toContain('still here');
  });

  it('bounds a fork bomb and leaves no process behind', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxProcesses: 16 });
    expect(fixture.runner.capabilities.processLimit, 'no pids cgroup and no session uid here').toBe(true);
    const c = ctx({ timeoutMs: 3000 });
    // At most 200 forks even if no limit applied: safe on any machine.
    const result = await fixture.runner.executeIsolated(code([
      'import os, time',
      'kids, refused = [], None',
      'for i in range(200):',
      '    try:',
      '        pid = os.fork()',
      '    except OSError as e:',
      '        refused = e.errno',
      '        break',
      '    if pid == 0:',
      '        time.sleep(30)',
      '        os._exit(0)',
      '    kids.append(pid)',
      'print(len(kids), refused, " ".join(map(str, kids)))',
    ].join('\n')), c);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    const [count, refused, ...kids] = result.stdout.trim().split(' ');
    expect(Number(count)).toBeLessThan(16);
    expect(refused).toBe('11'); // EAGAIN
    if (!warm) {
      // A cold execution's leftovers die with it; a warm worker's children live until the worker goes.
      await settle();
      expect(kids.map(Number).filter(alive)).toEqual([]);
    }
    await fixture.runner.closeSession(c.session.id);
    await settle();
    expect(kids.map(Number).filter(alive)).toEqual([]);
    const healthy = await fixture.runner.executeIsolated(code('print("healthy")'), ctx());
    expect(healthy.stdout).toContain('healthy');
  });

  it('a real fork bomb (while True: os.fork()) is contained and killed at the timeout', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxProcesses: 16 });
    if (!fixture.runner.capabilities.processLimit) return expect.fail('no process limit on this platform; refusing to run a fork bomb');
    const result = await fixture.runner.executeIsolated(code('import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'), ctx({ timeoutMs: 1000 }));
    expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    const healthy = await fixture.runner.executeIsolated(code('print("machine ok")'), ctx());
    expect(healthy.stdout).toContain('machine ok');
  });

  it('caps output and marks it truncated', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxOutputBytes: 1000 });
    const result = await fixture.runner.executeIsolated(code('print("x" * 50000)\nimport sys\nprint("e" * 50000, file=sys.stderr)'), ctx());
    expect(result.ok).toBe(true);
    expect(result.stdout.length).toBeLessThan(1200);
    expect(result.stdout).toMatch(/output truncated at maxOutputBytes=1000/);
    expect(result.stderr.length).toBeLessThan(1200);
  });

  it("marks each truncated stream with the README's line, bytes dropped included, the same warm and cold", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm, maxOutputBytes: 1000 });
    // 50,001 bytes to stdout (the text and print's newline), 2,001 bytes of two-byte characters to stderr.
    const result = await fixture.runner.executeIsolated(code('import sys\nprint("x" * 50000)\nprint("é" * 1000, file=sys.stderr)'), ctx());
    expect(result.ok).toBe(true);
    expect(result.stdout).toBe(`${'x'.repeat(1000)}\n[limit-graph: output truncated at maxOutputBytes=1000; 49001 bytes dropped]\n`);
    expect(result.stderr).toBe(`${'é'.repeat(500)}\n[limit-graph: output truncated at maxOutputBytes=1000; 1001 bytes dropped]\n`);
    const small = await fixture.runner.executeIsolated(code('print("é" * 499)'), ctx()); // 999 bytes: under the cap
    expect(small.stdout).toBe(`${'é'.repeat(499)}\n`);
  });
});

describe('runner-python isolation', () => {
  it("one session cannot read another's files", async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    expect(fixture.runner.capabilities.fileIsolation).toBe(true);
    const a = ctx();
    const b = ctx();
    const wrote = await fixture.runner.executeIsolated(code('open("secret.txt", "w").write("top-secret-A")\nimport os\nprint(os.getcwd())'), a);
    expect(wrote.ok, JSON.stringify(wrote)).toBe(true);
    const aDir = wrote.stdout.trim();
    const read = await fixture.runner.executeIsolated(code([
      'import os',
      `for attempt in (lambda: open(${JSON.stringify(aDir + '/secret.txt')}).read(), lambda: os.listdir(${JSON.stringify(aDir)}), lambda: os.listdir(".."), lambda: open("secret.txt").read()):`,
      '    try:',
      '        print("READ", attempt())',
      '    except OSError as e:',
      '        print("DENIED", type(e).__name__)',
    ].join('\n')), b);
    expect(read.ok, JSON.stringify(read)).toBe(true);
    expect(read.stdout).not.toContain('top-secret-A');
    expect(read.stdout.match(/DENIED/g)).toHaveLength(4);
  });

  it("envControl is claimed only where a task cannot read the server's environment in /proc/<server pid>/environ", async () => {
    const readEnviron = code(`import os\ntry:\n    print(len(open('/proc/${process.pid}/environ', 'rb').read()) > 0)\nexcept OSError as e:\n    print(type(e).__name__)`);
    // Without a session uid a task runs as the server's uid, and reads its whole environment.
    fixture = await pythonRuntime({ python: PYTHON, sandboxUser: 'none' });
    const shared = await fixture.runner.executeIsolated(readEnviron, ctx());
    expect(shared.stdout.trim()).toBe('True');
    expect(fixture.runner.capabilities.envControl).toBe(false);
    const check = (await fixture.runner.health()).checks?.find((c) => c.name === 'capability:envControl');
    expect(check?.status).toBe('degraded');
    expect(check?.message).toMatch(/tasks run as the server's uid \(sandboxUser is "none"\), so a task can read the server's whole environment, secrets included, in \/proc\/<server pid>\/environ/);
    expect(check?.message).toMatch(/sandboxUser "auto" or "per-session"/);
    await fixture.close();
    fixture = undefined;
    if (process.getuid?.() !== 0) return;
    // A session uid (root server) cannot.
    fixture = await pythonRuntime({ python: PYTHON });
    expect((await fixture.runner.executeIsolated(readEnviron, ctx())).stdout.trim()).toBe('PermissionError');
    expect(fixture.runner.capabilities.envControl).toBe(true);
    expect((await fixture.runner.health()).checks?.find((c) => c.name === 'capability:envControl')?.status).toBe('ok');
  });

  it("sessions whose directories hash to one uid get different uids: neither reads the other's files, closing one leaves the other's worker", async () => {
    // A range of 2 uids: the hash of two session directories agrees half the time; two such ids are picked.
    fixture = await pythonRuntime({ python: PYTHON, warm: true, uidRangeSize: 2 });
    expect(fixture.runner.capabilities.fileIsolation).toBe(true);
    const runner = fixture.runner;
    // The directory's name holds its tenant (see sessionDir): alice's, bob's and carol's hashes.
    const first = (id: string, tenant: string) => sessionUid(runner.sessionDir(id, tenant), runner.options.uidRangeStart, 2);
    const base = `uid-${process.pid}-${++counter}`;
    const ids = Array.from({ length: 32 }, (_, i) => `${base}-${i}`);
    const a = ids[0]!;
    const b = ids.slice(1).find((id) => first(id, 'bob') === first(a, 'alice'));
    const c = ids.find((id) => id !== a && id !== b && first(id, 'carol') !== first(a, 'alice'))!;
    const as = (tenant: string, id: string): RunContext => ({ ...ctx({}, id), session: { ...ctx({}, id).session, tenant } });
    const wrote = await runner.executeIsolated(code('import os\nopen("secret.txt", "w").write("alice-private")\nkept = 42\nprint(os.getuid(), os.getpid())'), as('alice', a!));
    expect(wrote.ok, JSON.stringify(wrote)).toBe(true);
    const [uidA, workerA] = wrote.stdout.trim().split(' ').map(Number);
    const read = await runner.executeIsolated(code([
      'import os',
      'print(os.getuid())',
      'try:',
      `    print("READ", open(${JSON.stringify(path.join(runner.sessionDir(a, 'alice'), 'secret.txt'))}).read())`,
      'except OSError as e:',
      '    print("DENIED", type(e).__name__)',
    ].join('\n')), as('bob', b!));
    const [uidB, verdict] = read.stdout.trim().split('\n');
    expect(Number(uidB), 'two live sessions share a uid').not.toBe(uidA);
    expect(verdict).toBe('DENIED PermissionError');
    // Both uids of the range are held: a third session is refused, naming the option to raise.
    const refused = await runner.executeIsolated(code('print(1)'), as('carol', c));
    expect(refused.error).toMatchObject({ code: 'LIMIT_RUNNER_FAILED', message: expect.stringMatching(/every uid of uidRangeStart=\d+, uidRangeSize=2 is held/) });
    await runner.closeSession(b!, 'bob');
    const after = await runner.executeIsolated(code('import os\nprint(kept, os.getpid())'), as('alice', a!));
    expect(after.stdout.trim(), JSON.stringify(after)).toBe(`42 ${workerA}`);
    expect(alive(workerA!)).toBe(true);
    // The closed session's uid is free again.
    const third = await runner.executeIsolated(code('import os\nprint(os.getuid())'), as('carol', c));
    expect(Number(third.stdout.trim())).toBe(Number(uidB));
  }, 60_000);

  it("a boot probe's directory left by a crashed process is removed at the next start (its uid claim can then go stale); a live process's is kept", async () => {
    const workDir = mkdtempSync(path.join(os.tmpdir(), 'limit-probes-'));
    chmodSync(workDir, 0o711);
    try {
      const gone = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid names no process now
      const dead = path.join(workDir, `.probe-${os.hostname()}-${gone}-deadbeef`);
      const live = path.join(workDir, `.probe-${os.hostname()}-1-cafecafe`); // pid 1 always exists
      const elsewhere = path.join(workDir, `.probe-otherhost-${gone}-0badf00d`); // another host's: its pid says nothing here
      const stale = path.join(workDir, `.probe-otherhost-${gone}-0ddba11a`); // …but untouched for the grace age: a crash's
      const older = path.join(workDir, `.probe-${gone}-abcdef12`); // the name before probes named their host
      for (const d of [dead, live, elsewhere, stale, older]) {
        mkdirSync(d);
        writeFileSync(path.join(d, 'left.txt'), 'x');
      }
      const old = new Date(Date.now() - UidClaims.GRACE_MS - 1000);
      for (const d of [stale, older]) utimesSync(d, old, old);
      fixture = await pythonRuntime({ python: PYTHON, workDir });
      await fixture.runner.health();
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(path.join(live, 'left.txt'))).toBe(true);
      expect(existsSync(path.join(elsewhere, 'left.txt'))).toBe(true);
      expect([existsSync(stale), existsSync(older)]).toEqual([false, false]);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('uid claims never hand one uid to two directories, also when claimed at once (several processes share the folder)', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const claims = [new UidClaims(folder, 300_000, 8), new UidClaims(folder, 300_000, 8)];
      const dirs = Array.from({ length: 8 }, (_, i) => `/sessions/s${i}`);
      const uids = await Promise.all(dirs.map((d, i) => claims[i % 2]!.claim(d)));
      expect(new Set(uids).size).toBe(8);
      // A directory keeps its uid (a restart: a new instance on the same folder).
      expect(await new UidClaims(folder, 300_000, 8).claim(dirs[3]!)).toBe(uids[3]);
      await expect(claims[0]!.claim('/sessions/more')).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED', details: { field: 'uidRangeSize' } });
      await claims[1]!.release(dirs[5]!, uids[5]!, async () => {});
      expect(await claims[0]!.claim('/sessions/more')).toBe(uids[5]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a noted uid outside the range (the range was shrunk or moved) is released and one in the range claimed', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const dir = path.join(folder, 'session');
      mkdirSync(dir);
      const wide = await new UidClaims(folder, 300_000, 1000).claim(dir);
      // Shrunk so that the noted uid lies past its end (and its start stays below it).
      const narrow = new UidClaims(folder, 300_000, 1);
      expect(wide).toBeGreaterThan(300_000);
      expect(await narrow.claim(dir)).toBe(300_000);
      expect(existsSync(path.join(folder, `uid-${wide}`))).toBe(false);
      // Moved: the same.
      expect(await new UidClaims(folder, 400_000, 1).claim(dir)).toBe(400_000);
      expect(existsSync(path.join(folder, 'uid-300000'))).toBe(false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a claim left by a crash is taken over once its directory has been gone for the grace age, never before', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const claims = new UidClaims(path.join(folder, '.uids'), 300_000, 1);
      const [gone, kept, next] = ['gone', 'kept', 'next'].map((n) => path.join(folder, n));
      for (const d of [gone, kept, next]) mkdirSync(d!);
      expect(await claims.claim(gone!)).toBe(300_000);
      const claim = path.join(folder, '.uids', 'uid-300000');
      expect(readFileSync(claim, 'utf8')).toBe(gone);
      // Its directory stays: held, however old the claim.
      const old = new Date(Date.now() - UidClaims.GRACE_MS - 1000);
      utimesSync(claim, old, old);
      await expect(claims.claim(next!)).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED', fix: expect.stringMatching(/gone for 10 minutes/) });
      // A crash between removing the directory and releasing the uid: taken over only after the grace age.
      rmSync(gone!, { recursive: true });
      utimesSync(claim, new Date(), new Date());
      await expect(claims.claim(next!)).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED' });
      utimesSync(claim, old, old);
      expect(await claims.claim(next!)).toBe(300_000);
      expect(readFileSync(claim, 'utf8')).toBe(next);
      // An empty claim (a crash of an older version between create and write) is stale the same way.
      await claims.release(next!, 300_000, async () => {});
      writeFileSync(claim, '');
      utimesSync(claim, old, old);
      expect(await claims.claim(kept!)).toBe(300_000);
      // Only claims and notes are left in the folder (no temp files).
      expect(readdirSync(path.join(folder, '.uids')).filter((n) => !/^(uid|dir)-/.test(n))).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('release refreshes the claim while the directory is removed, so that no other process takes it over then', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const claims = new UidClaims(path.join(folder, '.uids'), 300_000, 1);
      const [dir, other] = ['a', 'b'].map((n) => path.join(folder, n));
      for (const d of [dir, other]) mkdirSync(d!);
      await claims.claim(dir!);
      const claim = path.join(folder, '.uids', 'uid-300000');
      const old = new Date(Date.now() - UidClaims.GRACE_MS - 1000);
      utimesSync(claim, old, old);
      let during: unknown;
      await claims.release(dir!, 300_000, async () => {
        rmSync(dir!, { recursive: true });
        during = await claims.claim(other!).catch((e: { code: string }) => e.code);
      });
      expect(during).toBe('LIMIT_RUNNER_FAILED');
      expect(await claims.claim(other!)).toBe(300_000);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a directory made again while its release removed it (another process reopened the session) keeps its uid', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const claims = new UidClaims(path.join(folder, '.uids'), 300_000, 1);
      const [dir, other] = ['a', 'b'].map((n) => path.join(folder, n));
      for (const d of [dir, other]) mkdirSync(d!);
      expect(await claims.claim(dir!)).toBe(300_000);
      await claims.release(dir!, 300_000, async () => {
        rmSync(dir!, { recursive: true });
        mkdirSync(dir!); // the other process's run of the same session
      });
      expect(readFileSync(path.join(folder, '.uids', 'uid-300000'), 'utf8')).toBe(dir);
      expect(await claims.claim(dir!)).toBe(300_000);
      await expect(claims.claim(other!)).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED' });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it.each([1, 2])('a session reopened by another process just as its release checked that the directory is gone (check %i) runs under a uid that stays claimed for it', async (check) => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const uids = path.join(folder, '.uids');
      const [dir, other] = ['a', 'b'].map((n) => path.join(folder, n));
      for (const d of [dir, other]) mkdirSync(d!);
      const reopening = new UidClaims(uids, 300_000, 2); // the other process
      let reopened: number | undefined;
      // The release's check number `check` finds the directory gone; right after it, the other
      // process makes the directory again and claims (as the runner does).
      class Releasing extends UidClaims {
        #checks = 0;
        protected override async dirExists(d: string): Promise<boolean> {
          const found = await super.dirExists(d);
          if (++this.#checks === check && !found) {
            mkdirSync(d);
            reopened = await reopening.claim(d);
          }
          return found;
        }
      }
      const releasing = new Releasing(uids, 300_000, 2);
      const uid = await releasing.claim(dir!);
      await releasing.release(dir!, uid, async () => rmSync(dir!, { recursive: true }));
      expect(reopened).toBeDefined();
      expect(readFileSync(path.join(uids, `uid-${reopened}`), 'utf8'), 'the reopened session runs under an unclaimed uid').toBe(dir);
      // No other directory gets its uid, and a later claim of the directory keeps it.
      expect(await new UidClaims(uids, 300_000, 2).claim(other!)).not.toBe(reopened);
      expect(await new UidClaims(uids, 300_000, 2).claim(dir!)).toBe(reopened);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a takeover token left by a process that died taking a claim over is removed once old; the claim is then taken over', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'limit-uids-'));
    try {
      const claims = new UidClaims(path.join(folder, '.uids'), 300_000, 1);
      const [gone, next] = ['gone', 'next'].map((n) => path.join(folder, n));
      for (const d of [gone, next]) mkdirSync(d!);
      await claims.claim(gone!);
      rmSync(gone!, { recursive: true });
      const claim = path.join(folder, '.uids', 'uid-300000');
      const old = new Date(Date.now() - UidClaims.GRACE_MS - 1000);
      utimesSync(claim, old, old);
      // The dead process's token: a link to the claim named by its inode.
      const token = path.join(folder, '.uids', `take-300000-${statSync(claim).ino}`);
      linkSync(claim, token);
      // A fresh token may be a live takeover: left alone.
      await expect(claims.claim(next!)).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED' });
      expect(existsSync(token)).toBe(true);
      // Once its link is GRACE_MS old (seen through the clock), it is removed and the next claim takes over.
      const now = Date.now();
      const clock = vi.spyOn(Date, 'now').mockReturnValue(now + UidClaims.GRACE_MS + 1000);
      try {
        await expect(claims.claim(next!)).rejects.toMatchObject({ code: 'LIMIT_RUNNER_FAILED' });
        expect(existsSync(token)).toBe(false);
        expect(await claims.claim(next!)).toBe(300_000);
      } finally {
        clock.mockRestore();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it.each([true, false])("what a task leaves in the shared /tmp and /dev/shm is private to its session's uid (umask 077); TMPDIR is its own (warm: %s)", async (warm) => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    expect(fixture.runner.capabilities.fileIsolation).toBe(true);
    const a = ctx();
    const b = ctx();
    const names = ['/tmp', '/dev/shm'].map((d) => `${d}/limit-xsess-${process.pid}-${++counter}`);
    try {
      const wrote = await fixture.runner.executeIsolated(code([
        'import os, tempfile',
        `names = ${JSON.stringify(names)}`,
        'for n in names:',
        '    open(n, "w").write("from A")',
        'os.mkdir(names[0] + ".d")',
        'print([oct(os.stat(n).st_mode & 0o777) for n in names + [names[0] + ".d"]], oct(os.umask(0o077)), tempfile.gettempdir())',
      ].join('\n')), a);
      expect(wrote.ok, JSON.stringify(wrote)).toBe(true);
      const tmp = `${fixture.runner.sessionDir(a.session.id, a.session.tenant)}/.tmp`;
      expect(wrote.stdout.trim()).toBe(`['0o600', '0o600', '0o700'] 0o77 ${tmp}`);
      const read = await fixture.runner.executeIsolated(code([
        `for n in ${JSON.stringify([...names, `${names[0]}.d`])}:`,
        '    try:',
        '        print("READ", open(n).read() if not n.endswith(".d") else __import__("os").listdir(n))',
        '    except OSError as e:',
        '        print("DENIED", type(e).__name__)',
      ].join('\n')), b);
      expect(read.stdout.trim().split('\n')).toEqual(['DENIED PermissionError', 'DENIED PermissionError', 'DENIED PermissionError']);
    } finally {
      for (const n of names) rmSync(n, { force: true });
      rmSync(`${names[0]}.d`, { recursive: true, force: true });
    }
  });

  it('a secret in the server environment is absent in user code (also via /proc of the parent)', async () => {
    process.env.LIMIT_TEST_SECRET = 'sekrit-value-4711';
    try {
      fixture = await pythonRuntime({ python: PYTHON });
      for (const warm of [true]) {
        const result = await fixture.runner.executeIsolated(code([
          'import os',
          'print(sorted(os.environ.items()))',
          'try:',
          '    print(open("/proc/%d/environ" % os.getppid(), "rb").read())',
          'except OSError as e:',
          '    print("denied", type(e).__name__)',
        ].join('\n')), ctx());
        expect(warm).toBe(true);
        expect(result.ok, JSON.stringify(result)).toBe(true);
        expect(result.stdout).not.toContain('sekrit-value-4711');
        expect(result.stdout).not.toContain('LIMIT_TEST_SECRET');
        expect(result.stdout).toContain("'HOME'");
      }
    } finally {
      delete process.env.LIMIT_TEST_SECRET;
    }
  });

  describe('network', () => {
    let server: net.Server;
    let port = 0;
    beforeAll(async () => {
      server = net.createServer((socket) => socket.end('pong'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as net.AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const probe = () => code(`import socket\ntry:\n    s = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\n    print("got", s.recv(10).decode())\nexcept OSError as e:\n    print("blocked", e)`);

    it.each([true, false])('is blocked when allowNetwork=false (warm: %s)', async (warm) => {
      fixture = await pythonRuntime({ python: PYTHON, warm });
      expect(fixture.runner.capabilities.networkIsolation, 'unshare -n -m is unavailable here (or not root)').toBe(true);
      const result = await fixture.runner.executeIsolated(probe(), ctx({ allowNetwork: true }));
      expect(result.stdout).toContain('blocked');
      expect(result.stdout).not.toContain('pong');
    });

    /** A Unix socket server in a new folder under `parent`, reachable by every uid. */
    const unixServer = async (parent: string) => {
      const dir = mkdtempSync(path.join(parent, `limit-test-${process.pid}-`));
      chmodSync(dir, 0o755);
      const sock = path.join(dir, 's.sock');
      const unix = net.createServer((socket) => socket.destroy()); // the tasks only connect
      await new Promise<void>((r) => unix.listen(sock, r));
      chmodSync(sock, 0o777);
      return {
        sock,
        async close() {
          await new Promise<void>((r) => unix.close(() => r()));
          rmSync(dir, { recursive: true, force: true });
        },
      };
    };
    const connect = (...socks: string[]) => code(`import socket\nfor p in ${JSON.stringify(socks)}:\n    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(p)\n        print("reached", p)\n    except OSError as e:\n        print("blocked", p, type(e).__name__)`);
    const POSTGRES = '/var/run/postgresql/.s.PGSQL.5432';
    const networkCheck = async () => (await fixture!.runner.health()).checks?.find((c) => c.name === 'capability:networkIsolation');

    it.runIf(IS_ROOT).each([true, false])('hides the Unix sockets in /run (and /var/run) when allowNetwork=false, not with allowNetwork (warm: %s)', async (warm) => {
      fixture = await pythonRuntime({ python: PYTHON, warm, allowNetwork: true });
      const server = await unixServer('/run');
      // PostgreSQL's socket, where this machine has one (its folder is /var/run, a link to /run, or its own).
      const socks = [server.sock, ...(existsSync(POSTGRES) ? [POSTGRES] : [])];
      try {
        const blocked = await fixture.runner.executeIsolated(connect(...socks), ctx({ allowNetwork: false }));
        expect(blocked.stdout.trim().split('\n'), JSON.stringify(blocked)).toEqual(socks.map((p) => `blocked ${p} FileNotFoundError`));
        const allowed = await fixture.runner.executeIsolated(connect(...socks), ctx({ allowNetwork: true }));
        expect(allowed.stdout.trim().split('\n'), JSON.stringify(allowed)).toEqual(socks.map((p) => `reached ${p}`));
        expect(fixture.runner.capabilities.networkIsolation).toBe(true);
        expect(await networkCheck()).toMatchObject({ status: 'ok', message: expect.stringMatching(/mount namespace .* tmpfs over \/run.* no Unix sockets in \/run.* Unix sockets placed elsewhere stay reachable \(\/tmp, \/dev\/shm and other shared folders: .*\/var\/lib\/mysql\/mysql.sock\)/) });
      } finally {
        await server.close();
      }
    });

    it('Unix sockets in /tmp stay reachable without allowNetwork, as health says', async () => {
      fixture = await pythonRuntime({ python: PYTHON, warm: false });
      const server = await unixServer(os.tmpdir());
      try {
        const r = await fixture.runner.executeIsolated(connect(server.sock), ctx({ allowNetwork: false }));
        expect(r.stdout.trim(), JSON.stringify(r)).toBe(`reached ${server.sock}`);
        expect(await networkCheck()).toMatchObject({ message: expect.stringContaining('Unix sockets placed elsewhere stay reachable (/tmp, /dev/shm and other shared folders') });
      } finally {
        await server.close();
      }
    });

    it.runIf(IS_ROOT)('without a session uid (tasks keep root) /run is not hidden and health says networkIsolation is degraded, naming why', async () => {
      fixture = await pythonRuntime({ python: PYTHON, warm: false, sandboxUser: 'none' });
      const server = await unixServer('/run');
      try {
        const r = await fixture.runner.executeIsolated(connect(server.sock), ctx({ allowNetwork: false }));
        expect(r.stdout.trim(), JSON.stringify(r)).toBe(`reached ${server.sock}`);
        expect(fixture.runner.capabilities.networkIsolation).toBe(false);
        expect(await networkCheck()).toMatchObject({ status: 'degraded', message: expect.stringMatching(/Unix sockets on disk stay reachable.*is not hidden \(tasks keep root \(sandboxUser is "none"\) and could unmount/) });
      } finally {
        await server.close();
      }
    });

    it('is allowed when the runner and the session allow it', async () => {
      fixture = await pythonRuntime({ python: PYTHON, allowNetwork: true });
      const blocked = await fixture.runner.executeIsolated(probe(), ctx({ allowNetwork: false }));
      expect(blocked.stdout, 'the session forbids the network').toContain('blocked');
      const result = await fixture.runner.executeIsolated(probe(), ctx({ allowNetwork: true }));
      expect(result.stdout).toContain('got pong');
    });
  });
});

describe('runner-python cold tasks under load', () => {
  // Under load a child's 'exit' can be handled before its last output is read; closing the pipes
  // then dropped stdout (the bug left 3–7 of these 48 tasks with an empty stdout in every run).
  it('return all their output when the machine is busy', async () => {
    const hogs = Array.from({ length: 6 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    try {
      fixture = await pythonRuntime({ python: PYTHON, warm: false });
      const runner = fixture.runner;
      const lost: string[] = [];
      for (let round = 0; round < 8; round++) {
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => runner.executeIsolated(code(`print("out-${round}-${i}")`), ctx())));
        results.forEach((r, i) => {
          if (!r.ok || r.stdout.trim() !== `out-${round}-${i}`) lost.push(JSON.stringify(r));
        });
      }
      expect(lost).toEqual([]);
    } finally {
      for (const hog of hogs) hog.kill('SIGKILL');
    }
  }, 120_000);
});

describe('runner-python warm workers', () => {
  it('keeps globals in a session, returns the last expression as value, replaces a crashed worker', async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const c = ctx();
    expect((await fixture.runner.executeIsolated(code('import os\ncounter = 40\nfirst_pid = os.getpid()'), c)).ok).toBe(true);
    const second = await fixture.runner.executeIsolated(code('counter += 2\ncounter'), c);
    expect(second.value).toBe(42);
    const crash = await fixture.runner.executeIsolated(code('import os\nos._exit(3)'), c);
    expect(crash.ok).toBe(false);
    expect(crash.error?.code).toBe('LIMIT_RUNNER_TASK_ERROR');
    expect(crash.error?.message).toMatch(/worker died/);
    const fresh = await fixture.runner.executeIsolated(code('import os\n(globals().get("counter"), os.getpid() != first_pid if "first_pid" in globals() else "new")'), c);
    expect(fresh.ok, JSON.stringify(fresh)).toBe(true);
    expect(fresh.value).toEqual([null, 'new']);
  });

  it('a timed-out worker is replaced and a task error keeps the worker', async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const c = ctx({ timeoutMs: 500 });
    await fixture.runner.executeIsolated(code('kept = 1'), c);
    const err = await fixture.runner.executeIsolated(code('raise KeyError("k")'), c);
    expect(err.error).toEqual({ code: 'LIMIT_RUNNER_TASK_ERROR', message: "KeyError: 'k'" });
    expect(err.stderr).toContain('Traceback');
    expect((await fixture.runner.executeIsolated(code('kept'), c)).value).toBe(1);
    expect((await fixture.runner.executeIsolated(code('while True: pass'), c)).error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    const after = await fixture.runner.executeIsolated(code('"kept" in globals()'), c);
    expect(after.value).toBe(false);
  });

  it("a worker lost at a timeout, an abort or a change of limits says so: the stop's message, then a note on the new worker's first task", async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const lost = " — with the session's Python worker: its globals are lost and the next task starts a fresh worker";
    const note = (why: string) => `this task ran on a new Python worker of the session: the previous one ${why}; the session's globals were reset`;
    const c = ctx({ timeoutMs: 1000 });
    await fixture.runner.executeIsolated(code('kept = 41'), c);
    const timedOut = await fixture.runner.executeIsolated(code('while True: pass'), c);
    expect(timedOut.error?.message).toBe(`the task exceeded timeoutMs=1000 ms; its processes were killed${lost}`);
    const afterTimeout = await fixture.runner.executeIsolated(code('kept + 1'), c);
    expect(afterTimeout.error?.message).toBe(`NameError: name 'kept' is not defined (${note('was killed when a task exceeded its timeoutMs')})`);
    expect(afterTimeout.stderr.split('\n')[0]).toBe(`[limit-graph: ${note('was killed when a task exceeded its timeoutMs')}]`);
    // Said once: the next task of the same worker has no note.
    await fixture.runner.executeIsolated(code('kept = 41'), c);
    const plain = await fixture.runner.executeIsolated(code('kept + 1'), c);
    expect([plain.value, plain.stderr]).toEqual([42, '']);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const aborted = await fixture.runner.executeIsolated(code('import time\ntime.sleep(10)'), ctx({ timeoutMs: 5000 }, c.session.id, controller.signal));
    expect(aborted.error?.message).toBe(`the task was aborted; its processes were killed${lost}`);
    const afterAbort = await fixture.runner.executeIsolated(code('"kept" in globals()'), c);
    expect([afterAbort.ok, afterAbort.value, afterAbort.stderr]).toEqual([true, false, `[limit-graph: ${note('was killed when a task was aborted')}]\n`]);

    const k = `limits-${process.pid}-${++counter}`;
    await fixture.runner.executeIsolated(code('kept = 41'), ctx({ memoryMb: 256 }, k));
    const other = await fixture.runner.executeIsolated(code('"kept" in globals()'), ctx({ memoryMb: 300 }, k));
    const why = 'ran under other limits (memoryMb=256, allowNetwork=false; this task\'s: memoryMb=300, allowNetwork=false)';
    expect([other.ok, other.value, other.stderr]).toEqual([true, false, `[limit-graph: ${note(why)}]\n`]);
  }, 30_000);

  it('closeSession kills the worker and removes the session directory', async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const c = ctx();
    const r = await fixture.runner.executeIsolated(code('import os\nos.getpid()'), c);
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    expect(existsSync(dir)).toBe(true);
    await fixture.runner.closeSession(c.session.id);
    await settle();
    expect(alive(r.value as number)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('closing a runtime session closes the runner session (sessionClosed hook)', async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const session = await fixture.rt.openSession();
    const c: RunContext = { session: { id: session.id, tenant: session.tenant, limits: session.limits }, traceId: 't', signal: session.signal };
    const r = await fixture.runner.executeIsolated(code('import os\nos.getpid()'), c);
    await session.close();
    await settle();
    expect(alive(r.value as number)).toBe(false);
    expect(existsSync(fixture.runner.sessionDir(session.id, session.tenant))).toBe(false);
  });
});

describe.each([true, false])('runner-python environment between tasks (warm: %s)', (warm) => {
  it("nothing carries over: a task's own os.environ changes and its task.env are gone for the next task; HOME is the session directory unless task.env sets it", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const c = ctx();
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    const show = code('import os, json\nprint(json.dumps([os.environ.get(k) for k in ("MINE", "FROM_TASK", "HOME")]))');
    const seen = async () => JSON.parse((await fixture!.runner.executeIsolated(show, c)).stdout) as unknown;
    expect(await seen()).toEqual([null, null, dir]);
    expect((await fixture.runner.executeIsolated(code('import os\nos.environ["MINE"] = "1"\ndel os.environ["HOME"]'), c)).ok).toBe(true);
    expect(await seen(), 'a change the task made itself stayed').toEqual([null, null, dir]);
    const home = await fixture.runner.executeIsolated(code('import os\nos.environ["MINE"] = "2"\nprint(os.environ["FROM_TASK"], os.environ["HOME"], os.path.expanduser("~"))', { env: { FROM_TASK: 'x', HOME: `${dir}/home` } }), c);
    expect(home.stdout).toBe(`x ${dir}/home ${dir}/home\n`);
    expect(await seen()).toEqual([null, null, dir]);
  }, 30_000);
});

describe('runner-python options and tasks', () => {
  it('session limits override runner defaults only where stricter', () => {
    const o = RunnerPythonOptions.parse({ timeoutMs: 1000, memoryMb: 256, allowNetwork: true, maxConcurrency: 2 });
    expect(effectiveLimits(o, SessionLimits.parse({ timeoutMs: 5000, memoryMb: 128, allowNetwork: false, maxConcurrency: 8 })))
      .toEqual({ timeoutMs: 1000, memoryMb: 128, allowNetwork: false, maxConcurrency: 2 });
    const strict = RunnerPythonOptions.parse({ allowNetwork: false });
    expect(effectiveLimits(strict, SessionLimits.parse({ allowNetwork: true })).allowNetwork).toBe(false);
  });

  it('the runner timeout applies when the session allows longer', async () => {
    fixture = await pythonRuntime({ python: PYTHON, timeoutMs: 400 });
    const result = await fixture.runner.executeIsolated(code('while True: pass'), ctx({ timeoutMs: 60_000 }));
    // The runner's 400 ms ended it, not the session's 60 s (the message names the limit applied).
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_TIMEOUT', message: "the task exceeded timeoutMs=400 ms; its processes were killed — with the session's Python worker: its globals are lost and the next task starts a fresh worker" });
    expect(result.metrics.latencyMs).toBeGreaterThanOrEqual(400);
  });

  it('rejects venvPath together with createVenv per-session', () => {
    expect(RunnerPythonOptions.safeParse({ venvPath: '/x', createVenv: 'per-session' }).success).toBe(false);
  });

  it('session uids never overlap real accounts: uidRangeStart below 100000, or a range /etc/passwd uses, is refused', async () => {
    const low = RunnerPythonOptions.safeParse({ uidRangeStart: 1000 });
    expect(low.success).toBe(false);
    expect(low.error?.issues[0]).toMatchObject({ path: ['uidRangeStart'], message: expect.stringMatching(/uidRangeStart must be at least 100000/) });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-passwd-'));
    const passwd = path.join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nalice:x:250000:250000::/home/alice:/bin/sh\n');
    expect(await accountsInRange(200_000, 1 << 20, passwd)).toEqual(['alice (250000)']);
    expect(await accountsInRange(300_000, 1 << 20, passwd)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes task.files, passes args and env, refuses paths outside the session', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false });
    const c = ctx();
    const ok = await fixture.runner.executeIsolated(code('import sys, os\nprint(open("data/in.txt").read(), sys.argv[1:], os.environ["GREETING"])', {
      files: { 'data/in.txt': 'file-content' }, args: ['a1'], env: { GREETING: 'hey' },
    }), c);
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    expect(ok.stdout.trim()).toBe("file-content ['a1'] hey");
    const bad = await fixture.runner.executeIsolated(code('pass', { files: { '../escape.txt': 'x' } }), c);
    expect(bad.error?.code).toBe('LIMIT_VALIDATION');
    const prompt = await fixture.runner.executeIsolated(code('hello', { kind: 'prompt' }), c);
    expect(prompt.error?.code).toBe('LIMIT_VALIDATION');
  });

  it.runIf(process.getuid?.() === 0 && PYTHON === '/usr/bin/python3')('names why session uids cannot use the interpreter when fileIsolation is degraded', async () => {
    // The system interpreter copied into a folder only root may enter, its standard library linked
    // beside it (as a pyenv build under /root is): root starts it, a session uid cannot import from it.
    const privateDir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-private-'));
    try {
      const stdlib = execFileSync(PYTHON, ['-E', '-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' }).trim();
      mkdirSync(path.join(privateDir, 'bin'));
      mkdirSync(path.join(privateDir, 'lib'));
      copyFileSync(realpathSync(PYTHON), path.join(privateDir, 'bin/python3'));
      chmodSync(path.join(privateDir, 'bin/python3'), 0o755);
      symlinkSync(stdlib, path.join(privateDir, 'lib', path.basename(stdlib)));
      fixture = await pythonRuntime({ python: path.join(privateDir, 'bin/python3') });
      const check = (await fixture.runner.health()).checks?.find((c) => c.name === 'capability:fileIsolation');
      expect(check?.status).toBe('degraded');
      expect(check?.message).toContain(`the interpreter ${path.join(privateDir, 'bin/python3')} does not work as an unprivileged uid (ModuleNotFoundError: No module named 'ast'); install Python`);
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
  }, 60_000);

  it.runIf(process.getuid?.() === 0)('never runs a per-session venv under a session uid: root would start an interpreter the session owns', async () => {
    fixture = await pythonRuntime({ python: PYTHON, createVenv: 'per-session' });
    const health = await fixture.runner.health();
    expect(fixture.runner.capabilities.fileIsolation).toBe(false);
    expect(health.checks?.find((c) => c.name === 'capability:fileIsolation')?.message).toMatch(/createVenv "per-session"/);
    await fixture.close();
    fixture = undefined;
    await expect(pythonRuntime({ python: PYTHON, createVenv: 'per-session', sandboxUser: 'per-session' })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_SETUP_FAILED', fix: expect.stringMatching(/venvPath/),
    });
  }, 60_000);

  it("reads a relative venvPath and python path from the config file's folder, not the working directory", async () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'limit-py-project-'));
    chmodSync(project, 0o711);
    try {
      // A venv's bin/python is a link to the base interpreter; VIRTUAL_ENV tells which venv a task runs in.
      mkdirSync(path.join(project, 'venv', 'bin'), { recursive: true });
      symlinkSync(realpathSync(execFileSync(PYTHON, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim()), path.join(project, 'venv', 'bin', 'python'));
      const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'limit-py-cwd-'));
      const cases: [string, string][] = [[`venvPath: './venv'`, path.join(project, 'venv')], [`python: './venv/bin/python'`, 'no venv']];
      for (const [option, expected] of cases) {
        writeFileSync(path.join(project, 'limit.config.ts'), `export default { logLevel: 'silent', plugins: { 'runner-python': { ${option}, warm: false } } };`);
        const rt = await createRuntime({ cwd: elsewhere, configFile: path.join(project, 'limit.config.ts'), env: {} });
        try {
          const result = await rt.resolve('runner:python').executeIsolated(code('import os\nprint(os.environ.get("VIRTUAL_ENV", "no venv"))'), ctx());
          expect(result.ok, `${option}: ${JSON.stringify(result)}`).toBe(true);
          expect(result.stdout.trim(), option).toBe(expected);
        } finally {
          await rt.close();
        }
      }
      rmSync(elsewhere, { recursive: true, force: true });
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 60_000);

  it('creates a venv per session on request', async () => {
    fixture = await pythonRuntime({ python: PYTHON, createVenv: 'per-session' });
    const c = ctx();
    const result = await fixture.runner.executeIsolated(code('import sys, os\nprint(sys.prefix)\nprint(os.environ["VIRTUAL_ENV"])'), c);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    const venv = path.join(fixture.runner.sessionDir(c.session.id, c.session.tenant), '.venv');
    expect(result.stdout.trim().split('\n')).toEqual([venv, venv]);
  }, 60_000);

  it('closing a session while it is being prepared (its venv created) leaves no directory behind', async () => {
    fixture = await pythonRuntime({ python: PYTHON, createVenv: 'per-session' });
    await fixture.runner.start();
    const c = ctx();
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    const run = fixture.runner.executeIsolated(code('print(1)'), c);
    const deadline = Date.now() + 10_000;
    while (!existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    await fixture.runner.closeSession(c.session.id);
    expect((await run).error?.code).toBe('LIMIT_RUNNER_ABORTED');
    await new Promise((r) => setTimeout(r, 1_000)); // what an unstopped preparation would write meanwhile
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
