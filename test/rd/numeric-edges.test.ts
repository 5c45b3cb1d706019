/**
 * Inputs at the edges of what validation accepts: weights off from 1 by up to the tolerance, huge
 * structure matrices and costs, and curves with extreme coordinates. Each is either solved correctly
 * or refused with an error that names the user's field, never an internal one, and never returns a
 * wrong answer.
 */
import { describe, expect, it, vi } from 'vitest';
import { computeFgw } from '../../plugins/rd-fgw/api.ts';
import type { AttributedGraph } from '../../plugins/rd-fgw/graph.ts';
import { mengerCurvature, mengerKnee } from '../../plugins/knee-menger/menger.ts';
import { marginalError, problemFromMatrices } from '../../plugins/rd-fgw/problem.ts';
import { EntropicKernel } from '../../plugins/rd-fgw/wasm-entropic.ts';

function rejection(fn: () => unknown): { code?: string; message: string; field?: string } {
  try {
    fn();
  } catch (error) {
    const e = error as { code?: string; message: string; details?: { field?: string } };
    return { code: e.code, message: e.message, field: e.details?.field };
  }
  throw new Error('expected a rejection');
}

const weighted = (w0: number): AttributedGraph => ({
  nodes: [
    { id: 'a', features: [0], weight: w0 },
    { id: 'b', features: [1], weight: 0.5 },
  ],
  edges: [{ source: 'a', target: 'b' }],
});

describe('weights within the validation tolerance (R1)', () => {
  it('the exact solver accepts two graphs whose weights are off from 1 in opposite directions', () => {
    for (const method of ['exact', 'entropic'] as const) {
      const res = computeFgw({ source: weighted(0.5 + 9e-10), target: weighted(0.5 - 9e-10) }, { method });
      expect(Number.isFinite(res.value)).toBe(true);
      expect(res.value).toBeGreaterThanOrEqual(0);
      expect(res.value).toBeLessThan(1e-6);
    }
  });

  it('the exact solver accepts matrices with p and q off from 1 in opposite directions', () => {
    const input = { M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1], [1, 0]], p: [0.5 + 9e-10, 0.5], q: [0.5 - 9e-10, 0.5] };
    const res = computeFgw(input, { method: 'exact' });
    expect(res.value).toBeLessThan(1e-6);
  });

  it("accepted weights are rescaled to sum to 1; weights that sum to 1 up to rounding are kept bit for bit", () => {
    const pb = problemFromMatrices({ M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1], [1, 0]], p: [0.5 + 9e-10, 0.5], q: [0.25, 0.75] });
    expect(Math.abs(pb.p[0]! + pb.p[1]! - 1)).toBeLessThanOrEqual(2 ** -52);
    expect(Array.from(pb.q)).toEqual([0.25, 0.75]);
    // 0.1 + 0.2 + 0.7 = 1.0000000000000002: kept as given.
    const pb3 = problemFromMatrices({ M: [[0], [0], [0]], C1: [[0, 1, 1], [1, 0, 1], [1, 1, 0]], C2: [[0]], p: [0.1, 0.2, 0.7] });
    expect(Array.from(pb3.p)).toEqual([0.1, 0.2, 0.7]);
  });

  it('weights beyond the tolerance are still refused, naming the user field', () => {
    const r = rejection(() => computeFgw({ source: weighted(0.5 + 2e-9), target: weighted(0.5) }));
    expect(r.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(r.message).toMatch(/^source\.nodes: /);
  });
});

const path3 = (w: number): AttributedGraph => ({
  nodes: ['a', 'b', 'c'].map((id, i) => ({ id, features: [i] })),
  edges: [
    { source: 'a', target: 'b', weight: w },
    { source: 'b', target: 'c', weight: w },
  ],
});

describe('structure matrices too large for the FGW cost (R2)', () => {
  it('huge edge weights are refused naming source.edges, not M', () => {
    for (const method of ['exact', 'entropic'] as const) {
      const r = rejection(() => computeFgw({ source: path3(1e200), target: path3(1) }, { method }));
      expect(r.code).toBe('LIMIT_RD_INVALID_INPUT');
      expect(r.field).toBe('source.edges');
      expect(r.message).toMatch(/^source\.edges: .*too large/);
      expect(r.message).not.toMatch(/\bM\[/);
    }
    expect(rejection(() => computeFgw({ source: path3(1), target: path3(1e200) })).field).toBe('target.edges');
  });

  it('shortest paths that overflow a double are refused, also with normalize', () => {
    for (const normalize of [false, true]) {
      const r = rejection(() => computeFgw({ source: path3(1e308), target: path3(1) }, { normalize }));
      expect(r.field).toBe('source.edges');
      expect(r.message).toMatch(/overflow/);
    }
    // normalize brings large but finite distances into [0, 1].
    expect(computeFgw({ source: path3(1e300), target: path3(1) }, { normalize: true }).value).toBeCloseTo(0, 12);
  });

  it('a huge numeric `unreachable` is blamed on that option', () => {
    const two: AttributedGraph = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [] };
    expect(rejection(() => computeFgw({ source: two, target: two }, { unreachable: 1e200 })).field).toBe('unreachable');
  });

  it('matrix input names the largest entry of the structure at fault', () => {
    const r = rejection(() => computeFgw({ M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1e200], [3, 0]] }));
    expect(r.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(r.field).toBe('C2[0][1]');
  });

  it('entries just below the bound are still solved', () => {
    const res = computeFgw({ M: [[0, 1], [1, 0]], C1: [[0, 4e153], [4e153, 0]], C2: [[0, 1], [1, 0]] }, { method: 'entropic' });
    expect(Number.isFinite(res.value)).toBe(true);
  });
});

