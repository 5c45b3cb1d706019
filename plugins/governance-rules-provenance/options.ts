import { z } from 'zod';

export const Options = z.object({}).strict();
export type Options = z.output<typeof Options>;
