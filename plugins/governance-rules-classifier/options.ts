import { z } from 'zod';
import { pathText } from 'limit-graph';

export const Options = z
  .object({
    /**
     * The model's probability that a text is an attack (harmful, jailbreak or injection) from which
     * it reports a finding of severity 5 (the `default` preset's review band). 0.88 is where the
     * `default` preset's attack recall less its false-positive rate on the development corpus is
     * highest within one text, at the lower false-positive rate (92.9% at 1.4% when it was chosen;
     * README, "Session 10").
     */
    minProbability: z.number().gt(0.5).lt(1).default(0.88),
    /** From this probability (at least minProbability) the finding has severity 6 (still review under `default`; blocks under `strict`). */
    highProbability: z.number().gt(0.5).lt(1).default(0.995),
    /**
     * Another model file (the format train.ts writes); default: the shipped model.json. A path as
     * every file option takes it: `~/model.json` would be a folder named "~", padding a file never found.
     */
    modelPath: pathText().optional(),
  })
  .strict();
export type Options = z.output<typeof Options>;
