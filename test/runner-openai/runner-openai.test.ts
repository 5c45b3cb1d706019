import { beforeEach, describe, expect, it, afterAll } from 'vitest';
import { isLimitError, parseRunResult, type Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { hostedRunnerSuite, hostedRunnerTestbed, prompt } from '../helpers/hosted-runner-suite.ts';
import runnerOpenAI, { type OpenAIRunner } from '../../plugins/runner-openai/index.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

const API_KEY = 'sk-test-SECRET-0123456789abcdef';
const bed = hostedRunnerTestbed<FakeOpenAI, OpenAIRunner, Parameters<typeof runnerOpenAI.configure>[0]>({
  name: 'runner-openai', runnerKey: 'runner:openai', envPrefix: 'OPENAI', model: 'fake-model', apiKey: API_KEY,
  sdkEnv: { OPENAI_ORG_ID: 'org-from-process-env', OPENAI_PROJECT_ID: 'proj-from-process-env', OPENAI_ADMIN_KEY: 'sk-admin-from-process-env', OPENAI_WEBHOOK_SECRET: 'whsec-from-process-env' },
  configure: (options) => runnerOpenAI.configure(options), startFake: startFakeOpenAI,
});
const { start } = bed;

describe('runner-openai against a fake OpenAI server', () => {
  let rt: Runtime;
  let runner: OpenAIRunner;
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
    expect(result.value).toMatchObject({ model: 'fake-model', finishReason: 'stop' });
    const [request] = bed.fake().completions();
    expect(request!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request!.body).toMatchObject({
      model: 'fake-model',
      temperature: 0.2,
      max_completion_tokens: 50,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }],
    });
    expect(request!.body.stream).toBe(false);
  });

  it.each([
    ['max_completion_tokens', 'max_tokens'],
    ['max_tokens', 'max_completion_tokens'],
  ] as const)('maxTokensField %s: maxTokens is sent in that field only (streaming and not)', async (field, other) => {
    for (const stream of [false, true]) {
      ({ rt, runner } = await start({ stream, maxTokens: 77, maxTokensField: field }));
      const result = await runner.executeIsolated(prompt('hi'), makeRunContext());
      expect(result.ok, JSON.stringify(result.error)).toBe(true);
      await rt.close();
    }
    const bodies = bed.fake().completions().map((r) => r.body);
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body[field]).toBe(77);
      expect(body).not.toHaveProperty(other);
    }
  });

  it('maxTokensField: max_completion_tokens by default; without maxTokens neither field is sent; another value is refused naming the option', async () => {
    ({ rt, runner } = await start({ stream: false, maxTokens: 5 }));
    await runner.executeIsolated(prompt('a'), makeRunContext());
    await rt.close();
    ({ rt, runner } = await start({ stream: false, maxTokensField: 'max_tokens' }));
    await runner.executeIsolated(prompt('b'), makeRunContext());
    const [withMax, without] = bed.fake().completions().map((r) => r.body);
    expect(withMax).toMatchObject({ max_completion_tokens: 5 });
    expect(withMax).not.toHaveProperty('max_tokens');
    expect(without).not.toHaveProperty('max_tokens');
    expect(without).not.toHaveProperty('max_completion_tokens');
    const error = await start({ maxTokensField: 'maxTokens' as never }).catch((e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/\(runner-openai\)\.maxTokensField: .*"max_completion_tokens".*"max_tokens"/);
  });

  it('health: a complete models list that lacks the configured model is a degraded model check naming what it lists (one request, no lookup)', async () => {
    ({ rt, runner } = await start({ model: 'no-such-model' }));
    const health = await runner.health();
    expect(health.status).toBe('degraded');
    expect(health.message).toMatch(/^127\.0\.0\.1:\d+ does not list model "no-such-model"$/);
    expect(health.checks!.find((c) => c.name === 'model')).toMatchObject({
      status: 'degraded',
      message: expect.stringMatching(/^127\.0\.0\.1:\d+ lists 1 models \(fake-model\), not "no-such-model": tasks fail if it does not serve that model; check the model option \(OPENAI_MODEL\)$/),
    });
    expect(bed.fake().requests.map((r) => r.path)).toEqual(['/v1/models']);
  });

  it('usage that is not a token count (a compatible server sending -1 or 2.5) is left out, not a result the contract refuses', async () => {
    ({ rt, runner } = await start({ stream: false }));
    const message = { role: 'assistant', content: 'fine', refusal: null };
    bed.fake().plan.push({
      status: 200,
      body: { id: 'c', object: 'chat.completion', created: 0, model: 'fake-model', choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: -1, completion_tokens: 2.5 } },
    });
    const result = await runner.executeIsolated(prompt('odd usage'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.metrics.tokensIn).toBeUndefined();
    expect(result.metrics.tokensOut).toBeUndefined();
    expect(parseRunResult(result, 'openai').stdout).toBe('fine');
  });

  it('an error chunk in the middle of a stream: ok=false naming the host and that it came mid-stream, the partial turn not kept', async () => {
    ({ rt, runner } = await start());
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt('stream-error'), a);
    expect(result.ok).toBe(false);
    expect(result.stdout).toBe('partial ans');
    expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(result.error?.message).toMatch(/^runner-openai: 127\.0\.0\.1:\d+ reported an error mid-stream: The server had an error/);
    expect(runner.history(a.session.id)).toEqual([]);
  });

  it('message content as content parts (some compatible servers) is read; content that is not text fails clearly instead of throwing', async () => {
    ({ rt, runner } = await start({ stream: false }));
    const completion = (content: unknown) => ({
      status: 200,
      body: { id: 'c', object: 'chat.completion', created: 0, model: 'fake-model', choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }] },
    });
    bed.fake().plan.push(completion([{ type: 'text', text: 'in ' }, { type: 'text', text: 'parts' }]), completion(42));
    const parts = await runner.executeIsolated(prompt('a'), makeRunContext());
    expect(parts.ok, JSON.stringify(parts.error)).toBe(true);
    expect(parts.stdout).toBe('in parts');
    const odd = await runner.executeIsolated(prompt('b'), makeRunContext());
    expect(odd.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: expect.stringMatching(/^runner-openai: 127\.0\.0\.1:\d+ answered with message content that is not text: 42$/) });
  });

  it('a refusal or non-text content quoted cut through an echoed key leaves no piece of it (scrubbed before the cut)', async () => {
    ({ rt, runner } = await start({ stream: false, maxRetries: 0 }));
    bed.logLines.length = 0;
    const completion = (message: Record<string, unknown>) => ({
      status: 200,
      body: { id: 'c', object: 'chat.completion', created: 0, model: 'fake-model', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, ...message }, logprobs: null, finish_reason: 'stop' }] },
    });
    // The refusal is quoted by its first 200 characters, non-text content by its first 80 (as JSON): both cuts fall inside the key.
    bed.fake().plan.push(completion({ refusal: `${'.'.repeat(190)}${API_KEY}` }), completion({ content: { text: `${'.'.repeat(60)}${API_KEY}` } }));
    const refused = await runner.executeIsolated(prompt('a'), makeRunContext());
    const odd = await runner.executeIsolated(prompt('b'), makeRunContext());
    await rt.close();
    const pieceOfKey = (text: string) => {
      for (let i = 0; i + 8 <= API_KEY.length; i++) if (text.includes(API_KEY.slice(i, i + 8))) return API_KEY.slice(i, i + 8);
      return undefined;
    };
    for (const [what, part] of Object.entries({ refused: JSON.stringify(refused), odd: JSON.stringify(odd), logs: bed.logLines.join('\n') })) expect(pieceOfKey(part), what).toBeUndefined();
    expect(refused.error?.message).toMatch(/^runner-openai: the model refused to answer \("stop"\): \.{190}\[redacted\]$/);
    expect(odd.error?.message).toMatch(/^runner-openai: 127\.0\.0\.1:\d+ answered with message content that is not text: \{"text":"\.{60}\[redacted\]"…$/);
  });

  it('streaming: accumulates the deltas and takes usage from the final chunk', async () => {
    ({ rt, runner } = await start());
    const result = await runner.executeIsolated(prompt('a streamed answer please'), makeRunContext());
    expect(result.ok, JSON.stringify(result.error)).toBe(true);
    expect(result.stdout).toBe('you said: a streamed answer please');
    expect(result.metrics).toMatchObject({ tokensIn: 4, tokensOut: 6 });
    expect(bed.fake().completions()[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it.each([true, false])("a refusal's text is the task's output (stdout and value.refusal), not an empty success (stream: %s)", async (stream) => {
    ({ rt, runner } = await start({ stream }));
    const a = makeRunContext();
    const result = await runner.executeIsolated(prompt('refuse'), a);
    expect(result.ok).toBe(false);
    expect(result.stdout).toBe('I cannot help with that.');
    expect(result.value).toMatchObject({ model: 'fake-model', finishReason: 'stop', refusal: 'I cannot help with that.' });
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-openai: the model refused to answer ("stop"): I cannot help with that.' });
    expect(runner.history(a.session.id)).toEqual([]);
  });

  it('without streaming, a completion is complete only with a choice that has a finish_reason, as a stream must be', async () => {
    ({ rt, runner } = await start({ stream: false }));
    const a = makeRunContext();
    const none = await runner.executeIsolated(prompt('no-choices'), a);
    expect(none.ok).toBe(false);
    // The usage the server reported is kept, though the completion was no reply.
    expect(none.metrics).toMatchObject({ tokensIn: 1, tokensOut: 3 });
    expect(none.error?.code).toBe('LIMIT_RUNNER_FAILED');
    expect(none.error?.message).toMatch(/^runner-openai: 127\.0\.0\.1:\d+ answered with a chat completion without choices: there is no reply$/);
    const unfinished = await runner.executeIsolated(prompt('no-finish'), a);
    expect(unfinished.ok).toBe(false);
    expect(unfinished.error?.message).toMatch(/answered with a chat completion without a finish_reason: the reply is not complete$/);
    expect(runner.history(a.session.id)).toEqual([]);
    await rt.close();
    ({ rt, runner } = await start({ stream: true }));
    const streamed = await runner.executeIsolated(prompt('no-choices'), a);
    expect(streamed.error?.message).toMatch(/ended the stream before the reply was complete \(no finish_reason\)/);
    expect(streamed.metrics).toMatchObject({ tokensIn: 1, tokensOut: 3 });
  });
});

// Retries, deadline, cancellation, per-session conversations, key scrubbing, health, conformance.
hostedRunnerSuite({
  ...bed,
  sent: () => bed.fake().completions(),
  baseURLAt: (port) => `http://127.0.0.1:${port}/v1`,
  rateLimitBody: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
});
