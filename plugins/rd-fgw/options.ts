import { z } from 'zod';

/** Options of rd-fgw; each is also accepted per call (`distortion(a, b, { alpha: 0.3 })`). */
export const RdFgwOptions = z
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

export type RdFgwOptions = z.output<typeof RdFgwOptions>;

/** Per-call overrides: any subset of the options; an unknown key is an error, not ignored. */
export const RdFgwCallOptions = RdFgwOptions.partial().strict();
