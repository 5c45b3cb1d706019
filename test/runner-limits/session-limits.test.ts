import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionLimits, createLogger, createRuntime, type Plugin, type RunContext, type Runner, type Runtime } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import { prompt } from '../helpers/hosted-runner-suite.ts';
import runnerOpenAI from '../../plugins/runner-openai/index.ts';
import runnerAnthropic from '../../plugins/runner-anthropic/index.ts';
import runnerLlama from '../../plugins/runner-llama/index.ts';
import { QueueRunner, RunnerQueueOptions } from '../../plugins/runner-queue/index.ts';
import type { QueueLink } from '../../plugins/runner-queue/runner.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../runner-openai/fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../runner-anthropic/fake-anthropic.ts';
import { makeTinyLlama } from '../fixtures/gguf/make-tiny-llama.ts';

/**
 * Every built-in runner refuses session limits a direct caller made up (checkSessionLimits), naming
 * the runner and the field, before it applies any of them or sends anything anywhere. runner-python's
 * own case (a 700 MB allocation under memoryMb 0) is in test/runner-python/hardening.test.ts.
 */
const BAD: [Partial<Record<keyof SessionLimits, unknown>>, string][] = [
  [{ memoryMb: 0 }, 'memoryMb'],
  [{ memoryMb: 100.5 }, 'memoryMb'],
  [{ maxConcurrency: 0 }, 'maxConcurrency'],
  [{ timeoutMs: -5 }, 'timeoutMs'],
];

const withLimits = (bad: Partial<Record<keyof SessionLimits, unknown>>): RunContext => {
  const c = makeRunContext();
  return { ...c, session: { ...c.session, limits: { ...c.session.limits, ...bad } as SessionLimits } };
};

/** A connection that must never be used: the check comes before any dispatch. */
const unusedLink: QueueLink = {
  boss: () => { throw new Error('the queue was used'); },
  registry: () => { throw new Error('the queue was used'); },
  replyChannel: 'unused',
  notify: () => Promise.reject(new Error('the queue was used')),
};

describe('built-in runners refuse session limits SessionLimits refuses', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  const runtimes: Runtime[] = [];
  const runners: { name: string; runner: Runner; sent: () => number }[] = [];
  beforeAll(async () => {
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    const boot = async (plugin: Plugin, key: `runner:${string}`) => {
      const rt = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, env: {}, plugins: [plugin] });
      runtimes.push(rt);
      return rt.resolve(key) as Runner;
    };
    const key = 'sk-test-SECRET-0123456789abcdef';
    runners.push(
      { name: 'runner-openai', runner: await boot(runnerOpenAI.configure({ model: 'fake-model', apiKey: key, baseURL: openai.url }), 'runner:openai'), sent: () => openai.completions().length },
      { name: 'runner-anthropic', runner: await boot(runnerAnthropic.configure({ model: 'fake-claude', apiKey: key, baseURL: anthropic.url }), 'runner:anthropic'), sent: () => anthropic.messages().length },
      { name: 'runner-llama', runner: await boot(runnerLlama.configure({ modelPath: await makeTinyLlama(), contextSize: 1024, maxTokens: 4 }), 'runner:llama'), sent: () => 0 },
      { name: 'runner-queue', runner: new QueueRunner(unusedLink, RunnerQueueOptions.parse({ url: 'postgres://127.0.0.1:5432/test' }), createLogger({ level: 'silent' })), sent: () => 0 },
    );
  }, 60_000);
  afterAll(async () => {
    for (const rt of runtimes) await rt.close();
    await openai?.close();
    await anthropic?.close();
  });

  it('with LIMIT_VALIDATION naming the runner and the field, never applied', async () => {
    expect(runners.map((r) => r.name)).toEqual(['runner-openai', 'runner-anthropic', 'runner-llama', 'runner-queue']);
    for (const { name, runner, sent } of runners) {
      for (const [bad, field] of BAD) {
        const run = Promise.resolve().then(() => runner.executeIsolated(prompt('hello'), withLimits(bad)));
        await expect(run, `${name} ${JSON.stringify(bad)}`).rejects.toMatchObject({
          code: 'LIMIT_VALIDATION',
          message: expect.stringMatching(new RegExp(`^${name}: invalid session limits: .*${field}`)),
        });
      }
      expect(sent(), `${name} sent a request`).toBe(0);
    }
  }, 60_000);
});
