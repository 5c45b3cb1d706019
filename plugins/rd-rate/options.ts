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
