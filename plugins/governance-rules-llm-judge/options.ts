import { z } from 'zod';

export const Options = z
  .object({
    /** The runner to ask (`runner:<name>` in the container), e.g. "openai" or "llama". */
    runner: z.string().min(1),
    /** No verdict within this time fails closed. */
    timeoutMs: z.number().int().min(10).max(600_000).default(10_000),
    /** Characters of the text shown to the judge. */
    maxChars: z.number().int().min(100).max(200_000).default(8_000),
  })
  .strict();
export type Options = z.output<typeof Options>;
