/**
 * The kernel's hosted-runner helpers on their own (the OpenAI and Anthropic suites exercise them
 * through real SDKs against fake servers): deadline classification, key scrubbing, failure wording,
 * the per-session queue of HostedConversations, and the idle expiry runners share (SessionIdleSweeper).
 */
import { describe, expect, it, vi } from 'vitest';
import {
  createLogger, HostedConversations, RetryTooLateError, SessionIdleSweeper, sessionIdleMsOption, hostedRunnerHealth, retryAfterMs, scrubSecret, scrubSecretDeep, vendorFailures, withDeadline, withRetries, withoutVendorEnv,
  cappedFetch, DEFAULT_MAX_RESPONSE_BYTES, MAX_QUOTED_DETAIL, hostedFailureIn, maxResponseBytesOption, ResponseTooLargeError, sdkRetryable, vendorClientOptions,
} from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = createLogger({ level: 'silent' });

describe('hosted-runner helpers', () => {
  it('withDeadline: TIMEOUT when the time is up, ABORTED when a caller signal fired (even after the timeout)', async () => {
    const d = withDeadline([new AbortController().signal], 30, 'runner-x');
    expect(d.stopped()).toBeUndefined();
    expect(d.remainingMs()).toBeLessThanOrEqual(30);
    await sleep(50);
    expect(d.signal.aborted).toBe(true);
    expect(d.stopped()).toEqual({ code: 'LIMIT_RUNNER_TIMEOUT', message: 'runner-x: no complete answer within 30 ms' });
    expect(d.remainingMs()).toBe(1);

    const caller = new AbortController();
    const e = withDeadline([caller.signal], 10, 'runner-x');
    await sleep(20);
    caller.abort();
    expect(e.stopped()).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED' });
    e.clear();
  });

  it('scrubSecret and vendorFailures: every occurrence of the key goes, the wording names host and retries', () => {
    expect(scrubSecret('k=sk-12345 and again sk-12345', 'sk-12345')).toBe('k=[redacted] and again [redacted]');
    expect(scrubSecret('nothing', undefined)).toBe('nothing');
    // A key under 8 characters is a placeholder, not a secret: scrubbing it would cut words out of the text.
    expect(scrubSecret('none of them, none at all', 'none')).toBe('none of them, none at all');
    expect(scrubSecretDeep({ reply: 'x marks the spot' }, 'x')).toEqual({ reply: 'x marks the spot' });
    expect(scrubSecret('key sk-12345 here', 'sk-12345')).toBe('key [redacted] here');
    const f = vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 3, secret: 'sk-12345' });
    expect(f.status(401, 'bad key sk-12345')).toEqual({ code: 'LIMIT_RUNNER_FAILED', status: 401, message: 'runner-x: api.example rejected the API key: bad key [redacted]; check the apiKey option' });
    const withEnv = vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 3, secret: undefined, envPrefix: 'X' });
    expect(withEnv.status(404, 'no such model').message).toBe('runner-x: api.example does not know this model or endpoint: no such model; check the model option (X_MODEL) and baseURL (X_BASE_URL)');
    expect(f.status(503, 'down').message).toBe('runner-x: api.example answered 503 (after 3 retries): down');
    expect(f.status(400, 'no').message).toBe('runner-x: api.example answered 400: no');
    expect(f.unreachable(new Error('fetch failed', { cause: new Error('connect ECONNREFUSED') }))).toMatchObject({ code: 'LIMIT_RUNNER_UNAVAILABLE', message: 'runner-x: could not reach api.example: connect ECONNREFUSED' });
    expect(f.other(new SyntaxError('Unexpected end')).message).toMatch(/malformed response \(invalid JSON\)/);
  });

  it("vendorFailures quotes a vendor's long text short (one line, its length), scrubbing the key before the cut", () => {
    const key = 'sk-LONGSECRET-0123456789';
    const f = vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 0, secret: key });
    // The key straddles the cut at MAX_QUOTED_DETAIL characters: cut first, half of it would stay.
    const body = `${'x'.repeat(MAX_QUOTED_DETAIL - 10)}${key}\n${'<p>page</p>\n'.repeat(1000)}`;
    for (const failure of [f.status(502, body), f.midStream(body), f.other(new Error(body)), f.other(new SyntaxError(body))]) {
      expect(failure.message).not.toContain('sk-LONG');
      expect(failure.message).not.toContain('\n');
      expect(failure.message).toMatch(/… \(\d+ characters in all\)$/);
      expect(failure.message.length).toBeLessThan(MAX_QUOTED_DETAIL + 150);
    }
    expect(f.status(502, body).message).toContain(`${'x'.repeat(MAX_QUOTED_DETAIL - 10)}[redacted]`);
    // Text up to the limit is quoted as sent, line breaks included.
    const short = `line one\n${'y'.repeat(MAX_QUOTED_DETAIL - 9)}`;
    expect(f.status(400, short).message).toBe(`runner-x: api.example answered 400: ${short}`);
  });

  it('HostedConversations: turns queue per session, partial text survives a failure, closeSession aborts and forgets', async () => {
    const conv = new HostedConversations<string>({ plugin: 'runner-x', logger: silent, describe: () => ({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-x: boom' }) });
    const ctx = makeRunContext();
    const seen: string[][] = [];
    const say = (word: string) => conv.run(ctx, 10_000, async (t) => {
      seen.push([...t.history]);
      await sleep(5);
      t.text = word;
      t.tokensOut = 1;
      return { append: [word] };
    });
    const [a, b] = await Promise.all([say('one'), say('two')]);
    expect([a.stdout, b.stdout]).toEqual(['one', 'two']);
    expect(seen).toEqual([[], ['one']]);
    expect(b.metrics.tokensOut).toBe(1);

    const failed = await conv.run(ctx, 10_000, async (t) => {
      t.text += 'half an ans';
      t.tokensIn = 7;
      throw new Error('socket hang up');
    });
    // The usage reported before the failure is the failed result's too.
    expect(failed).toMatchObject({ ok: false, stdout: 'half an ans', stderr: 'runner-x: boom', error: { code: 'LIMIT_RUNNER_FAILED' }, metrics: { tokensIn: 7 } });
    expect(conv.history(ctx.session.id)).toEqual(['one', 'two']);

    const hung = conv.run(ctx, 10_000, (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(t.signal.reason))));
    await sleep(10);
    await conv.closeSession(ctx.session.id);
    expect((await hung).error?.code).toBe('LIMIT_RUNNER_ABORTED');
    expect(conv.history(ctx.session.id)).toBeUndefined();

    await conv.dispose();
    await expect(say('late')).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
  });

  it("HostedConversations: another tenant closing a session of the same id leaves this tenant's conversation", async () => {
    const conv = new HostedConversations<string>({ plugin: 'runner-x', logger: silent, describe: () => ({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-x: boom' }) });
    const ctx = makeRunContext();
    expect((await conv.run(ctx, 10_000, async (t) => ((t.text = 'hi'), { append: ['hi'] }))).ok).toBe(true);
    await conv.closeSession(ctx.session.id, `${ctx.session.tenant}-other`);
    expect(conv.history(ctx.session.id)).toEqual(['hi']);
    await conv.closeSession(ctx.session.id, ctx.session.tenant);
    expect(conv.history(ctx.session.id)).toBeUndefined();
    await conv.dispose();
  });

  it('HostedConversations.dispose closes every session when one close fails, throws the first failure in session order, and a second dispose does nothing', async () => {
    const conv = new HostedConversations<string>({ plugin: 'runner-x', logger: silent, describe: () => ({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-x: boom' }) });
    const [a, b, c, d] = [makeRunContext(), makeRunContext(), makeRunContext(), makeRunContext()];
    for (const ctx of [a, b, c, d]) expect((await conv.run(ctx, 10_000, async (t) => ((t.text = 'hi'), { append: ['hi'] }))).ok).toBe(true);
    const close = conv.closeSession.bind(conv);
    // b's close fails after c's did: the error thrown is b's (session order), not the first in time.
    vi.spyOn(conv, 'closeSession').mockImplementation(async (id, tenant) => {
      await close(id, tenant);
      if (id === b.session.id) await sleep(20).then(() => Promise.reject(new Error('close of b failed')));
      if (id === c.session.id) throw new Error('close of c failed');
    });
    await expect(conv.dispose()).rejects.toThrow('close of b failed');
    for (const ctx of [a, b, c, d]) expect(conv.history(ctx.session.id)).toBeUndefined();
    await expect(conv.dispose()).resolves.toBeUndefined();
    await expect(conv.run(a, 10_000, async () => ({ append: [] }))).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED', message: 'runner-x is shut down' });
  });

  it('retryAfterMs reads retry-after-ms, then retry-after in seconds or as a date', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterMs(h({ 'retry-after-ms': '40', 'retry-after': '9' }))).toBe(40);
    expect(retryAfterMs(h({ 'retry-after': '0.6' }))).toBe(600);
    expect(retryAfterMs(h({ 'retry-after': new Date(Date.now() + 30_000).toUTCString() }))).toBeGreaterThan(28_000);
    expect(retryAfterMs(h({}))).toBeUndefined();
  });

  it('withRetries: starts no wait longer than the time left, and an abort ends a wait at once', async () => {
    const controller = new AbortController();
    let leftMs = 1000;
    const turn = { signal: controller.signal, remainingMs: () => leftMs };
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('429');
    };
    const late = withRetries(turn, 2, failing, () => ({ afterMs: 20_000 }));
    await expect(late).rejects.toBeInstanceOf(RetryTooLateError);
    await expect(late).rejects.toMatchObject({ message: 'retry in 20000 ms, but only 1000 ms left', waitMs: 20_000, leftMs: 1000, retries: 0, asked: true });
    expect(calls).toBe(1);
    // A wait of an hour, with the time for it: the abort (once the wait has begun) is what ends it.
    // A wait that ignored the signal would still be waiting when the guard gives up.
    leftMs = 7_200_000;
    const hour = () => {
      if (calls === 2) setTimeout(() => controller.abort(new Error('stop')), 10);
      return { afterMs: 3_600_000 };
    };
    let guard: ReturnType<typeof setTimeout> | undefined;
    const notEnded = new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('the abort did not end the wait')), 10_000)));
    await expect(Promise.race([withRetries(turn, 2, failing, hour), notEnded])).rejects.toThrow('stop');
    clearTimeout(guard);
    expect(calls).toBe(2);
  });

  it('a failure says how many retries were really made, not maxRetries (x-should-retry: false ends them sooner)', async () => {
    const conv = new HostedConversations<string>({
      plugin: 'runner-x', logger: silent,
      describe: (error, retries) => vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 3, secret: undefined }).status((error as { status: number }).status, 'down', retries),
    });
    const statuses = [500, 503];
    const result = await conv.run(makeRunContext(), 10_000, (t) =>
      withRetries(t, 3, async () => {
        throw Object.assign(new Error('down'), { status: statuses.shift() });
      }, () => (statuses.length ? { afterMs: 1 } : undefined)),
    );
    expect(result.error?.message).toBe('runner-x: api.example answered 503 (after 1 retries): down');
    const none = await conv.run(makeRunContext(), 10_000, (t) => withRetries(t, 3, async () => { throw Object.assign(new Error('down'), { status: 503 }); }, () => undefined));
    expect(none.error?.message).toBe('runner-x: api.example answered 503: down');
  });

  it("the retries made are passed to describe, not patched into its message: a vendor's own text that reads like the note is kept", async () => {
    const fail = vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 3, secret: undefined });
    const conv = new HostedConversations<string>({
      plugin: 'runner-x', logger: silent,
      describe: (error, retries) => fail.status((error as { status: number }).status, 'quota (after 2 retries) exceeded', retries),
    });
    const once = (status: number) => conv.run(makeRunContext(), 10_000, (t) => withRetries(t, 3, async () => { throw Object.assign(new Error('x'), { status }); }, () => undefined));
    expect((await once(400)).error?.message).toBe('runner-x: api.example answered 400: quota (after 2 retries) exceeded');
    expect((await once(503)).error?.message).toBe('runner-x: api.example answered 503: quota (after 2 retries) exceeded');
    // A retry the deadline leaves no time for: the retries made so far (1), then why it stopped.
    let calls = 0;
    const late = await conv.run(makeRunContext(), 10_000, (t) =>
      withRetries(t, 3, async () => { throw Object.assign(new Error('x'), { status: 400 + 100 * Math.min(++calls, 2) }); }, () => ({ afterMs: calls === 1 ? 1 : 60_000 })),
    );
    expect(late.error?.message).toMatch(/^runner-x: api\.example answered 600 \(after 1 retries\): quota \(after 2 retries\) exceeded; not retried: the server asked to retry in 60 s, and the task has \d+ ms left$/);
    // The health probe is one request: its failure claims no retries.
    const health = await hostedRunnerHealth({
      baseURL: 'https://api.example/v1', model: 'm', probe: async () => { throw Object.assign(new Error('x'), { status: 503 }); },
      describe: (error, retries) => fail.status((error as { status: number }).status, 'down', retries),
    });
    expect(health.checks?.find((c) => c.name === 'api')).toMatchObject({ status: 'fail', message: 'runner-x: api.example answered 503: down' });
  });

  it('hostedRunnerHealth with lookupModel: the model is proved by its lookup, not the list (a 404 degrades, another failure fails); nothing is looked up when the list fails', async () => {
    const fail = vendorFailures({ label: 'runner-x', host: 'api.example', maxRetries: 2, secret: 'sk-secret-123', envPrefix: 'X' });
    const list = async () => ({ contentType: 'application/json', body: { data: [{ id: 'other' }], has_more: false } });
    const describe = (error: unknown) => fail.status((error as { status: number }).status, 'nope sk-secret-123');
    const lookups: { timeoutMs: number; aborted: boolean }[] = [];
    const health = (lookupModel: () => Promise<{ contentType: string | null; body: unknown }>, probe = list) =>
      hostedRunnerHealth({
        baseURL: 'https://api.example', model: 'alias-1', probe, describe, secret: 'sk-secret-123', envPrefix: 'X',
        lookupModel: (bound) => (lookups.push({ timeoutMs: bound.timeoutMs, aborted: bound.signal.aborted }), lookupModel()),
      });
    const model = (h: Awaited<ReturnType<typeof health>>) => h.checks!.find((c) => c.name === 'model');
    // The complete list lacks "alias-1": without lookupModel that was a degraded check; the lookup says it is served.
    const served = await health(async () => ({ contentType: 'application/json', body: { id: 'model-1', type: 'model' } }));
    expect(served).toMatchObject({ status: 'ok', message: 'ready (api.example, alias-1)' });
    expect(model(served)).toEqual({ name: 'model', status: 'ok', message: 'api.example serves model "alias-1" (as "model-1")' });
    expect(lookups[0]!.timeoutMs).toBeLessThanOrEqual(3000);
    expect(lookups[0]!.aborted).toBe(false);
    const unknown = await health(async () => { throw Object.assign(new Error('x'), { status: 404 }); });
    expect(unknown).toMatchObject({ status: 'degraded', message: 'api.example does not serve model "alias-1"' });
    expect(unknown.checks![0]).toMatchObject({ name: 'api', status: 'ok' });
    expect(model(unknown)).toEqual({ name: 'model', status: 'degraded', message: 'api.example does not serve model "alias-1" (looking it up answered 404): tasks fail with that model; check the model option (X_MODEL)' });
    const forbidden = await health(async () => { throw Object.assign(new Error('x'), { status: 403 }); });
    expect(forbidden).toMatchObject({ status: 'fail', message: 'cannot use api.example' });
    expect(model(forbidden)).toMatchObject({ status: 'fail', message: expect.stringMatching(/^runner-x: api\.example refused the request \(403 Forbidden\): nope \[redacted\]/) });
    const page = await health(async () => ({ contentType: 'text/html', body: '<html>sk-secret-123</html>' }));
    expect(model(page)).toEqual({ name: 'model', status: 'fail', message: 'api.example answered the lookup of model "alias-1" with text/html ("<html>[redacted]</html>"), not a model' });
    lookups.length = 0;
    const down = await health(async () => ({ contentType: 'application/json', body: { id: 'alias-1' } }), async () => { throw Object.assign(new Error('x'), { status: 401 }); });
    expect(down.status).toBe('fail');
    expect(model(down)).toBeUndefined();
    expect(lookups).toEqual([]);
  });

  it('scrubSecretDeep scrubs every string of a value, and returns it untouched when the key does not occur', () => {
    const clean = { a: ['x'], b: 1 };
    expect(scrubSecretDeep(clean, 'sk-12345')).toBe(clean);
    expect(scrubSecretDeep([{ role: 'assistant', content: 'key sk-12345 here' }], 'sk-12345')).toEqual([{ role: 'assistant', content: 'key [redacted] here' }]);
    // A key with characters JSON escapes (a quote, a backslash, a control character) is found too.
    for (const key of ['sk-"quoted"-1', 'sk-back\\slash-1', 'sk-tab\t-1']) {
      expect(scrubSecretDeep({ reply: [`your key is ${key}.`] }, key), JSON.stringify(key)).toEqual({ reply: ['your key is [redacted].'] });
    }
  });
});

