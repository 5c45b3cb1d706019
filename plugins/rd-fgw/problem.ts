/**
 * The validated numeric form of an FGW problem, and the quantities every solver shares:
 *   constC[i][j] = Σ_k C1[i][k]² p[k] + Σ_l C2[j][l]² q[l]
 *   L⊗T         = constC − 2·C1·T·C2ᵀ          (square loss)
 *   FGW(T)      = (1−α)⟨M, T⟩ + α⟨L⊗T, T⟩       (no ½, no square root)
 */
import { checkMemory, invalid, shown } from './errors.ts';
import { mulABt, symmetryOf, transpose } from './linalg.ts';

export interface FgwProblem {
  n1: number;
  n2: number;
  /** n1×n2 feature cost, row-major. */
  M: Float64Array;
  /** n1×n1 structure of the source. */
  C1: Float64Array;
  /** n2×n2 structure of the target. */
  C2: Float64Array;
  p: Float64Array;
  q: Float64Array;
}

/** Matrices given as nested arrays or flat row-major arrays. */
export type MatrixLike = ArrayLike<number> | ArrayLike<ArrayLike<number>>;

export interface MatrixInput {
  M: MatrixLike;
  C1: MatrixLike;
  C2: MatrixLike;
  /** Source weights; uniform when omitted. */
  p?: ArrayLike<number>;
  /** Target weights; uniform when omitted. */
  q?: ArrayLike<number>;
}

/** Relative tolerance on Σp = 1 and Σq = 1. */
export const WEIGHT_SUM_RTOL = 1e-9;

function isNested(x: MatrixLike): x is ArrayLike<ArrayLike<number>> {
  return x.length > 0 && typeof (x as ArrayLike<unknown>)[0] === 'object' && (x as ArrayLike<unknown>)[0] !== null;
}

/** Copies a matrix into a fresh Float64Array, checking shape, finiteness and sign. */
export function toMatrix(x: unknown, rows: number, cols: number, field: string): Float64Array {
  if (x === null || typeof x !== 'object' || typeof (x as { length?: unknown }).length !== 'number') {
    throw invalid(field, `expected a ${rows}×${cols} matrix (nested array or flat row-major array), got ${shown(x)}`);
  }
  const mat = x as MatrixLike;
  const out = new Float64Array(rows * cols);
  if (isNested(mat)) {
    if (mat.length !== rows) throw invalid(field, `expected ${rows} rows, got ${mat.length}`);
    for (let i = 0; i < rows; i++) {
      const row = mat[i];
      if (!row || typeof row.length !== 'number') throw invalid(`${field}[${i}]`, 'expected an array');
      if (row.length !== cols) throw invalid(`${field}[${i}]`, `expected ${cols} columns, got ${row.length}`);
      for (let j = 0; j < cols; j++) out[i * cols + j] = checkEntry(row[j], `${field}[${i}][${j}]`);
    }
  } else {
    if (mat.length !== rows * cols) {
      throw invalid(field, `expected ${rows}×${cols} = ${rows * cols} entries, got ${mat.length}`);
    }
    for (let k = 0; k < rows * cols; k++) {
      out[k] = checkEntry(mat[k], `${field}[${Math.floor(k / cols)}][${k % cols}]`);
    }
  }
  return out;
}

