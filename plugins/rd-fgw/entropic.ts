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
 *
 * The production solver keeps the whole iteration in one WebAssembly memory per problem size
 * (wasm-entropic.ts: products, cost update, step norm, Sinkhorn passes; no operand copied per
 * iteration); without WebAssembly SIMD, or with `wasm: false`, the same steps run in JavaScript.
 */
import { type Deadline, checkDeadline, deadlineOf, invalid, notConverged } from './errors.ts';
import { type FgwResult, startingPlan } from './exact.ts';
import { symmetryOf, transpose } from './linalg.ts';
import { type FgwProblem, type StartRun, checkAlpha, sandwich } from './problem.ts';
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
   * Starting coupling (dense n1×n2 or sparse [i, j, v]); default p·qᵀ, the reference's start. Must be
   * a coupling of p and q.
   */
  G0?: ArrayLike<number> | readonly (readonly [number, number, number])[];
  /**
   * 'log' only: run the products, the cost update and the Sinkhorn passes in WebAssembly SIMD
   * when available (default true); false keeps everything in JavaScript (same results to rounding).
   */
  wasm?: boolean;
  /**
   * Wall-clock limit in ms (default: none). Tested every outer iteration and every few Sinkhorn
   * sweeps; past it the solve stops with LIMIT_RD_NOT_CONVERGED (details.field 'timeLimitMs').
   */
  timeLimitMs?: number;
  /**
   * A deadline already running (`computeFgw` starts one before building the matrices, so that
   * building them counts against `timeLimitMs` too); when given, `timeLimitMs` is not read.
   */
  deadline?: Deadline;
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
  /**
   * Both runs, when the service (`solveFgw`) also ran from the north-west-corner coupling (a pure
   * Gromov–Wasserstein problem); absent when it ran once.
   */
  starts?: StartRun[];
}

interface Support {
  rows: Int32Array;
  cols: Int32Array;
}

/** Row statistics of a structure matrix C (n×n) with node weights w, from one pass over C. */
interface Structure {
  /** Σ_k C[i][k]²·w[k]: constC = sq₁[i] + sq₂[j]. */
  sq: Float64Array;
  /** (C·w)[i]: the start product C1·p·qᵀ·C2ᵀ = (C1·p)(C2·q)ᵀ. */
  w: Float64Array;
  /** ‖C‖_F². */
  frob2: number;
  /** ‖J·C·J‖_F² with J = I − 11ᵀ/n, for symmetric C: ‖C‖_F² − (2/n)·‖C·1‖² + (1ᵀC1/n)². */
  centred2: number;
}

function structureOf(C: Float64Array, w: Float64Array, n: number): Structure {
  const sq = new Float64Array(n);
  const cw = new Float64Array(n);
  let frob2 = 0;
  let rows2 = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    let t = 0;
    let f = 0;
    let r = 0;
    for (let k = 0; k < n; k++) {
      const x = C[i * n + k]!;
      s += x * x * w[k]!;
      t += x * w[k]!;
      f += x * x;
      r += x;
    }
    sq[i] = s;
    cw[i] = t;
    frob2 += f;
    rows2 += r * r;
    total += r;
  }
  // Clamped at 0 (rounding) — it bounds a norm.
  const centred2 = Math.max(0, frob2 - (2 / n) * rows2 + (total / n) ** 2);
  return { sq, w: cw, frob2, centred2 };
}

/**
 * The start, in one pass: T = p·qᵀ (when T is given) and the rank-one P = (C1·p)(C2·q)ᵀ from
 * a = C1·p, b = C2·q — O(n²) instead of two O(n³) products. Rows of ld.
 */
function startPass(a: Float64Array, b: Float64Array, p: Float64Array | null, q: Float64Array | null, T: Float64Array | null, P: Float64Array, ld: number, n1: number, n2: number): void {
  for (let i = 0; i < n1; i++) {
    const ai = a[i]!;
    const row = i * ld;
    for (let j = 0; j < n2; j++) P[row + j] = ai * b[j]!;
    if (T) {
      const pi = p![i]!;
      for (let j = 0; j < n2; j++) T[row + j] = pi * q![j]!;
    }
  }
}

