/**
 * The OpenAI runner: chat.completions with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the SDK's; this runner sets them
 * up and speaks the wire format. The session queue, the deadline, failure wording and key
 * scrubbing are the kernel's hosted-runner helpers, shared with every vendor.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { HostedConversations, hostOf, hostedRunnerCapabilities, hostedRunnerHealth, vendorClientOptions, vendorFailures } from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunnerFailure, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerOpenAIOptionsParsed } from './options.ts';

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
    this.#client = new OpenAI(vendorClientOptions(options, logger, 'openai'));
    this.#conversations = new HostedConversations({ plugin: PLUGIN, logger, describe: (error) => this.#describe(error) });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
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
        ...(this.options.maxTokens === undefined ? {} : { max_completion_tokens: this.options.maxTokens }),
      };
      const requestOptions = { signal: turn.signal, timeout: turn.remainingMs() };
      let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
      let finishReason: string | null | undefined;
      let model: string | undefined;
      if (this.options.stream) {
        const stream = await this.#client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, requestOptions);
        for await (const chunk of stream) {
          model ??= chunk.model;
          const choice = chunk.choices[0];
          if (choice?.delta?.content) turn.text += choice.delta.content;
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          // With include_usage the last chunk has no choices and carries the usage of the whole request.
          if (chunk.usage) usage = chunk.usage;
        }
      } else {
        const completion = await this.#client.chat.completions.create({ ...body, stream: false }, requestOptions);
        model = completion.model;
        const choice = completion.choices[0];
        turn.text = choice?.message?.content ?? '';
        finishReason = choice?.finish_reason;
        usage = completion.usage;
      }
      return {
        append: [userTurn, { role: 'assistant', content: turn.text }],
        value: { model, finishReason },
        tokensIn: usage?.prompt_tokens,
        tokensOut: usage?.completion_tokens,
      };
    });
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): ChatCompletionMessageParam[] | undefined {
    return this.#conversations.history(sessionId);
  }

  closeSession(sessionId: string): Promise<void> {
    return this.#conversations.closeSession(sessionId);
  }

  /** Lists models at the base URL (one quick request, no retries) to prove reachability and the key. */
  health(): Promise<HealthResult> {
    return hostedRunnerHealth({
      baseURL: this.#client.baseURL,
      model: this.options.model,
      probe: () => this.#client.models.list({ timeout: 3000, maxRetries: 0 }),
      describe: (error) => this.#describe(error),
      details: { stream: this.options.stream, maxRetries: this.options.maxRetries },
    });
  }

  dispose(): Promise<void> {
    return this.#conversations.dispose();
  }

  #describe(error: unknown): RunnerFailure {
    const fail = vendorFailures({ label: PLUGIN, host: hostOf(this.#client.baseURL), maxRetries: this.options.maxRetries, secret: this.options.apiKey });
    if (error instanceof OpenAI.APIConnectionTimeoutError) return fail.timeout();
    if (error instanceof OpenAI.APIUserAbortError) return fail.aborted();
    if (error instanceof OpenAI.APIConnectionError) return fail.unreachable(error);
    if (error instanceof OpenAI.APIError && typeof error.status === 'number') return fail.status(error.status, error.message);
    return fail.other(error);
  }
}
