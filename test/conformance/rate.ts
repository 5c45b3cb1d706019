/**
 * The rate-model conformance suite: every `RateModel` (`rate:<name>`, built-in or third-party) runs
 * it to prove it honours the contract (kernel/contracts/rd.ts) and what rate–distortion theory
 * guarantees of any correct implementation:
 * - Gaussian: R(D) = max(0, ½·log2(σ²/D)) and D(R) = σ²·2^(−2R), inverse of each other, R = +∞ at
 *   D = 0 (0 when σ² = 0), R = 0 for D ≥ σ², both non-increasing; σ² from samples with the
 *   model's default ddof unless one is given;
 * - Blahut–Arimoto on discrete sources: R ≥ 0, R ≤ H(p), the certified lower bound below R, the
 *   slope −β/ln 2, an output marginal that is a distribution, R = 0 at β = 0, and the closed form
 *   h(θ) − h(D) of a binary source under Hamming distortion;
 * - R(D) at a target: R = 0 at and beyond D_max, non-increasing and convex in D, D_min reached,
 *   D below D_min refused; a curve ordered by β;
 * - operational rates kept as given;
 * - invalid input (D < 0, R < 0, NaN, β < 0, a p that does not sum to 1, negative or non-finite
 *   distortions, a missing Gaussian source or distortion row, betas that are no list, too few samples)
 *   is a `LimitError` LIMIT_RD_INVALID_INPUT naming the field, never NaN or a TypeError.
 *
 *   import { rateConformance } from 'limit-graph/testing';
 *   rateConformance('rd-mine', async () => {
 *     const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-mine': true } } });
 *     return { model: rt.resolve('rate:mine'), close: () => rt.close().then(() => undefined) };
 *   });
 */
import { describe, expect, it } from 'vitest';
import { freshEach } from './fresh.ts';
import { isLimitError, type DiscreteSource, type RateModel } from 'limit-graph';

export interface RateModelUnderTest {
  model: RateModel;
  close?: () => Promise<void>;
}

export type RateModelFactory = () => RateModelUnderTest | Promise<RateModelUnderTest>;

export interface RateConformanceOptions {
  /** Absolute tolerance in bits of the comparisons with closed forms. Default 1e-9. */
  tolerance?: number;
}

const h2 = (x: number) => (x <= 0 || x >= 1 ? 0 : -x * Math.log2(x) - (1 - x) * Math.log2(1 - x));
const entropy = (p: readonly number[]) => p.reduce((s, v) => (v > 0 ? s - v * Math.log2(v) : s), 0);

/** Discrete sources with their D_min and D_max. */
export const RATE_SOURCES: readonly { name: string; source: DiscreteSource & { p: number[] }; Dmin: number; Dmax: number }[] = [
  { name: 'binary θ = 0.11, Hamming', source: { p: [0.89, 0.11], distortion: [[0, 1], [1, 0]] }, Dmin: 0, Dmax: 0.11 },
  { name: 'ternary, squared error', source: { p: [0.5, 0.3, 0.2], distortion: [[0, 1, 4], [1, 0, 1], [4, 1, 0]] }, Dmin: 0, Dmax: 0.7 },
  // Three symbols, two reproductions: no channel is distortion-free (D_min > 0).
  { name: '3 × 2, D_min > 0', source: { p: [0.2, 0.5, 0.3], distortion: [[0, 1], [0.5, 0.5], [1, 0]] }, Dmin: 0.25, Dmax: 0.45 },
];

