/**
 * `limit serve` as a user runs it: a child process on the embedded SQLite default, a run in flight
 * when SIGTERM arrives — the run must complete and the process exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeServeConfig } from '../helpers/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('limit serve', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-serve-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on the embedded default, finishes an in-flight run on SIGTERM and exits 0', async () => {
    const config = writeServeConfig(dir, { logLevel: 'warn' });
    child = spawn(process.execPath, [path.join(ROOT, 'bin/limit.js'), '--config', config, 'serve', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s; stderr: ${stderr}`)), 30_000);
      child!.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code} before listening; stderr: ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stderr).toMatch(/auth is 'none'/);

    const session = (await (await fetch(`${url}/sessions`, { method: 'POST' })).json()) as { id: string };
    const run = fetch(`${url}/sessions/${session.id}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runner: 'python', task: { input: 'import time\ntime.sleep(1.5)\nprint("done")' } }),
    });
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGTERM');
    const res = await run;
    expect(res.status).toBe(201);
    const body = (await res.json()) as { trace: { status: string; output: { stdout: string } } };
    expect(body.trace.status).toBe('ok');
    expect(body.trace.output.stdout).toBe('done\n');
    expect(await exited).toBe(0);
    // Refused by the OS: nothing listens any more.
    await expect(fetch(`${url}/health`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  }, 60_000);
});
