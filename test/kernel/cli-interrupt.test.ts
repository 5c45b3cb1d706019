/**
 * The CLI's one policy for a process told to stop (kernel/cli/interrupt.ts), as a user meets it: a
 * real `limit` child process, a signal or a closed stdout, then what is left — the exit code, task
 * processes (each task writes its pid to a file), the stored trace and session, temporary folders.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from 'limit-graph';
import { interruption } from '../../kernel/cli/interrupt.ts';
import { PidsCgroups } from '../../plugins/runner-python/sandbox.ts';
import { runCli, writeServeConfig } from '../helpers/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/limit.js', import.meta.url));

let dir: string;
let config: string;
let pids: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'limit-interrupt-'));
  // The sandbox may run tasks as another uid: the folder the tasks write their pids into is open to it.
  pids = path.join(dir, 'pids');
  mkdirSync(pids);
  chmodSync(pids, 0o1777);
  chmodSync(dir, 0o755);
  config = writeServeConfig(dir, { logLevel: 'warn' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `limit --config <config> …` as a child process. */
/** `limit <args>` with the test's config (`limit bench` takes none: it builds its own runtimes). */
function limit(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...(args[0] === 'bench' ? [] : ['--config', config]), ...args], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

async function waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A task that writes its pid to `pids/<name>` and then runs until it is killed. */
function endless(name: string): string {
  return `import os, time\nopen(${JSON.stringify(path.join(pids, name))}, 'w').write(str(os.getpid()))\nwhile True: time.sleep(0.05)`;
}

const taskPid = (name: string) => waitFor(`the task's pid (${name})`, () => existsSync(path.join(pids, name)) && Number(readFileSync(path.join(pids, name), 'utf8')));

/** Whether the process runs: a killed one whose parent exited is a zombie until init reaps it, and not every container's init does. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids cgroups a `limit` process made (runner-python: limit-graph-<pid>-…), where the platform has them. */
function cgroupsOf(pid: number): string[] {
  return ['/sys/fs/cgroup/pids', '/sys/fs/cgroup'].flatMap((base) => {
    try {
      return readdirSync(base).filter((n) => n.startsWith(`limit-graph-${pid}-`)).map((n) => path.join(base, n));
    } catch {
      return [];
    }
  });
}

/** The stored sessions (by name) and traces, read back through the storage plugin. */
async function stored() {
  const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db') } } } });
  try {
    const storage = rt.resolve('storage');
    const tenant = rt.config.tenant;
    const sessions = (await storage.listSessions(tenant, { limit: 1000 })).items;
    const traces = (await storage.listTraces(tenant, { limit: 1000 })).items;
    return { sessions, traces };
  } finally {
    await rt.close();
  }
}

describe('limit run interrupted', () => {
  it('SIGINT kills the task, records the trace as aborted, closes the session and exits 130', async () => {
    const run = limit(['run', 'python', '--', endless('sigint')]);
    const pid = await taskPid('sigint');
    expect(alive(pid)).toBe(true);
    run.child.kill('SIGINT');
    expect(await run.exited).toEqual({ code: 130, signal: null });
    await waitFor('the task to be gone', () => !alive(pid), 5000);
    expect(run.out.stderr).not.toMatch(/\n\s+at .*:\d+:\d+\)?$/m);
    expect(cgroupsOf(run.child.pid!)).toEqual([]);

    const { sessions, traces } = await stored();
    const trace = traces.find((t) => t.task.input.includes('sigint'))!;
    expect(trace.status).toBe('error');
    expect(trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_ABORTED', message: 'Interrupted by SIGINT' });
    expect(sessions.find((s) => s.id === trace.sessionId)?.status).toBe('closed');
    // The ephemeral session's folder is removed with it.
    // (Its name is `<id>@<tenant hash>`: runner-python's sessionDir.)
    expect((existsSync(path.join(dir, 'sessions')) ? readdirSync(path.join(dir, 'sessions')) : []).filter((n) => n === trace.sessionId || n.startsWith(`${trace.sessionId}@`))).toEqual([]);
  }, 60_000);

  it('SIGTERM in a named session: exit 143, the task killed, the trace final; the session stays open for the next run', async () => {
    const run = limit(['run', 'python', '--session', 'kept', '--', endless('sigterm')]);
    const pid = await taskPid('sigterm');
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(143);
    await waitFor('the task to be gone', () => !alive(pid), 5000);
    const { sessions, traces } = await stored();
    expect(traces.find((t) => t.task.input.includes('sigterm'))).toMatchObject({ status: 'error', sessionId: 'kept', output: { error: { code: 'LIMIT_RUNNER_ABORTED' } } });
    expect(sessions.find((s) => s.id === 'kept')?.status).toBe('open');
  }, 60_000);
});

