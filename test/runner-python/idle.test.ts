/**
 * runner-python's session lifetime: a task of a session id whose close is still under way starts
 * a new session after the close, with nothing of it removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { PYTHON, code, pythonRuntime, type PythonFixture } from './helpers.ts';

let counter = 0;
const ctx = (sessionId = `idle-${process.pid}-${++counter}`): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
  traceId: `trace-${counter}`,
  signal: new AbortController().signal,
});

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
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
