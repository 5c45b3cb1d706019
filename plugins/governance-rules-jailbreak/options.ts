import { z } from 'zod';

export const Options = z
  .object({
    /** Rule ids of this pack to leave out (e.g. ["jailbreak.x"]). */
    disable: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type Options = z.output<typeof Options>;
