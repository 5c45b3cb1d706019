/**
 * Exact FGW by conditional gradient (Frank–Wolfe), following the reference solver step for step:
 * start G = p·qᵀ, linearise, solve the exact OT linear program, closed-form line search for the
 * square loss, track the cost through the line-search quadratic, stop on relative or absolute
 * change of the cost. `iterations` counts linear programs, as the reference's n_iter does.
 *
 * Speed: C1·G·C2ᵀ is kept up to date instead of recomputed. The LP answer Gc is a vertex with at
 * most n1+n2−1 non-zeros, so C1·Gc·C2ᵀ costs one dense product plus a sparse one, and
 * C1·G·C2ᵀ ← C1·G·C2ᵀ + t·(C1·Gc·C2ᵀ − C1·G·C2ᵀ) follows from linearity. Successive LPs share
 * their marginals, so each starts from the previous optimal basis (warm start).
 */
import { type Deadline, checkDeadline, deadlineOf, invalid } from './errors.ts';
import { TransportSimplex } from './emd.ts';
import { frob, mulABt, transpose } from './linalg.ts';
import {
  type FgwProblem,
  type StartRun,
  checkAlpha,
  detectSymmetric,
  gwFromProduct,
  marginalError,
  prepareTensor,
  sandwich,
} from './problem.ts';

export interface ExactOptions {
  alpha: number;
  /** Maximum number of linear programs (default 10000). */
  maxIter?: number;
  /** Stop when |Δcost|/|cost| < tolRel (default 1e-9; never true when cost is exactly 0). */
  tolRel?: number;
  /** Stop when |Δcost| < tolAbs (default 1e-9). */
  tolAbs?: number;
  /** Use the symmetric gradient; 'auto' (default) tests C1, C2 like numpy.allclose(C, Cᵀ, atol=1e-10). */
  symmetric?: boolean | 'auto';
  /** Starting coupling (dense n1×n2 or sparse [i, j, v]); default p·qᵀ. Must be feasible. */
  G0?: ArrayLike<number> | readonly (readonly [number, number, number])[];
  /** Start every LP from the previous optimal basis (default true). */
  warmStartLp?: boolean;
  /** Pivot limit of each LP (default max(100000, 100·(n1+n2))). */
  maxPivots?: number;
  /**
   * Wall-clock limit in ms (default: none). Tested every iteration and every 256 simplex pivots;
   * past it the solve stops with LIMIT_RD_NOT_CONVERGED (details.field 'timeLimitMs').
   */
  timeLimitMs?: number;
  /**
   * A deadline already running (`computeFgw` starts one before building the matrices, so that
   * building them counts against `timeLimitMs` too); when given, `timeLimitMs` is not read.
   */
  deadline?: Deadline;
}

export type StopReason = 'tol_rel' | 'tol_abs' | 'max_iter';

export interface ExactDiagnostics {
  method: 'exact';
  alpha: number;
  symmetric: boolean;
  /** Objective at the starting coupling. */
  initialCost: number;
  /** Tracked cost after each iteration. */
  costHistory: number[];
  /** Line-search step of each iteration. */
  steps: number[];
  /** Simplex pivots of each LP. */
  lpPivots: number[];
  /** LPs stopped by the pivot limit (their answer may be suboptimal). */
  lpMaxIterHits: number;
  /**
   * LPs that had several optimal vertices (a non-basic arc with zero reduced cost). When > 0 the
   * path of the iteration, and on non-convex instances the local optimum reached, depends on
   * tie-breaking — as it does in the reference.
   */
  lpWithTies: number;
  stopReason: StopReason;
  /** Objective recomputed from the returned plan. */
  valueAtPlan: number;
  /** Largest deviation of the plan's marginals from p, q. */
  marginalError: number;
  /**
   * Both runs, when the service (`solveFgw`) also ran from the north-west-corner coupling (a pure
   * Gromov–Wasserstein problem); absent when it ran once.
   */
  starts?: StartRun[];
}

