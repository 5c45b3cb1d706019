import { callOptionsSchema } from 'limit-graph';
import { z } from 'zod';

export const KneeMengerOptions = z
  .object({
    /**
     * Min–max scale both axes before measuring curvature. Default false (raw coordinates, whose
     * curvature depends on the units of x and y); set true when rate and distortion are in
     * unrelated units (tokens vs. FGW values).
     */
    normalize: z.boolean().default(false),
  })
  .strict();

export type KneeMengerOptions = z.output<typeof KneeMengerOptions>;

/** Per-call overrides (`{ normalize }`), without defaults; an unknown key is an error. */
export const KneeMengerCallOptions = callOptionsSchema(KneeMengerOptions);
