import { z } from 'zod';

export const Options = z
  .object({
    /** The runner to ask (`runner:<name>` in the container), e.g. "openai" or "llama". */
    runner: z.string().min(1),
    /** No verdict within this time is a failure (see onFailure). */
    timeoutMs: z.number().int().min(10).max(600_000).default(10_000),
    /** Characters of the text shown to the judge. */
    maxChars: z.number().int().min(100).max(200_000).default(8_000),
    /**
     * What a call without a verdict (timeout, runner error, unparseable answer) becomes: `block`, a
     * Malicious finding at the preset's blockSeverity (fail closed); `review`, an Unverified finding
     * at the scan findings' severity, so the text stays in the uncertain band's review.
     */
    onFailure: z.enum(['block', 'review']).default('block'),
  })
  .strict();
export type Options = z.output<typeof Options>;
