/**
 * The OpenAI runner: chat.completions with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the SDK's; this runner sets them
 * up, bounds everything by the session's deadline, and maps failures to catalogued error codes.
 */
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { LimitError } from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerOpenAIOptionsParsed } from './options.ts';

const PLUGIN = 'runner-openai';

interface SessionState {
  /** The conversation so far (user and assistant turns; the system prompt is added per request). */
  readonly messages: ChatCompletionMessageParam[];
  /** Tail of the session's task queue: turns of one conversation go one at a time. */
  tail: Promise<unknown>;
  /** Aborted by closeSession. */
  readonly controller: AbortController;
}

type FailureCode = 'LIMIT_RUNNER_TIMEOUT' | 'LIMIT_RUNNER_ABORTED' | 'LIMIT_RUNNER_FAILED' | 'LIMIT_RUNNER_UNAVAILABLE';
interface Failure {
  code: FailureCode;
  message: string;
  status?: number;
}

export class OpenAIRunner implements Runner {
  readonly name = 'openai';
  readonly capabilities: RunnerCapabilities = {
    timeout: true,
    memoryLimit: false,
    networkIsolation: false,
    envControl: false,
    // Turns of one session are sent one at a time, within any maxConcurrency >= 1.
    concurrencyLimit: true,
  };

  readonly #client: OpenAI;
  readonly #sessions = new Map<string, SessionState>();
  #closed = false;

