/**
 * Inner solvers of entropic OT: T = argmin ⟨C, T⟩ + ε·Σ T log T over couplings of (a, b).
 *
 * - `ScalingSinkhorn` replicates the reference (POT's sinkhorn_knopp) step for step: u = 1/n1,
 *   v = 1/n2, each sweep v = b/(Kᵀu) then u = 1/((diag(1/a)·K)·v), the column-marginal error
 *   ‖colsum − b‖₂ checked at sweeps 0, 10, 20, …, a sweep cap, and a return to the previous
 *   scalings when Kᵀu has a zero or a non-finite value appears. It exists to check against the
 *   reference values; with small ε its kernel exp(−C/ε) underflows.
 * - `LogSinkhorn` is the production solver: log-domain potentials f, g with the kernel stabilised
 *   by absorption (K̃ = exp((f_i + g_j − C_ij)/ε), scalings folded into f, g whenever they drift
 *   far from 1), so a sweep costs two mat-vecs in one pass over K̃ instead of n1·n2 exponentials. Whenever a
 *   sum underflows to 0 or a scaling leaves the finite range it falls back to an exact
 *   log-sum-exp sweep, so it cannot produce NaN. It checks the marginals every sweep (for free,
 *   from the Kᵀu it needs anyway) and can be warm-started from the previous potentials.
 *   Sinkhorn's linear rate collapses for small ε (near-permutation plans: millions of sweeps for
 *   a 4×4 problem at ε = 0.01), so when a burst of sweeps has not converged it switches to
 *   Newton's method on the semi-dual in g (f eliminated in closed form), whose Hessian is the
 *   Schur complement diag(c) − Tᵀ·diag(1/a)·T: quadratic convergence to the rounding floor.
 *   Its three O(n1·n2) passes — kernel rebuild (one exponential per entry), fused sweep, plan —
 *   run in WebAssembly SIMD (wasm-sinkhorn.ts) where available; the JavaScript loops remain the
 *   fallback and the check (`{ wasm: false }`).
 */

import { type Deadline, checkDeadline } from './errors.ts';
import { mulABt } from './linalg.ts';
import { EntropicKernel } from './wasm-entropic.ts';

/**
 * Solves S·x = rhs for symmetric positive semi-definite S whose null space is the constant
 * vector, with x[pin] = 0: Cholesky on S without row and column `pin` (S is overwritten). A
 * vanishing pivot gets a tiny diagonal shift. Returns false if the factorisation fails anyway.
 */
function solvePinned(S: Float64Array, rhs: Float64Array, x: Float64Array, n: number, pin: number): boolean {
  // Move the pinned index last so the leading (n−1)×(n−1) block is the reduced system.
  if (pin !== n - 1) {
    const last = n - 1;
    for (let k = 0; k < n; k++) {
      const t = S[pin * n + k]!;
      S[pin * n + k] = S[last * n + k]!;
      S[last * n + k] = t;
    }
    for (let k = 0; k < n; k++) {
      const t = S[k * n + pin]!;
      S[k * n + pin] = S[k * n + last]!;
      S[k * n + last] = t;
    }
    const t = rhs[pin]!;
    rhs[pin] = rhs[last]!;
    rhs[last] = t;
  }
  const m = n - 1;
  let trace = 0;
  for (let k = 0; k < m; k++) trace += Math.abs(S[k * n + k]!);
  const floor = (trace / Math.max(m, 1)) * 1e-14;
  choleskyLower(S, m, n, floor);
  // Forward and back substitution on the lower factor.
  for (let i = 0; i < m; i++) {
    const ri = i * n;
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= S[ri + k]! * x[k]!;
    x[i] = s / S[ri + i]!;
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < m; k++) s -= S[k * n + i]! * x[k]!;
    x[i] = s / S[i * n + i]!;
  }
  x[m] = 0;
  if (pin !== n - 1) {
    const t = x[pin]!;
    x[pin] = x[m]!;
    x[m] = t;
  }
  for (let k = 0; k < n; k++) if (!Number.isFinite(x[k]!)) return false;
  return true;
}

/** Columns per panel of the blocked Cholesky; its trailing updates are A·Bᵀ products (wasm-gemm). */
const CHOL_BLOCK = 48;
let cholPanel = new Float64Array(0);
let cholUpdate = new Float64Array(0);

