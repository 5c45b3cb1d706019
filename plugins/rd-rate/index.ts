/**
 * rd-rate: rates for rate–distortion curves. Gaussian R(D) with σ² estimated from samples,
 * Blahut–Arimoto for discrete sources with any distortion matrix, and operational rates (tokens,
 * bytes, cost) taken as given. Provides `rate:shannon` (the kernel's RateModel). See README.md.
 */
import { definePlugin, mergeCallOptions, type GaussianSource, type RateModel } from 'limit-graph';
import type { z } from 'zod';
import { type BaOptions, type DiscreteSource, blahutArimoto, prepareSource, rateAtDistortion, rdCurve } from './blahut.ts';
import { type Ddof, estimateVariance, gaussianDistortion, gaussianRate } from './gaussian.ts';
import { type RateUnit, operationalRate } from './operational.ts';
import { RdRateCallOptions, RdRateOptions } from './options.ts';
import { registerRateCommand } from './cli.ts';
import { invalid } from './errors.ts';

export { blahutArimoto, entropyBits, prepareSource, rateAtDistortion, rdCurve } from './blahut.ts';
export type { BaOptions, BaPoint, DiscreteSource, PreparedSource, RateAtDistortion } from './blahut.ts';
export { estimateVariance, gaussianDistortion, gaussianRate, gaussianRateFromSamples } from './gaussian.ts';
export type { Ddof, VarianceEstimate } from './gaussian.ts';
export { operationalRate, operationalRates } from './operational.ts';
export type { OperationalRate, RateUnit } from './operational.ts';
export { RdRateCallOptions, RdRateOptions } from './options.ts';

/** The `rate:shannon` service: the kernel's RateModel with this plugin's resolved options as defaults. */
export interface RateService extends RateModel {
  readonly name: 'shannon';
  readonly defaults: Readonly<RdRateOptions>;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'rd-rate': z.input<typeof RdRateOptions>;
  }
  interface Cradle {
    'rate:shannon': RateService;
  }
}

export function createRateService(defaults: RdRateOptions): RateService {
  // A call overrides only the keys it gives (`{ maxIter: undefined }` keeps the configured maxIter);
  // an unknown key or a value out of range is LIMIT_RD_INVALID_INPUT naming options.<key>.
  const configured: BaOptions = { tol: defaults.tol, maxIter: defaults.maxIter };
  const ba = (o?: BaOptions): BaOptions => mergeCallOptions(configured, o, { schema: RdRateCallOptions, plugin: 'rd-rate', code: 'LIMIT_RD_INVALID_INPUT' });
  const varianceOf = (source: GaussianSource): number => {
    const given: unknown = source;
    if (given === null || typeof given !== 'object' || Array.isArray(given)) {
      const got = given === undefined ? 'undefined' : Array.isArray(given) ? 'a list (give samples as { samples: [...] })' : JSON.stringify(given);
      throw invalid('source', `expected { variance } or { samples, ddof? }, got ${got}`);
    }
    return 'variance' in source ? source.variance : estimateVariance(source.samples, source.ddof ?? defaults.ddof).variance;
  };
  return Object.freeze({
    name: 'shannon' as const,
    defaults: Object.freeze({ ...defaults }),
    variance: (samples: ArrayLike<number>, ddof?: Ddof) => estimateVariance(samples, ddof ?? defaults.ddof),
    gaussianRate: (D: number, source: GaussianSource) => gaussianRate(D, varianceOf(source)),
    gaussianDistortion: (R: number, source: GaussianSource) => gaussianDistortion(R, varianceOf(source)),
    blahutArimoto: (source: DiscreteSource, beta: number, o?: BaOptions) => blahutArimoto(prepareSource(source), beta, ba(o)),
    rateAtDistortion: (source: DiscreteSource, D: number, o?: BaOptions) => rateAtDistortion(prepareSource(source), D, ba(o)),
    curve: (source: DiscreteSource, betas: readonly number[], o?: BaOptions) => rdCurve(prepareSource(source), betas, ba(o)),
    operational: (value: number, unit?: RateUnit) => operationalRate(value, unit ?? defaults.unit),
  });
}

export const rdRatePlugin = definePlugin({
  meta: {
    name: 'rd-rate',
    version: '1.0.0',
    description: 'Rates: Gaussian R(D), Blahut–Arimoto for discrete sources, operational rates',
    provides: ['rate:shannon'],
  },
  options: RdRateOptions,
  setup(ctx, options) {
    ctx.provide('rate:shannon', createRateService(options));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerRateCommand(registry));
  },
});

/** Factory (Vite/Rollup style): `rdRate({ ddof: 1 })` in code; the config loader calls it bare. */
export default function rdRate(options?: z.input<typeof RdRateOptions>) {
  return options === undefined ? rdRatePlugin : rdRatePlugin.configure(options);
}
