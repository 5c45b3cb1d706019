/**
 * The WebAssembly SIMD kernels of the entropic solver against plain JavaScript: the vectorised
 * exponential against Math.exp over the whole double range, the Sinkhorn solver with its
 * rebuild/sweep/plan passes in WebAssembly against the same solver in JavaScript, and the whole
 * entropic FGW solve in the kernel's memory (padded rows, in-place products) against JavaScript.
 */
import { describe, expect, it } from 'vitest';
import { fgwEntropic } from '../../plugins/rd-fgw/entropic.ts';
import { symmetryOf } from '../../plugins/rd-fgw/linalg.ts';
import { fgwObjective, sandwich } from '../../plugins/rd-fgw/problem.ts';
import { LogSinkhorn } from '../../plugins/rd-fgw/sinkhorn.ts';
import { EntropicKernel, wasmExp } from '../../plugins/rd-fgw/wasm-entropic.ts';
import { marginals, planarProblem } from '../helpers/fgw-problems.ts';
import { mulberry32 as rng } from 'limit-graph';

const available = EntropicKernel.create(1, 1) !== null;

describe.runIf(available)('vectorised exp (wasm-entropic)', () => {
  it('agrees with Math.exp to 5e-16 relative over [−708, 709] and to the last subnormal bit below', () => {
    const r = rng(11);
    const xs = new Float64Array(200_001);
    for (let k = 0; k < xs.length; k++) {
      // Half uniform over the whole range, half in the range the solver mostly sees.
      xs[k] = k % 2 ? -750 + 1460 * r() : -60 + 65 * r();
    }
    const ys = wasmExp(xs)!;
    let worst = 0;
    for (let k = 0; k < xs.length; k++) {
      const e = Math.exp(xs[k]!);
      if (e === 0 || e === Infinity) {
        expect(ys[k], `x = ${xs[k]}`).toBe(e);
      } else if (e < 2.2250738585072014e-308) {
        // Subnormal results: both round one exact value; allow one unit of the last place.
        expect(Math.abs(ys[k]! - e), `x = ${xs[k]}`).toBeLessThanOrEqual(5e-324);
      } else {
        worst = Math.max(worst, Math.abs(ys[k]! - e) / e);
      }
    }
    expect(worst).toBeLessThan(5e-16);
  });

  it('handles the special values and the ends of the range', () => {
    const xs = Float64Array.of(0, -0, 1, -1, 1e-300, -1e-300, 709.78, 709.79, 710, 1e10, -708.4, -745.13, -745.14, -746, -1e10, Infinity, -Infinity, NaN);
    const ys = wasmExp(xs)!;
    xs.forEach((x, k) => {
      const e = Math.exp(x);
      if (Number.isNaN(e)) expect(ys[k]).toBeNaN();
      else if (e === 0 || e === Infinity || e === 1) expect(ys[k], `x = ${x}`).toBe(e);
      else expect(Math.abs(ys[k]! - e) / e, `x = ${x}`).toBeLessThan(5e-16);
    });
  });

  it('odd lengths', () => {
    const ys = wasmExp(Float64Array.of(-2, 0.5, 3))!;
    expect(ys.length).toBe(3);
    expect(Math.abs(ys[2]! - Math.exp(3)) / Math.exp(3)).toBeLessThan(5e-16);
  });
});