/**
 * In-place Cholesky of the leading m×m block of S (row stride ld): the lower triangle becomes L
 * with S = L·Lᵀ. Pivots below `floor` are raised to it (the Newton system is only semi-definite up
 * to rounding). Right-looking and blocked: within a panel plain dot products, the trailing update
 * as one matrix product, so the O(m³/3) bulk runs in the SIMD kernel.
 */
function choleskyLower(S: Float64Array, m: number, ld: number, floor: number): void {
  const b = m > 3 * CHOL_BLOCK ? CHOL_BLOCK : m;
  for (let k0 = 0; k0 < m; k0 += b) {
    const k1 = Math.min(m, k0 + b);
    // Diagonal block and panel below it; earlier panels were already subtracted.
    for (let j = k0; j < k1; j++) {
      const rj = j * ld;
      let d = S[rj + j]!;
      for (let k = k0; k < j; k++) d -= S[rj + k]! * S[rj + k]!;
      if (!(d > floor)) d = floor > 0 ? floor : 1e-300;
      const ljj = Math.sqrt(d);
      S[rj + j] = ljj;
      for (let i = j + 1; i < m; i++) {
        const ri = i * ld;
        let s = S[ri + j]!;
        for (let k = k0; k < j; k++) s -= S[ri + k]! * S[rj + k]!;
        S[ri + j] = s / ljj;
      }
    }
    const rows = m - k1;
    if (rows === 0) break;
    const w = k1 - k0;
    if (cholPanel.length < rows * w) cholPanel = new Float64Array(rows * w);
    if (cholUpdate.length < rows * rows) cholUpdate = new Float64Array(rows * rows);
    for (let i = 0; i < rows; i++) cholPanel.set(S.subarray((k1 + i) * ld + k0, (k1 + i) * ld + k1), i * w);
    mulABt(cholPanel, cholPanel, rows, w, rows, cholUpdate);
    for (let i = 0; i < rows; i++) {
      const ri = (k1 + i) * ld + k1;
      const ui = i * rows;
      for (let l = 0; l <= i; l++) S[ri + l] = S[ri + l]! - cholUpdate[ui + l]!;
    }
  }
}

export interface InnerStats {
  sweeps: number;
  converged: boolean;
  /** Sweeps abandoned because of a zero or non-finite value (reference replica only). */
  numericalError: boolean;
  /** L1 deviation of the plan's column sums from b at exit (rows are exact by construction). */
  marginalError: number;
}

export interface ScalingOptions {
  maxSweeps: number;
  tol: number;
  /** Sizes used for the initial u = 1/initRows, v = 1/initCols (the reference's full sizes). */
  initRows: number;
  initCols: number;
  /** Stop with LIMIT_RD_NOT_CONVERGED once this time is past (tested every 16 sweeps). */
  deadline?: Deadline;
}

export class ScalingSinkhorn {
  private readonly K: Float64Array;
  private readonly Kp: Float64Array;
  private readonly u: Float64Array;
  private readonly v: Float64Array;
  private readonly uPrev: Float64Array;
  private readonly vPrev: Float64Array;
  private readonly ktu: Float64Array;
  private readonly col: Float64Array;
  private readonly invA: Float64Array;

  constructor(
    private readonly n1: number,
    private readonly n2: number,
    private readonly a: Float64Array,
    private readonly b: Float64Array,
  ) {
    this.K = new Float64Array(n1 * n2);
    this.Kp = new Float64Array(n1 * n2);
    this.u = new Float64Array(n1);
    this.v = new Float64Array(n2);
    this.uPrev = new Float64Array(n1);
    this.vPrev = new Float64Array(n2);
    this.ktu = new Float64Array(n2);
    this.col = new Float64Array(n2);
    this.invA = new Float64Array(n1);
    for (let i = 0; i < n1; i++) this.invA[i] = 1 / a[i]!;
  }