  constructor(
    private readonly options: RunnerOpenAIOptionsParsed,
    private readonly logger: Logger,
  ) {
    const scrub = this.#scrub;
    const sdkLog = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string) => logger[level]({ sdk: 'openai' }, scrub(String(message)));
    this.#client = new OpenAI({
      apiKey: options.apiKey,
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      maxRetries: options.maxRetries,
      timeout: options.timeoutMs,
      // The SDK's own log lines go to our pino logger, message only: their extra arguments carry
      // request details we do not want to reason about for secrets.
      logLevel: 'warn',
      logger: { error: sdkLog('error'), warn: sdkLog('warn'), info: sdkLog('info'), debug: sdkLog('debug') },
    });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    if (this.#closed) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'runner-openai is shut down', { plugin: PLUGIN });
    const started = performance.now();
    const limitMs = Math.min(ctx.session.limits.timeoutMs, this.options.timeoutMs);
    const state = this.#state(ctx.session.id);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limitMs);
    const signal = AbortSignal.any([ctx.signal, state.controller.signal, deadline.signal]);
    const stopped = (): Failure | undefined => {
      if (ctx.signal.aborted || state.controller.signal.aborted) return { code: 'LIMIT_RUNNER_ABORTED', message: 'runner-openai: request aborted' };
      if (deadline.signal.aborted) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `runner-openai: no complete answer within ${limitMs} ms` };
      return undefined;
    };
    let text = '';
    const previous = state.tail;
    let release!: () => void;
    state.tail = Promise.all([previous, new Promise<void>((resolve) => (release = resolve))]);
    try {
      const early = stopped();
      if (early) return result(started, { text, failure: early });
      await untilAborted(previous, signal);
      const userTurn: ChatCompletionMessageParam = { role: 'user', content: task.input };
      const messages: ChatCompletionMessageParam[] = [
        ...(this.options.systemPrompt ? [{ role: 'system' as const, content: this.options.systemPrompt }] : []),
        ...state.messages,
        userTurn,
      ];
      const body = {
        model: this.options.model,
        messages,
        ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
        ...(this.options.maxTokens === undefined ? {} : { max_completion_tokens: this.options.maxTokens }),
      };
      const requestOptions = { signal, timeout: Math.max(1, Math.ceil(limitMs - (performance.now() - started))) };
      let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
      let finishReason: string | null | undefined;
      let model: string | undefined;
      if (this.options.stream) {
        const stream = await this.#client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, requestOptions);
        for await (const chunk of stream) {
          model ??= chunk.model;
          const choice = chunk.choices[0];
          if (choice?.delta?.content) text += choice.delta.content;
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          // With include_usage the last chunk has no choices and carries the usage of the whole request.
          if (chunk.usage) usage = chunk.usage;
        }
      } else {
        const completion = await this.#client.chat.completions.create({ ...body, stream: false }, requestOptions);
        model = completion.model;
        const choice = completion.choices[0];
        text = choice?.message?.content ?? '';
        finishReason = choice?.finish_reason;
        usage = completion.usage;
      }
      // Only a completed exchange joins the conversation; a failed turn leaves no trace in it.
      state.messages.push(userTurn, { role: 'assistant', content: text });
      return result(started, { text, usage, value: { model, finishReason } });
    } catch (error) {
      const failure = stopped() ?? this.#describe(error);
      if (failure.code !== 'LIMIT_RUNNER_TIMEOUT' && failure.code !== 'LIMIT_RUNNER_ABORTED') {
        (ctx.logger ?? this.logger).warn({ session: ctx.session.id, traceId: ctx.traceId, code: failure.code, status: failure.status }, failure.message);
      }
      return result(started, { text, failure });
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): ChatCompletionMessageParam[] | undefined {
    const state = this.#sessions.get(sessionId);
    return state ? structuredClone(state.messages) : undefined;
  }

  async closeSession(sessionId: string): Promise<void> {
    const state = this.#sessions.get(sessionId);
    if (!state) return;
    this.#sessions.delete(sessionId);
    state.controller.abort(new LimitError('LIMIT_SESSION_CLOSED', `Session "${sessionId}" closed`));
    await state.tail.catch(() => undefined);
  }

  /** Lists models at the base URL (one quick request, no retries) to prove reachability and the key. */
  async health(): Promise<HealthResult> {
    const checks: NonNullable<HealthResult['checks']> = [];
    const host = safeHost(this.#client.baseURL);
    try {
      await this.#client.models.list({ timeout: 3000, maxRetries: 0 });
      checks.push({ name: 'api', status: 'ok', message: `${host} answered; model "${this.options.model}"` });
    } catch (error) {
      checks.push({ name: 'api', status: 'fail', message: this.#describe(error).message });
    }
    checks.push(
      { name: 'capability:memoryLimit', status: 'degraded', message: 'memoryMb does not apply: the model runs at the vendor, not in this process' },
      {
        name: 'capability:networkIsolation',
        status: 'degraded',
        message: `allowNetwork is not enforced: every task is a request to ${host}; the model itself runs no code here`,
      },
      { name: 'capability:envControl', status: 'degraded', message: 'task env is not applied: no process is started for a task' },
    );
    const api = checks[0]!;
    return {
      status: api.status === 'ok' ? 'ok' : 'fail',
      message: api.status === 'ok' ? `ready (${host}, ${this.options.model})` : `cannot use ${host}`,
      checks,
      details: { baseURL: this.#client.baseURL, model: this.options.model, stream: this.options.stream, maxRetries: this.options.maxRetries, unenforcedLimits: ['memoryMb', 'allowNetwork', 'env'] },
    };
  }

  async dispose(): Promise<void> {
    this.#closed = true;
    for (const id of [...this.#sessions.keys()]) await this.closeSession(id);
  }

  #state(id: string): SessionState {
    let state = this.#sessions.get(id);
    if (!state) {
      state = { messages: [], tail: Promise.resolve(), controller: new AbortController() };
      this.#sessions.set(id, state);
    }
    return state;
  }

  /** Removes the API key from any text that leaves the runner (a server may echo it back). */
  readonly #scrub = (text: string): string => (this.options.apiKey ? text.split(this.options.apiKey).join('[redacted]') : text);

  #describe(error: unknown): Failure {
    const scrub = this.#scrub;
    const host = safeHost(this.#client.baseURL);
    if (error instanceof OpenAI.APIConnectionTimeoutError) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `runner-openai: ${host} did not answer in time` };
    if (error instanceof OpenAI.APIUserAbortError) return { code: 'LIMIT_RUNNER_ABORTED', message: 'runner-openai: request aborted' };
    if (error instanceof OpenAI.APIConnectionError) {
      return { code: 'LIMIT_RUNNER_UNAVAILABLE', message: scrub(`runner-openai: could not reach ${host}: ${causeOf(error)}`) };
    }
    if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
      const status = error.status;
      const retried = status === 429 || status === 408 || status === 409 || status >= 500 ? ` (after ${this.options.maxRetries} retries)` : '';
      const what =
        status === 401 || status === 403 ? 'rejected the API key' : status === 429 ? 'is rate limiting' : status === 404 ? 'does not know this model or endpoint' : `answered ${status}`;
      return {
        code: 'LIMIT_RUNNER_FAILED',
        status,
        message: scrub(`runner-openai: ${host} ${what}${retried}: ${error.message}`),
      };
    }
    if (error instanceof SyntaxError) return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`runner-openai: ${host} sent a malformed response (invalid JSON): ${error.message}`) };
    return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`runner-openai: request failed: ${error instanceof Error ? error.message : String(error)}`) };
  }
}

function result(
  started: number,
  r: { text: string; failure?: Failure; usage?: { prompt_tokens?: number; completion_tokens?: number }; value?: unknown },
): RunResult {
  return {
    ok: !r.failure,
    stdout: r.text,
    stderr: r.failure ? r.failure.message : '',
    ...(r.value === undefined ? {} : { value: r.value }),
    ...(r.failure ? { error: { code: r.failure.code, message: r.failure.message } } : {}),
    metrics: {
      latencyMs: performance.now() - started,
      ...(r.usage?.prompt_tokens === undefined ? {} : { tokensIn: r.usage.prompt_tokens }),
      ...(r.usage?.completion_tokens === undefined ? {} : { tokensOut: r.usage.completion_tokens }),
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the API';
  }
}

/** The innermost cause says what really happened ("connect ECONNREFUSED …", not "fetch failed"). */
function causeOf(error: Error): string {
  let inner: Error = error;
  while ((inner as { cause?: unknown }).cause instanceof Error) inner = (inner as { cause: Error }).cause;
  return inner.message;
}

/** Resolves when `promise` settles, rejects when `signal` aborts first. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    promise.then(done, done);
  });
}
