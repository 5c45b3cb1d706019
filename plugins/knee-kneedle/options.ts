import { callOptionsSchema } from 'limit-graph';
import { z } from 'zod';

/** The shape hints a curve may carry (the options below, and a curve file's `curve`/`direction`). */
export const SHAPE_HINTS = { curve: ['convex', 'concave'], direction: ['decreasing', 'increasing'] } as const;

export const KneeKneedleOptions = z
  .object({
    /** Sensitivity: larger S waits for a clearer drop after a maximum of the difference curve. */
    S: z.number().positive().default(1),
    /** Shape of the curve; RD curves are convex and decreasing. */
    curve: z.enum(SHAPE_HINTS.curve).default('convex'),
    direction: z.enum(SHAPE_HINTS.direction).default('decreasing'),
    /** Report the last knee found (online) instead of the first (offline). */
    online: z.boolean().default(false),
  })
  .strict();

export type KneeKneedleOptions = z.output<typeof KneeKneedleOptions>;

/**
 * Per-call overrides: any subset of the options, without defaults (a call overrides only the keys it
 * gives; the plugin's configured options fill the rest); an unknown key is an error, not ignored.
 */
export const KneeKneedleCallOptions = callOptionsSchema(KneeKneedleOptions);