describe.runIf(available)('LogSinkhorn: WebAssembly passes against JavaScript', () => {
  for (const [n1, n2, eps] of [
    [7, 5, 0.1],
    [8, 9, 0.05],
    [33, 32, 0.1],
    [40, 31, 0.02],
    [1, 6, 0.1],
    [6, 1, 0.1],
    [64, 65, 0.005],
  ] as const) {
    it(`${n1}×${n2}, ε = ${eps}: same plans, marginals to 1e-12, through warm starts`, () => {
      const r = rng(n1 * 100 + n2);
      const [a, b] = marginals(n1, n2, r);
      const wasm = new LogSinkhorn(n1, n2, a, b);
      const js = new LogSinkhorn(n1, n2, a, b, { wasm: false });
      const Pw = new Float64Array(n1 * n2);
      const Pj = new Float64Array(n1 * n2);
      const C = new Float64Array(n1 * n2);
      for (let outer = 0; outer < 3; outer++) {
        // A sequence of related costs, as the outer loop produces.
        for (let k = 0; k < C.length; k++) C[k] = outer === 0 ? r() : C[k]! + 0.05 * (r() - 0.5);
        const opts = { maxSweeps: 20000, tol: 1e-12, warmStart: true };
        const sw = wasm.solve(C, eps, opts, Pw);
        const sj = js.solve(C, eps, opts, Pj);
        expect(sw.converged && sj.converged).toBe(true);
        let diff = 0;
        let mx = 0;
        for (let k = 0; k < Pw.length; k++) {
          diff = Math.max(diff, Math.abs(Pw[k]! - Pj[k]!));
          mx = Math.max(mx, Pj[k]!);
        }
        // Both solve the same strictly convex problem to marginals within 1e-12.
        expect(diff / mx).toBeLessThan(1e-9);
        for (let i = 0; i < n1; i++) {
          let s = 0;
          for (let j = 0; j < n2; j++) s += Pw[i * n2 + j]!;
          expect(Math.abs(s - a[i]!)).toBeLessThan(1e-12);
        }
        for (let j = 0; j < n2; j++) {
          let s = 0;
          for (let i = 0; i < n1; i++) s += Pw[i * n2 + j]!;
          expect(Math.abs(s - b[j]!)).toBeLessThan(1e-12);
        }
      }
    });
  }

  it('costs far above ε (entries of exp(−C/ε) down to e^−10000): the same finite plan as JavaScript', () => {
    const n1 = 9;
    const n2 = 7;
    const r = rng(5);
    const [a, b] = marginals(n1, n2, r);
    const C = Float64Array.from({ length: n1 * n2 }, () => 100 * r());
    const opts = { maxSweeps: 20000, tol: 1e-12, warmStart: false };
    const Pw = new Float64Array(n1 * n2);
    const Pj = new Float64Array(n1 * n2);
    const sw = new LogSinkhorn(n1, n2, a, b).solve(C, 0.01, opts, Pw);
    const sj = new LogSinkhorn(n1, n2, a, b, { wasm: false }).solve(C, 0.01, opts, Pj);
    expect(sw.converged).toBe(true);
    expect(sw.sweeps).toBe(sj.sweeps);
    expect(Pw.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
    for (let k = 0; k < Pw.length; k++) expect(Math.abs(Pw[k]! - Pj[k]!)).toBeLessThan(1e-12);
  });
});

describe.runIf(available)('entropic FGW: WebAssembly workspace against JavaScript', () => {
  for (const [n1, n2, alpha, epsilon, skew, zeroMass] of [
    [30, 30, 0.5, 0.1, 0, false],
    [31, 29, 0.5, 0.1, 0, false],
    [17, 23, 0.9, 0.05, 0, false],
    [25, 26, 0.5, 0.1, 0.3, false],
    [19, 21, 0.3, 0.05, 0.3, false],
    [22, 15, 0.7, 0.1, 0, true],
    [3, 2, 0.5, 0.1, 0, false],
    [1, 5, 0.5, 0.1, 0, false],
  ] as const) {
    const label = `${n1}×${n2} α=${alpha} ε=${epsilon}${skew ? ' asymmetric' : ''}${zeroMass ? ' zero-mass row and column' : ''}`;
    it(`${label}: same value, plan and iterations`, () => {
      const pb = planarProblem(n1, n2, n1 * 1000 + n2, { skew, zeroMass });
      const wasm = fgwEntropic(pb, { alpha, epsilon });
      const js = fgwEntropic(pb, { alpha, epsilon, wasm: false });
      expect(wasm.converged && js.converged).toBe(true);
      expect(wasm.iterations).toBe(js.iterations);
      expect(Math.abs(wasm.value - js.value) / Math.abs(js.value)).toBeLessThan(1e-11);
      let diff = 0;
      let mx = 0;
      for (let k = 0; k < js.plan.length; k++) {
        diff = Math.max(diff, Math.abs(wasm.plan[k]! - js.plan[k]!));
        mx = Math.max(mx, js.plan[k]!);
      }
      expect(diff / mx).toBeLessThan(1e-9);
      expect(wasm.plan.length).toBe(n1 * n2);
      expect(wasm.diagnostics.marginalError).toBeLessThan(1e-11);
      // The value is the objective of the returned plan.
      expect(Math.abs(wasm.value - fgwObjective(pb, wasm.plan, alpha).value) / Math.abs(wasm.value)).toBeLessThan(1e-12);
    });
  }

  it('sizes alternate (the cached workspace is rebuilt, views stay valid)', () => {
    const a = planarProblem(12, 13, 1);
    const b = planarProblem(14, 14, 2, { skew: 0.2 });
    const first = fgwEntropic(a, { alpha: 0.5, epsilon: 0.1 }).value;
    fgwEntropic(b, { alpha: 0.5, epsilon: 0.1 });
    expect(fgwEntropic(a, { alpha: 0.5, epsilon: 0.1 }).value).toBe(first);
    expect(Math.abs(fgwEntropic(b, { alpha: 0.5, epsilon: 0.1 }).value - fgwEntropic(b, { alpha: 0.5, epsilon: 0.1, wasm: false }).value)).toBeLessThan(1e-12);
  });
});

describe.runIf(available)('EntropicKernel.sandwich (packed products in the kernel memory)', () => {
  for (const [n1, n2] of [
    [1, 1],
    [2, 3],
    [5, 7],
    [8, 8],
    [13, 6],
    [33, 40],
  ] as const) {
    it(`${n1}×${n2}: C1·T·C2ᵀ and C1ᵀ·T·C2 as the JavaScript product`, () => {
      const r = rng(n1 * 7 + n2);
      const C1 = Float64Array.from({ length: n1 * n1 }, () => r() - 0.3);
      const C2 = Float64Array.from({ length: n2 * n2 }, () => r() - 0.3);
      const C1t = new Float64Array(n1 * n1);
      const C2t = new Float64Array(n2 * n2);
      for (let i = 0; i < n1; i++) for (let k = 0; k < n1; k++) C1t[k * n1 + i] = C1[i * n1 + k]!;
      for (let j = 0; j < n2; j++) for (let l = 0; l < n2; l++) C2t[l * n2 + j] = C2[j * n2 + l]!;
      const T = Float64Array.from({ length: n1 * n2 }, () => r());
      const kernel = EntropicKernel.create(n1, n2, { asymmetric: true })!;
      kernel.setStructures(C1, C2, C1t, C2t);
      const ld = kernel.n2p;
      for (let i = 0; i < n1; i++) kernel.T.set(T.subarray(i * n2, i * n2 + n2), i * ld);
      for (const transposed of [false, true]) {
        const want = new Float64Array(n1 * n2);
        sandwich(transposed ? C1t : C1, T, transposed ? C2t : C2, n1, n2, new Float64Array(n1 * n2), want);
        const got = transposed ? kernel.Pt : kernel.P;
        kernel.sandwich(transposed, kernel.T, got);
        for (let i = 0; i < n1; i++) {
          for (let j = 0; j < n2; j++) {
            const w = want[i * n2 + j]!;
            expect(Math.abs(got[i * ld + j]! - w), `${transposed ? 't' : ''}[${i}][${j}]`).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(w)));
          }
          // Padding columns stay zero.
          for (let j = n2; j < ld; j++) expect(got[i * ld + j]).toBe(0);
        }
      }
    });
  }
});

