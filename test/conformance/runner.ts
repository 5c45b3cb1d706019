/**
 * The runner conformance suite: every `Runner` (Python code, local models, hosted LLMs) runs it.
 * Like Keyv's and abstract-level's suites: the caller passes a factory, each test gets a fresh
 * runner, and a `supports` manifest switches off the groups a runner honestly cannot do (a
 * random-weight model cannot echo a string). Tasks are supplied by the runner under test, so the
 * same assertions cover `print("hi")` and a prompt to a fake vendor server. Usage: runnerConformance's
 * doc comment.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freshEach } from './fresh.ts';
import { ERROR_CODES, HealthResult, RunMetrics, RunOutput, SessionLimits, Task } from 'limit-graph';
import type { RunContext, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';

/** What the factory hands the suite: the runner and how to release it (close its runtime, stop servers). */
export interface RunnerUnderTest {
  runner: Runner;
  close?: () => Promise<void>;
}

export interface RunnerConformanceTasks {
  /** A quick task that succeeds and writes `helloExpect` (when given) to stdout. */
  hello: () => Task;
  /** Substring stdout of `hello` must contain; leave out for runners whose output is not predictable. */
  helloExpect?: string;
  /** A task that runs far longer (≥ 10 s) than the suite's `timeoutMs`: a busy loop, a hung server. */
  slow: () => Task;
  /**
   * A task whose stdout contains `token`: the concurrency group then also runs several sessions at
   * once and checks that no result holds another's token, and its fast session is this task.
   */
  echo?: (token: string) => Task;
  /**
   * Session memory: `store(token)` leaves `token` in the session's state (Python globals, chat
   * history); `recall()` run later in the same session has `token` in its stdout, and in another
   * session it must not.
   */
  memory?: { store: (token: string) => Task; recall: () => Task };
  /** A task that fails (an exception, a vendor 500): the result has ok=false and a structured error. */
  failing?: () => Task;
}

export interface RunnerConformanceSupports {
  /** Session limit `timeoutMs` stops a slow task with LIMIT_RUNNER_TIMEOUT. Default true. */
  timeout: boolean;
  /** `ctx.signal` stops a running task with LIMIT_RUNNER_ABORTED. Default true. */
  abort: boolean;
  /**
   * A slow task of one session holds up no other session: the other's task answers while the slow
   * one still runs. With `tasks.echo`, also: several sessions at once without mixing results.
   * Default true.
   */
  concurrentSessions: boolean;
  /** Session memory isolation. Default: whether `tasks.memory` is given. */
  sessionMemory: boolean;
  /** Failing tasks give structured errors. Default: whether `tasks.failing` is given. */
  failingTask: boolean;
}

export interface RunnerConformanceOptions {
  tasks: RunnerConformanceTasks;
  supports?: Partial<RunnerConformanceSupports>;
  /** Session timeout used by the timeout group, ms. Default 400. */
  timeoutMs?: number;
  /** How late after the deadline (or the abort) a result may arrive and still count as prompt, ms. Default 2000. */
  graceMs?: number;
  /** Limits of the sessions the suite makes (timeoutMs is raised to 20 s except in the timeout group). */
  sessionLimits?: Partial<SessionLimits>;
  /** Sessions run at once by the concurrency group. Default 4. */
  concurrency?: number;
  /** Per-test vitest timeout, ms. Default 30 000. */
  testTimeoutMs?: number;
}

const CAPABILITIES: readonly (keyof RunnerCapabilities)[] = ['timeout', 'memoryLimit', 'networkIsolation', 'envControl', 'concurrencyLimit'];

/** Builds a RunContext for a fresh (or given) session id with the suite's limits. */
export function makeRunContext(options: { sessionId?: string; limits?: Partial<SessionLimits>; signal?: AbortSignal } = {}): RunContext {
  return {
    session: {
      id: options.sessionId ?? `conf-${randomUUID()}`,
      tenant: 'conformance',
      limits: SessionLimits.parse({ timeoutMs: 20_000, ...options.limits }),
    },
    traceId: `trace-${randomUUID()}`,
    signal: options.signal ?? new AbortController().signal,
  };
}

