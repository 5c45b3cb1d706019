import { z } from 'zod';
import { pathText, sessionIdleMsOption } from 'limit-graph';

/** Options of runner-llama; README.md documents each one. */
export const RunnerLlamaOptions = z
  .object({
    /** Path of the GGUF model file, loaded once at boot. Env: LLAMA_MODEL_PATH. */
    modelPath: pathText(),
    /**
     * Tokens of context per session (each session owns one context sequence of this size): a turn's
     * prompt must fit with room for a reply, and the oldest exchanges leave the history to make room.
     */
    contextSize: z.number().int().min(64).max(1_048_576).default(2048),
    /**
     * Context sequences kept in memory at once. More sessions than this still work: the least
     * recently used idle session gives up its sequence (its chat history is kept and re-evaluated
     * when it runs again).
     */
    maxSessions: z.number().int().min(1).max(256).default(4),
    /** CPU threads for evaluation. 1 by default: on small shared hosts more threads are far slower. */
    threads: z.number().int().min(1).max(1024).default(1),
    /** Offload to a GPU (CUDA/Vulkan/Metal) when one is present; off by default. */
    gpu: z.boolean().default(false),
    /** Upper bound on generated tokens per task (less when the turn leaves less room in the context). */
    maxTokens: z.number().int().min(1).default(256),
    /** Sampling temperature; 0 is greedy (deterministic). */
    temperature: z.number().min(0).max(2).default(0),
    /** Sampling seed (only matters when temperature > 0). */
    seed: z.number().int().min(0).optional(),
    /** System prompt of every session; none when empty. */
    systemPrompt: z.string().default(''),
    /** Runner-wide time limit per task, ms; the stricter of this and the session's timeoutMs applies. */
    timeoutMs: z.number().int().min(1).max(86_400_000).optional(),
    /**
     * A session with no task started or ended for this long, and none running or queued, is closed
     * as by closeSession (its context sequence freed, its history forgotten), ms; its next task
     * starts a new chat.
     */
    sessionIdleMs: sessionIdleMsOption(),
  })
  .strict();

export type RunnerLlamaOptionsInput = z.input<typeof RunnerLlamaOptions>;
export type RunnerLlamaOptionsParsed = z.output<typeof RunnerLlamaOptions>;