describe('symmetryOf (one pass for both symmetry tests)', () => {
  /** The plain two-loop test: numpy.allclose(A, Aᵀ, atol) (rtol 1e-5), or bitwise equality for atol < 0. */
  const symmetric = (A: Float64Array, n: number, atol: number): boolean => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = A[i * n + j]!;
        const y = A[j * n + i]!;
        if (atol < 0 ? x !== y : Math.abs(x - y) > atol + 1e-5 * Math.abs(y)) return false;
      }
    }
    return true;
  };
  it('agrees with a plain test for closeness (atol 1e-10, rtol 1e-5) and for bitwise equality', () => {
    const r = rng(3);
    for (const n of [1, 2, 5, 33, 70]) {
      const base = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) base[i * n + j] = base[j * n + i] = r();
      for (const perturb of [0, 1e-12, 1e-9, 1e-3]) {
        const A = base.slice();
        if (n > 1) A[(n - 1) * n + 0] = A[(n - 1) * n + 0]! + perturb;
        const s = symmetryOf(A, n, 1e-10);
        expect(s.close, `n=${n} perturb=${perturb}`).toBe(symmetric(A, n, 1e-10));
        expect(s.exact, `n=${n} perturb=${perturb}`).toBe(symmetric(A, n, -1));
      }
    }
  });
});
