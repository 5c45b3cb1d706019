/**
 * A session stored by another process (the CLI, another API instance, this server before a
 * restart) gets a live scope here on its first use. Several runs arriving at once for it must share
 * one scope: one semaphore (maxConcurrency), one table of running traces (cancel, closeSession).
 * Real storage (SQLite and PostgreSQL), governance and orchestrator; a runner the test controls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, newId, type ConfigInput, type Runner, type Runtime } from 'limit-graph';
import { dropSchemas, storagePlugins, uniqueSchema } from '../helpers/storage-backend.ts';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';


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

describe('a session closed by another process (SQLite file shared by two runtimes)', () => {
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.close()));
  });

  it("does not abort this process's run in flight: it finishes and its trace is written after storage says closed (as the README says); new runs are refused", async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'orch-xproc-')), 'db.sqlite');
    const open = async () => {
      const r = await createRuntime({
        config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: file }, 'governance-rules-jailbreak': true, governance: { packs: ['jailbreak'] }, orchestrator: {} } } as ConfigInput,
        plugins: [spyRunnerPlugin(spyRunner('spy'))],
      });
      runtimes.push(r);
      return r.resolve('orchestrator');
    };
    const [a, b] = [await open(), await open()];
    const s = await a.openSession({});
    const run = a.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:400 done' } });
    await new Promise((r) => setTimeout(r, 100));
    const closed = await b.closeSession(undefined, s.id);
    const { trace } = await run;
    expect(trace).toMatchObject({ status: 'ok', output: { stdout: 'done' } });
    const stored = await b.inspectTrace(undefined, trace.id);
    expect(stored.trace.status).toBe('ok');
    expect(stored.provenance.at(-1)!.at > closed.closedAt!).toBe(true);
    await expect(a.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } })).rejects.toMatchObject({ code: 'LIMIT_SESSION_CLOSED' });
  });
});
