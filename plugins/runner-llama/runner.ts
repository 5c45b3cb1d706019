/**
 * The llama.cpp runner: one model per runtime, one chat (context sequence + history) per session.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  appendUserMessageToChatHistory,
  getLlama,
  LlamaChatSession,
  LlamaLogLevel,
  resolveChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
} from 'node-llama-cpp';
import { LimitError, SessionIdleSweeper, allInOrder, checkSessionLimits, refuseProcessFields, untilAborted } from 'limit-graph';
import type { HealthResult, Logger, RunContext, RunResult, Runner, RunnerCapabilities, TaskParsed } from 'limit-graph';
import type { RunnerLlamaOptionsParsed } from './options.ts';

const PLUGIN = 'runner-llama';

interface SessionState {
  readonly id: string;
  /** The tenant whose chat this is: the same id from another tenant never continues it. */
  readonly tenant: string;
  chat?: LlamaChatSession;
  sequence?: LlamaContextSequence;
  /** History kept while the session has no sequence (it was evicted for another session). */
  savedHistory?: ChatHistoryItem[];
  /**
   * Tail of the session's task queue: settles when every turn so far has ended, its evaluation
   * included. A chat session evaluates one prompt at a time, so the next turn waits for it.
   */
  tail: Promise<unknown>;
  /**
   * Settles when every turn so far has answered. A turn answers at its deadline or abort; its
   * evaluation may go on until node-llama-cpp notices (then `tail` settles), holding the sequence.
   */
  answered: Promise<unknown>;
  /** The signal of the turn whose prompt is being evaluated: long prompts stop between slices when it aborts. */
  turnSignal?: AbortSignal;
  /**
   * Turns of this session past the queue (holding or acquiring its chat). Only the turn that
   * incremented it decrements it: a queued turn that gives up never touches it, so a session with
   * a turn generating is never taken for idle and its sequence never evicted mid-evaluation.
   */
  active: number;
  /** Turns of this session running or queued: idle expiry never closes a session with one. */
  pending: number;
  /**
   * When a turn of this session last started or ended (performance.now()): idle expiry
   * (sessionIdleMs), and which idle session's sequence is evicted first (least recently used).
   */
  usedAt: number;
  /** Aborted by closeSession, so in-flight work of a closing session stops. */
  readonly controller: AbortController;
}

type Failure = { code: 'LIMIT_RUNNER_TIMEOUT' | 'LIMIT_RUNNER_ABORTED' | 'LIMIT_RUNNER_FAILED' | 'LIMIT_RUNNER_UNAVAILABLE' | 'LIMIT_VALIDATION'; message: string };

/** How a turn fits in the session's context: what had to go, and how long the reply may be. */
interface Fit {
  /** The oldest exchanges (a user turn and the model's reply) left out of the history to make room. */
  dropped: number;
  /** Tokens the reply may take: maxTokens, or less when the context has less room left. */
  maxTokens: number;
}

export class LlamaRunner implements Runner {
  readonly name = 'llama';
  readonly capabilities: RunnerCapabilities = {
    timeout: true,
    // The model runs inside this process; its memory is fixed at boot, not per session.
    memoryLimit: false,
    // A local model opens no connections and runs no user code: allowNetwork=false holds by construction.
    networkIsolation: true,
    // No process is started for a task, so task env has nothing to apply to.
    envControl: false,
    // Tasks of one session run one at a time (a chat is sequential), within any maxConcurrency >= 1.
    concurrencyLimit: true,
    outputLimit: true,
  };

  #llama?: Llama;
  #model?: LlamaModel;
  #context?: LlamaContext;
  #loadError?: unknown;
  /** Tokens of the system prompt with the chat template and an empty turn: what every turn takes besides its prompt. */
  #baseTokens = 0;
  #closed = false;
  readonly #sessions = new Map<string, SessionState>();
  /** Waiters for a context sequence to become free. */
  readonly #waiters = new Set<() => void>();
  /**
   * Closed sessions whose sequence is freed once an evaluation that outlived its turn stops:
   * dispose() waits for them before it frees the context.
   */
  readonly #closing = new Set<Promise<void>>();
  /**
   * Idle expiry (sessionIdleMs): a session with no turn started or ended for that long, and none
   * running or queued, is closed as by closeSession — its context sequence freed, its history
   * forgotten; its next task starts a new chat.
   */
  readonly #idle: SessionIdleSweeper<SessionState>;

