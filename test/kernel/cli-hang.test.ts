/**
 * A plugin whose setup, boot tap or health() never settles, and whose pending promise holds nothing
 * in the event loop (nothing will ever resolve it): the time limit is what ends it. Only a real
 * `limit` process shows whether it does — an empty event loop ends a process with code 13 (an
 * unsettled top-level await) before an unref'd timer fires.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/limit.js', import.meta.url));
const KERNEL = fileURLToPath(new URL('../../kernel/index.ts', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-hang-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
  const plugin = (name: string, setup: string) =>
    writeFileSync(path.join(dir, `${name}.ts`), `import { definePlugin } from ${JSON.stringify(KERNEL)};\nexport default definePlugin({ meta: { name: '${name}', version: '1.0.0' }, setup: ${setup} });\n`);
  plugin('hang-setup', '() => new Promise<void>(() => {})');
  plugin('hang-boot', "(ctx) => { ctx.hooks.boot.tapPromise(ctx.name, () => new Promise<void>(() => {})); }");
  plugin('hang-health', "() => ({ health: () => new Promise<never>(() => {}) })");
  plugin('healthy', "() => ({ health: () => ({ status: 'ok' as const, checks: [] }) })");
  plugin('hang-dispose', '() => ({ dispose: () => new Promise<void>(() => {}) })');
  const config = (name: string, plugins: string[]) =>
    writeFileSync(path.join(dir, `${name}.config.ts`), `export default { logLevel: 'silent', setupTimeoutMs: 300, plugins: { ${plugins.map((p) => `'./${p}': true`).join(', ')} } };\n`);
  config('setup', ['hang-setup']);
  config('boot', ['hang-boot']);
  config('health', ['healthy', 'hang-health']);
  config('dispose', ['hang-dispose']);
  writeFileSync(path.join(dir, 'never.config.ts'), 'export default () => new Promise(() => {});\n');
  // Its dispose leaves a marker: the runtime is still closed when the action never settles.
  writeFileSync(path.join(dir, 'hang-command.ts'), `import { writeFileSync } from 'node:fs';\nimport { definePlugin } from ${JSON.stringify(KERNEL)};\nexport default definePlugin({ meta: { name: 'hang-command', version: '1.0.0' }, setup: (ctx) => {
  ctx.hooks.cliCommands.tap(ctx.name, (registry) => { registry.program.command('stall').action(() => new Promise<void>(() => {})); });
  return { dispose: () => writeFileSync(${JSON.stringify(path.join(dir, 'disposed'))}, 'yes') };
} });\n`);
  config('command', ['hang-command']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function limit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent', ...env }, timeout: 25_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('a config or a command that never settles, with no time limit of its own', () => {
  it('a config function whose promise never settles is LIMIT_CONFIG_LOAD_FAILED, exit 1 (with --json the { error } document), not a silent exit 13', async () => {
    const [text, json, config] = await Promise.all([
      limit(['plugins', '--config', 'never.config.ts']),
      limit(['plugins', '--json', '--config', 'never.config.ts']),
      limit(['config', '--config', 'never.config.ts']),
    ]);
    for (const r of [text, config]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('LIMIT_CONFIG_LOAD_FAILED: Could not load never.config.ts: it waits for a promise that can never settle');
    }
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LIMIT_CONFIG_LOAD_FAILED' });
  });

  it("a plugin command's action that never settles is reported as a bug naming the command, exit 1", async () => {
    const r = await limit(['stall', '--config', 'command.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: unexpected failure: `limit stall` waits for a promise that can never settle');
    expect(r.stderr.match(/waits for a promise/g)).toHaveLength(1);
    // The runtime was closed all the same: the plugin's dispose ran.
    expect(existsSync(path.join(dir, 'disposed'))).toBe(true);
  });
});

describe('a plugin that never settles, in a `limit` process', () => {
  it('a hung setup is LIMIT_PLUGIN_SETUP_TIMEOUT naming the plugin, exit 1 (with --json the { error } document), not a silent exit 13', async () => {
    const [text, json] = await Promise.all([limit(['plugins', '--config', 'setup.config.ts']), limit(['plugins', '--json', '--config', 'setup.config.ts'])]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('LIMIT_PLUGIN_SETUP_TIMEOUT: Plugin "hang-setup" did not finish setup within 300 ms');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', plugin: 'hang-setup', hook: 'setup' });
  });

  it('a hung boot tap is LIMIT_PLUGIN_SETUP_TIMEOUT at hook boot, exit 1', async () => {
    const r = await limit(['doctor', '--json', '--config', 'boot.config.ts']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', plugin: 'hang-boot', hook: 'boot' });
  });

  it('doctor reports a hung health() as fail and the other plugins as they are, exit 1', async () => {
    const [text, json] = await Promise.all([limit(['doctor', '--config', 'health.config.ts']), limit(['doctor', '--json', '--config', 'health.config.ts'])]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('✓ healthy: ok');
    expect(text.stdout).toContain('✗ hang-health: fail (Plugin "hang-health" did not finish health within 300 ms)');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      plugins: [
        { plugin: 'healthy', status: 'ok', checks: [] },
        { plugin: 'hang-health', status: 'fail', checks: [], message: 'Plugin "hang-health" did not finish health within 300 ms' },
      ],
    });
  });

  it('a hung dispose is reported at close naming the plugin, exit 1 after the command printed its output, not a silent exit 13', async () => {
    const r = await limit(['plugins', '--config', 'dispose.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('hang-dispose');
    // Logs are off here (LIMIT_LOG_LEVEL=silent): the CLI itself says why it exits 1.
    expect(r.stderr).toContain('LIMIT_PLUGIN_SETUP_TIMEOUT: Plugin "hang-dispose" did not finish dispose within 300 ms');
  });

  it('with --json, a close failure leaves stdout its one document and is a `{ "error": … }` line on stderr, whatever the log level', async () => {
    for (const level of ['silent', 'error']) {
      const r = await limit(['plugins', '--json', '--config', 'dispose.config.ts'], { LIMIT_LOG_LEVEL: level });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject([{ name: 'hang-dispose' }]);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('{"error":')).map((l) => JSON.parse(l) as { error: Record<string, unknown> });
      expect(errors, r.stderr).toEqual([{ error: expect.objectContaining({ code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', message: 'Plugin "hang-dispose" did not finish dispose within 300 ms' }) }]);
    }
  });
});
