/**
 * rd-fgw: Fused Gromov–Wasserstein distortion between attributed graphs (or FGW matrices), exact
 * or entropic. Provides `rd:fgw`. See README.md for the formulas and conventions.
 */
import { definePlugin, distortionAborted, mergeCallOptions, type AsyncDistortionOptions, type AttributedGraph as ContractGraph, type DistortionOptions, type RdAlgorithm } from 'limit-graph';
import type { z } from 'zod';
import { type AnyFgwResult, type FgwInput, computeFgw, sparsePlan } from './api.ts';
import { type FgwDistortion, solveDistortion, withPlan } from './distortion.ts';
import { checkMemory } from './errors.ts';
import { checkEpsilon } from './entropic.ts';
import { problemFromGraphs } from './graph.ts';
import { checkAlpha } from './problem.ts';
import { RdFgwCallOptions, RdFgwOptions, type RdFgwComputeOptions } from './options.ts';
import { FgwPool } from './threads.ts';
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
export { RdFgwOptions, DEFAULT_POOL_SIZE } from './options.ts';
export type { RdFgwComputeOptions } from './options.ts';
export type { FgwDistortion } from './distortion.ts';
export { FgwPool, spawnFgwWorker } from './threads.ts';
export { WorkerPool } from './pool.ts';
export type { PoolStats, WorkerPoolOptions } from './pool.ts';

export type RdFgwCallOptions = z.input<typeof RdFgwCallOptions>;

/** The `rd:fgw` service. */
export interface FgwService extends RdAlgorithm {
  readonly name: 'fgw';
  /** The plugin's options, the defaults of every call. */
  readonly defaults: Readonly<RdFgwOptions>;
  /** Computes on the caller's thread (blocking it until the solve ends or hits `timeLimitMs`). */
  distortion(source: ContractGraph, target: ContractGraph, options?: DistortionOptions & RdFgwCallOptions): FgwDistortion;
  /**
   * The same result as `distortion`, computed in one of the plugin's worker threads (option
   * `threads`, `poolSize` at once; up to `maxQueued` others wait, more are refused with LIMIT_RD_BUSY). Errors reject with the same LimitError
   * (code, message, details, fix). `signal` stops the computation: a queued one is dropped, a
   * running one's thread is terminated (and replaced at the next call); it rejects with
   * LIMIT_RD_ABORTED. Without a pool (`threads: false`, or a service made by `createFgwService`
   * without one) it computes on the caller's thread.
   */
  distortionAsync(source: ContractGraph, target: ContractGraph, options?: AsyncDistortionOptions & RdFgwCallOptions): Promise<FgwDistortion>;
  /** Full result (dense plan, diagnostics) for graphs `{ source, target }` or matrices `{ M, C1, C2, p?, q? }`. */
  compute(input: FgwInput, options?: RdFgwCallOptions): AnyFgwResult;
  /**
   * Throws the LimitError `distortion` would give for `graph` as the source (fields `source.…`) or for
   * these options (`options.…`, `alpha`, `epsilon`, `unreachable`, …) without solving: the options are
   * parsed, the memory bound and ε checked, and the graph's matrices built. A graph and options it
   * accepts can be measured against any valid graph (which may still fail to converge).
   */
  validate(graph: ContractGraph, options?: DistortionOptions & RdFgwCallOptions): void;
}

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'rd-fgw': z.input<typeof RdFgwOptions>;
  }
  interface Cradle {
    'rd:fgw': FgwService;
  }
}

/** The plugin's options with the keys a call gives (`undefined`: none) replacing theirs. */
function merged(defaults: RdFgwOptions, call: unknown): RdFgwOptions {
  return mergeCallOptions(defaults, call, { schema: RdFgwCallOptions, plugin: 'rd-fgw', code: 'LIMIT_RD_INVALID_INPUT' });
}

/** A computation's options: the merged ones without the pool's. */
function computeOptions(opts: RdFgwOptions): RdFgwComputeOptions {
  const { threads: _threads, poolSize: _poolSize, maxQueued: _maxQueued, ...rest } = opts;
  return rest;
}

/** A graph's node count when it has a node array (anything else is rejected by the solve with its field). */
const nodeCount = (g: unknown): number => (Array.isArray((g as { nodes?: unknown } | null)?.nodes) ? (g as { nodes: unknown[] }).nodes.length : 0);

function distortionHere(source: ContractGraph, target: ContractGraph, opts: RdFgwComputeOptions): FgwDistortion {
  const { summary, result } = solveDistortion(source, target, opts);
  return withPlan(summary, sparsePlan(result, opts.planThreshold));
}

/**
 * The `rd:fgw` service with `defaults` (parsed RdFgwOptions). `pool` computes `distortionAsync` in
 * worker threads; without one it computes on the caller's thread. The caller owns the pool (the
 * plugin closes its own at shutdown).
 */
export function createFgwService(defaults: RdFgwOptions, pool?: FgwPool): FgwService {
  const compute = (input: FgwInput, call?: RdFgwCallOptions): AnyFgwResult => computeFgw(input, merged(defaults, call));
  return Object.freeze({
    name: 'fgw' as const,
    defaults: Object.freeze({ ...defaults }),
    compute,
    distortion(source: ContractGraph, target: ContractGraph, call?: DistortionOptions & RdFgwCallOptions): FgwDistortion {
      return distortionHere(source, target, computeOptions(merged(defaults, call)));
    },
    validate(graph: ContractGraph, call?: DistortionOptions & RdFgwCallOptions): void {
      const opts = computeOptions(merged(defaults, call));
      checkAlpha(opts.alpha);
      if (opts.method === 'entropic') checkEpsilon(opts.epsilon);
      checkMemory(nodeCount(graph), nodeCount(graph), opts.maxMemoryMb, 'source');
      problemFromGraphs(graph, graph, opts);
    },
    async distortionAsync(source: ContractGraph, target: ContractGraph, call?: AsyncDistortionOptions & RdFgwCallOptions): Promise<FgwDistortion> {
      const { signal, ...rest } = call ?? {};
      if (signal?.aborted) throw distortionAborted(signal, 'rd-fgw');
      // Options are checked here, so an invalid one never reaches (or waits for) a thread.
      const opts = computeOptions(merged(defaults, call === undefined ? undefined : rest));
      // So are sizes past the memory bound, before a thread is started or waited for (the thread checks again).
      checkMemory(nodeCount(source), nodeCount(target), opts.maxMemoryMb, 'source');
      return pool ? pool.distortion(source, target, opts, signal) : distortionHere(source, target, opts);
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
    // Threads start at the first distortionAsync, not here: a CLI command never starts one.
    const pool = options.threads ? new FgwPool(options.poolSize, options.maxQueued) : undefined;
    ctx.provide('rd:fgw', createFgwService(options, pool));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerFgwCommand(registry));
    ctx.logger.debug({ method: options.method, alpha: options.alpha, threads: options.threads ? options.poolSize : 0 }, 'rd:fgw ready');
    // Terminates the threads; computations still queued or running reject with LIMIT_RUNTIME_CLOSED.
    return { dispose: () => pool?.close() };
  },
});

/** Factory (Vite/Rollup style): `rdFgw({ alpha: 0.3 })` in code; the config loader calls it bare. */
export default function rdFgw(options?: z.input<typeof RdFgwOptions>) {
  return options === undefined ? rdFgwPlugin : rdFgwPlugin.configure(options);
}