/**
 * A0 = c·(r_i + s_j [+ rt_i + st_j]) + m·M_ij, rows of ld: the part of the linearised cost that
 * does not change (constC[i][j] = r_i + s_j, constCt likewise).
 */
function costConstant(c: number, r: Float64Array, s: Float64Array, rt: Float64Array | null, st: Float64Array | null, m: number, M: Float64Array, A0: Float64Array, ld: number, n1: number, n2: number): void {
  for (let i = 0; i < n1; i++) {
    const ri = r[i]!;
    const row = i * ld;
    const mrow = i * n2;
    if (rt && st) {
      const rti = rt[i]!;
      for (let j = 0; j < n2; j++) A0[row + j] = c * (ri + s[j]! + (rti + st[j]!)) + m * M[mrow + j]!;
    } else {
      for (let j = 0; j < n2; j++) A0[row + j] = c * (ri + s[j]!) + m * M[mrow + j]!;
    }
  }
}

/** The linearised cost in JavaScript (compact rows): the reference's formula term by term. */
function jsCost(alpha: number, cr: Float64Array, cc: Float64Array, crt: Float64Array | null, cct: Float64Array | null, P: Float64Array, Pt: Float64Array | null, M: Float64Array, tens: Float64Array, n1: number, n2: number): void {
  for (let i = 0; i < n1; i++) {
    const ri = cr[i]!;
    const row = i * n2;
    if (Pt && crt && cct) {
      const rti = crt[i]!;
      for (let j = 0; j < n2; j++) {
        const k = row + j;
        tens[k] = alpha * 0.5 * (2 * (ri + cc[j]! - 2 * P[k]!) + 2 * (rti + cct[j]! - 2 * Pt[k]!)) + (1 - alpha) * M[k]!;
      }
    } else {
      for (let j = 0; j < n2; j++) {
        const k = row + j;
        tens[k] = alpha * (2 * (ri + cc[j]! - 2 * P[k]!)) + (1 - alpha) * M[k]!;
      }
    }
  }
}

/** Σ (x − y)² over the first n entries. */
function diff2(x: Float64Array, y: Float64Array, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) {
    const d = x[k]! - y[k]!;
    s += d * d;
  }
  return s;
}

interface FinalSums {
  linTerm: number;
  marginal: number;
  /** Mass the plan puts in the wrong place: max(Σ_i |row_i − p_i|, Σ_j |col_j − q_j|). */
  misplaced: number;
  cT: number;
  pT: number;
  dRow2: number;
  dCol2: number;
  dSum: number;
}

/**
 * One pass over the result: ⟨M, T⟩, the plan (compact, zero-mass rows and columns put back when
 * `sup` is given) and its largest marginal deviation; with `shortcut` also ⟨constC, T⟩,
 * ⟨P, 2T − Tprev⟩ and the squared row sums, squared column sums and total of Δ = T − Tprev.
 */
