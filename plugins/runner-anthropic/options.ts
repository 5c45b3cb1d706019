import { z } from 'zod';
import { HostedBaseURL, maxResponseBytesOption, sessionIdleMsOption } from 'limit-graph';

/** Options of runner-anthropic; README.md documents each one. */
export const RunnerAnthropicOptions = z
  .object({
    /** Model id sent with every request, e.g. `claude-sonnet-4-5`. Env: ANTHROPIC_MODEL. */
    model: z.string().min(1, 'Expected a model id'),
    /** API key. Env: ANTHROPIC_API_KEY. Never logged, never part of a result or an error. */
    apiKey: z.string({ error: 'Expected an API key: set apiKey, or the ANTHROPIC_API_KEY environment variable' }).min(1, 'Expected a non-empty API key'),
    /** Base URL of the API (without /v1), e.g. a proxy or gateway. Env: ANTHROPIC_BASE_URL. */
    baseURL: HostedBaseURL.optional(),
    /** Sampling temperature; the vendor's default when unset. */
    temperature: z.number().min(0).max(1).optional(),
    /** Upper bound on generated tokens per task (`max_tokens`, which the Messages API requires). */
    maxTokens: z.number().int().min(1).default(1024),
    /** System prompt (the `system` field) of every session's conversation. */
    systemPrompt: z.string().optional(),
    /** Stream the reply (server-sent events); output token usage arrives in message_delta. */
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
     * models list or model health asks for), 1 KiB to 1 GiB: a larger one fails the task (LIMIT_RUNNER_FAILED, not retried)
     * instead of filling memory.
     */
    maxResponseBytes: maxResponseBytesOption(),
  })
  .strict();

export type RunnerAnthropicOptionsInput = z.input<typeof RunnerAnthropicOptions>;
export type RunnerAnthropicOptionsParsed = z.output<typeof RunnerAnthropicOptions>;