/** Registers the rate-model conformance groups under `describe(name)`. */
export function rateConformance(name: string, factory: RateModelFactory, options: RateConformanceOptions = {}): void {
  const tol = options.tolerance ?? 1e-9;

  describe(`rate model conformance: ${name}`, () => {
    const fixture = freshEach(factory, 'rate model');
    const model = (): RateModel => fixture().model;
    const refuses = (run: () => unknown, field: string | readonly string[], what: string) => {
      let caught: unknown;
      let value: unknown;
      try {
        value = run();
      } catch (error) {
        caught = error;
      }
      expect(isLimitError(caught, 'LIMIT_RD_INVALID_INPUT'), `${what}: expected a LimitError LIMIT_RD_INVALID_INPUT, got ${caught === undefined ? `a value (${JSON.stringify(value)?.slice(0, 120)})` : caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`).toBe(true);
      const fields = typeof field === 'string' ? [field] : field;
      // As a name, not a letter of another word: "D" must not be found in "Distortion", nor "p" in "expected".
      const named = (f: string) => new RegExp(`(^|[^\\p{L}\\p{N}_])${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}_])`, 'u').test((caught as Error).message);
      expect(fields.some(named), `${what}: the message should name the field (${fields.join(' or ')}): ${(caught as Error).message}`).toBe(true);
    };


    describe('contract shape', () => {
      it('has a name, defaults and every method', () => {
        const m = model();
        expect(typeof m.name).toBe('string');
        expect(m.name.length).toBeGreaterThan(0);
        expect([0, 1]).toContain(m.defaults.ddof);
        expect(Number.isFinite(m.defaults.tol) && m.defaults.tol >= 0).toBe(true);
        expect(Number.isInteger(m.defaults.maxIter) && m.defaults.maxIter >= 1).toBe(true);
        expect(typeof m.defaults.unit === 'string' && m.defaults.unit.length > 0).toBe(true);
        for (const fn of ['variance', 'gaussianRate', 'gaussianDistortion', 'blahutArimoto', 'rateAtDistortion', 'curve', 'operational'] as const) expect(typeof m[fn], fn).toBe('function');
      });
    });

    describe('variance', () => {
      it('estimates σ² with ddof 0 and 1, the default from the model', () => {
        const samples = [1, 2, 3, 4];
        expect(model().variance(samples, 0)).toMatchObject({ n: 4, mean: 2.5, ddof: 0 });
        expect(model().variance(samples, 0).variance).toBeCloseTo(1.25, 14);
        expect(model().variance(samples, 1).variance).toBeCloseTo(5 / 3, 14);
        expect(model().variance(samples).ddof).toBe(model().defaults.ddof);
        expect(model().variance(Float64Array.from(samples), 1).variance).toBeCloseTo(5 / 3, 14);
        expect(model().variance([7, 7, 7], 0).variance).toBe(0);
      });

      it('refuses too few or non-finite samples and an unknown ddof', () => {
        refuses(() => model().variance([], 0), 'samples', 'no samples');
        refuses(() => model().variance([1], 1), 'samples', 'one sample with ddof 1');
        refuses(() => model().variance([1, Number.NaN, 3], 0), 'samples', 'a NaN sample');
        refuses(() => model().variance([1, Number.POSITIVE_INFINITY], 0), 'samples', 'an infinite sample');
        refuses(() => model().variance([1, 2, 3], 2 as 0), 'ddof', 'ddof 2');
      });
    });

    describe('Gaussian source', () => {
      const variances = [0.5, 1, 4, 123.4];

      it('R(D) = max(0, ½·log2(σ²/D)): +∞ at D = 0, 0 from D = σ² on, 0 when σ² = 0', () => {
        for (const variance of variances) {
          for (const f of [1e-6, 0.01, 0.3, 0.999]) {
            expect(Math.abs(model().gaussianRate(f * variance, { variance }) - 0.5 * Math.log2(1 / f)), `σ² ${variance}, D ${f}σ²`).toBeLessThanOrEqual(tol);
          }
          expect(model().gaussianRate(0, { variance })).toBe(Number.POSITIVE_INFINITY);
          expect(model().gaussianRate(variance, { variance })).toBe(0);
          expect(model().gaussianRate(10 * variance, { variance })).toBe(0);
          expect(model().gaussianRate(Number.POSITIVE_INFINITY, { variance })).toBe(0);
        }
        expect(model().gaussianRate(0, { variance: 0 })).toBe(0);
        expect(model().gaussianRate(0.5, { variance: 0 })).toBe(0);
      });

      it('R(D) is ≥ 0 and non-increasing in D', () => {
        for (const variance of variances) {
          let previous = Number.POSITIVE_INFINITY;
          for (let k = 0; k <= 60; k++) {
            const D = variance * 2 ** (-12 + k * 0.25);
            const R = model().gaussianRate(D, { variance });
            expect(R, `σ² ${variance}, D ${D}`).toBeGreaterThanOrEqual(0);
            expect(R, `σ² ${variance}: R rose from ${previous} at D = ${D}`).toBeLessThanOrEqual(previous);
            previous = R;
          }
        }
      });

      it('D(R) = σ²·2^(−2R) is the inverse of R(D), σ² at R = 0 and 0 at R = +∞', () => {
        for (const variance of variances) {
          expect(model().gaussianDistortion(0, { variance })).toBe(variance);
          expect(model().gaussianDistortion(Number.POSITIVE_INFINITY, { variance })).toBe(0);
          for (const R of [0.1, 1, 2.5, 10]) expect(Math.abs(model().gaussianDistortion(R, { variance }) - variance * 2 ** (-2 * R))).toBeLessThanOrEqual(tol * variance);
          for (const f of [0.001, 0.2, 0.9]) {
            const D = f * variance;
            expect(Math.abs(model().gaussianDistortion(model().gaussianRate(D, { variance }), { variance }) - D) / D).toBeLessThanOrEqual(1e-12);
          }
        }
      });

      it('takes σ² from samples, with the model\'s ddof unless one is given', () => {
        const samples = [0.3, -1.2, 2.2, 0.9, -0.4, 1.7, 0.1];
        for (const ddof of [0, 1] as const) {
          const variance = model().variance(samples, ddof).variance;
          expect(model().gaussianRate(0.1, { samples, ddof })).toBe(model().gaussianRate(0.1, { variance }));
          expect(model().gaussianDistortion(1.5, { samples, ddof })).toBe(model().gaussianDistortion(1.5, { variance }));
        }
        const byDefault = model().variance(samples, model().defaults.ddof).variance;
        expect(model().gaussianRate(0.1, { samples })).toBe(model().gaussianRate(0.1, { variance: byDefault }));
      });

      it('refuses D < 0, R < 0, NaN and a negative or non-finite σ², naming the field', () => {
        refuses(() => model().gaussianRate(-0.1, { variance: 1 }), 'D', 'D < 0');
        refuses(() => model().gaussianRate(Number.NaN, { variance: 1 }), 'D', 'D = NaN');
        refuses(() => model().gaussianDistortion(-1, { variance: 1 }), 'R', 'R < 0');
        refuses(() => model().gaussianDistortion(Number.NaN, { variance: 1 }), 'R', 'R = NaN');
        refuses(() => model().gaussianRate(0.1, { variance: -1 }), 'variance', 'σ² < 0');
        refuses(() => model().gaussianRate(0.1, { variance: Number.NaN }), 'variance', 'σ² = NaN');
        refuses(() => model().gaussianDistortion(1, { variance: Number.POSITIVE_INFINITY }), 'variance', 'σ² = +∞');
        refuses(() => model().gaussianRate(0.1, { samples: [1, Number.NaN] }), 'samples', 'a NaN sample');
        // A missing source is refused naming it, not a TypeError ("Cannot use 'in' operator").
        refuses(() => model().gaussianRate(0.1, null as never), 'source', 'gaussianRate: a null source');
        refuses(() => model().gaussianDistortion(1, undefined as never), 'source', 'gaussianDistortion: no source');
      });
    });

    describe('Blahut–Arimoto', () => {
      const betas = [0, 0.5, 1, 2, 4, 8, 16];

      it('gives points with 0 ≤ R ≤ H(p), R_L ≤ R, slope −β/ln 2 and an output distribution q', () => {
        for (const { name: source, source: src, Dmin } of RATE_SOURCES) {
          const H = entropy(src.p);
          for (const beta of betas) {
            const pt = model().blahutArimoto(src, beta);
            const what = `${source}, β ${beta}`;
            expect(pt.beta, what).toBe(beta);
            expect(Math.abs(pt.slopeBits + beta / Math.LN2), `${what}: slopeBits`).toBeLessThanOrEqual(1e-12 * Math.max(1, beta));
            for (const v of [pt.D, pt.R, pt.Rlower, pt.gapBits]) expect(Number.isFinite(v), `${what}: ${JSON.stringify(pt)}`).toBe(true);
            expect(pt.R, `${what}: R`).toBeGreaterThanOrEqual(0);
            expect(pt.R, `${what}: R ≤ H(p) = ${H}`).toBeLessThanOrEqual(H + tol);
            expect(pt.Rlower, `${what}: the lower bound`).toBeLessThanOrEqual(pt.R + tol);
            expect(pt.D, `${what}: D ≥ D_min`).toBeGreaterThanOrEqual(Dmin - tol);
            expect(pt.q).toHaveLength(src.distortion.length === 0 ? 0 : src.distortion[0]!.length);
            expect(pt.q.every((v) => v >= 0)).toBe(true);
            expect(Math.abs(pt.q.reduce((a, b) => a + b, 0) - 1), `${what}: q sums to 1`).toBeLessThanOrEqual(1e-9);
            expect(Number.isInteger(pt.iterations) && pt.iterations >= 0).toBe(true);
            expect(pt.converged, `${what}: converged`).toBe(true);
          }
          expect(model().blahutArimoto(src, 0).R, `${source}: R at β = 0`).toBeLessThanOrEqual(tol);
        }
      });

      it('matches h(θ) − h(D) for a binary source under Hamming distortion', () => {
        for (const theta of [0.11, 0.3, 0.5]) {
          const src = { p: [1 - theta, theta], distortion: [[0, 1], [1, 0]] };
          for (const beta of [1, 2.5, 5, 10]) {
            const pt = model().blahutArimoto(src, beta);
            if (pt.D > theta) continue; // above D_max the curve is R = 0, not the closed form
            expect(Math.abs(pt.R - (h2(theta) - h2(pt.D))), `θ ${theta}, β ${beta}, D ${pt.D}`).toBeLessThanOrEqual(tol);
          }
        }
      });

      it('curve(): one point per β, in order, D non-increasing and R non-decreasing as β grows', () => {
        for (const { name: source, source: src } of RATE_SOURCES) {
          const pts = model().curve(src, betas);
          expect(pts.map((p) => p.beta)).toEqual(betas);
          for (let i = 1; i < pts.length; i++) {
            expect(pts[i]!.D, `${source}: D at β ${betas[i]}`).toBeLessThanOrEqual(pts[i - 1]!.D + tol);
            expect(pts[i]!.R, `${source}: R at β ${betas[i]}`).toBeGreaterThanOrEqual(pts[i - 1]!.R - tol);
          }
        }
      });

      it('refuses β < 0 or non-finite and malformed sources, naming the field', () => {
        const src = RATE_SOURCES[0]!.source;
        refuses(() => model().blahutArimoto(src, -1), 'beta', 'β < 0');
        refuses(() => model().blahutArimoto(src, Number.NaN), 'beta', 'β = NaN');
        refuses(() => model().blahutArimoto(src, Number.POSITIVE_INFINITY), 'beta', 'β = +∞');
        const bad: [string, DiscreteSource, string][] = [
          ['p that does not sum to 1', { p: [0.5, 0.6], distortion: [[0, 1], [1, 0]] }, 'p'],
          ['a negative p', { p: [1.5, -0.5], distortion: [[0, 1], [1, 0]] }, 'p'],
          ['a NaN p', { p: [Number.NaN, 1], distortion: [[0, 1], [1, 0]] }, 'p'],
          ['an empty p', { p: [], distortion: [] }, 'p'],
          ['a negative distortion', { p: [0.5, 0.5], distortion: [[0, -1], [1, 0]] }, 'distortion'],
          ['an infinite distortion', { p: [0.5, 0.5], distortion: [[0, Number.POSITIVE_INFINITY], [1, 0]] }, 'distortion'],
          ['a ragged matrix', { p: [0.5, 0.5], distortion: [[0, 1], [1]] }, 'distortion'],
          ['a row per symbol missing', { p: [0.5, 0.5], distortion: [[0, 1]] }, 'distortion'],
          ['a null first row', { p: [0.5, 0.5], distortion: [null, [0, 1]] } as never, 'distortion[0]'],
        ];
        for (const [what, source, field] of bad) {
          refuses(() => model().blahutArimoto(source, 1), field, `blahutArimoto: ${what}`);
          refuses(() => model().rateAtDistortion(source, 0.1), field, `rateAtDistortion: ${what}`);
          refuses(() => model().curve(source, [1]), field, `curve: ${what}`);
        }
        // betas that are no list are refused naming them, not a TypeError (".map of null").
        refuses(() => model().curve(src, null as never), 'betas', 'curve: betas null');
        refuses(() => model().curve(src, 2 as never), 'betas', 'curve: betas a number');
      });
    });

    describe('R(D) at a target distortion', () => {
      it('is 0 at and beyond D_max (without iterating), > 0 below it', () => {
        for (const { name: source, source: src, Dmax } of RATE_SOURCES) {
          for (const D of [Dmax, Dmax * 1.5, 10, Number.POSITIVE_INFINITY]) expect(model().rateAtDistortion(src, D).R, `${source}, D ${D}`).toBe(0);
          expect(model().rateAtDistortion(src, Dmax * 0.9).R, `${source}, D just below D_max`).toBeGreaterThan(0);
        }
      });

      it('is ≥ 0, non-increasing and convex in D, and reaches the D asked for', () => {
        for (const { name: source, source: src, Dmin, Dmax } of RATE_SOURCES) {
          const Ds = Array.from({ length: 9 }, (_, i) => Dmin + ((Dmax - Dmin) * (i + 0.5)) / 9);
          const Rs = Ds.map((D) => {
            const r = model().rateAtDistortion(src, D);
            expect(r.R, `${source}, D ${D}`).toBeGreaterThanOrEqual(0);
            expect(Math.abs(r.Dreached - D), `${source}: asked for D ${D}, reached ${r.Dreached}`).toBeLessThanOrEqual(1e-6 * Math.max(1, D));
            return r.R;
          });
          for (let i = 1; i < Rs.length; i++) expect(Rs[i]!, `${source}: R rose between D ${Ds[i - 1]} and ${Ds[i]}`).toBeLessThanOrEqual(Rs[i - 1]! + tol);
          // Evenly spaced D: convexity is a non-negative second difference.
          for (let i = 1; i < Rs.length - 1; i++) expect(Rs[i - 1]! - 2 * Rs[i]! + Rs[i + 1]!, `${source}: R(D) is not convex around D ${Ds[i]}`).toBeGreaterThanOrEqual(-1e-7);
        }
      });

      it('matches h(θ) − h(D) for a binary Hamming source', () => {
        const src = RATE_SOURCES[0]!.source;
        for (const D of [0.005, 0.02, 0.05, 0.1]) expect(Math.abs(model().rateAtDistortion(src, D).R - (h2(0.11) - h2(D))), `D ${D}`).toBeLessThanOrEqual(1e-7);
      });

      it('reaches D_min and refuses D below it, D < 0 and NaN', () => {
        for (const { name: source, source: src, Dmin } of RATE_SOURCES) {
          const r = model().rateAtDistortion(src, Dmin);
          expect(Number.isFinite(r.R) && r.R >= 0, `${source}: R(D_min) = ${r.R}`).toBe(true);
          expect(r.R).toBeLessThanOrEqual(entropy(src.p) + tol);
          refuses(() => model().rateAtDistortion(src, Dmin - 0.01), 'D', `${source}: D below D_min`);
          refuses(() => model().rateAtDistortion(src, Number.NaN), 'D', `${source}: D = NaN`);
        }
      });
    });

    describe('operational rates', () => {
      it('keeps the value and unit as given, the model\'s unit by default', () => {
        expect(model().operational(1834, 'tokens')).toEqual({ value: 1834, unit: 'tokens' });
        expect(model().operational(0.25, 'cost')).toEqual({ value: 0.25, unit: 'cost' });
        expect(model().operational(0)).toEqual({ value: 0, unit: model().defaults.unit });
      });

      it('refuses negative and non-finite values', () => {
        for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY]) refuses(() => model().operational(v, 'tokens'), ['rate', 'value'], `operational(${v})`);
      });
    });
  });
}
