/**
 * Rate–distortion of a discrete memoryless source by the Blahut–Arimoto algorithm, in bits.
 *
 * For a slope parameter β ≥ 0 (natural exponent) the test channel is
 *   Q(j|x) = q_j·exp(−β·d(x, j)) / Z(x),   Z(x) = Σ_j q_j·exp(−β·d(x, j)),
 * and the output marginal is updated q_j ← q_j·c_j with c_j = Σ_x p(x)·exp(−β·d(x, j)) / Z(x).
 * The slope of R(D) at the resulting point is −β/ln 2 bits per unit of distortion.
 * Reported: D = E[d], R = I(X; Y) of the channel (its true output marginal q∘c), and Blahut's
 * certified lower bound R_L = −β·D − Σ_x p(x)·log Z(x) − log max_j c_j; iterations stop when
 * R − R_L < tol (bits). Exponentials are shifted by each row's smallest distortion so large β do
 * not underflow.
 *
 * D_max = min_j Σ_x p(x)·d(x, j) (the best single reproduction symbol): R(D) = 0 for D ≥ D_max.
 * D_min = Σ_x p(x)·min_j d(x, j): no channel does better, so D < D_min is rejected.
 * R at a target D is found by bisection on β (D(β) decreases in β).
 */
import type { BlahutArimotoOptions, BlahutArimotoPoint, DiscreteSource, RateAtDistortion } from 'limit-graph';
import { invalid } from './errors.ts';

const LN2 = Math.LN2;

// The shapes are the kernel's rate contract (RateModel); the short names are this module's.
export type { DiscreteSource, RateAtDistortion };
export type BaOptions = BlahutArimotoOptions;
export type BaPoint = BlahutArimotoPoint;

export interface PreparedSource {
  m: number;
  k: number;
  p: Float64Array;
  d: Float64Array;
  Dmax: number;
  Dmin: number;
}

export function prepareSource(src: DiscreteSource): PreparedSource {
  if (src === null || typeof src !== 'object') throw invalid('source', 'expected { p, distortion }');
  const { p: pIn, distortion } = src;
  // A string has a length too: "0.5" is not p = [0.5], nor 'hamming' a matrix of 7 rows.
  if (!pIn || typeof pIn !== 'object' || typeof pIn.length !== 'number') throw invalid('p', `must be an array of probabilities, got ${JSON.stringify(pIn)}`);
  const m = pIn.length;
  if (m === 0) throw invalid('p', 'the source alphabet is empty');
  if (typeof distortion === 'string') {
    throw invalid('distortion', `must be a matrix (array of rows), got '${distortion}': the names 'hamming' and 'squared_error' are for \`limit rd rate\` files; in code give the matrix (hamming: d[x][j] = x === j ? 0 : 1)`);
  }
  if (!distortion || typeof distortion !== 'object' || typeof distortion.length !== 'number') throw invalid('distortion', 'must be a matrix (array of rows)');
  if (distortion.length !== m) throw invalid('distortion', `needs one row per source symbol: expected ${m} rows, got ${distortion.length}`);
  // Row 0 gives k: a missing or non-array row 0 is said as such, not as an empty alphabet.
  const row0: unknown = distortion[0];
  if (!row0 || typeof row0 !== 'object' || typeof (row0 as { length?: unknown }).length !== 'number') {
    throw invalid('distortion[0]', `expected an array of numbers (one per reproduction symbol), got ${row0 === undefined ? 'undefined' : JSON.stringify(row0)}`);
  }
  const k = (row0 as ArrayLike<number>).length;
  if (k === 0) throw invalid('distortion[0]', 'the reproduction alphabet is empty');
  const p = new Float64Array(m);
  let s = 0;
  for (let x = 0; x < m; x++) {
    const v = pIn[x];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`p[${x}]`, `must be a finite number ≥ 0, got ${String(v)}`);
    p[x] = v;
    s += v;
  }
  if (!(Math.abs(s - 1) <= 1e-9)) throw invalid('p', `probabilities must sum to 1 (relative tolerance 1e-9), got ${s}`);
  const d = new Float64Array(m * k);
  for (let x = 0; x < m; x++) {
    const row = distortion[x];
    if (!row || typeof row !== 'object' || row.length !== k) throw invalid(`distortion[${x}]`, `expected an array of ${k} numbers, got ${typeof row === 'object' ? `${row?.length ?? 0} entries` : JSON.stringify(row)}`);
    for (let j = 0; j < k; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw invalid(`distortion[${x}][${j}]`, `must be a finite number ≥ 0, got ${String(v)}`);
      }
      d[x * k + j] = v;
    }
  }
  let Dmax = Infinity;
  for (let j = 0; j < k; j++) {
    let e = 0;
    for (let x = 0; x < m; x++) e += p[x]! * d[x * k + j]!;
    if (e < Dmax) Dmax = e;
  }
  let Dmin = 0;
  for (let x = 0; x < m; x++) {
    let mn = Infinity;
    for (let j = 0; j < k; j++) mn = Math.min(mn, d[x * k + j]!);
    Dmin += p[x]! * mn;
  }
  return { m, k, p, d, Dmax, Dmin };
}

