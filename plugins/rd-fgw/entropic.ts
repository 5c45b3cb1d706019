/**
 * Entropic FGW by projected gradient (the reference's "PGD" solver):
 *   T ← p·qᵀ; repeat: tens = α·2·(L⊗T) + (1−α)·M;  T ← argmin ⟨tens, T⟩ + ε·Σ T log T
 * with ‖T_k − T_{k−1}‖_F tested at iterations 0, 10, 20, … (so counts come out as 1, 11, 21, …) by
 * the reference replica, and at every iteration by the production solver.
 * ε is absolute (not scaled by the costs). The reported value excludes the entropy:
 * FGW_α(T) = (1−α)⟨M, T⟩ + α⟨L⊗T, T⟩ evaluated with p and q as written.
 *
 * Rows and columns with zero mass are removed first (their plan entries are 0 and they contribute
 * nothing to constC), so the Sinkhorn logarithms never see log 0.
 */
import { invalid, notConverged } from './errors.ts';
import type { FgwResult } from './exact.ts';
import { frob, isSymmetric } from './linalg.ts';
import { type FgwProblem, checkAlpha, detectSymmetric, gwFromProduct, marginalError, prepareTensor, sandwich } from './problem.ts';
import { LogSinkhorn, ScalingSinkhorn } from './sinkhorn.ts';

export type InnerSolver = 'log' | 'scaling';

export interface EntropicOptions {
  alpha: number;
  /** Entropic regularisation ε > 0 (absolute). */
  epsilon: number;
  /** 'log' (default): stabilised log-domain Sinkhorn. 'scaling': the reference's scaling form. */
  solver?: InnerSolver;
  /** Outer iterations (default 1000). */
  maxIter?: number;
  /** Outer tolerance on ‖T_k − T_{k−1}‖_F (default 1e-9). */
  tol?: number;
  /** Inner sweeps per Sinkhorn solve (default 1000 for 'scaling', 20000 for 'log'). */
  innerMaxIter?: number;
  /** Inner tolerance: 'scaling' ‖colsum − q‖₂ (default 1e-9); 'log' Σ|colsum − q| (default 1e-12). */
  innerTol?: number;
  /** 'log' only: start each Sinkhorn solve from the previous potentials (default true). */
  warmStart?: boolean;
  symmetric?: boolean | 'auto';
}

export interface EntropicDiagnostics {
  method: 'entropic';
  solver: InnerSolver;
  alpha: number;
  epsilon: number;
  symmetric: boolean;
  /** Last ‖T_k − T_{k−1}‖_F measured. */
  lastErr: number;
  innerSweeps: number;
  /** Inner solves that hit the sweep cap. */
  innerNotConverged: number;
  /** Inner solves abandoned on a zero/non-finite value (scaling form only; the plan is then unreliable). */
  numericalErrors: number;
  /** Worst inner exit marginal error (L1 of column sums). */
  worstInnerMarginalError: number;
  /** Largest deviation of the returned plan's marginals from p, q. */
  marginalError: number;
}

interface Support {
  rows: Int32Array;
  cols: Int32Array;
}

/** out = (A·p)(B·q)ᵀ = A·(p·qᵀ)·Bᵀ, with A n1×n1 and B n2×n2. */
function rankOneProduct(A: Float64Array, B: Float64Array, p: Float64Array, q: Float64Array, n1: number, n2: number, out: Float64Array): void {
  const ap = new Float64Array(n1);
  const bq = new Float64Array(n2);
  for (let i = 0; i < n1; i++) {
    let s = 0;
    for (let k = 0; k < n1; k++) s += A[i * n1 + k]! * p[k]!;
    ap[i] = s;
  }
  for (let j = 0; j < n2; j++) {
    let s = 0;
    for (let l = 0; l < n2; l++) s += B[j * n2 + l]! * q[l]!;
    bq[j] = s;
  }
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) out[i * n2 + j] = ap[i]! * bq[j]!;
}

/**
 * Buffers of one solve (five n1·n2 matrices and the Sinkhorn kernel), kept for the next call of the
 * same size: callers that solve many problems of one size (benchmarks, sweeps over α or ε) would
 * otherwise hand megabytes per call to the garbage collector. Solves are synchronous, so one
 * workspace is never used by two solves at once.
 */
interface Workspace {
  n1: number;
  n2: number;
  T: Float64Array;
  Tprev: Float64Array;
  P: Float64Array;
  Pt: Float64Array;
  tmp: Float64Array;
  tens: Float64Array;
  log: LogSinkhorn | null;
}
let cachedWorkspace: Workspace | null = null;

