import { z } from 'zod';

export const Options = z
  .object({
    /** Traces per runner kept in each rolling baseline. */
    window: z.number().int().min(5).max(100_000).default(200),
    /** Samples a runner needs before z-scores are flagged; at most `window` (checked at setup: a baseline holds no more). */
    minSamples: z.number().int().min(2).default(20),
    /** |z| at which a metric is anomalous. */
    zThreshold: z.number().positive().default(4),
    /** Repetitions of one output line that count as a loop. */
    repeatLines: z.number().int().min(2).default(20),
    /**
     * Baselines are kept per (tenant, runner). Tenants with baselines at most; past it the least
     * recently active tenant's baselines are dropped (they re-learn).
     */
    maxTenants: z.number().int().min(1).max(100_000).default(256),
    /**
     * Runners with a baseline per tenant at most (runner names are free-form in POST /traces); past
     * it the tenant's least recently used runner baseline is dropped (it re-learns).
     */
    maxRunnersPerTenant: z.number().int().min(1).max(10_000).default(32),
  })
  .strict();
export type Options = z.output<typeof Options>;
