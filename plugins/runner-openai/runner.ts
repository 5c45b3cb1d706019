/**
 * The OpenAI runner: chat.completions with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the kernel's `withRetries`, not
 * the SDK's: openai@6 sleeps between retries without looking at the abort signal or the time left.
 * This runner speaks the wire format and checks that a reply is complete. The session queue, the
 * deadline, failure wording and key scrubbing are the kernel's hosted-runner helpers, shared with
 * every vendor.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import {
  HostedConversations,
  HostedFailureError,
  describeAnswer,
  hostOf,
  hostedRunnerCapabilities,
  hostedRunnerHealth,
  isEventStreamContentType,
  isJsonContentType,
  notAnAnswer,
  vendorExcerpt,
  sdkRetryable,
  refuseProcessFields,
  vendorClientOptions,
  vendorFailures,
  withRetries,
  withoutVendorEnv,
} from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunnerFailure, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerOpenAIOptionsParsed } from './options.ts';

/** What withRetries retries: what the SDK itself would. */
const RETRYABLE = sdkRetryable(OpenAI);

const PLUGIN = 'runner-openai';

export class OpenAIRunner implements Runner {
  readonly name = 'openai';
  readonly capabilities: RunnerCapabilities = hostedRunnerCapabilities();

  readonly #client: OpenAI;
  /** Per session: user and assistant turns; the system prompt is added per request. */
  readonly #conversations: HostedConversations<ChatCompletionMessageParam>;

