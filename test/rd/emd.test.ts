import { describe, expect, it } from 'vitest';
import { TransportSimplex, emd, emd2 } from '../../plugins/rd-fgw/emd.ts';
import { mulberry32 as rng } from 'limit-graph';


function normalise(w: number[]): number[] {
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
}

/**
 * Optimality certificate of an LP solution: primal feasibility, dual feasibility
 * (M − u − v ≥ 0), complementary slackness (M − u − v = 0 where T > 0) and no duality gap.
 */
function certify(a: number[], b: number[], M: ArrayLike<number>, res: ReturnType<typeof emd>, tol = 1e-12): void {
  const n1 = a.length;
  const n2 = b.length;
  const scale = Math.max(1, ...Array.from(M, Math.abs));
  let minEntry = Infinity;
  let marginal = 0;
  for (let i = 0; i < n1; i++) {
    let s = 0;
    for (let j = 0; j < n2; j++) {
      const t = res.plan[i * n2 + j]!;
      minEntry = Math.min(minEntry, t);
      s += t;
    }
    marginal = Math.max(marginal, Math.abs(s - a[i]!));
  }
  for (let j = 0; j < n2; j++) {
    let s = 0;
    for (let i = 0; i < n1; i++) s += res.plan[i * n2 + j]!;
    marginal = Math.max(marginal, Math.abs(s - b[j]!));
  }
  let dual = 0;
  for (let i = 0; i < n1; i++) dual += a[i]! * res.u[i]!;
  for (let j = 0; j < n2; j++) dual += b[j]! * res.v[j]!;
  let minReduced = Infinity;
  let slackness = 0;
  let cost = 0;
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      const k = i * n2 + j;
      const rc = M[k]! - res.u[i]! - res.v[j]!;
      minReduced = Math.min(minReduced, rc);
      if (res.plan[k]! > 0) slackness = Math.max(slackness, Math.abs(rc));
      cost += res.plan[k]! * M[k]!;
    }
  }
  expect(minEntry).toBeGreaterThanOrEqual(0);
  expect(marginal).toBeLessThan(tol);
  expect(minReduced).toBeGreaterThan(-tol * scale);
  expect(slackness).toBeLessThan(tol * scale);
  expect(Math.abs(dual - res.cost)).toBeLessThan(tol * scale);
  expect(Math.abs(cost - res.cost)).toBeLessThan(tol * scale);
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) {
    for (let k = 0; k <= p.length; k++) out.push([...p.slice(0, k), n - 1, ...p.slice(k)]);
  }
  return out;
}