function finalPass(
  T: Float64Array,
  Tprev: Float64Array,
  P: Float64Array,
  ld: number,
  M: Float64Array,
  n1: number,
  n2: number,
  p: Float64Array,
  q: Float64Array,
  cr: Float64Array,
  cc: Float64Array,
  shortcut: boolean,
  plan: Float64Array,
  planCols: number,
  sup: Support | null,
): FinalSums {
  const colSum = new Float64Array(n2);
  const dCol = new Float64Array(n2);
  let linTerm = 0;
  let cT = 0;
  let pT = 0;
  let dRow2 = 0;
  let dSum = 0;
  let marginal = 0;
  let rowL1 = 0;
  for (let i = 0; i < n1; i++) {
    const row = i * ld;
    const mrow = i * n2;
    let rowSum = 0;
    for (let j = 0; j < n2; j++) {
      const t = T[row + j]!;
      linTerm += M[mrow + j]! * t;
      rowSum += t;
      colSum[j] = colSum[j]! + t;
    }
    if (sup) {
      const prow = sup.rows[i]! * planCols;
      for (let j = 0; j < n2; j++) plan[prow + sup.cols[j]!] = T[row + j]!;
    } else {
      plan.set(T.subarray(row, row + n2), mrow);
    }
    const rowErr = Math.abs(rowSum - p[i]!);
    marginal = Math.max(marginal, rowErr);
    rowL1 += rowErr;
    if (shortcut) {
      const ci = cr[i]!;
      let dRow = 0;
      for (let j = 0; j < n2; j++) {
        const t = T[row + j]!;
        const d = t - Tprev[row + j]!;
        cT += (ci + cc[j]!) * t;
        pT += P[row + j]! * (2 * t - Tprev[row + j]!);
        dRow += d;
        dCol[j] = dCol[j]! + d;
      }
      dRow2 += dRow * dRow;
      dSum += dRow;
    }
  }
  let dCol2 = 0;
  let colL1 = 0;
  for (let j = 0; j < n2; j++) {
    const colErr = Math.abs(colSum[j]! - q[j]!);
    marginal = Math.max(marginal, colErr);
    colL1 += colErr;
    dCol2 += dCol[j]! * dCol[j]!;
  }
  // NaN when the plan holds a NaN: it then fails every tolerance test.
  const misplaced = rowL1 !== rowL1 || colL1 !== colL1 ? NaN : Math.max(rowL1, colL1);
  return { linTerm, marginal, misplaced, cT, pT, dRow2, dCol2, dSum };
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
  /** A solve is using it or one did not finish (threw, was refused): the kernel's memory may hold NaN. */
  dirty: boolean;
}
const cachedWorkspaces: { js: Workspace | null; wasm: Workspace | null } = { js: null, wasm: null };