/** Shannon entropy of p in bits. */
export function entropyBits(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v > 0) h -= v * Math.log2(v);
  }
  return h;
}

function isPrepared(x: DiscreteSource | PreparedSource): x is PreparedSource {
  return x !== null && typeof x === 'object' && (x as PreparedSource).d instanceof Float64Array && typeof (x as PreparedSource).Dmax === 'number';
}

/** One point of the R(D) curve for slope parameter β. */
export function blahutArimoto(source: DiscreteSource | PreparedSource, beta: number, options: BaOptions = {}): BaPoint {
  const src = isPrepared(source) ? source : prepareSource(source);
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) throw invalid('beta', `must be a finite number ≥ 0, got ${String(beta)}`);
  const tol = options.tol ?? 1e-13;
  const maxIter = options.maxIter ?? 200_000;
  if (typeof tol !== 'number' || !(tol > 0) || !Number.isFinite(tol)) throw invalid('options.tol', `must be a finite number > 0 (bits), got ${String(tol)}`);
  if (!Number.isSafeInteger(maxIter) || maxIter < 1) throw invalid('options.maxIter', `must be an integer ≥ 1, got ${String(maxIter)}`);
  const { m, k, p, d } = src;
  const q = new Float64Array(k);
  if (options.q0) {
    if (options.q0.length !== k) throw invalid('q0', `expected ${k} entries, got ${options.q0.length}`);
    let s = 0;
    for (let j = 0; j < k; j++) {
      const v = options.q0[j]!;
      if (!Number.isFinite(v) || v < 0) throw invalid(`q0[${j}]`, `must be a finite number ≥ 0, got ${v}`);
      q[j] = v;
      s += v;
    }
    if (!(s > 0)) throw invalid('q0', 'must have positive mass');
    for (let j = 0; j < k; j++) q[j] = q[j]! / s;
  } else {
    q.fill(1 / k);
  }
  // E[x][j] = exp(−β·(d − min_j d)) ≤ 1, fixed for the run.
  const E = new Float64Array(m * k);
  const dmin = new Float64Array(m);
  for (let x = 0; x < m; x++) {
    let mn = Infinity;
    for (let j = 0; j < k; j++) mn = Math.min(mn, d[x * k + j]!);
    dmin[x] = mn;
    for (let j = 0; j < k; j++) E[x * k + j] = Math.exp(-beta * (d[x * k + j]! - mn));
  }
  const s = new Float64Array(m);
  const c = new Float64Array(k);
  let D = 0;
  let I = 0;
  let RL = 0;
  let gap = Infinity;
  let it = 0;
  let converged = false;
  while (true) {
    let sumPlogZ = 0;
    let Dacc = 0;
    c.fill(0);
    for (let x = 0; x < m; x++) {
      const row = x * k;
      let sx = 0;
      let dx = 0;
      for (let j = 0; j < k; j++) {
        const w = q[j]! * E[row + j]!;
        sx += w;
        dx += w * d[row + j]!;
      }
      if (!(sx > 0)) {
        throw invalid('beta', `β = ${beta} is too large for double precision with this distortion matrix (Z(x=${x}) underflowed)`);
      }
      s[x] = sx;
      const px = p[x]!;
      if (px > 0) {
        sumPlogZ += px * (-beta * dmin[x]! + Math.log(sx));
        Dacc += (px * dx) / sx;
        const f = px / sx;
        for (let j = 0; j < k; j++) c[j] = c[j]! + f * E[row + j]!;
      }
    }
    D = Dacc;
    let maxC = 0;
    let sumQlogC = 0;
    for (let j = 0; j < k; j++) {
      const cj = c[j]!;
      if (cj > maxC) maxC = cj;
      const qj = q[j]! * cj;
      if (qj > 0) sumQlogC += qj * Math.log(cj);
    }
    I = -beta * D - sumPlogZ - sumQlogC;
    RL = -beta * D - sumPlogZ - Math.log(maxC);
    gap = (I - RL) / LN2;
    if (gap < tol) {
      converged = true;
      break;
    }
    if (it >= maxIter) break;
    it++;
    let total = 0;
    for (let j = 0; j < k; j++) {
      q[j] = q[j]! * c[j]!;
      total += q[j]!;
    }
    for (let j = 0; j < k; j++) q[j] = q[j]! / total;
  }
  return {
    beta,
    slopeBits: -beta / LN2,
    D,
    R: Math.max(I / LN2, 0),
    Rlower: RL / LN2,
    gapBits: gap,
    iterations: it,
    converged,
    q: Array.from(q),
  };
}

