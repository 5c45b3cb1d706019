/**
 * Two runners (two processes) sharing one workDir, tenants A and B each with a session of the same
 * id (security review pyiso, finding 4): neither knows the other's live sessions, so the tenant is
 * part of the session directory's name — B never empties A's live directory, never gets A's uid.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PythonRunner } from '../../plugins/runner-python/index.ts';
import { RunnerPythonOptions } from '../../plugins/runner-python/options.ts';
import { PYTHON, code, sessionCtx } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const ctx = sessionCtx;
let counter = 0;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe.each([false, true])('runner-python, two runners on one workDir (warm: %s)', (warm) => {
  it.runIf(IS_ROOT)('the same session id from two tenants gets two directories and two uids; neither sees or removes the other\'s files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-py-two-'));
    chmodSync(dir, 0o711);
    const workDir = path.join(dir, 'sessions');
    const options = RunnerPythonOptions.parse({ python: PYTHON, warm, cgroupRoot: 'none' });
    const p1 = new PythonRunner({ options, workDir });
    const p2 = new PythonRunner({ options, workDir });
    cleanups.push(async () => {
      await p1.dispose();
      await p2.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const id = `two-${process.pid}-${++counter}`;
    const a1 = await p1.executeIsolated(code('import os\nopen("a-notes.txt", "w").write("A secret")\nprint(os.getuid())'), ctx(id, 'tenant-A'));
    expect(a1.ok, JSON.stringify(a1)).toBe(true);
    const b1 = await p2.executeIsolated(code('import os\nprint(os.getuid(), sorted(f for f in os.listdir(".") if not f.startswith(".")))'), ctx(id, 'tenant-B'));
    expect(b1.ok, JSON.stringify(b1)).toBe(true);
    const [bUid, bFiles] = b1.stdout.trim().split(' ');
    expect(bUid, "tenant B's session ran as tenant A's uid").not.toBe(a1.stdout.trim());
    expect(bFiles).toBe('[]');
    const a2 = await p1.executeIsolated(code('print(open("a-notes.txt").read())'), ctx(id, 'tenant-A'));
    expect(a2.stdout.trim(), `tenant A's live files were removed: ${JSON.stringify(a2)}`).toBe('A secret');
    expect(p1.sessionDir(id, 'tenant-A')).not.toBe(p2.sessionDir(id, 'tenant-B'));
  }, 60_000);
});
