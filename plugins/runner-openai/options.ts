import { z } from 'zod';
import { HostedBaseURL, maxResponseBytesOption, sessionIdleMsOption } from 'limit-graph';

/** Options of runner-openai; README.md documents each one. */
export const RunnerOpenAIOptions = z
  .object({
    /** Model id sent with every request (`gpt-4o-mini`, or whatever an OpenAI-compatible server serves). Env: OPENAI_MODEL. */
    model: z.string().min(1, 'Expected a model id'),
    /** API key. Env: OPENAI_API_KEY. Never logged, never part of a result or an error. */
    apiKey: z.string({ error: 'Expected an API key: set apiKey, or the OPENAI_API_KEY environment variable' }).min(1, 'Expected a non-empty API key'),
    /** Base URL of the API, e.g. http://127.0.0.1:8080/v1 for a local OpenAI-compatible server. Env: OPENAI_BASE_URL. */
    baseURL: HostedBaseURL.optional(),
    /** Sampling temperature; the vendor's default when unset. */
    temperature: z.number().min(0).max(2).optional(),
    /** Upper bound on generated tokens per task (sent as `maxTokensField`); the vendor's default when unset. */
    maxTokens: z.number().int().min(1).optional(),
    /**
     * The request field that carries maxTokens: `max_completion_tokens` (OpenAI's current field; its
     * reasoning models refuse `max_tokens`), or `max_tokens` for OpenAI-compatible servers that read
     * only that one (llama.cpp's llama-server, Ollama), which ignore the other. Only one is sent.
     */
    maxTokensField: z.enum(['max_completion_tokens', 'max_tokens']).default('max_completion_tokens'),
    /** System message placed before every session's conversation. */
    systemPrompt: z.string().optional(),
    /** Stream the reply (server-sent events); usage arrives in the final chunk. */
    stream: z.boolean().default(true),
    /** Runner-wide time limit per task (all attempts together), ms; the stricter of this and the session's timeoutMs applies. */
    timeoutMs: z.number().int().min(1).max(86_400_000).default(600_000),
    /** Retries on connection errors, 408, 409, 429 and 5xx, with exponential backoff that honours retry-after(-ms). */
    maxRetries: z.number().int().min(0).max(10).default(2),
    /**
     * A session with no task started or ended for this long, and none running or queued, has its
     * conversation forgotten as by closeSession, ms; its next task starts a new conversation.
     */
    sessionIdleMs: sessionIdleMsOption(),
    /**
     * The most bytes one response of the API may have (a reply, an error, a whole stream, the
     * models list), 1 KiB to 1 GiB: a larger one fails the task (LIMIT_RUNNER_FAILED, not retried)
     * instead of filling memory.
     */
    maxResponseBytes: maxResponseBytesOption(),
  })
  .strict();

export type RunnerOpenAIOptionsInput = z.input<typeof RunnerOpenAIOptions>;
export type RunnerOpenAIOptionsParsed = z.output<typeof RunnerOpenAIOptions>;
