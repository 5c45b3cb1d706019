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
import { type FgwProblem, checkAlpha, detectSymmetric, marginalError, prepareTensor, sandwich } from './problem.ts';
import { LogSinkhorn, ScalingSinkhorn } from './sinkhorn.ts';
import { EntropicKernel } from './wasm-entropic.ts';

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
  /**
   * 'log' only: run the products, the cost update and the Sinkhorn passes in WebAssembly SIMD
   * when available (default true); false keeps everything in JavaScript (same results to rounding).
   */
  wasm?: boolean;
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

/** out = (A·p)(B·q)ᵀ = A·(p·qᵀ)·Bᵀ, with A n1×n1 and B n2×n2; out has rows of ld. */
function rankOneProduct(A: Float64Array, B: Float64Array, p: Float64Array, q: Float64Array, n1: number, n2: number, out: Float64Array, ld: number): void {
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
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) out[i * ld + j] = ap[i]! * bq[j]!;
}

/** Σ_ij X[i][j]·Y[i][j] for X with rows of ldx and Y with rows of ldy. */
function dotStrided(X: Float64Array, ldx: number, Y: Float64Array, ldy: number, n1: number, n2: number): number {
  let s = 0;
  for (let i = 0; i < n1; i++) {
    const x = i * ldx;
    const y = i * ldy;
    for (let j = 0; j < n2; j++) s += X[x + j]! * Y[y + j]!;
  }
  return s;
}

/** Copies the n×n matrix A into `out` with rows of ld (the rest of `out` untouched). */
function copyRows(A: Float64Array, n: number, out: Float64Array, ld: number): void {
  for (let i = 0; i < n; i++) out.set(A.subarray(i * n, i * n + n), i * ld);
}

/**
 * Buffers of one solve, kept for the next call of the same size: callers that solve many problems
 * of one size (benchmarks, sweeps over α or ε) would otherwise hand megabytes per call to the
 * garbage collector. Solves are synchronous, so one workspace is never used by two solves at once.
 * With the WebAssembly kernel every n1·n2 matrix is a view into the kernel's memory with rows of
 * ld = n2p (n2 rounded up to even, padding zero); without it, plain arrays with ld = n2.
 */
interface Workspace {
  n1: number;
  n2: number;
  ld: number;
  kernel: EntropicKernel | null;
  T: Float64Array;
  Tprev: Float64Array;
  P: Float64Array;
  Pt: Float64Array;
  /** JavaScript products only: their n2×n1 scratch. */
  tmp: Float64Array;
  /** The linearised cost handed to the Sinkhorn solver. */
  tens: Float64Array;
  log: LogSinkhorn | null;
}
const cachedWorkspaces: { js: Workspace | null; wasm: Workspace | null } = { js: null, wasm: null };

