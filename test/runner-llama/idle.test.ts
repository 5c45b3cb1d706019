/**
 * runner-llama: sessions that are never closed are closed once idle for sessionIdleMs (their
 * context sequence freed, their history forgotten), never while a turn of them runs or waits;
 * closeSession(id, tenant) closes only that tenant's session.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, isLimitError, Task, type Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import runnerLlama, { type LlamaRunner } from '../../plugins/runner-llama/index.ts';
import { makeTinyLlama } from '../fixtures/gguf/make-tiny-llama.ts';

let modelPath = '';
beforeAll(async () => {
  modelPath = await makeTinyLlama();
});

type Opts = Parameters<typeof runnerLlama.configure>[0];
let rt: Runtime | undefined;
async function start(options: Partial<Opts> = {}): Promise<LlamaRunner> {
  rt = await createRuntime({
    config: { plugins: {}, logLevel: 'silent' },
    env: {},
    plugins: [runnerLlama.configure({ modelPath, contextSize: 1024, maxTokens: 8, ...options })],
  });
  return rt.resolve('runner:llama') as LlamaRunner;
}
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

const prompt = (input: string) => Task.parse({ input, kind: 'prompt' });
/** A prompt of `n` single-letter tokens: evaluating tens of thousands takes seconds on any CPU. */
const longPrompt = (n: number) => Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[(i * 7) % 26]).join('');
const userTurns = (runner: LlamaRunner, id: string) => runner.history(id)?.filter((i) => i.type === 'user').map((i) => (i as { text: string }).text);
const until = async (what: () => boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (what()) return true;
  return what();
};

describe('runner-llama idle sessions (sessionIdleMs)', () => {
  it('closes a session idle for sessionIdleMs: its sequence is freed and its history goes; the next task starts a new chat', async () => {
    const runner = await start({ sessionIdleMs: 1_000, maxSessions: 2 });
    const a = makeRunContext();
    expect((await runner.executeIsolated(prompt('hello world'), a)).ok).toBe(true);
    expect(runner.sessionIds).toContain(a.session.id);
    const free = async () => (await runner.health()).checks!.find((c) => c.name === 'context')!.message;
    expect(await free()).toMatch(/^1 of 2 context sequences free/);
    // Idle for 1 s, looked at every second: closed within about 2 s.
    expect(await until(() => !runner.sessionIds.includes(a.session.id), 5_000), 'the idle session was kept').toBe(true);
    expect(runner.history(a.session.id)).toBeUndefined();
    expect(await free()).toMatch(/^2 of 2 context sequences free/);
    expect((await runner.executeIsolated(prompt('the model'), a)).ok).toBe(true);
    expect(userTurns(runner, a.session.id)).toEqual(['the model']);
  }, 30_000);

  it('never closes a session while a turn of it runs or waits, and counts idleness from its last turn', async () => {
    const runner = await start({ sessionIdleMs: 1_000, contextSize: 32_768, maxTokens: 4 });
    const a = makeRunContext({ limits: { timeoutMs: 60_000 } });
    expect((await runner.executeIsolated(prompt('hello world'), a)).ok).toBe(true);
    // Three long evaluations, each stopped at 2.5 s at the latest, queued with a last turn behind
    // them: the session stays busy for several seconds even on a machine that evaluates fast.
    const started = performance.now();
    const capped = { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 2_500 } } };
    const results = await Promise.all([
      ...[1, 2, 3].map(() => runner.executeIsolated(prompt(longPrompt(30_000)), capped)),
      runner.executeIsolated(prompt('the model'), a),
    ]);
    const queued = results.pop()!;
    for (const long of results) expect(long.error?.code ?? 'ok').toMatch(/^(ok|LIMIT_RUNNER_TIMEOUT)$/);
    expect(queued.ok, JSON.stringify(queued.error)).toBe(true);
    // Past the idle limit and at least one look: otherwise this test proves nothing.
    expect(performance.now() - started, 'the turns ended before the session could be taken for idle').toBeGreaterThanOrEqual(2_000);
    expect(userTurns(runner, a.session.id)?.[0]).toBe('hello world');
    expect(userTurns(runner, a.session.id)?.at(-1)).toBe('the model');
    // Just ended: not idle yet.
    expect((await runner.executeIsolated(prompt('again'), a)).ok).toBe(true);
    expect(userTurns(runner, a.session.id)?.[0]).toBe('hello world');
  }, 60_000);

  it("closeSession(id, tenant) closes only that tenant's session; a turn arriving while it closes starts a new chat the close leaves alone", async () => {
    const runner = await start({ maxSessions: 1, contextSize: 32_768, maxTokens: 4 });
    const a = makeRunContext({ limits: { timeoutMs: 60_000 } });
    expect((await runner.executeIsolated(prompt('hello world'), a)).ok).toBe(true);
    await runner.closeSession(a.session.id, 'someone-else');
    expect(userTurns(runner, a.session.id)).toEqual(['hello world']);
    const running = runner.executeIsolated(prompt(longPrompt(20_000)), a);
    await new Promise((r) => setTimeout(r, 100));
    const closing = runner.closeSession(a.session.id, a.session.tenant);
    const fresh = await runner.executeIsolated(prompt('the model'), a);
    await closing;
    expect((await running).error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(fresh.ok, JSON.stringify(fresh.error)).toBe(true);
    expect(userTurns(runner, a.session.id)).toEqual(['the model']);
    expect((await runner.executeIsolated(prompt('again'), a)).ok).toBe(true);
    expect(userTurns(runner, a.session.id)).toEqual(['the model', 'again']);
  }, 60_000);

  it('the default is one day, and a limit under a second is refused naming the option', async () => {
    const error = await start({ sessionIdleMs: 10 }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/sessionIdleMs/);
    const { RunnerLlamaOptions } = await import('../../plugins/runner-llama/options.ts');
    expect(RunnerLlamaOptions.parse({ modelPath: 'x' }).sessionIdleMs).toBe(86_400_000);
  });
});