function workspace(n1: number, n2: number): Workspace {
  const w = cachedWorkspace;
  if (w && w.n1 === n1 && w.n2 === n2) return w;
  const nn = n1 * n2;
  const fresh: Workspace = {
    n1,
    n2,
    T: new Float64Array(nn),
    Tprev: new Float64Array(nn),
    P: new Float64Array(nn),
    Pt: new Float64Array(nn),
    tmp: new Float64Array(nn),
    tens: new Float64Array(nn),
    log: null,
  };
  cachedWorkspace = fresh;
  return fresh;
}

function support(w: Float64Array): Int32Array {
  const idx: number[] = [];
  for (let i = 0; i < w.length; i++) if (w[i]! > 0) idx.push(i);
  return Int32Array.from(idx);
}

function restrict(pb: FgwProblem, s: Support): FgwProblem {
  const { rows, cols } = s;
  const m = rows.length;
  const n = cols.length;
  if (m === pb.n1 && n === pb.n2) return pb;
  const M = new Float64Array(m * n);
  const C1 = new Float64Array(m * m);
  const C2 = new Float64Array(n * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) M[i * n + j] = pb.M[rows[i]! * pb.n2 + cols[j]!]!;
    for (let k = 0; k < m; k++) C1[i * m + k] = pb.C1[rows[i]! * pb.n1 + rows[k]!]!;
  }
  for (let j = 0; j < n; j++) for (let l = 0; l < n; l++) C2[j * n + l] = pb.C2[cols[j]! * pb.n2 + cols[l]!]!;
  return {
    n1: m,
    n2: n,
    M,
    C1,
    C2,
    p: Float64Array.from(rows, (i) => pb.p[i]!),
    q: Float64Array.from(cols, (j) => pb.q[j]!),
  };
}

