/**
 * runner-python used on its own (no runner-queue in front): sessions that are never closed are
 * closed once idle for sessionIdleMs, never while a task runs or waits; and a task of a session id
 * whose close is still under way starts a new session after the close, with nothing of it removed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { RunnerPythonOptions } from '../../plugins/runner-python/options.ts';
import { PYTHON, alive, code, pythonRuntime, type PythonFixture } from './helpers.ts';

let counter = 0;
const ctx = (sessionId = `idle-${process.pid}-${++counter}`): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
  traceId: `trace-${counter}`,
  signal: new AbortController().signal,
});

const until = async (what: () => boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (what()) return true;
  return what();
};

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('runner-python idle sessions (sessionIdleMs)', () => {
  it("closes a session idle for sessionIdleMs: its warm worker stops and its directory goes; the next task starts it afresh", async () => {
    fixture = await pythonRuntime({ python: PYTHON, sessionIdleMs: 1_000 });
    const c = ctx();
    const first = await fixture.runner.executeIsolated(code('import os\nkept = 42\nopen("pid", "w").write(str(os.getpid()))'), c);
    expect(first.ok).toBe(true);
    const dir = fixture.runner.sessionDir(c.session.id, c.session.tenant);
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
    // Idle for 1 s, looked at every second: closed within about 2 s.
    expect(await until(() => !existsSync(dir) && !alive(pid), 5_000), 'the idle session was not closed').toBe(true);
    expect((await fixture.runner.health()).details?.sessions).toBe(0);
    const next = await fixture.runner.executeIsolated(code('print(globals().get("kept", "gone"))'), c);
    expect(next.ok).toBe(true);
    expect(next.stdout.trim()).toBe('gone');
    expect(existsSync(dir)).toBe(true);
  }, 30_000);

  it('never closes a session while a task of it runs or waits, and counts idleness from its last task', async () => {
    fixture = await pythonRuntime({ python: PYTHON, sessionIdleMs: 1_000 });
    const c = ctx();
    expect((await fixture.runner.executeIsolated(code('kept = 42'), c)).ok).toBe(true);
    // Runs for 2.5 s (past the idle limit and two sweeps); a second task waits for it meanwhile.
    const [slow, queued] = await Promise.all([
      fixture.runner.executeIsolated(code('import time\ntime.sleep(2.5)\nprint(kept)'), c),
      fixture.runner.executeIsolated(code('print(kept + 1)'), c),
    ]);
    expect([slow.ok, slow.stdout.trim(), slow.error?.message]).toEqual([true, '42', undefined]);
    expect([queued.ok, queued.stdout.trim()]).toEqual([true, '43']);
    // Just finished: not idle yet.
    expect((await fixture.runner.executeIsolated(code('print(kept)'), c)).stdout.trim()).toBe('42');
  }, 30_000);

  it('the default is one day, and a limit under a second is refused naming the field', () => {
    expect(RunnerPythonOptions.parse({}).sessionIdleMs).toBe(86_400_000);
    const r = RunnerPythonOptions.safeParse({ sessionIdleMs: 10 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['sessionIdleMs']);
  });
});

describe.each([true, false])('runner-python close then reuse of a session id (warm: %s)', (warm) => {
  it('a task arriving while its session id is being closed starts afresh once the close has ended; the close removes nothing of it', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    for (let i = 0; i < 3; i++) {
      const c = ctx();
      expect((await fixture.runner.executeIsolated(code('kept = 1\nopen("old", "w").write("x")'), c)).ok).toBe(true);
      const closing = fixture.runner.closeSession(c.session.id, 't');
      const fresh = await fixture.runner.executeIsolated(code('import os\nopen("new", "w").write("y")\nprint(globals().get("kept", "gone"), sorted(f for f in os.listdir(".") if not f.startswith(".")))'), c);
      await closing;
      expect([fresh.ok, fresh.stdout.trim(), fresh.error?.message]).toEqual([true, "gone ['new']", undefined]);
      const after = await fixture.runner.executeIsolated(code('import os\nprint(sorted(f for f in os.listdir(".") if not f.startswith(".")))'), c);
      expect([after.ok, after.stdout.trim()]).toEqual([true, "['new']"]);
    }
  }, 30_000);
});

describe('runner-python dispose', () => {
  it('waits for every session\'s close, a failing one included, and throws the first failure in session order', async () => {
    fixture = await pythonRuntime({ python: PYTHON });
    const [a, b] = [ctx(), ctx()];
    for (const c of [a, b]) expect((await fixture.runner.executeIsolated(code('print(1)'), c)).ok).toBe(true);
    const runner = fixture.runner;
    const close = runner.closeSession.bind(runner);
    const ended: string[] = [];
    // The first session's close fails late; the second's fails at once: the first in order is the one reported.
    runner.closeSession = async (id, tenant) => {
      await new Promise((r) => setTimeout(r, id === a.session.id ? 200 : 0));
      await close(id, tenant);
      ended.push(id);
      throw new Error(`close of ${id === a.session.id ? 'a' : 'b'} failed`);
    };
    await expect(runner.dispose()).rejects.toThrow('close of a failed');
    expect(ended.sort()).toEqual([a.session.id, b.session.id].sort());
  });
});