  solve(C: Float64Array, eps: number, opts: ScalingOptions, plan: Float64Array): InnerStats {
    const { n1, n2, K, Kp, u, v, uPrev, vPrev, ktu, col, invA, b } = this;
    for (let i = 0; i < n1; i++) {
      const row = i * n2;
      const ia = invA[i]!;
      for (let j = 0; j < n2; j++) {
        const k = Math.exp(C[row + j]! / -eps);
        K[row + j] = k;
        Kp[row + j] = ia * k;
      }
    }
    u.fill(1 / opts.initRows);
    v.fill(1 / opts.initCols);
    let converged = false;
    let numericalError = false;
    let sweeps = 0;
    let err = Infinity;
    for (let ii = 0; ii < opts.maxSweeps; ii++) {
      sweeps = ii + 1;
      if ((ii & 15) === 15 && opts.deadline !== undefined) checkDeadline(opts.deadline, `Sinkhorn sweep ${sweeps}`);
      uPrev.set(u);
      vPrev.set(v);
      ktu.fill(0);
      for (let i = 0; i < n1; i++) {
        const ui = u[i]!;
        const row = i * n2;
        for (let j = 0; j < n2; j++) ktu[j] = ktu[j]! + K[row + j]! * ui;
      }
      let bad = false;
      for (let j = 0; j < n2; j++) {
        if (ktu[j] === 0) bad = true;
        v[j] = b[j]! / ktu[j]!;
        if (!Number.isFinite(v[j]!)) bad = true;
      }
      for (let i = 0; i < n1; i++) {
        const row = i * n2;
        let s = 0;
        for (let j = 0; j < n2; j++) s += Kp[row + j]! * v[j]!;
        u[i] = 1 / s;
        if (!Number.isFinite(u[i]!)) bad = true;
      }
      if (bad) {
        u.set(uPrev);
        v.set(vPrev);
        numericalError = true;
        break;
      }
      if (ii % 10 === 0) {
        col.fill(0);
        for (let i = 0; i < n1; i++) {
          const ui = u[i]!;
          const row = i * n2;
          for (let j = 0; j < n2; j++) col[j] = col[j]! + ui * K[row + j]! * v[j]!;
        }
        let s = 0;
        for (let j = 0; j < n2; j++) {
          const d = col[j]! - b[j]!;
          s += d * d;
        }
        err = Math.sqrt(s);
        if (err < opts.tol) {
          converged = true;
          break;
        }
      }
    }
    let merr = 0;
    col.fill(0);
    for (let i = 0; i < n1; i++) {
      const ui = u[i]!;
      const row = i * n2;
      for (let j = 0; j < n2; j++) {
        const t = ui * K[row + j]! * v[j]!;
        plan[row + j] = t;
        col[j] = col[j]! + t;
      }
    }
    for (let j = 0; j < n2; j++) merr += Math.abs(col[j]! - b[j]!);
    return { sweeps, converged, numericalError, marginalError: merr };
  }
}

export interface LogOptions {
  maxSweeps: number;
  /** Stop when Σ_j |colsum_j − b_j| < tol. */
  tol: number;
  /** Start from the potentials of the previous solve on this object. */
  warmStart: boolean;
  /** Sinkhorn sweeps before Newton takes over (default 50). */
  burst?: number;
  /** Largest n2 for which Newton is used (its step costs O(n1·n2² + n2³)); default 1500. */
  newtonMaxSize?: number;  /** Stop with LIMIT_RD_NOT_CONVERGED once this time is past (tested every 16 sweeps and every Newton step). */
  deadline?: Deadline;
}

export interface LogStats extends InnerStats {
  /** Kernel rebuilds (absorptions of the scalings into the potentials). */
  absorptions: number;
  /** Exact log-sum-exp sweeps taken because the scaled sums left the floating-point range. */
  lseSweeps: number;
  /** Newton steps taken. */
  newtonSteps: number;
}

/** |log u| beyond which scalings are folded into the potentials (e^40 ≈ 2·10¹⁷). */
const ABSORB_LOG = 40;
// The same test without a logarithm per scaling per sweep.
const ABSORB_HI = Math.exp(ABSORB_LOG);
const ABSORB_LO = Math.exp(-ABSORB_LOG);

export class LogSinkhorn {
  /** The rebuild, sweep and plan passes in WebAssembly SIMD; null: the JavaScript loops below. */
  private readonly wk: EntropicKernel | null;
  /** Row stride of the cost and plan arrays passed to `solve`. */
  private readonly ld: number;
  /** The cost the kernel works on during a solve: the caller's, or a copy in the kernel's memory. */
  private wkCost: Float64Array | null = null;
  private readonly Kt: Float64Array;
  private readonly f: Float64Array;
  private readonly g: Float64Array;
  private readonly u: Float64Array;
  private readonly v: Float64Array;
  private readonly vNew: Float64Array;
  private readonly ktu: Float64Array;
  private readonly logA: Float64Array;
  private readonly logB: Float64Array;
  private hasPotentials = false;
  // Newton scratch, allocated on first use.
  private nt: { T: Float64Array; Wt: Float64Array; S: Float64Array; rhs: Float64Array; dg: Float64Array; gTry: Float64Array; fTry: Float64Array; c: Float64Array } | null = null;

