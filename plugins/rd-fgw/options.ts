import { availableParallelism } from 'node:os';
import { callOptionsSchema } from 'limit-graph';
import { z } from 'zod';

/**
 * Worker threads of `distortionAsync` when `poolSize` is not given: one per core beyond the one the
 * event loop runs on, at most 2, at least 1 (a 2-core machine gets 1).
 */
export const DEFAULT_POOL_SIZE = Math.max(1, Math.min(2, availableParallelism() - 1));

/** The options of a computation: plugin defaults, each also accepted per call (`distortion(a, b, { alpha: 0.3 })`). */
const ComputeOptions = z
  .object({
    /** 'exact' (conditional gradient + network simplex) or 'entropic' (PGD + Sinkhorn). */
    method: z.enum(['exact', 'entropic']).default('exact'),
    /** Weight of the structure term; (1 − α) weighs the features. */
    alpha: z.number().min(0).max(1).default(0.5),
    /** Entropic regularisation, absolute (not scaled by the costs). */
    epsilon: z.number().positive().default(0.1),
    /** Entropic inner solver: 'log' (stabilised log-domain + Newton) or 'scaling' (reference replica). */
    solver: z.enum(['log', 'scaling']).default('log'),
    /** Outer iterations (exact: LPs, default 10000; entropic: PGD steps, default 1000). */
    maxIter: z.number().int().min(1).optional(),
    /** Stopping tolerance (exact: cost change, relative and absolute; entropic: ‖ΔT‖_F). Default 1e-9. */
    tol: z.number().min(0).optional(),
    /** Structure of a graph: shortest-path distances or the (weighted) adjacency matrix. */
    structure: z.enum(['shortest_path', 'adjacency']).default('shortest_path'),
    /** Distance of pairs without a path: largest distance + largest edge weight, an error, or a number. */
    unreachable: z.union([z.enum(['max_plus_one', 'error']), z.number().min(0)]).default('max_plus_one'),
    /** Divide each structure matrix by its largest entry. */
    normalize: z.boolean().default(false),
    /** Node weights: node `weight` fields when all nodes have one, else uniform ('auto'); or forced. */
    weights: z.enum(['auto', 'uniform', 'degree', 'given']).default('auto'),
    /** Read edges as directed; default: each graph's own `directed` flag. */
    directed: z.boolean().optional(),
    /** Plan entries at or below this are left out of the sparse plan. */
    planThreshold: z.number().min(0).default(1e-15),
    /** Exact: start each LP from the previous basis (faster, may resolve ties differently from the reference). */
    warmStartLp: z.boolean().default(false),
    /**
     * Wall-clock limit of each solve in ms; past it the call fails with LIMIT_RD_NOT_CONVERGED
     * (details.field 'timeLimitMs'). Default: none. Servers pass one per call (api-http: rdTimeLimitMs).
     */
    timeLimitMs: z.number().positive().optional(),
  })
  .strict();

/** Options of rd-fgw: those of a computation (also accepted per call) and the worker pool's (plugin only). */
export const RdFgwOptions = ComputeOptions.extend({
  /**
   * Compute `distortionAsync` (what api-http and the orchestrator call) in worker threads, so the
   * event loop keeps serving while FGW runs. false: it computes on the caller's thread, like
   * `distortion`. `distortion` and `compute` are synchronous and always run on the caller's thread.
   */
  threads: z.boolean().default(true),
  /**
   * Worker threads at most, i.e. distortions computed at once; more wait in a queue (first come,
   * first served). Threads start at first use and are reused. Default: min(2, cores − 1), at least 1.
   */
  poolSize: z.number().int().min(1).max(256).default(DEFAULT_POOL_SIZE),
  /**
   * Computations waiting for a thread at most; one more is refused at once with LIMIT_RD_BUSY (HTTP
   * 503) rather than queued without end (each holds its graphs, and an HTTP client its connection).
   */
  maxQueued: z.number().int().min(0).max(100_000).default(64),
  /**
   * Working memory one computation may need, in MiB, estimated from the node counts before anything
   * is built (about 28 × 8 bytes per node pair); a larger one is refused with LIMIT_PAYLOAD_TOO_LARGE
   * (HTTP 413). Each worker thread computes one at a time, so the pool holds at most poolSize × this.
   * Default 2048: about 3,000 × 3,000 nodes. Plugin-wide only, never per call.
   */
  maxMemoryMb: z.number().int().min(1).max(1_048_576).default(2048),
}).strict();

export type RdFgwOptions = z.output<typeof RdFgwOptions>;

/**
 * Per-call overrides: any subset of a computation's options, without defaults (a call overrides only
 * the keys it gives; the plugin's configured options fill the rest); an unknown key is an error, not ignored.
 */
export const RdFgwCallOptions = callOptionsSchema(ComputeOptions);

/** The options a computation reads (the pool's are left out; the plugin's memory bound is kept). */
export type RdFgwComputeOptions = z.output<typeof ComputeOptions> & { maxMemoryMb?: number };