function workspace(n1: number, n2: number, wasm: boolean, asymmetric: boolean): Workspace {
  const w = wasm ? cachedWorkspaces.wasm : cachedWorkspaces.js;
  if (w && w.n1 === n1 && w.n2 === n2 && (!w.kernel || w.Pt.length > 0 || !asymmetric)) {
    // What a failed earlier solve left in the kernel's memory (NaN in padding) must not reach this
    // one: the kernel starts as a new one would. After a successful solve nothing needs zeroing.
    if (w.dirty) w.kernel?.clear();
    w.dirty = true;
    return w;
  }
  if (wasm) {
    const kernel = EntropicKernel.create(n1, n2, { asymmetric });
    if (kernel) {
      const fresh: Workspace = { n1, n2, ld: kernel.n2p, kernel, T: kernel.T, Tprev: kernel.Tprev, P: kernel.P, Pt: kernel.Pt, tmp: new Float64Array(0), tens: kernel.cost, log: null, dirty: true };
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
    dirty: true,
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

/** Largest allowed misplaced mass of the returned plan (log solver; its inner tolerance is 1e-12). */
const MASS_TOL_LOG = 1e-6;
/** The same for the 'scaling' replica, whose inner solves stop at 1000 sweeps like the reference (observed up to 1e-3 there). */
const MASS_TOL_SCALING = 1e-2;

function weightedSum(x: Float64Array, w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * w[i]!;
  return s;
}

/** An estimate of the largest entry of the linearised cost (1−α)·M + 2α·constC (error messages only). */
function costMagnitude(M: Float64Array, cr: Float64Array, cc: Float64Array, alpha: number): number {
  let m = 0;
  for (let k = 0; k < M.length; k++) if (M[k]! > m) m = M[k]!;
  let a = 0;
  let b = 0;
  for (let i = 0; i < cr.length; i++) if (cr[i]! > a) a = cr[i]!;
  for (let j = 0; j < cc.length; j++) if (cc[j]! > b) b = cc[j]!;
  return (1 - alpha) * m + 2 * alpha * (a + b);
}

/**
 * ε must be a finite number > 0 whose reciprocal is a double too: below 2^-1024 (about 5.6e-309)
 * every cost/ε overflows, and no input can be solved.
 */
export function checkEpsilon(eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw invalid('epsilon', `must be a finite number > 0, got ${String(eps)}`);
  }
  if (!Number.isFinite(1 / eps)) {
    throw invalid('epsilon', `${eps} is too small: 1/ε overflows a double, so every cost/ε does and no graph can be solved; use ε ≥ 1e-300 (the costs' scale times 1e-3 or more is typical)`);
  }
  return eps;
}

export function fgwEntropic(full: FgwProblem, options: EntropicOptions): FgwResult<EntropicDiagnostics> {
  const alpha = checkAlpha(options.alpha);
  const eps = checkEpsilon(options.epsilon);
  const solver: InnerSolver = options.solver ?? 'log';
  if (solver !== 'log' && solver !== 'scaling') throw invalid('solver', `must be 'log' or 'scaling', got ${String(solver)}`);
  const maxIter = options.maxIter ?? 1000;
  const tol = options.tol ?? 1e-9;
  const innerMaxIter = options.innerMaxIter ?? (solver === 'scaling' ? 1000 : 20000);
  const innerTol = options.innerTol ?? (solver === 'scaling' ? 1e-9 : 1e-12);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw invalid('maxIter', `must be an integer ≥ 1, got ${maxIter}`);
  if (!Number.isInteger(innerMaxIter) || innerMaxIter < 1) throw invalid('innerMaxIter', `must be an integer ≥ 1, got ${innerMaxIter}`);
  if (!(tol >= 0) || !(innerTol >= 0)) throw invalid('tol', 'tolerances must be ≥ 0');
  const deadline = options.deadline ?? deadlineOf(options.timeLimitMs);

  // One pass over each structure tells numpy-style closeness (atol 1e-10, which decides the
  // gradient's form) and bitwise symmetry (which the value shortcut below needs).
  const sym1 = symmetryOf(full.C1, full.n1, 1e-10);
  const sym2 = symmetryOf(full.C2, full.n2, 1e-10);
  const symmetric = options.symmetric === undefined || options.symmetric === 'auto' ? sym1.close && sym2.close : options.symmetric;
  const sup: Support = { rows: support(full.p), cols: support(full.q) };
  const pb = restrict(full, sup);
  const { n1, n2, M, C1, C2, p, q } = pb;
  const nn = n1 * n2;
  // constC[i][j] = s1.sq[i] + s2.sq[j] (never stored), and the rank-one start product from s·.w.
  const s1 = structureOf(C1, p, n1);
  const s2 = structureOf(C2, q, n2);
  let C1t: Float64Array | null = null;
  let C2t: Float64Array | null = null;
  let s1t: Structure | null = null;
  let s2t: Structure | null = null;
  if (!symmetric) {
    C1t = new Float64Array(n1 * n1);
    C2t = new Float64Array(n2 * n2);
    transpose(C1, n1, n1, C1t);
    transpose(C2, n2, n2, C2t);
    s1t = structureOf(C1t, p, n1);
    s2t = structureOf(C2t, q, n2);
  }
  const cr = s1.sq;
  const cc = s2.sq;
  const crt = s1t?.sq ?? null;
  const cct = s2t?.sq ?? null;

  const ws = workspace(n1, n2, solver === 'log' && options.wasm !== false, !symmetric);
  const { kernel, ld, P, tmp, tens } = ws;
  let T = ws.T;
  let Tprev = ws.Tprev;
  const Pt = symmetric ? null : ws.Pt;
  if (kernel) kernel.setStructures(C1, C2, C1t, C2t);
  // In one pass: T = p·qᵀ; P = C1·p·qᵀ·C2ᵀ = (C1·p)(C2·q)ᵀ, rank one (O(n²) instead of two O(n³)
  // products), Pt likewise; and for the kernel the constant part of the cost,
  // tens = A0 − 4α·P (or A0 − 2α·(P + Pt)), A0 = 2α·constC + (1−α)·M (or α·(constC + constCt) + (1−α)·M).
  const start = options.G0 === undefined ? null : startingPlan(full, options.G0);
  if (!start) {
    startPass(s1.w, s2.w, p, q, T, P, ld, n1, n2);
    if (Pt) startPass(s1t!.w, s2t!.w, null, null, null, Pt, ld, n1, n2);
  }
  if (kernel) {
    if (symmetric) costConstant(2 * alpha, cr, cc, null, null, 1 - alpha, M, kernel.A0, ld, n1, n2);
    else costConstant(alpha, cr, cc, crt, cct, 1 - alpha, M, kernel.A0, ld, n1, n2);
  }
  const product = (): void => {
    if (kernel) {
      kernel.sandwich(false, T, P);
      if (Pt) kernel.sandwich(true, T, Pt);
      return;
    }
    sandwich(C1, T, C2, n1, n2, tmp, P);
    if (Pt) sandwich(C1t!, T, C2t!, n1, n2, tmp, Pt);
  };
  if (start) {
    // A given start: its rows and columns of mass into T (a coupling of p and q has nothing
    // elsewhere), then its products P(T) in full.
    for (let i = 0; i < n1; i++) {
      const from = sup.rows[i]! * full.n2;
      for (let j = 0; j < n2; j++) T[i * ld + j] = start[from + sup.cols[j]!]!;
    }
    product();
  }

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
  const shortcut = solver === 'log' && symmetric && sym1.exact && sym2.exact;

  let cpt = 0;
  let err = 1;
  let innerSweeps = 0;
  let innerNotConverged = 0;
  let numericalErrors = 0;
  let worstInner = 0;
  while (err > tol && cpt < maxIter) {
    if (deadline !== undefined) checkDeadline(deadline, `outer iteration ${cpt + 1} of maxIter ${maxIter}`);
    if (kernel) {
      kernel.axpy(tens, kernel.A0, P, symmetric ? -4 * alpha : -2 * alpha);
      if (Pt) kernel.axpy(tens, tens, Pt, -2 * alpha);
    } else {
      jsCost(alpha, cr, cc, crt, cct, P, Pt, M, tens, n1, n2);
    }
    const swap = Tprev;
    Tprev = T;
    T = swap;
    const stats = scaling
      ? scaling.solve(tens, eps, { maxSweeps: innerMaxIter, tol: innerTol, initRows: full.n1, initCols: full.n2, ...(deadline ? { deadline } : {}) }, T)
      : logSolver!.solve(tens, eps, { maxSweeps: innerMaxIter, tol: innerTol, warmStart: warm, ...(deadline ? { deadline } : {}) }, T);
    innerSweeps += stats.sweeps;
    if (!stats.converged && !stats.numericalError) innerNotConverged++;
    if (stats.numericalError) numericalErrors++;
    if (stats.marginalError > worstInner) worstInner = stats.marginalError;
    if (cpt % checkEvery === 0) {
      if (kernel) {
        // Over the padded matrices: their padding is zero in both.
        err = Math.sqrt(kernel.diff2(T, Tprev));
      } else {
        err = Math.sqrt(diff2(T, Tprev, nn));
      }
    }
    cpt++;
    // Converged: P(T_k) would only serve the value, which the update below gets without it.
    if (shortcut && err <= tol) break;
    product();
  }

  // One pass over the result: ⟨M, T⟩, the plan (compact, zero-mass rows and columns put back) and
  // its marginals; with the shortcut also ⟨constC, T⟩, ⟨P, 2T − Tprev⟩ and the row and column sums
  // of Δ = T − Tprev.
  const useShortcut = shortcut && err <= tol;
  const plan = new Float64Array(full.n1 * full.n2);
  const fin = finalPass(T, Tprev, P, ld, M, n1, n2, p, q, cr, cc, useShortcut, plan, full.n2, pb === full ? null : sup);
  const linTerm = fin.linTerm;
  let gwTerm = NaN;
  if (useShortcut) {
    // P still holds P(T_{k−1}). With Δ = T_k − T_{k−1} and C1, C2 exactly symmetric,
    //   ⟨P(T_k), T_k⟩ = ⟨P(T_{k−1}), 2·T_k − T_{k−1}⟩ + E,  E = ⟨Δ, C1·Δ·C2⟩,
    // and the value ⟨constC, T⟩ − 2⟨P(T_k), T_k⟩ is `approx` − 2E. The last O(n³) product is
    // skipped only when a bound on |2E| is far below the value's rounding. Both plans have the
    // marginals p, q (to the inner tolerance), so Δ is nearly doubly centred: with J the centring
    // projections, D = J·Δ·J and R = Δ − D (made of Δ's row sums ρ, column sums γ and total s,
    // ‖R‖_F ≤ ‖γ‖/√n1 + ‖ρ‖/√n2 + |s|/√(n1·n2)),
    //   |E| ≤ ‖J·C1·J‖_F·‖J·C2·J‖_F·‖Δ‖² + (2‖Δ‖·‖R‖ + ‖R‖²)·‖C1‖_F·‖C2‖_F
    // (⟨D, C1·D·C2⟩ = ⟨D, JC1J·D·JC2J⟩, ‖D‖ ≤ ‖Δ‖, err = ‖Δ‖_F measured this iteration). Centring
    // removes the large constant-vector part of distance matrices, which the plain bound
    // ‖C1‖_F·‖C2‖_F·‖Δ‖² carried.
    const r = Math.sqrt(fin.dCol2 / n1) + Math.sqrt(fin.dRow2 / n2) + Math.abs(fin.dSum) / Math.sqrt(n1 * n2);
    const e = Math.sqrt(s1.centred2 * s2.centred2) * err * err + (2 * err * r + r * r) * Math.sqrt(s1.frob2 * s2.frob2);
    const approx = fin.cT - 2 * fin.pT;
    const bound = 2 * e;
    if (bound <= 1e-14 * Math.abs(approx) || bound <= 1e-17) gwTerm = approx;
  }
  if (Number.isNaN(gwTerm)) {
    if (useShortcut) product();
    // ⟨L⊗T, T⟩ = ⟨constC − 2·P, T⟩.
    let s = 0;
    for (let i = 0; i < n1; i++) {
      for (let j = 0; j < n2; j++) s += (cr[i]! + cc[j]! - 2 * P[i * ld + j]!) * T[i * ld + j]!;
    }
    gwTerm = s;
  }
  const value = (1 - alpha) * linTerm + alpha * gwTerm;
  // The result must be a coupling of p and q with a value ≥ 0: costs far above ε (exp(−cost/ε)
  // beyond double precision), or inner solves cut short, can leave a plan that is not one — wrong
  // mass, gwTerm < 0 — although the outer loop stopped. Refuse it rather than return it.
  const massTol = Math.max(solver === 'log' ? MASS_TOL_LOG : MASS_TOL_SCALING, 1e3 * innerTol);
  const cScale = weightedSum(cr, p) + weightedSum(cc, q);
  const gwTol = 1e-9 * cScale;
  if (!Number.isFinite(value) || !(fin.misplaced <= massTol) || !(gwTerm >= -gwTol)) {
    const what = !Number.isFinite(value)
      ? `produced a non-finite value`
      : !(fin.misplaced <= massTol)
        ? `did not produce a coupling of the weights: its plan puts ${fin.misplaced.toPrecision(3)} of the mass in the wrong rows or columns (tolerance ${massTol})`
        : `produced a negative structure term (gwTerm ${gwTerm.toPrecision(3)})`;
    const maxCost = costMagnitude(M, cr, cc, alpha);
    const advice: string[] = [];
    if (solver === 'scaling') {
      advice.push(`use the 'log' solver (the default)${numericalErrors > 0 ? `: the 'scaling' Sinkhorn under- or overflowed in ${numericalErrors} inner solves` : ''}`);
    }
    advice.push(
      `use a larger ε (the costs from M and the structure matrices reach about ${maxCost.toPrecision(3)}, ${(maxCost / eps).toPrecision(3)} times ε; far above ε, exp(−cost/ε) is beyond double precision), or scale the features and structures down (normalize: true for graphs)`,
    );
    if (innerNotConverged > 0) advice.push(`raise innerMaxIter (${innerNotConverged} inner Sinkhorn solves stopped at ${innerMaxIter} sweeps)`);
    throw notConverged('epsilon', `the entropic solver${solver === 'scaling' ? " ('scaling')" : ''} ${what} (ε = ${eps}); ${advice.join('; or ')}`);
  }
  ws.dirty = false; // finished: the next solve of this size reuses the memory as it is
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
      marginalError: fin.marginal,
    },
  };
}