  constructor(
    private readonly n1: number,
    private readonly n2: number,
    private a: Float64Array,
    private b: Float64Array,
    options: {
      /** false: JavaScript loops only. */
      wasm?: boolean;
      /** Work in this kernel's memory (shared with the caller, whose cost and plan may live there). */
      kernel?: EntropicKernel;
      /** Row stride of the cost and plan passed to `solve` (default n2; the kernel's n2p to pass its views). */
      ld?: number;
    } = {},
  ) {
    const wk = options.wasm === false ? null : (options.kernel ?? EntropicKernel.create(n1, n2));
    if (wk && (wk.n1 !== n1 || wk.n2 !== n2)) throw new RangeError(`LogSinkhorn: kernel is ${wk.n1}×${wk.n2}, expected ${n1}×${n2}`);
    this.wk = wk;
    this.ld = options.ld ?? n2;
    if (this.ld < n2) throw new RangeError(`LogSinkhorn: row stride ${this.ld} < ${n2}`);
    // With the kernel, the potentials and scalings live in its memory (views that stay valid).
    this.Kt = wk ? wk.K : new Float64Array(n1 * n2);
    this.f = wk ? wk.f : new Float64Array(n1);
    this.g = wk ? wk.g : new Float64Array(n2);
    this.u = wk ? wk.u : new Float64Array(n1);
    this.v = wk ? wk.v : new Float64Array(n2);
    this.ktu = wk ? wk.ktu : new Float64Array(n2);
    if (wk) wk.a.set(a);
    this.vNew = new Float64Array(n2);
    this.logA = Float64Array.from(a, Math.log);
    this.logB = Float64Array.from(b, Math.log);
  }

  /** Reuse this solver (and its n1·n2 kernel buffer) for new marginals of the same sizes; the next solve starts cold. */
  reset(a: Float64Array, b: Float64Array): void {
    if (a.length !== this.n1 || b.length !== this.n2) throw new RangeError(`LogSinkhorn.reset: expected ${this.n1} and ${this.n2} weights`);
    this.a = a;
    this.b = b;
    if (this.wk) this.wk.a.set(a);
    for (let i = 0; i < this.n1; i++) this.logA[i] = Math.log(a[i]!);
    for (let j = 0; j < this.n2; j++) this.logB[j] = Math.log(b[j]!);
    this.hasPotentials = false;
  }

  /** Exact log-domain sweep: g from f, then f from g. */
  private lseSweep(C: Float64Array, eps: number): void {
    const { n1, n2, ld, f, g, logA, logB } = this;
    for (let j = 0; j < n2; j++) {
      let mx = -Infinity;
      for (let i = 0; i < n1; i++) {
        const z = (f[i]! - C[i * ld + j]!) / eps;
        if (z > mx) mx = z;
      }
      let s = 0;
      for (let i = 0; i < n1; i++) s += Math.exp((f[i]! - C[i * ld + j]!) / eps - mx);
      g[j] = eps * (logB[j]! - mx - Math.log(s));
    }
    for (let i = 0; i < n1; i++) {
      const row = i * ld;
      let mx = -Infinity;
      for (let j = 0; j < n2; j++) {
        const z = (g[j]! - C[row + j]!) / eps;
        if (z > mx) mx = z;
      }
      let s = 0;
      for (let j = 0; j < n2; j++) s += Math.exp((g[j]! - C[row + j]!) / eps - mx);
      f[i] = eps * (logA[i]! - mx - Math.log(s));
    }
  }

