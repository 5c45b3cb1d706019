/**
 * FGW off the event loop: while a slow distortion runs in rd-fgw's worker threads the server keeps
 * answering (health, other tenants), several distortions run at once up to the pool size, errors
 * from a thread keep their problem document, a client that hangs up stops its computation, and an
 * RD algorithm with only the synchronous `distortion` still works.
 */
import { type AttributedGraph, definePlugin, type DistortionOptions, type LimitError } from 'limit-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdFgwOptions, createFgwService } from '../../plugins/rd-fgw/index.ts';
import { KEYS, startServer, type Server } from './harness.ts';

/** A connected graph of n nodes: a path plus chords, 4 features per node (deterministic). */
const big = (n: number, shift: number) => ({
  nodes: Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: [Math.sin(i + shift), Math.cos(i * 0.7 + shift), (i % 7) / 7, ((i * shift) % 11) / 11] })),
  edges: [
    ...Array.from({ length: n - 1 }, (_, i) => ({ source: `v${i}`, target: `v${i + 1}` })),
    ...Array.from({ length: n }, (_, i) => ({ source: `v${i}`, target: `v${(i * 37 + shift * 11) % n}` })),
  ],
});

/** Runs to the server's time limit: 500-node graphs, entropic with a tiny ε and the largest maxIter. */
const HEAVY_OPTIONS = { method: 'entropic', maxIter: 10_000, epsilon: 1e-6 };
const HEAVY = { source: big(500, 1), target: big(500, 2), options: HEAVY_OPTIONS };
const SMALL = { source: big(6, 1), target: big(5, 2) };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ms a request took, with its answer. */
async function timed<T>(p: Promise<T>): Promise<{ ms: number; res: T }> {
  const t0 = performance.now();
  const res = await p;
  return { ms: performance.now() - t0, res };
}

describe('api-http: FGW runs in worker threads', () => {
  const LIMIT = 2_000;
  /** What the sync-only algorithm was called with. */
  const seen: (DistortionOptions | undefined)[] = [];
  const toy = definePlugin({
    meta: { name: 'rd-toy', version: '1.0.0', provides: ['rd:toy'] },
    setup(ctx) {
      ctx.provide('rd:toy', {
        name: 'toy',
        distortion(a: AttributedGraph, b: AttributedGraph, options?: DistortionOptions) {
          seen.push(options);
          return { value: Math.abs(a.nodes.length - b.nodes.length), iterations: 1, converged: true, plan: [] };
        },
      });
    },
  });
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ api: { rdTimeLimitMs: LIMIT }, plugins: { 'rd-fgw': { poolSize: 2 } }, extra: [toy] });
    // Start both threads (start-up is not what these tests measure).
    const warm = await Promise.all([s.req('POST', '/rd/distortion', { body: SMALL }), s.req('POST', '/rd/distortion', { body: SMALL })]);
    for (const w of warm) expect(w.status, w.text).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('GET /health and other tenants are answered quickly while a slow /rd/distortion is computed', async () => {
    const t0 = performance.now();
    let settledAt: number | undefined;
    const heavy = s.req('POST', '/rd/distortion', { body: HEAVY }).finally(() => (settledAt = performance.now()));
    // /health, asked again as soon as each answer comes, is answered over and over while the
    // distortion runs: with FGW on the event loop (or in chunks that hold it for long), nothing would
    // be answered before the distortion ends, or only a few. Counted against the distortion's own
    // run, not in absolute ms, so that a loaded machine slows both alike.
    let healthy = 0;
    while (settledAt === undefined && healthy < 5) {
      const health = await s.req('GET', '/health', { key: null });
      expect(health.status).toBe(200);
      if (settledAt === undefined) healthy++;
    }
    expect(healthy, 'GET /health answers before the slow distortion ended').toBe(5);
    // Another tenant: a session, an ad hoc knee, and a distortion of its own on the second thread.
    const session = await timed(s.req('POST', '/sessions', { key: KEYS.B, body: { name: 'meanwhile' } }));
    expect(session.res.status, session.res.text).toBe(201);
    expect(session.ms).toBeLessThan(500);
    const small = await timed(s.req('POST', '/rd/distortion', { key: KEYS.B, body: SMALL }));
    expect(small.res.status, small.res.text).toBe(200);
    expect(small.ms).toBeLessThan(1_000);
    expect(settledAt, 'the slow distortion was still running').toBeUndefined();
    const res = await heavy;
    expect(res.status, res.text).toBe(422);
    expect(res.json.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(res.json.errors[0].path).toBe('body');
    expect(settledAt! - t0).toBeGreaterThan(1_000);
  });

  it('runs two slow distortions (a /rd/distortion and a series step) at once with poolSize 2', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'two' } })).json.id;
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'heavy', reference: big(500, 3), distortionOptions: HEAVY_OPTIONS } });
    expect(series.status, series.text).toBe(201);
    const t0 = performance.now();
    const [a, b] = await Promise.all([
      s.req('POST', '/rd/distortion', { body: HEAVY }),
      s.req('POST', `/rd/series/${series.json.id}/points`, { key: KEYS.A2, body: { rate: 1, graph: big(500, 4) } }),
    ]);
    const ms = performance.now() - t0;
    for (const r of [a, b]) {
      expect(r.status, r.text).toBe(422);
      expect(r.json.code).toBe('LIMIT_RD_NOT_CONVERGED');
    }
    // One after the other would take at least 2 × LIMIT.
    expect(ms).toBeLessThan(2 * LIMIT);
  });

  it("an error inside the thread answers the same problem document as the synchronous call's error", async () => {
    const fgw = createFgwService(RdFgwOptions.parse({}));
    const g = big(4, 1);
    const cases = [
      { source: { nodes: [{ id: 'a', features: [0, 1] }, { id: 'b', features: [1] }], edges: [] }, target: g },
      { source: { nodes: [{ id: 'a', features: [0], weight: 0.9 }, { id: 'b', features: [1], weight: 0.9 }], edges: [] }, target: g },
      { source: g, target: { nodes: [{ id: 'a', features: [0, 0, 0, 0] }], edges: [{ source: 'a', target: 'zz' }] } },
    ];
    for (const body of cases) {
      let expected: LimitError | undefined;
      try {
        fgw.distortion(body.source, body.target);
      } catch (error) {
        expected = error as LimitError;
      }
      expect(expected?.code).toBe('LIMIT_RD_INVALID_INPUT');
      const res = await s.req('POST', '/rd/distortion', { body });
      expect(res.status, res.text).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      // The service's field, as the request path (source.nodes[1] → body.source.nodes.1).
      const field = `body.${String(expected!.details!.field).replace(/\[(\d+)\]/g, '.$1')}`;
      expect(res.json).toMatchObject({ code: expected!.code, detail: expected!.message, fix: expected!.fix, errors: [{ path: field }] });
    }
  });

  it('an algorithm with only the synchronous distortion still serves /rd/distortion and series steps', async () => {
    seen.length = 0;
    const res = await s.req('POST', '/rd/distortion', { body: { ...SMALL, algorithm: 'toy' } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ algorithm: 'toy', value: 1 });
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'toy' } })).json.id;
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'toy', reference: big(3, 1), distortionAlgorithm: 'toy' } });
    const point = await s.req('POST', `/rd/series/${series.json.id}/points`, { body: { rate: 1, graph: big(5, 1) } });
    expect(point.status, point.text).toBe(201);
    expect(point.json.point.distortion).toBe(2);
    // It gets the server's time limit, and no `signal` it would not know.
    expect(seen).toEqual([{ timeLimitMs: LIMIT }, { timeLimitMs: LIMIT }]);
  });
});

