import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, isLimitError, Task } from 'limit-graph';
import type { Runtime } from 'limit-graph';
import { makeRunContext, runnerConformance } from 'limit-graph/testing';
import runnerOpenAI, { type OpenAIRunner } from '../../plugins/runner-openai/index.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

const API_KEY = 'sk-test-SECRET-0123456789abcdef';
type Opts = Parameters<typeof runnerOpenAI.configure>[0];

let fake: FakeOpenAI;
const logLines: string[] = [];
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake?.close();
});

async function start(options: Partial<Opts> = {}, env: Record<string, string> = {}): Promise<{ rt: Runtime; runner: OpenAIRunner }> {
  const rt = await createRuntime({
    config: { plugins: {} },
    env,
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } }),
    plugins: [runnerOpenAI.configure({ model: 'fake-model', apiKey: API_KEY, baseURL: fake.url, maxRetries: 2, ...options })],
  });
  return { rt, runner: rt.resolve('runner:openai') as OpenAIRunner };
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const prompt = (input: string) => Task.parse({ input, kind: 'prompt' });

describe('runner-openai against a fake OpenAI server', () => {
  let rt: Runtime;
  let runner: OpenAIRunner;
  beforeEach(async () => {
    fake.requests.length = 0;
    fake.plan.length = 0;
    await rt?.close();
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('JSON reply: output, usage metrics, and the request it sent', async () => {
    ({ rt, runner } = await start({ stream: false, systemPrompt: 'be brief', temperature: 0.2, maxTokens: 50 }));
    const result = await runner.executeIsolated(prompt('hello there'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.stdout).toBe('you said: hello there');
    expect(result.metrics).toMatchObject({ tokensIn: 4, tokensOut: 4 });
    expect(result.value).toMatchObject({ model: 'fake-model', finishReason: 'stop' });
    const [request] = fake.completions();
    expect(request!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request!.body).toMatchObject({
      model: 'fake-model',
      temperature: 0.2,
      max_completion_tokens: 50,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }],
    });
    expect(request!.body.stream).toBe(false);
  });

  it('streaming: accumulates the deltas and takes usage from the final chunk', async () => {
    ({ rt, runner } = await start());
    const result = await runner.executeIsolated(prompt('a streamed answer please'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.stdout).toBe('you said: a streamed answer please');
    expect(result.metrics).toMatchObject({ tokensIn: 4, tokensOut: 6 });
    expect(fake.completions()[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('429 with retry-after: retries once, after the time the header asked for', async () => {
    ({ rt, runner } = await start());
    // 0.6 s is longer than the SDK's own first backoff (at most 0.5 s): waiting it proves the header was read.
    fake.plan.push({ status: 429, headers: { 'retry-after': '0.6' }, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
    const result = await runner.executeIsolated(prompt('after the limit'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    const [first, second] = fake.completions();
    expect(fake.completions()).toHaveLength(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(580);
    expect(second!.at - first!.at).toBeLessThan(2000);
  });

  it('429 with retry-after-ms: waits that long, shorter than the default backoff', async () => {
    ({ rt, runner } = await start());
    fake.plan.push({ status: 429, headers: { 'retry-after-ms': '40' }, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: null } } });
    const result = await runner.executeIsolated(prompt('quick retry'), makeRunContext());
    expect(result.ok).toBe(true);
    const [first, second] = fake.completions();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(38);
    // The default first backoff is at least 375 ms.
    expect(second!.at - first!.at).toBeLessThan(350);
  });

  it('429 on every attempt: gives up after maxRetries with a structured error', async () => {
    ({ rt, runner } = await start({ maxRetries: 1 }));
    for (let i = 0; i < 2; i++) fake.plan.push({ status: 429, headers: { 'retry-after-ms': '5' }, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: null } } });
    const result = await runner.executeIsolated(prompt('limited'), makeRunContext());
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(result.error?.message).toMatch(/is rate limiting \(after 1 retries\)/);
    expect(fake.plan).toHaveLength(0);
  });

  it('500: retries maxRetries times, then ok=false with a structured error', async () => {
    ({ rt, runner } = await start({ maxRetries: 2 }));
    const result = await runner.executeIsolated(prompt('fail500'), makeRunContext());
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(result.error?.message).toMatch(/answered 500 \(after 2 retries\)/);
    expect(result.stderr).toBe(result.error?.message);
    expect(fake.completions()).toHaveLength(3);
  });

  it('malformed JSON: ok=false with a clear error (JSON and streaming)', async () => {
    ({ rt, runner } = await start({ stream: false }));
    const plain = await runner.executeIsolated(prompt('malformed'), makeRunContext());
    expect(plain.ok).toBe(false);
    expect(plain.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(plain.error?.message).toMatch(/malformed response/);
    await rt.close();
    ({ rt, runner } = await start({ stream: true }));
    const streamed = await runner.executeIsolated(prompt('malformed'), makeRunContext());
    expect(streamed.ok).toBe(false);
    expect(streamed.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(streamed.error?.message).toMatch(/malformed response/);
  });

  it('hung connection: LIMIT_RUNNER_TIMEOUT at the session deadline, not later', async () => {
    ({ rt, runner } = await start());
    const started = performance.now();
    const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ limits: { timeoutMs: 300 } }));
    const elapsed = performance.now() - started;
    expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
  });

  it("the runner's own timeoutMs applies when it is stricter than the session's", async () => {
    ({ rt, runner } = await start({ timeoutMs: 200 }));
    const started = performance.now();
    const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ limits: { timeoutMs: 10_000 } }));
    expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    expect(result.error?.message).toContain('200 ms');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('abort: LIMIT_RUNNER_ABORTED as soon as the signal fires', async () => {
    ({ rt, runner } = await start());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ signal: controller.signal }));
    expect(result.error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('two sessions keep separate conversations (as the server received them)', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    const b = makeRunContext();
    await runner.executeIsolated(prompt('alpha one'), a);
    await runner.executeIsolated(prompt('beta one'), b);
    await Promise.all([runner.executeIsolated(prompt('alpha two'), a), runner.executeIsolated(prompt('beta two'), b)]);
    const sent = fake.completions().map((r) => (r.body.messages as { role: string; content: string }[]).map((m) => `${m.role}:${m.content}`));
    const alphaTwo = sent.find((m) => m.at(-1) === 'user:alpha two')!;
    const betaTwo = sent.find((m) => m.at(-1) === 'user:beta two')!;
    expect(alphaTwo).toEqual(['user:alpha one', 'assistant:you said: alpha one', 'user:alpha two']);
    expect(betaTwo).toEqual(['user:beta one', 'assistant:you said: beta one', 'user:beta two']);
  });

  it('turns of one session are sent one at a time, in order', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    const results = await Promise.all(['first', 'second', 'third'].map((t) => runner.executeIsolated(prompt(t), a)));
    expect(results.map((r) => r.stdout)).toEqual(['you said: first', 'you said: first | second', 'you said: first | second | third']);
  });

  it('a failed turn is not added to the conversation; closeSession (and closing the session) forget it', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    await runner.executeIsolated(prompt('keep me'), a);
    await runner.executeIsolated(prompt('hang'), { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 100 } } });
    expect(runner.history(a.session.id)!.map((m) => m.content)).toEqual(['keep me', 'you said: keep me']);
    await runner.closeSession(a.session.id);
    expect((await runner.executeIsolated(prompt('fresh'), a)).stdout).toBe('you said: fresh');

    const session = await rt.openSession({ id: 'openai-close' });
    const ctx = { session: { id: session.id, tenant: session.tenant, limits: session.limits }, traceId: 't', signal: session.signal };
    await runner.executeIsolated(prompt('soon gone'), ctx);
    expect(runner.history('openai-close')).toHaveLength(2);
    await session.close();
    expect(runner.history('openai-close')).toBeUndefined();
  });

  it('the API key never appears in results, errors or logs, even when the server echoes it', async () => {
    logLines.length = 0;
    ({ rt, runner } = await start());
    const echoed = await runner.executeIsolated(prompt('echo-key'), makeRunContext());
    expect(echoed.ok).toBe(false);
    expect(echoed.error?.message).toMatch(/rejected the API key/);
    expect(echoed.error?.message).toContain('[redacted]');
    const others = await Promise.all(['fail500', 'malformed', 'hello'].map((p) => runner.executeIsolated(prompt(p), makeRunContext())));
    const health = await runner.health();
    await rt.close();
    const everything = JSON.stringify([echoed, others, health, logLines]);
    for (const [i, part] of [echoed, others, health, logLines].entries()) expect(JSON.stringify(part), `part ${i}`).not.toContain(API_KEY);
    expect(fake.completions()[0]!.headers.authorization).toContain(API_KEY); // it was really sent …
    expect(everything).not.toContain(API_KEY); // … and never came back out
    expect(logLines.length).toBeGreaterThan(0);
  });

  it('health: ok when the server answers, fail (with the reason) when it cannot be reached', async () => {
    ({ rt, runner } = await start());
    const ok = await runner.health();
    expect(ok.status).toBe('ok');
    expect(ok.checks!.map((c) => c.name)).toEqual(expect.arrayContaining(['api', 'capability:memoryLimit', 'capability:networkIsolation', 'capability:envControl']));
    await rt.close();
    // A port that was just free: nothing listens there (fetch refuses well-known ports such as 9 outright).
    const port = await closedPort();
    ({ rt, runner } = await start({ baseURL: `http://127.0.0.1:${port}/v1` }));
    const down = await runner.health();
    expect(down.status).toBe('fail');
    expect(down.checks!.find((c) => c.name === 'api')!.message).toMatch(new RegExp(`could not reach 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    const run = await runner.executeIsolated(prompt('hello'), makeRunContext());
    expect(run.error?.code).toBe('LIMIT_RUNNER_UNAVAILABLE');
  });
});

describe('runner-openai configuration', () => {
  it('requires an API key and names the environment variable', async () => {
    const error = await createRuntime({ config: { plugins: {} }, env: {}, plugins: [runnerOpenAI.configure({ model: 'm' } as Opts)] }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/runner-openai\.apiKey.*OPENAI_API_KEY/);
  });

  it('takes apiKey, baseURL and model from OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL', async () => {
    fake.requests.length = 0;
    const rt = await createRuntime({
      config: { plugins: {}, logLevel: 'silent' },
      env: { OPENAI_API_KEY: 'sk-from-env', OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'env-model' },
      plugins: [runnerOpenAI.configure({} as Opts)],
    });
    const result = await rt.resolve('runner:openai').executeIsolated(prompt('hi'), makeRunContext());
    expect(result.ok).toBe(true);
    expect(fake.completions()[0]!.headers.authorization).toBe('Bearer sk-from-env');
    expect(fake.completions()[0]!.body.model).toBe('env-model');
    await rt.close();
  });
});

runnerConformance(
  'runner-openai',
  async () => {
    const { rt, runner } = await start({ maxRetries: 1 });
    return { runner, close: async () => void (await rt.close()) };
  },
  {
    tasks: {
      hello: () => ({ input: 'hello', kind: 'prompt' }),
      helloExpect: 'hello',
      slow: () => ({ input: 'hang', kind: 'prompt' }),
      echo: (token) => ({ input: `say ${token}`, kind: 'prompt' }),
      memory: { store: (token) => ({ input: `remember ${token}`, kind: 'prompt' }), recall: () => ({ input: 'what did I say?', kind: 'prompt' }) },
      failing: () => ({ input: 'fail500', kind: 'prompt' }),
    },
  },
);