/** Asserts the contract shape of a result: RunOutput + RunMetrics, and a catalogued error when ok=false. */
export function expectRunResultShape(result: RunResult): void {
  expect(RunOutput.safeParse(result).success, `result does not match RunOutput: ${JSON.stringify(result).slice(0, 500)}`).toBe(true);
  expect(RunMetrics.safeParse(result.metrics).success, `metrics do not match RunMetrics: ${JSON.stringify(result.metrics)}`).toBe(true);
  expect(typeof result.ok).toBe('boolean');
  expect(typeof result.stdout).toBe('string');
  expect(typeof result.stderr).toBe('string');
  expect(Number.isFinite(result.metrics.latencyMs)).toBe(true);
  if (!result.ok) {
    expect(result.error, 'a failed result carries error { code, message }').toBeDefined();
    expect(Object.keys(ERROR_CODES), `error.code ${result.error?.code} is not in kernel/errors.ts`).toContain(result.error!.code);
    expect(result.error!.message.length).toBeGreaterThan(0);
  }
}

function parseTask(task: Task): TaskParsed {
  return Task.parse(task);
}

/**
 * Registers the runner conformance groups under `describe(name)` (vitest): the contract's shape and
 * `health()` (a `capability:<key>` check, not ok, for each capability that is false), failing
 * tasks, timeouts, abort, concurrent sessions, session memory and tenants. The factory makes a
 * fresh runner for each test; `tasks` are the runner's own (code, prompts, …).
 *
 * ```ts
 * import { createRuntime } from 'limit-graph';
 * import { runnerConformance } from 'limit-graph/testing';
 * import runnerPython from 'limit-graph/plugins/runner-python';
 *
 * runnerConformance('runner-python', async () => {
 *   const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [runnerPython] });
 *   return { runner: rt.resolve('runner:python'), close: () => rt.close().then(() => undefined) };
 * }, { tasks: { hello: () => ({ input: 'print("hello")' }), helloExpect: 'hello', slow: () => ({ input: 'while True: pass' }) } });
 * ```
 */
