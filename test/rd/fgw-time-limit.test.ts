/**
 * timeLimitMs: the FGW solvers stop at their deadline with LIMIT_RD_NOT_CONVERGED (field
 * 'timeLimitMs') instead of running on; without a limit, or with one not reached, results are
 * bitwise the same as before.
 */
import { type AttributedGraph, isLimitError, mulberry32 as rng } from 'limit-graph';
import { describe, expect, it } from 'vitest';
import { computeFgw } from '../../plugins/rd-fgw/api.ts';
import { RdFgwOptions, createFgwService } from '../../plugins/rd-fgw/index.ts';

/** A random connected graph of n nodes with 4 features each (seeded). */
function randomGraph(n: number, seed: number): AttributedGraph {
  const r = rng(seed);
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: [r(), r(), r(), r()] }));
  const edges = Array.from({ length: n - 1 }, (_, i) => ({ source: `v${i + 1}`, target: `v${Math.floor(r() * (i + 1))}` }));
  for (let k = 0; k < n; k++) edges.push({ source: `v${Math.floor(r() * n)}`, target: `v${Math.floor(r() * n)}` });
  return { nodes, edges };
}

const LIMIT = 50;
/** Allowed overrun: one outer step of a 150-node problem plus a loaded CI machine. */
const SLACK = 400;

function timed(f: () => unknown): { error: unknown; ms: number } {
  const t0 = performance.now();
  try {
    f();
    return { error: undefined, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

function expectTimeLimit(error: unknown): void {
  expect(isLimitError(error), String(error)).toBe(true);
  const e = error as { code: string; message: string; details?: Record<string, unknown>; fix: string };
  expect(e.code).toBe('LIMIT_RD_NOT_CONVERGED');
  expect(e.details?.field).toBe('timeLimitMs');
  expect(e.details?.timeLimitMs).toBe(LIMIT);
  expect(e.message).toMatch(/time limit of 50 ms/);
  expect(e.fix).toMatch(/maxIter/);
}

describe('FGW time limit', () => {
  const source = randomGraph(150, 1);
  const target = randomGraph(150, 2);

  it('entropic (log solver) with a tiny ε and a huge maxIter stops at the limit', () => {
    const { error, ms } = timed(() => computeFgw({ source, target }, { method: 'entropic', epsilon: 1e-6, maxIter: 100_000, tol: 0, timeLimitMs: LIMIT }));
    expectTimeLimit(error);
    expect(ms).toBeLessThan(LIMIT + SLACK);
  });

  it('entropic scaling solver (reference replica) stops at the limit', () => {
    const { error, ms } = timed(() => computeFgw({ source, target }, { method: 'entropic', solver: 'scaling', epsilon: 0.1, maxIter: 100_000, innerMaxIter: 1_000_000, innerTol: 0, tol: 0, timeLimitMs: LIMIT }));
    expectTimeLimit(error);
    expect(ms).toBeLessThan(LIMIT + SLACK);
  });

  it('exact stops at the limit', () => {
    const { error, ms } = timed(() => computeFgw({ source, target }, { method: 'exact', maxIter: 100_000, tol: 0, timeLimitMs: LIMIT }));
    expectTimeLimit(error);
    expect(ms).toBeLessThan(LIMIT + SLACK);
  });

  it('building the matrices counts: large graphs stop in their shortest paths or feature costs, before any solve', () => {
    const big = randomGraph(2000, 5);
    const { error } = timed(() => computeFgw({ source: big, target: big }, { method: 'exact', timeLimitMs: 5 }));
    expect(isLimitError(error), String(error)).toBe(true);
    const e = error as { code: string; details?: Record<string, unknown> };
    expect(e.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(e.details?.field).toBe('timeLimitMs');
    expect(String(e.details?.where)).toMatch(/^(?:shortest paths from node \d+ of 2000|feature costs of source node \d+ of 2000|building the matrices)$/);
  });

  it('the service takes timeLimitMs per call and as a default; results within the limit are unchanged', () => {
    const a = randomGraph(12, 3);
    const b = randomGraph(10, 4);
    for (const method of ['exact', 'entropic'] as const) {
      const plain = computeFgw({ source: a, target: b }, { method });
      const limited = computeFgw({ source: a, target: b }, { method, timeLimitMs: 60_000 });
      expect(limited.value).toBe(plain.value);
      expect(limited.iterations).toBe(plain.iterations);
      expect(Array.from(limited.plan)).toEqual(Array.from(plain.plan));
    }
    const svc = createFgwService(RdFgwOptions.parse({ method: 'entropic', epsilon: 1e-6, timeLimitMs: LIMIT }));
    expectTimeLimit(timed(() => svc.distortion(source, target, { maxIter: 100_000, tol: 0 })).error);
    expect(() => svc.distortion(a, b, { timeLimitMs: 0 })).toThrow(/timeLimitMs/);
    expect(() => computeFgw({ source: a, target: b }, { timeLimitMs: -1 })).toThrow(/timeLimitMs: must be a number > 0/);
  });
});