/** R(D) at a target distortion, by bisection on β; R = 0 for D ≥ D_max. */
export function rateAtDistortion(source: DiscreteSource | PreparedSource, D: number, options: BaOptions = {}): RateAtDistortion {
  const src = isPrepared(source) ? source : prepareSource(source);
  if (typeof D !== 'number' || Number.isNaN(D)) throw invalid('D', `must be a number, got ${String(D)}`);
  const { Dmax, Dmin } = src;
  if (D >= Dmax) return { D, R: 0, beta: 0, Dreached: Dmax, gapBits: 0, evaluations: 0, note: 'D>=Dmax' };
  if (D < Dmin) throw invalid('D', `no channel reaches distortion ${D}: the minimum is D_min = ${Dmin}`);
  // Smallest positive excess distortion: beyond β·gap ≈ 745 every non-minimal term underflows.
  let gapMin = Infinity;
  for (let x = 0; x < src.m; x++) {
    let mn = Infinity;
    for (let j = 0; j < src.k; j++) mn = Math.min(mn, src.d[x * src.k + j]!);
    for (let j = 0; j < src.k; j++) {
      const e = src.d[x * src.k + j]! - mn;
      if (e > 0 && e < gapMin) gapMin = e;
    }
  }
  const betaCap = gapMin === Infinity ? 1 : 745 / gapMin;
  let evaluations = 0;
  let q: number[] | undefined;
  // The evaluated points closest to D on either side: above (D(β) > D, smallest) and below (D(β) < D, largest).
  let above: BaPoint | undefined;
  let below: BaPoint | undefined;
  const at = (beta: number): BaPoint => {
    evaluations++;
    const pt = blahutArimoto(src, beta, { ...options, ...(q ? { q0: q } : {}) });
    q = pt.q.map((v) => Math.max(v, 1e-300));
    if (pt.D > D && (above === undefined || pt.D < above.D)) above = pt;
    if (pt.D < D && (below === undefined || pt.D > below.D)) below = pt;
    return pt;
  };
  if (D === Dmin) {
    const pt = at(betaCap);
    return { D, R: pt.R, beta: betaCap, Dreached: pt.D, gapBits: pt.gapBits, evaluations, note: 'D=Dmin' };
  }
  let lo = 0;
  let hi = 1 / Math.max(Dmax, 1e-300);
  let best = at(hi);
  while (best.D > D && hi < betaCap) {
    lo = hi;
    hi = Math.min(hi * 2, betaCap);
    best = at(hi);
  }
  for (let iter = 0; iter < 200; iter++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    const pt = at(mid);
    if (Math.abs(pt.D - D) < Math.abs(best.D - D) || (pt.D === best.D && mid < best.beta)) best = pt;
    if (pt.D === D) break;
    if (pt.D > D) lo = mid;
    else hi = mid;
  }
  if (best.D !== D && above !== undefined && below !== undefined) {
    // D lies between two channels' distortions. Where R(D) has a straight segment (a reproduction
    // symbol dropped or taken up at one slope β*: d = [[0, 1, 0.3], [1, 0, 0.3]] jumps from D = 0.3
    // to 0.14 at β* ≈ 1.80), no β reaches D, and the channel nearest D is a point of R(D) elsewhere
    // on the segment. Using the two channels in the proportion that averages their distortions to D
    // (time-sharing) reaches D exactly at the interpolated rate, which is R(D) on the segment
    // (R is convex); on a smooth stretch the two are adjacent β and this changes R by rounding.
    const lambda = (D - below.D) / (above.D - below.D);
    const R = lambda * above.R + (1 - lambda) * below.R;
    return { D, R, beta: best.beta, Dreached: D, gapBits: Math.max(above.gapBits, below.gapBits), evaluations };
  }
  return { D, R: best.R, beta: best.beta, Dreached: best.D, gapBits: best.gapBits, evaluations };
}

/** Points of the R(D) curve for several slope parameters. */
export function rdCurve(source: DiscreteSource | PreparedSource, betas: readonly number[], options: BaOptions = {}): BaPoint[] {
  const src = isPrepared(source) ? source : prepareSource(source);
  // An array of numbers, or a typed array (whose own map would turn the points into NaN).
  const list: unknown = betas;
  if (!Array.isArray(list) && !(ArrayBuffer.isView(list) && !(list instanceof DataView))) {
    throw invalid('betas', `must be an array of slope parameters β ≥ 0, got ${list === undefined ? 'undefined' : typeof list === 'string' ? `"${list}" (a string)` : JSON.stringify(list)}`);
  }
  return Array.from(list as ArrayLike<number>, (b) => blahutArimoto(src, b, options));
}