describe('SessionIdleSweeper (sessionIdleMs of runner-python, runner-llama and the hosted runners)', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('closes, through the runner\'s close with its tenant, only sessions idle for idleMs; never one with a task; stops when none is left; never holds the process', async () => {
    const sessions = new Map<string, { tenant: string; usedAt: number; busy: boolean }>();
    const closed: string[] = [];
    const sweeper = new SessionIdleSweeper({
      plugin: 'runner-x',
      idleMs: 1_000,
      sessions,
      idleSince: (s) => (s.busy ? undefined : s.usedAt),
      close: async (id, tenant) => {
        closed.push(`${id}@${tenant}`);
        sessions.delete(id);
      },
    });
    const now = performance.now();
    sessions.set('old', { tenant: 't1', usedAt: now - 5_000, busy: false });
    sessions.set('busy', { tenant: 't2', usedAt: now - 5_000, busy: true });
    sessions.set('recent', { tenant: 't3', usedAt: now, busy: false });
    const before = timers();
    sweeper.watch();
    sweeper.watch(); // one timer, however often a session is added
    expect(timers(), 'the sweep timer keeps the process alive').toBe(before);
    sweeper.sweep();
    expect(closed).toEqual(['old@t1']);
    sessions.get('busy')!.busy = false;
    await sleep(1_100); // the timer's own look, recent now idle too
    expect(closed.sort()).toEqual(['busy@t2', 'old@t1', 'recent@t3']);
    expect(sessions.size).toBe(0);
    sweeper.stop();
    sweeper.watch(); // stopped for good (a disposed runner)
    sessions.set('late', { tenant: 't', usedAt: now - 5_000, busy: false });
    await sleep(1_100);
    expect(closed).not.toContain('late@t');
  });

  it('withoutVendorEnv: hides <prefix>_* (only those) while the client is built, and puts them back, also when building throws', () => {
    const names = ['LGTEST_VENDOR_A', 'LGTEST_VENDOR_B', 'LGTEST_VENDORX'];
    Object.assign(process.env, { LGTEST_VENDOR_A: 'a', LGTEST_VENDOR_B: 'b', LGTEST_VENDORX: 'x' });
    try {
      const seen = withoutVendorEnv('LGTEST_VENDOR', () => names.map((name) => process.env[name]));
      expect(seen).toEqual([undefined, undefined, 'x']);
      expect(() =>
        withoutVendorEnv('LGTEST_VENDOR', () => {
          throw new Error('constructor failed');
        }),
      ).toThrow('constructor failed');
      expect(names.map((name) => process.env[name])).toEqual(['a', 'b', 'x']);
    } finally {
      for (const name of names) delete process.env[name];
    }
  });

  it('sessionIdleMsOption: one day by default, 1 s to 30 days', () => {
    expect(sessionIdleMsOption().parse(undefined)).toBe(86_400_000);
    expect(sessionIdleMsOption().safeParse(999).success).toBe(false);
    expect(sessionIdleMsOption().safeParse(31 * 86_400_000).success).toBe(false);
    expect(sessionIdleMsOption().safeParse(1.5e3).success).toBe(true);
  });
});

