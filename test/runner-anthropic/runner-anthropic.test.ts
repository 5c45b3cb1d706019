import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, isLimitError } from 'limit-graph';
import type { Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { hostedRunnerSuite, prompt } from '../helpers/hosted-runner-suite.ts';
import runnerAnthropic, { type AnthropicRunner } from '../../plugins/runner-anthropic/index.ts';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.ts';

const API_KEY = 'sk-ant-test-SECRET-0123456789abcdef';
type Opts = Parameters<typeof runnerAnthropic.configure>[0];

let fake: FakeAnthropic;
const logLines: string[] = [];
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake?.close();
});

async function start(options: Partial<Opts> = {}, env: Record<string, string> = {}): Promise<{ rt: Runtime; runner: AnthropicRunner }> {
  const rt = await createRuntime({
    config: { plugins: {} },
    env,
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } }),
    plugins: [runnerAnthropic.configure({ model: 'fake-claude', apiKey: API_KEY, baseURL: fake.url, maxRetries: 2, ...options })],
  });
  return { rt, runner: rt.resolve('runner:anthropic') as AnthropicRunner };
}

describe('runner-anthropic against a fake Anthropic server', () => {
  let rt: Runtime;
  let runner: AnthropicRunner;
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
    expect(result.value).toMatchObject({ model: 'fake-claude', stopReason: 'end_turn' });
    const [request] = fake.messages();
    expect(request!.key).toBe(API_KEY);
    expect(request!.headers['anthropic-version']).toBeDefined();
    expect(request!.body).toMatchObject({
      model: 'fake-claude',
      temperature: 0.2,
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(request!.body.stream).toBe(false);
  });

  it('streaming: accumulates the deltas and takes usage from the final chunk', async () => {
    ({ rt, runner } = await start());
    const result = await runner.executeIsolated(prompt('a streamed answer please'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.stdout).toBe('you said: a streamed answer please');
    expect(result.metrics).toMatchObject({ tokensIn: 4, tokensOut: 6 });
    expect(fake.messages()[0]!.body).toMatchObject({ stream: true, max_tokens: 1024 });
  });

  it('an error event in the middle of a stream: ok=false, the partial turn is not kept', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt('overloaded'), a);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(result.error?.message).toMatch(/Overloaded/);
    expect(runner.history(a.session.id)).toEqual([]);
  });
});

describe('runner-anthropic configuration', () => {
  it('requires an API key and names the environment variable', async () => {
    const error = await createRuntime({ config: { plugins: {} }, env: {}, plugins: [runnerAnthropic.configure({ model: 'm' } as Opts)] }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/runner-anthropic\.apiKey.*ANTHROPIC_API_KEY/);
  });

  it('takes apiKey, baseURL and model from ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_MODEL', async () => {
    fake.requests.length = 0;
    const rt = await createRuntime({
      config: { plugins: {}, logLevel: 'silent' },
      env: { ANTHROPIC_API_KEY: 'sk-from-env', ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'env-model' },
      plugins: [runnerAnthropic.configure({} as Opts)],
    });
    const result = await rt.resolve('runner:anthropic').executeIsolated(prompt('hi'), makeRunContext());
    expect(result.ok).toBe(true);
    expect(fake.messages()[0]!.key).toBe('sk-from-env');
    expect(fake.messages()[0]!.body.model).toBe('env-model');
    await rt.close();
  });
});

// Retries, deadline, cancellation, per-session conversations, key scrubbing, health, conformance.
hostedRunnerSuite({
  name: 'runner-anthropic',
  apiKey: API_KEY,
  fake: () => fake,
  sent: () => fake.messages(),
  start: (options) => start(options),
  logLines,
  baseURLAt: (port) => `http://127.0.0.1:${port}`,
  rateLimitBody: { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached' } },
});
