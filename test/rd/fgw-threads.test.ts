/**
 * rd-fgw's worker threads (distortionAsync): the same results and the same LimitErrors as the
 * synchronous distortion, several computations at once up to the pool size, abort, a crashed thread
 * replaced, and a runtime (and a process) that ends promptly with no thread left behind.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type AttributedGraph, LimitError, createRuntime, isLimitError, measureDistortion, mulberry32 as rng } from 'limit-graph';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FgwPool, RdFgwOptions, WorkerPool, createFgwService, spawnFgwWorker, type FgwService } from '../../plugins/rd-fgw/index.ts';

/** A random connected graph of n nodes with `dim` features each (seeded); optionally weighted. */
function randomGraph(n: number, seed: number, { dim = 3, weighted = false } = {}): AttributedGraph {
  const r = rng(seed);
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: Array.from({ length: dim }, () => r()) }));
  const edge = (a: number, b: number) => ({ source: `v${a}`, target: `v${b}`, ...(weighted ? { weight: 0.5 + r() } : {}) });
  const edges = Array.from({ length: n - 1 }, (_, i) => edge(i + 1, Math.floor(r() * (i + 1))));
  for (let k = 0; k < n / 2; k++) edges.push(edge(Math.floor(r() * n), Math.floor(r() * n)));
  return { nodes, edges };
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): LimitError {
  try {
    fn();
  } catch (error) {
    return error as LimitError;
  }
  throw new Error('expected an error');
}

/** Runs until its time limit (or forever without one): 150-node graphs, entropic, tiny ε. */
const SLOW = { source: randomGraph(150, 11), target: randomGraph(150, 12) };
const SLOW_OPTIONS = { method: 'entropic', epsilon: 1e-6, maxIter: 1_000_000, tol: 0 } as const;

