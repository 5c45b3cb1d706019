import { beforeEach, describe, expect, it, afterAll } from 'vitest';
import type { Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { hostedRunnerSuite, hostedRunnerTestbed, prompt } from '../helpers/hosted-runner-suite.ts';
import runnerAnthropic, { type AnthropicRunner } from '../../plugins/runner-anthropic/index.ts';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.ts';
import { startFakeVendor } from '../helpers/fake-vendor.ts';

const API_KEY = 'sk-ant-test-SECRET-0123456789abcdef';
const bed = hostedRunnerTestbed<FakeAnthropic, AnthropicRunner, Parameters<typeof runnerAnthropic.configure>[0]>({
  name: 'runner-anthropic', runnerKey: 'runner:anthropic', envPrefix: 'ANTHROPIC', model: 'fake-claude', apiKey: API_KEY,
  sdkEnv: { ANTHROPIC_AUTH_TOKEN: 'tok-from-process-env', ANTHROPIC_WEBHOOK_SIGNING_KEY: 'whsec-from-process-env', ANTHROPIC_PROFILE: 'from-process-env' },
  configure: (options) => runnerAnthropic.configure(options), startFake: startFakeAnthropic,
});
const { start } = bed;

describe('runner-anthropic against a fake Anthropic server', () => {
  let rt: Runtime;
  let runner: AnthropicRunner;
  beforeEach(async () => {
    bed.fake().requests.length = 0;
    bed.fake().plan.length = 0;
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
    const [request] = bed.fake().messages();
    expect(request!.key).toBe(API_KEY);
    // The API version the SDK pins (a date), sent with every request: without it the API answers 400.
    expect(request!.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(request!.body).toMatchObject({
      model: 'fake-claude',
      temperature: 0.2,
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(request!.body.stream).toBe(false);
  });

  it("a large maxTokens without streaming is sent as it is: the SDK's 10-minute check never runs (the runner always passes a timeout)", async () => {
    // @anthropic-ai/sdk refuses ("Streaming is required for operations that may take longer than 10
    // minutes") only a non-streaming request without a timeout of its own; this runner gives every one its time left.
    ({ rt, runner } = await start({ stream: false, maxTokens: 1_000_000 }));
    const result = await runner.executeIsolated(prompt('long'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(bed.fake().messages()[0]!.body).toMatchObject({ stream: false, max_tokens: 1_000_000 });
  });

  it('streaming: accumulates the deltas and takes usage from the final chunk', async () => {
    ({ rt, runner } = await start());
    const result = await runner.executeIsolated(prompt('a streamed answer please'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.stdout).toBe('you said: a streamed answer please');
    expect(result.metrics).toMatchObject({ tokensIn: 4, tokensOut: 6 });
    expect(bed.fake().messages()[0]!.body).toMatchObject({ stream: true, max_tokens: 1024 });
  });

  it('an error event in the middle of a stream: ok=false, the partial turn is not kept', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt('overloaded'), a);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(result.error?.message).toMatch(/Overloaded/);
    // message_start had reported the input tokens before the error.
    expect(result.metrics.tokensIn).toBe(1);
    expect(runner.history(a.session.id)).toEqual([]);
  });

  it.each([true, false])('a refusal (stop_reason "refusal", no content) fails with the stop reason in value (stream: %s)', async (stream) => {
    ({ rt, runner } = await start({ stream }));
    const result = await runner.executeIsolated(prompt('refuse'), makeRunContext());
    expect(result.ok).toBe(false);
    expect(result.stdout).toBe('');
    expect(result.value).toEqual({ model: 'fake-claude', stopReason: 'refusal' });
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-anthropic: the model refused to answer ("refusal")' });
  });

  it.each([true, false])('a null content block is a failure naming the block, not a TypeError (stream: %s)', async (stream) => {
    ({ rt, runner } = await start({ stream }));
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt('null-block'), a);
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: expect.stringMatching(/^runner-anthropic: 127\.0\.0\.1:\d+ sent a content block that is not an object at content\[1\]$/) });
    expect(result.value).toEqual({ model: 'fake-claude' });
    expect(runner.history(a.session.id)).toEqual([]);
  });

  it.each([
    ['null-event', 'a stream event that is not an object (event 2)'],
    ['null-message', 'a message_start whose message is not an object'],
    ['null-delta', 'a content_block_delta whose delta is not an object'],
    ['null-stop-delta', 'a message_delta whose delta is not an object'],
    ['null-text', 'a text_delta whose text is not a string'],
  ])('a stream with %s is a failure naming what was malformed, not a TypeError (nor a text "null")', async (what, said) => {
    ({ rt, runner } = await start({ stream: true }));
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt(what), a);
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: expect.stringMatching(new RegExp(`^runner-anthropic: 127\\.0\\.0\\.1:\\d+ sent ${said.replace(/[()]/g, '\\$&')}$`)) });
    expect(result.error?.message).not.toMatch(/Cannot read|TypeError|null \(reading/);
    expect(runner.history(a.session.id)).toEqual([]);
  });

  it('health: the configured model is looked up (GET /v1/models/{id}, after the list proved the API), an alias resolving to its model', async () => {
    for (const [model, said] of [
      ['fake-claude', /^127\.0\.0\.1:\d+ serves model "fake-claude"$/],
      // Not on the first page of the list (limit=1, has_more), and an alias the list never names.
      ['fake-claude-haiku', /serves model "fake-claude-haiku"$/],
      ['fake-claude-latest', /serves model "fake-claude-latest" \(as "fake-claude"\)$/],
    ] as const) {
      bed.fake().requests.length = 0;
      ({ rt, runner } = await start({ model }));
      const health = await runner.health();
      await rt.close();
      expect(health.status, model).toBe('ok');
      expect(health.message).toMatch(new RegExp(`^ready \\(127\\.0\\.0\\.1:\\d+, ${model}\\)$`));
      expect(health.checks!.find((c) => c.name === 'model')).toMatchObject({ status: 'ok', message: expect.stringMatching(said) });
      expect(bed.fake().requests.map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual(['GET /v1/models?limit=1', `GET /v1/models/${model}?`]);
      for (const r of bed.fake().requests) expect(r.key).toBe(API_KEY);
    }
  });

  it('health: a model the lookup answers 404 for is a degraded model check (the api check ok), naming the model and ANTHROPIC_MODEL; the id is sent encoded', async () => {
    for (const model of ['claude-nonexistent', 'org/fake claude?x']) {
      bed.fake().requests.length = 0;
      ({ rt, runner } = await start({ model }));
      const health = await runner.health();
      await rt.close();
      expect(health.status).toBe('degraded');
      expect(health.message).toBe(`${new URL(bed.fake().url).host} does not serve model "${model}"`);
      expect(health.checks!.find((c) => c.name === 'api')).toMatchObject({ status: 'ok' });
      expect(health.checks!.find((c) => c.name === 'model')).toEqual({
        name: 'model',
        status: 'degraded',
        message: `${new URL(bed.fake().url).host} does not serve model "${model}" (looking it up answered 404): tasks fail with that model; check the model option (ANTHROPIC_MODEL)`,
      });
      expect(bed.fake().requests.at(-1)!.path).toBe(`/v1/models/${encodeURIComponent(model)}`);
    }
  });

  it('health: a key the API refuses (401) fails the api check and looks nothing up; a lookup answered with a page, a 500 or nothing in time fails the model check', async () => {
    const server = await startFakeVendor({
      handle: ({ request, res, json }) => {
        if (request.key === 'sk-ant-refused-0123456789') return json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
        if (request.path === '/v1/models') return json(200, { data: [], has_more: true, first_id: null, last_id: null });
        if (request.path === '/v1/models/m-html') return void (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html>login</html>'));
        if (request.path === '/v1/models/m-500') return json(500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
        // m-hang: headers, then nothing.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":');
      },
    });
    const baseURL = server.origin;
    try {
      ({ rt, runner } = await start({ baseURL, apiKey: 'sk-ant-refused-0123456789' }));
      const refused = await runner.health();
      await rt.close();
      expect(refused.status).toBe('fail');
      expect(refused.checks!.find((c) => c.name === 'api')).toMatchObject({ status: 'fail', message: expect.stringMatching(/rejected the API key: .*invalid x-api-key.*; check the apiKey option \(ANTHROPIC_API_KEY\)$/) });
      expect(refused.checks!.find((c) => c.name === 'model')).toBeUndefined();
      expect(server.requests.map((r) => r.path)).toEqual(['/v1/models']);
      expect(JSON.stringify(refused)).not.toContain('sk-ant-refused-0123456789');
      for (const [model, message] of [
        ['m-html', /answered the lookup of model "m-html" with text\/html \("<html>login<\/html>"\), not a model$/],
        ['m-500', /^runner-anthropic: 127\.0\.0\.1:\d+ answered 500: .*Internal server error/],
        ['m-hang', /did not answer the lookup of model "m-hang" within 3000 ms/],
      ] as const) {
        server.requests.length = 0;
        ({ rt, runner } = await start({ baseURL, model, maxRetries: 2 }));
        const began = performance.now();
        const health = await runner.health();
        await rt.close();
        expect(performance.now() - began, model).toBeLessThan(5_000);
        expect(health.status, model).toBe('fail');
        expect(health.message).toMatch(/^cannot use 127\.0\.0\.1:\d+$/);
        expect(health.checks!.find((c) => c.name === 'api')!.status).toBe('ok');
        expect(health.checks!.find((c) => c.name === 'model')).toMatchObject({ status: 'fail', message: expect.stringMatching(message) });
        // One request each, never retried.
        expect(server.requests.map((r) => r.path)).toEqual(['/v1/models', `/v1/models/${model}`]);
      }
    } finally {
      await server.close();
    }
  }, 15_000);

  it('the fake refuses an empty assistant turn before the last message, as the Messages API does', async () => {
    const response = await fetch(`${bed.fake().url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ model: 'fake-claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '' }, { role: 'user', content: 'again' }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages\.1: all messages must have non-empty content/) } });
  });
});

// Retries, deadline, cancellation, per-session conversations, key scrubbing, health, conformance.
hostedRunnerSuite({
  ...bed,
  sent: () => bed.fake().messages(),
  baseURLAt: (port) => `http://127.0.0.1:${port}`,
  rateLimitBody: { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached' } },
});