export function fgwEntropic(full: FgwProblem, options: EntropicOptions): FgwResult<EntropicDiagnostics> {
  const alpha = checkAlpha(options.alpha);
  const eps = options.epsilon;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw invalid('epsilon', `must be a finite number > 0, got ${String(eps)}`);
  }
  const solver: InnerSolver = options.solver ?? 'log';
  if (solver !== 'log' && solver !== 'scaling') throw invalid('solver', `must be 'log' or 'scaling', got ${String(solver)}`);
  const maxIter = options.maxIter ?? 1000;
  const tol = options.tol ?? 1e-9;
  const innerMaxIter = options.innerMaxIter ?? (solver === 'scaling' ? 1000 : 20000);
  const innerTol = options.innerTol ?? (solver === 'scaling' ? 1e-9 : 1e-12);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw invalid('maxIter', `must be an integer ≥ 1, got ${maxIter}`);
  if (!Number.isInteger(innerMaxIter) || innerMaxIter < 1) throw invalid('innerMaxIter', `must be an integer ≥ 1, got ${innerMaxIter}`);
  if (!(tol >= 0) || !(innerTol >= 0)) throw invalid('tol', 'tolerances must be ≥ 0');

  const symmetric = options.symmetric === undefined || options.symmetric === 'auto' ? detectSymmetric(full) : options.symmetric;
  const sup: Support = { rows: support(full.p), cols: support(full.q) };
  const pb = restrict(full, sup);
  const { n1, n2, M, C1, C2, p, q } = pb;
  const nn = n1 * n2;
  const tensor = prepareTensor(pb, symmetric);
  const { constC, constCt, C1t, C2t } = tensor;

  const ws = workspace(n1, n2);
  let T = ws.T;
  let Tprev = ws.Tprev;
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) T[i * n2 + j] = p[i]! * q[j]!;
  const { P, tmp, tens } = ws;
  const Pt = symmetric ? null : ws.Pt;
  const product = (): void => {
    sandwich(C1, T, C2, n1, n2, tmp, P);
    if (Pt) sandwich(C1t!, T, C2t!, n1, n2, tmp, Pt);
  };
  // The start T = p·qᵀ has rank one: C1·p·qᵀ·C2ᵀ = (C1·p)(C2·q)ᵀ in O(n²) instead of two O(n³) products.
  rankOneProduct(C1, C2, p, q, n1, n2, P);
  if (Pt) rankOneProduct(C1t!, C2t!, p, q, n1, n2, Pt);

  const scaling = solver === 'scaling' ? new ScalingSinkhorn(n1, n2, p, q) : null;
  let logSolver: LogSinkhorn | null = null;
  if (solver === 'log') {
    if (ws.log) ws.log.reset(p, q);
    else ws.log = new LogSinkhorn(n1, n2, p, q);
    logSolver = ws.log;
  }
  const warm = options.warmStart ?? true;
  // The replica tests ‖T_k − T_{k−1}‖ at iterations 0, 10, 20, … like the reference, so it runs up
  // to nine iterations past convergence (each one an O(n³) product). The production solver tests
  // every iteration — the test is O(n²) — and stops as soon as the step is below tol.
  const checkEvery = solver === 'scaling' ? 10 : 1;
  // Bitwise symmetry: the `symmetric` flag allows 1e-10, which the value shortcut must not.
  const shortcut = solver === 'log' && symmetric && isSymmetric(C1, n1, -1) && isSymmetric(C2, n2, -1);
  const normC1 = shortcut ? Math.sqrt(frob(C1, C1)) : 0;
  const normC2 = shortcut ? Math.sqrt(frob(C2, C2)) : 0;

  let cpt = 0;
  let err = 1;
  let innerSweeps = 0;
  let innerNotConverged = 0;
  let numericalErrors = 0;
  let worstInner = 0;
  while (err > tol && cpt < maxIter) {
    if (symmetric) {
      for (let k = 0; k < nn; k++) tens[k] = alpha * (2 * (constC[k]! - 2 * P[k]!)) + (1 - alpha) * M[k]!;
    } else {
      for (let k = 0; k < nn; k++) {
        tens[k] = alpha * 0.5 * (2 * (constC[k]! - 2 * P[k]!) + 2 * (constCt![k]! - 2 * Pt![k]!)) + (1 - alpha) * M[k]!;
      }
    }
    const swap = Tprev;
    Tprev = T;
    T = swap;
    const stats = scaling
      ? scaling.solve(tens, eps, { maxSweeps: innerMaxIter, tol: innerTol, initRows: full.n1, initCols: full.n2 }, T)
      : logSolver!.solve(tens, eps, { maxSweeps: innerMaxIter, tol: innerTol, warmStart: warm }, T);
    innerSweeps += stats.sweeps;
    if (!stats.converged && !stats.numericalError) innerNotConverged++;
    if (stats.numericalError) numericalErrors++;
    if (stats.marginalError > worstInner) worstInner = stats.marginalError;
    if (cpt % checkEvery === 0) {
      let s = 0;
      for (let k = 0; k < nn; k++) {
        const d = T[k]! - Tprev[k]!;
        s += d * d;
      }
      err = Math.sqrt(s);
    }
    cpt++;
    // Converged: P(T_k) would only serve the value, which the update below gets without it.
    if (shortcut && err <= tol) break;
    product();
  }

  const linTerm = frob(M, T);
  let gwTerm = NaN;
  if (shortcut && err <= tol) {
    // P still holds P(T_{k−1}). With Δ = T_k − T_{k−1} and C1, C2 exactly symmetric,
    //   ⟨P(T_k), T_k⟩ = ⟨P(T_{k−1}), 2·T_k − T_{k−1}⟩ + ⟨Δ, C1·Δ·C2⟩,
    // and the last term is at most ‖C1‖_F·‖C2‖_F·‖Δ‖_F² (err is ‖Δ‖_F, measured this iteration).
    // The last O(n³) product is skipped only when that bound is far below the value's rounding.
    let cT = 0;
    let pT = 0;
    for (let k = 0; k < nn; k++) {
      const t = T[k]!;
      cT += constC[k]! * t;
      pT += P[k]! * (2 * t - Tprev[k]!);
    }
    const approx = cT - 2 * pT;
    const bound = 2 * normC1 * normC2 * err * err;
    if (bound <= 1e-14 * Math.abs(approx) || bound <= 1e-17) gwTerm = approx;
  }
  if (Number.isNaN(gwTerm)) {
    if (shortcut && err <= tol) product();
    gwTerm = gwFromProduct(constC, P, T);
  }
  const value = (1 - alpha) * linTerm + alpha * gwTerm;
  if (!Number.isFinite(value)) {
    throw notConverged('epsilon', `the entropic solver produced a non-finite value (ε = ${eps}); use the 'log' solver or a larger ε`);
  }

  // T is a workspace buffer: the caller gets its own copy.
  let plan = T.slice();
  if (pb !== full) {
    plan = new Float64Array(full.n1 * full.n2);
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) plan[sup.rows[i]! * full.n2 + sup.cols[j]!] = T[i * n2 + j]!;
    }
  }
  return {
    value,
    plan,
    n1: full.n1,
    n2: full.n2,
    iterations: cpt,
    converged: err <= tol,
    linTerm,
    gwTerm,
    diagnostics: {
      method: 'entropic',
      solver,
      alpha,
      epsilon: eps,
      symmetric,
      lastErr: err,
      innerSweeps,
      innerNotConverged,
      numericalErrors,
      worstInnerMarginalError: worstInner,
      marginalError: marginalError(plan, full.p, full.q),
    },
  };
}
