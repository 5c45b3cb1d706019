/**
 * Root's hand-over of a session directory to its uid (security review pyiso, finding 2): it chowns
 * the directory and its .tmp only, through fds opened with O_NOFOLLOW, and never walks what is in
 * the directory — a process of the uid could swap a folder for a link during such a walk and make
 * root chown a file outside the session directory.
 */
import { lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionLimits, type RunContext } from 'limit-graph';
import { PYTHON, code, pythonRuntime, type PythonFixture } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
let counter = 0;
const ctx = (sessionId: string): RunContext => ({
  session: { id: sessionId, tenant: 't', limits: SessionLimits.parse({ timeoutMs: 20_000 }) },
  traceId: `trace-${++counter}`,
  signal: new AbortController().signal,
});

let fixture: PythonFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('runner-python session directory hand-over', () => {
  it.runIf(IS_ROOT)("reopening a kept directory chowns only it and .tmp: nothing inside is walked, a planted .tmp link is not followed", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm: false, removeSessionFiles: false });
    const id = `chown-${process.pid}-${++counter}`;
    const first = await fixture.runner.executeIsolated(code('import os\nprint(os.getuid())'), ctx(id));
    expect(first.ok, JSON.stringify(first)).toBe(true);
    const uid = Number(first.stdout.trim());
    await fixture.runner.closeSession(id, 't');
    const dir = fixture.runner.sessionDir(id, 't');
    // Root-owned content the hand-over must leave alone (a walk would chown it, and could be raced
    // into following a link swapped in for "sub").
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', 'root-file'), 'root');
    // .tmp replaced by a link to a root folder outside: the hand-over must not chown through it.
    const victim = path.join(fixture.dir, 'victim');
    mkdirSync(victim, { mode: 0o755 });
    rmSync(path.join(dir, '.tmp'), { recursive: true, force: true });
    symlinkSync(victim, path.join(dir, '.tmp'));
    const again = await fixture.runner.executeIsolated(code('import os, tempfile\nprint(os.getuid(), os.path.islink(".tmp"), tempfile.gettempdir())'), ctx(id));
    expect(again.ok, JSON.stringify(again)).toBe(true);
    expect(again.stdout.trim()).toBe(`${uid} False ${path.join(dir, '.tmp')}`);
    expect(statSync(path.join(dir, 'sub')).uid, 'root chowned a folder inside the session directory by walking it').toBe(0);
    expect(statSync(path.join(dir, 'sub', 'root-file')).uid).toBe(0);
    expect(statSync(victim).uid, 'root chowned the target of a planted .tmp link').toBe(0);
    expect(lstatSync(path.join(dir, '.tmp')).isDirectory()).toBe(true);
    expect(statSync(dir).uid).toBe(uid);
    expect(readFileSync(path.join(dir, 'sub', 'root-file'), 'utf8')).toBe('root');
  }, 30_000);
});

describe('runner-python memory limit wording', () => {
  it('health says memoryMb bounds each process, not the task: memoryMb × maxProcesses, tmpfs not counted', async () => {
    fixture = await pythonRuntime({ python: PYTHON, memoryMb: 64, maxProcesses: 8 });
    const check = (await fixture.runner.health()).checks?.find((c) => c.name === 'capability:memoryLimit');
    expect(check?.status).toBe('ok');
    expect(check?.message).toMatch(/for each process, not for the task as a whole/);
    expect(check?.message).toMatch(/memoryMb × maxProcesses \(8\)/);
    expect(check?.message).toMatch(/\/dev\/shm/);
  }, 30_000);
});