  constructor(
    private readonly options: RunnerLlamaOptionsParsed,
    private readonly logger: Logger,
  ) {
    this.#idle = new SessionIdleSweeper({
      plugin: PLUGIN,
      idleMs: options.sessionIdleMs,
      sessions: this.#sessions,
      idleSince: (state) => (state.pending > 0 ? undefined : state.usedAt),
      close: (id, tenant) => this.closeSession(id, tenant),
      logger,
    });
  }

  /** Loads the model and creates the shared context; called from the boot hook. */
  async load(): Promise<void> {
    const o = this.options;
    const stat = statSync(o.modelPath, { throwIfNoEntry: false });
    if (!stat?.isFile()) {
      throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', `runner-llama: modelPath "${o.modelPath}" ${stat ? 'is a directory, not a GGUF model file' : 'does not exist'}`, {
        plugin: PLUGIN,
        hook: 'boot',
        details: { modelPath: o.modelPath },
        fix: 'Set plugins.runner-llama.modelPath (or LLAMA_MODEL_PATH) to an existing GGUF file; a relative path is read from the folder of the config file.',
      });
    }
    try {
      this.#llama = await acquireLlama(o.gpu, o.threads, this.logger);
      this.#model = await this.#llama.loadModel({ modelPath: o.modelPath, gpuLayers: o.gpu ? 'auto' : 0 });
      // contextSize is per sequence; llama.cpp allocates contextSize × maxSessions KV cells once,
      // each sequence's rounded up (to a multiple of 256 below the model's trained context).
      this.#context = await this.#model.createContext({ contextSize: o.contextSize, sequences: o.maxSessions, threads: o.threads });
    } catch (error) {
      this.#loadError = error;
      await this.dispose();
      this.#closed = false;
      throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', `runner-llama: could not load "${o.modelPath}": ${messageOf(error)}`, {
        plugin: PLUGIN,
        hook: 'boot',
        cause: error,
        details: { modelPath: o.modelPath },
        fix: 'Check that the file is a GGUF model llama.cpp supports and that contextSize × maxSessions fits in memory.',
      });
    }
    const base = this.#turnTokens();
    const contextSize = this.#contextSize;
    if (contextSize - 1 - base < 1) {
      const least = base + 2;
      const error = new LimitError(
        'LIMIT_PLUGIN_OPTIONS_INVALID',
        `runner-llama: systemPrompt takes ${base} tokens with the chat template and an empty turn, and a session's context holds ${contextSize} (contextSize), one of them kept free and one needed for a reply: shorten systemPrompt by ${least - contextSize} tokens or more, or raise contextSize to at least ${least}`,
        {
          plugin: PLUGIN,
          hook: 'boot',
          details: { field: 'plugins.runner-llama.systemPrompt', systemPromptTokens: base, contextSize },
          fix: `Shorten plugins.runner-llama.systemPrompt, or set contextSize to ${least} or more (a turn's prompt and reply need room beside it).`,
        },
      );
      this.#loadError = error;
      await this.dispose();
      this.#closed = false;
      throw error;
    }
    this.#baseTokens = base;
    this.logger.info(
      { model: path.basename(o.modelPath), contextSize: o.contextSize, allocatedContextSize: this.#context.contextSize, maxSessions: o.maxSessions, threads: o.threads, gpu: this.#llama.gpu },
      'model loaded',
    );
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    if (this.#closed) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'runner-llama is shut down', { plugin: PLUGIN });
    if (!this.#context) {
      throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', 'runner-llama has no model loaded: the runtime has not booted', {
        plugin: PLUGIN,
        fix: 'Boot the runtime (createRuntime boots by default; the CLI boots when a command needs it).',
      });
    }
    const limits = checkSessionLimits(PLUGIN, ctx);
    refuseProcessFields(PLUGIN, task);
    const started = performance.now();
    // Cancelled before it began (a run racing its session's close): no state is made for it, which
    // nothing would ever release again — the session's sessionClosed has already run.
    if (ctx.signal.aborted) return result(false, '', started, { tokensIn: 0, tokensOut: 0 }, { code: 'LIMIT_RUNNER_ABORTED', message: `runner-llama: task aborted (session ${ctx.session.id})` });
    const limitMs = Math.min(limits.timeoutMs, this.options.timeoutMs ?? Number.POSITIVE_INFINITY);
    const state = this.#state(ctx.session.id, ctx.session.tenant);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limitMs);
    const signal = AbortSignal.any([ctx.signal, state.controller.signal, deadline.signal]);
    // Which signal fired decides the error code: the caller's abort wins over our deadline.
    const stopped = (): Failure | undefined => {
      if (ctx.signal.aborted || state.controller.signal.aborted) return { code: 'LIMIT_RUNNER_ABORTED', message: `runner-llama: task aborted (session ${ctx.session.id})` };
      if (deadline.signal.aborted) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `runner-llama: no answer within ${limitMs} ms` };
      return undefined;
    };
    const counts = { tokensIn: 0, tokensOut: 0 };
    let partial = '';
    const previous = state.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    state.tail = Promise.all([previous, mine]);
    let answer!: () => void;
    state.answered = Promise.all([state.answered, new Promise<void>((resolve) => (answer = resolve))]);
    state.pending++;
    state.usedAt = performance.now();
    let counted = false;
    /**
     * The evaluation of this turn when it is still running as the turn answers: node-llama-cpp looks
     * at the signal only between tokens and batches, and a turn waits without looking at it for the
     * context's lock, which another session's prompt holds for as long as its batch runs.
     */
    let evaluating: Promise<unknown> | undefined;
    try {
      const early = stopped();
      if (early) return result(false, '', started, counts, early);
      await untilAborted(previous, signal);
      state.active++;
      counted = true;
      const chat = await this.#chatFor(state, signal);
      const sequence = state.sequence!;
      const historyBefore = chat.getChatHistory();
      const fit = await this.#fit(chat, task.input, signal);
      if ('tooLong' in fit) return result(false, '', started, counts, { code: 'LIMIT_VALIDATION', message: fit.tooLong });
      const before = sequence.tokenMeter.getState();
      const cancel = () => cancelQueuedDecodes(this.#context, sequence, signal.reason);
      signal.addEventListener('abort', cancel, { once: true });
      state.turnSignal = signal;
      // A failed or interrupted evaluation leaves this sequence's KV cache half-written, and one
      // that ends after its turn answered is no part of the conversation: drop the cache, keep the
      // history as it was before the prompt; the next task rebuilds the cache from it.
      const undo = () => {
        signal.removeEventListener('abort', cancel);
        state.turnSignal = undefined;
        if (state.chat !== chat) return;
        state.savedHistory = historyBefore;
        this.#release(state);
      };
      const outcome = chat
        .promptWithMeta(task.input, {
          maxTokens: fit.maxTokens,
          temperature: this.options.temperature,
          ...(this.options.seed === undefined ? {} : { seed: this.options.seed }),
          signal,
          stopOnAbortSignal: false,
          onTextChunk: (text) => {
            partial += text;
          },
        })
        .then((meta) => ({ meta }), (error: unknown) => ({ error }));
      const first = await raceAbort(outcome, signal);
      if (first === ABORTED) {
        Object.assign(counts, metered(sequence, before));
        evaluating = outcome.then(undo);
        throw signal.reason;
      }
      if ('error' in first) {
        Object.assign(counts, metered(sequence, before));
        undo();
        throw first.error;
      }
      signal.removeEventListener('abort', cancel);
      state.turnSignal = undefined;
      const meta = first.meta;
      return result(true, meta.responseText, started, metered(sequence, before), undefined, {
        stopReason: meta.stopReason,
        ...(fit.dropped > 0 ? { droppedTurns: fit.dropped } : {}),
        ...(fit.maxTokens < this.options.maxTokens ? { maxTokens: fit.maxTokens } : {}),
      });
    } catch (error) {
      const failure = stopped() ?? { code: 'LIMIT_RUNNER_FAILED' as const, message: `runner-llama: generation failed: ${messageOf(error)}` };
      if (failure.code === 'LIMIT_RUNNER_FAILED') (ctx.logger ?? this.logger).warn({ err: error, session: ctx.session.id, traceId: ctx.traceId }, failure.message);
      return result(false, partial, started, counts, isLimitFailure(error) ? error : failure);
    } finally {
      clearTimeout(timer);
      answer();
      // The turn ends with its evaluation: until then the session's next turn waits, and its
      // sequence counts as busy (never evicted, never freed under the evaluation).
      const end = () => {
        if (counted) state.active--;
        state.pending--;
        state.usedAt = performance.now();
        release();
        this.#notify();
      };
      if (evaluating) {
        void evaluating.then(end, (error: unknown) => {
          this.logger.warn({ err: error, session: ctx.session.id }, 'runner-llama: could not free the sequence of an interrupted turn');
          end();
        });
      } else end();
    }
  }

  /**
   * Makes the turn fit in the session's context (contextSize tokens) before anything is evaluated,
   * so that node-llama-cpp never shifts the context on its own: its shift cuts the oldest text,
   * the new prompt included — a prompt longer than the context was evaluated as nothing at all and
   * answered `ok` with tokensIn 0. The prompt (with the system prompt and the chat template) must
   * leave room for at least one token of reply, else the task is refused naming both numbers; the
   * oldest exchanges of the history that do not fit beside it are dropped (`droppedTurns`), and the
   * reply may take at most the room left (`maxTokens`, when that is less than the option).
   *
   * How many exchanges to drop is found by bisection: each try renders and tokenizes the whole
   * turn, so dropping them one at a time cost a tokenization per exchange (400 exchanges: seconds).
   * The process gets a turn between tries, and an aborted turn stops there.
   */
  async #fit(chat: LlamaChatSession, input: string, signal: AbortSignal): Promise<Fit | { tooLong: string }> {
    const contextSize = this.#contextSize;
    const tokenizer = this.#model!.tokenizer;
    let tries = 0;
    // What LlamaChat evaluates for the turn: the history, the prompt, the start of the model's reply.
    const tokens = async (history: readonly ChatHistoryItem[]) => {
      if (tries++ > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        signal.throwIfAborted();
      }
      return chat.chatWrapper.generateContextState({ chatHistory: [...appendUserMessageToChatHistory(history, input), { type: 'model', response: [] }] }).contextText.tokenize(tokenizer).length;
    };
    // LlamaChat keeps one token of the context free: a turn of `n` tokens leaves contextSize - 1 - n.
    const room = (n: number) => contextSize - 1 - n;
    const history = chat.getChatHistory();
    const system = history.findIndex((item) => item.type !== 'system');
    const alone = await tokens(history.slice(0, system < 0 ? history.length : system));
    if (room(alone) < 1) {
      return {
        tooLong: `runner-llama: the prompt takes ${alone} tokens with the system prompt and the chat template, and a session's context holds ${contextSize} (contextSize), one of them kept free and at least one needed for the reply (without the prompt, a turn takes ${this.#baseTokens}): shorten the prompt by ${alone + 2 - contextSize} tokens or more, or raise contextSize`,
      };
    }
    const maxTokens = Math.min(this.options.maxTokens, room(alone));
    // An exchange is a user turn and everything after it up to the next user turn (the model's reply).
    const users = history.flatMap((item, i) => (item.type === 'user' ? [i] : []));
    const firstUser = users[0] ?? history.length;
    /** The history without its `n` oldest exchanges. */
    const without = (n: number) => (n === 0 ? history : [...history.slice(0, firstUser), ...history.slice(users[n] ?? history.length)]);
    const fits = async (n: number) => room(await tokens(without(n))) >= maxTokens;
    if (await fits(0)) return { dropped: 0, maxTokens };
    // Fewer exchanges never take more tokens: the least number to drop lies in (fail, fit]. Dropping
    // them all leaves the system prompt and the prompt, which fit (that is `alone`).
    let fail = 0;
    let fit = users.length;
    while (fit - fail > 1) {
      const mid = Math.floor((fail + fit) / 2);
      if (await fits(mid)) fit = mid;
      else fail = mid;
    }
    if (fit > 0) chat.setChatHistory(without(fit));
    return { dropped: fit, maxTokens };
  }

  /**
   * The tokens a turn may take: the configured contextSize. llama.cpp rounds the cache of each
   * sequence up (100 becomes 256); turns are held to what was configured, not to the rounding.
   */
  get #contextSize(): number {
    return Math.min(this.options.contextSize, this.#context!.contextSize);
  }

  /**
   * Tokens of a turn of a new session with the prompt `input`: the system prompt, the prompt and the
   * start of the reply, as the chat template renders them. The chat wrapper and initial history
   * are LlamaChatSession's own ("auto": resolved from the model; the system prompt when the
   * wrapper takes one).
   */
  #turnTokens(input = ''): number {
    const model = this.#model!;
    const wrapper = resolveChatWrapper(model);
    const system = wrapper.settings.supportsSystemMessages === false ? [] : wrapper.generateInitialChatHistory({ systemPrompt: this.options.systemPrompt });
    return wrapper.generateContextState({ chatHistory: [...appendUserMessageToChatHistory(system, input), { type: 'model', response: [] }] }).contextText.tokenize(model.tokenizer).length;
  }

  /**
   * A copy of a session's chat history (system, user and model turns), for inspection and tests: editing
   * it changes nothing. An in-process API: it takes no tenant, and answers for any session id.
   */
  history(sessionId: string): ChatHistoryItem[] | undefined {
    const state = this.#sessions.get(sessionId);
    if (!state) return undefined;
    // getChatHistory() is a copy (structuredClone); the history kept while the session has no sequence is the runner's own.
    return state.chat ? state.chat.getChatHistory() : structuredClone(state.savedHistory);
  }

  /** Sessions that currently hold runner state. */
  get sessionIds(): string[] {
    return [...this.#sessions.keys()];
  }

  /**
   * Aborts the session's turns and forgets its history once each has answered (promptly: every
   * wait of a turn ends at its abort). With `tenant`, only that tenant's session: another tenant's
   * close of the same id leaves it alone. The sequence is freed now, or, when an evaluation of the
   * session is still stopping (it waited for another session's batch), as soon as it has stopped.
   */
  async closeSession(sessionId: string, tenant?: string): Promise<void> {
    const state = this.#sessions.get(sessionId);
    if (!state || (tenant !== undefined && state.tenant !== tenant)) return;
    this.#sessions.delete(sessionId);
    state.controller.abort(new LimitError('LIMIT_SESSION_CLOSED', `Session "${sessionId}" closed`));
    await state.answered;
    if (state.active === 0) {
      this.#release(state);
      return;
    }
    const freed = state.tail.then(() => this.#release(state)).catch((error: unknown) => {
      this.logger.warn({ err: error, session: sessionId }, 'runner-llama: could not free the sequence of a closed session');
    });
    this.#closing.add(freed);
    void freed.finally(() => this.#closing.delete(freed));
  }

  async health(): Promise<HealthResult> {
    const o = this.options;
    const checks: NonNullable<HealthResult['checks']> = [];
    const allocated = this.#context?.contextSize;
    if (this.#model && this.#context) {
      checks.push({ name: 'model', status: 'ok', message: `${path.basename(o.modelPath)} loaded (trained context ${this.#model.trainContextSize} tokens)` });
      const free = this.#context.sequencesLeft;
      checks.push({
        name: 'context',
        status: 'ok',
        message: `${free} of ${o.maxSessions} context sequences free (${o.contextSize} tokens each${allocated === o.contextSize ? '' : `, allocated ${allocated}`}); ${this.#sessions.size} sessions hold state`,
      });
    } else {
      checks.push({ name: 'model', status: 'fail', message: this.#loadError ? `not loaded: ${messageOf(this.#loadError)}` : 'not loaded: the runtime has not booted' });
    }
    if (o.gpu) {
      const gpu = this.#llama?.gpu ?? false;
      checks.push(
        gpu === false
          ? { name: 'gpu', status: 'degraded', message: 'gpu: true was set, but no supported GPU was found; running on the CPU' }
          : { name: 'gpu', status: 'ok', message: `offloading to ${gpu}` },
      );
    }
    checks.push(
      {
        name: 'capability:memoryLimit',
        status: 'degraded',
        message: `session memoryMb is not enforced: the model runs in this process; its memory is the model plus a KV cache of ${allocated === undefined || allocated === o.contextSize ? `contextSize × maxSessions (${o.contextSize} × ${o.maxSessions}) tokens` : `${allocated} × ${o.maxSessions} tokens (contextSize ${o.contextSize}, rounded up by llama.cpp)`}`,
      },
      { name: 'capability:envControl', status: 'degraded', message: 'task env is not applied: a local model starts no process for a task' },
    );
    const status = checks.some((c) => c.name === 'model' && c.status === 'fail') ? 'fail' : checks.some((c) => c.name === 'gpu' && c.status !== 'ok') ? 'degraded' : 'ok';
    return {
      status,
      message: status === 'fail' ? 'model not loaded' : `model ready; not enforced: memoryMb, task env`,
      checks,
      details: { modelPath: o.modelPath, contextSize: o.contextSize, ...(allocated === undefined ? {} : { allocatedContextSize: allocated }), maxSessions: o.maxSessions, threads: o.threads, gpu: this.#llama?.gpu ?? false, unenforcedLimits: ['memoryMb', 'env'] },
    };
  }

  /**
   * Closes every session and frees the context, the model and llama.cpp (at shutdown). Every
   * session's close ends, and all three are freed, even when a close fails; then the first failure
   * in session order is thrown. A second call does nothing.
   */
  async dispose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    try {
      await allInOrder([...this.#sessions.keys()].map((id) => this.closeSession(id)));
    } finally {
      // Evaluations that outlived their turn stop at their abort (the next batch): then free.
      await Promise.all([...this.#closing]);
      await this.#free();
    }
  }

  /** Frees the context, then the model, then llama.cpp: each even when the one before failed. */
  async #free(): Promise<void> {
    const context = this.#context;
    const model = this.#model;
    const llama = this.#llama;
    this.#context = undefined;
    this.#model = undefined;
    this.#llama = undefined;
    try {
      await context?.dispose();
    } finally {
      try {
        await model?.dispose();
      } finally {
        if (llama) await releaseLlama(llama, this.logger);
      }
    }
  }

  #state(id: string, tenant: string): SessionState {
    let state = this.#sessions.get(id);
    if (!state) {
      state = { id, tenant, tail: Promise.resolve(), answered: Promise.resolve(), active: 0, pending: 0, usedAt: performance.now(), controller: new AbortController() };
      this.#sessions.set(id, state);
      this.#idle.watch();
    } else if (state.tenant !== tenant) {
      throw new LimitError('LIMIT_CONFLICT', `Session id "${id}" is in use on this runner by another tenant`, {
        plugin: 'runner-llama', details: { sessionId: id }, fix: 'Use the session ids the server generates; they are unique.',
      });
    }
    return state;
  }

  /** The session's chat, creating it on a free sequence (evicting an idle session's if need be). */
  async #chatFor(state: SessionState, signal: AbortSignal): Promise<LlamaChatSession> {
    if (state.chat) return state.chat;
    const context = this.#context!;
    for (;;) {
      signal.throwIfAborted();
      if (context.sequencesLeft > 0) break;
      // A disposed sequence returns to the context asynchronously (after the running batch); while
      // one is on its way back, wait for it instead of evicting another session.
      const held = [...this.#sessions.values()].filter((s) => s.sequence).length;
      if (held < this.options.maxSessions) {
        await this.#waitForSequence(signal, 5);
        continue;
      }
      const idle = [...this.#sessions.values()].filter((s) => s !== state && s.chat && s.active === 0).sort((a, b) => a.usedAt - b.usedAt)[0];
      if (idle) {
        // The idle session keeps its history; only its KV cache is given up and rebuilt on its next task.
        idle.savedHistory = idle.chat!.getChatHistory();
        this.#release(idle);
        this.logger.debug({ evicted: idle.id, for: state.id }, 'context sequence reassigned');
        continue;
      }
      await this.#waitForSequence(signal, 50);
    }
    const sequence = context.getSequence();
    sliceLongEvaluations(sequence, context.batchSize, () => state.turnSignal);
    const chat = new LlamaChatSession({ contextSequence: sequence, systemPrompt: this.options.systemPrompt, autoDisposeSequence: false });
    if (state.savedHistory) chat.setChatHistory(state.savedHistory);
    state.savedHistory = undefined;
    state.sequence = sequence;
    state.chat = chat;
    return chat;
  }

  /** Resolves when a session releases its sequence, the signal aborts, or after `pollMs`. */
  #waitForSequence(signal: AbortSignal, pollMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, pollMs);
      this.#waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  #release(state: SessionState): void {
    const { chat, sequence } = state;
    state.chat = undefined;
    state.sequence = undefined;
    if (chat && !chat.disposed) chat.dispose({ disposeSequence: false });
    if (sequence && !sequence.disposed) sequence.dispose();
    this.#notify();
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/**
 * llama.cpp's bindings are process-wide and take about a second to initialise, while a model is
 * per runtime. Runtimes in one process (tests, an embedding server) share one Llama per settings,
 * reference-counted and disposed with its last user.
 */
const sharedLlamas = new Map<string, { llama: Promise<Llama>; refs: number; loggers: Logger[] }>();

function acquireLlama(gpu: boolean, threads: number, logger: Logger): Promise<Llama> {
  const key = JSON.stringify({ gpu, threads });
  let entry = sharedLlamas.get(key);
  if (!entry) {
    const loggers: Logger[] = [];
    const llama = getLlama({
      gpu: gpu ? 'auto' : false,
      // Never compile llama.cpp at run time: use the prebuilt binaries that ship with the package.
      build: 'never',
      maxThreads: threads,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        const target = loggers[loggers.length - 1];
        if (!text || !target) return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) target.error({ llama: level }, text);
        else target.warn({ llama: level }, text);
      },
    });
    entry = { llama, refs: 0, loggers };
    sharedLlamas.set(key, entry);
    llama.catch(() => sharedLlamas.delete(key));
  }
  entry.refs++;
  entry.loggers.push(logger);
  return entry.llama;
}

async function releaseLlama(llama: Llama, logger: Logger): Promise<void> {
  for (const [key, entry] of sharedLlamas) {
    if ((await entry.llama.catch(() => undefined)) !== llama) continue;
    entry.refs--;
    const at = entry.loggers.indexOf(logger);
    if (at >= 0) entry.loggers.splice(at, 1);
    if (entry.refs === 0) {
      sharedLlamas.delete(key);
      await llama.dispose();
    }
    return;
  }
}

/**
 * node-llama-cpp checks the abort signal between generated tokens, but a long prompt is queued as
 * one decode that the context works through batch by batch without looking at the signal (a
 * 30 000-token prompt runs to the end, seconds later). Removing this sequence's queued decodes
 * stops it at the next batch boundary. These are internals of node-llama-cpp 3.21.1 — the version
 * is pinned exactly — and when they are missing the turn still answers at its deadline (it races
 * the evaluation against its signal); only the evaluation runs on, its sequence held, until it ends.
 */
function cancelQueuedDecodes(context: LlamaContext | undefined, sequence: LlamaContextSequence, reason: unknown): void {
  const internals = context as unknown as {
    _queuedDecodes?: { sequenceId: number }[];
    _dispatchErrorForQueuedDecodesAndDequeue?: (decodes: Set<unknown>, error: unknown) => void;
  };
  const sequenceId = (sequence as unknown as { _sequenceId?: number })._sequenceId;
  if (!Array.isArray(internals?._queuedDecodes) || typeof internals._dispatchErrorForQueuedDecodesAndDequeue !== 'function' || sequenceId === undefined) return;
  const mine = internals._queuedDecodes.filter((decode) => decode.sequenceId === sequenceId);
  if (mine.length > 0) internals._dispatchErrorForQueuedDecodesAndDequeue.call(context, new Set(mine), reason);
}

/**
 * node-llama-cpp's context works through every queued decode under one lock, and a turn of a
 * session that has a chat first takes that lock (to erase the end of its context): a prompt of
 * 12 000 tokens, queued as one decode, made every other session wait for all of it, seconds. Here a
 * prompt longer than a batch is queued one batch at a time, each slice after the last has been
 * decoded and the context has let go of its lock, so the other sessions' turns start between two
 * slices and are decoded in the same batches as the rest of it (the context shares each batch
 * among its sequences). Between slices an aborted turn stops. This wraps an internal of
 * node-llama-cpp 3.21.1 (the version is pinned exactly); without it, the prompt runs as one decode.
 */
function sliceLongEvaluations(sequence: LlamaContextSequence, sliceTokens: number, signal: () => AbortSignal | undefined): void {
  type Decode = (
    tokens: readonly number[],
    logits: readonly (boolean | undefined)[],
    evaluationPriority: unknown,
    tokenMeter: unknown,
    contextShiftOptions: unknown,
    logitDataMapper: (batchLogitIndex: number, tokenIndex: number) => unknown,
    afterBatchAction: unknown,
  ) => Promise<unknown[]>;
  const internals = sequence as unknown as { _decodeTokens?: Decode };
  const decode = internals._decodeTokens;
  if (typeof decode !== 'function' || !(sliceTokens >= 1)) return;
  internals._decodeTokens = async function (this: unknown, tokens, logits, evaluationPriority, tokenMeter, contextShiftOptions, logitDataMapper, afterBatchAction) {
    if (tokens.length <= sliceTokens) return decode.call(this, tokens, logits, evaluationPriority, tokenMeter, contextShiftOptions, logitDataMapper, afterBatchAction);
    // The result holds, at a token's index, what logitDataMapper made of that token's logits.
    const results: unknown[] = [];
    for (let start = 0; start < tokens.length; start += sliceTokens) {
      if (start > 0) {
        // The context's dispatch loop ends (its lock released) once its queue is empty.
        await new Promise<void>((resolve) => setImmediate(resolve));
        signal()?.throwIfAborted();
      }
      const end = start + sliceTokens;
      const part = await decode.call(this, tokens.slice(start, end), logits.slice(start, end), evaluationPriority, tokenMeter, contextShiftOptions, (batchLogitIndex, tokenIndex) => logitDataMapper(batchLogitIndex, tokenIndex + start), afterBatchAction);
      part.forEach((value, i) => {
        results[start + i] = value;
      });
    }
    return results;
  };
}

const ABORTED = Symbol('aborted');

/** What `promise` (one that never rejects) resolves to, or ABORTED when the signal aborts first; the listener is removed either way. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

function metered(sequence: LlamaContextSequence, before: { usedInputTokens: number; usedOutputTokens: number }): { tokensIn: number; tokensOut: number } {
  if (sequence.disposed) return { tokensIn: 0, tokensOut: 0 };
  const after = sequence.tokenMeter.getState();
  return { tokensIn: after.usedInputTokens - before.usedInputTokens, tokensOut: after.usedOutputTokens - before.usedOutputTokens };
}

function result(
  ok: boolean,
  stdout: string,
  started: number,
  counts: { tokensIn: number; tokensOut: number },
  failure?: Failure,
  value?: unknown,
): RunResult {
  return {
    ok,
    stdout,
    stderr: failure ? failure.message : '',
    ...(value === undefined ? {} : { value }),
    ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
    metrics: { latencyMs: performance.now() - started, tokensIn: counts.tokensIn, tokensOut: counts.tokensOut },
  };
}

function isLimitFailure(error: unknown): error is Failure {
  return error instanceof LimitError && (error.code === 'LIMIT_RUNNER_UNAVAILABLE' || error.code === 'LIMIT_RUNNER_FAILED');
}


function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