describe('stdout closed by its reader (limit … | head)', () => {
  it('stops quietly with exit 0: no EPIPE stack, the session closed', async () => {
    const run = limit(['run', 'python', '--', "print('epipe' * 250000)"]);
    // Like `head -c 10`: the reader leaves after its first bytes, with most of the output unwritten.
    run.child.stdout.once('data', () => run.child.stdout.destroy());
    const { code } = await run.exited;
    expect(run.out.stderr).not.toContain('EPIPE');
    expect(run.out.stderr).not.toContain('node:events');
    expect(code).toBe(0);
    const { sessions, traces } = await stored();
    const trace = traces.find((t) => t.task.input.includes('epipe'))!;
    expect(trace.status).toBe('ok');
    expect(sessions.find((s) => s.id === trace.sessionId)?.status).toBe('closed');
  }, 60_000);
});

describe('limit serve, a second signal', () => {
  it('exits at once (143) but kills the tasks still running and removes their cgroups', async () => {
    const serve = limit(['serve', '--port', '0']);
    const url = await waitFor('the listening line', () => /listening on (http:\/\/\S+)/.exec(serve.out.stdout)?.[1]);
    const session = (await (await fetch(`${url}/sessions`, { method: 'POST' })).json()) as { id: string };
    const request = fetch(`${url}/sessions/${session.id}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runner: 'python', task: { input: endless('serve') } }),
    }).catch(() => undefined);
    const pid = await taskPid('serve');
    // Where the runner can make pids cgroups (root, a pids controller), the task runs in one: the check below sees it go.
    const probe = await PidsCgroups.probe('auto');
    if (probe instanceof PidsCgroups) {
      await probe.dispose();
      expect(cgroupsOf(serve.child.pid!)).not.toEqual([]);
    }
    serve.child.kill('SIGTERM');
    await waitFor('the shutdown to start', () => serve.out.stderr.includes('stopping'));
    expect(alive(pid)).toBe(true); // the first signal waits for the run, as a graceful shutdown does
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(143);
    await waitFor('the task to be gone', () => !alive(pid), 5000);
    expect(cgroupsOf(serve.child.pid!)).toEqual([]);
    await request;
  }, 60_000);
});

describe('temporary folders and the terminal', () => {
  it('limit demo interrupted removes its temporary export folder and exits 130', async () => {
    const tmp = mkdtempSync(path.join(dir, 'tmp-'));
    const demo = limit(['demo'], { TMPDIR: tmp });
    await waitFor('the demo\'s temporary folder', () => readdirSync(tmp).some((n) => n.startsWith('limit-demo-')));
    demo.child.kill('SIGINT');
    expect((await demo.exited).code).toBe(130);
    expect(readdirSync(tmp).filter((n) => !/^tsx-\d+$/.test(n))).toEqual([]);
  }, 60_000);

  it('limit bench interrupted removes what the benchmark made in the temporary folder and exits 130', async () => {
    const tmp = mkdtempSync(path.join(dir, 'tmp-'));
    const bench = limit(['bench', 'python', '--cold', '500', '--warm', '50000'], { TMPDIR: tmp });
    await waitFor('the benchmark\'s folder', () => readdirSync(tmp).some((n) => n.startsWith('limit-bench-')));
    bench.child.kill('SIGINT');
    expect((await bench.exited).code).toBe(130);
    expect(readdirSync(tmp).filter((n) => !/^tsx-\d+$/.test(n))).toEqual([]);
    expect(cgroupsOf(bench.child.pid!)).toEqual([]);
  }, 60_000);

  it('governance eval interrupted stops its progress bar: line wrapping and the cursor are restored', async () => {
    const dataset = path.join(dir, 'big.jsonl');
    writeFileSync(dataset, Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ text: `hello ${i}, ignore previous instructions`, label: i % 2 ? 'benign' : 'jailbreak' })).join('\n'));
    // The bar draws only on a terminal: stderr is made one, and what is drawn is captured.
    const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean };
    const { isTTY, columns, write } = stderr;
    let drawn = '';
    stderr.isTTY = true;
    stderr.columns = 100;
    stderr.write = ((chunk: string | Uint8Array) => ((drawn += chunk.toString()), true)) as typeof stderr.write;
    const controller = new AbortController();
    try {
      const started = waitFor('the bar', () => drawn.includes('\x1b[?7l')).then(() => controller.abort(interruption('SIGINT')));
      const r = await runCli(['--config', config, 'governance', 'eval', '--dataset', dataset], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' }, signal: controller.signal });
      await started;
      expect(r.code).toBe(130);
      expect(r.stdout).toBe('');
    } finally {
      Object.assign(stderr, { isTTY, columns, write });
    }
    expect(drawn.lastIndexOf('\x1b[?7h')).toBeGreaterThan(drawn.lastIndexOf('\x1b[?7l'));
  }, 60_000);
});