  constructor(
    private readonly options: RunnerOpenAIOptionsParsed,
    logger: Logger,
  ) {
    // Only the options count: the SDK would add OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_CUSTOM_HEADERS… from process.env.
    this.#client = withoutVendorEnv('OPENAI', () => new OpenAI(vendorClientOptions(options, logger, 'openai', 'https://api.openai.com/v1', PLUGIN)));
    this.#conversations = new HostedConversations({ plugin: PLUGIN, logger, describe: (error, retries) => this.#describe(error, retries), secret: options.apiKey, sessionIdleMs: options.sessionIdleMs });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    refuseProcessFields(PLUGIN, task);
    return this.#conversations.run(ctx, this.options.timeoutMs, async (turn) => {
      const userTurn: ChatCompletionMessageParam = { role: 'user', content: task.input };
      const messages: ChatCompletionMessageParam[] = [
        ...(this.options.systemPrompt ? [{ role: 'system' as const, content: this.options.systemPrompt }] : []),
        ...turn.history,
        userTurn,
      ];
      const body = {
        model: this.options.model,
        messages,
        ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
        // One field or the other, never both: a server that knows both may refuse a request with the two.
        ...(this.options.maxTokens === undefined
          ? {}
          : this.options.maxTokensField === 'max_tokens'
            ? { max_tokens: this.options.maxTokens }
            : { max_completion_tokens: this.options.maxTokens }),
      };
      // One request per attempt (the SDK's retries off); its timeout is the time left at that attempt.
      const requestOptions = () => ({ signal: turn.signal, timeout: turn.remainingMs(), maxRetries: 0 });
      const send = <T>(attempt: () => Promise<T>) => withRetries(turn, this.options.maxRetries, attempt, RETRYABLE);
      const host = hostOf(this.#client.baseURL);
      /** The usage the server reports counts whether or not the reply turns out to be an answer. */
      const record = (usage: { prompt_tokens?: number | null; completion_tokens?: number | null } | null | undefined) => {
        if (!usage) return;
        turn.tokensIn = usage.prompt_tokens;
        turn.tokensOut = usage.completion_tokens;
      };
      let finishReason: string | null | undefined;
      let model: string | undefined;
      let refusal = '';
      /** The tools the model asked to call, by the index the stream numbers them with. */
      const toolCalls: string[] = [];
      if (this.options.stream) {
        const { data: stream, response } = await send(() =>
          this.#client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, requestOptions()).withResponse(),
        );
        const contentType = response.headers.get('content-type');
        if (!isEventStreamContentType(contentType)) {
          stream.controller.abort();
          throw new HostedFailureError(this.#fail().failed(`${host} answered with ${describeAnswer(contentType, undefined, this.options.apiKey)}, not an event stream (the request asked for stream: true)`));
        }
        for await (const chunk of stream) {
          model ??= chunk.model;
          const choice = chunk.choices?.[0];
          const delta = choice?.delta;
          if (delta?.content != null) turn.text += this.#textOf(delta.content, { model });
          if (delta?.refusal) refusal += delta.refusal;
          for (const call of delta?.tool_calls ?? []) if (call.function?.name) toolCalls[call.index] = call.function.name;
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          // With include_usage the last chunk has no choices and carries the usage of the whole request.
          record(chunk.usage);
        }
        // The SDK ends the loop on [DONE] and on a connection that simply closes: only a
        // finish_reason says the reply is complete.
        if (!finishReason) throw new HostedFailureError(this.#fail().failed(`${host} ended the stream before the reply was complete (no finish_reason)`), { model });
      } else {
        const { data: completion, response } = await send(() => this.#client.chat.completions.create({ ...body, stream: false }, requestOptions()).withResponse());
        const contentType = response.headers.get('content-type');
        if (!isJsonContentType(contentType) || !Array.isArray((completion as { choices?: unknown } | null)?.choices)) {
          throw new HostedFailureError(this.#fail().failed(`${host} answered with ${describeAnswer(contentType, completion, this.options.apiKey)}, not a JSON chat completion`));
        }
        model = completion.model;
        record(completion.usage);
        const choice = completion.choices[0];
        // Complete as a stream is: a choice that says why it ended.
        if (!choice) throw new HostedFailureError(this.#fail().failed(`${host} answered with a chat completion without choices: there is no reply`), { model });
        if (!choice.finish_reason) throw new HostedFailureError(this.#fail().failed(`${host} answered with a chat completion without a finish_reason: the reply is not complete`), { model });
        turn.text = this.#textOf(choice.message?.content, { model });
        refusal = choice.message?.refusal ?? '';
        for (const call of choice.message?.tool_calls ?? []) toolCalls.push(call.type === 'function' ? call.function.name : call.custom.name);
        finishReason = choice.finish_reason;
      }
      const tools = toolCalls.filter(Boolean);
      const value = { model, finishReason, ...(refusal ? { refusal } : {}), ...(tools.length ? { toolCalls: tools } : {}) };
      // A refusal (its text, or the content filter cutting the reply), tool calls or nothing at all:
      // not an answer, and not a turn of the conversation.
      const refused = refusal || finishReason === 'content_filter' ? { text: refusal } : undefined;
      const problem = notAnAnswer({ text: turn.text, reason: finishReason, refused, toolCalls: tools }, PLUGIN, this.options.apiKey);
      if (problem) {
        // What the model said instead is the task's output, where governance reads a reply.
        if (refusal && !turn.text) turn.text = refusal;
        throw new HostedFailureError(this.#fail().failed(problem), value);
      }
      return {
        append: [userTurn, { role: 'assistant', content: turn.text }],
        value,
      };
    });
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): ChatCompletionMessageParam[] | undefined {
    return this.#conversations.history(sessionId);
  }

  closeSession(sessionId: string, tenant?: string): Promise<void> {
    return this.#conversations.closeSession(sessionId, tenant);
  }

  /** Lists models at the base URL (one quick request, no retries) to prove reachability and the key. */
  health(): Promise<HealthResult> {
    return hostedRunnerHealth({
      baseURL: this.#client.baseURL,
      model: this.options.model,
      probe: async ({ signal, timeoutMs }) => {
        const { data, response } = await this.#client.get<unknown>('/models', { signal, timeout: timeoutMs, maxRetries: 0 }).withResponse();
        return { contentType: response.headers.get('content-type'), body: data };
      },
      describe: (error, retries) => this.#describe(error, retries),
      secret: this.options.apiKey,
      envPrefix: 'OPENAI',
      details: { stream: this.options.stream, maxRetries: this.options.maxRetries },
    });
  }

  dispose(): Promise<void> {
    return this.#conversations.dispose();
  }

  /**
   * A message's (or a delta's) content as text: a string, nothing, or — as some OpenAI-compatible
   * servers send it — an array of content parts, whose `text` parts are joined. Anything else is
   * not a reply this runner can read: a failure naming what came, not a TypeError.
   */
  #textOf(content: unknown, value: unknown): string {
    if (typeof content === 'string') return content;
    if (content === null || content === undefined) return '';
    if (Array.isArray(content) && content.every((part) => part && typeof part === 'object')) {
      return content.map((part: { type?: unknown; text?: unknown }) => (part.type === 'text' && typeof part.text === 'string' ? part.text : '')).join('');
    }
    throw new HostedFailureError(this.#fail().failed(`${hostOf(this.#client.baseURL)} answered with message content that is not text: ${vendorExcerpt(content, this.options.apiKey, 80)}`), value);
  }

  #fail() {
    return vendorFailures({ label: PLUGIN, host: hostOf(this.#client.baseURL), maxRetries: this.options.maxRetries, secret: this.options.apiKey, envPrefix: 'OPENAI' });
  }

  /** `retries`: the retries made before `error`, when known (HostedConversations); else maxRetries. */
  #describe(error: unknown, retries?: number): RunnerFailure {
    const fail = this.#fail();
    if (error instanceof OpenAI.APIConnectionTimeoutError) return fail.timeout();
    if (error instanceof OpenAI.APIUserAbortError) return fail.aborted();
    if (error instanceof OpenAI.APIConnectionError) return fail.unreachable(error);
    if (error instanceof OpenAI.APIError) {
      // A chunk `{"error": …}` arrives after a 200, so it has no status.
      if (typeof error.status !== 'number') return fail.midStream(error.message);
      return fail.status(error.status, error.message, retries);
    }
    return fail.other(error);
  }
}
