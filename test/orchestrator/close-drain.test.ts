/**
 * runtime.close() with work in flight and no other shutdown first (an embedder's close; api-http's
 * server left open): the close drains before any session closes — the run in flight finishes in its
 * open session and its trace is stored, while new work is refused with LIMIT_RUNTIME_CLOSED — and
 * only then closes sessions, runners and storage. Real SQLite storage, governance, orchestrator
 * and api-http; a runner that waits for the test (and fails if its session closes under it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, type Runner, type Runtime, type Trace } from 'limit-graph';
import '../../plugins/api-http/index.ts';

/** A runner that holds each task until `release()`; a task whose signal aborts first fails. */
function gatedRunner() {
  let entered!: () => void;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const state = { started: new Promise<void>((resolve) => (entered = resolve)), release };
  const runner: Runner = {
    name: 'gate',
    capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
    executeIsolated: (task, ctx) => new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      entered();
      void gate.then(() => resolve({ ok: true, stdout: `done: ${task.input}`, stderr: '', metrics: { latencyMs: 1, exitCode: 0 } }));
    }),
    async health() {
      return { status: 'ok', checks: [] };
    },
  };
  return { ...state, plugin: definePlugin({ meta: { name: 'test-runner-gate', version: '0.0.0', provides: ['runner:gate'] }, setup: (ctx) => ctx.provide('runner:gate', runner) }) };
}

describe('runtime.close() with work in flight', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  async function start(gate: ReturnType<typeof gatedRunner>, http = false) {
    rt = await createRuntime({
      config: {
        logLevel: 'silent', storage: 'sqlite',
        plugins: {
          'storage-sqlite': { path: ':memory:' }, 'runner-python': false, governance: { packs: [] }, orchestrator: { closeWaitMs: 30_000 },
          ...(http ? { 'api-http': { listen: true, port: 0, auth: { mode: 'none' }, rateLimit: false } } : {}),
        },
      },
      plugins: [gate.plugin],
    });
    // What storage holds of the session's traces when it closes (the last step of the close).
    const storage = rt.resolve('storage');
    const close = storage.close.bind(storage);
    const atClose: { traces?: Trace[] } = {};
    storage.close = async () => {
      atClose.traces = (await storage.listTraces('default', {})).items;
      return close();
    };
    return { orch: rt.resolve('orchestrator'), atClose };
  }

  it('a run in flight finishes in its open session and is stored; new work is refused with LIMIT_RUNTIME_CLOSED', async () => {
    const gate = gatedRunner();
    const { orch, atClose } = await start(gate);
    const session = await orch.openSession({});
    const series = await orch.createRdSeries({ sessionId: session.id, name: 'early' });
    const running = orch.run({ sessionId: session.id, runner: 'gate', task: { input: 'first' } });
    await gate.started;

    const closing = rt!.close();
    // The close's first steps are a few promise turns: one turn of the event loop, and it is draining.
    await new Promise((resolve) => setImmediate(resolve));
    await expect(orch.run({ sessionId: session.id, runner: 'gate', task: { input: 'late' } })).rejects.toMatchObject({
      code: 'LIMIT_RUNTIME_CLOSED', message: 'The runtime is shutting down: no new work (a run, a recorded trace, a merge, a review, an RD series or point, a stale-run sweep) starts any more',
    });
    await expect(orch.recordTrace({ sessionId: session.id, runner: 'gate', task: { input: 'late' }, output: { ok: true, stdout: 'x', stderr: '' } })).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    await expect(rt!.openSession()).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    // RD writes are new work too (before, they went on into the closing runtime).
    await expect(orch.createRdSeries({ sessionId: session.id, name: 'late' })).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    await expect(orch.recordRdStep(series.id, { rate: 1, distortion: 0.5 })).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });

    gate.release();
    const outcome = await running;
    expect(outcome.trace).toMatchObject({ status: 'ok', output: { ok: true, stdout: 'done: first' } });
    expect((await closing).errors).toEqual([]);
    expect(atClose.traces?.map((t) => [t.task.input, t.status])).toEqual([['first', 'ok']]);
  });

  it('over HTTP, without http.close() first: the request in flight is answered and its trace stored; a new request is refused', async () => {
    const gate = gatedRunner();
    const { atClose } = await start(gate, true);
    const url = rt!.resolve('http').url!;
    const session = await (await fetch(`${url}/sessions`, { method: 'POST' })).json() as { id: string };
    const request = fetch(`${url}/sessions/${session.id}/runs`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runner: 'gate', task: { input: 'first' } }),
    });
    await gate.started;

    const closing = rt!.close();
    await new Promise((resolve) => setImmediate(resolve));
    const late = await fetch(`${url}/sessions`, { method: 'POST' }).then((r) => r.status, (e: unknown) => e);
    expect(late === 503 || late instanceof Error, String(late)).toBe(true); // answered 503 unprocessed, or the listener is closed

    gate.release();
    const answer = await request;
    expect(answer.status).toBe(201);
    expect(await answer.json()).toMatchObject({ trace: { status: 'ok', output: { stdout: 'done: first' } } });
    expect((await closing).errors).toEqual([]);
    expect(atClose.traces?.map((t) => [t.task.input, t.status])).toEqual([['first', 'ok']]);
  });
});
