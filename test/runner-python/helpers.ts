import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SessionLimits, Task, createRuntime, type RunContext, type Runtime } from 'limit-graph';
import runnerPython, { type PythonRunner } from '../../plugins/runner-python/index.ts';
import type { z } from 'zod';
import type { RunnerPythonOptions } from '../../plugins/runner-python/options.ts';
import type { RunnerConformanceTasks } from 'limit-graph/testing';

/** A code task. */
export const code = (input: string, extra: Partial<Task> = {}) => Task.parse({ input, ...extra });

let contexts = 0;
/** A run context of session `sessionId` of `tenant` (20 s timeout), a new trace id each call. */
export const sessionCtx = (sessionId: string, tenant: string): RunContext => ({
  session: { id: sessionId, tenant, limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
  traceId: `trace-${++contexts}`,
  signal: new AbortController().signal,
});
/**
 * Running (a killed process waits as a zombie until this machine's init reaps it: that counts as dead).
 * A pid that is no pid (a task's missing value, an empty pid file read as 0) is an error, not "dead":
 * otherwise `expect(alive(pid)).toBe(false)` would pass without looking at any process.
 */
export const alive = (pid: number) => {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`alive(${String(pid)}): not a process id`);
  try {
    return !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};
/** Time for killed processes to go. */
export const settle = () => new Promise((r) => setTimeout(r, 150));

/** A system interpreter other uids can read, so the per-session uid sandbox is exercised too. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Python tasks for the runner conformance suite (runner-python, and runner-queue's workers). */
export const PYTHON_TASKS = {
  hello: () => ({ input: 'print("hello from python")' }),
  helloExpect: 'hello from python',
  slow: () => ({ input: 'import time\nwhile True:\n    time.sleep(0.01)' }),
  echo: (token: string) => ({ input: `print(${JSON.stringify(token)})` }),
  memory: {
    store: (token: string) => ({ input: `remembered = ${JSON.stringify(token)}` }),
    recall: () => ({ input: 'print(globals().get("remembered", "nothing stored"))' }),
  },
  failing: () => ({ input: 'raise ValueError("conformance failure")' }),
} satisfies RunnerConformanceTasks;

export interface PythonFixture {
  rt: Runtime;
  runner: PythonRunner;
  dir: string;
  close(): Promise<void>;
}

/** A runtime with runner-python whose workDir lives in a fresh temp directory. */
export async function pythonRuntime(options: z.input<typeof RunnerPythonOptions> = {}): Promise<PythonFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-'));
  // mkdtemp makes 0700; session uids must traverse it to reach their own directories.
  chmodSync(dir, 0o711);
  const rt = await createRuntime({
    config: { dataDir: dir, logLevel: 'silent', plugins: {} },
    plugins: [runnerPython.configure({ workDir: path.join(dir, 'sessions'), ...options })],
  }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true }); // a boot that fails leaves no temp directory
    throw error;
  });
  const runner = rt.resolve('runner:python') as PythonRunner;
  return {
    rt, runner, dir,
    async close() {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
