import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Llama, LlamaChatSession, LlamaContext, LlamaContextSequence, LlamaModel, LlamaText } from 'node-llama-cpp';
import { createRuntime, isLimitError, Task } from 'limit-graph';
import type { RunContext, Runtime } from 'limit-graph';
import { makeRunContext, runnerConformance } from 'limit-graph/testing';
import runnerLlama, { type LlamaRunner } from '../../plugins/runner-llama/index.ts';
import { makeTinyLlama } from '../fixtures/gguf/make-tiny-llama.ts';

let modelPath = '';
beforeAll(async () => {
  modelPath = await makeTinyLlama();
});

type Opts = Parameters<typeof runnerLlama.configure>[0];
async function start(options: Partial<Opts> = {}): Promise<{ rt: Runtime; runner: LlamaRunner }> {
  const rt = await createRuntime({
    config: { plugins: {}, logLevel: 'silent' },
    env: {},
    plugins: [runnerLlama.configure({ modelPath, contextSize: 1024, maxTokens: 12, ...options })],
  });
  return { rt, runner: rt.resolve('runner:llama') as LlamaRunner };
}

const prompt = (input: string) => Task.parse({ input, kind: 'prompt' });
/** A prompt of `n` single-letter tokens: evaluating tens of thousands takes seconds on any CPU. */
const longPrompt = (n: number) => Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[(i * 7) % 26]).join('');
const texts = (runner: LlamaRunner, id: string) => JSON.stringify(runner.history(id) ?? []);