  /**
   * Cold start without exponentials: the ε → 0 limit of a sweep, f_i = min_j C_ij then
   * g_j = min_i (C_ij − f_i). Every exponent f_i + g_j − C_ij is then ≤ 0 and every row and every
   * column has one equal to 0, so K̃ has entries in (0, 1], each row and column sum in [1, n]: the
   * scaled sweeps start in range (an exact log-sum-exp sweep would cost 2·n1·n2 exponentials).
   */
  private hardStart(C: Float64Array): void {
    const { n1, n2, ld, f, g } = this;
    g.fill(Infinity);
    for (let i = 0; i < n1; i++) {
      const row = i * ld;
      let mn = Infinity;
      for (let j = 0; j < n2; j++) if (C[row + j]! < mn) mn = C[row + j]!;
      f[i] = mn;
      for (let j = 0; j < n2; j++) {
        const d = C[row + j]! - mn;
        if (d < g[j]!) g[j] = d;
      }
    }
  }

  /** K̃ from the potentials, u = v = 1, and ktu = K̃ᵀ·1 (its column sums) in the same pass. */
  private rebuild(C: Float64Array, eps: number): void {
    const { n1, n2, ld, Kt, f, g, u, v, ktu, wk } = this;
    if (wk) {
      // The cost in the kernel's memory (solve() copied C there unless it lives there).
      wk.rebuild(this.wkCost!, eps);
      u.fill(1);
      v.fill(1);
      return;
    }
    const inv = 1 / eps;
    ktu.fill(0);
    for (let i = 0; i < n1; i++) {
      const row = i * n2;
      const cRow = i * ld;
      const fi = f[i]!;
      for (let j = 0; j < n2; j++) {
        const k = Math.exp((fi + g[j]! - C[cRow + j]!) * inv);
        Kt[row + j] = k;
        ktu[j] = ktu[j]! + k;
      }
    }
    u.fill(1);
    v.fill(1);
  }

  /**
   * One scaling sweep after v = b/ktu: u = a/(K̃·v), and ktu = K̃ᵀ·u for the next marginal test,
   * fused so that each row of K̃ is read once (two rows at a time: one store into ktu per two
   * multiply-adds). Returns false, with u partly updated, when a row sum leaves the range (0, ∞).
   */
  private scaleRows(): boolean {
    if (this.wk) return this.wk.scaleRows();
    const { n1, n2, Kt, u, v, ktu, a } = this;
    ktu.fill(0);
    let i = 0;
    for (; i + 1 < n1; i += 2) {
      const r0 = i * n2;
      const r1 = r0 + n2;
      let s0 = 0;
      let s1 = 0;
      for (let j = 0; j < n2; j++) {
        const vj = v[j]!;
        s0 += Kt[r0 + j]! * vj;
        s1 += Kt[r1 + j]! * vj;
      }
      const u0 = a[i]! / s0;
      const u1 = a[i + 1]! / s1;
      if (!(u0 > 0 && u0 < Infinity && u1 > 0 && u1 < Infinity)) return false;
      u[i] = u0;
      u[i + 1] = u1;
      for (let j = 0; j < n2; j++) ktu[j] = ktu[j]! + Kt[r0 + j]! * u0 + Kt[r1 + j]! * u1;
    }
    if (i < n1) {
      const r0 = i * n2;
      let s0 = 0;
      for (let j = 0; j < n2; j++) s0 += Kt[r0 + j]! * v[j]!;
      const u0 = a[i]! / s0;
      if (!(u0 > 0 && u0 < Infinity)) return false;
      u[i] = u0;
      for (let j = 0; j < n2; j++) ktu[j] = ktu[j]! + Kt[r0 + j]! * u0;
    }
    return true;
  }

  private absorb(eps: number): void {
    const { n1, n2, f, g, u, v } = this;
    for (let i = 0; i < n1; i++) f[i] = f[i]! + eps * Math.log(u[i]!);
    for (let j = 0; j < n2; j++) g[j] = g[j]! + eps * Math.log(v[j]!);
  }

  /**
   * Rows of the plan for potentials g (f eliminated): f_i = ε(log a_i − LSE_j((g_j − C_ij)/ε)),
   * T_ij = exp((f_i + g_j − C_ij)/ε). Writes T, f and the column sums; returns ‖b − c‖₂².
   */
  private planFromG(C: Float64Array, eps: number, g: Float64Array, f: Float64Array, T: Float64Array, c: Float64Array): number {
    const { n1, n2, ld, a, b, logA } = this;
    c.fill(0);
    for (let i = 0; i < n1; i++) {
      const row = i * n2;
      const cRow = i * ld;
      let mx = -Infinity;
      for (let j = 0; j < n2; j++) {
        const z = (g[j]! - C[cRow + j]!) / eps;
        T[row + j] = z;
        if (z > mx) mx = z;
      }
      let s = 0;
      for (let j = 0; j < n2; j++) {
        const e = Math.exp(T[row + j]! - mx);
        T[row + j] = e;
        s += e;
      }
      f[i] = eps * (logA[i]! - mx - Math.log(s));
      const scale = a[i]! / s;
      for (let j = 0; j < n2; j++) {
        const t = T[row + j]! * scale;
        T[row + j] = t;
        c[j] = c[j]! + t;
      }
    }
    let r2 = 0;
    for (let j = 0; j < n2; j++) {
      const d = b[j]! - c[j]!;
      r2 += d * d;
    }
    return r2;
  }

