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