describe('feature costs near the largest double with the exact solver (rd-audit #1)', () => {
  it('give a coupling and its value, not half the mass marked converged', () => {
    // Every feature cost is about 1e308: the LP's big-M overflowed and the plan carried 0.5 of 1.
    const source: AttributedGraph = { nodes: [{ id: 'a', features: [1e154] }, { id: 'b', features: [-1e154] }], edges: [] };
    const target: AttributedGraph = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const res = computeFgw({ source, target });
    expect(res.plan.reduce((s, x) => s + x, 0)).toBe(1);
    expect(res.linTerm).toBeCloseTo(1e308, -295);
    expect(res.value / 5e307).toBeCloseTo(1, 12);
    // Larger graphs lowered the threshold (60 + 60 nodes, costs up to 4e306: mass 0.6, value 10× too small).
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const g = (k: number): AttributedGraph => ({ nodes: Array.from({ length: k }, (_, i) => ({ id: i, features: [(rnd() * 2 - 1) * 1e153] })), edges: [] });
    const big = computeFgw({ source: g(60), target: g(60) }, { alpha: 0 });
    expect(marginalError(big.plan, new Float64Array(60).fill(1 / 60), new Float64Array(60).fill(1 / 60))).toBeLessThan(1e-12);
    expect(big.value / (big.diagnostics as { valueAtPlan: number }).valueAtPlan).toBeCloseTo(1, 9);
  });
});

const line = (n: number, scale: number, sign: number): AttributedGraph => ({
  nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [sign * i * scale] })),
  edges: [],
});

