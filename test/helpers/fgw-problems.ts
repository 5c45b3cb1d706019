/**
 * Seeded FGW problems for solver tests: points in the unit square, Euclidean structure matrices
 * (plus an asymmetric part above the diagonal when `skew` > 0), a feature cost and random weights.
 */
import type { FgwProblem } from '../../plugins/rd-fgw/problem.ts';
import { mulberry32 } from 'limit-graph';

/** Random positive weights summing to one. */
export function marginals(n1: number, n2: number, r: () => number): [Float64Array, Float64Array] {
  const w = (n: number): Float64Array => {
    const v = Float64Array.from({ length: n }, () => 0.2 + r());
    const s = v.reduce((a, b) => a + b, 0);
    return v.map((x) => x / s);
  };
  return [w(n1), w(n2)];
}

export function planarProblem(n1: number, n2: number, seed: number, options: { skew?: number; zeroMass?: boolean } = {}): FgwProblem {
  const { skew = 0, zeroMass = false } = options;
  const r = mulberry32(seed);
  const pts = (n: number): number[][] => Array.from({ length: n }, () => [r(), r()]);
  const dist = (P: number[][]): Float64Array => {
    const n = P.length;
    const C = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) C[i * n + j] = Math.hypot(P[i]![0]! - P[j]![0]!, P[i]![1]! - P[j]![1]!) + (i < j ? skew * r() : 0);
    }
    return C;
  };
  const a = pts(n1);
  const b = pts(n2);
  const M = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) M[i * n2 + j] = (a[i]![0]! - b[j]![1]!) ** 2;
  const [p, q] = marginals(n1, n2, r);
  if (zeroMass) {
    // One empty row and column: the solver works on the support and puts zeros back.
    const drop = (w: Float64Array, k: number): void => {
      w[k] = 0;
      const s = w.reduce((x, y) => x + y, 0);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! / s;
    };
    drop(p, 1);
    drop(q, n2 - 1);
  }
  return { n1, n2, M, C1: dist(a), C2: dist(b), p, q };
}
