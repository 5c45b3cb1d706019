import { beforeEach, describe, expect, it, afterAll } from 'vitest';
import type { Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { hostedRunnerSuite, hostedRunnerTestbed, prompt } from '../helpers/hosted-runner-suite.ts';
import runnerAnthropic, { type AnthropicRunner } from '../../plugins/runner-anthropic/index.ts';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.ts';

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
