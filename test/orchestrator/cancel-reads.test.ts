/**
 * Cancelling an export and a refinement (their optional `signal`): an export stops reading at the
 * next page or trace and rejects; a refinement stops before its next step (or its series), its step
 * in progress sees the signal, and the points recorded before stay. Real SQLite storage.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LimitError, createRuntime, definePlugin, type Orchestrator, type Runtime, type Storage } from 'limit-graph';
import { makeTrace } from 'limit-graph/testing';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

/** An RD algorithm whose measurement ends only when its signal aborts (rejecting with the reason), and a knee detector. */
const measuring: (() => void)[] = [];
const rdPlugin = definePlugin({
  meta: { name: 'test-rd-held', version: '0.0.0', provides: ['rd:held', 'knee:first'] },
  setup(ctx) {
    ctx.provide('rd:held', {
      name: 'held',
      distortion: () => ({ value: 0, iterations: 1, converged: true, plan: [] }),
      distortionAsync: (_a, _b, options) => new Promise((_, reject) => {
        const signal = options!.signal!;
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        measuring.shift()?.();
      }),
    });
    ctx.provide('knee:first', { name: 'first', detect: () => ({ index: 0 }) });
  },
});

let rt: Runtime | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await rt?.close();
  rt = undefined;
});

async function start(): Promise<{ orch: Orchestrator; storage: Storage }> {
  rt = await createRuntime({
    config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:' }, 'runner-python': false, governance: { packs: [] }, orchestrator: {} } },
    plugins: [rdPlugin, spyRunnerPlugin(spyRunner())],
  });
  return { orch: rt.resolve('orchestrator'), storage: rt.resolve('storage') };
}