const pools: FgwPool[] = [];
function service(poolSize: number, defaults: Record<string, unknown> = {}, spawn?: () => Worker, maxQueued = 64): { fgw: FgwService; pool: FgwPool } {
  const pool = new FgwPool(poolSize, maxQueued, spawn);
  pools.push(pool);
  return { fgw: createFgwService(RdFgwOptions.parse(defaults), pool), pool };
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('rd-fgw distortionAsync in worker threads', () => {
  const { fgw, pool } = service(2);

  it('gives exactly what distortion gives, on several graphs and options', async () => {
    const cases: [AttributedGraph, AttributedGraph, Record<string, unknown>][] = [
      [randomGraph(8, 1), randomGraph(8, 1), {}],
      [randomGraph(12, 2), randomGraph(9, 3), {}],
      [randomGraph(12, 2), randomGraph(9, 3), { method: 'entropic', epsilon: 0.05 }],
      [randomGraph(30, 4, { weighted: true }), randomGraph(25, 5, { weighted: true }), { alpha: 0.2 }],
      [randomGraph(40, 6, { dim: 5 }), randomGraph(35, 7, { dim: 5 }), { method: 'entropic', alpha: 0.8, structure: 'adjacency', normalize: true }],
      [{ ...randomGraph(15, 8), directed: true }, randomGraph(15, 9), { weights: 'degree', planThreshold: 1e-6 }],
    ];
    const results = await Promise.all(cases.map(([a, b, o]) => fgw.distortionAsync(a, b, o)));
    for (const [k, [a, b, o]] of cases.entries()) {
      const sync = fgw.distortion(a, b, o);
      // Bitwise: same values, same plan, same key order.
      expect(JSON.stringify(results[k]), `case ${k}`).toBe(JSON.stringify(sync));
      expect(results[k]!.plan.length).toBeGreaterThan(0);
    }
    expect(pool.stats.threads).toBeGreaterThanOrEqual(1);
    expect(pool.stats.threads).toBeLessThanOrEqual(2);
    // measureDistortion (what the orchestrator and api-http call) takes the async path.
    const [a, b] = cases[1]!;
    expect(await measureDistortion(fgw, a, b)).toEqual(fgw.distortion(a, b));
  });

  it('rejects with the LimitError distortion throws: same code, message, details, fix', async () => {
    const g = randomGraph(5, 1);
    const empty = { nodes: [], edges: [] };
    const mixed = { nodes: [{ id: 'a', features: [0, 1] }, { id: 'b', features: [1] }], edges: [] };
    const badWeights = { nodes: [{ id: 'a', features: [0], weight: 0.9 }, { id: 'b', features: [1], weight: 0.9 }], edges: [] };
    const inputs: [AttributedGraph, AttributedGraph, Record<string, unknown>][] = [
      [g, empty, {}], [mixed, g, {}], [badWeights, g, {}], [g, g, { alpa: 1 }], [g, g, { alpha: 3 }], [g, g, { timeLimitMs: -1 }],
      [{ nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [0] }], edges: [] }, g, { unreachable: 'error' }],
    ];
    for (const [a, b, o] of inputs) {
      const expected = thrown(() => fgw.distortion(a, b, o as never));
      const got = await rejection(fgw.distortionAsync(a, b, o as never));
      expect(got).toBeInstanceOf(LimitError);
      expect(isLimitError(got, expected.code)).toBe(true);
      expect((got as LimitError).toJSON()).toEqual(expected.toJSON());
      expect((got as LimitError).status).toBe(422);
    }
    // Graphs that cannot be copied to a thread (a function inside) are refused, not a crash.
    const withFunction = { ...g, nodes: g.nodes.map((n) => ({ ...n, label: () => n.id })) };
    const uncloneable = await rejection(fgw.distortionAsync(withFunction as AttributedGraph, g));
    expect(uncloneable).toMatchObject({ name: 'LimitError', code: 'LIMIT_RD_INVALID_INPUT' });
    expect(uncloneable.message).toMatch(/cannot be copied to a worker thread/);
    expect(await fgw.distortionAsync(g, g)).toEqual(fgw.distortion(g, g));
    // A thread's error carries the thread's stack frames below this thread's.
    const fromThread = await rejection(fgw.distortionAsync(g, empty));
    expect(fromThread.stack).toMatch(/in an rd-fgw worker thread[\s\S]*graph\.ts/);
  });

  it('the time limit bounds the computation in the thread: LIMIT_RD_NOT_CONVERGED with its details', async () => {
    const t0 = performance.now();
    const error = (await rejection(fgw.distortionAsync(SLOW.source, SLOW.target, { ...SLOW_OPTIONS, timeLimitMs: 200 }))) as LimitError;
    expect(error).toBeInstanceOf(LimitError);
    expect(error.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(error.details).toMatchObject({ field: 'timeLimitMs', timeLimitMs: 200 });
    expect(error.message).toMatch(/time limit of 200 ms/);
    expect(error.fix).toMatch(/rdTimeLimitMs/);
    expect(performance.now() - t0).toBeLessThan(200 + 3_000);
  });

  it('runs poolSize computations at once; more wait in the queue', async () => {
    const LIMIT = 700;
    // Warm both threads, so that start-up does not count.
    await Promise.all([fgw.distortionAsync(randomGraph(4, 1), randomGraph(4, 2)), fgw.distortionAsync(randomGraph(4, 3), randomGraph(4, 4))]);
    expect(pool.stats.threads).toBe(2);
    const t0 = performance.now();
    const runs = [1, 2, 3].map(() => fgw.distortionAsync(SLOW.source, SLOW.target, { ...SLOW_OPTIONS, timeLimitMs: LIMIT }).catch((e: LimitError) => ({ code: e.code, at: performance.now() - t0 })));
    await new Promise((r) => setTimeout(r, 100));
    expect(pool.stats).toEqual({ threads: 2, running: 2, queued: 1 });
    const ends = (await Promise.all(runs)) as { code: string; at: number }[];
    for (const end of ends) expect(end.code).toBe('LIMIT_RD_NOT_CONVERGED');
    const [first, second, third] = ends.map((e) => e.at).sort((x, y) => x - y) as [number, number, number];
    // The first two ran side by side (one after the other would end ≥ 2 × LIMIT apart); the third waited.
    expect(second).toBeLessThan(2 * LIMIT);
    expect(second - first).toBeLessThan(LIMIT);
    expect(third).toBeGreaterThan(2 * LIMIT);
  });

  it('refuses a computation at once with LIMIT_RD_BUSY when maxQueued already wait behind busy threads', async () => {
    const { fgw: busy, pool: small } = service(1, {}, undefined, 1);
    const stop = new AbortController();
    const running = busy.distortionAsync!(SLOW.source, SLOW.target, { ...SLOW_OPTIONS, signal: stop.signal }).catch((e: LimitError) => e.code);
    const waiting = busy.distortionAsync!(randomGraph(4, 1), randomGraph(4, 2), { signal: stop.signal }).catch((e: LimitError) => e.code);
    await new Promise((r) => setTimeout(r, 50));
    expect(small.stats).toMatchObject({ running: 1, queued: 1 });
    const refused = await busy.distortionAsync!(randomGraph(4, 3), randomGraph(4, 4)).catch((e: LimitError) => e);
    expect(refused).toMatchObject({ code: 'LIMIT_RD_BUSY', details: { poolSize: 1, maxQueued: 1 }, fix: expect.stringContaining('maxQueued') });
    expect(small.stats.queued).toBe(1);
    stop.abort();
    expect(await Promise.all([running, waiting])).toEqual(['LIMIT_RD_ABORTED', 'LIMIT_RD_ABORTED']);
  });

  it('an abort signal drops a queued computation and stops a running one (its thread is replaced)', async () => {
    const { fgw: one, pool: single } = service(1);
    const small = [randomGraph(6, 1), randomGraph(6, 2)] as const;
    const expected = one.distortion(...small);
    const running = new AbortController();
    const queued = new AbortController();
    const t0 = performance.now();
    const a = one.distortionAsync(SLOW.source, SLOW.target, { ...SLOW_OPTIONS, signal: running.signal });
    const b = one.distortionAsync(SLOW.source, SLOW.target, { ...SLOW_OPTIONS, signal: queued.signal });
    await new Promise((r) => setTimeout(r, 300));
    expect(single.stats).toMatchObject({ running: 1, queued: 1 });
    queued.abort();
    const bError = await rejection(b);
    expect(bError).toMatchObject({ name: 'LimitError', code: 'LIMIT_RD_ABORTED' });
    expect(single.stats).toMatchObject({ running: 1, queued: 0 });
    running.abort(new Error('client left'));
    const aError = (await rejection(a)) as LimitError;
    expect(aError.code).toBe('LIMIT_RD_ABORTED');
    expect(aError.status).toBe(499);
    expect((aError.cause as Error).message).toBe('client left');
    expect(performance.now() - t0).toBeLessThan(5_000); // without a limit it would never end
    expect(single.stats).toEqual({ threads: 0, running: 0, queued: 0 });
    // The next computation gets a new thread.
    expect(await one.distortionAsync(...small)).toEqual(expected);
    expect(single.stats.threads).toBe(1);
    // An already aborted signal computes nothing.
    expect(await rejection(one.distortionAsync(...small, { signal: AbortSignal.abort() }))).toMatchObject({ code: 'LIMIT_RD_ABORTED' });
  });

  it('a thread that crashes rejects its computation with LIMIT_INTERNAL; the next one gets a working thread', async () => {
    let spawned = 0;
    // The first thread dies at its first message, the way a thread out of memory would.
    const crashing = () => (spawned++ === 0 ? new Worker("require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });", { eval: true }) : spawnFgwWorker());
    const { fgw: flaky, pool: p } = service(1, {}, crashing);
    const small = [randomGraph(6, 1), randomGraph(6, 2)] as const;
    const error = (await rejection(flaky.distortionAsync(...small))) as LimitError;
    expect(error).toBeInstanceOf(LimitError);
    expect(error.code).toBe('LIMIT_INTERNAL');
    expect(error.plugin).toBe('rd-fgw');
    expect(error.message).toMatch(/worker thread .*stopped: boom/);
    expect(p.stats.threads).toBe(0);
    expect(await flaky.distortionAsync(...small)).toEqual(flaky.distortion(...small));
    expect(spawned).toBe(2);
  });

  it('a generic WorkerPool reports a thread that exits or cannot start', async () => {
    const make = (code: string) =>
      new WorkerPool({ size: 1, spawn: () => new Worker(code, { eval: true }), crashed: (e) => new Error(`crashed: ${(e as Error).message}`), aborted: () => new Error('aborted'), closed: () => new Error('closed') });
    const exits = make("require('node:worker_threads').parentPort.on('message', () => process.exit(3));");
    expect((await rejection(exits.run({}))).message).toBe('crashed: the worker thread exited with code 3');
    const broken = make("throw new Error('cannot load');");
    expect((await rejection(broken.run({}))).message).toBe('crashed: cannot load');
    await Promise.all([exits.close(), broken.close()]);
    expect((await rejection(exits.run({}))).message).toBe('closed');
  });

  it('threads: false computes on the calling thread, with the same result', async () => {
    const inline = createFgwService(RdFgwOptions.parse({ threads: false }));
    const [a, b] = [randomGraph(10, 1), randomGraph(7, 2)];
    expect(await inline.distortionAsync(a, b)).toEqual(inline.distortion(a, b));
    expect(RdFgwOptions.parse({}).poolSize).toBeGreaterThanOrEqual(1);
    // Pool options are the plugin's, not a call's.
    expect(thrown(() => inline.distortion(a, b, { poolSize: 4 } as never)).message).toContain('options.poolSize: unknown option');
  });
});