  /**
   * Newton on the semi-dual ψ(g) = ⟨b, g⟩ + ⟨a, f(g)⟩ from the current potentials. The gauge
   * (g + t, f − t) is fixed by pinning the step of the heaviest column to 0. Steps are damped by
   * halving until ‖b − c‖₂ decreases. Returns the number of steps taken; f and g are updated.
   */
  private newton(C: Float64Array, eps: number, tol: number, maxSteps: number, deadline: Deadline | undefined): { steps: number; l1: number } {
    const { n1, n2, a, b, f, g } = this;
    if (!this.nt) {
      this.nt = {
        T: new Float64Array(n1 * n2),
        Wt: new Float64Array(n2 * n1),
        S: new Float64Array(n2 * n2),
        rhs: new Float64Array(n2),
        dg: new Float64Array(n2),
        gTry: new Float64Array(n2),
        fTry: new Float64Array(n1),
        c: new Float64Array(n2),
      };
    }
    const { T, Wt, S, rhs, dg, gTry, fTry, c } = this.nt;
    let r2 = this.planFromG(C, eps, g, f, T, c);
    let steps = 0;
    let l1 = Infinity;
    while (steps < maxSteps) {
      l1 = 0;
      for (let j = 0; j < n2; j++) l1 += Math.abs(b[j]! - c[j]!);
      if (l1 < tol) break;
      if (deadline !== undefined) checkDeadline(deadline, `Newton step ${steps + 1} of a Sinkhorn solve`);
      // S = diag(c) − Wᵀ·W with W = diag(a)^(−1/2)·T, built as rows of Wᵀ.
      for (let i = 0; i < n1; i++) {
        const s = 1 / Math.sqrt(a[i]!);
        const row = i * n2;
        for (let j = 0; j < n2; j++) Wt[j * n1 + i] = T[row + j]! * s;
      }
      mulABt(Wt, Wt, n2, n1, n2, S);
      let pin = 0;
      for (let j = 0; j < n2; j++) {
        S[j * n2 + j] = c[j]! - S[j * n2 + j]!;
        for (let l = 0; l < n2; l++) if (l !== j) S[j * n2 + l] = -S[j * n2 + l]!;
        rhs[j] = eps * (b[j]! - c[j]!);
        if (c[j]! > c[pin]!) pin = j;
      }
      if (deadline !== undefined) checkDeadline(deadline, `Newton step ${steps + 1} of a Sinkhorn solve`);
      if (!solvePinned(S, rhs, dg, n2, pin)) break;
      // Damped step on the merit ‖b − c‖₂.
      let t = 1;
      let accepted = false;
      for (let h = 0; h < 30; h++) {
        for (let j = 0; j < n2; j++) gTry[j] = g[j]! + t * dg[j]!;
        const r2Try = this.planFromG(C, eps, gTry, fTry, T, c);
        if (r2Try < r2) {
          g.set(gTry);
          f.set(fTry);
          r2 = r2Try;
          accepted = true;
          break;
        }
        t *= 0.5;
      }
      steps++;
      if (!accepted) {
        // Restore T and c for the current potentials; Sinkhorn takes over again.
        r2 = this.planFromG(C, eps, g, f, T, c);
        l1 = 0;
        for (let j = 0; j < n2; j++) l1 += Math.abs(b[j]! - c[j]!);
        break;
      }
    }
    return { steps, l1 };
  }