export interface FgwResult<D = ExactDiagnostics> {
  /** FGW value (for the exact method: the cost tracked through the line search, like the reference). */
  value: number;
  /** Dense row-major coupling n1×n2. */
  plan: Float64Array;
  n1: number;
  n2: number;
  iterations: number;
  converged: boolean;
  /** ⟨M, T⟩ without the (1−α) factor. */
  linTerm: number;
  /** Σ (C1[i][k] − C2[j][l])² T[i][j] T[k][l] without the α factor. */
  gwTerm: number;
  diagnostics: D;
}

/** Solves the 1-D quadratic a·t² + b·t on [0, 1] exactly as the reference line search does. */
export function lineSearchStep(a: number, b: number): number {
  if (a > 0) return Math.min(1, Math.max(0, -b / (2 * a)));
  return a + b < 0 ? 1 : 0;
}

/** The starting coupling: p·qᵀ when G0 is undefined, else G0 (dense or sparse) checked to be a coupling of p and q. */
export function startingPlan(pb: FgwProblem, G0: ExactOptions['G0']): Float64Array {
  const { n1, n2, p, q } = pb;
  const G = new Float64Array(n1 * n2);
  if (G0 === undefined) {
    for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) G[i * n2 + j] = p[i]! * q[j]!;
    return G;
  }
  const first = (G0 as ArrayLike<unknown>)[0];
  if (G0.length > 0 && Array.isArray(first)) {
    for (const [k, entry] of (G0 as readonly (readonly [number, number, number])[]).entries()) {
      const [i, j, v] = entry;
      if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= n1 || j >= n2) {
        throw invalid(`G0[${k}]`, `index (${i}, ${j}) outside ${n1}×${n2}`);
      }
      if (!Number.isFinite(v) || v < 0) throw invalid(`G0[${k}]`, `value must be finite and ≥ 0, got ${v}`);
      G[i * n2 + j] = G[i * n2 + j]! + v;
    }
  } else {
    const dense = G0 as ArrayLike<number>;
    if (dense.length !== n1 * n2) throw invalid('G0', `expected ${n1 * n2} entries, got ${dense.length}`);
    for (let k = 0; k < dense.length; k++) {
      const v = dense[k]!;
      if (!Number.isFinite(v) || v < 0) throw invalid(`G0[${Math.floor(k / n2)}][${k % n2}]`, `must be finite and ≥ 0, got ${v}`);
      G[k] = v;
    }
  }
  const err = marginalError(G, p, q);
  if (err > 1e-8) throw invalid('G0', `marginals differ from p, q by ${err} (must be a coupling of p and q)`);
  return G;
}

/**
 * out = A·S·Bᵀ for a sparse S given as (rows, cols, vals), with `BT` = Bᵀ (so S·Bᵀ is a sum of
 * contiguous rows of BT). One dense product remains: A·(S·Bᵀ). `T` (n1×n2) and `Tt` (n2×n1) are
 * scratch.
 */
function sparseSandwich(
  A: Float64Array,
  nnz: number,
  rows: Int32Array,
  cols: Int32Array,
  vals: Float64Array,
  BT: Float64Array,
  n1: number,
  n2: number,
  T: Float64Array,
  Tt: Float64Array,
  out: Float64Array,
): void {
  T.fill(0);
  for (let e = 0; e < nnz; e++) {
    const k = rows[e]! * n2;
    const l = cols[e]! * n2;
    const v = vals[e]!;
    for (let j = 0; j < n2; j++) T[k + j] = T[k + j]! + v * BT[l + j]!;
  }
  transpose(T, n1, n2, Tt);
  mulABt(A, Tt, n1, n1, n2, out);
}