describe('a cancelled export', () => {
  /** A session of 6 traces, listed 2 a page. */
  async function session() {
    const { orch, storage } = await start();
    const s = await orch.openSession();
    const ids = Array.from({ length: 6 }, (_, i) => `t-${i}`);
    for (const [i, id] of ids.entries()) await storage.createTrace(makeTrace('default', id, s.id, Date.parse('2024-05-01T00:00:00Z') + i));
    const listTraces = storage.listTraces.bind(storage);
    const listed = vi.spyOn(storage, 'listTraces').mockImplementation((tenant, query) => listTraces(tenant, { ...query, limit: 2 }));
    const getTrace = storage.getTrace.bind(storage);
    const read = vi.spyOn(storage, 'getTrace');
    return { orch, storage, s, ids, listed, read, getTrace };
  }

  it('stops listing a session\'s traces after the page during which it was aborted, reads no trace, and rejects', async () => {
    const { orch, s, listed, read } = await session();
    expect((await orch.exportArtifact({ sessionId: s.id, format: 'json' })).manifest.traceIds).toHaveLength(6);
    expect(listed).toHaveBeenCalledTimes(3);
    listed.mockClear();
    read.mockClear();

    const controller = new AbortController();
    const listTraces = listed.getMockImplementation()!;
    listed.mockImplementation(async (tenant, query) => {
      const page = await listTraces(tenant, query);
      controller.abort(new Error('the caller left'));
      return page;
    });
    await expect(orch.exportArtifact({ sessionId: s.id, format: 'jsonl', signal: controller.signal })).rejects.toMatchObject({
      code: 'LIMIT_RUNNER_ABORTED', message: 'The export was aborted: the caller left',
    });
    expect(listed).toHaveBeenCalledTimes(1);
    expect(read).not.toHaveBeenCalled();
  });

  it('stops reading traces after the one during which it was aborted, and rejects; aborted before, it reads nothing', async () => {
    const { orch, ids, listed, read, getTrace } = await session();
    const controller = new AbortController();
    read.mockImplementation(async (tenant, id) => {
      const trace = await getTrace(tenant, id);
      if (read.mock.calls.length === 2) controller.abort();
      return trace;
    });
    await expect(orch.exportArtifact({ traceIds: ids, format: 'csv', signal: controller.signal })).rejects.toMatchObject({
      code: 'LIMIT_RUNNER_ABORTED', message: 'The export was aborted: This operation was aborted',
    });
    expect(read).toHaveBeenCalledTimes(2);

    read.mockClear();
    await expect(orch.exportArtifact({ traceIds: ids, format: 'json', signal: controller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED' });
    await expect(orch.exportArtifact({ sessionId: 'nope', format: 'json', signal: controller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED' });
    expect(read).not.toHaveBeenCalled();
    expect(listed).not.toHaveBeenCalled();
  });
});

describe('a cancelled refinement', () => {
  const graph = (n: number) => ({ nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [i] })), edges: [] });

  it('aborted before it starts: no series is created and no step is called', async () => {
    const { orch, storage } = await start();
    const s = await orch.openSession();
    const step = vi.fn(() => ({ rate: 1, distortion: 1 }));
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(orch.refine({ sessionId: s.id, name: 'r', maxSteps: 3, step, signal: controller.signal })).rejects.toMatchObject({
      code: 'LIMIT_RUNNER_ABORTED', message: 'The refinement was aborted: stop (the refinement stopped before creating its RD series)', details: { steps: 0 },
    });
    expect(step).not.toHaveBeenCalled();
    expect(await storage.listRdSeries('default', { sessionId: s.id })).toEqual([]);
  });

  it('aborted during a step: no further step runs, the points recorded stay, and the error says how many', async () => {
    const { orch, storage } = await start();
    const s = await orch.openSession();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const step = vi.fn((i: number, context: { signal: AbortSignal }) => {
      signals.push(context.signal);
      if (i === 2) controller.abort(new Error('enough'));
      return { rate: i + 1, distortion: 10 - i };
    });
    const error = await orch.refine({ sessionId: s.id, name: 'r', detector: 'first', maxSteps: 8, step, signal: controller.signal }).catch((e: unknown) => e);
    const [series] = await storage.listRdSeries('default', { sessionId: s.id });
    expect(error).toMatchObject({
      code: 'LIMIT_RUNNER_ABORTED',
      message: `The refinement was aborted: enough (the refinement stopped after recording 2 steps in RD series "${series!.id}", which keeps them)`,
      details: { seriesId: series!.id, steps: 2 },
    });
    expect(step).toHaveBeenCalledTimes(3);
    expect(signals.every((x) => x === controller.signal)).toBe(true);
    expect(series!.points.map((p) => [p.step, p.distortion])).toEqual([[0, 10], [1, 9]]);
  });

  it('a step\'s measurement in progress is aborted with the refinement (its own signal still applies), and a signal\'s LimitError keeps its code', async () => {
    const { orch, storage } = await start();
    const s = await orch.openSession();
    const controller = new AbortController();
    const own = new AbortController();
    const reference = graph(4);
    // Step 0 is a distortion; step 1's graph is measured until the refinement is aborted.
    measuring.push(() => controller.abort(new LimitError('LIMIT_RUNNER_TIMEOUT', 'Took too long')));
    const error = await orch.refine({
      sessionId: s.id, name: 'r', reference, distortionAlgorithm: 'held', detector: 'first', maxSteps: 4, signal: controller.signal,
      step: (i) => (i === 0 ? { rate: 1, distortion: 3 } : { rate: 2, graph: graph(2), signal: own.signal }),
    }).catch((e: unknown) => e);
    expect(own.signal.aborted).toBe(false);
    const [series] = await storage.listRdSeries('default', { sessionId: s.id });
    expect(error).toMatchObject({
      code: 'LIMIT_RUNNER_TIMEOUT',
      message: `Took too long (the refinement stopped after recording 1 step in RD series "${series!.id}", which keeps them)`,
      details: { seriesId: series!.id, steps: 1 },
    });
    expect(series!.points.map((p) => p.step)).toEqual([0]);
  });
});