export function runnerConformance(name: string, factory: () => RunnerUnderTest | Promise<RunnerUnderTest>, options: RunnerConformanceOptions): void {
  const tasks = options.tasks;
  const supports: RunnerConformanceSupports = {
    timeout: true,
    abort: true,
    concurrentSessions: true,
    sessionMemory: tasks.memory !== undefined,
    failingTask: tasks.failing !== undefined,
    ...options.supports,
  };
  const timeoutMs = options.timeoutMs ?? 400;
  const graceMs = options.graceMs ?? 2000;
  const concurrency = options.concurrency ?? 4;
  const testTimeout = options.testTimeoutMs ?? 30_000;
  const limits = options.sessionLimits ?? {};

  describe(`runner conformance: ${name}`, () => {
    const fixture = freshEach(factory, 'runner', testTimeout);
    const runner = (): Runner => fixture().runner;
    const run = (task: Task, ctx: RunContext = makeRunContext({ limits })) => runner().executeIsolated(parseTask(task), ctx);


    describe('contract shape', () => {
      it('has a name and a full capabilities record', () => {
        expect(typeof runner().name).toBe('string');
        expect(runner().name.length).toBeGreaterThan(0);
        for (const key of CAPABILITIES) expect(typeof runner().capabilities[key], `capabilities.${key}`).toBe('boolean');
      });

      it('runs the hello task: ok, stdout, metrics.latencyMs', async () => {
        const result = await run(tasks.hello());
        expectRunResultShape(result);
        expect(result.ok, `hello failed: ${JSON.stringify(result.error)} ${result.stderr}`).toBe(true);
        expect(result.error).toBeUndefined();
        if (tasks.helloExpect !== undefined) expect(result.stdout).toContain(tasks.helloExpect);
        expect(result.metrics.latencyMs).toBeGreaterThanOrEqual(0);
      }, testTimeout);

      it('health() is a structured HealthResult listing every limit it cannot enforce', async () => {
        const health = await runner().health();
        const parsed = HealthResult.safeParse(health);
        expect(parsed.success, `health() is not a HealthResult: ${JSON.stringify(health)}`).toBe(true);
        expect(['ok', 'degraded', 'fail']).toContain(health.status);
        const checks = health.checks ?? [];
        const unenforced = Object.entries(runner().capabilities).filter(([, enforced]) => enforced === false).map(([key]) => key);
        for (const key of unenforced) {
          const check = checks.find((c) => c.name === `capability:${key}`);
          expect(check, `capabilities.${key} is false, so health().checks needs an entry "capability:${key}"`).toBeDefined();
          expect(check!.status, `an unenforced limit (${key}) cannot report ok`).not.toBe('ok');
          expect(check!.message ?? '', `capability:${key} should say why`).not.toBe('');
        }
      }, testTimeout);
    });

    describe.runIf(supports.failingTask)('structured errors', () => {
      it('a failing task resolves with ok=false and a catalogued error (no throw)', async () => {
        const result = await run(tasks.failing!());
        expectRunResultShape(result);
        expect(result.ok).toBe(false);
        expect(result.error?.code).toMatch(/^LIMIT_RUNNER_/);
      }, testTimeout);
    });

    describe.runIf(supports.timeout)('timeouts', () => {
      it(`stops a slow task at the session's timeoutMs with LIMIT_RUNNER_TIMEOUT, promptly`, async () => {
        const started = performance.now();
        const result = await run(tasks.slow(), makeRunContext({ limits: { ...limits, timeoutMs } }));
        const elapsed = performance.now() - started;
        expectRunResultShape(result);
        expect(result.ok, `the slow task ran past the session's timeoutMs (${timeoutMs} ms) and still returned ok=true after ${Math.round(elapsed)} ms`).toBe(false);
        expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
        expect(elapsed, `returned after ${Math.round(elapsed)} ms`).toBeLessThan(timeoutMs + graceMs);
        expect(elapsed, 'returned before the deadline').toBeGreaterThanOrEqual(timeoutMs * 0.9);
      }, testTimeout);

      it('the runner still works after a timeout', async () => {
        const ctx = makeRunContext({ limits: { ...limits, timeoutMs } });
        const first = await run(tasks.slow(), ctx);
        expect(first.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
        const again = await run(tasks.hello(), { ...ctx, session: { ...ctx.session, limits: SessionLimits.parse({ ...limits, timeoutMs: 20_000 }) } });
        expect(again.ok, `after a timeout: ${JSON.stringify(again.error)} ${again.stderr}`).toBe(true);
        if (tasks.helloExpect !== undefined) expect(again.stdout).toContain(tasks.helloExpect);
      }, testTimeout);
    });

    describe.runIf(supports.abort)('abort', () => {
      it('ctx.signal aborts a running task with LIMIT_RUNNER_ABORTED, promptly', async () => {
        const controller = new AbortController();
        const pending = run(tasks.slow(), makeRunContext({ limits, signal: controller.signal }));
        await new Promise((r) => setTimeout(r, 150));
        const abortedAt = performance.now();
        controller.abort();
        const result = await pending;
        const elapsed = performance.now() - abortedAt;
        expectRunResultShape(result);
        expect(result.ok, 'ctx.signal was aborted while the slow task ran, yet it returned ok=true').toBe(false);
        expect(result.error?.code).toBe('LIMIT_RUNNER_ABORTED');
        expect(elapsed, `returned ${Math.round(elapsed)} ms after abort`).toBeLessThan(graceMs);
      }, testTimeout);

      it('an already aborted signal returns LIMIT_RUNNER_ABORTED without running', async () => {
        const controller = new AbortController();
        controller.abort();
        const started = performance.now();
        const result = await run(tasks.slow(), makeRunContext({ limits, signal: controller.signal }));
        const elapsed = performance.now() - started;
        expectRunResultShape(result);
        expect(result.ok, `ctx.signal was already aborted when executeIsolated was called, yet it ran the slow task (ok=true after ${Math.round(elapsed)} ms): check ctx.signal.aborted before starting`).toBe(false);
        expect(result.error?.code).toBe('LIMIT_RUNNER_ABORTED');
        expect(elapsed, `returned ${Math.round(elapsed)} ms after the call`).toBeLessThan(graceMs);
      }, testTimeout);
    });

    describe.runIf(supports.concurrentSessions)('concurrent sessions', () => {
      it.runIf(tasks.echo !== undefined)(`runs ${concurrency} sessions at once without mixing results`, { timeout: testTimeout }, async () => {
        const tokens = Array.from({ length: concurrency }, (_, i) => `tok${i}x${randomUUID().slice(0, 8)}`);
        const results = await Promise.all(tokens.map((token) => run(tasks.echo!(token))));
        results.forEach((result, i) => {
          expectRunResultShape(result);
          expect(result.ok, `session ${i}: ${JSON.stringify(result.error)} ${result.stderr}`).toBe(true);
          expect(result.stdout).toContain(tokens[i]);
          for (const other of tokens) if (other !== tokens[i]) expect(result.stdout).not.toContain(other);
        });
      });

      it('a slow session does not hold up another session', async () => {
        // Decided by order, not by a stopwatch: the fast session's result must come while the slow
        // one still runs. The slow task is ended by an abort once that is known (or, for a runner
        // without abort, by a timeout far longer than a fast task takes on a loaded machine).
        const controller = new AbortController();
        const slowTimeoutMs = supports.abort ? 20_000 : 8_000;
        const slow = run(tasks.slow(), makeRunContext({ limits: { ...limits, timeoutMs: slowTimeoutMs }, signal: controller.signal }));
        let slowSettled = false;
        const slowDone = slow.finally(() => void (slowSettled = true));
        // Without an echo task (a random-weight model), the fast task is hello: its result must still be ok.
        const token = `fast${randomUUID().slice(0, 8)}`;
        let stuck: ReturnType<typeof setTimeout> | undefined;
        const fast = await Promise.race([
          run(tasks.echo ? tasks.echo(token) : tasks.hello()),
          new Promise<'stuck'>((r) => (stuck = setTimeout(() => r('stuck'), testTimeout / 2))),
        ]).finally(() => clearTimeout(stuck));
        const slowRanMeanwhile = !slowSettled;
        controller.abort();
        const slowResult = await slowDone;
        // A failure, not a return: the checks below need the fast session's result.
        if (fast === 'stuck') throw new Error(`the fast session got no result within ${testTimeout / 2} ms while the slow one ran`);
        expect(fast.ok, JSON.stringify(fast.error)).toBe(true);
        if (tasks.echo) expect(fast.stdout).toContain(token);
        expect(slowRanMeanwhile, `the fast session's result came only after the slow session ended (${JSON.stringify(slowResult.error)})`).toBe(true);
        expect(slowResult.ok).toBe(false);
        expect(slowResult.error?.code).toBe(supports.abort ? 'LIMIT_RUNNER_ABORTED' : 'LIMIT_RUNNER_TIMEOUT');
      }, testTimeout);
    });

    describe.runIf(supports.sessionMemory)('session memory', () => {
      it('a session recalls what it stored; another session does not see it', async () => {
        const token = `mem${randomUUID().slice(0, 8)}`;
        const a = makeRunContext({ limits });
        const stored = await run(tasks.memory!.store(token), a);
        expect(stored.ok, `store: ${JSON.stringify(stored.error)} ${stored.stderr}`).toBe(true);
        const recalled = await run(tasks.memory!.recall(), { ...a, traceId: `trace-${randomUUID()}` });
        expectRunResultShape(recalled);
        expect(recalled.ok, `recall: ${JSON.stringify(recalled.error)} ${recalled.stderr}`).toBe(true);
        expect(recalled.stdout).toContain(token);
        const other = await run(tasks.memory!.recall(), makeRunContext({ limits }));
        expectRunResultShape(other);
        expect(other.stdout).not.toContain(token);
        expect(other.stderr).not.toContain(token);
      }, testTimeout);

      it("another tenant using the same session id never sees the first tenant's state", async () => {
        const token = `own${randomUUID().slice(0, 8)}`;
        const a = makeRunContext({ limits });
        expect((await run(tasks.memory!.store(token), a)).ok).toBe(true);
        const other: RunContext = { ...a, traceId: `trace-${randomUUID()}`, session: { ...a.session, tenant: `${a.session.tenant}-other` } };
        // Refused (LIMIT_CONFLICT, thrown or as a result) or a fresh session: never the first one's memory.
        const seen = await run(tasks.memory!.recall(), other).then(
          (r) => `${r.stdout}${r.stderr}`,
          (error: unknown) => {
            expect((error as { code?: string }).code, String(error)).toBe('LIMIT_CONFLICT');
            return '';
          },
        );
        expect(seen).not.toContain(token);
      }, testTimeout);

      it('closeSession forgets the session; the id then starts afresh', async (ctx) => {
        if (!runner().closeSession) return ctx.skip('the runner has no closeSession()');
        const token = `gone${randomUUID().slice(0, 8)}`;
        const a = makeRunContext({ limits });
        expect((await run(tasks.memory!.store(token), a)).ok).toBe(true);
        // The session holds the token before the close (else "forgotten" below would prove nothing).
        const before = await run(tasks.memory!.recall(), { ...a, traceId: `trace-${randomUUID()}` });
        expect(before.stdout, `recall before closeSession: ${JSON.stringify(before.error)} ${before.stderr}`).toContain(token);
        await runner().closeSession!(a.session.id);
        const after = await run(tasks.memory!.recall(), { ...a, traceId: `trace-${randomUUID()}` });
        expectRunResultShape(after);
        expect(after.ok, `recall after closeSession: ${JSON.stringify(after.error)} ${after.stderr}`).toBe(true);
        expect(after.stdout).not.toContain(token);
        expect(after.stderr).not.toContain(token);
      }, testTimeout);
    });
  });
}