describe('api-http: a client that hangs up stops its FGW computation', () => {
  const LIMIT = 60_000;
  let s: Server;
  beforeAll(async () => {
    // A connection whose client hung up lingers open a few seconds (as for any route); the server's
    // close would wait up to shutdownGraceMs for it.
    s = await startServer({ api: { rdTimeLimitMs: LIMIT, shutdownGraceMs: 1_000 }, plugins: { 'rd-fgw': { poolSize: 1 } } });
    expect((await s.req('POST', '/rd/distortion', { body: SMALL })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** Sends `body` to `url` and hangs up after `ms`. */
  async function hangUp(url: string, body: unknown, ms: number): Promise<void> {
    const controller = new AbortController();
    const sent = fetch(s.url + url, {
      method: 'POST', body: JSON.stringify(body), signal: controller.signal,
      headers: { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json' },
    }).catch((e: Error) => e);
    await sleep(ms);
    controller.abort();
    expect(await sent).toBeInstanceOf(Error);
  }

  it('the only thread is freed at once (not at the 60 s time limit) for the next request; an aborted step records nothing', async () => {
    await hangUp('/rd/distortion', HEAVY, 500);
    // The thread was terminated and a new one starts for this request.
    const next = await timed(s.req('POST', '/rd/distortion', { body: SMALL }));
    expect(next.res.status, next.res.text).toBe(200);
    expect(next.ms).toBeLessThan(10_000);

    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'hang-up' } })).json.id;
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'heavy', reference: big(500, 3), distortionOptions: HEAVY_OPTIONS } });
    await hangUp(`/rd/series/${series.json.id}/points`, { rate: 1, graph: big(500, 4) }, 500);
    const after = await timed(s.req('POST', '/rd/distortion', { body: SMALL }));
    expect(after.res.status, after.res.text).toBe(200);
    expect(after.ms).toBeLessThan(10_000);
    expect((await s.storage.getRdSeries('tenant-a', series.json.id))?.points).toEqual([]);
  });
});
