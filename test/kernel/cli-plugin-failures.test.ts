/**
 * A plugin's command that fails with something other than a LimitError (a bug, not the user's
 * input) is one line and a fix, not a stack trace (LIMIT_DEBUG=1 adds it); and help still works
 * when a plugin's cliCommands tap throws; a runtime loaded only to read the command line, then
 * replaced by the config it names, has its close failures reported as the command's own are.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

let dir: string;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent', ...env } });

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-cli-plugin-failures-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
  writeFileSync(
    path.join(dir, 'limit.config.ts'),
    `import { defineConfig, definePlugin } from 'limit-graph';
     const buggy = definePlugin({ meta: { name: 'buggy', version: '0.1.0' }, setup: (ctx) => {
       ctx.hooks.cliCommands.tap(ctx.name, (registry) => {
         registry.program.command('explode').option('--json').action(() => { const o: any = undefined; return o.field; });
       });
     } });
     export default defineConfig({ use: [buggy], extends: [] });`,
  );
  writeFileSync(
    path.join(dir, 'tap.config.ts'),
    `import { defineConfig, definePlugin } from 'limit-graph';
     const broken = definePlugin({ meta: { name: 'broken-cli', version: '0.1.0' }, setup: (ctx) => {
       ctx.hooks.cliCommands.tap(ctx.name, () => { throw new Error('cannot add my commands'); });
     } });
     export default defineConfig({ use: [broken], extends: [] });`,
  );
  // Both add `pick --x <value>`; the one `--config` reads first (guessed.config.ts) fails to dispose.
  const pick = (name: string, dispose: string) =>
    `import { defineConfig, definePlugin } from 'limit-graph';
     const pick = definePlugin({ meta: { name: '${name}', version: '0.1.0' }, setup: (ctx) => {
       ctx.hooks.cliCommands.tap(ctx.name, (registry) => {
         registry.program.command('pick').argument('[word]').option('--x <value>').option('--json').action((_word, opts) => registry.print(\`${name} x=\${opts.x}\`));
       });
       return { dispose: () => { ${dispose} } };
     } });
     export default defineConfig({ use: [pick], extends: [] });`;
  writeFileSync(path.join(dir, 'named.config.ts'), pick('named', ''));
  writeFileSync(path.join(dir, 'guessed.config.ts'), pick('guessed', "throw new Error('cannot release guessed');"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a command that fails with an unexpected error', () => {
  it('prints one line naming it and a fix, no stack trace; --json prints the error document', async () => {
    const r = await cli(['explode']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unexpected failure: TypeError: Cannot read properties of undefined \(reading 'field'\)\n {2}fix: This is a bug of limit-graph or of a plugin, not of your input: please report it with the command line; LIMIT_DEBUG=1 prints the stack\.\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const json = await cli(['explode', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { message: "Cannot read properties of undefined (reading 'field')" } });
  });

  it('prints the stack too with LIMIT_DEBUG=1', async () => {
    const r = await cli(['explode'], { LIMIT_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: unexpected failure: TypeError:');
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('reads LIMIT_DEBUG as a boolean: false, no, 0 and off (any case) print no stack', async () => {
    for (const off of ['false', 'no', '0', 'off', 'FALSE', ' no ', '']) {
      const r = await cli(['explode'], { LIMIT_DEBUG: off });
      expect(r.stderr, JSON.stringify(off)).not.toMatch(/\n\s+at /);
    }
    for (const on of ['true', 'yes', 'on', 'TRUE']) {
      const r = await cli(['explode'], { LIMIT_DEBUG: on });
      expect(r.stderr, on).toMatch(/\n\s+at /);
    }
  });
});

describe("a plugin whose cliCommands tap throws", () => {
  it('limit --help still prints the help, exits 0 and says why plugin commands may be missing', async () => {
    const r = await cli(['--config', path.join(dir, 'tap.config.ts'), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: limit [options] [command]');
    expect(r.stderr).toContain('warning: some plugin commands are unavailable because a plugin failed to add them:');
    expect(r.stderr).toContain('LIMIT_HOOK_TAP_FAILED: Plugin "broken-cli" failed in hook "cliCommands": cannot add my commands');
  });

  it('help about a command the failing plugin would have added is the help there is (exit 0, with the warning), not "unknown command"', async () => {
    for (const args of [['my-command', '--help'], ['help', 'my-command']]) {
      const r = await cli(['--config', path.join(dir, 'tap.config.ts'), ...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toContain('Usage: limit [options] [command]');
      expect(r.stderr, args.join(' ')).toContain('warning: some plugin commands are unavailable because a plugin failed to add them:');
      expect(r.stderr, args.join(' ')).not.toContain('unknown command');
    }
  });

  it('any other command still fails with the plugin named', async () => {
    const r = await cli(['--config', path.join(dir, 'tap.config.ts'), 'plugins']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LIMIT_HOOK_TAP_FAILED: Plugin "broken-cli"');
  });
});

describe('a config loaded to read the command line, then replaced by the one it names', () => {
  // Before `pick` is known, `--config guessed.config.ts` looks like the config; once it is, it is the value of --x.
  const args = (...more: string[]) => ['--config', path.join(dir, 'named.config.ts'), 'pick', ...more, '--x', '--config', path.join(dir, 'guessed.config.ts')];

  it("reports the replaced runtime's close failures and exits 1, after the command ran", async () => {
    const r = await cli(args());
    expect(r.stdout).toBe('named x=--config\n');
    expect(r.stderr).toContain('LIMIT_PLUGIN_DISPOSE_FAILED: Plugin "guessed" failed to dispose: cannot release guessed');
    expect(r.code).toBe(1);
  });

  it('with --json, each is a `{ "error": … }` line on stderr and stdout keeps the command\'s output', async () => {
    const r = await cli(args('--json'));
    expect(r.stdout).toBe('named x=--config\n');
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('{"error":')).map((l) => JSON.parse(l) as { error: Record<string, unknown> });
    expect(errors, r.stderr).toEqual([{ error: expect.objectContaining({ code: 'LIMIT_PLUGIN_DISPOSE_FAILED', plugin: 'guessed', hook: 'dispose' }) }]);
    expect(r.code).toBe(1);
  });
});
