/**
 * What a task's output becomes, warm and cold alike: the last expression's value (JSON, else repr,
 * bounded by maxOutputBytes), what it writes through sys.stdout (text or bytes), and a warm
 * worker's reply channel (regressions of the runners audit, items 1, 3, 6 and 7).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { PYTHON, code, pythonRuntime, type PythonFixture } from './helpers.ts';

let counter = 0;
const ctx = (limits: Partial<SessionLimits> = {}, sessionId = `out-${process.pid}-${++counter}`): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000, ...limits }) },
  traceId: `trace-${counter}`,
  signal: new AbortController().signal,
});

let fixtures: PythonFixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
  fixtures = [];
});
const start = async (options: Parameters<typeof pythonRuntime>[0]) => {
  const f = await pythonRuntime({ python: PYTHON, ...options });
  fixtures.push(f);
  return f.runner;
};

describe('runner-python: the value of the last expression (warm)', () => {
  it('NaN and ±Infinity are not JSON: the value is their repr, at once, and the session keeps its globals', async () => {
    const runner = await start({});
    const c = ctx({ timeoutMs: 5_000 });
    expect((await runner.executeIsolated(code('kept = 42'), c)).ok).toBe(true);
    const inf = await runner.executeIsolated(code('{"loss": float("inf")}'), c);
    expect(inf.ok, JSON.stringify(inf)).toBe(true);
    expect(inf.value).toBe("{'loss': inf}");
    const nan = await runner.executeIsolated(code('float("nan")'), c);
    expect(nan.value).toBe('nan');
    const negative = await runner.executeIsolated(code('[1.5, -float("inf")]'), c);
    expect(negative.value).toBe('[1.5, -inf]');
    // Before the fix the worker's reply line was not JSON: each task waited for its timeout and
    // failed (LIMIT_RUNNER_TIMEOUT), so ok and the values above are the evidence, not a stopwatch.
    expect((await runner.executeIsolated(code('kept'), c)).value).toBe(42);
  });

  it('cold runs agree: the same task succeeds at once (a cold run reports no value)', async () => {
    const runner = await start({ warm: false });
    const r = await runner.executeIsolated(code('{"loss": float("inf")}'), ctx({ timeoutMs: 5_000 }));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.value).toBeUndefined();
  });

  it('is bounded by maxOutputBytes: a longer value is cut there and marked, as a stream is', async () => {
    const runner = await start({ maxOutputBytes: 1000 });
    const c = ctx();
    const text = await runner.executeIsolated(code('"V" * 5000'), c);
    expect(text.ok).toBe(true);
    expect(text.value).toBe(`${'V'.repeat(1000)}\n[limit-graph: value truncated at maxOutputBytes=1000; 4000 bytes dropped]`);
    const list = await runner.executeIsolated(code('list(range(100000))'), c);
    expect(typeof list.value).toBe('string');
    expect(list.value).toMatch(/^\[0, 1, 2, .*\n\[limit-graph: value truncated at maxOutputBytes=1000; \d+ bytes dropped\]$/s);
    const repr = await runner.executeIsolated(code('class Big:\n    def __repr__(self):\n        return "é" * 2000\nBig()'), c);
    expect(repr.value).toBe(`${'é'.repeat(500)}\n[limit-graph: value truncated at maxOutputBytes=1000; 3000 bytes dropped]`);
    // At the cap, nothing is cut; a value that is JSON stays JSON.
    expect((await runner.executeIsolated(code('"é" * 500'), c)).value).toBe('é'.repeat(500));
    expect((await runner.executeIsolated(code('{"a": [1, 2]}'), c)).value).toEqual({ a: [1, 2] });
    // An exception's message is bounded too (cold takes it from the capped stderr).
    const raised = await runner.executeIsolated(code('raise ValueError("m" * 5000)'), c);
    expect(raised.error?.message).toBe(`ValueError: ${'m'.repeat(1000)}\n[limit-graph: message truncated at maxOutputBytes=1000; 4000 bytes dropped]`);
  });

  it("a value JavaScript would not read back exactly (an int beyond ±(2**53-1), a dict key that is not a str) is its repr, never rounded", async () => {
    const runner = await start({});
    const c = ctx();
    const value = async (src: string) => (await runner.executeIsolated(code(src), c)).value;
    expect(await value('2**64')).toBe('18446744073709551616');
    expect(await value('[2**53 + 1, 10**20]')).toBe('[9007199254740993, 100000000000000000000]');
    expect(await value('{"n": -(2**60)}')).toBe("{'n': -1152921504606846976}");
    expect(await value('{1: "a"}')).toBe("{1: 'a'}");
    expect(await value('[{None: 1}]')).toBe("[{None: 1}]");
    expect(await value('{True: 1}')).toBe("{True: 1}");
    // Within range, and str keys that merely look like numbers, stay JSON.
    expect(await value('[2**53 - 1, -(2**53 - 1), 1234567890123456.5]')).toEqual([2 ** 53 - 1, -(2 ** 53 - 1), 1234567890123456.5]);
    expect(await value('{"1": "a", "true": "1234567890123456789"}')).toEqual({ 1: 'a', true: '1234567890123456789' });
  });

  it('half a surrogate pair in the value becomes U+FFFD', async () => {
    const runner = await start({});
    const r = await runner.executeIsolated(code('["x\\udcff", {"k\\ud800": 1}]'), ctx());
    expect(r.value).toEqual(['x\ufffd', { 'k\ufffd': 1 }]);
  });
});

describe('runner-python: a warm worker reply that is not JSON', () => {
  it('fails the waiting task at once with a clear error; the worker is replaced', async () => {
    const runner = await start({});
    const c = ctx({ timeoutMs: 25_000 });
    await runner.executeIsolated(code('kept = 1'), c);
    // fd 3 is not the reply channel any more (it moved, as a cold run's report pipe does) …
    const fd3 = await runner.executeIsolated(code('import os\nos.write(3, b"garbage\\n")'), c);
    expect(fd3.error?.message).toMatch(/Bad file descriptor/);
    expect((await runner.executeIsolated(code('kept'), c)).value).toBe(1);
    // … but a task can still find it; a line that is not JSON fails the task instead of hanging it.
    // The task then sleeps for an hour: a runner that kept waiting would end it at timeoutMs with
    // LIMIT_RUNNER_TIMEOUT, so the code and message below say it failed at once (no stopwatch).
    const broken = await runner.executeIsolated(code([
      'import os',
      'for fd in sorted(map(int, os.listdir("/proc/self/fd"))):',
      '    if fd > 2:',
      '        try:',
      '            os.write(fd, b"garbage\\n")',
      '        except OSError:',
      '            pass',
      'import time',
      'time.sleep(3600)',
    ].join('\n')), c);
    expect(broken.ok).toBe(false);
    expect(broken.error?.code, JSON.stringify(broken.error)).toBe('LIMIT_RUNNER_FAILED');
    expect(broken.error?.message).toMatch(/sent a reply line that is not JSON .*"garbage".*the worker was replaced; the session's globals are lost/);
    const after = await runner.executeIsolated(code('globals().get("kept", "fresh")'), c);
    expect(after.ok, JSON.stringify(after)).toBe(true);
    expect(after.value).toBe('fresh');
  });
});

describe('runner-python: a flood on the warm reply channel', () => {
  it('a line longer than any reply fails the task at once instead of being collected in memory', async () => {
    // maxOutputBytes=1024 bounds a reply to ~90 KB; the task writes 20 MB without a newline.
    const runner = await start({ maxOutputBytes: 1024 });
    // The task sleeps for an hour after its flood: one left waiting would end at timeoutMs with
    // LIMIT_RUNNER_TIMEOUT, so the code and message below say it failed at once (no stopwatch).
    const c = ctx({ timeoutMs: 25_000 });
    // Non-blocking, and at most 0.5 s per descriptor: one nobody reads (the request channel) is left.
    const flood = await runner.executeIsolated(code([
      'import os, time',
      'chunk = b"x" * (1 << 16)',
      'for fd in sorted(map(int, os.listdir("/proc/self/fd"))):',
      '    if fd <= 2:',
      '        continue',
      '    try:',
      '        os.set_blocking(fd, False)',
      '    except OSError:',
      '        continue',
      '    sent, until = 0, time.monotonic() + 0.5',
      '    while sent < 20 << 20 and time.monotonic() < until:',
      '        try:',
      '            sent += os.write(fd, chunk)',
      '        except BlockingIOError:',
      '            time.sleep(0.001)',
      '        except OSError:',
      '            break',
      'time.sleep(3600)',
    ].join('\n')), c);
    expect(flood.error?.code, JSON.stringify(flood)).toBe('LIMIT_RUNNER_FAILED');
    expect(flood.error?.message).toMatch(/a line longer than \d+ bytes.*"xxxx.*the worker was replaced/);
    const after = await runner.executeIsolated(code('print("still here")'), c);
    expect(after.stdout).toBe('still here\n');
  });
});

describe.each([true, false])('runner-python: what a task writes (warm: %s)', (warm) => {
  it('sys.stdout.buffer takes bytes and sys.stdout has a file descriptor; bad bytes read as U+FFFD', async () => {
    const runner = await start({ warm });
    const r = await runner.executeIsolated(code([
      'import sys',
      'sys.stdout.buffer.write(b"\\xff\\xfe\\x00abc\\x80")',
      'sys.stdout.flush()',
      'print("|", isinstance(sys.stdout.fileno(), int), isinstance(sys.stderr.fileno(), int))',
      'sys.stderr.buffer.write("é\\n".encode())',
    ].join('\n')), ctx());
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.stdout).toBe('\ufffd\ufffd\u0000abc\ufffd| True True\n');
    expect(r.stderr).toBe('é\n');
  });

  it('bytes are capped like text: the first maxOutputBytes are kept and the rest marked', async () => {
    const runner = await start({ warm, maxOutputBytes: 1000 });
    const r = await runner.executeIsolated(code('import sys\nsys.stdout.buffer.write(b"y" * 3000)\nprint("z")'), ctx());
    expect(r.stdout).toBe(`${'y'.repeat(1000)}\n[limit-graph: output truncated at maxOutputBytes=1000; 2002 bytes dropped]\n`);
  });

  it('what went through sys.stdout and what went straight to fd 1 share one cap, in the order written', async () => {
    const runner = await start({ warm, maxOutputBytes: 1000 });
    const r = await runner.executeIsolated(code('import os\nprint("a" * 799, flush=True)\nos.write(1, b"b" * 800)\nprint("c" * 10)'), ctx());
    expect(r.stdout).toBe(`${'a'.repeat(799)}\n${'b'.repeat(200)}\n[limit-graph: output truncated at maxOutputBytes=1000; 611 bytes dropped]\n`);
  });

  it.each(['os.kill(os.getpid(), signal.SIGKILL)', 'os._exit(3)'])('what a task printed before it died (%s) is kept', async (death) => {
    const runner = await start({ warm });
    const r = await runner.executeIsolated(code(`import os, signal, sys\nprint("before", flush=True)\nos.write(1, b"direct\\n")\nprint("err", file=sys.stderr, flush=True)\n${death}`), ctx());
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('LIMIT_RUNNER_TASK_ERROR');
    expect(r.stdout).toBe('before\ndirect\n');
    expect(r.stderr).toMatch(/^err\n/);
  });
});

describe('runner-python: warm and cold agree on text that is not well-formed', () => {
  it('a printed lone surrogate is U+FFFD in both modes, stdout being UTF-8 (not UnicodeEncodeError, not half a pair)', async () => {
    const warm = await start({ warm: true });
    const cold = await start({ warm: false });
    // \udcff is what Python makes of a byte it could not decode; \ud83d is half an emoji.
    const task = code('import sys\nprint("x\\udcff y \\ud83d", sys.stdout.encoding)');
    for (const r of [await warm.executeIsolated(task, ctx()), await cold.executeIsolated(task, ctx())]) {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.stdout).toBe('x\ufffd y \ufffd utf-8\n');
    }
  });
});

describe("runner-python: a failed task's message is its exception, warm and cold", () => {
  it('a multi-line message, and one whose traceback stderr cut off, give the type and the whole message', async () => {
    const cases: [string, string][] = [
      ['raise ValueError("first line\\nsecond line\\twith a tab and a \\\\ backslash")', 'ValueError: first line\nsecond line\twith a tab and a \\ backslash'],
      ['import sys\nsys.stderr.write("e" * 5000)\nraise ValueError("boom")', 'ValueError: boom'],
      ['raise KeyError("k")', "KeyError: 'k'"],
      ['raise ValueError("m" * 5000)', `ValueError: ${'m'.repeat(1000)}\n[limit-graph: message truncated at maxOutputBytes=1000; 4000 bytes dropped]`],
    ];
    for (const warm of [true, false]) {
      const runner = await start({ warm, maxOutputBytes: 1000 });
      const c = ctx();
      for (const [src, message] of cases) {
        const r = await runner.executeIsolated(code(src), c);
        expect(r.error?.code, src).toBe('LIMIT_RUNNER_TASK_ERROR');
        expect(r.error?.message, `warm: ${warm}: ${src}`).toBe(warm ? message : `Python exited with code 1: ${message}`);
      }
    }
  });
});

describe('runner-python: warm and cold agree on sys.exit', () => {
  it.each([['"custom message"'], ['3'], ['-1'], ['256'], ['None'], ['0']])('sys.exit(%s): the same result, exit status and stderr in both modes', async (arg) => {
    const warm = await start({ warm: true });
    const cold = await start({ warm: false });
    const task = code(`import sys\nprint("before")\nsys.exit(${arg})`);
    const [w, c] = [await warm.executeIsolated(task, ctx()), await cold.executeIsolated(task, ctx())];
    // (A warm task that succeeds has no process exit, so no exitCode: compared for failures only.)
    const seen = (r: typeof w) => ({ ok: r.ok, stdout: r.stdout, stderr: r.stderr, error: r.error, exitCode: r.ok ? undefined : r.metrics.exitCode });
    expect(seen(w)).toEqual(seen(c));
    if (arg === '"custom message"') {
      expect(seen(w)).toEqual({ ok: false, stdout: 'before\n', stderr: 'custom message\n', error: { code: 'LIMIT_RUNNER_TASK_ERROR', message: 'Python exited with code 1: custom message' }, exitCode: 1 });
    }
  });
});