describe('runner-llama with a generated tiny llama GGUF', () => {
  let rt: Runtime;
  let runner: LlamaRunner;
  beforeAll(async () => {
    ({ rt, runner } = await start({ maxSessions: 2 }));
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('loads the model at boot and generates tokens, with token metrics', async () => {
    const result = await runner.executeIsolated(prompt('hello world'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.metrics.tokensOut).toBeGreaterThan(0);
    expect(result.metrics.tokensOut).toBeLessThanOrEqual(12);
    expect(result.metrics.tokensIn).toBeGreaterThan(2);
    expect(result.value).toMatchObject({ stopReason: expect.stringMatching(/maxTokens|eogToken/) });
  });

  it('greedy decoding is deterministic, and a session starts from a clean history', async () => {
    const a = makeRunContext();
    const b = makeRunContext();
    const first = await runner.executeIsolated(prompt('the model is a test'), a);
    await runner.executeIsolated(prompt('hello world'), a);
    // Session b asks the same first question after a talked: the same answer means nothing of a leaked in.
    const second = await runner.executeIsolated(prompt('the model is a test'), b);
    expect(second.ok).toBe(true);
    expect(second.stdout).toBe(first.stdout);
    expect(texts(runner, a.session.id)).toContain('hello world');
    expect(texts(runner, b.session.id)).not.toContain('hello world');
    expect(runner.history(b.session.id)!.filter((item) => item.type === 'user')).toHaveLength(1);
    expect(runner.history(a.session.id)!.filter((item) => item.type === 'user')).toHaveLength(2);
  });

  it('runs two sessions concurrently with separate histories', async () => {
    const a = makeRunContext();
    const b = makeRunContext();
    const [ra, rb] = await Promise.all([
      runner.executeIsolated(prompt('alpha alpha'), a),
      runner.executeIsolated(prompt('beta beta'), b),
    ]);
    expect(ra.ok && rb.ok).toBe(true);
    expect(texts(runner, a.session.id)).toContain('alpha alpha');
    expect(texts(runner, a.session.id)).not.toContain('beta beta');
    expect(texts(runner, b.session.id)).toContain('beta beta');
    expect(texts(runner, b.session.id)).not.toContain('alpha alpha');
  });

  it("refuses another tenant's run on a live session id instead of continuing that chat", async () => {
    const a = makeRunContext();
    expect((await runner.executeIsolated(prompt('mine alone'), a)).ok).toBe(true);
    const other = { ...a, session: { ...a.session, tenant: 'someone-else' } };
    // Refused naming the id, not whose it is.
    const refused = await runner.executeIsolated(prompt('and theirs?'), other).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'LIMIT_CONFLICT', message: `Session id "${a.session.id}" is in use on this runner by another tenant` });
    expect((refused as { details?: unknown }).details).toEqual({ sessionId: a.session.id });
    expect(texts(runner, a.session.id)).not.toContain('and theirs?');
  });

  it("another tenant closing a session of the same id leaves this tenant's chat", async () => {
    const a = makeRunContext();
    expect((await runner.executeIsolated(prompt('still mine'), a)).ok).toBe(true);
    await runner.closeSession(a.session.id, 'someone-else');
    expect(texts(runner, a.session.id)).toContain('still mine');
  });

  it('more sessions than maxSessions: an idle session yields its sequence and keeps its history', async () => {
    const [a, b, c] = [makeRunContext(), makeRunContext(), makeRunContext()];
    const turn1 = await runner.executeIsolated(prompt('the world'), a);
    await runner.executeIsolated(prompt('a test'), b);
    await runner.executeIsolated(prompt('of the model'), c); // evicts a (least recently used)
    const turn2 = await runner.executeIsolated(prompt('hello'), a); // a is rebuilt from its saved history
    expect(turn1.ok && turn2.ok).toBe(true);
    const history = runner.history(a.session.id)!;
    expect(history.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text)).toEqual(['the world', 'hello']);
    expect(texts(runner, a.session.id)).not.toContain('of the model');

    // The same two turns in a session that was never evicted give the same answer.
    const d = makeRunContext();
    await runner.executeIsolated(prompt('the world'), d);
    const reference = await runner.executeIsolated(prompt('hello'), d);
    expect(turn2.stdout).toBe(reference.stdout);
  });

  it('closing a session through the runtime releases its chat and sequence', async () => {
    const session = await rt.openSession({ id: 'llama-close' });
    const ctx: RunContext = { session: { id: session.id, tenant: session.tenant, limits: session.limits }, traceId: 't1', signal: session.signal };
    expect((await runner.executeIsolated(prompt('hello'), ctx)).ok).toBe(true);
    expect(runner.sessionIds).toContain('llama-close');
    await session.close();
    expect(runner.sessionIds).not.toContain('llama-close');
    expect(runner.history('llama-close')).toBeUndefined();
    // A run that comes after the close (it raced it) leaves no session state behind.
    expect((await runner.executeIsolated(prompt('too late'), ctx)).error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(runner.sessionIds).not.toContain('llama-close');
  });

  it('the session timeout stops a long evaluation with LIMIT_RUNNER_TIMEOUT and the session still works', async () => {
    const ctx = makeRunContext({ limits: { timeoutMs: 10_000 } });
    const first = await runner.executeIsolated(prompt('hello'), ctx);
    const started = performance.now();
    const slow = await runner.executeIsolated(prompt(longPrompt(900)), { ...ctx, session: { ...ctx.session, limits: { ...ctx.session.limits, timeoutMs: 5 } } });
    expect(slow.ok).toBe(false);
    expect(slow.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(slow.error?.message).toContain('5 ms');
    expect(performance.now() - started).toBeLessThan(2000);
    const again = await runner.executeIsolated(prompt('world'), ctx);
    expect(again.ok, JSON.stringify(again.error)).toBe(true);
    // The timed-out turn is not part of the conversation.
    expect(runner.history(ctx.session.id)!.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text)).toEqual(['hello', 'world']);
    expect(first.ok).toBe(true);
  });

  it('refuses a task with files or args naming the field, its session untouched: the model reads task.input only', async () => {
    const ctx = makeRunContext();
    await expect(runner.executeIsolated({ ...prompt('read the file'), files: { 'q.txt': 'the question' } }, ctx)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', details: { field: 'task.files' } });
    await expect(runner.executeIsolated({ ...prompt('use them'), args: ['-v'] }, ctx)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', details: { field: 'task.args' } });
    expect(runner.history(ctx.session.id)).toBeUndefined();
  });

  it('health reports the model, the context and the limits it cannot enforce', async () => {
    const health = await runner.health();
    expect(health.status).toBe('ok');
    const names = health.checks!.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['model', 'context', 'capability:memoryLimit', 'capability:envControl']));
    expect(health.checks!.find((c) => c.name === 'capability:memoryLimit')!.status).toBe('degraded');
    const viaRuntime = (await rt.health()).find((p) => p.plugin === 'runner-llama');
    expect(viaRuntime?.status).toBe('ok');
  });
});

describe('runner-llama: a turn and the context size', () => {
  let rt: Runtime;
  let runner: LlamaRunner;
  beforeAll(async () => {
    ({ rt, runner } = await start({ contextSize: 256, maxSessions: 1, maxTokens: 8 }));
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('a prompt longer than contextSize is refused naming both numbers, not cut to nothing and answered ok with tokensIn 0', async () => {
    const a = makeRunContext();
    const long = await runner.executeIsolated(prompt(longPrompt(2000)), a);
    expect(long.ok).toBe(false);
    expect(long.error?.code).toBe('LIMIT_VALIDATION');
    expect(long.error?.message).toMatch(/^runner-llama: the prompt takes (\d+) tokens with the system prompt and the chat template, and a session's context holds 256 \(contextSize\).*shorten the prompt by \d+ tokens or more, or raise contextSize$/);
    expect(Number(/takes (\d+) tokens/.exec(long.error!.message)![1])).toBeGreaterThanOrEqual(2000);
    // How much of that is not the prompt (the system prompt, the chat template): a few tokens here.
    expect(Number(/without the prompt, a turn takes (\d+)\)/.exec(long.error!.message)![1])).toBeLessThan(50);
    expect(long.metrics.tokensIn).toBe(0);
    // Just over the context counts too (it was cut silently before).
    expect((await runner.executeIsolated(prompt(longPrompt(250)), a)).error?.code).toBe('LIMIT_VALIDATION');
    expect(runner.history(a.session.id)!.filter((i) => i.type === 'user')).toEqual([]);
    const short = await runner.executeIsolated(prompt('hello world'), a);
    expect(short.ok, JSON.stringify(short.error)).toBe(true);
    expect(short.metrics.tokensIn).toBeGreaterThan(2);
  });

  it('a conversation that outgrows the context drops its oldest exchanges, says how many, and meters what it evaluates', async () => {
    const a = makeRunContext();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await runner.executeIsolated(prompt(`${longPrompt(80)} ${i}`), a));
    for (const r of results) {
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      // Each turn evaluates at least its own prompt (it read 0 once node-llama-cpp had shifted the context).
      expect(r.metrics.tokensIn).toBeGreaterThanOrEqual(80);
    }
    expect(results.some((r) => (r.value as { droppedTurns?: number }).droppedTurns! >= 1)).toBe(true);
    const users = runner.history(a.session.id)!.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text);
    expect(users.length).toBeLessThan(5);
    expect(users.at(-1)).toBe(`${longPrompt(80)} 4`);
  });

  it('making room in a long conversation tokenizes it a few times, not once per exchange dropped', async () => {
    // #fit dropped one exchange at a time and re-tokenized the whole history and prompt after each,
    // synchronously: 400 exchanges before a long prompt blocked the process for 9 s, past the deadline.
    const { rt: own, runner: chatty } = await start({ contextSize: 1024, maxSessions: 1, maxTokens: 2 });
    try {
      const a = makeRunContext();
      for (let i = 0; i < 48; i++) expect((await chatty.executeIsolated(prompt(`hi ${i}`), a)).ok).toBe(true);
      const exchanges = chatty.history(a.session.id)!.filter((i) => i.type === 'user').length;
      const tokenize = vi.spyOn(LlamaText.prototype, 'tokenize');
      const r = await chatty.executeIsolated(prompt(longPrompt(900)), a);
      const calls = tokenize.mock.calls.length;
      tokenize.mockRestore();
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      const dropped = (r.value as { droppedTurns: number }).droppedTurns;
      expect(dropped).toBeGreaterThan(exchanges / 2);
      expect(calls, `${calls} tokenizations to drop ${dropped} of ${exchanges} exchanges`).toBeLessThanOrEqual(3 + Math.ceil(Math.log2(exchanges + 1)));
      expect(r.metrics.tokensIn! + r.metrics.tokensOut!).toBeLessThan(1024);
      expect(chatty.history(a.session.id)!.filter((i) => i.type === 'user')).toHaveLength(exchanges - dropped + 1);
    } finally {
      await own.close();
    }
  });

  it('a reply gets at most the room the prompt leaves in the context (value.maxTokens when that is less than maxTokens)', async () => {
    const { rt: own, runner: roomy } = await start({ contextSize: 256, maxSessions: 1, maxTokens: 200 });
    try {
      const r = await roomy.executeIsolated(prompt(longPrompt(100)), makeRunContext());
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      const { maxTokens } = r.value as { maxTokens: number };
      expect(maxTokens).toBeGreaterThan(0);
      expect(maxTokens).toBeLessThan(200);
      expect(r.metrics.tokensOut).toBeLessThanOrEqual(maxTokens);
      expect(r.metrics.tokensIn! + r.metrics.tokensOut!).toBeLessThan(256);
    } finally {
      await own.close();
    }
  });

  it('holds turns to the configured contextSize, though llama.cpp rounds the cache it allocates up, and health says both', async () => {
    // contextSize 100 became 256 inside node-llama-cpp: a 150-token prompt was accepted while
    // health() still said 100 tokens per session.
    const { rt: own, runner: small } = await start({ contextSize: 100, maxSessions: 3, maxTokens: 8 });
    try {
      const a = makeRunContext();
      const long = await small.executeIsolated(prompt(longPrompt(150)), a);
      expect(long.error?.code).toBe('LIMIT_VALIDATION');
      expect(long.error?.message).toContain("a session's context holds 100 (contextSize)");
      for (let i = 0; i < 4; i++) {
        const r = await small.executeIsolated(prompt(`${longPrompt(30)} ${i}`), a);
        expect(r.ok, JSON.stringify(r.error)).toBe(true);
        expect(r.metrics.tokensIn! + r.metrics.tokensOut!).toBeLessThan(100);
      }
      const health = await small.health();
      expect(health.details).toMatchObject({ contextSize: 100, allocatedContextSize: 256 });
      expect(health.checks!.find((c) => c.name === 'context')!.message).toMatch(/\(100 tokens each, allocated 256\)/);
      expect(health.checks!.find((c) => c.name === 'capability:memoryLimit')!.message).toContain('a KV cache of 256 × 3 tokens (contextSize 100, rounded up by llama.cpp)');
    } finally {
      await own.close();
    }
  });
});

describe("runner-llama: sessions beside another session's long prompt", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const users = (runner: LlamaRunner, id: string) => runner.history(id)!.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text);

  it("a session's timeout, abort and closeSession are answered at their time, and no sequence ever runs two evaluations or is freed under one", async () => {
    // node-llama-cpp works through every queued decode under one context lock, and a turn of a
    // session that has a chat first erases the end of its context under that lock: it waited for all
    // of another session's prompt (seconds), past its own deadline, its abort and its close.
    const inFlight = new Map<LlamaContextSequence, number>();
    const broken: string[] = [];
    const promptWithMeta = LlamaChatSession.prototype.promptWithMeta;
    vi.spyOn(LlamaChatSession.prototype, 'promptWithMeta').mockImplementation(function (this: LlamaChatSession, ...args) {
      const sequence = this.sequence;
      const n = (inFlight.get(sequence) ?? 0) + 1;
      if (n > 1) broken.push('two evaluations on one sequence');
      inFlight.set(sequence, n);
      return promptWithMeta.apply(this, args).finally(() => inFlight.set(sequence, inFlight.get(sequence)! - 1));
    });
    const disposeSequence = LlamaContextSequence.prototype.dispose;
    vi.spyOn(LlamaContextSequence.prototype, 'dispose').mockImplementation(function (this: LlamaContextSequence) {
      if ((inFlight.get(this) ?? 0) > 0) broken.push('a sequence freed while it evaluates');
      return disposeSequence.apply(this);
    });
    const { rt, runner } = await start({ contextSize: 32_768, maxSessions: 4, maxTokens: 8 });
    try {
      const limits = { timeoutMs: 60_000 };
      const [a, b, c, d] = [makeRunContext({ limits }), makeRunContext({ limits }), makeRunContext({ limits }), makeRunContext({ limits })];
      for (const ctx of [b, c, d]) expect((await runner.executeIsolated(prompt('hello'), ctx)).ok).toBe(true);
      const stopA = new AbortController();
      let longDone = false;
      const long = runner.executeIsolated(prompt(longPrompt(12_000)), { ...a, signal: stopA.signal }).finally(() => void (longDone = true));
      await sleep(150);

      let t = performance.now();
      const timedOut = await runner.executeIsolated(prompt('again'), { ...b, session: { ...b.session, limits: { ...b.session.limits, timeoutMs: 100 } } });
      expect(timedOut.error?.code, JSON.stringify(timedOut.error)).toBe('LIMIT_RUNNER_TIMEOUT');
      expect(performance.now() - t).toBeLessThan(100 + 1500);

      t = performance.now();
      const aborted = await runner.executeIsolated(prompt('again'), { ...c, signal: AbortSignal.timeout(100) });
      expect(aborted.error?.code, JSON.stringify(aborted.error)).toBe('LIMIT_RUNNER_ABORTED');
      expect(performance.now() - t).toBeLessThan(100 + 1500);

      const turn = runner.executeIsolated(prompt('again'), d);
      await sleep(100);
      t = performance.now();
      await runner.closeSession(d.session.id, d.session.tenant);
      expect(performance.now() - t).toBeLessThan(1500);
      expect((await turn).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect(runner.sessionIds).not.toContain(d.session.id);

      expect(longDone, 'the long prompt ended before the other sessions were answered: nothing was measured').toBe(false);
      stopA.abort();
      expect((await long).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      // The sessions still work, and the turns that gave up are not in their histories.
      for (const ctx of [b, c]) {
        const again = await runner.executeIsolated(prompt('once more'), ctx);
        expect(again.ok, JSON.stringify(again.error)).toBe(true);
        expect(users(runner, ctx.session.id)).toEqual(['hello', 'once more']);
      }
      expect(broken).toEqual([]);
    } finally {
      vi.restoreAllMocks();
      await rt.close();
    }
  }, 120_000);

  it('a turn answers at its deadline though node-llama-cpp does not look at the signal; its evaluation keeps the sequence until it ends and is left out of the history', async () => {
    // A stand-in for an evaluation that waits on node-llama-cpp's context lock: it ignores the
    // signal, takes 1.5 s, then evaluates (and succeeds).
    let evaluations = 0;
    let overlapped = false;
    const promptWithMeta = LlamaChatSession.prototype.promptWithMeta;
    vi.spyOn(LlamaChatSession.prototype, 'promptWithMeta').mockImplementation(async function (this: LlamaChatSession, input, options) {
      if (++evaluations > 1) overlapped = true;
      try {
        if (input !== 'stall') return await promptWithMeta.call(this, input, options);
        await sleep(1500);
        return await promptWithMeta.call(this, input, { ...options, signal: undefined });
      } finally {
        evaluations--;
      }
    });
    const { rt, runner } = await start({ maxSessions: 2 });
    try {
      const a = makeRunContext({ limits: { timeoutMs: 20_000 } });
      expect((await runner.executeIsolated(prompt('hello'), a)).ok).toBe(true);
      let t = performance.now();
      const stalled = await runner.executeIsolated(prompt('stall'), { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 100 } } });
      expect(stalled.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
      expect(performance.now() - t).toBeLessThan(100 + 1000);
      // The next turn waits for that evaluation (one evaluation per sequence), then runs.
      const next = await runner.executeIsolated(prompt('world'), a);
      expect(next.ok, JSON.stringify(next.error)).toBe(true);
      expect(users(runner, a.session.id)).toEqual(['hello', 'world']);

      // closeSession answers at once; the sequence is freed when the evaluation has ended.
      const b = makeRunContext({ limits: { timeoutMs: 20_000 } });
      const turn = runner.executeIsolated(prompt('stall'), b);
      await sleep(100);
      t = performance.now();
      await runner.closeSession(b.session.id, b.session.tenant);
      expect(performance.now() - t).toBeLessThan(1000);
      expect((await turn).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      // a holds one sequence, b's evaluation the other.
      expect((await runner.health()).checks!.find((c) => c.name === 'context')!.message).toMatch(/^0 of 2 context sequences free/);
      await sleep(2500);
      expect((await runner.health()).checks!.find((c) => c.name === 'context')!.message).toMatch(/^1 of 2 context sequences free/);
      expect(overlapped).toBe(false);
    } finally {
      vi.restoreAllMocks();
      await rt.close();
    }
  }, 60_000);
});

describe('runner-llama configuration and lifecycle', () => {
  const users = (runner: LlamaRunner, id: string) => runner.history(id)!.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text);
  it('refuses a missing modelPath with the option named', async () => {
    const error = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, env: {}, plugins: [runnerLlama.configure({} as Opts)] }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toContain('modelPath');
  });

  it('takes the model path from LLAMA_MODEL_PATH', async () => {
    const rt = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, env: { LLAMA_MODEL_PATH: modelPath }, plugins: [runnerLlama.configure({ contextSize: 256 } as Opts)] });
    expect((await rt.resolve('runner:llama').health()).status).toBe('ok');
    await rt.close();
  });

  it('gpu: true offloads where a GPU backend loads, and otherwise runs on the CPU with health degraded and saying so', async () => {
    const { rt, runner } = await start({ gpu: true, contextSize: 256 });
    try {
      const health = await runner.health();
      const gpu = health.checks!.find((c) => c.name === 'gpu')!;
      const backend = health.details?.gpu;
      if (backend === false) {
        // This machine (CI's included): no usable GPU binary, so the CPU, and nobody is misled.
        expect(gpu).toMatchObject({ status: 'degraded', message: expect.stringContaining('no supported GPU was found') });
        expect(health.status).toBe('degraded');
      } else {
        expect(backend).toMatch(/^(cuda|vulkan|metal)$/);
        expect(gpu).toEqual({ name: 'gpu', status: 'ok', message: `offloading to ${backend as string}` });
      }
      const result = await runner.executeIsolated(prompt('hello world'), makeRunContext());
      expect(result.ok, JSON.stringify(result.error)).toBe(true);
      expect(result.metrics.tokensOut).toBeGreaterThan(0);
    } finally {
      await rt.close();
    }
  });

  it('fails boot naming systemPrompt and contextSize when the system prompt leaves no room for a turn, instead of refusing every prompt', async () => {
    // It booted with health ok, then refused a prompt of 'hi' asking to shorten it by 187 tokens.
    const error = await start({ contextSize: 256, systemPrompt: longPrompt(400) }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /^runner-llama: systemPrompt takes (\d+) tokens with the chat template and an empty turn, and a session's context holds 256 \(contextSize\), one of them kept free and one needed for a reply: shorten systemPrompt by (\d+) tokens or more, or raise contextSize to at least (\d+)$/,
    );
    const [, taken, shorten, least] = /takes (\d+).*by (\d+).*least (\d+)/.exec((error as Error).message)!.map(Number);
    expect(taken).toBeGreaterThanOrEqual(400);
    expect(shorten).toBe(taken! + 2 - 256);
    expect(least).toBe(taken! + 2);
    expect((error as { details?: unknown }).details).toMatchObject({ field: 'plugins.runner-llama.systemPrompt', contextSize: 256, systemPromptTokens: taken });
    // A system prompt that leaves room boots, and its prompts are answered.
    const { rt, runner } = await start({ contextSize: 256, maxTokens: 4, systemPrompt: longPrompt(100) });
    try {
      expect((await runner.health()).status).toBe('ok');
      const r = await runner.executeIsolated(prompt('hi'), makeRunContext());
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it('fails boot with LIMIT_RUNNER_UNAVAILABLE naming a model file that does not exist', async () => {
    const error = await start({ modelPath: '/nonexistent/model.gguf' }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_RUNNER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('/nonexistent/model.gguf');
    expect((error as { plugin?: string }).plugin).toBe('runner-llama');
  });

  it('reads a relative modelPath from the folder of the config, not the working directory', async () => {
    // Before, it was the working directory's: `limit` run from a subfolder of the project (it finds
    // the config upward) failed boot with "does not exist" for the README's './models/…' path.
    const rt = await createRuntime({
      cwd: path.dirname(modelPath),
      config: { plugins: {}, logLevel: 'silent' },
      env: {},
      plugins: [runnerLlama.configure({ modelPath: path.basename(modelPath), contextSize: 1024, maxTokens: 2 })],
    });
    try {
      expect((await (rt.resolve('runner:llama') as LlamaRunner).health()).details).toMatchObject({ modelPath });
    } finally {
      await rt.close();
    }
  });

  it('fails boot naming modelPath when it is a directory', async () => {
    const error = await start({ modelPath: path.dirname(modelPath) }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_RUNNER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe(`runner-llama: modelPath "${path.dirname(modelPath)}" is a directory, not a GGUF model file`);
  });

  it('fails boot clearly on a file that is not a GGUF model', async () => {
    const error = await start({ modelPath: new URL(import.meta.url).pathname }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_RUNNER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/could not load/);
  });

  it('with one sequence, a session that timed out gets it back promptly (no eviction loop, no wait for a wake-up)', async () => {
    const { rt, runner } = await start({ maxSessions: 1 });
    const a = makeRunContext({ limits: { timeoutMs: 10_000 } });
    const b = makeRunContext({ limits: { timeoutMs: 10_000 } });
    expect((await runner.executeIsolated(prompt('hello'), a)).ok).toBe(true);
    const timedOut = await runner.executeIsolated(prompt(longPrompt(900)), { ...b, session: { ...b.session, limits: { ...b.session.limits, timeoutMs: 5 } } });
    expect(timedOut.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    const started = performance.now();
    const [ra, rb] = await Promise.all([runner.executeIsolated(prompt('world'), a), runner.executeIsolated(prompt('again'), b)]);
    expect(ra.ok && rb.ok, JSON.stringify([ra.error, rb.error])).toBe(true);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(runner.history(a.session.id)!.filter((i) => i.type === 'user')).toHaveLength(2);
    await rt.close();
  });

  it("a queued turn that gives up does not mark its session idle: another session never evicts a chat that is generating", async () => {
    const { rt, runner } = await start({ maxSessions: 1, contextSize: 24_576, maxTokens: 8 });
    try {
      const a = makeRunContext({ limits: { timeoutMs: 60_000 } });
      const b = makeRunContext({ limits: { timeoutMs: 60_000 } });
      const long = runner.executeIsolated(prompt(longPrompt(15_000)), a); // seconds of evaluation
      await new Promise((r) => setTimeout(r, 100));
      // A's second turn waits behind the first and gives up: by timeout, and by its caller's abort.
      const timedOut = await runner.executeIsolated(prompt('queued'), { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 50 } } });
      expect(timedOut.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
      const aborted = await runner.executeIsolated(prompt('queued'), { ...a, signal: AbortSignal.timeout(50) });
      expect(aborted.error?.code).toBe('LIMIT_RUNNER_ABORTED');
      // B needs the only sequence: it must wait for A's turn, not take A's sequence from under it.
      const other = runner.executeIsolated(prompt('hello'), b);
      const [ra, rb] = await Promise.all([long, other]);
      expect(ra.ok, JSON.stringify(ra.error)).toBe(true);
      expect(rb.ok, JSON.stringify(rb.error)).toBe(true);
      expect(runner.history(a.session.id)!.filter((i) => i.type === 'user')).toHaveLength(1);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it("history(id) is a copy: editing it never changes the conversation, also of a session that gave up its sequence", async () => {
    const { rt, runner } = await start({ maxSessions: 1 });
    try {
      const [a, b] = [makeRunContext(), makeRunContext()];
      expect((await runner.executeIsolated(prompt('first'), a)).ok).toBe(true);
      const live = runner.history(a.session.id)!;
      (live.find((i) => i.type === 'user') as { text: string }).text = 'EDITED WHILE LIVE';
      expect((await runner.executeIsolated(prompt('other'), b)).ok).toBe(true); // a gives up its sequence
      const saved = runner.history(a.session.id)!;
      expect(users(runner, a.session.id)).toEqual(['first']);
      (saved.find((i) => i.type === 'user') as { text: string }).text = 'EDITED WHILE SAVED';
      saved.push({ type: 'user', text: 'pushed' });
      expect((await runner.executeIsolated(prompt('again'), a)).ok).toBe(true);
      expect(users(runner, a.session.id)).toEqual(['first', 'again']);
    } finally {
      await rt.close();
    }
  });

  it('disposes the model at shutdown: the runner refuses work afterwards', async () => {
    const { rt, runner } = await start();
    expect((await runner.executeIsolated(prompt('hello'), makeRunContext())).ok).toBe(true);
    await rt.close();
    expect((await runner.health()).status).toBe('fail');
    await expect(runner.executeIsolated(prompt('hello'), makeRunContext())).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
  });

  it('a session whose close fails cuts no other close short: the context, the model and llama.cpp are still freed, in that order, then dispose throws that failure', async () => {
    const { rt, runner } = await start({ maxSessions: 3 });
    try {
      const contexts = ['alpha', 'beta', 'gamma'].map((word) => ({ word, ctx: makeRunContext() }));
      for (const { word, ctx } of contexts) expect((await runner.executeIsolated(prompt(word), ctx)).ok).toBe(true);
      // The chat of the session that said "beta" fails to dispose, once (the sessions close in the order alpha, beta, gamma).
      const disposeChat = LlamaChatSession.prototype.dispose;
      /** The chats disposed by their session's close: before the context (which disposes them again). */
      const closedChats = new Set<string>();
      let failed = false;
      vi.spyOn(LlamaChatSession.prototype, 'dispose').mockImplementation(function (this: LlamaChatSession, ...args) {
        const said = this.getChatHistory().find((item) => item.type === 'user')?.text ?? '';
        if (said === 'beta' && !failed) {
          failed = true;
          throw new Error('the chat of beta could not be disposed');
        }
        if (freed[0]!.mock.calls.length === 0) closedChats.add(said);
        return disposeChat.apply(this, args);
      });
      const freed = [vi.spyOn(LlamaContext.prototype, 'dispose'), vi.spyOn(LlamaModel.prototype, 'dispose'), vi.spyOn(Llama.prototype, 'dispose')];
      await expect(runner.dispose()).rejects.toThrow('the chat of beta could not be disposed');
      expect([...closedChats]).toEqual(['alpha', 'gamma']);
      expect(runner.sessionIds).toEqual([]);
      // The llama.cpp bindings are freed with their last runtime: this one (the tests of this file run one at a time).
      const order = freed.map((spy) => spy.mock.invocationCallOrder[0]);
      expect(order.every((n) => n !== undefined)).toBe(true);
      expect(order).toEqual([...order].sort((x, y) => x! - y!));
      expect((await runner.health()).status).toBe('fail');
      // Once more does nothing; the runner refuses work as after any dispose.
      await expect(runner.dispose()).resolves.toBeUndefined();
      await expect(runner.executeIsolated(prompt('hello'), makeRunContext())).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED', message: 'runner-llama is shut down' });
    } finally {
      vi.restoreAllMocks();
      await rt.close();
    }
  });
});

runnerConformance(
  'runner-llama',
  async () => {
    // Big per-session context so that the slow task (30 000 prompt tokens) is accepted and takes seconds.
    const { rt, runner } = await start({ contextSize: 32_768, maxSessions: 2, maxTokens: 8 });
    return { runner, close: async () => void (await rt.close()) };
  },
  {
    tasks: {
      hello: () => ({ input: 'hello', kind: 'prompt' }),
      slow: () => ({ input: longPrompt(30_000), kind: 'prompt' }),
    },
    // A random-weight model cannot echo or recall a string; those properties are tested above on
    // histories. "A slow session does not hold up another" runs with the hello task.
    supports: { sessionMemory: false },
  },
);