function checkEntry(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a finite number, got ${shown(v)}`);
  if (v < 0) throw invalid(field, `must be ≥ 0, got ${v}`);
  return v;
}

/** Validates a weight vector (finite, ≥ 0, Σ = 1 within 1e-9 relative) and rescales it to sum to 1. */
export function toWeights(x: ArrayLike<number> | undefined, n: number, field: string): Float64Array {
  if (x === undefined) return new Float64Array(n).fill(1 / n);
  if (x === null || typeof x !== 'object' || typeof x.length !== 'number') throw invalid(field, `expected an array of ${n} weights, got ${shown(x)}`);
  if (x.length !== n) throw invalid(field, `expected ${n} weights, got ${x.length}`);
  const out = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = checkEntry(v, `${field}[${i}]`);
    s += out[i]!;
  }
  if (!(Math.abs(s - 1) <= WEIGHT_SUM_RTOL)) {
    throw invalid(field, `weights must sum to 1 (relative tolerance ${WEIGHT_SUM_RTOL}), got ${s}`);
  }
  return normalizeWeights(out, s);
}

/**
 * Divides accepted weights by their total `s`, so that every solver sees vectors of the same mass: each
 * given vector may be off from 1 by WEIGHT_SUM_RTOL, two of them by twice that, and the exact LP
 * requires both sides to carry the same mass (to 1e-9). Weights whose sum is 1 up to the rounding of
 * the sum (n ulps) are kept bit for bit, so inputs computed elsewhere are solved exactly as given.
 */
export function normalizeWeights(w: Float64Array, s: number): Float64Array {
  if (Math.abs(s - 1) > w.length * Number.EPSILON) for (let i = 0; i < w.length; i++) w[i] = w[i]! / s;
  return w;
}

function rowsOf(x: unknown, field: string): number {
  if (x === undefined) throw invalid(field, 'is required (a matrix as nested or flat array)');
  if (x === null || typeof x !== 'object' || typeof (x as { length?: unknown }).length !== 'number') {
    throw invalid(field, `must be a matrix (nested or flat array), got ${shown(x)}`);
  }
  return (x as ArrayLike<unknown>).length;
}

function sideOf(x: unknown, field: string): number {
  const len = rowsOf(x, field);
  const mat = x as MatrixLike;
  if (isNested(mat)) return len;
  const n = Math.round(Math.sqrt(len));
  if (n * n !== len) throw invalid(field, `a flat square matrix needs a square number of entries, got ${len}`);
  return n;
}

/** Validates matrices given directly. Sizes come from C1 and C2; M must be n1×n2. `maxMemoryMb`: see checkMemory. */
export function problemFromMatrices(input: MatrixInput, maxMemoryMb?: number): FgwProblem {
  if (input === null || typeof input !== 'object') throw invalid('input', 'expected { M, C1, C2, p?, q? }');
  const n1 = sideOf(input.C1, 'C1');
  const n2 = sideOf(input.C2, 'C2');
  if (n1 === 0) throw invalid('C1', 'the source is empty (0 nodes)');
  if (n2 === 0) throw invalid('C2', 'the target is empty (0 nodes)');
  checkMemory(n1, n2, maxMemoryMb, 'C1');
  const C1 = toMatrix(input.C1, n1, n1, 'C1');
  const C2 = toMatrix(input.C2, n2, n2, 'C2');
  rowsOf(input.M, 'M');
  const M = toMatrix(input.M, n1, n2, 'M');
  const p = toWeights(input.p, n1, 'p');
  const q = toWeights(input.q, n2, 'q');
  const pb = { n1, n2, M, C1, C2, p, q };
  checkMagnitudes(pb, { C1: 'C1', C2: 'C2', M: 'M', at: (which, i, k) => `${which}[${i}][${k}]`, what: 'entries' });
  return pb;
}

/**
 * Refuses structure matrices (and feature costs) whose FGW cost overflows a double. The gradient
 * 2·(constC − 2·C1·T·C2ᵀ) is bounded by 2·(c1 + c2)², c1 and c2 the largest entries of C1 and C2, and
 * the linearised cost by max M plus that: both must be finite (c1 + c2 below about 9.4e153).
 * `names` says how to call C1, C2 and M in the message (the user's fields), `at` where their largest
 * entries are (for matrices: `C1[i][k]`).
 */
export function checkMagnitudes(
  pb: FgwProblem,
  names: { C1: string; C2: string; M: string; at?: (which: 'C1' | 'C2', i: number, k: number) => string; what?: string },
): void {
  const argmax = (A: Float64Array): number => {
    let best = 0;
    for (let k = 1; k < A.length; k++) if (A[k]! > A[best]!) best = k;
    return best;
  };
  const k1 = argmax(pb.C1);
  const k2 = argmax(pb.C2);
  const c1 = pb.C1[k1]!;
  const c2 = pb.C2[k2]!;
  const grad = 2 * (c1 + c2) * (c1 + c2);
  if (!Number.isFinite(grad)) {
    const which = c1 >= c2 ? 'C1' : 'C2';
    const n = which === 'C1' ? pb.n1 : pb.n2;
    const k = which === 'C1' ? k1 : k2;
    const field = names.at ? names.at(which, Math.floor(k / n), k % n) : names[which];
    throw invalid(
      field,
      `${names.what ?? 'structure entries'} up to ${which === 'C1' ? c1 : c2} are too large: the FGW cost squares them, which overflows a double (the largest source and target entries together must stay below about 9e153); scale them down${names.at ? '' : ' or set normalize: true'}`,
    );
  }
  const m = pb.M[argmax(pb.M)]!;
  if (!Number.isFinite(m + grad)) {
    throw invalid(names.M, `feature costs up to ${m} and structure entries up to ${Math.max(c1, c2)} together overflow the FGW cost (a double); scale them down`);
  }
}

export function checkAlpha(alpha: unknown): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 1) {
    throw invalid('alpha', `must be a number in [0, 1], got ${String(alpha)}`);
  }
  return alpha;
}

/** True when both structures equal their transposes in numpy.allclose(…, atol=1e-10) sense. */
export function detectSymmetric(pb: FgwProblem): boolean {
  return symmetryOf(pb.C1, pb.n1, 1e-10).close && symmetryOf(pb.C2, pb.n2, 1e-10).close;
}

/**
 * Precomputed pieces of the square-loss tensor product. For asymmetric structures the transposed
 * pair is kept too, because the gradient averages the (C1, C2) and (C1ᵀ, C2ᵀ) forms.
 */
export interface Tensor {
  symmetric: boolean;
  constC: Float64Array;
  /** constC of the transposed pair (asymmetric only). */
  constCt: Float64Array | null;
  C1t: Float64Array | null;
  C2t: Float64Array | null;
}

function constCOf(C1: Float64Array, C2: Float64Array, p: Float64Array, q: Float64Array, n1: number, n2: number): Float64Array {
  const r = new Float64Array(n1);
  const c = new Float64Array(n2);
  for (let i = 0; i < n1; i++) {
    let s = 0;
    for (let k = 0; k < n1; k++) {
      const x = C1[i * n1 + k]!;
      s += x * x * p[k]!;
    }
    r[i] = s;
  }
  for (let j = 0; j < n2; j++) {
    let s = 0;
    for (let l = 0; l < n2; l++) {
      const x = C2[j * n2 + l]!;
      s += x * x * q[l]!;
    }
    c[j] = s;
  }
  const out = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) for (let j = 0; j < n2; j++) out[i * n2 + j] = r[i]! + c[j]!;
  return out;
}

export function prepareTensor(pb: FgwProblem, symmetric: boolean): Tensor {
  const { n1, n2, C1, C2, p, q } = pb;
  const constC = constCOf(C1, C2, p, q, n1, n2);
  if (symmetric) return { symmetric, constC, constCt: null, C1t: null, C2t: null };
  const C1t = new Float64Array(n1 * n1);
  const C2t = new Float64Array(n2 * n2);
  transpose(C1, n1, n1, C1t);
  transpose(C2, n2, n2, C2t);
  return { symmetric, constC, constCt: constCOf(C1t, C2t, p, q, n1, n2), C1t, C2t };
}

/**
 * out = A·T·Bᵀ for dense T (n1×n2), with A n1×n1 and B n2×n2; `tmp` is an n2×n1 scratch buffer.
 * Evaluated as A·(B·Tᵀ)ᵀ so both products run on contiguous rows.
 */
export function sandwich(A: Float64Array, T: Float64Array, B: Float64Array, n1: number, n2: number, tmp: Float64Array, out: Float64Array): void {
  mulABt(B, T, n2, n2, n1, tmp); // tmp = B·Tᵀ  (n2×n1)
  mulABt(A, tmp, n1, n1, n2, out); // out = A·tmpᵀ = A·T·Bᵀ
}

/** ⟨L⊗T, T⟩ with L⊗T = constC − 2·P, where P = C1·T·C2ᵀ is given. */
export function gwFromProduct(constC: Float64Array, P: Float64Array, T: Float64Array): number {
  let s = 0;
  for (let k = 0; k < T.length; k++) s += (constC[k]! - 2 * P[k]!) * T[k]!;
  return s;
}

/** Dense plan → [i, j, value] for entries above `threshold`. */
export function toSparsePlan(plan: ArrayLike<number>, n1: number, n2: number, threshold = 0): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      const v = plan[i * n2 + j]!;
      if (v > threshold) out.push([i, j, v]);
    }
  }
  return out;
}

/** Largest absolute deviation of the plan's row/column sums from p and q. */
export function marginalError(plan: ArrayLike<number>, p: ArrayLike<number>, q: ArrayLike<number>): number {
  const n1 = p.length;
  const n2 = q.length;
  let err = 0;
  const col = new Float64Array(n2);
  for (let i = 0; i < n1; i++) {
    let s = 0;
    for (let j = 0; j < n2; j++) {
      const v = plan[i * n2 + j]!;
      s += v;
      col[j] = col[j]! + v;
    }
    err = Math.max(err, Math.abs(s - p[i]!));
  }
  for (let j = 0; j < n2; j++) err = Math.max(err, Math.abs(col[j]! - q[j]!));
  return err;
}

/**
 * The FGW objective of any plan, evaluated in O(n³) through the tensor product (exact when the
 * plan's marginals are p and q).
 */
export function fgwObjective(pb: FgwProblem, plan: Float64Array, alpha: number): { value: number; linTerm: number; gwTerm: number } {
  const { n1, n2, C1, C2, M } = pb;
  const tensor = prepareTensor(pb, true);
  const P = new Float64Array(n1 * n2);
  sandwich(C1, plan, C2, n1, n2, new Float64Array(n1 * n2), P);
  let lin = 0;
  for (let k = 0; k < plan.length; k++) lin += M[k]! * plan[k]!;
  const gw = gwFromProduct(tensor.constC, P, plan);
  return { value: (1 - alpha) * lin + alpha * gw, linTerm: lin, gwTerm: gw };
}

/** Where a run of the solver started: the reference's p·qᵀ, or the north-west-corner coupling. */
export type FgwStart = 'product' | 'north-west-corner';

/** One run of a computation that tried two starts (`diagnostics.starts`). */
export interface StartRun {
  start: FgwStart;
  /** Whether this run's result is the one returned. */
  kept: boolean;
  value?: number;
  iterations?: number;
  converged?: boolean;
  /** Why the run gave no result (it is then not kept). */
  error?: string;
}

/**
 * Whether the feature term ⟨M, T⟩ is the same for every coupling T of p and q, so that FGW is
 * Gromov–Wasserstein on the structures alone plus a constant: α = 1, or M[i][j] = a_i + b_j on the
 * nodes with mass — all features equal (or empty) on either side makes M such. Tested to the
 * rounding of M's largest entry; it stops at the first entry that differs, so varied features cost
 * a few comparisons.
 */
export function featureTermIsConstant(pb: FgwProblem, alpha: number): boolean {
  if (alpha === 1) return true;
  const { n1, n2, M, p, q } = pb;
  let i0 = 0;
  while (i0 < n1 && !(p[i0]! > 0)) i0++;
  let j0 = 0;
  while (j0 < n2 && !(q[j0]! > 0)) j0++;
  if (i0 === n1 || j0 === n2) return true;
  let max = 0;
  for (let k = 0; k < M.length; k++) if (M[k]! > max) max = M[k]!;
  const tol = 8 * Number.EPSILON * max;
  const corner = M[i0 * n2 + j0]!;
  for (let i = i0; i < n1; i++) {
    if (!(p[i]! > 0)) continue;
    const rowBase = M[i * n2 + j0]! - corner;
    for (let j = j0; j < n2; j++) {
      if (!(q[j]! > 0)) continue;
      if (Math.abs(M[i * n2 + j]! - M[i0 * n2 + j]! - rowBase) > tol) return false;
    }
  }
  return true;
}

/**
 * Whether two nodes with mass on one side have the same feature cost to every node with mass on the
 * other side: rows (or columns) of M equal on the nodes with mass, to the rounding of M's largest
 * entry. Repeated features (node types, one-hot labels) make such ties. The feature term then cannot
 * tell those nodes apart, nor can the start p·qᵀ, and the first LP breaks the tie arbitrarily: an
 * 8-cycle of alternating types with itself stopped at 0.5 (exact) where the identity gives 0.
 *
 * Cheap: lines are sorted by a weighted sum over the other side's nodes with mass (weights in [1, 2),
 * fixed), and only lines whose sums agree within the rounding bound are compared entry by entry, so
 * distinct features cost O(n log n + n·m), not O(n²·m).
 */
export function featureTermHasTies(pb: FgwProblem): boolean {
  const { n1, n2, M, p, q } = pb;
  const rows: number[] = [];
  for (let i = 0; i < n1; i++) if (p[i]! > 0) rows.push(i);
  const cols: number[] = [];
  for (let j = 0; j < n2; j++) if (q[j]! > 0) cols.push(j);
  let max = 0;
  for (const i of rows) for (const j of cols) if (M[i * n2 + j]! > max) max = M[i * n2 + j]!;
  const tol = 8 * Number.EPSILON * max;
  return tiedLines(rows, cols, (i, j) => M[i * n2 + j]!, tol, max) || tiedLines(cols, rows, (j, i) => M[i * n2 + j]!, tol, max);
}

/** Whether two of `lines` agree within `tol` at every one of `others` (entries read by `at`). */
function tiedLines(lines: readonly number[], others: readonly number[], at: (line: number, other: number) => number, tol: number, max: number): boolean {
  if (lines.length < 2) return false;
  const m = others.length;
  if (m === 0) return true;
  // Fixed weights in [1, 2) (golden-ratio sequence): lines that are permutations of each other
  // (distinct one-hot types) get different keys, which a plain sum would not give them.
  const w = others.map((_, k) => 1 + ((k * 0.6180339887498949) % 1));
  const key = lines.map((l) => {
    let s = 0;
    for (let k = 0; k < m; k++) s += w[k]! * at(l, others[k]!);
    return s;
  });
  // Two tied lines differ by ≤ Σ w·tol ≤ 2m·tol in exact arithmetic; each sum is rounded by at most
  // about 2m²·ε·max (m terms of size ≤ 2·max).
  const slack = 2 * m * tol + 4 * m * m * Number.EPSILON * max;
  const order = lines.map((_, k) => k).sort((a, b) => key[a]! - key[b]!);
  for (let a = 0; a < order.length; a++) {
    for (let b = a + 1; b < order.length && key[order[b]!]! - key[order[a]!]! <= slack; b++) {
      const la = lines[order[a]!]!;
      const lb = lines[order[b]!]!;
      let k = 0;
      while (k < m && Math.abs(at(la, others[k]!) - at(lb, others[k]!)) <= tol) k++;
      if (k === m) return true;
    }
  }
  return false;
}

/**
 * The north-west-corner coupling of p and q (dense n1×n2, row-major): mass is placed in node order,
 * each row and column filled before the next. When p = q it is the identity coupling diag(p), which
 * matches every node with itself. A vertex of the transport polytope.
 */
export function northWestCorner(p: ArrayLike<number>, q: ArrayLike<number>): Float64Array {
  const n1 = p.length;
  const n2 = q.length;
  const G = new Float64Array(n1 * n2);
  let i = 0;
  let j = 0;
  let rowLeft = p[0]!;
  let colLeft = q[0]!;
  while (i < n1 && j < n2) {
    const rowDone = rowLeft <= colLeft;
    const colDone = colLeft <= rowLeft;
    const m = rowDone ? rowLeft : colLeft;
    G[i * n2 + j] = G[i * n2 + j]! + m;
    if (rowDone) rowLeft = p[++i] ?? 0;
    else rowLeft -= m;
    if (colDone) colLeft = q[++j] ?? 0;
    else colLeft -= m;
  }
  return G;
}
