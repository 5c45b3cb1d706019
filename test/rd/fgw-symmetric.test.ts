/**
 * FGW is not convex, and when the feature term is the same for every coupling (α = 1, or equal or
 * empty features: pure Gromov–Wasserstein) the reference's start p·qᵀ carries nothing that tells
 * the nodes apart. On symmetric structures the iteration from there stopped at a poor stationary
 * point — a path with itself at 1.11 (exact, α = 0.5), a cycle at 0.92 (entropic: the product is a
 * fixed point there) — and said converged. The service (computeFgw/solveFgw) then also runs from
 * the north-west-corner coupling and keeps the better result; the reference solvers (fgwExact,
 * fgwEntropic) keep their start, so the reference values hold. The same when features repeat (node
 * types): p·qᵀ treats nodes of a type alike, and an 8-cycle of alternating types with itself stopped
 * at 0.5 (exact) and 1.5 (entropic).
 */
import { describe, expect, it, vi } from 'vitest';
import { isLimitError } from 'limit-graph';
import { computeFgw, solveFgw } from '../../plugins/rd-fgw/api.ts';
import { fgwEntropic } from '../../plugins/rd-fgw/entropic.ts';
import { fgwExact } from '../../plugins/rd-fgw/exact.ts';
import { problemFromGraphs } from '../../plugins/rd-fgw/graph.ts';
import { createFgwService } from '../../plugins/rd-fgw/index.ts';
import { RdFgwOptions } from '../../plugins/rd-fgw/options.ts';
import { featureTermHasTies, featureTermIsConstant, northWestCorner, problemFromMatrices } from '../../plugins/rd-fgw/problem.ts';

type Edge = [number, number];
const graph = (n: number, edges: Edge[], features: (i: number) => number[]) => ({
  nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: features(i) })),
  edges: edges.map(([a, b]) => ({ source: `n${a}`, target: `n${b}` })),
});
const pathEdges = (n: number): Edge[] => Array.from({ length: n - 1 }, (_, i) => [i, i + 1]);
const SHAPES: Record<string, Edge[]> = {
  path: pathEdges(6),
  cycle: [...pathEdges(6), [5, 0]],
  star: Array.from({ length: 5 }, (_, i): Edge => [0, i + 1]),
  'no edges': [],
};
const SAME = { 'features [0]': () => [0], 'features []': () => [] } as const;