describe('network simplex (EMD)', () => {
  it('matches brute force over permutations on assignment problems (uniform weights)', () => {
    const r = rng(11);
    for (let trial = 0; trial < 150; trial++) {
      const n = 1 + Math.floor(r() * 6);
      const ties = trial % 3 === 0;
      const M = Float64Array.from({ length: n * n }, () => (ties ? Math.floor(r() * 3) : r()));
      const w = new Array<number>(n).fill(1 / n);
      // Birkhoff–von Neumann: the optimum of the assignment LP is attained at a permutation.
      let best = Infinity;
      for (const perm of permutations(n)) {
        let c = 0;
        for (let i = 0; i < n; i++) c += M[i * n + perm[i]!]! / n;
        best = Math.min(best, c);
      }
      const res = emd(w, w, M);
      expect(res.status).toBe('optimal');
      expect(Math.abs(res.cost - best)).toBeLessThanOrEqual(1e-14 * Math.max(1, best));
      certify(w, w, M, res);
    }
  });

  it('certifies random problems with n1 ≠ n2, zero masses and tied costs', () => {
    const r = rng(7);
    for (let trial = 0; trial < 400; trial++) {
      const n1 = 1 + Math.floor(r() * 9);
      const n2 = 1 + Math.floor(r() * 9);
      const a = Array.from({ length: n1 }, () => (r() < 0.2 ? 0 : r()));
      const b = Array.from({ length: n2 }, () => (r() < 0.2 ? 0 : r()));
      if (!a.some((x) => x > 0)) a[0] = 1;
      if (!b.some((x) => x > 0)) b[n2 - 1] = 1;
      const pa = normalise(a);
      const pb = normalise(b);
      const kind = trial % 4;
      const M = Float64Array.from({ length: n1 * n2 }, () => (kind === 0 ? Math.floor(r() * 3) : kind === 1 ? 0.5 : kind === 2 ? Math.round(r() * 100) / 100 : r() * 10));
      const res = emd(pa, pb, M);
      expect(res.status).toBe('optimal');
      certify(pa, pb, M, res);
      // Zero-mass rows and columns carry nothing.
      for (let i = 0; i < n1; i++) if (pa[i] === 0) for (let j = 0; j < n2; j++) expect(res.plan[i * n2 + j]).toBe(0);
      for (let j = 0; j < n2; j++) if (pb[j] === 0) for (let i = 0; i < n1; i++) expect(res.plan[i * n2 + j]).toBe(0);
    }
  });

  it('solves larger problems to optimality, cold and warm', () => {
    const r = rng(5);
    for (const [n1, n2] of [
      [60, 45],
      [120, 120],
    ] as const) {
      const a = normalise(Array.from({ length: n1 }, () => r() + 0.01));
      const b = normalise(Array.from({ length: n2 }, () => r() + 0.01));
      const M = Float64Array.from({ length: n1 * n2 }, () => r());
      const solver = new TransportSimplex(a, b);
      const cold = solver.solve(M);
      certify(a, b, M, cold, 1e-12);
      // A perturbed cost from the previous basis reaches the same optimum as a cold solve.
      const M2 = Float64Array.from(M, (x) => x * (1 + 0.05 * r()));
      const warm = solver.solve(M2, { warmStart: true });
      const ref = emd(a, b, M2);
      certify(a, b, M2, warm, 1e-12);
      expect(Math.abs(warm.cost - ref.cost)).toBeLessThan(1e-13);
      expect(warm.pivots).toBeLessThan(ref.pivots);
    }
  });

  it('handles a single row or column and equal costs', () => {
    const res = emd([1], [0.25, 0.75], [3, 5]);
    expect(Array.from(res.plan)).toEqual([0.25, 0.75]);
    expect(res.cost).toBeCloseTo(4.5, 14);
    const flat = emd([0.5, 0.5], [0.5, 0.5], [1, 1, 1, 1]);
    expect(flat.cost).toBe(1);
    certify([0.5, 0.5], [0.5, 0.5], [1, 1, 1, 1], flat);
    expect(emd2([0.5, 0.5], [0.5, 0.5], [0, 1, 1, 0])).toBe(0);
  });

  it('accepts negative costs (the LP is shift invariant)', () => {
    const r = rng(3);
    const a = normalise([1, 2, 3, 4]);
    const b = normalise([4, 1, 1]);
    const M = Float64Array.from({ length: 12 }, () => r() - 0.5);
    const res = emd(a, b, M);
    certify(a, b, M, res);
    const shifted = emd(a, b, Float64Array.from(M, (x) => x + 7));
    expect(Math.abs(shifted.cost - (res.cost + 7))).toBeLessThan(1e-12);
  });

  it('costs near the largest double are solved, not stopped with mass on the artificial arcs (rd-audit #1)', () => {
    // The big-M (max cost + 1)·(rows + columns) overflowed to ∞ from 4.5e307 on 2×2: the simplex
    // then reported `optimal` with plan [0, 0, 0, 0.5] and cost 2.3e307.
    for (const c of [4.4e307, 4.6e307, 1.7e308]) {
      const M = [c, c, c, c];
      const res = emd([0.5, 0.5], [0.5, 0.5], M);
      expect(res.status).toBe('optimal');
      expect(res.plan.reduce((s, x) => s + x, 0)).toBe(1);
      expect(res.cost).toBe(c);
      certify([0.5, 0.5], [0.5, 0.5], M, res);
      expect(emd2([0.5, 0.5], [0.5, 0.5], M)).toBe(c);
    }
    // Random problems scaled by 2^1015 have the same optimum (scaled) and a certificate.
    const r = rng(19);
    for (let trial = 0; trial < 40; trial++) {
      const n1 = 1 + Math.floor(r() * 30);
      const n2 = 1 + Math.floor(r() * 30);
      const a = normalise(Array.from({ length: n1 }, () => r() + 0.01));
      const b = normalise(Array.from({ length: n2 }, () => r() + 0.01));
      const M = Float64Array.from({ length: n1 * n2 }, () => r() - 0.3);
      const big = Float64Array.from(M, (x) => x * 2 ** 1015);
      const res = emd(a, b, big);
      expect(res.status).toBe('optimal');
      certify(a, b, big, res);
      expect(Math.abs(res.cost / 2 ** 1015 - emd2(a, b, M))).toBeLessThan(1e-12);
    }
  });

  it('rejects invalid marginals and costs with coded errors', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => emd([0.5, 0.5], [0.5, 0.6], [0, 0, 0, 0]), /^b: total mass/],
      [() => emd([-0.5, 1.5], [0.5, 0.5], [0, 0, 0, 0]), /^a\[0\]/],
      [() => emd([0, 0], [0.5, 0.5], [0, 0, 0, 0]), /^a: has no positive mass/],
      [() => emd([0.5, 0.5], [0.5, Number.NaN], [0, 0, 0, 0]), /^b\[1\]/],
      [() => emd([0.5, 0.5], [0.5, 0.5], [0, 0, Number.POSITIVE_INFINITY, 0]), /^M\[1\]\[0\]/],
      [() => emd([0.5, 0.5], [0.5, 0.5], [0, 0, 0]), /^M: expected 2×2/],
    ];
    for (const [fn, message] of cases) expect(fn).toThrow(expect.objectContaining({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringMatching(message) }));
  });
});