describe('cappedFetch (maxResponseBytes of the hosted runners)', () => {
  const URL_ = 'http://api.example:8080/v1/chat/completions';
  /** A body of `sizes` chunks (bytes each); `cancelled` records whether (and why) the reader gave up on it. */
  const body = (sizes: number[]) => {
    const state = { cancelled: undefined as unknown, pulled: 0 };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const size = sizes[state.pulled++];
        if (size === undefined) controller.close();
        else controller.enqueue(new Uint8Array(size).fill(120));
      },
      cancel(reason) {
        state.cancelled = reason ?? 'cancelled';
      },
    });
    return { stream, state };
  };
  /** A fetch answering `response()` (a fresh one per call), recording the calls. */
  const fakeFetch = (response: () => Response) => {
    const calls: unknown[] = [];
    const f = (async (input: unknown) => {
      calls.push(input);
      const r = response();
      Object.defineProperty(r, 'url', { value: URL_ });
      return r;
    }) as typeof fetch;
    return { f, calls };
  };

  it('refuses at once a response whose Content-Length is over the limit, cancelling its body unread', async () => {
    const { stream, state } = body([10, 10]);
    const { f } = fakeFetch(() => new Response(stream, { headers: { 'content-length': '5000', 'content-type': 'application/json' } }));
    const error = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: f })(URL_).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).failure).toEqual({
      code: 'LIMIT_RUNNER_FAILED',
      message: 'runner-x: api.example:8080 sent a response larger than maxResponseBytes (4096 bytes): its Content-Length is 5000 bytes, so it was not read; raise the maxResponseBytes option if its answers really are this large',
    });
    expect((error as ResponseTooLargeError).maxBytes).toBe(4096);
    expect(state.cancelled).toBeDefined();
    expect(state.pulled).toBeLessThanOrEqual(1);
  });

  it('counts a body without Content-Length (chunked, a stream) as it arrives and errors it, cancelling the source, once it passes the limit', async () => {
    const { stream, state } = body([1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    const { f } = fakeFetch(() => new Response(stream, { headers: { 'content-type': 'text/event-stream' } }));
    const response = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: f })(URL_);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let read = 0;
    const error = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        read += value.byteLength;
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as Error).message).toBe(
      'runner-x: api.example:8080 sent a response larger than maxResponseBytes (4096 bytes): more than that arrived, so it was abandoned part-way; raise the maxResponseBytes option if its answers really are this large',
    );
    // The chunks up to the limit were passed on, not the one that crossed it, and no more was read.
    expect(read).toBe(4000);
    expect(state.cancelled).toBeInstanceOf(ResponseTooLargeError);
    expect(state.pulled).toBeLessThan(7);
  });

  it('passes a response of exactly the limit through unchanged: status, headers, url, every byte', async () => {
    const { f } = fakeFetch(() => new Response(body([2048, 2048]).stream, { status: 201, statusText: 'Created', headers: { 'content-length': '4096', 'x-request-id': 'r1' } }));
    const response = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: f })(URL_);
    expect([response.status, response.statusText, response.url, response.headers.get('x-request-id')]).toEqual([201, 'Created', URL_, 'r1']);
    expect((await response.arrayBuffer()).byteLength).toBe(4096);
  });

  it("reads the body of an error answer itself: one over the limit rejects the fetch (so no retryable HTTP error is made of it), a smaller one is the SDK's to read", async () => {
    const { f } = fakeFetch(() => new Response(body([3000, 3000]).stream, { status: 500, headers: { 'content-type': 'application/json' } }));
    const error = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: f })(URL_).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    const small = fakeFetch(() => new Response('{"error":{"message":"down"}}', { status: 503 }));
    const response = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: small.f })(URL_);
    expect([response.status, await response.text()]).toEqual([503, '{"error":{"message":"down"}}']);
    // Any other failure reading it stays where the SDK looks for it: in the body.
    const broken = fakeFetch(() => new Response(new ReadableStream({ pull: (c) => c.error(new TypeError('terminated')) }), { status: 400 }));
    const answer = await cappedFetch({ maxBytes: 4096, label: 'runner-x', fetch: broken.f })(URL_);
    expect(answer.status).toBe(400);
    await expect(answer.text()).rejects.toThrow('terminated');
  });

  it('is found through the cause chain an SDK wraps it in, which is never retried and is reported as is', async () => {
    class APIError extends Error {
      status?: number;
      headers?: { get(name: string): string | null };
    }
    class APIConnectionError extends APIError {}
    class APIConnectionTimeoutError extends APIConnectionError {}
    class APIUserAbortError extends APIError {}
    const retryable = sdkRetryable({ APIError, APIConnectionError, APIConnectionTimeoutError, APIUserAbortError });
    const tooLarge = new ResponseTooLargeError({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-x: too large' }, 1024);
    const wrapped = new APIConnectionError('Connection error.', { cause: tooLarge });
    expect(retryable(new APIConnectionError('Connection error.', { cause: new TypeError('fetch failed') }))).toEqual({});
    expect(retryable(wrapped)).toBeUndefined();
    expect(hostedFailureIn(wrapped)).toBe(tooLarge);
    expect(hostedFailureIn(new Error('x', { cause: new Error('y') }))).toBeUndefined();
    const conv = new HostedConversations<string>({ plugin: 'runner-x', logger: silent, describe: () => ({ code: 'LIMIT_RUNNER_UNAVAILABLE', message: 'runner-x: could not reach it' }) });
    let attempts = 0;
    const result = await conv.run(makeRunContext(), 10_000, (t) =>
      withRetries(t, 3, async () => {
        attempts++;
        throw wrapped;
      }, retryable),
    );
    expect(attempts).toBe(1);
    expect(result.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: 'runner-x: too large' });
    const health = await hostedRunnerHealth({ baseURL: 'http://api.example', model: 'm', probe: async () => Promise.reject(wrapped), describe: () => ({ code: 'LIMIT_RUNNER_UNAVAILABLE', message: 'unreachable' }) });
    expect(health.checks![0]).toMatchObject({ name: 'api', status: 'fail', message: 'runner-x: too large' });
    await conv.dispose();
  });

  it('vendorClientOptions gives the SDK a capped fetch: maxResponseBytes, 8 MiB without it', async () => {
    const options = { apiKey: 'k', maxRetries: 0, timeoutMs: 1000 };
    const declared = (n: number) => fakeFetch(() => new Response('{}', { headers: { 'content-length': String(n) } })).f;
    const saved = globalThis.fetch;
    try {
      globalThis.fetch = declared(DEFAULT_MAX_RESPONSE_BYTES + 1);
      const byDefault = vendorClientOptions(options, silent, 'x', 'http://api.example', 'runner-x').fetch;
      await expect(byDefault(URL_)).rejects.toThrow(/^runner-x: .*maxResponseBytes \(8388608 bytes\)/);
      globalThis.fetch = declared(DEFAULT_MAX_RESPONSE_BYTES);
      expect((await byDefault(URL_)).status).toBe(200);
      globalThis.fetch = declared(2048);
      await expect(vendorClientOptions({ ...options, maxResponseBytes: 2047 }, silent, 'x', 'http://api.example').fetch(URL_)).rejects.toThrow(/^x: .*\(2047 bytes\)/);
    } finally {
      globalThis.fetch = saved;
    }
  });

  it('maxResponseBytesOption: 8 MiB by default, whole bytes from 1 KiB to 1 GiB', () => {
    expect(maxResponseBytesOption().parse(undefined)).toBe(8 * 1024 * 1024);
    expect(maxResponseBytesOption().parse(1024)).toBe(1024);
    expect(maxResponseBytesOption().parse(1024 ** 3)).toBe(1024 ** 3);
    for (const bad of [1023, 1024 ** 3 + 1, 4096.5, '4096']) {
      const parsed = maxResponseBytesOption().safeParse(bad);
      expect(parsed.success, String(bad)).toBe(false);
      expect(parsed.error?.issues[0]?.message).toBe('Expected a whole number of bytes from 1024 (1 KiB) to 1073741824 (1 GiB)');
    }
  });
});
