/**
 * The Anthropic runner: the Messages API with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the SDK's; this runner sets them
 * up and speaks the wire format. The session queue, the deadline, failure wording and key
 * scrubbing are the kernel's hosted-runner helpers, shared with every vendor.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { HostedConversations, hostOf, hostedRunnerCapabilities, hostedRunnerHealth, vendorClientOptions, vendorFailures } from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunnerFailure, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerAnthropicOptionsParsed } from './options.ts';

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
    // Passing the key makes it the client's only credential: the SDK then reads no
    // ANTHROPIC_AUTH_TOKEN or profile from the server's environment.
    this.#client = new Anthropic(vendorClientOptions(options, logger, 'anthropic'));
    this.#conversations = new HostedConversations({ plugin: PLUGIN, logger, describe: (error) => this.#describe(error) });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    return this.#conversations.run(ctx, this.options.timeoutMs, async (turn) => {
      const userTurn: MessageParam = { role: 'user', content: task.input };
      const body = {
        model: this.options.model,
        max_tokens: this.options.maxTokens,
        messages: [...turn.history, userTurn],
        ...(this.options.systemPrompt ? { system: this.options.systemPrompt } : {}),
        ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
      };
      const requestOptions = { signal: turn.signal, timeout: turn.remainingMs() };
      const usage: Usage = {};
      let stopReason: string | null | undefined;
      let model: string | undefined;
      if (this.options.stream) {
        const stream = await this.#client.messages.create({ ...body, stream: true }, requestOptions);
        for await (const event of stream) {
          switch (event.type) {
            case 'message_start':
              model = event.message.model;
              Object.assign(usage, pickUsage(event.message.usage));
              break;
            case 'content_block_delta':
              if (event.delta.type === 'text_delta') turn.text += event.delta.text;
              break;
            case 'message_delta':
              // Usage in message_delta is cumulative for the whole message.
              Object.assign(usage, pickUsage(event.usage));
              stopReason = event.delta.stop_reason;
              break;
            default:
              break;
          }
        }
      } else {
        const message = await this.#client.messages.create({ ...body, stream: false }, requestOptions);
        model = message.model;
        turn.text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
        stopReason = message.stop_reason;
        Object.assign(usage, pickUsage(message.usage));
      }
      return {
        append: [userTurn, { role: 'assistant', content: turn.text }],
        value: { model, stopReason },
        tokensIn: usage.input_tokens,
        tokensOut: usage.output_tokens,
      };
    });
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): MessageParam[] | undefined {
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
      probe: () => this.#client.models.list({ limit: 1 }, { timeout: 3000, maxRetries: 0 }),
      describe: (error) => this.#describe(error),
      details: { stream: this.options.stream, maxRetries: this.options.maxRetries },
    });
  }

  dispose(): Promise<void> {
    return this.#conversations.dispose();
  }

  #describe(error: unknown): RunnerFailure {
    const host = hostOf(this.#client.baseURL);
    const fail = vendorFailures({ label: PLUGIN, host, maxRetries: this.options.maxRetries, secret: this.options.apiKey });
    if (error instanceof Anthropic.APIConnectionTimeoutError) return fail.timeout();
    if (error instanceof Anthropic.APIUserAbortError) return fail.aborted();
    if (error instanceof Anthropic.APIConnectionError) return fail.unreachable(error);
    if (error instanceof Anthropic.APIError) {
      // A streamed `event: error` (e.g. overloaded_error) arrives after a 200, so it has no status.
      if (typeof error.status !== 'number') return fail.failed(`${host} reported an error mid-stream: ${error.message}`);
      return fail.status(error.status, error.message);
    }
    return fail.other(error);
  }
}

function pickUsage(usage: Usage | null | undefined): Usage {
  const picked: Usage = {};
  if (typeof usage?.input_tokens === 'number') picked.input_tokens = usage.input_tokens;
  if (typeof usage?.output_tokens === 'number') picked.output_tokens = usage.output_tokens;
  return picked;
}
