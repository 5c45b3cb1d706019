import { describe, expect, it } from 'vitest';
import { blahutArimoto, entropyBits, prepareSource, rateAtDistortion, rdCurve } from '../../plugins/rd-rate/blahut.ts';
import { estimateVariance, gaussianDistortion, gaussianRate, gaussianRateFromSamples } from '../../plugins/rd-rate/gaussian.ts';
import { operationalRate, operationalRates } from '../../plugins/rd-rate/operational.ts';
import { loadReference, referenceFiles } from './reference.ts';

interface Discrete {
  id: string;
  p: number[];
  distortion_matrix: number[][];
  D_max: number;
  D_min: number;
  entropy_bits: number;
  parametric: { beta: number; slope_bits: number; D: number; R: number; R_lower: number; q: number[]; R_closed_form?: number }[];
  at_D: { D: number; R: number; D_over_Dmax: number; R_closed_form?: number }[];
}

interface Gaussian {
  id: string;
  samples: number[];
  mean: number;
  var_ddof0: number;
  var_ddof1: number;
  R_of_D: { D: number; R_ddof0: number; R_ddof1: number }[];
  D_of_R: { R: number; D_ddof0: number; D_ddof1: number }[];
}

/** 1e-12 relative; a reference of exactly 0 is compared absolutely. */
function rel12(x: number, ref: number): boolean {
  return ref === 0 ? Math.abs(x) <= 1e-12 : Math.abs(x - ref) <= 1e-12 * Math.abs(ref);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

for (const file of referenceFiles('rate')) {
  const ref = loadReference<{ discrete: Discrete[]; gaussian: Gaussian[] }>(file);

  describe(`Blahut–Arimoto vs ${file}`, () => {
    for (const s of ref.discrete) {
      const src = prepareSource({ p: s.p, distortion: s.distortion_matrix });

      it(`${s.id}: D_max, D_min, entropy`, () => {
        expect(Math.abs(src.Dmax - s.D_max)).toBeLessThanOrEqual(1e-12 * Math.max(1, s.D_max));
        expect(Math.abs(src.Dmin - s.D_min)).toBeLessThanOrEqual(1e-12);
        expect(Math.abs(entropyBits(s.p) - s.entropy_bits)).toBeLessThanOrEqual(1e-12);
      });

      for (const e of s.parametric) {
        it(`${s.id}: β = ${e.beta}`, () => {
          const pt = blahutArimoto(src, e.beta);
          expect(pt.converged).toBe(true);
          expect(Math.abs(pt.R - e.R), `R ${pt.R} vs ${e.R}`).toBeLessThanOrEqual(1e-9);
          expect(Math.abs(pt.D - e.D), `D ${pt.D} vs ${e.D}`).toBeLessThanOrEqual(1e-9 * Math.max(1, s.D_max));
          expect(Math.abs(pt.slopeBits - e.slope_bits)).toBeLessThanOrEqual(1e-12 * Math.abs(e.slope_bits));
          // Blahut's bound is a lower bound and the gap is closed.
          expect(pt.Rlower).toBeLessThanOrEqual(pt.R + 1e-12);
          expect(pt.gapBits).toBeLessThan(1e-12);
          expect(Math.abs(pt.Rlower - e.R_lower)).toBeLessThanOrEqual(1e-9);
          if (e.R_closed_form !== undefined) expect(Math.abs(pt.R - e.R_closed_form)).toBeLessThanOrEqual(1e-9);
          // The output marginal of the converged channel.
          expect(pt.q).toHaveLength(e.q.length);
          e.q.forEach((qj, j) => expect(Math.abs(pt.q[j]! - qj), `q[${j}]`).toBeLessThanOrEqual(1e-9));
        });
      }

      for (const e of s.at_D) {
        it(`${s.id}: R at D = ${e.D_over_Dmax}·D_max`, () => {
          const res = rateAtDistortion(src, e.D);
          expect(Math.abs(res.R - e.R), `R ${res.R} vs ${e.R}`).toBeLessThanOrEqual(1e-9);
          if (e.D >= s.D_max) {
            expect(res.R).toBe(0);
            expect(res.note).toBe('D>=Dmax');
          } else {
            expect(Math.abs(res.Dreached - e.D)).toBeLessThanOrEqual(1e-9 * s.D_max);
          }
          if (e.R_closed_form !== undefined) expect(Math.abs(res.R - e.R_closed_form)).toBeLessThanOrEqual(1e-9);
        });
      }

      it(`${s.id}: the curve is decreasing and convex in the parametric points`, () => {
        const betas = s.parametric.map((e) => e.beta).sort((a, b) => a - b);
        const pts = rdCurve(src, betas);
        for (let k = 1; k < pts.length; k++) {
          expect(pts[k]!.D).toBeLessThanOrEqual(pts[k - 1]!.D + 1e-12);
          expect(pts[k]!.R).toBeGreaterThanOrEqual(pts[k - 1]!.R - 1e-12);
        }
      });
    }
  });

  describe(`Gaussian R(D) vs ${file}`, () => {
    for (const g of ref.gaussian) {
      it(`${g.id}: variance estimators`, () => {
        const v0 = estimateVariance(g.samples);
        const v1 = estimateVariance(g.samples, 1);
        expect(v0.ddof).toBe(0);
        expect(rel12(v0.mean, g.mean)).toBe(true);
        expect(rel12(v0.variance, g.var_ddof0)).toBe(true);
        expect(rel12(v1.variance, g.var_ddof1)).toBe(true);
      });

      it(`${g.id}: R(D) and D(R), both conventions`, () => {
        const v0 = estimateVariance(g.samples).variance;
        const v1 = estimateVariance(g.samples, 1).variance;
        for (const e of g.R_of_D) {
          expect(rel12(gaussianRate(e.D, v0), e.R_ddof0), `R_ddof0 at D=${e.D}`).toBe(true);
          expect(rel12(gaussianRate(e.D, v1), e.R_ddof1), `R_ddof1 at D=${e.D}`).toBe(true);
          expect(rel12(gaussianRateFromSamples(g.samples, e.D), e.R_ddof0)).toBe(true);
          expect(rel12(gaussianRateFromSamples(g.samples, e.D, 1), e.R_ddof1)).toBe(true);
        }
        for (const e of g.D_of_R) {
          expect(rel12(gaussianDistortion(e.R, v0), e.D_ddof0), `D_ddof0 at R=${e.R}`).toBe(true);
          expect(rel12(gaussianDistortion(e.R, v1), e.D_ddof1), `D_ddof1 at R=${e.R}`).toBe(true);
        }
      });
    }
  });
}

describe('rate edge cases', () => {
  it("a string is not an array: p \"0.5\", distortion 'hamming' (the CLI file's name) or a row \"01\" are refused as such, not read by their length", () => {
    // 'hamming' was read as a matrix of 7 rows ("expected 2 rows, got 7"), a row "ab" as 2 entries.
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: 'hamming' } as never)).toThrow(/^distortion: must be a matrix \(array of rows\), got 'hamming'.*in code give the matrix/);
    expect(() => prepareSource({ p: Array(7).fill(1 / 7), distortion: 'hamming' } as never)).toThrow(/^distortion: must be a matrix/);
    expect(() => prepareSource({ p: '1' as never, distortion: [[0]] })).toThrow(/^p: must be an array of probabilities, got "1"/);
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: [[0, 1], '10' as never] })).toThrow(/^distortion\[1\]: expected an array of 2 numbers, got "10"/);
    expect(codeOf(() => prepareSource({ p: [1], distortion: ['0' as never] }))).toBe('LIMIT_RD_INVALID_INPUT');
    // Typed arrays still are arrays.
    expect(prepareSource({ p: new Float64Array([0.5, 0.5]), distortion: [new Float64Array([0, 1]), [1, 0]] }).Dmax).toBe(0.5);
  });

  it('Gaussian: D = 0 is an infinite rate, D < 0 and R < 0 are rejected', () => {
    expect(gaussianRate(0, 2)).toBe(Infinity);
    expect(gaussianRate(0, 0)).toBe(0);
    expect(gaussianRate(5, 2)).toBe(0);
    expect(gaussianDistortion(Infinity, 2)).toBe(0);
    expect(gaussianDistortion(0, 2)).toBe(2);
    expect(codeOf(() => gaussianRate(-1e-3, 2))).toBe('LIMIT_RD_INVALID_INPUT');
    expect(() => gaussianRate(-1e-3, 2)).toThrow(/^D: distortion must be ≥ 0/);
    expect(() => gaussianDistortion(-1, 2)).toThrow(/^R: rate must be ≥ 0/);
    expect(() => gaussianRate(1, -2)).toThrow(/^variance/);
    expect(() => gaussianRate(Number.NaN, 2)).toThrow(/^D/);
  });

  it('Gaussian: every D > 0 has a finite rate, also when σ²/D overflows (rd-audit #2)', () => {
    // Was +∞: 1/1e-310 overflows. ½·log2(1e310) = 514.93 bits.
    const bits = 0.5 * 310 * Math.log2(10);
    expect(gaussianRate(1e-310, 1)).toBeCloseTo(bits, 10);
    expect(gaussianRate(1e-300, 1e10)).toBeCloseTo(bits, 10);
    expect(gaussianRate(Number.MIN_VALUE, Number.MAX_VALUE)).toBeCloseTo(0.5 * (Math.log2(Number.MAX_VALUE) + 1074), 10);
    // Where the quotient fits, nothing changes.
    expect(gaussianRate(0.01, 3)).toBe(0.5 * Math.log2(300));
  });

  it('Gaussian: D(R) does not underflow while σ²·2^(−2R) is a double, and stays the inverse of R(D)', () => {
    // Was 0 (2^(−1200) underflows), so R(D(R)) = ∞. 2^-600 is exact: the product below is D itself.
    const D = gaussianDistortion(600, 1e300);
    const exact = 1e300 * 2 ** -600 * 2 ** -600;
    expect(Math.abs(D - exact) / exact).toBeLessThan(1e-12);
    expect(gaussianRate(D, 1e300)).toBeCloseTo(600, 9);
    for (const [R, variance] of [[530, 1], [700, 1e200], [1000, 1e300], [520, 1e10]] as const) {
      const d = gaussianDistortion(R, variance);
      expect(d, `R ${R}, σ² ${variance}`).toBeGreaterThan(0);
      expect(Math.abs(gaussianRate(d, variance) - R) / R, `R ${R}, σ² ${variance}`).toBeLessThan(1e-12);
    }
    // Across the switch at R ≈ 511 D(R) keeps halving per half bit; below it nothing changes.
    expect(gaussianDistortion(511.5, 1e10) / gaussianDistortion(511, 1e10)).toBeCloseTo(0.5, 12);
    expect(gaussianDistortion(10, 3)).toBe(3 * Math.pow(2, -20));
    // Only a true underflow is 0.
    expect(gaussianDistortion(600, 1)).toBe(0);
  });

  it('Gaussian: the estimate of finite samples never overflows silently (rd-audit #3)', () => {
    // The sum behind the mean overflowed: { mean: ∞, variance: ∞ }, and the rate blamed `variance`.
    expect(estimateVariance([1.7e308, 1.7e308])).toEqual({ n: 2, mean: 1.7e308, variance: 0, ddof: 0 });
    expect(estimateVariance([-1.7e308, -1.7e308, -1.7e308], 1)).toEqual({ n: 3, mean: -1.7e308, variance: 0, ddof: 1 });
    // The squared deviations overflowed though σ² = 1e308 fits.
    const wide = estimateVariance([1e154, -1e154]);
    expect(wide.mean).toBe(0);
    expect(wide.variance / 1e308).toBeCloseTo(1, 14);
    // σ² beyond the largest double: refused naming the samples, never returned as ∞.
    for (const samples of [[1e200, -1e200], [1.7e308, -1.7e308]]) {
      expect(() => estimateVariance(samples)).toThrow(expect.objectContaining({ code: 'LIMIT_RD_INVALID_INPUT', details: expect.objectContaining({ field: 'samples' }) }));
      expect(() => gaussianRateFromSamples(samples, 0.1)).toThrow(/^samples: their variance overflows/);
    }
    expect(gaussianRateFromSamples([1.7e308, 1.7e308], 0.1)).toBe(0);
  });

  it('Gaussian: the estimator needs enough finite samples', () => {
    expect(() => estimateVariance([])).toThrow(/^samples: need at least 1/);
    expect(() => estimateVariance([1], 1)).toThrow(/^samples: need at least 2/);
    expect(() => estimateVariance([1, Number.POSITIVE_INFINITY])).toThrow(/^samples\[1\]/);
    expect(estimateVariance([3]).variance).toBe(0);
  });

  it('malformed arguments are LIMIT_RD_INVALID_INPUT naming the field, not TypeErrors', () => {
    const ham = { p: [0.5, 0.5], distortion: [[0, 1], [1, 0]] };
    // A null first row was reported as "the reproduction alphabet is empty".
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: [null, [0, 1]] } as never)).toThrow(/^distortion\[0\]: expected an array of numbers \(one per reproduction symbol\), got null$/);
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: [[], []] })).toThrow(/^distortion\[0\]: the reproduction alphabet is empty$/);
    // betas.map of null.
    expect(() => rdCurve(ham, null as never)).toThrow(/^betas: must be an array of slope parameters β ≥ 0, got null$/);
    expect(() => rdCurve(ham, '12' as never)).toThrow(/^betas: .*got "12" \(a string\)$/);
    // A typed array is a list of β (its own map turned the points into NaN).
    expect(rdCurve(ham, new Float64Array([1, 2]) as never).map((pt) => pt.beta)).toEqual([1, 2]);
    // The exported solvers read a null source as a source, not as a prepared one ("reading 'd'").
    for (const fn of [() => blahutArimoto(null as never, 1), () => rdCurve(null as never, [1]), () => rateAtDistortion(null as never, 0.1)]) {
      expect(fn).toThrow(/^source: expected \{ p, distortion \}/);
    }
  });

  it('Blahut–Arimoto: validation and limits', () => {
    const ham = { p: [0.5, 0.5], distortion: [[0, 1], [1, 0]] };
    expect(() => prepareSource({ p: [0.5, 0.6], distortion: ham.distortion })).toThrow(/^p: probabilities must sum to 1/);
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: [[0, 1]] })).toThrow(/^distortion: needs one row per source symbol/);
    expect(() => prepareSource({ p: [0.5, 0.5], distortion: [[0, -1], [1, 0]] })).toThrow(/^distortion\[0\]\[1\]/);
    expect(() => blahutArimoto(ham, -1)).toThrow(/^beta/);
    expect(codeOf(() => rateAtDistortion(ham, -0.1))).toBe('LIMIT_RD_INVALID_INPUT');
    // D = D_min = 0 for Hamming: R(0) = H(p) = 1 bit.
    expect(Math.abs(rateAtDistortion(ham, 0).R - 1)).toBeLessThan(1e-9);
    expect(rateAtDistortion(ham, 0.7).R).toBe(0);
    // Non-square distortion: 3 source symbols, 2 reproduction symbols.
    const pt = blahutArimoto({ p: [0.2, 0.3, 0.5], distortion: [[0, 1], [1, 0], [0.5, 0.5]] }, 2);
    expect(pt.converged).toBe(true);
    expect(pt.q).toHaveLength(2);
  });

  it('Blahut–Arimoto: R at a D on a straight segment of R(D) is the segment, D reached (time-sharing of the two channels either side)', () => {
    // Reproduction symbol 2 costs 0.3 from both source symbols: R(D) is the tangent from (0.3, 0)
    // to 1 − h(D), touching at D₁ = 0.14172… with slope log2((1 − D₁)/D₁); no β has 0.14 < D(β) < 0.3.
    const h = (d: number) => -d * Math.log2(d) - (1 - d) * Math.log2(1 - d);
    let lo = 0.01;
    let hi = 0.29;
    for (let k = 0; k < 200; k++) {
      const m = (lo + hi) / 2;
      if ((1 - h(m)) / (0.3 - m) < Math.log2((1 - m) / m)) lo = m;
      else hi = m;
    }
    const slope = Math.log2((1 - lo) / lo);
    const res = rateAtDistortion({ p: [0.5, 0.5], distortion: [[0, 1, 0.3], [1, 0, 0.3]] }, 0.2);
    expect(res.Dreached).toBe(0.2);
    expect(Math.abs(res.R - slope * 0.1)).toBeLessThan(1e-8); // was 0.411 (the channel at D = 0.14)
    // Just below D_max of a binary source: h(0.3) − h(D), not R of a channel at another D.
    const near = rateAtDistortion({ p: [0.3, 0.7], distortion: [[0, 1], [1, 0]] }, 0.2999999);
    // 1.2224e-7 bits, within Blahut–Arimoto's 1e-13 (was 1.07e-9: the channel at D = 0.29999999912).
    expect(Math.abs(near.R - (h(0.3) - h(0.2999999)))).toBeLessThan(1e-12);
    expect(Math.abs(near.Dreached - 0.2999999)).toBeLessThan(1e-15);
  });

  it('operational rates are taken as given after validation', () => {
    expect(operationalRate(1234, 'tokens')).toEqual({ value: 1234, unit: 'tokens' });
    expect(operationalRate(0.5, 'cost')).toEqual({ value: 0.5, unit: 'cost' });
    expect(operationalRates([0, 10, 2.5], 'bytes').map((r) => r.value)).toEqual([0, 10, 2.5]);
    expect(() => operationalRate(-1)).toThrow(/^rate: must be ≥ 0/);
    expect(() => operationalRate(Number.NaN)).toThrow(/^rate: must be a finite number/);
    expect(() => operationalRates([1, Number.POSITIVE_INFINITY])).toThrow(/^rates\[1\]/);
    expect(codeOf(() => operationalRate('12'))).toBe('LIMIT_RD_INVALID_INPUT');
  });
});
