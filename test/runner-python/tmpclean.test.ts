/**
 * A session uid's files in the host's shared temporary folders (security review pyiso, finding 3):
 * removed when the session closes, and before the uid's next holder runs — the same session id
 * from another tenant gets the same directory and so the same uid.
 */
import { chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearUid, sessionUid } from '../../plugins/runner-python/sandbox.ts';
import { PYTHON, code, pythonRuntime, type PythonFixture, sessionCtx } from './helpers.ts';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const ctx = sessionCtx;
let counter = 0;

let fixture: PythonFixture | undefined;
const made: string[] = [];
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
  for (const f of made.splice(0)) rmSync(f, { recursive: true, force: true });
});

describe.each([false, true])('runner-python shared temporary folders (warm: %s)', (warm) => {
  it.runIf(IS_ROOT)("a closed session's files in /tmp and /dev/shm are gone; another tenant's session of the id does not see them", async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const id = `tmp-${process.pid}-${++counter}`;
    const tmpFile = `/tmp/limit-test-${process.pid}-${counter}-notes`;
    const tmpDir = `/tmp/limit-test-${process.pid}-${counter}-dir`;
    const shmFile = `/dev/shm/limit-test-${process.pid}-${counter}`;
    made.push(tmpFile, tmpDir, shmFile);
    const a = await fixture.runner.executeIsolated(code(`import os
open(${JSON.stringify(tmpFile)}, "w").write("A private")
os.mkdir(${JSON.stringify(tmpDir)})
open(${JSON.stringify(tmpDir + '/inner')}, "w").write("A inner")
open(${JSON.stringify(shmFile)}, "w").write("A shm")
print(os.getuid())`), ctx(id, 'a'));
    expect(a.ok, JSON.stringify(a)).toBe(true);
    await fixture.runner.closeSession(id, 'a');
    expect([existsSync(tmpFile), existsSync(tmpDir), existsSync(shmFile)], 'left in the shared folders after the close').toEqual([false, false, false]);
    const b = await fixture.runner.executeIsolated(code(`import os\nprint(os.getuid(), os.path.exists(${JSON.stringify(tmpFile)}))`), ctx(id, 'b'));
    expect(b.stdout.trim().split(' ')[1]).toBe('False');
  }, 30_000);

  it.runIf(IS_ROOT)('a new holder of a uid does not get what an earlier holder left (a crash before its close)', async () => {
    fixture = await pythonRuntime({ python: PYTHON, warm });
    const id = `tmp-${process.pid}-${++counter}`;
    const o = fixture.runner.options;
    // A fresh workDir: the session gets the first uid its directory hashes to.
    const uid = sessionUid(fixture.runner.sessionDir(id, 'a'), o.uidRangeStart, o.uidRangeSize);
    const left = `/tmp/limit-test-${process.pid}-${counter}-left`;
    made.push(left);
    writeFileSync(left, 'earlier holder', { mode: 0o600 });
    chownSync(left, uid, uid);
    const r = await fixture.runner.executeIsolated(code(`import os\nprint(os.getuid(), os.path.exists(${JSON.stringify(left)}))`), ctx(id, 'a'));
    expect(r.stdout.trim()).toBe(`${uid} False`);
    expect(existsSync(left)).toBe(false);
    expect(path.isAbsolute(left)).toBe(true);
  }, 30_000);
});

describe('clearUid', () => {
  it.runIf(IS_ROOT)('says true for a uid with no process left (kill(-1) never answers ESRCH while other processes exist: /proc decides)', async () => {
    const started = performance.now();
    expect(await clearUid(4_000_000_123, PYTHON, [])).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  }, 10_000);
});
