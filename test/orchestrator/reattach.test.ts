/**
 * A session stored by another process (the CLI, another API instance, this server before a
 * restart) gets a live scope here on its first use. Several runs arriving at once for it must share
 * one scope: one semaphore (maxConcurrency), one table of running traces (cancel, closeSession).
 * Real storage (SQLite and PostgreSQL), governance and orchestrator; a runner the test controls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, newId, type ConfigInput, type Runner, type Runtime } from 'limit-graph';
import { dropSchemas, storagePlugins, uniqueSchema } from '../helpers/storage-backend.ts';


/** A runner whose tasks run until aborted, counting how many run at once. */
function blockingRunner() {
  const state = { inFlight: 0, maxInFlight: 0, entered: 0 };
  const watchers: (() => void)[] = [];
  const runner: Runner = {
    name: 'block',
    capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
    async executeIsolated(_task, ctx) {
      state.inFlight++;
      state.entered++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      for (const w of watchers.splice(0)) w();
      try {
        await new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      } finally {
        state.inFlight--;
      }
      throw new Error('unreachable');
    },
    async health() {
      return { status: 'ok', checks: [] };
    },
  };
  return {
    state,
    plugin: definePlugin({ meta: { name: 'test-runner-block', version: '0.0.0', provides: ['runner:block'] }, setup: (ctx) => ctx.provide('runner:block', runner) }),
    /** Resolves once a task has started. */
    started: () => new Promise<void>((resolve) => (state.entered > 0 ? resolve() : watchers.push(resolve))),
  };
}

describe.each(['sqlite', 'postgres'] as const)('concurrent first runs of a session stored by another process (%s)', (backend) => {
  let rt: Runtime | undefined;
  const schema = uniqueSchema('orch_reattach');

  afterEach(async () => {
    await rt?.close();
    rt = undefined;
    if (backend === 'postgres') await dropSchemas([schema]);
  });

  it('share one live scope: maxConcurrency holds and cancel() reaches every run', async () => {
    const runner = blockingRunner();
    rt = await createRuntime({
      config: {
        logLevel: 'silent',
        storage: backend,
        plugins: {
          ...storagePlugins(backend, { sqlitePath: ':memory:', schema, poolSize: 4 }),
          'governance-rules-jailbreak': true,
          governance: { packs: ['jailbreak'] },
          orchestrator: {},
        },
      } as ConfigInput,
      plugins: [runner.plugin],
    });
    const orchestrator = rt.resolve('orchestrator');
    // Stored as another process stores it: no scope for it in this one.
    const session = await rt.resolve('storage').createSession({
      id: newId(), tenant: 'default', name: 'elsewhere', status: 'open', createdAt: new Date().toISOString(),
      limits: { maxConcurrency: 1, allowNetwork: false, timeoutMs: 30_000, memoryMb: 512 }, metadata: {},
    });
    expect(rt.getSession(session.id)).toBeUndefined();

    // The race, made certain: the scope the first run opens is handed back only once every run has
    // read the session from storage (and so is past its look for a live scope).
    const storage = rt.resolve('storage');
    const getSession = storage.getSession.bind(storage);
    let reads = 0;
    let allRead!: () => void;
    const read = new Promise<void>((resolve) => (allRead = resolve));
    storage.getSession = async (...args) => {
      const found = await getSession(...args);
      if (++reads === 3) setImmediate(allRead);
      return found;
    };
    const openSession = rt.openSession.bind(rt);
    rt.openSession = async (request) => {
      const opened = openSession(request);
      await read;
      return opened;
    };

    // Input governance sees each run's trace once the run is registered as running.
    const registered: string[] = [];
    let allRegistered!: () => void;
    const three = new Promise<void>((resolve) => (allRegistered = resolve));
    rt.hooks.governInput.tapPromise('test', async (findings, trace) => {
      if (registered.push(trace.id) === 3) allRegistered();
      return findings;
    });
    const runs = [1, 2, 3].map((i) => orchestrator.run({ sessionId: session.id, runner: 'block', task: { input: `print(${i})` } }));
    await three;
    await runner.started();

    // One scope: every running trace is found (and the two waiting for the slot are aborted too).
    expect(registered.map((id) => orchestrator.cancel(undefined, id))).toEqual([true, true, true]);
    const outcomes = await Promise.all(runs);
    expect(outcomes.map((o) => [o.trace.status, o.trace.output?.error?.code])).toEqual([1, 2, 3].map(() => ['error', 'LIMIT_RUNNER_ABORTED']));
    // maxConcurrency 1: the runs waited for one another's slot.
    expect(runner.state.maxInFlight).toBe(1);
    expect(runner.state.entered).toBe(1);
  });
});
