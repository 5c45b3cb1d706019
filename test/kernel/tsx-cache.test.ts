/**
 * The config's compiled copy (security review pyiso, finding 5): tsx's compile cache keeps every
 * file it compiles in <tmpdir>/tsx-<uid>/, world-readable, so a 0600 limit.config.ts with a secret
 * was readable there by any uid. The CLI and the config loader turn that cache off.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from 'limit-graph';

const BIN = fileURLToPath(new URL('../../bin/limit.js', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file under `dir` whose content holds `marker`. */
function holding(dir: string, marker: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (statSync(p).isFile() && readFileSync(p, 'utf8').includes(marker)) found.push(p);
  }
  return found;
}

describe('tsx compile cache', () => {
  it('`limit config` leaves no compiled copy of limit.config.ts (its secret) in the temporary folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'limit-tsx-cfg-'));
    const tmp = mkdtempSync(path.join(tmpdir(), 'limit-tsx-tmp-'));
    dirs.push(dir, tmp);
    const marker = `sk-TEST-MARKER-${process.pid}-${Date.now()}`;
    writeFileSync(path.join(dir, 'limit.config.ts'), `const KEY: string = ${JSON.stringify(marker)};\nexport default { logLevel: KEY.length > 0 ? 'silent' : 'info' };\n`, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
    delete env.TSX_DISABLE_CACHE;
    const r = await promisify(execFile)(process.execPath, [BIN, 'config', '--json'], { cwd: dir, env, timeout: 60_000 });
    expect(r.stdout).toMatch(/"logLevel":\s*"silent"/);
    expect(holding(tmp, marker), 'a compiled copy of the config in tsx\'s cache').toEqual([]);
  }, 90_000);

  it('the config loader runs with the cache off (set before tsx is loaded)', async () => {
    expect(typeof loadConfig).toBe('function');
    expect(process.env.TSX_DISABLE_CACHE).toBe('1');
  });
});
