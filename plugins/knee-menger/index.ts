/**
 * knee-menger: the knee of a curve as its point of largest Menger curvature (raw or min–max
 * normalised coordinates). Provides `knee:menger`. See README.md.
 */
import { definePlugin, LimitError, registerKneeCommands, type CurveInput, type KneeDetector } from 'limit-graph';
import type { z } from 'zod';
import { type MengerResult, mengerKnee } from './menger.ts';
import { KneeMengerCallOptions, KneeMengerOptions } from './options.ts';

export { mengerCurvature, mengerKnee } from './menger.ts';
export { renderRdCurveSvg as renderRdSvg } from 'limit-graph';
export type { MengerOptions, MengerResult } from './menger.ts';
export type { CurveInput } from 'limit-graph';
export { KneeMengerOptions } from './options.ts';

/** The `knee:menger` service. `index` is in the caller's point order, null when there is no knee. */
export interface MengerService extends KneeDetector {
  readonly name: 'menger';
  readonly defaults: Readonly<KneeMengerOptions>;
  readonly callOptions: typeof KneeMengerCallOptions;
  detect(points: { x: number; y: number }[], options?: { normalize?: boolean }): MengerResult;
  /** Same, for `{ x: [...], y: [...] }` or RD points `{ rate, distortion }`. */
  detectCurve(curve: CurveInput, options?: { normalize?: boolean }): MengerResult;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'knee-menger': z.input<typeof KneeMengerOptions>;
  }
  interface Cradle {
    'knee:menger': MengerService;
  }
}

function normalizeOption(defaults: KneeMengerOptions, options: unknown): boolean {
  if (options !== undefined && options !== null) {
    const unknown = Object.keys(options).filter((k) => k !== 'normalize');
    if (unknown.length) {
      throw new LimitError('LIMIT_RD_INVALID_INPUT', `options.${unknown.join(',')}: unknown option (the only option is normalize)`, { plugin: 'knee-menger', details: { field: `options.${unknown.join(',')}` } });
    }
  }
  const value = (options as { normalize?: unknown } | undefined)?.normalize;
  if (value === undefined) return defaults.normalize;
  if (typeof value !== 'boolean') {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `options.normalize: must be a boolean, got ${String(value)}`, { plugin: 'knee-menger', details: { field: 'options.normalize' } });
  }
  return value;
}

export function createMengerService(defaults: KneeMengerOptions): MengerService {
  const detectCurve = (curve: CurveInput, options?: { normalize?: boolean }): MengerResult =>
    mengerKnee(curve, { normalize: normalizeOption(defaults, options) });
  return Object.freeze({
    name: 'menger' as const,
    defaults: Object.freeze({ ...defaults }),
    callOptions: KneeMengerCallOptions,
    detectCurve,
    detect: (points: { x: number; y: number }[], options?: { normalize?: boolean }) => detectCurve(points, options),
  });
}

export const kneeMengerPlugin = definePlugin({
  meta: {
    name: 'knee-menger',
    version: '1.0.0',
    description: 'Knee of a curve by maximum Menger curvature (raw or min–max normalised)',
    provides: ['knee:menger'],
  },
  options: KneeMengerOptions,
  setup(ctx, options) {
    ctx.provide('knee:menger', createMengerService(options));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) =>
      registerKneeCommands(registry, {
        method: 'menger',
        callOptions: (flags) => {
          if (flags.online) throw new LimitError('LIMIT_RD_INVALID_INPUT', '--online applies to --method kneedle, not menger', { plugin: 'knee-menger', details: { field: '--online' }, fix: 'Drop --online, or pass --method kneedle.' });
          return flags.normalize === undefined ? {} : { normalize: flags.normalize };
        },
        flag: (key, value) => (key === 'normalize' && value === true ? '--normalize' : undefined),
      }),
    );
  },
});

/** Factory (Vite/Rollup style): `kneeMenger({ normalize: true })` in code; the config loader calls it bare. */
export default function kneeMenger(options?: z.input<typeof KneeMengerOptions>) {
  return options === undefined ? kneeMengerPlugin : kneeMengerPlugin.configure(options);
}
