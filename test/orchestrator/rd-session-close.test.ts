/**
 * RD series and points are writes into their session, as recorded traces are: a close that begins
 * while a series is being stored or a step's graph is measured waits for it (up to closeWaitMs), and
 * cuts off one that outlasts that (LIMIT_SESSION_CLOSED, no point written) before storage marks the
 * session closed. Before, neither was waited for nor cut off, and the point was appended after storage
 * said `closed`. Real SQLite storage; an RD algorithm whose measurement waits until the test releases it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, isLimitError, type Orchestrator, type Runtime, type Storage } from 'limit-graph';
import { spyRunner, spyRunnerPlugin, sqliteOrchestratorRuntime } from './doubles.ts';

/** A measurement held until release(); `started` resolves once one began. */
function held() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const started = new Promise<void>((resolve) => (entered = resolve));
  const plugin = definePlugin({
    meta: { name: 'test-rd-held', version: '0.0.0', provides: ['rd:held'] },
    setup(ctx) {
      ctx.provide('rd:held', {
        name: 'held',
        distortion: () => ({ value: 0.5, iterations: 1, converged: true, plan: [] }),
        distortionAsync: async () => {
          entered();
          await released;
          return { value: 0.5, iterations: 1, converged: true, plan: [] };
        },
      });
    },
  });
  return { plugin, started, release };
}

const graph = { nodes: [{ id: 'a', features: [1] }], edges: [] };

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

/** The runtime, with storage's RD writes and its close of a session logged in the order they completed. */
async function start(closeWaitMs: number, plugin: ReturnType<typeof held>['plugin']): Promise<{ orch: Orchestrator; storage: Storage; log: string[] }> {
  rt = await sqliteOrchestratorRuntime({ closeWaitMs }, [plugin, spyRunnerPlugin(spyRunner('spy'))]);
  const storage = rt.resolve('storage') as Storage;
  const log: string[] = [];
  for (const name of ['createRdSeries', 'appendRdPoint', 'closeSession'] as const) {
    const original = (storage[name] as (...args: unknown[]) => Promise<unknown>).bind(storage);
    (storage as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const result = await original(...args);
      log.push(name);
      return result;
    };
  }
  return { orch: rt.resolve('orchestrator'), storage, log };
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));

describe('RD writes and the close of their session', () => {
  it('a close that begins while a step is measured waits for its point, which is written before storage marks the session closed', async () => {
    const h = held();
    const { orch, storage, log } = await start(10_000, h.plugin);
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'x', reference: graph, distortionAlgorithm: 'held' });
    const step = settle(orch.recordRdStep(series.id, { rate: 1, graph }));
    await h.started;
    const closing = orch.closeSession(undefined, s.id);
    await new Promise((r) => setTimeout(r, 100));
    expect(log).toEqual(['createRdSeries']); // the close waits for the step
    // From the moment the close began, a new point (or series) is refused.
    const later = await settle(orch.recordRdStep(series.id, { rate: 2, distortion: 0.1 }));
    expect(isLimitError((later as { error: unknown }).error, 'LIMIT_SESSION_CLOSED')).toBe(true);
    const another = await settle(orch.createRdSeries({ sessionId: s.id, name: 'y' }));
    expect(isLimitError((another as { error: unknown }).error, 'LIMIT_SESSION_CLOSED')).toBe(true);
    h.release();
    expect((await step)).toMatchObject({ value: { seriesId: series.id, point: { step: 0, distortion: 0.5 } } });
    expect((await closing).status).toBe('closed');
    expect(log).toEqual(['createRdSeries', 'appendRdPoint', 'closeSession']);
    expect((await storage.getRdSeries('default', series.id))!.points).toHaveLength(1);
  });

  it('a step still measured after closeWaitMs is cut off: LIMIT_SESSION_CLOSED naming the series, and no point written after the close', async () => {
    const h = held();
    const { orch, storage, log } = await start(50, h.plugin);
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'x', reference: graph, distortionAlgorithm: 'held' });
    const step = settle(orch.recordRdStep(series.id, { rate: 1, graph }));
    await h.started;
    expect((await orch.closeSession(undefined, s.id)).status).toBe('closed');
    h.release();
    const { error } = (await step) as { error: Error & { code: string; details?: Record<string, unknown> } };
    expect(error).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', details: { sessionId: s.id, seriesId: series.id, closeWaitMs: 50 } });
    expect(error.message).toContain(`closed before the point of RD series "${series.id}" was recorded`);
    expect(log).toEqual(['createRdSeries', 'closeSession']);
    expect((await storage.getRdSeries('default', series.id))!.points).toEqual([]);
  });

  it("a close that begins while a series is being stored waits for it", async () => {
    const h = held();
    const { orch, storage, log } = await start(10_000, h.plugin);
    const s = await orch.openSession();
    // Storage's write of the series held until the close has begun.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const writing = new Promise<void>((resolve) => (entered = resolve));
    const create = storage.createRdSeries.bind(storage);
    storage.createRdSeries = async (series) => {
      entered();
      await released;
      return create(series);
    };
    const created = settle(orch.createRdSeries({ sessionId: s.id, name: 'x' }));
    await writing;
    const closing = orch.closeSession(undefined, s.id);
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect(await created).toMatchObject({ value: { sessionId: s.id, name: 'x' } });
    expect((await closing).status).toBe('closed');
    expect(log).toEqual(['createRdSeries', 'closeSession']);
  });
});