export function fgwExact(pb: FgwProblem, options: ExactOptions): FgwResult<ExactDiagnostics> {
  const alpha = checkAlpha(options.alpha);
  const maxIter = options.maxIter ?? 10000;
  const tolRel = options.tolRel ?? 1e-9;
  const tolAbs = options.tolAbs ?? 1e-9;
  if (!Number.isInteger(maxIter) || maxIter < 1) throw invalid('maxIter', `must be an integer ≥ 1, got ${maxIter}`);
  if (!(tolRel >= 0) || !(tolAbs >= 0)) throw invalid('tol', 'tolerances must be ≥ 0');
  const deadline = options.deadline ?? deadlineOf(options.timeLimitMs);
  const { n1, n2, M, C1, C2, p, q } = pb;
  const nn = n1 * n2;
  const symmetric = options.symmetric === undefined || options.symmetric === 'auto' ? detectSymmetric(pb) : options.symmetric;
  const tensor = prepareTensor(pb, symmetric);
  const { constC } = tensor;
  const C1t = tensor.C1t;
  const C2t = tensor.C2t;
  const constCt = tensor.constCt;

  const Mlin = new Float64Array(nn);
  for (let k = 0; k < nn; k++) Mlin[k] = (1 - alpha) * M[k]!;

  const G = startingPlan(pb, options.G0);
  const P = new Float64Array(nn); // C1·G·C2ᵀ
  const Pt = symmetric ? null : new Float64Array(nn); // C1ᵀ·G·C2
  const tmp = new Float64Array(nn);
  const tmp2 = new Float64Array(nn);
  if (options.G0 === undefined) {
    // G = p·qᵀ is rank one: C1·G·C2ᵀ = (C1·p)(C2·q)ᵀ.
    const outer = (A: Float64Array, B: Float64Array, out: Float64Array): void => {
      const x = new Float64Array(n1);
      const y = new Float64Array(n2);
      for (let i = 0; i < n1; i++) {
        let s = 0;
        for (let k = 0; k < n1; k++) s += A[i * n1 + k]! * p[k]!;
        x[i] = s;
      }
      for (let j = 0; j < n2; j++) {
        let s = 0;
        for (let l = 0; l < n2; l++) s += B[j * n2 + l]! * q[l]!;
        y[j] = s;
      }
      for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) out[i * n2 + j] = x[i]! * y[j]!;
    };
    outer(C1, C2, P);
    if (Pt) outer(C1t!, C2t!, Pt);
  } else {
    sandwich(C1, G, C2, n1, n2, tmp, P);
    if (Pt) sandwich(C1t!, G, C2t!, n1, n2, tmp, Pt);
  }

  let cost = frob(Mlin, G) + alpha * gwFromProduct(constC, P, G);
  const initialCost = cost;

  const Mi = new Float64Array(nn);
  const D = new Float64Array(nn); // C1·Gc·C2ᵀ, then C1·Δ·C2ᵀ
  const Dt = symmetric ? null : new Float64Array(nn);
  const delta = new Float64Array(nn);
  const Gc = new Float64Array(nn);
  const rows = new Int32Array(n1 + n2);
  const cols = new Int32Array(n1 + n2);
  const vals = new Float64Array(n1 + n2);
  const lp = new TransportSimplex(p, q);
  const warm = options.warmStartLp ?? true;
  const lpOptions = {
    warmStart: false,
    plan: Gc,
    duals: false,
    onNonFiniteCost: (i: number, j: number, value: number): never => {
      throw invalid('input', `the linearised FGW cost (1−α)·M + α·∇ at [${i}][${j}] is ${value}: M and the structure matrices C1, C2 are too large together for a double; scale them down`);
    },
    ...(options.maxPivots !== undefined ? { maxPivots: options.maxPivots } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  };

  const costHistory: number[] = [];
  const steps: number[] = [];
  const lpPivots: number[] = [];
  let lpMaxIterHits = 0;
  let lpWithTies = 0;
  let stopReason: StopReason = 'max_iter';
  let it = 0;

  while (true) {
    it++;
    if (deadline !== undefined) checkDeadline(deadline, `iteration ${it} of maxIter ${maxIter}`);
    const oldCost = cost;

    // Linearisation: (1−α)M + α·∇, ∇ = 2·L⊗G (symmetric) or the mean of both orientations.
    if (symmetric) {
      for (let k = 0; k < nn; k++) Mi[k] = Mlin[k]! + alpha * (2 * (constC[k]! - 2 * P[k]!));
    } else {
      for (let k = 0; k < nn; k++) {
        Mi[k] = Mlin[k]! + alpha * (0.5 * (2 * (constC[k]! - 2 * P[k]!) + 2 * (constCt![k]! - 2 * Pt![k]!)));
      }
    }

    lpOptions.warmStart = warm && it > 1;
    const res = lp.solve(Mi, lpOptions);
    lpPivots.push(res.pivots);
    if (res.status !== 'optimal') lpMaxIterHits++;
    if (res.zeroReducedCosts > 0) lpWithTies++;

    let nnz = 0;
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) {
        const v = Gc[i * n2 + j]!;
        if (v > 0) {
          rows[nnz] = i;
          cols[nnz] = j;
          vals[nnz] = v;
          nnz++;
        }
      }
    }
    for (let k = 0; k < nn; k++) delta[k] = Gc[k]! - G[k]!;

    // D = C1·Gc·C2ᵀ − C1·G·C2ᵀ = C1·Δ·C2ᵀ
    sparseSandwich(C1, nnz, rows, cols, vals, symmetric ? C2 : C2t!, n1, n2, tmp, tmp2, D);
    for (let k = 0; k < nn; k++) D[k] = D[k]! - P[k]!;
    if (Dt) {
      sparseSandwich(C1t!, nnz, rows, cols, vals, C2, n1, n2, tmp, tmp2, Dt);
      for (let k = 0; k < nn; k++) Dt[k] = Dt[k]! - Pt![k]!;
    }

    const a = -2 * alpha * frob(D, delta);
    const b = symmetric
      ? frob(Mlin, delta) - 4 * alpha * frob(D, G)
      : frob(Mlin, delta) - 2 * alpha * (frob(D, G) + frob(P, delta));
    const t = lineSearchStep(a, b);
    cost = cost + a * t * t + b * t;
    steps.push(t);
    costHistory.push(cost);

    if (t !== 0) {
      for (let k = 0; k < nn; k++) {
        G[k] = G[k]! + t * delta[k]!;
        P[k] = P[k]! + t * D[k]!;
      }
      if (Pt) for (let k = 0; k < nn; k++) Pt[k] = Pt[k]! + t * Dt![k]!;
    }

    if (!Number.isFinite(cost)) throw invalid('input', 'the FGW cost became non-finite; check the magnitudes of M and C');

    const absDelta = Math.abs(cost - oldCost);
    const relDelta = cost !== 0 ? absDelta / Math.abs(cost) : Number.NaN;
    if (relDelta < tolRel) {
      stopReason = 'tol_rel';
      break;
    }
    if (absDelta < tolAbs) {
      stopReason = 'tol_abs';
      break;
    }
    if (it >= maxIter) {
      stopReason = 'max_iter';
      break;
    }
  }

  // Final terms from a fresh product, not the incrementally updated one.
  sandwich(C1, G, C2, n1, n2, tmp, P);
  const linTerm = frob(M, G);
  const gwTerm = gwFromProduct(constC, P, G);
  const valueAtPlan = (1 - alpha) * linTerm + alpha * gwTerm;

  return {
    value: cost,
    plan: G,
    n1,
    n2,
    iterations: it,
    converged: stopReason !== 'max_iter',
    linTerm,
    gwTerm,
    diagnostics: {
      method: 'exact',
      alpha,
      symmetric,
      initialCost,
      costHistory,
      steps,
      lpPivots,
      lpMaxIterHits,
      lpWithTies,
      stopReason,
      valueAtPlan,
      marginalError: marginalError(G, p, q),
    },
  };
}
