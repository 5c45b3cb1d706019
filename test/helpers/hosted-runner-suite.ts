/**
 * What every hosted-model runner must do against its vendor's fake server (fake-openai,
 * fake-anthropic): retries as the server asks, structured failures, the session deadline,
 * cancellation, one conversation per session, key scrubbing, health — then the runner conformance
 * suite. The fakes answer the same prompts (`hang`, `fail500`, `malformed`, `echo-key`, else
 * `you said: …`), so only the vendor's wire details are parameters; tests of the request a runner
 * builds stay in each runner's own test file.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Task, createLogger, createRuntime, isLimitError, type HealthResult, type Plugin, type Runtime, type RunResult, type Runner, type TaskParsed } from 'limit-graph';
import { makeRunContext, runnerConformance } from 'limit-graph/testing';
import { closedPort, startFakeVendor, type PlannedResponse, type ReceivedRequest } from './fake-vendor.ts';

export interface HostedRunnerUnderTest extends Runner {
  readonly baseURL: string;
  history(sessionId: string): { content?: unknown }[] | undefined;
  closeSession(sessionId: string, tenant?: string): Promise<void>;
  health(): Promise<HealthResult>;
}

/** What a vendor's fake server offers the tests (fake-openai, fake-anthropic). */
export interface FakeServer {
  url: string;
  requests: ReceivedRequest[];
  plan: PlannedResponse[];
  close(): Promise<void>;
}

/** The options every hosted runner plugin takes (each adds its own). */
export interface HostedRunnerOptions {
  model?: string;
  apiKey?: string;
  baseURL?: string;
  maxRetries?: number;
  stream?: boolean;
  timeoutMs?: number;
  sessionIdleMs?: number;
  maxResponseBytes?: number;
}

/** A hosted runner plugin and the fake its tests run against. */
export interface HostedRunnerSetup<F extends FakeServer, O extends HostedRunnerOptions> {
  /** The plugin's name, e.g. `runner-openai`. */
  name: string;
  /** The runner's container key, e.g. `runner:openai`. */
  runnerKey: `runner:${string}`;
  /** The prefix of its environment variables: `OPENAI` for OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL. */
  envPrefix: string;
  model: string;
  apiKey: string;
  /**
   * Variables of its SDK's own, beyond <envPrefix>_BASE_URL, _API_KEY, _CUSTOM_HEADERS and _LOG,
   * that the runner must not let it read (each value contains `from-process-env`).
   */
  sdkEnv: Record<string, string>;
  configure(options: O): Plugin;
  startFake(): Promise<F>;
}

export interface HostedRunnerTestbed<F extends FakeServer, R, O extends HostedRunnerOptions> extends HostedRunnerSetup<F, O> {
  /** The fake (started in beforeAll, so read it when a test runs). */
  fake(): F;
  /** A runtime with the runner configured for the fake, `options` overriding; logs go to `logLines`. */
  start(options?: HostedRunnerOptions | Partial<O>): Promise<{ rt: Runtime; runner: R }>;
  logLines: string[];
}

/** Starts the fake for the file (beforeAll/afterAll) and builds runtimes whose runner talks to it. */
export function hostedRunnerTestbed<F extends FakeServer, R extends HostedRunnerUnderTest, O extends HostedRunnerOptions>(setup: HostedRunnerSetup<F, O>): HostedRunnerTestbed<F, R, O> {
  let fake: F | undefined;
  const logLines: string[] = [];
  beforeAll(async () => {
    fake = await setup.startFake();
  });
  afterAll(async () => {
    await fake?.close();
  });
  return {
    ...setup,
    fake: () => fake!,
    logLines,
    async start(options = {}) {
      const rt = await createRuntime({
        config: { plugins: {} },
        env: {},
        logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } }),
        plugins: [setup.configure({ model: setup.model, apiKey: setup.apiKey, baseURL: fake!.url, maxRetries: 2, ...options } as O)],
      });
      return { rt, runner: rt.resolve(setup.runnerKey) as R };
    },
  };
}

export interface HostedRunnerHarness<F extends FakeServer, R extends HostedRunnerUnderTest, O extends HostedRunnerOptions> extends HostedRunnerTestbed<F, R, O> {
  /** The requests that asked the model for an answer. */
  sent(): ReceivedRequest[];
  /** The base URL this vendor's SDK wants for a server at 127.0.0.1:`port`. */
  baseURLAt(port: number): string;
  /** A 429 body in the vendor's error format. */
  rateLimitBody: unknown;
}

export const prompt = (input: string) => Task.parse({ input, kind: 'prompt' });

