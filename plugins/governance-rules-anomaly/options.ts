import { z } from 'zod';

export const Options = z
  .object({
    /** Traces per runner kept in each rolling baseline. */
    window: z.number().int().min(5).max(100_000).default(200),
    /** Samples a runner needs before z-scores are flagged. */
    minSamples: z.number().int().min(2).default(20),
    /** |z| at which a metric is anomalous. */
    zThreshold: z.number().positive().default(4),
    /** Repetitions of one output line that count as a loop. */
    repeatLines: z.number().int().min(2).default(20),
  })
  .strict();
export type Options = z.output<typeof Options>;