function workspace(n1: number, n2: number, wasm: boolean, asymmetric: boolean): Workspace {
  const w = wasm ? cachedWorkspaces.wasm : cachedWorkspaces.js;
  if (w && w.n1 === n1 && w.n2 === n2 && (!w.kernel || w.Pt.length > 0 || !asymmetric)) return w;
  if (wasm) {
    const kernel = EntropicKernel.create(n1, n2, { asymmetric });
    if (kernel) {
      const fresh: Workspace = { n1, n2, ld: kernel.n2p, kernel, T: kernel.T, Tprev: kernel.Tprev, P: kernel.P, Pt: kernel.Pt, tmp: new Float64Array(0), tens: kernel.cost, log: null };
      cachedWorkspaces.wasm = fresh;
      return fresh;
    }
  }
  const nn = n1 * n2;
  const fresh: Workspace = {
    n1,
    n2,
    ld: n2,
    kernel: null,
    T: new Float64Array(nn),
    Tprev: new Float64Array(nn),
    P: new Float64Array(nn),
    Pt: new Float64Array(nn),
    tmp: new Float64Array(nn),
    tens: new Float64Array(nn),
    log: null,
  };
  cachedWorkspaces.js = fresh;
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

  const ws = workspace(n1, n2, solver === 'log' && options.wasm !== false, !symmetric);
  const { kernel, ld, P, tmp, tens } = ws;
  let T = ws.T;
  let Tprev = ws.Tprev;
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) T[i * ld + j] = p[i]! * q[j]!;
  const Pt = symmetric ? null : ws.Pt;
  if (kernel) {
    // Operands into the kernel's memory (rows padded, padding zero), and the constant part of the
    // cost: tens = A0 − 4α·P, or A0 − 2α·(P + Pt), with A0 = 2α·constC + (1−α)·M, or α·(constC + constCt) + (1−α)·M.
    copyRows(C1, n1, kernel.C1, kernel.n1p);
    copyRows(C2, n2, kernel.C2, kernel.n2p);
    if (!symmetric) {
      copyRows(C1t!, n1, kernel.C1t, kernel.n1p);
      copyRows(C2t!, n2, kernel.C2t, kernel.n2p);
    }
    const A0 = kernel.A0;
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) {
        const k = i * n2 + j;
        const c = symmetric ? 2 * constC[k]! : constC[k]! + constCt![k]!;
        A0[i * ld + j] = alpha * c + (1 - alpha) * M[k]!;
      }
    }
  }
  const product = (): void => {
    if (kernel) {
      kernel.sandwich(kernel.C1, T, kernel.C2, P);
      if (Pt) kernel.sandwich(kernel.C1t, T, kernel.C2t, Pt);
      return;
    }
    sandwich(C1, T, C2, n1, n2, tmp, P);
    if (Pt) sandwich(C1t!, T, C2t!, n1, n2, tmp, Pt);
  };
  // The start T = p·qᵀ has rank one: C1·p·qᵀ·C2ᵀ = (C1·p)(C2·q)ᵀ in O(n²) instead of two O(n³) products.
  rankOneProduct(C1, C2, p, q, n1, n2, P, ld);
  if (Pt) rankOneProduct(C1t!, C2t!, p, q, n1, n2, Pt, ld);

  const scaling = solver === 'scaling' ? new ScalingSinkhorn(n1, n2, p, q) : null;
  let logSolver: LogSinkhorn | null = null;
  if (solver === 'log') {
    if (ws.log) ws.log.reset(p, q);
    else ws.log = new LogSinkhorn(n1, n2, p, q, kernel ? { kernel, ld } : { wasm: false });
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
    if (kernel) {
      kernel.axpy(tens, kernel.A0, P, symmetric ? -4 * alpha : -2 * alpha);
      if (Pt) kernel.axpy(tens, tens, Pt, -2 * alpha);
    } else if (symmetric) {
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
      if (kernel) {
        // Over the padded matrices: their padding is zero in both.
        err = Math.sqrt(kernel.diff2(T, Tprev));
      } else {
        let s = 0;
        for (let k = 0; k < nn; k++) {
          const d = T[k]! - Tprev[k]!;
          s += d * d;
        }
        err = Math.sqrt(s);
      }
    }
    cpt++;
    // Converged: P(T_k) would only serve the value, which the update below gets without it.
    if (shortcut && err <= tol) break;
    product();
  }

  const linTerm = dotStrided(M, n2, T, ld, n1, n2);
  let gwTerm = NaN;
  if (shortcut && err <= tol) {
    // P still holds P(T_{k−1}). With Δ = T_k − T_{k−1} and C1, C2 exactly symmetric,
    //   ⟨P(T_k), T_k⟩ = ⟨P(T_{k−1}), 2·T_k − T_{k−1}⟩ + ⟨Δ, C1·Δ·C2⟩,
    // and the last term is at most ‖C1‖_F·‖C2‖_F·‖Δ‖_F² (err is ‖Δ‖_F, measured this iteration).
    // The last O(n³) product is skipped only when that bound is far below the value's rounding.
    let cT = 0;
    let pT = 0;
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) {
        const k = i * ld + j;
        const t = T[k]!;
        cT += constC[i * n2 + j]! * t;
        pT += P[k]! * (2 * t - Tprev[k]!);
      }
    }
    const approx = cT - 2 * pT;
    const bound = 2 * normC1 * normC2 * err * err;
    if (bound <= 1e-14 * Math.abs(approx) || bound <= 1e-17) gwTerm = approx;
  }
  if (Number.isNaN(gwTerm)) {
    if (shortcut && err <= tol) product();
    // ⟨L⊗T, T⟩ = ⟨constC − 2·P, T⟩.
    let s = 0;
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) s += (constC[i * n2 + j]! - 2 * P[i * ld + j]!) * T[i * ld + j]!;
    }
    gwTerm = s;
  }
  const value = (1 - alpha) * linTerm + alpha * gwTerm;
  if (!Number.isFinite(value)) {
    throw notConverged('epsilon', `the entropic solver produced a non-finite value (ε = ${eps}); use the 'log' solver or a larger ε`);
  }

  // T is a workspace buffer (rows of ld): the caller gets its own compact copy.
  const plan = new Float64Array(full.n1 * full.n2);
  if (pb !== full) {
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) plan[sup.rows[i]! * full.n2 + sup.cols[j]!] = T[i * ld + j]!;
    }
  } else {
    for (let i = 0; i < n1; i++) plan.set(T.subarray(i * ld, i * ld + n2), i * n2);
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