describe('rd-fgw threads and the runtime', () => {
  it('closing the runtime stops a running computation at once (LIMIT_RUNTIME_CLOSED) and terminates the threads', async () => {
    const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': { poolSize: 1 } } } });
    const fgw = rt.resolve('rd:fgw');
    // Start the thread, then give it a computation with no time limit.
    await fgw.distortionAsync(randomGraph(4, 1), randomGraph(4, 2));
    const endless = rejection(fgw.distortionAsync(SLOW.source, SLOW.target, SLOW_OPTIONS));
    await new Promise((r) => setTimeout(r, 200));
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      const t0 = performance.now();
      await rt.close();
      expect(performance.now() - t0).toBeLessThan(2_000);
      expect(await endless).toMatchObject({ name: 'LimitError', code: 'LIMIT_RUNTIME_CLOSED' });
      // The pool's one thread was terminated by the close, and has exited (threadId -1) when close resolves.
      expect(terminate).toHaveBeenCalledTimes(1);
      expect((terminate.mock.contexts[0] as Worker).threadId).toBe(-1);
    } finally {
      terminate.mockRestore();
    }
  });

  it('a process that used the threads ends on its own, whether or not it closes the runtime', () => {
    const child = fileURLToPath(new URL('./fgw-threads-child.ts', import.meta.url));
    for (const mode of ['close', 'leave']) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', child, mode], { encoding: 'utf8', timeout: 30_000 });
      expect(r.error, `${mode}: ${r.stderr}`).toBeUndefined();
      expect(r.status, `${mode}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout.trim()).value).toBeGreaterThan(0);
      expect(performance.now() - t0, mode).toBeLessThan(20_000);
    }
  });
});
