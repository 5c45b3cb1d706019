/**
 * The Anthropic runner: the Messages API with one conversation per session, streaming by default.
 * Retries and backoff (honouring retry-after / retry-after-ms) are the SDK's; this runner sets them
 * up, bounds everything by the session's deadline, and maps failures to catalogued error codes.
 */
import { performance } from 'node:perf_hooks';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { LimitError } from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerAnthropicOptionsParsed } from './options.ts';

const PLUGIN = 'runner-anthropic';

interface SessionState {
  /** The conversation so far: alternating user and assistant turns, as the Messages API wants them. */
  readonly messages: MessageParam[];
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

interface Usage {
  input_tokens?: number | null;
  output_tokens?: number | null;
}

export class AnthropicRunner implements Runner {
  readonly name = 'anthropic';
  readonly capabilities: RunnerCapabilities = {
    timeout: true,
    memoryLimit: false,
    networkIsolation: false,
    envControl: false,
    // Turns of one session are sent one at a time, within any maxConcurrency >= 1.
    concurrencyLimit: true,
  };

  readonly #client: Anthropic;
  readonly #sessions = new Map<string, SessionState>();
  #closed = false;

  constructor(
    private readonly options: RunnerAnthropicOptionsParsed,
    private readonly logger: Logger,
  ) {
    const scrub = this.#scrub;
    const sdkLog = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string) => logger[level]({ sdk: 'anthropic' }, scrub(String(message)));
    this.#client = new Anthropic({
      // Passing the key makes it the client's only credential: the SDK then reads no
      // ANTHROPIC_AUTH_TOKEN or profile from the server's environment.
      apiKey: options.apiKey,
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      maxRetries: options.maxRetries,
      timeout: options.timeoutMs,
      logLevel: 'warn',
      logger: { error: sdkLog('error'), warn: sdkLog('warn'), info: sdkLog('info'), debug: sdkLog('debug') },
    });
  }

  get baseURL(): string {
    return this.#client.baseURL;
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    if (this.#closed) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'runner-anthropic is shut down', { plugin: PLUGIN });
    const started = performance.now();
    const limitMs = Math.min(ctx.session.limits.timeoutMs, this.options.timeoutMs);
    const state = this.#state(ctx.session.id);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limitMs);
    const signal = AbortSignal.any([ctx.signal, state.controller.signal, deadline.signal]);
    const stopped = (): Failure | undefined => {
      if (ctx.signal.aborted || state.controller.signal.aborted) return { code: 'LIMIT_RUNNER_ABORTED', message: 'runner-anthropic: request aborted' };
      if (deadline.signal.aborted) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `runner-anthropic: no complete answer within ${limitMs} ms` };
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
      const userTurn: MessageParam = { role: 'user', content: task.input };
      const body = {
        model: this.options.model,
        max_tokens: this.options.maxTokens,
        messages: [...state.messages, userTurn],
        ...(this.options.systemPrompt ? { system: this.options.systemPrompt } : {}),
        ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
      };
      const requestOptions = { signal, timeout: Math.max(1, Math.ceil(limitMs - (performance.now() - started))) };
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
              if (event.delta.type === 'text_delta') text += event.delta.text;
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
        text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
        stopReason = message.stop_reason;
        Object.assign(usage, pickUsage(message.usage));
      }
      // Only a completed exchange joins the conversation; a failed turn leaves no trace in it.
      state.messages.push(userTurn, { role: 'assistant', content: text });
      return result(started, { text, usage, value: { model, stopReason } });
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
  history(sessionId: string): MessageParam[] | undefined {
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
      await this.#client.models.list({ limit: 1 }, { timeout: 3000, maxRetries: 0 });
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
    if (error instanceof Anthropic.APIConnectionTimeoutError) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `runner-anthropic: ${host} did not answer in time` };
    if (error instanceof Anthropic.APIUserAbortError) return { code: 'LIMIT_RUNNER_ABORTED', message: 'runner-anthropic: request aborted' };
    if (error instanceof Anthropic.APIConnectionError) {
      return { code: 'LIMIT_RUNNER_UNAVAILABLE', message: scrub(`runner-anthropic: could not reach ${host}: ${causeOf(error)}`) };
    }
    if (error instanceof Anthropic.APIError) {
      const status = error.status;
      // A streamed `event: error` (e.g. overloaded_error) arrives after a 200, so it has no status.
      if (typeof status !== 'number') return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`runner-anthropic: ${host} reported an error mid-stream: ${error.message}`) };
      const retried = status === 429 || status === 408 || status === 409 || status >= 500 ? ` (after ${this.options.maxRetries} retries)` : '';
      const what =
        status === 401 || status === 403 ? 'rejected the API key' : status === 429 ? 'is rate limiting' : status === 404 ? 'does not know this model or endpoint' : `answered ${status}`;
      return { code: 'LIMIT_RUNNER_FAILED', status, message: scrub(`runner-anthropic: ${host} ${what}${retried}: ${error.message}`) };
    }
    if (error instanceof SyntaxError) return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`runner-anthropic: ${host} sent a malformed response (invalid JSON): ${error.message}`) };
    return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`runner-anthropic: request failed: ${error instanceof Error ? error.message : String(error)}`) };
  }
}

function pickUsage(usage: Usage | null | undefined): Usage {
  const picked: Usage = {};
  if (typeof usage?.input_tokens === 'number') picked.input_tokens = usage.input_tokens;
  if (typeof usage?.output_tokens === 'number') picked.output_tokens = usage.output_tokens;
  return picked;
}

function result(started: number, r: { text: string; failure?: Failure; usage?: Usage; value?: unknown }): RunResult {
  return {
    ok: !r.failure,
    stdout: r.text,
    stderr: r.failure ? r.failure.message : '',
    ...(r.value === undefined ? {} : { value: r.value }),
    ...(r.failure ? { error: { code: r.failure.code, message: r.failure.message } } : {}),
    metrics: {
      latencyMs: performance.now() - started,
      ...(typeof r.usage?.input_tokens === 'number' ? { tokensIn: r.usage.input_tokens } : {}),
      ...(typeof r.usage?.output_tokens === 'number' ? { tokensOut: r.usage.output_tokens } : {}),
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
