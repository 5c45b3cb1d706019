/**
 * `--out` files are written under a temporary name and renamed into place (writeOutputFile,
 * writeOutputFolder). A second Ctrl-C exits at once (kernel/cli/interrupt.ts), past the writer's
 * catch that removed the temporary file: `limit export` left `.artifact.json.<pid>.<hex>.tmp` next to
 * its output. The temporary file or folder is now also removed by the process's exit cleanup.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-out-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A process with the CLI's signal policy that gets two SIGINTs as soon as its temporary output appears. */
function interruptedWrite(kind: 'file' | 'folder'): Promise<{ code: number | null; stderr: string; left: string[] }> {
  const out = path.join(dir, kind, 'out');
  const script = path.join(dir, `${kind}.mts`);
  writeFileSync(script, `
import { mkdirSync, readdirSync } from 'node:fs';
import { processIo } from ${JSON.stringify(path.join(ROOT, 'kernel/cli/interrupt.ts'))};
import { writeOutputFile, writeOutputFolder } from ${JSON.stringify(path.join(ROOT, 'kernel/cli-helpers.ts'))};
mkdirSync(${JSON.stringify(path.dirname(out))}, { recursive: true });
processIo();
const timer = setInterval(() => {
  if (!readdirSync(${JSON.stringify(path.dirname(out))}).some((n) => n.endsWith('.tmp'))) return;
  clearInterval(timer);
  process.kill(process.pid, 'SIGINT');
  setTimeout(() => process.kill(process.pid, 'SIGINT'), 5);
}, 1);
const content = 'x'.repeat(300_000_000);
${kind === 'file' ? `await writeOutputFile(${JSON.stringify(out)}, content);` : `await writeOutputFolder(${JSON.stringify(out)}, [{ path: 'a.csv', content }, { path: 'b.csv', content }]);`}
`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, left: readdirSync(path.dirname(out)) })));
}

describe('an --out write cut by a second Ctrl-C', () => {
  it.each(['file', 'folder'] as const)('leaves no temporary %s behind, and no output', async (kind) => {
    const { code, stderr, left } = await interruptedWrite(kind);
    expect(stderr).toContain('SIGINT: stopping and cleaning up');
    expect(code).toBe(130);
    expect(left).toEqual([]);
  }, 60_000);
});
