/**
 * rd-fgw: Fused Gromov–Wasserstein distortion between attributed graphs (or FGW matrices), exact
 * or entropic. Provides `rd:fgw`. See README.md for the formulas and conventions.
 */
import { definePlugin, LimitError, type AttributedGraph as ContractGraph, type DistortionOptions, type DistortionResult, type RdAlgorithm } from 'limit-graph';
import type { z } from 'zod';
import { type AnyFgwResult, type FgwInput, computeFgw, sparsePlan } from './api.ts';
import { RdFgwCallOptions, RdFgwOptions } from './options.ts';
import { registerFgwCommand } from './cli.ts';

export { computeFgw, solveFgw, toProblem, sparsePlan } from './api.ts';
export type { AnyFgwResult, FgwInput, FgwMethod, FgwOptions } from './api.ts';
export { fgwExact, lineSearchStep } from './exact.ts';
export type { ExactOptions, ExactDiagnostics, FgwResult } from './exact.ts';
export { fgwEntropic } from './entropic.ts';
export type { EntropicOptions, EntropicDiagnostics } from './entropic.ts';
export { TransportSimplex, emd, emd2 } from './emd.ts';
export type { EmdResult } from './emd.ts';
export { problemFromGraphs, allPairsShortestPaths } from './graph.ts';
export type { AttributedGraph, GraphOptions } from './graph.ts';
export { problemFromMatrices, fgwObjective, toSparsePlan, marginalError } from './problem.ts';
export type { FgwProblem, MatrixInput } from './problem.ts';
export { RdFgwOptions } from './options.ts';

export type RdFgwCallOptions = z.input<typeof RdFgwCallOptions>;

/** What `distortion` returns: the contract's fields plus the two terms of the objective. */
export interface FgwDistortion extends DistortionResult {
  method: 'exact' | 'entropic';
  alpha: number;
  /** ⟨M, T⟩ (without the 1 − α factor). */
  linTerm: number;
  /** Σ (C1[i][k] − C2[j][l])² T[i][j] T[k][l] (without the α factor). */
  gwTerm: number;
  n1: number;
  n2: number;
}

/** The `rd:fgw` service. */
export interface FgwService extends RdAlgorithm {
  readonly name: 'fgw';
  /** The plugin's options, the defaults of every call. */
  readonly defaults: Readonly<RdFgwOptions>;
  distortion(source: ContractGraph, target: ContractGraph, options?: DistortionOptions & RdFgwCallOptions): FgwDistortion;
  /** Full result (dense plan, diagnostics) for graphs `{ source, target }` or matrices `{ M, C1, C2, p?, q? }`. */
  compute(input: FgwInput, options?: RdFgwCallOptions): AnyFgwResult;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'rd-fgw': z.input<typeof RdFgwOptions>;
  }
  interface Cradle {
    'rd:fgw': FgwService;
  }
}

function merged(defaults: RdFgwOptions, call: unknown): RdFgwOptions {
  if (call === undefined || call === null) return defaults;
  const parsed = RdFgwCallOptions.safeParse(call);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key sits on the options object itself: name the key, and the ones that exist.
    const unknown = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : undefined;
    const field = `options.${unknown ? unknown.join(',') : issue.path.join('.')}`;
    const message = unknown ? `unknown option (the options are ${Object.keys(RdFgwOptions.shape).join(', ')})` : issue.message;
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, {
      plugin: 'rd-fgw',
      details: { field, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(parsed.data)) if (v !== undefined) out[k] = v;
  return out as RdFgwOptions;
}

export function createFgwService(defaults: RdFgwOptions): FgwService {
  const compute = (input: FgwInput, call?: RdFgwCallOptions): AnyFgwResult => computeFgw(input, merged(defaults, call));
  return Object.freeze({
    name: 'fgw' as const,
    defaults: Object.freeze({ ...defaults }),
    compute,
    distortion(source: ContractGraph, target: ContractGraph, call?: DistortionOptions & RdFgwCallOptions): FgwDistortion {
      const opts = merged(defaults, call);
      const res = computeFgw({ source, target }, opts);
      return {
        // The objective is a sum of non-negative terms; the tracked cost can end a few ulps below 0
        // (identical graphs), and a distortion must never be negative. `compute` keeps the raw value.
        value: Math.max(0, res.value),
        iterations: res.iterations,
        converged: res.converged,
        plan: sparsePlan(res, opts.planThreshold),
        method: opts.method,
        alpha: opts.alpha,
        linTerm: res.linTerm,
        gwTerm: res.gwTerm,
        n1: res.n1,
        n2: res.n2,
      };
    },
  });
}

export const rdFgwPlugin = definePlugin({
  meta: {
    name: 'rd-fgw',
    version: '1.0.0',
    description: 'Fused Gromov–Wasserstein distortion between attributed graphs: exact (conditional gradient + network simplex) or entropic (log-domain Sinkhorn)',
    provides: ['rd:fgw'],
  },
  options: RdFgwOptions,
  setup(ctx, options) {
    ctx.provide('rd:fgw', createFgwService(options));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerFgwCommand(registry));
    ctx.logger.debug({ method: options.method, alpha: options.alpha }, 'rd:fgw ready');
  },
});

/** Factory (Vite/Rollup style): `rdFgw({ alpha: 0.3 })` in code; the config loader calls it bare. */
export default function rdFgw(options?: z.input<typeof RdFgwOptions>) {
  return options === undefined ? rdFgwPlugin : rdFgwPlugin.configure(options);
}
