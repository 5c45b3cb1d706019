import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitError, createRuntime, formatError } from 'limit-graph';
import { runCli } from '../helpers/cli.ts';
import sessionAudit, { main as exampleMain } from '../../examples/custom-plugin.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const exampleFile = path.join(root, 'examples/custom-plugin.ts');
let dir: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent', ...env } });

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-cli-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
  writeFileSync(
    path.join(dir, 'limit.config.ts'),
    `import { defineConfig, definePlugin } from 'limit-graph';
     import audit from ${JSON.stringify(exampleFile)};
     const sick = definePlugin({ meta: { name: 'sick', version: '0.1.0' }, setup: () => ({ health: () => ({ status: process.env.SICK ? 'fail' : 'ok', message: 'checked' }) }) });
     export default defineConfig({ use: [audit.configure({ label: 'cli-test' }), sick], plugins: { 'secret-holder': false }, extends: [] });`,
  );
  writeFileSync(path.join(dir, 'bad.config.ts'), `export default { logLevel: 'info', setupTimeoutMs: 'soon', plugins: {} };`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('limit CLI', () => {
  it('config --json prints exactly one JSON document with the resolved config', async () => {
    const r = await cli(['config', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ configFile: path.join(dir, 'limit.config.ts'), use: ['session-audit', 'sick'], plugins: { 'session-audit': { label: 'cli-test', maxEntries: 1000 }, sick: {} } });
  });

  it('plugins --json lists name, version, provides, dependsOn and setup time', async () => {
    const r = await cli(['plugins', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; version: string; provides: string[]; dependsOn: string[]; setupMs: number }[];
    expect(list.map((p) => [p.name, p.version, p.provides, p.dependsOn])).toEqual([
      ['session-audit', '1.0.0', ['audit'], []],
      ['sick', '0.1.0', [], []],
    ]);
    expect(list.every((p) => typeof p.setupMs === 'number')).toBe(true);
  });

  it('doctor exits non-zero when a health check fails', async () => {
    const ok = await cli(['doctor', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).ok).toBe(true);
    process.env.SICK = '1';
    try {
      const bad = await cli(['doctor', '--json']);
      expect(bad.code).toBe(1);
      const doc = JSON.parse(bad.stdout);
      expect(doc.ok).toBe(false);
      expect(doc.plugins.find((p: { plugin: string }) => p.plugin === 'sick')).toMatchObject({ status: 'fail', message: 'checked' });
    } finally {
      delete process.env.SICK;
    }
  });

  it('runs a command that a plugin added through the cliCommands hook', async () => {
    const r = await cli(['audit', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ label: 'cli-test', opened: 0, closed: 0 });
    const text = await cli(['audit']);
    expect(text.stdout).toBe('cli-test: 0 opened, 0 closed\n');
  });

  it('an invalid config exits non-zero with the field path', async () => {
    const r = await cli(['config', '--config', 'bad.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LIMIT_CONFIG_INVALID');
    expect(r.stderr).toContain('bad.config.ts › setupTimeoutMs: Expected number, received string');
    expect(r.stdout).toBe('');
    const json = await cli(['plugins', '--json', '--config', 'bad.config.ts']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error.code).toBe('LIMIT_CONFIG_INVALID');
  });

  it('an empty --config (--config "$CONFIG" with CONFIG unset) is refused, not read as "search from here"', async () => {
    // The folder has a limit.config.ts that a search would find and run.
    for (const args of [['--config', '', 'plugins'], ['plugins', '--config='], ['config', '--config', '']]) {
      const r = await cli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('LIMIT_CONFIG_NOT_FOUND: Configuration file not found: --config is empty');
      expect(r.stdout).toBe('');
    }
  });

  it('an error is printed with its cause only when the message does not already say it', async () => {
    writeFileSync(path.join(dir, 'boom.config.ts'), `throw new Error('boom');`);
    const r = await cli(['config', '--config', 'boom.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIMIT_CONFIG_LOAD_FAILED: Could not load ${path.join(dir, 'boom.config.ts')}: boom\n  fix: boom.config.ts's own code threw`);
    expect(r.stderr).not.toContain('cause:');
    expect(r.stderr.match(/boom(?!\.config)/g)).toHaveLength(1);
    // A cause the message does not quote is still printed, and so is the rest of the chain.
    const inner = new Error('ECONNREFUSED 127.0.0.1:5432');
    const outer = new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'Cannot reach PostgreSQL', { cause: new Error('pool failed', { cause: inner }) });
    expect(formatError(outer).split('\n').filter((l) => l.startsWith('  cause: '))).toEqual(['  cause: pool failed', '  cause: ECONNREFUSED 127.0.0.1:5432']);
    const quoting = new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'Cannot reach PostgreSQL: pool failed', { cause: new Error('pool failed', { cause: inner }) });
    expect(formatError(quoting).split('\n').filter((l) => l.startsWith('  cause: '))).toEqual(['  cause: ECONNREFUSED 127.0.0.1:5432']);
    // Quoted whole only: "boom" is not in "kaboom".
    expect(formatError(new LimitError('LIMIT_INTERNAL', 'kaboom', { cause: new Error('boom') }))).toContain('  cause: boom');
  });

  it('a plugin that throws something that is not an Error: readable, naming the plugin where the kernel sees it, never [object Object]', async () => {
    writeFileSync(
      path.join(dir, 'odd.config.ts'),
      `import { definePlugin } from 'limit-graph';
       const odd = definePlugin({ meta: { name: 'odd-store', version: '0.1.0', provides: ['svc:odd'] }, setup(ctx) {
         ctx.provide('svc:odd' as never, { fire: async () => { throw { code: 'EFIRE', detail: 'batch' }; } } as never);
         ctx.hooks.cliCommands.tap(ctx.name, ({ program, runtime }) => {
           program.command('fire').option('--json').action(async () => ((await runtime()).resolve('svc:odd' as never) as { fire(): Promise<void> }).fire());
           program.command('fire-raw').option('--json').action(async () => { throw undefined; });
         });
       } });
       export default { use: [odd], plugins: {} };`,
    );
    const text = await cli(['--config', 'odd.config.ts', 'fire']);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(`LIMIT_PLUGIN_FAILED: Plugin "odd-store" failed in svc:odd.fire(): { code: 'EFIRE', detail: 'batch' } (thrown instead of an Error)`);
    expect(text.stderr).toContain('at plugin "odd-store"');
    expect(text.stderr).not.toContain('[object Object]');
    const json = await cli(['--config', 'odd.config.ts', 'fire', '--json']);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LIMIT_PLUGIN_FAILED', plugin: 'odd-store' });
    const raw = await cli(['--config', 'odd.config.ts', 'fire-raw', '--json']);
    expect(raw.code).toBe(1);
    expect(raw.stderr).toBe('undefined (thrown instead of an Error)\n');
    expect(JSON.parse(raw.stdout)).toEqual({ error: { message: 'undefined (thrown instead of an Error)' } });
  });

  it('an unknown command is a usage error', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('help about an unknown command names it (exit 1), and `help <command>` of a plugin not loaded says which plugin, as `<command> --help` does', async () => {
    for (const args of [['help', 'frobnicate'], ['frobnicate', '--help']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^error: unknown command 'frobnicate'\n/);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    const json = await cli(['--json', 'help', 'frobnicate']);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message: "unknown command 'frobnicate'" });
    for (const args of [['help', 'serve'], ['serve', '--help']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('LIMIT_COMMAND_UNAVAILABLE: `limit serve` comes from the plugin "api-http"');
    }
    expect((await cli(['help', 'rd', 'fgw'])).stderr).toContain('`limit rd fgw` comes from the plugin "rd-fgw"');
    // Help about a command there is, and the overall help, still exit 0 on stdout.
    for (const args of [['help', 'plugins'], ['help'], ['--help']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: limit /);
    }
  });

  it("a built-in plugin's command that the config does not load names the plugin to enable", async () => {
    const r = await cli(['run', 'python', '--', 'print(1)']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LIMIT_COMMAND_UNAVAILABLE: `limit run` comes from the plugin "orchestrator", which limit.config.ts does not load');
    expect(r.stderr).toContain("fix: Enable it in the plugins of limit.config.ts ('orchestrator': true), or add extends: 'default' to it (the built-in preset loads \"orchestrator\")");
    expect(r.stderr).not.toMatch(/unknown command/);
    for (const [command, plugin] of [['serve', 'api-http'], ['demo', 'orchestrator'], ['verify', 'orchestrator'], ['export', 'orchestrator'], ['governance', 'governance'], ['worker', 'runner-queue']]) {
      const json = await cli(['--json', command!, '--help']);
      expect(json.code, command).toBe(1);
      expect(JSON.parse(json.stdout).error, command).toMatchObject({ code: 'LIMIT_COMMAND_UNAVAILABLE', details: { command, plugins: [plugin] } });
    }
  });

  it("the fix offers extends: 'default' only where that preset loads the plugin", async () => {
    // runner-queue (limit worker) is not in the default preset: extends: 'default' would change nothing.
    const worker = await cli(['worker']);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain('`limit worker` comes from the plugin "runner-queue", which limit.config.ts does not load');
    expect(worker.stderr).toContain("fix: Enable it in the plugins of limit.config.ts ('runner-queue': { url: 'postgres://…' }, or true with LIMIT_QUEUE_URL set (DATABASE_URL only when storage is postgres: storage-sqlite reads it too)); extends: 'default' does not load it;");
    expect(worker.stderr).not.toContain('loads every built-in plugin');
    // A config that extends 'default' and turns the plugin off: enabling it is the fix, not extending again.
    writeFileSync(path.join(dir, 'off.config.ts'), `export default { extends: 'default', plugins: { 'api-http': false } };`);
    const serve = await cli(['--config', 'off.config.ts', '--json', 'serve']);
    expect(serve.code).toBe(1);
    expect(JSON.parse(serve.stdout).error.fix).toBe("Enable it in the plugins of off.config.ts ('api-http': true) (off.config.ts extends 'default' already: an entry set to false turns the plugin off); `limit plugins` lists what is loaded.");
    // The catalogue entry (GET /docs shows it) no longer claims the preset loads every plugin.
    const { ERROR_CODES } = await import('limit-graph');
    expect(ERROR_CODES.LIMIT_COMMAND_UNAVAILABLE.fix).not.toContain('every built-in plugin');
    expect(ERROR_CODES.LIMIT_COMMAND_UNAVAILABLE.fix).toContain('not runner-queue');
  });

  it('an rd subcommand names the plugin that adds it, also when another rd plugin is loaded', async () => {
    writeFileSync(path.join(dir, 'rd.config.ts'), `export default { plugins: { 'rd-fgw': true } };`);
    const knee = await cli(['--config', 'rd.config.ts', 'rd', 'knee', '--input', 'curve.json']);
    expect(knee.code).toBe(1);
    expect(knee.stderr).toContain('`limit rd knee` comes from the plugins "knee-kneedle" or "knee-menger", which rd.config.ts does not load');
    expect(knee.stderr).toContain("('knee-kneedle': true or 'knee-menger': true)");
    const rate = await cli(['rd', 'rate', '--input', 'x.json']);
    expect(rate.stderr).toContain('`limit rd rate` comes from the plugin "rd-rate"');
    // A command of a loaded plugin, or one no plugin has, is left to the usual usage error.
    const typo = await cli(['--config', 'rd.config.ts', 'rd', 'fgww']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/unknown command 'fgww'/);
  });

  it('bench refuses an unknown benchmark name', async () => {
    const r = await cli(['bench', 'no-such-bench']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unknown benchmark "no-such-bench"');
    // Options after the names belong to the benchmark, not to the list of names.
    const withOptions = await cli(['bench', 'no-such-bench', '--rounds', '1']);
    expect(withOptions.stderr).toContain('Unknown benchmark "no-such-bench"; available');
    expect(withOptions.stderr).not.toContain('"1"');
  });

  it('works as the `limit` binary from a shell (npx limit …)', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [path.join(root, 'bin/limit.js'), 'plugins', '--json'], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' } });
    expect(JSON.parse(stdout).map((p: { name: string }) => p.name)).toEqual(['session-audit', 'sick']);
    const bad = await run(process.execPath, [path.join(root, 'bin/limit.js'), 'config', '--config', 'bad.config.ts'], { cwd: dir }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.config.ts › setupTimeoutMs');
  });
});

describe('examples/custom-plugin.ts', () => {
  it('taps session hooks and provides its service', async () => {
    expect(await exampleMain()).toEqual({ label: 'demo', opened: ['alpha', 'beta'], closed: 1 });
  });

  it('counts the sessions that ended, not the scopes the runtime\'s close releases', async () => {
    const runtime = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [sessionAudit.configure({ label: 'r' })] });
    const audit = runtime.resolve('audit');
    await runtime.openSession({ id: 'kept' });
    await (await runtime.openSession({ id: 'ended' })).close();
    await runtime.close();
    expect(audit.opened().map((s) => s.id)).toEqual(['kept', 'ended']);
    expect(audit.closedCount()).toBe(1);
  });
});