describe('FGW of a graph with itself when the features tell no node apart', () => {
  for (const [shape, edges] of Object.entries(SHAPES)) {
    for (const [name, features] of Object.entries(SAME)) {
      it(`${shape}, ${name}: exact d(G, G) = 0 at α = 0.5 and 1`, () => {
        const g = graph(6, edges, features);
        for (const alpha of [0.5, 1]) {
          const res = computeFgw({ source: g, target: g }, { alpha });
          expect(Math.abs(res.value), `α = ${alpha}`).toBeLessThan(1e-12);
          expect(res.converged).toBe(true);
        }
      });
    }
  }

  it('entropic d(G, G) is the blur of ε, not a stationary product plan (cycle 0.92, star 0.45 before)', () => {
    for (const shape of ['path', 'cycle', 'star']) {
      const g = graph(6, SHAPES[shape]!, () => [0]);
      const res = computeFgw({ source: g, target: g }, { method: 'entropic' });
      expect(res.value, shape).toBeLessThan(0.001);
      expect(res.converged).toBe(true);
    }
  });

  it('the service reports both runs; the reference solver alone still stops where the reference does', () => {
    const g = graph(6, SHAPES.path!, () => [0]);
    const res = computeFgw({ source: g, target: g }, { alpha: 0.5 });
    expect(res.diagnostics.starts).toEqual([
      { start: 'product', kept: false, value: expect.closeTo(10 / 9, 12), iterations: 2, converged: true },
      { start: 'north-west-corner', kept: true, value: 0, iterations: 1, converged: true },
    ]);
    const reference = fgwExact(problemFromGraphs(g, g), { alpha: 0.5 });
    expect(reference.value).toBeCloseTo(10 / 9, 12);
    expect(reference.diagnostics.starts).toBeUndefined();
  });

  it('the distortion service (what /rd/distortion and RD series steps call) gives 0 for a step equal to its reference', () => {
    const fgw = createFgwService(RdFgwOptions.parse({ threads: false }));
    const g = graph(6, SHAPES.path!, () => [0]);
    for (const method of ['exact', 'entropic'] as const) {
      const d = fgw.distortion(g, g, { method });
      expect(d.value, method).toBeLessThan(method === 'exact' ? 1e-12 : 0.001);
    }
  });

  it('features that tell nodes apart: one run from p·qᵀ, exactly as the reference solver', () => {
    const g = graph(6, SHAPES.cycle!, (i) => [i, i % 2]);
    const h = graph(6, SHAPES.path!, (i) => [i / 2, 1]);
    for (const method of ['exact', 'entropic'] as const) {
      const res = computeFgw({ source: g, target: h }, { method, alpha: 0.5 });
      expect(res.diagnostics.starts).toBeUndefined();
      const pb = problemFromGraphs(g, h);
      const plain = method === 'exact' ? fgwExact(pb, { alpha: 0.5 }) : fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1 });
      expect(res.value).toBe(plain.value);
    }
  });

  it('runs that end at the same point keep the reference start (ties are not a second answer)', () => {
    // Six isolated nodes at α = 0.5, ε = 0.1: the entropic optimum is the blurred plan both starts reach.
    const g = graph(6, [], () => [0]);
    const res = computeFgw({ source: g, target: g }, { method: 'entropic' });
    expect(res.diagnostics.starts?.map((s) => s.kept)).toEqual([true, false]);
    expect(res.diagnostics.starts?.[1]?.value).toBeCloseTo(res.value, 9);
  });

  it('timeLimitMs bounds both runs together, not each', () => {
    // A clock that advances 1 ms each time a solver looks at it. The run from p·qᵀ (14 outer
    // iterations here) looks more often than the run from the north-west corner (3): a limit just
    // above the first run's own use passes the first, and stops the second only if they share it.
    const g = graph(6, SHAPES.path!, () => [0]);
    const pb = problemFromGraphs(g, g);
    let clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => ++clock);
    try {
      const deadline = { at: Infinity, start: 0, limitMs: Infinity };
      fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, deadline });
      const firstRun = clock;
      clock = 0;
      fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, deadline, G0: northWestCorner(pb.p, pb.q) });
      expect(clock).toBeLessThan(firstRun);
      clock = 0;
      const error = (() => {
        try {
          solveFgw(pb, { method: 'entropic', timeLimitMs: firstRun + 2 });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isLimitError(error) && error.code === 'LIMIT_RD_NOT_CONVERGED' && error.details?.field === 'timeLimitMs', String(error)).toBe(true);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe('FGW of a graph with itself when features repeat (node types)', () => {
  const cycle8 = graph(8, [...pathEdges(8), [7, 0]], (i) => (i % 2 ? [1, 0] : [0, 1]));

  it('8-cycle of alternating types: exact d(G, G) = 0 (was 0.5), entropic the blur of ε (was 1.5)', () => {
    const exact = computeFgw({ source: cycle8, target: cycle8 }, { alpha: 0.5 });
    expect(Math.abs(exact.value)).toBeLessThan(1e-12);
    expect(exact.diagnostics.starts?.map((s) => [s.start, s.kept])).toEqual([['product', false], ['north-west-corner', true]]);
    const entropic = computeFgw({ source: cycle8, target: cycle8 }, { method: 'entropic' });
    expect(entropic.value).toBeLessThan(0.001);
    const fgw = createFgwService(RdFgwOptions.parse({ threads: false }));
    expect(fgw.distortion(cycle8, cycle8).value).toBeLessThan(1e-12);
  });

  it('random graphs with one-hot features: exact d(G, G) = 0 for every one', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let t = 0; t < 120; t++) {
      const n = 3 + Math.floor(rnd() * 8);
      const edges: Edge[] = Array.from({ length: n + 2 }, () => [Math.floor(rnd() * n), Math.floor(rnd() * n)]);
      const g = graph(n, edges, () => (rnd() < 0.5 ? [1, 0] : [0, 1]));
      expect(Math.abs(computeFgw({ source: g, target: g }).value), `graph ${t}: ${JSON.stringify(g)}`).toBeLessThan(1e-12);
    }
  });

  it('α = 0 (a plain OT, convex) is one run even with repeated features', () => {
    const res = computeFgw({ source: cycle8, target: cycle8 }, { alpha: 0 });
    expect(res.value).toBe(0);
    expect(res.diagnostics.starts).toBeUndefined();
  });
});

