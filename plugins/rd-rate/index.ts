/**
 * rd-rate: rates for rate–distortion curves. Gaussian R(D) with σ² estimated from samples,
 * Blahut–Arimoto for discrete sources with any distortion matrix, and operational rates (tokens,
 * bytes, cost) taken as given. Provides `rd:rate`. See README.md.
 */
import { definePlugin, LimitError, type RdAlgorithm } from 'limit-graph';
import type { z } from 'zod';
import { type BaOptions, type BaPoint, type DiscreteSource, type RateAtDistortion, blahutArimoto, prepareSource, rateAtDistortion, rdCurve } from './blahut.ts';
import { type Ddof, type VarianceEstimate, estimateVariance, gaussianDistortion, gaussianRate } from './gaussian.ts';
import { type OperationalRate, type RateUnit, operationalRate } from './operational.ts';
import { RdRateOptions } from './options.ts';
import { registerRateCommand } from './cli.ts';

export { blahutArimoto, entropyBits, prepareSource, rateAtDistortion, rdCurve } from './blahut.ts';
export type { BaOptions, BaPoint, DiscreteSource, PreparedSource, RateAtDistortion } from './blahut.ts';
export { estimateVariance, gaussianDistortion, gaussianRate, gaussianRateFromSamples } from './gaussian.ts';
export type { Ddof, VarianceEstimate } from './gaussian.ts';
export { operationalRate, operationalRates } from './operational.ts';
export type { OperationalRate, RateUnit } from './operational.ts';
export { RdRateOptions } from './options.ts';

/**
 * The `rd:rate` service. It sits under an `rd:` key, whose contract is a distortion measure, so
 * it carries `distortion` too — which refuses, pointing to `rd:fgw`.
 */
export interface RateService extends RdAlgorithm {
  readonly name: 'rate';
  readonly defaults: Readonly<RdRateOptions>;
  /** σ² of samples (ddof from the options unless given). */
  variance(samples: ArrayLike<number>, ddof?: Ddof): VarianceEstimate;
  /** Gaussian R(D) in bits: from a variance, or from samples. */
  gaussianRate(D: number, source: { variance: number } | { samples: ArrayLike<number>; ddof?: Ddof }): number;
  /** Gaussian D(R), R in bits. */
  gaussianDistortion(R: number, source: { variance: number } | { samples: ArrayLike<number>; ddof?: Ddof }): number;
  /** One point of a discrete source's R(D) curve for slope parameter β. */
  blahutArimoto(source: DiscreteSource, beta: number, options?: BaOptions): BaPoint;
  /** R(D) at a target distortion (bisection on β; 0 for D ≥ D_max). */
  rateAtDistortion(source: DiscreteSource, D: number, options?: BaOptions): RateAtDistortion;
  curve(source: DiscreteSource, betas: readonly number[], options?: BaOptions): BaPoint[];
  /** An operational rate (tokens, bytes, cost…), validated and kept as given. */
  operational(value: number, unit?: RateUnit): OperationalRate;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'rd-rate': z.input<typeof RdRateOptions>;
  }
  interface Cradle {
    'rd:rate': RateService;
  }
}

export function createRateService(defaults: RdRateOptions): RateService {
  const ba = (o?: BaOptions): BaOptions => ({ tol: defaults.tol, maxIter: defaults.maxIter, ...o });
  const varianceOf = (source: { variance: number } | { samples: ArrayLike<number>; ddof?: Ddof }): number =>
    'variance' in source ? source.variance : estimateVariance(source.samples, source.ddof ?? defaults.ddof).variance;
  return Object.freeze({
    name: 'rate' as const,
    defaults: Object.freeze({ ...defaults }),
    variance: (samples: ArrayLike<number>, ddof?: Ddof) => estimateVariance(samples, ddof ?? defaults.ddof),
    gaussianRate: (D: number, source: Parameters<RateService['gaussianRate']>[1]) => gaussianRate(D, varianceOf(source)),
    gaussianDistortion: (R: number, source: Parameters<RateService['gaussianDistortion']>[1]) => gaussianDistortion(R, varianceOf(source)),
    blahutArimoto: (source: DiscreteSource, beta: number, o?: BaOptions) => blahutArimoto(prepareSource(source), beta, ba(o)),
    rateAtDistortion: (source: DiscreteSource, D: number, o?: BaOptions) => rateAtDistortion(prepareSource(source), D, ba(o)),
    curve: (source: DiscreteSource, betas: readonly number[], o?: BaOptions) => rdCurve(prepareSource(source), betas, ba(o)),
    operational: (value: number, unit?: RateUnit) => operationalRate(value, unit ?? defaults.unit),
    distortion(): never {
      throw new LimitError('LIMIT_RD_INVALID_INPUT', 'rd:rate computes rates, not distortions between graphs', {
        plugin: 'rd-rate',
        fix: 'Use the "fgw" algorithm (plugin rd-fgw) for distortions.',
      });
    },
  });
}

export const rdRatePlugin = definePlugin({
  meta: {
    name: 'rd-rate',
    version: '1.0.0',
    description: 'Rates: Gaussian R(D), Blahut–Arimoto for discrete sources, operational rates',
    provides: ['rd:rate'],
  },
  options: RdRateOptions,
  setup(ctx, options) {
    ctx.provide('rd:rate', createRateService(options));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerRateCommand(registry));
  },
});

/** Factory (Vite/Rollup style): `rdRate({ ddof: 1 })` in code; the config loader calls it bare. */
export default function rdRate(options?: z.input<typeof RdRateOptions>) {
  return options === undefined ? rdRatePlugin : rdRatePlugin.configure(options);
}
