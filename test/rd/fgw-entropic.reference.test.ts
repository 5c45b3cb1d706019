/**
 * Entropic FGW against the reference vectors, with the rules of the reference README:
 * - the scaling-form Sinkhorn that replicates the reference, on robust, converged entries without
 *   numerical errors: `value` to 1e-8 relative;
 * - the stabilised log-domain solver (the production default), on robust entries whose log-domain
 *   reference converged: `logdomain_value` to 1e-6 relative;
 * - |ref| < 1e-9 is compared with an absolute 1e-9;
 * - every other entry (not robust, not converged, underflowing kernel): a finite value and a
 *   feasible plan.
 */
import { describe, expect, it } from 'vitest';
import { fgwEntropic } from '../../plugins/rd-fgw/entropic.ts';
import { problemFromMatrices } from '../../plugins/rd-fgw/problem.ts';
import { type FgwCase, type FgwFile, loadReference, referenceFiles } from './reference.ts';

function matches(value: number, ref: number, rtol: number): boolean {
  if (Math.abs(ref) < 1e-9) return Math.abs(value - ref) <= 1e-9;
  return Math.abs(value - ref) <= rtol * Math.abs(ref);
}

function feasibility(plan: Float64Array, p: number[], q: number[]): { err: number; min: number; finite: boolean } {
  const n1 = p.length;
  const n2 = q.length;
  let err = 0;
  let min = Infinity;
  let finite = true;
  const col = new Float64Array(n2);
  for (let i = 0; i < n1; i++) {
    let s = 0;
    for (let j = 0; j < n2; j++) {
      const t = plan[i * n2 + j]!;
      if (!Number.isFinite(t)) finite = false;
      min = Math.min(min, t);
      s += t;
      col[j] = col[j]! + t;
    }
    err = Math.max(err, Math.abs(s - p[i]!));
  }
  for (let j = 0; j < n2; j++) err = Math.max(err, Math.abs(col[j]! - q[j]!));
  return { err, min, finite };
}

for (const file of referenceFiles('fgw')) {
  const { cases } = loadReference<FgwFile>(file);

  describe(`entropic FGW vs ${file}`, () => {
    for (const c of cases as FgwCase[]) {
      const pb = problemFromMatrices({ M: c.M, C1: c.C1, C2: c.C2, p: c.p, q: c.q });
      for (const r of c.results) {
        for (const e of r.entropic) {
          const label = `${c.id} α=${r.alpha} ε=${e.epsilon}`;
          const replicaValid = e.robust && e.converged && e.sinkhorn_numerical_error_warnings === 0 && e.value !== null;
          const logValid = e.robust && e.logdomain_converged && e.logdomain_value !== null;

          it(`${label} scaling replica ${replicaValid ? 'vs value' : '(feasibility only)'}`, () => {
            // Entries the README excludes only need a finite, feasible answer: a shortened run shows that.
            const res = fgwEntropic(pb, { alpha: r.alpha, epsilon: e.epsilon, solver: 'scaling', ...(replicaValid ? {} : { maxIter: 21 }) });
            expect(Number.isFinite(res.value)).toBe(true);
            const f = feasibility(res.plan, c.p, c.q);
            expect(f.finite).toBe(true);
            expect(f.min).toBeGreaterThanOrEqual(0);
            if (replicaValid) {
              expect(matches(res.value, e.value!, 1e-8), `value ${res.value} vs reference ${e.value}`).toBe(true);
              expect(res.converged).toBe(true);
              // The replica tests the outer step at iterations 0, 10, 20, … as the reference does.
              expect(res.iterations, 'outer_iter').toBe(e.outer_iter);
              expect(f.err).toBeLessThanOrEqual(Math.max(1e-6, 10 * e.plan_marginal_err));
            } else if (res.diagnostics.numericalErrors === 0) {
              expect(f.err).toBeLessThanOrEqual(1e-3);
            }
          });

          it(`${label} log-domain ${logValid ? 'vs logdomain_value' : '(feasibility only)'}`, () => {
            const res = fgwEntropic(pb, { alpha: r.alpha, epsilon: e.epsilon });
            expect(Number.isFinite(res.value)).toBe(true);
            const f = feasibility(res.plan, c.p, c.q);
            expect(f.finite).toBe(true);
            expect(f.min).toBeGreaterThanOrEqual(0);
            expect(f.err).toBeLessThanOrEqual(1e-9);
            if (logValid) {
              expect(matches(res.value, e.logdomain_value!, 1e-6), `value ${res.value} vs logdomain_value ${e.logdomain_value}`).toBe(true);
              expect(res.converged).toBe(true);
            }
          });
        }
      }
    }
  });
}
