/**
 * The Anthropic runner: the Messages API with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the kernel's `withRetries`, as
 * for every hosted runner, so that a wait longer than the task's time left is not started. This
 * runner speaks the wire format and checks that a reply is complete. The session queue, the
 * deadline, failure wording and key scrubbing are the kernel's hosted-runner helpers, shared with
 * every vendor.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
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
  sdkRetryable,
  refuseProcessFields,
  vendorClientOptions,
  vendorFailures,
  withRetries,
  withoutVendorEnv,
} from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunnerFailure, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerAnthropicOptionsParsed } from './options.ts';

/** What withRetries retries: what the SDK itself would. */
const RETRYABLE = sdkRetryable(Anthropic);

const PLUGIN = 'runner-anthropic';

interface Usage {
  input_tokens?: number | null;
  output_tokens?: number | null;
}

export class AnthropicRunner implements Runner {
  readonly name = 'anthropic';
  readonly capabilities: RunnerCapabilities = hostedRunnerCapabilities();

  readonly #client: Anthropic;
  /** Per session: alternating user and assistant turns, as the Messages API wants them. */
  readonly #conversations: HostedConversations<MessageParam>;

  constructor(
    private readonly options: RunnerAnthropicOptionsParsed,
    logger: Logger,
  ) {
    // Only the options count: the SDK would add ANTHROPIC_BASE_URL, ANTHROPIC_CUSTOM_HEADERS… from
    // process.env. Passing the key makes it the client's only credential: no ANTHROPIC_AUTH_TOKEN or profile.
    this.#client = withoutVendorEnv('ANTHROPIC', () => new Anthropic(vendorClientOptions(options, logger, 'anthropic', 'https://api.anthropic.com', PLUGIN)));
    this.#conversations = new HostedConversations({ plugin: PLUGIN, logger, describe: (error, retries) => this.#describe(error, retries), secret: options.apiKey, sessionIdleMs: options.sessionIdleMs });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    refuseProcessFields(PLUGIN, task);
    return this.#conversations.run(ctx, this.options.timeoutMs, async (turn) => {
      const userTurn: MessageParam = { role: 'user', content: task.input };
      const body = {
        model: this.options.model,
        max_tokens: this.options.maxTokens,
        messages: [...turn.history, userTurn],
        ...(this.options.systemPrompt ? { system: this.options.systemPrompt } : {}),
        ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
      };
      // One request per attempt (the SDK's retries off); its timeout is the time left at that attempt.
      const requestOptions = () => ({ signal: turn.signal, timeout: turn.remainingMs(), maxRetries: 0 });
      const send = <T>(attempt: () => Promise<T>) => withRetries(turn, this.options.maxRetries, attempt, RETRYABLE);
      const host = hostOf(this.#client.baseURL);
      /** The usage the server reports counts whether or not the reply turns out to be an answer. */
      const record = (usage: Usage | null | undefined) => {
        if (typeof usage?.input_tokens === 'number') turn.tokensIn = usage.input_tokens;
        if (typeof usage?.output_tokens === 'number') turn.tokensOut = usage.output_tokens;
      };
      let stopReason: string | null | undefined;
      let model: string | undefined;
      /** The tools the model asked to call (tool_use blocks). */
      const toolCalls: string[] = [];
      /** A content block as sent, checked to be an object: a `null` one is a malformed answer named by its place. */
      const contentBlock = <T>(block: T, index: unknown): NonNullable<T> => {
        if (typeof block !== 'object' || block === null || Array.isArray(block)) {
          throw new HostedFailureError(this.#fail().failed(`${host} sent a content block that is not an object at content[${String(index)}]`), { model });
        }
        return block;
      };
      if (this.options.stream) {
        const { data: stream, response } = await send(() => this.#client.messages.create({ ...body, stream: true }, requestOptions()).withResponse());
        const contentType = response.headers.get('content-type');
        if (!isEventStreamContentType(contentType)) {
          stream.controller.abort();
          throw new HostedFailureError(this.#fail().failed(`${host} answered with ${describeAnswer(contentType, undefined, this.options.apiKey)}, not an event stream (the request asked for stream: true)`));
        }
        let stopped = false;
        let seen = 0;
        /** A part of the stream as sent, checked to be an object: a `null` one is a malformed answer, `said` what was sent. */
        const object = <T>(value: T, said: string): NonNullable<T> => {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HostedFailureError(this.#fail().failed(`${host} sent ${said}`), { model });
          return value;
        };
        for await (const sent of stream) {
          seen++;
          const event = object(sent, `a stream event that is not an object (event ${seen})`);
          switch (event.type) {
            case 'message_start': {
              const message = object(event.message, 'a message_start whose message is not an object');
              model = message.model;
              record(message.usage);
              break;
            }
            case 'content_block_start':
              {
                const block = contentBlock(event.content_block, event.index);
                if (block.type === 'tool_use') toolCalls.push(block.name);
              }
              break;
            case 'content_block_delta': {
              const delta = object(event.delta, 'a content_block_delta whose delta is not an object');
              if (delta.type === 'text_delta') {
                if (typeof delta.text !== 'string') throw new HostedFailureError(this.#fail().failed(`${host} sent a text_delta whose text is not a string`), { model });
                turn.text += delta.text;
              }
              break;
            }
            case 'message_delta':
              // Usage in message_delta is cumulative for the whole message.
              record(event.usage);
              stopReason = object(event.delta, 'a message_delta whose delta is not an object').stop_reason;
              break;
            case 'message_stop':
              stopped = true;
              break;
            default:
              break;
          }
        }
        // A connection that simply closes ends the loop too: only message_stop (or a stop_reason) says the reply is complete.
        if (!stopped && !stopReason) throw new HostedFailureError(this.#fail().failed(`${host} ended the stream before the reply was complete (no message_stop)`), { model });
      } else {
        const { data: message, response } = await send(() => this.#client.messages.create({ ...body, stream: false }, requestOptions()).withResponse());
        const contentType = response.headers.get('content-type');
        if (!isJsonContentType(contentType) || !Array.isArray((message as { content?: unknown } | null)?.content)) {
          throw new HostedFailureError(this.#fail().failed(`${host} answered with ${describeAnswer(contentType, message, this.options.apiKey)}, not a JSON message`));
        }
        model = message.model;
        const blocks = message.content.map((block, i) => contentBlock(block, i));
        turn.text = blocks.map((block) => (block.type === 'text' ? block.text : '')).join('');
        for (const block of blocks) if (block.type === 'tool_use') toolCalls.push(block.name);
        stopReason = message.stop_reason;
        record(message.usage);
      }
      const value = { model, stopReason, ...(toolCalls.length ? { toolCalls } : {}) };
      // A refusal, tool calls or no text at all: not an answer, and not a turn of the conversation
      // (the Messages API refuses an empty assistant turn before the last message).
      const problem = notAnAnswer({ text: turn.text, reason: stopReason, refused: stopReason === 'refusal' ? {} : undefined, toolCalls }, PLUGIN, this.options.apiKey);
      if (problem) throw new HostedFailureError(this.#fail().failed(problem), value);
      return {
        append: [userTurn, { role: 'assistant', content: turn.text }],
        value,
      };
    });
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): MessageParam[] | undefined {
    return this.#conversations.history(sessionId);
  }

  closeSession(sessionId: string, tenant?: string): Promise<void> {
    return this.#conversations.closeSession(sessionId, tenant);
  }

  /**
   * Proves reachability and the key (the models list: one quick request, no retries), then that
   * the model is served (GET /v1/models/{model}, which resolves an alias; a 404 is a degraded
   * `model` check). The list alone cannot show it: it comes in pages and names no aliases.
   */
  health(): Promise<HealthResult> {
    const answer = async (request: { withResponse(): Promise<{ data: unknown; response: Response }> }) => {
      const { data, response } = await request.withResponse();
      return { contentType: response.headers.get('content-type'), body: data };
    };
    return hostedRunnerHealth({
      baseURL: this.#client.baseURL,
      model: this.options.model,
      probe: ({ signal, timeoutMs }) => answer(this.#client.get<unknown>('/v1/models', { query: { limit: 1 }, signal, timeout: timeoutMs, maxRetries: 0 })),
      lookupModel: ({ signal, timeoutMs }) => answer(this.#client.get<unknown>(`/v1/models/${encodeURIComponent(this.options.model)}`, { signal, timeout: timeoutMs, maxRetries: 0 })),
      describe: (error, retries) => this.#describe(error, retries),
      secret: this.options.apiKey,
      envPrefix: 'ANTHROPIC',
      details: { stream: this.options.stream, maxRetries: this.options.maxRetries },
    });
  }

  dispose(): Promise<void> {
    return this.#conversations.dispose();
  }

  #fail() {
    return vendorFailures({ label: PLUGIN, host: hostOf(this.#client.baseURL), maxRetries: this.options.maxRetries, secret: this.options.apiKey, envPrefix: 'ANTHROPIC' });
  }

  /** `retries`: the retries made before `error`, when known (HostedConversations); else maxRetries. */
  #describe(error: unknown, retries?: number): RunnerFailure {
    const fail = this.#fail();
    if (error instanceof Anthropic.APIConnectionTimeoutError) return fail.timeout();
    if (error instanceof Anthropic.APIUserAbortError) return fail.aborted();
    if (error instanceof Anthropic.APIConnectionError) return fail.unreachable(error);
    if (error instanceof Anthropic.APIError) {
      // A streamed `event: error` (e.g. overloaded_error) arrives after a 200, so it has no status.
      if (typeof error.status !== 'number') return fail.midStream(error.message);
      return fail.status(error.status, error.message, retries);
    }
    return fail.other(error);
  }
}