describe('the pieces', () => {
  it('featureTermIsConstant: α = 1, equal features on either side, or none; not when features differ', () => {
    const path = (f: (i: number) => number[]) => graph(4, pathEdges(4), f);
    expect(featureTermIsConstant(problemFromGraphs(path((i) => [i]), path((i) => [2 * i])), 1)).toBe(true);
    expect(featureTermIsConstant(problemFromGraphs(path(() => [3]), path((i) => [i, 0].slice(0, 1))), 0.5)).toBe(true);
    expect(featureTermIsConstant(problemFromGraphs(path((i) => [i * 0.7]), path(() => [1])), 0)).toBe(true);
    expect(featureTermIsConstant(problemFromGraphs(path(() => []), path(() => [])), 0.5)).toBe(true);
    expect(featureTermIsConstant(problemFromGraphs(path((i) => [i]), path((i) => [i])), 0.5)).toBe(false);
  });

  it('featureTermHasTies: two nodes with mass and equal feature costs on either side; not for distinct features or a massless twin', () => {
    const path = (f: (i: number) => number[]) => graph(4, pathEdges(4), f);
    expect(featureTermHasTies(problemFromGraphs(path((i) => [i % 2]), path((i) => [i])))).toBe(true);
    expect(featureTermHasTies(problemFromGraphs(path((i) => [i]), path((i) => [i === 3 ? 0 : i])))).toBe(true);
    expect(featureTermHasTies(problemFromGraphs(path((i) => [i]), path((i) => [2 * i])))).toBe(false);
    // One-hot types, each once: rows that are permutations of each other are not ties.
    const oneHot = (i: number) => [0, 1, 2, 3].map((k) => (k === i ? 1 : 0));
    expect(featureTermHasTies(problemFromGraphs(path(oneHot), path(oneHot)))).toBe(false);
    // Rows 0 and 1 are equal, but row 1 carries no mass; columns differ.
    const M = [[0, 1, 4], [0, 1, 4], [1, 0, 1]];
    const C = [[0, 1, 2], [1, 0, 1], [2, 1, 0]];
    expect(featureTermHasTies(problemFromMatrices({ M, C1: C, C2: C, p: [0.5, 0, 0.5], q: [0.25, 0.5, 0.25] }))).toBe(false);
    expect(featureTermHasTies(problemFromMatrices({ M, C1: C, C2: C }))).toBe(true);
    // Columns 0 and 2 equal on the rows with mass (row 1 differs there but has no mass).
    const N = [[1, 0, 1], [2, 0, 3], [4, 1, 4]];
    expect(featureTermHasTies(problemFromMatrices({ M: N, C1: C, C2: C, p: [0.5, 0, 0.5] }))).toBe(true);
  });

  it('northWestCorner: a coupling of p and q in node order, diag(p) when p = q', () => {
    expect(Array.from(northWestCorner([0.5, 0.5], [0.5, 0.5]))).toEqual([0.5, 0, 0, 0.5]);
    expect(Array.from(northWestCorner([0.5, 0.5], [0.25, 0.25, 0.5]))).toEqual([0.25, 0.25, 0, 0, 0, 0.5]);
    expect(Array.from(northWestCorner([0, 1], [1]))).toEqual([0, 1]);
  });

  it('fgwEntropic starts from a given coupling (G0), the same in WebAssembly and JavaScript, and refuses one that is not a coupling', () => {
    const g = graph(6, SHAPES.cycle!, () => [0]);
    const pb = problemFromGraphs(g, g);
    const G0 = northWestCorner(pb.p, pb.q);
    const wasm = fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, G0 });
    const js = fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, G0, wasm: false });
    const product = fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1 });
    expect(product.value).toBeCloseTo(11 / 12, 12);
    expect(product.iterations).toBe(1);
    expect(wasm.value).toBeLessThan(0.001);
    expect(Math.abs(wasm.value - js.value)).toBeLessThan(1e-12);
    expect(() => fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, G0: [[0, 0, 1]] })).toThrow(/^G0: marginals differ/);
  });
});
