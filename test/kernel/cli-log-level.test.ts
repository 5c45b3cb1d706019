/**
 * The CLI's default log level, through the real `limit` binary (pino writes to file descriptor 2,
 * so only a child process shows what reaches a terminal): interactive commands log at `warn`, the
 * long-running services (`serve`, `worker`) at `info`, and LIMIT_LOG_LEVEL or the config's
 * `logLevel` decide whenever they are set.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from 'limit-graph';

const BIN = fileURLToPath(new URL('../../bin/limit.js', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-cli-log-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
  // A plugin that logs at info and at warn while it is set up, and adds a `serve` command that logs at info.
  const config = (extra: string) => `import { defineConfig, definePlugin } from 'limit-graph';
    const chatty = definePlugin({
      meta: { name: 'chatty', version: '1.0.0' },
      setup(ctx) {
        ctx.logger.info('chatty-info');
        ctx.logger.warn('chatty-warn');
        ctx.hooks.cliCommands.tap('chatty', (registry) => {
          registry.program.command('serve').action(async () => {
            (await registry.runtime()).logger.info('serve-info');
            registry.print('served');
          });
        });
      },
    });
    export default defineConfig({ use: [chatty]${extra} });`;
  writeFileSync(path.join(dir, 'limit.config.ts'), config(''));
  writeFileSync(path.join(dir, 'info.config.ts'), config(", logLevel: 'info'"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function limit(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const { LIMIT_LOG_LEVEL: _unset, ...rest } = process.env;
  return promisify(execFile)(process.execPath, [BIN, ...args], { cwd: dir, env: { ...rest, ...env } });
}

describe('the CLI log level', () => {
  it('interactive commands log warnings and errors only, by default', async () => {
    const r = await limit(['plugins']);
    expect(r.stdout).toContain('chatty');
    expect(r.stderr).toContain('"msg":"chatty-warn"');
    expect(r.stderr).not.toContain('chatty-info');
  });

  it('LIMIT_LOG_LEVEL and the config logLevel set it', async () => {
    expect((await limit(['plugins'], { LIMIT_LOG_LEVEL: 'info' })).stderr).toContain('"msg":"chatty-info"');
    expect((await limit(['--config', 'info.config.ts', 'plugins'])).stderr).toContain('"msg":"chatty-info"');
    expect((await limit(['plugins'], { LIMIT_LOG_LEVEL: 'silent' })).stderr).toBe('');
  });

  it('`limit serve` logs at info by default', async () => {
    const r = await limit(['serve']);
    expect(r.stdout).toBe('served\n');
    expect(r.stderr).toContain('"msg":"chatty-info"');
    expect(r.stderr).toContain('"msg":"serve-info"');
    expect((await limit(['serve'], { LIMIT_LOG_LEVEL: 'warn' })).stderr).not.toContain('info"');
  });

  it('`limit config` shows the level the CLI logs at: warn unless the config or LIMIT_LOG_LEVEL sets one', async () => {
    const shown = async (args: string[], env: Record<string, string> = {}) => (JSON.parse((await limit([...args, 'config', '--json'], env)).stdout) as { logLevel: string }).logLevel;
    expect(await shown([])).toBe('warn');
    expect(await shown(['--config', 'info.config.ts'])).toBe('info');
    expect(await shown([], { LIMIT_LOG_LEVEL: 'debug' })).toBe('debug');
  });

  it('loadConfig: defaultLogLevel applies only when neither the config nor LIMIT_LOG_LEVEL sets a level', async () => {
    const level = async (config: Record<string, unknown>, env: Record<string, string> = {}) =>
      (await loadConfig({ config, env, defaultLogLevel: 'warn' })).config.logLevel;
    expect(await level({})).toBe('warn');
    expect(await level({ logLevel: 'info' })).toBe('info');
    expect(await level({}, { LIMIT_LOG_LEVEL: 'debug' })).toBe('debug');
    expect((await loadConfig({ config: {}, env: {} })).config.logLevel).toBe('info');
  });
});
