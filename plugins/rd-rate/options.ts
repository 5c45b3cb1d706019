import { callOptionsSchema } from 'limit-graph';
import { z } from 'zod';

export const RdRateOptions = z
  .object({
    /** Variance estimator of the Gaussian model: 0 = mean of squared deviations (default), 1 = unbiased. */
    ddof: z.union([z.literal(0), z.literal(1)]).default(0),
    /** Blahut–Arimoto stops when the certified gap R − R_L is below this many bits. */
    tol: z.number().positive().default(1e-13),
    /** Blahut–Arimoto iteration cap per point. */
    maxIter: z.number().int().min(1).default(200_000),
    /** Unit recorded for operational rates when the caller gives none. */
    unit: z.string().min(1).default('tokens'),
  })
  .strict();

export type RdRateOptions = z.output<typeof RdRateOptions>;

/**
 * Per-call options of `blahutArimoto`, `rateAtDistortion` and `curve`: `tol` and `maxIter` without
 * defaults (a call overrides only the keys it gives; the plugin's configured values fill the rest)
 * and `q0`, the starting output marginal (checked by the solver). An unknown key is an error, not ignored.
 */
export const RdRateCallOptions = callOptionsSchema(
  RdRateOptions.pick({ tol: true, maxIter: true }).extend({
    q0: z.custom<ArrayLike<number>>((v) => typeof v === 'object' && v !== null && typeof (v as { length?: unknown }).length === 'number', {
      message: 'must be an array of numbers (the starting output marginal)',
    }),
  }),
);
