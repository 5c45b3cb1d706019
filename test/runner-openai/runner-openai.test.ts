import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, isLimitError } from 'limit-graph';
import type { Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { hostedRunnerSuite, prompt } from '../helpers/hosted-runner-suite.ts';
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

// Retries, deadline, cancellation, per-session conversations, key scrubbing, health, conformance.
hostedRunnerSuite({
  name: 'runner-openai',
  apiKey: API_KEY,
  fake: () => fake,
  sent: () => fake.completions(),
  start: (options) => start(options),
  logLines,
  baseURLAt: (port) => `http://127.0.0.1:${port}/v1`,
  rateLimitBody: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
});