  solve(C: Float64Array, eps: number, opts: LogOptions, plan: Float64Array): LogStats {
    const { n1, n2, ld, Kt, u, v, vNew, ktu, b, wk } = this;
    const warm = opts.warmStart && this.hasPotentials;
    if (wk) {
      if (wk.owns(C)) {
        if (ld !== wk.n2p) throw new RangeError('LogSinkhorn: a cost in the kernel memory must have rows of n2p');
        this.wkCost = C;
      } else {
        // Rows of n2p in the kernel's scratch; its padding column stays 0.
        for (let i = 0; i < n1; i++) wk.cost.set(C.subarray(i * ld, i * ld + n2), i * wk.n2p);
        this.wkCost = wk.cost;
      }
    }
    this.hasPotentials = true;
    let lseSweeps = 0;
    let absorptions = 1;
    if (!warm) this.hardStart(C);
    // Warm start: the previous potentials are close; a row or column that underflows under the
    // new costs is caught below and repaired by an exact sweep.
    this.rebuild(C, eps);
    let sweeps = 0;
    let converged = false;
    let err = Infinity;
    let newtonSteps = 0;
    let sinceNewton = 0;
    const burst = opts.burst ?? 50;
    let newtonAllowed = n2 <= (opts.newtonMaxSize ?? 1500) && n2 > 1;
    // Invariant at the top of the loop: ktu = K̃ᵀ·u, so v_j·ktu_j are the plan's column sums.
    while (true) {
      err = 0;
      for (let j = 0; j < n2; j++) err += Math.abs(v[j]! * ktu[j]! - b[j]!);
      if (err < opts.tol) {
        converged = true;
        break;
      }
      if (sweeps >= opts.maxSweeps) break;
      if (newtonAllowed && sinceNewton >= burst) {
        this.absorb(eps);
        const res = this.newton(C, eps, opts.tol, 100, opts.deadline);
        newtonSteps += res.steps;
        // Newton that stalls is not retried before another burst proves Sinkhorn slow too.
        if (res.steps === 0 || res.l1 >= err) newtonAllowed = false;
        sinceNewton = 0;
        this.rebuild(C, eps);
        absorptions++;
        continue;
      }
      sweeps++;
      sinceNewton++;
      if ((sweeps & 15) === 0 && opts.deadline !== undefined) checkDeadline(opts.deadline, `Sinkhorn sweep ${sweeps}`);
      let ok = err === err;
      for (let j = 0; j < n2; j++) {
        const x = b[j]! / ktu[j]!;
        vNew[j] = x;
        if (!(x > 0 && x < Infinity)) ok = false;
      }
      if (ok) {
        v.set(vNew);
        ok = this.scaleRows();
      }
      if (!ok) {
        // Leave the scaled form: fold what is still finite, then one exact log-domain sweep.
        for (let i = 0; i < n1; i++) if (!(u[i]! > 0 && u[i]! < Infinity)) u[i] = 1;
        for (let j = 0; j < n2; j++) if (!(v[j]! > 0 && v[j]! < Infinity)) v[j] = 1;
        this.absorb(eps);
        this.lseSweep(C, eps);
        lseSweeps++;
        this.rebuild(C, eps);
        absorptions++;
        continue;
      }
      let far = false;
      for (let i = 0; i < n1 && !far; i++) if (!(u[i]! < ABSORB_HI && u[i]! > ABSORB_LO)) far = true;
      for (let j = 0; j < n2 && !far; j++) if (!(v[j]! < ABSORB_HI && v[j]! > ABSORB_LO)) far = true;
      if (far) {
        this.absorb(eps);
        this.rebuild(C, eps);
        absorptions++;
      }
    }
    if (wk && wk.owns(plan)) {
      if (ld !== wk.n2p) throw new RangeError('LogSinkhorn: a plan in the kernel memory must have rows of n2p');
      wk.plan(plan);
    } else if (wk) {
      wk.plan(wk.out);
      for (let i = 0; i < n1; i++) plan.set(wk.out.subarray(i * wk.n2p, i * wk.n2p + n2), i * ld);
    } else {
      for (let i = 0; i < n1; i++) {
        const row = i * n2;
        const pRow = i * ld;
        const ui = u[i]!;
        for (let j = 0; j < n2; j++) plan[pRow + j] = ui * Kt[row + j]! * v[j]!;
      }
    }
    // Keep the potentials of this solution for a warm start.
    this.absorb(eps);
    u.fill(1);
    v.fill(1);
    return { sweeps, converged, numericalError: false, marginalError: err, absorptions, lseSweeps, newtonSteps };
  }
}
