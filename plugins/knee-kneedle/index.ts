/**
 * knee-kneedle: the knee of a curve by Kneedle (Satopää et al. 2011), offline or online, for the
 * four convex/concave × increasing/decreasing shapes. Provides `knee:kneedle`. See README.md.
 */
import { definePlugin, LimitError, mergeCallOptions, registerKneeCommands, type CurveInput, type KneeDetector } from 'limit-graph';
import type { z } from 'zod';
import { type KneedleOptions, type KneedleResult, kneedle } from './kneedle.ts';
import { KneeKneedleCallOptions, KneeKneedleOptions, SHAPE_HINTS } from './options.ts';

export { kneedle } from './kneedle.ts';
export { renderRdCurveSvg as renderRdSvg } from 'limit-graph';
export type { KneedleOptions, KneedleResult, CurveShape, CurveDirection } from './kneedle.ts';
export type { CurveInput } from 'limit-graph';
export { KneeKneedleOptions } from './options.ts';

/** The `knee:kneedle` service. `index` is in the caller's point order, null when there is no knee. */
export interface KneedleService extends KneeDetector {
  readonly name: 'kneedle';
  readonly defaults: Readonly<KneeKneedleOptions>;
  readonly callOptions: typeof KneeKneedleCallOptions;
  detect(points: { x: number; y: number }[], options?: KneedleOptions): KneedleResult;
  /** Same, for `{ x: [...], y: [...] }` or RD points `{ rate, distortion }`. */
  detectCurve(curve: CurveInput, options?: KneedleOptions): KneedleResult;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'knee-kneedle': z.input<typeof KneeKneedleOptions>;
  }
  interface Cradle {
    'knee:kneedle': KneedleService;
  }
}

/** The plugin's options with the keys a call gives (`undefined`: none) replacing theirs. */
function merged(defaults: KneeKneedleOptions, call: unknown): KneeKneedleOptions {
  return mergeCallOptions(defaults, call, { schema: KneeKneedleCallOptions, plugin: 'knee-kneedle', code: 'LIMIT_RD_INVALID_INPUT' });
}

export function createKneedleService(defaults: KneeKneedleOptions): KneedleService {
  const detectCurve = (curve: CurveInput, options?: KneedleOptions): KneedleResult => kneedle(curve, merged(defaults, options));
  return Object.freeze({
    name: 'kneedle' as const,
    defaults: Object.freeze({ ...defaults }),
    callOptions: KneeKneedleCallOptions,
    detectCurve,
    detect: (points: { x: number; y: number }[], options?: KneedleOptions) => detectCurve(points, options),
  });
}

export const kneeKneedlePlugin = definePlugin({
  meta: {
    name: 'knee-kneedle',
    version: '1.0.0',
    description: 'Knee of a curve by Kneedle (Satopää et al. 2011), offline or online',
    provides: ['knee:kneedle'],
  },
  options: KneeKneedleOptions,
  setup(ctx, options) {
    ctx.provide('knee:kneedle', createKneedleService(options));
    // The file's shape hints (`curve`, `direction`) go through the call-option check like any other.
    ctx.hooks.cliCommands.tap(ctx.name, (registry) =>
      registerKneeCommands(registry, {
        method: 'kneedle',
        callOptions: (flags, curve) => {
          if (flags.normalize) throw new LimitError('LIMIT_RD_INVALID_INPUT', '--normalize applies to --method menger, not kneedle', { plugin: 'knee-kneedle', details: { field: '--normalize' }, fix: 'Drop --normalize, or pass --method menger.' });
          // The file's hints are named as the file has them (`curve.json › curve`), not as the
          // call option they become (`options.curve: …, or leave it out to use the plugin's value`).
          for (const [key, allowed] of Object.entries(SHAPE_HINTS) as [keyof typeof SHAPE_HINTS, readonly [string, string]][]) {
            const value = curve[key];
            if (value !== undefined && !allowed.includes(value)) {
              throw new LimitError('LIMIT_RD_INVALID_INPUT', `${flags.input} › ${key}: must be '${allowed[0]}' or '${allowed[1]}' (the curve's shape for kneedle), got '${value}'`, {
                plugin: 'knee-kneedle', details: { file: flags.input, field: key }, fix: `Correct ${key} in ${flags.input}, or leave it out to use the plugin's configured ${key}.`,
              });
            }
          }
          return {
          ...(flags.online ? { online: true } : {}),
          ...(curve.curve ? { curve: curve.curve } : {}),
          ...(curve.direction ? { direction: curve.direction } : {}),
          };
        },
      }),
    );
  },
});

/** Factory (Vite/Rollup style): `kneeKneedle({ online: true })` in code; the config loader calls it bare. */
export default function kneeKneedle(options?: z.input<typeof KneeKneedleOptions>) {
  return options === undefined ? kneeKneedlePlugin : kneeKneedlePlugin.configure(options);
}