export function hostedRunnerSuite<F extends FakeServer, R extends HostedRunnerUnderTest, O extends HostedRunnerOptions>(h: HostedRunnerHarness<F, R, O>): void {
  describe(`${h.name} configuration`, () => {
    it('requires an API key and names the environment variable', async () => {
      const error = await createRuntime({ config: { plugins: {} }, env: {}, plugins: [h.configure({ model: 'm' } as O)] }).catch((e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
      // Options a plugin object brings are reported against where it was given (createRuntime's plugins[0]).
      expect((error as Error).message).toMatch(new RegExp(`plugins\\[0\\] \\(${h.name}\\)\\.apiKey.*${h.envPrefix}_API_KEY`));
    });

    it('refuses a baseURL with credentials or a query (never usable, and a secret in health and errors), without repeating it', async () => {
      const base = h.baseURLAt(1);
      const cases = [
        [base.replace('http://', 'http://user:gw-pass-123@'), /baseURL: Expected a URL without credentials/],
        [`${base}?api-key=gw-token-456`, /baseURL: Expected a URL without a query/],
      ] as const;
      for (const [baseURL, message] of cases) {
        const env = { [`${h.envPrefix}_BASE_URL`]: baseURL, [`${h.envPrefix}_API_KEY`]: 'sk-x', [`${h.envPrefix}_MODEL`]: 'm' };
        const error = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, env, plugins: [h.configure({} as O)] }).catch((e: unknown) => e);
        expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), String(error)).toBe(true);
        expect((error as Error).message).toMatch(message);
        expect(JSON.stringify([(error as Error).message, (error as { details?: unknown }).details])).not.toMatch(/gw-(pass|token)/);
      }
    });

    it(`without baseURL, the vendor's API: never a ${h.envPrefix}_BASE_URL in process.env that the runtime's env does not hold`, async () => {
      const name = `${h.envPrefix}_BASE_URL`;
      const saved = process.env[name];
      process.env[name] = 'http://127.0.0.1:1/elsewhere';
      try {
        const rt = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, env: {}, plugins: [h.configure({ model: 'm', apiKey: 'sk-x' } as O)] });
        expect((rt.resolve(h.runnerKey) as HostedRunnerUnderTest).baseURL).toMatch(/^https:\/\/api\.(openai|anthropic)\.com/);
        await rt.close();
      } finally {
        if (saved === undefined) delete process.env[name];
        else process.env[name] = saved;
      }
    });

    it(`the SDK reads nothing from process.env: ${h.envPrefix}_BASE_URL, _API_KEY, _CUSTOM_HEADERS, _LOG and its other variables change no request`, async () => {
      const elsewhere = await h.startFake();
      const p = h.envPrefix;
      const variables: Record<string, string> = {
        [`${p}_BASE_URL`]: elsewhere.url,
        [`${p}_API_KEY`]: 'sk-from-process-env',
        // The SDKs add these on top of the headers they build, the credential's included.
        [`${p}_CUSTOM_HEADERS`]: 'Authorization: Bearer sk-from-process-env\nX-Api-Key: sk-from-process-env\nX-From-Process-Env: yes',
        [`${p}_LOG`]: 'debug',
        ...h.sdkEnv,
      };
      const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
      Object.assign(process.env, variables);
      try {
        h.fake().requests.length = 0;
        h.logLines.length = 0;
        const { rt, runner } = await h.start({ stream: false });
        // Set where the client was built: it is still there for the rest of the process.
        expect(Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]))).toEqual(variables);
        const result = await runner.executeIsolated(prompt('hello'), makeRunContext());
        const health = await runner.health();
        await rt.close();
        expect(result.ok, JSON.stringify(result.error)).toBe(true);
        expect(health.status).toBe('ok');
        // Every request went where the config says, with the config's key and none of the headers.
        expect(elsewhere.requests).toHaveLength(0);
        // The task's, then health's: the models list, and the model's own lookup where the runner has one.
        expect(h.fake().requests.map((r) => r.path)).toEqual([
          expect.stringMatching(/\/(chat\/completions|messages)$/),
          expect.stringMatching(/\/models$/),
          ...h.fake().requests.slice(2).map(() => expect.stringMatching(/\/models\/[^/]+$/)),
        ]);
        expect(h.fake().requests.length).toBeLessThanOrEqual(3);
        for (const request of h.fake().requests) {
          expect(request.key).toBe(h.apiKey);
          expect(JSON.stringify(request.headers)).not.toMatch(/from-process-env/i);
        }
        // The SDK logs at warn, whatever <prefix>_LOG says: no debug lines of its own.
        expect(h.logLines.filter((line) => line.includes('"sdk"'))).toEqual([]);
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        await elsewhere.close();
      }
    });

    it(`${h.envPrefix}_API_KEY, _BASE_URL and _MODEL in the runtime's env override the config's apiKey, baseURL and model`, async () => {
      const elsewhere = await h.startFake();
      try {
        h.fake().requests.length = 0;
        const rt = await createRuntime({
          config: { plugins: {}, logLevel: 'silent' },
          env: { [`${h.envPrefix}_API_KEY`]: 'sk-from-env', [`${h.envPrefix}_BASE_URL`]: h.fake().url, [`${h.envPrefix}_MODEL`]: 'env-model' },
          plugins: [h.configure({ model: 'config-model', apiKey: 'sk-from-config', baseURL: elsewhere.url } as O)],
        });
        const result = await rt.resolve(h.runnerKey).executeIsolated(prompt('hi'), makeRunContext());
        await rt.close();
        expect(result.ok, JSON.stringify(result.error)).toBe(true);
        expect(elsewhere.requests).toHaveLength(0);
        expect(h.sent()[0]!.key).toBe('sk-from-env');
        expect(h.sent()[0]!.body.model).toBe('env-model');
      } finally {
        await elsewhere.close();
      }
    });

    it(`takes apiKey, baseURL and model from ${h.envPrefix}_API_KEY, ${h.envPrefix}_BASE_URL and ${h.envPrefix}_MODEL`, async () => {
      h.fake().requests.length = 0;
      const rt = await createRuntime({
        config: { plugins: {}, logLevel: 'silent' },
        env: { [`${h.envPrefix}_API_KEY`]: 'sk-from-env', [`${h.envPrefix}_BASE_URL`]: h.fake().url, [`${h.envPrefix}_MODEL`]: 'env-model' },
        plugins: [h.configure({} as O)],
      });
      const result = await rt.resolve(h.runnerKey).executeIsolated(prompt('hi'), makeRunContext());
      expect(result.ok).toBe(true);
      expect(h.sent()[0]!.key).toBe('sk-from-env');
      expect(h.sent()[0]!.body.model).toBe('env-model');
      await rt.close();
    });
  });

  describe(`${h.name}: what every hosted runner does (fake server)`, () => {
    let rt: Runtime | undefined;
    let runner: R;
    const start = async (options?: HostedRunnerOptions) => {
      ({ rt, runner } = await h.start(options));
      return runner;
    };
    beforeEach(async () => {
      h.fake().requests.length = 0;
      h.fake().plan.length = 0;
      await rt?.close();
      rt = undefined;
    });
    afterAll(async () => {
      await rt?.close();
    });
    const rateLimited = (headers: Record<string, string>): PlannedResponse => ({ status: 429, headers, body: h.rateLimitBody });

    it('429 with retry-after: retries once, after the time the header asked for', async () => {
      await start();
      // 0.6 s is longer than the SDK's own first backoff (at most 0.5 s): waiting it proves the header was read.
      h.fake().plan.push(rateLimited({ 'retry-after': '0.6' }));
      const result = await runner.executeIsolated(prompt('after the limit'), makeRunContext());
      expect(result.ok, JSON.stringify(result.error)).toBe(true);
      const [first, second] = h.sent();
      expect(h.sent()).toHaveLength(2);
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(580);
      expect(second!.at - first!.at).toBeLessThan(2000);
    });

    it('429 with retry-after-ms: waits that long, shorter than the default backoff', async () => {
      await start();
      h.fake().plan.push(rateLimited({ 'retry-after-ms': '40' }));
      const result = await runner.executeIsolated(prompt('quick retry'), makeRunContext());
      expect(result.ok).toBe(true);
      const [first, second] = h.sent();
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(38);
      // The default first backoff is at least 375 ms.
      expect(second!.at - first!.at).toBeLessThan(350);
    });

    it('429 on every attempt: gives up after maxRetries with a structured error', async () => {
      await start({ maxRetries: 1 });
      for (let i = 0; i < 2; i++) h.fake().plan.push(rateLimited({ 'retry-after-ms': '5' }));
      const result = await runner.executeIsolated(prompt('limited'), makeRunContext());
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(result.error?.message).toMatch(/is rate limiting \(after 1 retries\)/);
      expect(h.fake().plan).toHaveLength(0);
    });

    it('500: retries maxRetries times, then ok=false with a structured error', async () => {
      await start({ maxRetries: 2 });
      const result = await runner.executeIsolated(prompt('fail500'), makeRunContext());
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(result.error?.message).toMatch(/answered 500 \(after 2 retries\)/);
      expect(result.stderr).toBe(result.error?.message);
      expect(h.sent()).toHaveLength(3);
    });

    it('malformed JSON: ok=false with a clear error (JSON and streaming)', async () => {
      await start({ stream: false });
      const plain = await runner.executeIsolated(prompt('malformed'), makeRunContext());
      expect(plain.ok).toBe(false);
      expect(plain.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(plain.error?.message).toMatch(/malformed response/);
      await rt!.close();
      await start({ stream: true });
      const streamed = await runner.executeIsolated(prompt('malformed'), makeRunContext());
      expect(streamed.ok).toBe(false);
      expect(streamed.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(streamed.error?.message).toMatch(/malformed response/);
    });

    it('401, 403 and 404 say what to fix: the option and its environment variable, not retried', async () => {
      await start();
      const answer = async (status: number) => {
        h.fake().plan.push({ status, body: { error: { type: 'error', message: `vendor says ${status}` } } });
        const result = await runner.executeIsolated(prompt('hello'), makeRunContext());
        expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
        return result.error!.message;
      };
      const p = h.envPrefix;
      expect(await answer(401)).toMatch(new RegExp(`^${h.name}: \\S+ rejected the API key: .*vendor says 401.*; check the apiKey option \\(${p}_API_KEY\\)$`));
      expect(await answer(403)).toMatch(new RegExp(`^${h.name}: \\S+ refused the request \\(403 Forbidden\\): .*vendor says 403.*; check that the apiKey option \\(${p}_API_KEY\\) is a key allowed to use this model and endpoint$`));
      expect(await answer(404)).toMatch(new RegExp(`^${h.name}: \\S+ does not know this model or endpoint: .*vendor says 404.*; check the model option \\(${p}_MODEL\\) and baseURL \\(${p}_BASE_URL\\)$`));
      expect(h.sent()).toHaveLength(3);
    });

    it('hung connection: LIMIT_RUNNER_TIMEOUT at the session deadline, not later', async () => {
      await start();
      const started = performance.now();
      const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ limits: { timeoutMs: 300 } }));
      const elapsed = performance.now() - started;
      expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1000);
    });

    it("the runner's own timeoutMs applies when it is stricter than the session's", async () => {
      await start({ timeoutMs: 200 });
      const started = performance.now();
      const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ limits: { timeoutMs: 10_000 } }));
      expect(result.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
      expect(result.error?.message).toContain('200 ms');
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('abort: LIMIT_RUNNER_ABORTED as soon as the signal fires', async () => {
      await start();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = performance.now();
      const result = await runner.executeIsolated(prompt('hang'), makeRunContext({ signal: controller.signal }));
      expect(result.error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect(performance.now() - started).toBeLessThan(600);
    });

    it('a task with files or args is refused naming the field, nothing sent: the model would see task.input only', async () => {
      await start();
      const asked: [TaskParsed, string][] = [
        [{ ...prompt('read the attached file'), files: { 'notes.txt': 'the real question' } }, 'task.files'],
        [{ ...prompt('use the args'), args: ['--verbose'] }, 'task.args'],
      ];
      for (const [task, field] of asked) {
        await expect(runner.executeIsolated(task, makeRunContext())).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', details: { field }, message: expect.stringContaining(`${field} cannot be used`) });
      }
      expect(h.sent()).toHaveLength(0);
      // Empty ones ask for nothing: the task runs.
      expect((await runner.executeIsolated({ ...prompt('hello'), files: {}, args: [] }, makeRunContext())).ok).toBe(true);
    });

    it('two sessions keep separate conversations (as the server received them)', async () => {
      await start();
      const a = makeRunContext();
      const b = makeRunContext();
      await runner.executeIsolated(prompt('alpha one'), a);
      await runner.executeIsolated(prompt('beta one'), b);
      await Promise.all([runner.executeIsolated(prompt('alpha two'), a), runner.executeIsolated(prompt('beta two'), b)]);
      const sent = h.sent().map((r) => (r.body.messages as { role: string; content: string }[]).map((m) => `${m.role}:${m.content}`));
      const alphaTwo = sent.find((m) => m.at(-1) === 'user:alpha two')!;
      const betaTwo = sent.find((m) => m.at(-1) === 'user:beta two')!;
      expect(alphaTwo).toEqual(['user:alpha one', 'assistant:you said: alpha one', 'user:alpha two']);
      expect(betaTwo).toEqual(['user:beta one', 'assistant:you said: beta one', 'user:beta two']);
    });

    it("another tenant's run on a live session id is refused, never continuing that conversation", async () => {
      await start();
      const a = makeRunContext();
      await runner.executeIsolated(prompt('private to a'), a);
      const other = { ...a, session: { ...a.session, tenant: 'someone-else' } };
      await expect(runner.executeIsolated(prompt('what did they say?'), other)).rejects.toMatchObject({ code: 'LIMIT_CONFLICT' });
      expect(runner.history(a.session.id)).toHaveLength(2);
    });

    it('turns of one session are sent one at a time, in order', async () => {
      await start();
      const a = makeRunContext();
      const results = await Promise.all(['first', 'second', 'third'].map((t) => runner.executeIsolated(prompt(t), a)));
      expect(results.map((r) => r.stdout)).toEqual(['you said: first', 'you said: first | second', 'you said: first | second | third']);
    });

    it('a failed turn is not added to the conversation; closeSession (and closing the session) forget it', async () => {
      await start();
      const a = makeRunContext();
      await runner.executeIsolated(prompt('keep me'), a);
      await runner.executeIsolated(prompt('hang'), { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 100 } } });
      expect(runner.history(a.session.id)!.map((m) => m.content)).toEqual(['keep me', 'you said: keep me']);
      await runner.closeSession(a.session.id);
      expect((await runner.executeIsolated(prompt('fresh'), a)).stdout).toBe('you said: fresh');

      const id = `${h.name}-close`;
      const session = await rt!.openSession({ id });
      const ctx = { session: { id: session.id, tenant: session.tenant, limits: session.limits }, traceId: 't', signal: session.signal };
      await runner.executeIsolated(prompt('soon gone'), ctx);
      expect(runner.history(id)).toHaveLength(2);
      await session.close();
      expect(runner.history(id)).toBeUndefined();
      // A run that comes after the close (it raced it) leaves no conversation behind.
      expect((await runner.executeIsolated(prompt('too late'), ctx)).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect(runner.history(id)).toBeUndefined();
    });

    it('the API key never appears in results, errors or logs, even when the server echoes it', async () => {
      h.logLines.length = 0;
      await start();
      const echoed = await runner.executeIsolated(prompt('echo-key'), makeRunContext());
      expect(echoed.ok).toBe(false);
      expect(echoed.error?.message).toMatch(/rejected the API key/);
      expect(echoed.error?.message).toContain('[redacted]');
      const others: RunResult[] = await Promise.all(['fail500', 'malformed', 'hello'].map((p) => runner.executeIsolated(prompt(p), makeRunContext())));
      const health = await runner.health();
      await rt!.close();
      const everything = JSON.stringify([echoed, others, health, h.logLines]);
      for (const [i, part] of [echoed, others, health, h.logLines].entries()) expect(JSON.stringify(part), `part ${i}`).not.toContain(h.apiKey);
      expect(h.sent()[0]!.key).toBe(h.apiKey); // it was really sent …
      expect(everything).not.toContain(h.apiKey); // … and never came back out
      expect(h.logLines.length).toBeGreaterThan(0);
    });

    it('no part of the key is left when a server echoes it in an answer that is quoted cut (the whole text is scrubbed before the cut)', async () => {
      // A baseURL pointing at an echo service or a proxy: 200 JSON that is no reply and repeats the
      // credential, placed so that the 80-character excerpt of the answer ends inside the key.
      const key = 'sk-proj-4f9XkQ2mZ7aB1cD3eF5gH7jK9lM0nP2qR4sTuVwXyZ';
      let listOk = false;
      const echo = await startFakeVendor({
        handle({ request, json }) {
          if (listOk && /\/models$/.test(request.path)) return json(200, { data: [], has_more: true });
          json(200, { echo: `${'.'.repeat(46)}${request.key}`, path: request.path });
        },
      });
      /** The first 8-character piece of `key` found in `text`, if any. */
      const pieceOfKey = (text: string) => {
        for (let i = 0; i + 8 <= key.length; i++) if (text.includes(key.slice(i, i + 8))) return key.slice(i, i + 8);
        return undefined;
      };
      try {
        h.logLines.length = 0;
        await start({ apiKey: key, baseURL: h.baseURLAt(Number(new URL(echo.origin).port)), stream: false, maxRetries: 0 });
        const result = await runner.executeIsolated(prompt('hi'), makeRunContext());
        expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
        const listed = await runner.health();
        // A list that proves the API, then (where the runner looks the model up) a lookup answered with the echo.
        listOk = true;
        const lookedUp = await runner.health();
        expect(lookedUp.checks![0]!.status).toBe('ok');
        await rt!.close();
        rt = undefined;
        expect(echo.requests.every((r) => r.key === key)).toBe(true); // it was really sent …
        for (const [what, part] of Object.entries({ error: result.error?.message, stdout: result.stdout, stderr: result.stderr, value: JSON.stringify(result.value), listed: JSON.stringify(listed), lookedUp: JSON.stringify(lookedUp), logs: h.logLines.join('\n') })) {
          expect(pieceOfKey(part ?? ''), what).toBeUndefined(); // … and no piece of it came back out
        }
        expect(h.logLines.join('\n')).toContain('[redacted]'); // the warn line of the failed task
        // What is quoted is the scrubbed start of the answer.
        expect(result.error?.message).toMatch(/answered with application\/json \("\{\\"echo\\":\\"\.+\[redacted\]/);
        expect(listed.checks![0]).toMatchObject({ name: 'api', status: 'fail', message: expect.stringMatching(/answered with application\/json \(.*\[redacted\].*not a models list/) });
        // runner-anthropic looks the model up (and quotes the echo); runner-openai reads the list, which has more pages.
        const model = lookedUp.checks!.find((c) => c.name === 'model');
        if (model) expect(model).toMatchObject({ status: 'fail', message: expect.stringMatching(/answered the lookup of model .* with application\/json \(.*\[redacted\].*not a model$/) });
      } finally {
        await echo.close();
      }
    });

    it('health: ok when the server answers, fail (with the reason) when it cannot be reached', async () => {
      await start();
      const ok = await runner.health();
      expect(ok.status).toBe('ok');
      expect(ok.checks!.map((c) => c.name)).toEqual(expect.arrayContaining(['api', 'capability:memoryLimit', 'capability:networkIsolation', 'capability:envControl']));
      await rt!.close();
      const port = await closedPort();
      await start({ baseURL: h.baseURLAt(port) });
      const down = await runner.health();
      expect(down.status).toBe('fail');
      expect(down.checks!.find((c) => c.name === 'api')!.message).toMatch(new RegExp(`could not reach 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
      const run = await runner.executeIsolated(prompt('hello'), makeRunContext());
      expect(run.error?.code).toBe('LIMIT_RUNNER_UNAVAILABLE');
    });

    // Deadlines during retries, incomplete replies, the health probe's shape, the key in replies.
    it('a retry-after longer than the time left ends the task at once, saying when to retry', async () => {
      await start({ timeoutMs: 1000 });
      h.fake().plan.push(rateLimited({ 'retry-after': '20' }));
      const started = performance.now();
      const result = await runner.executeIsolated(prompt('hi'), makeRunContext());
      expect(performance.now() - started).toBeLessThan(900);
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(result.error?.message).toMatch(/is rate limiting: .*retry in 20 s.*ms left/);
      expect(result.error?.message).not.toMatch(/after \d+ retries/);
      expect(h.sent()).toHaveLength(1);
    });

    it('the deadline, ctx.signal and runtime.close() end a task that waits between retries', async () => {
      await start({ timeoutMs: 60_000 });
      h.fake().plan.push(rateLimited({ 'retry-after': '15' }));
      let started = performance.now();
      const timedOut = await runner.executeIsolated(prompt('hi'), makeRunContext({ limits: { timeoutMs: 400 } }));
      expect(performance.now() - started).toBeLessThan(1000);
      expect(timedOut.error?.code).toMatch(/LIMIT_RUNNER_(TIMEOUT|FAILED)/);

      h.fake().plan.push(rateLimited({ 'retry-after': '15' }));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      started = performance.now();
      const aborted = await runner.executeIsolated(prompt('hi'), makeRunContext({ signal: controller.signal }));
      expect(aborted.error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect(performance.now() - started).toBeLessThan(1000);

      h.fake().plan.push(rateLimited({ 'retry-after': '15' }));
      const pending = runner.executeIsolated(prompt('hi'), makeRunContext());
      await new Promise((r) => setTimeout(r, 300));
      started = performance.now();
      await rt!.close();
      rt = undefined;
      expect(performance.now() - started).toBeLessThan(1000);
      expect((await pending).error?.code).toBe('LIMIT_RUNNER_ABORTED');
    });

    it('a stream that ends without its finish event fails, keeping the partial text out of the conversation', async () => {
      await start({ stream: true });
      const a = makeRunContext();
      await runner.executeIsolated(prompt('keep me'), a);
      const cut = await runner.executeIsolated(prompt('cut-short'), a);
      expect(cut.ok).toBe(false);
      expect(cut.error?.code).toBe('LIMIT_RUNNER_FAILED');
      expect(cut.error?.message).toMatch(/ended the stream before the reply was complete/);
      expect(cut.stdout).toBe('partial ans');
      expect(runner.history(a.session.id)!.map((m) => m.content)).toEqual(['keep me', 'you said: keep me']);
    });

    it.each([true, false])('a refusal, a tool call or an empty reply fails and stays out of the conversation, whose next turn is valid (stream: %s)', async (stream) => {
      await start({ stream });
      const a = makeRunContext();
      await runner.executeIsolated(prompt('keep me'), a);
      const expected = { refuse: /: the model refused to answer/, 'tool-call': /: the model asked to call tools \(get_weather\) .*, which .* does not support/, empty: /: the model's reply is empty/ };
      for (const [p, message] of Object.entries(expected)) {
        const r = await runner.executeIsolated(prompt(p), a);
        expect(r.ok, `${p}: ${JSON.stringify(r)}`).toBe(false);
        expect(r.error?.code).toBe('LIMIT_RUNNER_FAILED');
        expect(r.error?.message).toMatch(message);
        expect(r.stderr).toBe(r.error?.message);
        if (p === 'tool-call') expect(r.value).toMatchObject({ toolCalls: ['get_weather'] });
        // The vendor answered with its usage: those tokens were spent, and the trace says so.
        expect(r.metrics.tokensIn, `${p}: tokensIn`).toBeGreaterThan(0);
        expect(r.metrics.tokensOut, `${p}: tokensOut`).toEqual(expect.any(Number));
      }
      expect(runner.history(a.session.id)!.map((m) => m.content)).toEqual(['keep me', 'you said: keep me']);
      // The Anthropic fake refuses an empty assistant turn before the last message, as the real API does.
      const next = await runner.executeIsolated(prompt('again'), a);
      expect(next.ok, JSON.stringify(next.error)).toBe(true);
      expect(next.stdout).toBe('you said: keep me | again');
      for (const request of h.sent()) expect((request.body.messages as { content: unknown }[]).map((m) => m.content)).not.toContain('');
    });

    it('a reply that is not an event stream (JSON, HTML) fails when a stream was asked for; HTML fails without streaming too', async () => {
      await start({ stream: true });
      const a = makeRunContext();
      for (const p of ['json-on-stream', 'html']) {
        const result = await runner.executeIsolated(prompt(p), a);
        expect(result.ok, p).toBe(false);
        expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
        expect(result.error?.message).toMatch(p === 'html' ? /text\/html.*not an event stream/ : /application\/json.*not an event stream/);
      }
      expect(runner.history(a.session.id)).toEqual([]);
      await rt!.close();
      await start({ stream: false });
      const html = await runner.executeIsolated(prompt('html'), a);
      expect(html.ok).toBe(false);
      expect(html.error?.message).toMatch(/text\/html.*not .*JSON/);
    });

    it('health: degraded, naming the model and the option to fix, when the server does not serve the configured model', async () => {
      await start({ model: 'no-such-model' });
      const health = await runner.health();
      expect(health.status).toBe('degraded');
      expect(health.checks!.find((c) => c.name === 'api')!.status).toBe('ok');
      expect(health.checks!.find((c) => c.name === 'model')).toMatchObject({ status: 'degraded', message: expect.stringMatching(new RegExp(`"no-such-model".*check the model option \\(${h.envPrefix}_MODEL\\)$`)) });
    });

    it('a connection that breaks off mid-body: a clear failure naming the host, not "request failed: terminated" (JSON and streaming)', async () => {
      const breaking = await startFakeVendor({
        handle: ({ request, res }) => {
          const stream = request.body?.stream === true;
          res.writeHead(200, stream ? { 'content-type': 'text/event-stream' } : { 'content-type': 'application/json', 'content-length': '500' });
          res.write(stream ? ': keep-alive\n\n' : '{"id":"x","con');
          setTimeout(() => res.socket?.destroy(), 20);
        },
      });
      try {
        for (const stream of [false, true]) {
          await start({ stream, maxRetries: 0, baseURL: h.baseURLAt(Number(new URL(breaking.origin).port)) });
          const result = await runner.executeIsolated(prompt('hi'), makeRunContext());
          expect(result.error?.code, `stream: ${stream}`).toBe('LIMIT_RUNNER_FAILED');
          expect(result.error?.message, `stream: ${stream}`).toMatch(new RegExp(`^${h.name}: 127\\.0\\.0\\.1:\\d+ broke off the response before it was complete \\(other side closed\\)$`));
          await rt!.close();
          rt = undefined;
        }
      } finally {
        await breaking.close();
      }
    });

    it('health: fail when the server answers 200 with something that is not the API (an HTML page)', async () => {
      const portal = await startFakeVendor({
        handle: ({ res }) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html>captive portal</html>');
        },
      });
      try {
        await start({ baseURL: h.baseURLAt(Number(new URL(portal.origin).port)) });
        const health = await runner.health();
        expect(health.status).toBe('fail');
        expect(health.checks!.find((c) => c.name === 'api')!.message).toMatch(/text\/html.*not a models list/);
      } finally {
        await rt?.close();
        rt = undefined;
        await portal.close();
      }
    });

    it("an error answer that is not the vendor's JSON (a proxy's 502 page) is quoted short, on one line, with its length: not whole into the error, stderr and the log", async () => {
      const page = `<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n${'<p>upstream unavailable</p>\n'.repeat(2000)}</body></html>`;
      const proxy = await startFakeVendor({
        handle: ({ res }) => {
          res.writeHead(502, { 'content-type': 'text/html' });
          res.end(page);
        },
      });
      try {
        await start({ maxRetries: 0, baseURL: h.baseURLAt(Number(new URL(proxy.origin).port)) });
        h.logLines.length = 0;
        const result = await runner.executeIsolated(prompt('hello'), makeRunContext());
        expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
        const message = result.error!.message;
        expect(message).toMatch(new RegExp(`^${h.name}: 127\\.0\\.0\\.1:\\d+ answered 502: .*<title>502 Bad Gateway</title>.*… \\(\\d+ characters in all\\)$`));
        expect(message).not.toContain('\n');
        expect(message.length).toBeLessThan(700);
        expect(result.stderr).toBe(message);
        const warned = h.logLines.filter((line) => line.includes('answered 502'));
        expect(warned).toHaveLength(1);
        expect(warned[0]!.length).toBeLessThan(1500);
      } finally {
        await rt?.close();
        rt = undefined;
        await proxy.close();
      }
    });

    it('health: fail within its 3 s, saying so, when the server sends the headers of a models list and never the rest of the body', async () => {
      const stalled = await startFakeVendor({
        handle: ({ res }) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"object":"list","data":['); // and nothing more: the socket stays open
        },
      });
      try {
        await start({ baseURL: h.baseURLAt(Number(new URL(stalled.origin).port)) });
        const began = performance.now();
        const health = await runner.health();
        expect(performance.now() - began).toBeLessThan(5_000);
        expect(health.status).toBe('fail');
        expect(health.checks!.find((c) => c.name === 'api')!.message).toMatch(/^127\.0\.0\.1:\d+ did not send a complete models list within 3000 ms/);
      } finally {
        await rt?.close();
        rt = undefined;
        await stalled.close();
      }
    }, 15_000);

    it('a reply over maxResponseBytes fails at once, not retried, naming the limit: by its Content-Length, as a chunked JSON body or an event stream arrives', async () => {
      const long = `spell ${'x'.repeat(6_000)}`;
      const over = (what: string) => ({
        code: 'LIMIT_RUNNER_FAILED',
        message: expect.stringMatching(new RegExp(`^${h.name}: 127\\.0\\.0\\.1:\\d+ sent a response larger than maxResponseBytes \\(4096 bytes\\): ${what}; raise the maxResponseBytes option`)),
      });
      await start({ stream: false, maxResponseBytes: 4096 });
      const a = makeRunContext();
      const big = JSON.stringify({ padding: 'x'.repeat(6_000) });
      h.fake().plan.push({ status: 200, headers: { 'content-length': String(Buffer.byteLength(big)) }, body: JSON.parse(big) });
      const declared = await runner.executeIsolated(prompt('hello'), a);
      expect(declared.error).toEqual(over(`its Content-Length is ${Buffer.byteLength(big)} bytes, so it was not read`));
      // The fake's own JSON reply is chunked (no Content-Length): counted as it arrives.
      const plain = await runner.executeIsolated(prompt(long), a);
      expect(plain.error).toEqual(over('more than that arrived, so it was abandoned part-way'));
      expect(h.sent()).toHaveLength(2);
      await rt!.close();
      await start({ stream: true, maxResponseBytes: 4096 });
      const streamed = await runner.executeIsolated(prompt(long), a);
      expect(streamed.error).toEqual(over('more than that arrived, so it was abandoned part-way'));
      // What had arrived (if a whole event did before the limit) is the task's output, never the
      // rest; it is not a turn of the conversation.
      expect(`you said: ${long}`.startsWith(streamed.stdout)).toBe(true);
      expect(streamed.stdout.length).toBeLessThan(4096);
      expect(runner.history(a.session.id)).toEqual([]);
      expect(h.sent()).toHaveLength(3);
      // The same replies within the limit are answers.
      await rt!.close();
      await start({ stream: true, maxResponseBytes: 1024 * 1024 });
      expect((await runner.executeIsolated(prompt(long), makeRunContext())).stdout).toBe(`you said: ${long}`);
    });

    it('a chunked body over maxResponseBytes (a reply, a 500 error, the models list) is abandoned part-way, the connection dropped, nothing retried', async () => {
      const total = 16 * 1024 * 1024;
      const served: { path: string; sent: number }[] = [];
      const flood = await startFakeVendor({
        handle: ({ request, res }) => {
          const entry = { path: request.path, sent: 0 };
          served.push(entry);
          res.writeHead(JSON.stringify(request.body ?? '').includes('flood500') ? 500 : 200, { 'content-type': 'application/json' });
          res.write('{"padding":"');
          const pump = () => {
            if (res.destroyed) return;
            if (entry.sent >= total) return void res.end('"}');
            entry.sent += 16 * 1024;
            res.write('x'.repeat(16 * 1024), pump);
          };
          pump();
        },
      });
      try {
        await start({ stream: false, maxResponseBytes: 8192, baseURL: h.baseURLAt(Number(new URL(flood.origin).port)) });
        for (const input of ['hello', 'flood500']) {
          const result = await runner.executeIsolated(prompt(input), makeRunContext());
          expect(result.error, input).toEqual({
            code: 'LIMIT_RUNNER_FAILED',
            message: expect.stringMatching(new RegExp(`^${h.name}: 127\\.0\\.0\\.1:\\d+ sent a response larger than maxResponseBytes \\(8192 bytes\\): more than that arrived`)),
          });
        }
        const health = await runner.health();
        expect(health.status).toBe('fail');
        expect(health.checks!.find((c) => c.name === 'api')!.message).toMatch(new RegExp(`^${h.name}: .* larger than maxResponseBytes \\(8192 bytes\\)`));
        // One request each (maxRetries is 2: neither the 200 nor the 500 was retried), none read to its end.
        expect(served.map((s) => s.path)).toEqual([expect.stringMatching(/\/(chat\/completions|messages)$/), expect.stringMatching(/\/(chat\/completions|messages)$/), expect.stringMatching(/\/models$/)]);
        for (const s of served) expect(s.sent, s.path).toBeLessThan(total);
      } finally {
        await rt?.close();
        rt = undefined;
        await flood.close();
      }
    });

    it('without the option, 8 MiB: a Content-Length over it is refused before the body, for a task and for health', async () => {
      const huge = await startFakeVendor({
        handle: ({ res }) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(8 * 1024 * 1024 + 1) });
          res.write('{"data":['); // the rest never comes: only the header can end this in time
        },
      });
      try {
        await start({ stream: false, baseURL: h.baseURLAt(Number(new URL(huge.origin).port)) });
        const result = await runner.executeIsolated(prompt('hello'), makeRunContext({ limits: { timeoutMs: 5_000 } }));
        expect(result.error?.code).toBe('LIMIT_RUNNER_FAILED');
        expect(result.error?.message).toMatch(/larger than maxResponseBytes \(8388608 bytes\): its Content-Length is 8388609 bytes/);
        expect((await runner.health()).checks![0]!.message).toMatch(/larger than maxResponseBytes \(8388608 bytes\)/);
      } finally {
        await rt?.close();
        rt = undefined;
        await huge.close();
      }
      const error = await h.start({ maxResponseBytes: 1000 }).catch((e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/maxResponseBytes: Expected a whole number of bytes from 1024 \(1 KiB\) to 1073741824 \(1 GiB\)/);
    });

    it("a placeholder key (`none`, what a local server without auth is given) is no secret: replies keep the word", async () => {
      await start({ apiKey: 'none', stream: false });
      const ctx = makeRunContext();
      const result = await runner.executeIsolated(prompt('none of them'), ctx);
      expect(result.ok, JSON.stringify(result.error)).toBe(true);
      expect(result.stdout).toBe('you said: none of them');
      expect(JSON.stringify(runner.history(ctx.session.id))).not.toContain('[redacted]');
      // A real key is scrubbed as before (the suite's key, in the test above and below).
      expect(h.sent()[0]!.key).toBe('none');
    });

    it('the API key is scrubbed from a successful reply that echoes it (stdout and the stored conversation)', async () => {
      await start();
      const a = makeRunContext();
      const result = await runner.executeIsolated(prompt('say-key'), a);
      expect(result.ok, JSON.stringify(result.error)).toBe(true);
      expect(result.stdout).toMatch(/^your key is .*\[redacted\]/);
      expect(JSON.stringify([result, runner.history(a.session.id)])).not.toContain(h.apiKey);
    });
  });

  describe(`${h.name} idle sessions (sessionIdleMs)`, () => {
    let rt: Runtime | undefined;
    afterEach(async () => {
      await rt?.close();
      rt = undefined;
    });
    const until = async (what: () => boolean, ms: number): Promise<boolean> => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (what()) return true;
      return what();
    };

    it('forgets a conversation idle for sessionIdleMs; the next task of the session starts a new one', async () => {
      let runner: R;
      ({ rt, runner } = await h.start({ sessionIdleMs: 1_000 }));
      const a = makeRunContext();
      expect((await runner.executeIsolated(prompt('remember me'), a)).stdout).toBe('you said: remember me');
      expect(runner.history(a.session.id)).toHaveLength(2);
      // Idle for 1 s, looked at every second: forgotten within about 2 s.
      expect(await until(() => runner.history(a.session.id) === undefined, 5_000), 'the idle conversation was kept').toBe(true);
      expect((await runner.executeIsolated(prompt('who am I?'), a)).stdout).toBe('you said: who am I?');
    }, 15_000);

    it('never forgets a conversation while a turn of it runs or waits, and counts idleness from its last turn', async () => {
      let runner: R;
      ({ rt, runner } = await h.start({ sessionIdleMs: 1_000 }));
      const a = makeRunContext({ limits: { timeoutMs: 10_000 } });
      await runner.executeIsolated(prompt('keep me'), a);
      // A turn hangs for 2.5 s (past the idle limit and two looks) while another waits behind it.
      const started = performance.now();
      const [hung, queued] = await Promise.all([
        runner.executeIsolated(prompt('hang'), { ...a, session: { ...a.session, limits: { ...a.session.limits, timeoutMs: 2_500 } } }),
        runner.executeIsolated(prompt('still here'), a),
      ]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(2_400);
      expect(hung.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
      expect([queued.ok, queued.stdout]).toEqual([true, 'you said: keep me | still here']);
      // Just ended: not idle yet.
      expect((await runner.executeIsolated(prompt('and now'), a)).stdout).toBe('you said: keep me | still here | and now');
    }, 15_000);

    it("closeSession(id, tenant) forgets only that tenant's conversation, and a turn arriving while it closes starts afresh", async () => {
      let runner: R;
      ({ rt, runner } = await h.start());
      const a = makeRunContext({ limits: { timeoutMs: 10_000 } });
      await runner.executeIsolated(prompt('mine'), a);
      await runner.closeSession(a.session.id, 'someone-else');
      expect(runner.history(a.session.id)).toHaveLength(2);
      // A turn running (hung) when the session closes: the close waits for it to stop; a turn of
      // the id arriving meanwhile is a new conversation that the close leaves alone.
      const running = runner.executeIsolated(prompt('hang'), a);
      await new Promise((r) => setTimeout(r, 50));
      const closing = runner.closeSession(a.session.id, a.session.tenant);
      const fresh = await runner.executeIsolated(prompt('new start'), a);
      await closing;
      expect((await running).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect([fresh.ok, fresh.stdout]).toEqual([true, 'you said: new start']);
      expect(runner.history(a.session.id)!.map((m) => m.content)).toEqual(['new start', 'you said: new start']);
    }, 15_000);

    it('the default is one day, and a limit under a second is refused naming the option', async () => {
      ({ rt } = await h.start());
      expect((rt.pluginOptions()[h.name] as { sessionIdleMs?: unknown }).sessionIdleMs).toBe(86_400_000);
      const error = await h.start({ sessionIdleMs: 10 }).catch((e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/sessionIdleMs/);
    });
  });

  runnerConformance(
    h.name,
    async () => {
      const { rt: own, runner: r } = await h.start({ maxRetries: 1 });
      return { runner: r, close: async () => void (await own.close()) };
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
}
