/**
 * The production entropic solver's shortcuts against plain evaluation and the reference replica:
 * it tests the outer step every iteration (so it stops earlier than the replica, which tests every
 * tenth), and on exactly symmetric structures it gets the value without the last O(n³) product.
 */
import { describe, expect, it } from 'vitest';
import { fgwEntropic } from '../../plugins/rd-fgw/entropic.ts';
import { fgwObjective } from '../../plugins/rd-fgw/problem.ts';
import { planarProblem } from '../helpers/fgw-problems.ts';


function rel(x: number, y: number): number {
  return Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);
}

describe('production entropic solver shortcuts', () => {
  for (const [label, skew] of [
    ['symmetric (value without the last product)', 0],
    ['asymmetric (value from the last product)', 0.3],
  ] as const) {
    it(`${label}: value is the objective of the returned plan`, () => {
      for (const [n1, n2, seed, alpha, epsilon] of [
        [30, 25, 1, 0.5, 0.1],
        [40, 40, 2, 0.9, 0.05],
        [12, 17, 3, 0.3, 0.02],
      ] as const) {
        const pb = planarProblem(n1, n2, seed, { skew });
        const res = fgwEntropic(pb, { alpha, epsilon });
        expect(res.converged).toBe(true);
        const direct = fgwObjective(pb, res.plan, alpha);
        expect(rel(res.value, direct.value), `${n1}×${n2} α=${alpha} ε=${epsilon}`).toBeLessThan(1e-12);
        expect(res.diagnostics.marginalError).toBeLessThan(1e-11);
      }
    });
  }

  it('stops no later than the replica and reaches the same value', () => {
    for (const seed of [4, 5, 6]) {
      const pb = planarProblem(35, 30, seed);
      const prod = fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1 });
      const replica = fgwEntropic(pb, { alpha: 0.5, epsilon: 0.1, solver: 'scaling' });
      expect(prod.converged && replica.converged).toBe(true);
      expect(prod.iterations).toBeLessThanOrEqual(replica.iterations);
      // The replica runs to the next multiple of ten; the production solver stops at the first
      // step below 1e-9, which leaves it about that far from the same fixed point.
      expect(rel(prod.value, replica.value)).toBeLessThan(1e-8);
    }
  });

  it('small ε still converges to a feasible plan (cold start without log-sum-exp, Newton fallback)', () => {
    const pb = planarProblem(6, 5, 7);
    for (const epsilon of [0.01, 0.002]) {
      const res = fgwEntropic(pb, { alpha: 0.5, epsilon });
      expect(res.converged).toBe(true);
      expect(res.diagnostics.innerNotConverged).toBe(0);
      expect(res.diagnostics.marginalError).toBeLessThan(1e-11);
      expect(rel(res.value, fgwObjective(pb, res.plan, 0.5).value)).toBeLessThan(1e-10);
    }
  });
});
