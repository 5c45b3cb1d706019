/**
 * Rate–distortion of a Gaussian source under squared error, in bits:
 *   R(D) = max(0, ½·log2(σ²/D)),   D(R) = σ²·2^(−2R).
 *
 * σ² is estimated from samples. The default estimator is ddof = 0 (the mean of squared deviations,
 * the maximum-likelihood estimate); ddof = 1 divides by n − 1 (unbiased).
 * D ≤ 0: D = 0 gives R = +∞ (a continuous source cannot be reproduced exactly at a finite rate;
 * for σ² = 0 the rate is 0); D < 0 is rejected. Every D > 0 gives a finite rate, also when σ²/D
 * overflows a double (½·(log2 σ² − log2 D)). R < 0 is rejected; R = +∞ gives D = 0. D(R) is computed
 * as 2^(log2 σ² − 2R) where 2^(−2R) alone leaves the normal range (R > 511), so it is 0 only when
 * σ²·2^(−2R) itself is below the smallest double.
 */
import type { VarianceDdof, VarianceEstimate } from 'limit-graph';
import { invalid } from './errors.ts';

export type Ddof = VarianceDdof;
export type { VarianceEstimate };

/**
 * Pairwise summation in NumPy's exact order (blocks of ≤ 128 with 8 partial sums, halves split
 * at multiples of 8), so that estimates agree with numpy.var bit for bit.
 */
function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!;
    let r1 = a[start + 1]!;
    let r2 = a[start + 2]!;
    let r3 = a[start + 3]!;
    let r4 = a[start + 4]!;
    let r5 = a[start + 5]!;
    let r6 = a[start + 6]!;
    let r7 = a[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const k = start + i;
      r0 += a[k]!;
      r1 += a[k + 1]!;
      r2 += a[k + 2]!;
      r3 += a[k + 3]!;
      r4 += a[k + 4]!;
      r5 += a[k + 5]!;
      r6 += a[k + 6]!;
      r7 += a[k + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

export function estimateVariance(samples: ArrayLike<number>, ddof: Ddof = 0): VarianceEstimate {
  if (samples === null || samples === undefined || typeof samples.length !== 'number') throw invalid('samples', 'must be an array of numbers');
  if (ddof !== 0 && ddof !== 1) throw invalid('ddof', `must be 0 or 1, got ${String(ddof)}`);
  const n = samples.length;
  if (n < ddof + 1) throw invalid('samples', `need at least ${ddof + 1} sample(s) for ddof = ${ddof}, got ${n}`);
  for (let i = 0; i < n; i++) {
    const x = samples[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid(`samples[${i}]`, `must be a finite number, got ${String(x)}`);
  }
  const xs = Float64Array.from(samples);
  const mean = pairwiseSum(xs, 0, n) / n;
  for (let i = 0; i < n; i++) {
    const d = xs[i]! - mean;
    xs[i] = d * d;
  }
  const variance = pairwiseSum(xs, 0, n) / (n - ddof);
  if (Number.isFinite(mean) && Number.isFinite(variance)) return { n, mean, variance, ddof };
  return scaledEstimate(samples, ddof);
}

/**
 * The estimate of samples whose sum or squared deviations overflow a double (numbers near 1.7e308,
 * or of both signs around 1e200): the same formulas on the samples divided by a power of two s ≤
 * max |x| (exact, |x/s| < 2, nothing overflows), the mean kept within [min, max] (so constant samples
 * have variance 0), then scaled back. A σ² that does not fit a double is refused naming `samples`.
 */
function scaledEstimate(samples: ArrayLike<number>, ddof: Ddof): VarianceEstimate {
  const n = samples.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const s = 2 ** Math.floor(Math.log2(Math.max(Math.abs(lo), Math.abs(hi))));
  const xs = Float64Array.from(samples, (x) => x / s);
  const meanS = Math.min(hi / s, Math.max(lo / s, pairwiseSum(xs, 0, n) / n));
  for (let i = 0; i < n; i++) {
    const d = xs[i]! - meanS;
    xs[i] = d * d;
  }
  const variance = (pairwiseSum(xs, 0, n) / (n - ddof)) * s * s;
  if (!Number.isFinite(variance)) {
    throw invalid('samples', `their variance overflows a double (the samples span ${lo} to ${hi}); scale the samples down (σ² scales with the square of their unit)`);
  }
  return { n, mean: meanS * s, variance, ddof };
}

function checkVariance(variance: number): void {
  if (typeof variance !== 'number' || !Number.isFinite(variance) || variance < 0) {
    throw invalid('variance', `must be a finite number ≥ 0, got ${String(variance)}`);
  }
}

/** R(D) in bits for a Gaussian source of variance σ². */
export function gaussianRate(D: number, variance: number): number {
  checkVariance(variance);
  if (typeof D !== 'number' || Number.isNaN(D)) throw invalid('D', `must be a number, got ${String(D)}`);
  if (D < 0) throw invalid('D', `distortion must be ≥ 0, got ${D}`);
  if (variance === 0) return 0;
  if (D === 0) return Infinity;
  if (D >= variance) return 0;
  // σ²/D overflows for tiny D (1/1e-310): then the difference of the logarithms, finite for every
  // D > 0. Otherwise the quotient, bit for bit as before (the difference loses digits when σ² ≈ D).
  const q = variance / D;
  return 0.5 * (q < Infinity ? Math.log2(q) : Math.log2(variance) - Math.log2(D));
}

/** D(R) for a Gaussian source of variance σ²; R in bits. */
export function gaussianDistortion(R: number, variance: number): number {
  checkVariance(variance);
  if (typeof R !== 'number' || Number.isNaN(R)) throw invalid('R', `must be a number, got ${String(R)}`);
  if (R < 0) throw invalid('R', `rate must be ≥ 0, got ${R}`);
  if (R === Infinity) return 0;
  const f = Math.pow(2, -2 * R);
  if (f >= 2 ** -1022) return variance * f;
  // 2^(−2R) leaves the normal range from R ≈ 511 and is 0 from R ≈ 537, though σ²·2^(−2R) may still
  // be a double (σ² = 1e300, R = 600: 5.8e-62, which was 0, so R(D(R)) = ∞): then in log2 space.
  return 2 ** (Math.log2(variance) - 2 * R);
}

/** Convenience: estimate σ² from samples, then R(D). */
export function gaussianRateFromSamples(samples: ArrayLike<number>, D: number, ddof: Ddof = 0): number {
  return gaussianRate(D, estimateVariance(samples, ddof).variance);
}