describe('entropic results that are not couplings are refused (API-12, R3)', () => {
  it('features around 1e150 with the log solver: LIMIT_RD_NOT_CONVERGED, not a plan of mass 4 marked converged', () => {
    const r = rejection(() => computeFgw({ source: line(3, 1e150, 1), target: line(3, 1e150, -1) }, { method: 'entropic', epsilon: 0.001 }));
    expect(r.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(r.field).toBe('epsilon');
    expect(r.message).toMatch(/coupling|non-finite/);
    expect(r.message).toMatch(/larger ε/);
    // Already the default solver: it is not recommended again.
    expect(r.message).not.toMatch(/'log' solver/);
  });

  it('moderate features far above ε are refused the same way instead of returning a wrong plan', () => {
    for (const scale of [1e10, 1e9]) {
      const r = rejection(() => computeFgw({ source: line(3, scale, 1), target: line(3, scale, -1) }, { method: 'entropic', epsilon: 0.1 }));
      expect(r.code).toBe('LIMIT_RD_NOT_CONVERGED');
    }
  });

  it("the 'scaling' replica's underflow is refused too, and its message recommends the 'log' solver", () => {
    const r = rejection(() => computeFgw({ source: line(3, 1e5, 1), target: line(3, 1e5, -1) }, { method: 'entropic', epsilon: 0.1, solver: 'scaling' }));
    expect(r.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(r.message).toMatch(/'log' solver/);
  });

  it('a non-finite value under the log solver does not recommend the log solver', () => {
    const r = rejection(() => computeFgw({ source: line(3, 1e100, 1), target: line(3, 0.7e100, -1) }, { method: 'entropic', epsilon: 1e-300 }));
    expect(r.code).toBe('LIMIT_RD_NOT_CONVERGED');
    expect(r.message).toMatch(/non-finite value/);
    expect(r.message).not.toMatch(/'log' solver/);
    expect(r.message).toMatch(/larger ε/);
  });

  it('a refused solve leaves nothing behind: the next problem of the same size is solved as in a fresh process', () => {
    const solve = () => computeFgw({ source: line(3, 1, 1), target: line(3, 0.7, -1) }, { method: 'entropic', epsilon: 0.1 });
    const clear = vi.spyOn(EntropicKernel.prototype, 'clear');
    try {
      const fresh = solve(); // (an earlier test may have left this size's workspace to clear)
      clear.mockClear();
      solve();
      // A finished solve leaves nothing to zero: the reused workspace is not cleared.
      expect(clear).not.toHaveBeenCalled();
      // Fills the cached 3×3 workspace (its WebAssembly memory, padding included) with NaN.
      expect(rejection(() => computeFgw({ source: line(3, 1e100, 1), target: line(3, 0.7e100, -1) }, { method: 'entropic', epsilon: 1e-300 })).code).toBe('LIMIT_RD_NOT_CONVERGED');
      const after = solve();
      expect(clear).toHaveBeenCalledTimes(1);
      expect(after.value).toBe(fresh.value);
      expect(Array.from(after.plan)).toEqual(Array.from(fresh.plan));
    } finally {
      clear.mockRestore();
    }
  });

  it('whatever it returns is a coupling of the weights with a value ≥ 0', () => {
    const refused: string[] = [];
    for (const scale of [1, 1e3, 1e4]) {
      for (const n of [3, 12]) {
        let res;
        try {
          res = computeFgw({ source: line(n, scale, 1), target: line(n, 0.7 * scale, -1) }, { method: 'entropic', epsilon: 0.1 });
        } catch (error) {
          expect((error as { code?: string }).code).toBe('LIMIT_RD_NOT_CONVERGED');
          refused.push(`${scale}/${n}`);
          continue;
        }
        const w = new Float64Array(n).fill(1 / n);
        expect(marginalError(res.plan, w, w)).toBeLessThanOrEqual(1e-9);
        expect(res.value).toBeGreaterThanOrEqual(0);
        expect(res.gwTerm).toBeGreaterThanOrEqual(-1e-12);
      }
    }
    // Four of the six are returned (so the checks above ran), and only the two larger, wider lines are refused.
    expect(refused).toEqual(['1000/12', '10000/12']);
  });
});

describe('raw Menger curvature at extreme coordinates (R4)', () => {
  const X = Array.from({ length: 11 }, (_, i) => i);
  const Y = X.map((x) => Math.exp(-x / 2));

  it('the knee does not move when both axes are scaled by 1e±110 or 1e±300', () => {
    const base = mengerKnee({ x: X, y: Y });
    expect(base.index).toBe(1);
    for (const s of [1e110, 1e-110, 1e200, 1e-200, 1e300, 1e-300]) {
      const res = mengerKnee({ x: X.map((x) => x * s), y: Y.map((y) => y * s) });
      expect(res.index, `scale ${s}`).toBe(1);
      for (let i = 1; i < 10; i++) {
        const k = res.kappa[i]!;
        expect(Number.isFinite(k) && k > 0, `κ[${i}] = ${k} at scale ${s}`).toBe(true);
        // κ scales as 1/s.
        expect(Math.abs(k * s - base.kappa[i]!) / base.kappa[i]!).toBeLessThan(1e-12);
      }
    }
  });

  it('a side shorter than 1e-154 of the longest is measured, not squared to 0 (a V of width 2 and height ±1e200 had no knee)', () => {
    for (const h of [1e100, 1e160, 1e200, 1e250, 1e300]) {
      // a = (0, h), b = (1, −h), c = (2, h): κ = 1/h exactly (|ca| = 2, area 2h, |ab| = |bc| ≈ 2h).
      const k = mengerCurvature(0, h, 1, -h, 2, h);
      expect(Math.abs(k * h - 1), `h = ${h}: κ = ${k}`).toBeLessThan(1e-14);
      const res = mengerKnee({ x: [0, 1, 2], y: [h, -h, h] });
      expect(res.index, `h = ${h}`).toBe(1);
      // The same triangle with the short side elsewhere: x scaled down instead of y up.
      const small = mengerCurvature(0, 1, 1 / h, -1, 2 / h, 1);
      expect(Math.abs(small - 1), `1/h = ${1 / h}: κ = ${small}`).toBeLessThan(1e-14);
    }
  });

  it('matches the plain formula at ordinary coordinates', () => {
    const plain = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number => {
      const ab = Math.hypot(bx - ax, by - ay);
      const bc = Math.hypot(cx - bx, cy - by);
      const ca = Math.hypot(cx - ax, cy - ay);
      return (2 * Math.abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))) / (ab * bc * ca);
    };
    expect(mengerCurvature(0, 0, 1, 1, 2, 0)).toBeCloseTo(1, 15);
    const k = mengerCurvature(0.3, 2, 1.7, 0.4, 2.9, 0.1);
    expect(Math.abs(k - plain(0.3, 2, 1.7, 0.4, 2.9, 0.1)) / k).toBeLessThan(1e-15);
  });

  it('a circle of radius 1.7e308 has κ = 1/R; coordinates near the double limit do not overflow', () => {
    const R = 1.7e308;
    expect(mengerCurvature(-R, 0, 0, R, R, 0)).toBeCloseTo(1 / R, 320);
    expect(mengerCurvature(-R, 0, 0, R, R, 0)).toBeGreaterThan(0);
  });

  it('points so close that κ overflows are refused naming the point, not returned as κ = ∞', () => {
    const r = rejection(() => mengerKnee([{ x: 0, y: 0 }, { x: 5e-324, y: 5e-324 }, { x: 1e-323, y: 0 }]));
    expect(r.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(r.field).toBe('points[1]');
  });
});
