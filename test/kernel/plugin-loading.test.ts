import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Plugin } from 'limit-graph';
import { KERNEL, failure, tempProject } from '../helpers/temp-project.ts';

const BIN = fileURLToPath(new URL('../../bin/limit.js', import.meta.url));
const project = tempProject('limit-plugin-load-');
const { write } = project;

/** A runtime from a limit.config.ts in `project.dir` that lists the plugin entry `entry`. */
function runtimeWith(entry: string) {
  write('limit.config.ts', `export default { logLevel: 'silent', plugins: { ${JSON.stringify(entry)}: true } };`);
  return createRuntime({ cwd: project.dir, env: {} });
}

const setupThrows = `import { definePlugin } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: 'p-file', version: '1.0.0' }, setup() { throw new Error('setup boom'); } });`;

describe('loading plugins named in the config', () => {
  it('a path that does not exist is LIMIT_PLUGIN_NOT_FOUND naming the path resolved relative to the config file', async () => {
    write('package.json', '{ "type": "module" }');
    const error = await failure(runtimeWith('./does/not/exist'));
    expect(error.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(error.message).toContain(path.join(project.dir, 'does/not/exist'));
    expect(error.message).toContain(`relative to the config file ${path.join(project.dir, 'limit.config.ts')}`);
  });

  it('a path without extension finds the .ts file', async () => {
    write('package.json', '{ "type": "module" }');
    write('p.ts', setupThrows);
    expect(await failure(runtimeWith('./p'))).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_FAILED', plugin: 'p-file' });
  });

  it.each([
    ['throws at load', 'throw new Error("boom at load");', 'LIMIT_PLUGIN_LOAD_FAILED', /could not be loaded: boom at load/],
    ['has a syntax error', 'export default { meta: ', 'LIMIT_PLUGIN_LOAD_FAILED', /could not be loaded: Transform failed/],
    ['imports a missing file', 'import "./nope.ts"; export default 1;', 'LIMIT_PLUGIN_LOAD_FAILED', /could not be loaded: Cannot find module .*nope\.ts/],
    ['has a default factory that throws', 'export default () => { throw new Error("factory boom"); };', 'LIMIT_PLUGIN_LOAD_FAILED', /its default export, a factory, threw: factory boom/],
    ['exports no plugin', 'export const x = 1;', 'LIMIT_PLUGIN_INVALID', /does not export a plugin made with definePlugin\(\): it has no default export \(exports: x\)/],
    ['defines a plugin with a bad name', `import { definePlugin } from ${JSON.stringify(KERNEL)}; export default definePlugin({ meta: { name: 'Bad', version: '1' }, setup() {} });`, 'LIMIT_PLUGIN_INVALID', /"Bad" is not kebab-case/],
  ])('a plugin module that %s is a LimitError naming the entry and the file, with the cause', async (_what, source, code, message) => {
    write('package.json', '{ "type": "module" }');
    write('p.ts', source);
    const error = await failure(runtimeWith('./p.ts'));
    expect(error.code).toBe(code);
    expect(error.message).toContain(`"./p.ts" (${path.join(project.dir, 'p.ts')})`);
    expect(error.message).toMatch(message);
  });

  it('a plugin file that does not load: the fix says, as for a config file, whether it does not compile, imports what cannot be found, or threw', async () => {
    write('package.json', '{ "type": "module" }');
    const fixOf = async (source: string) => {
      write('p.ts', source);
      const error = await failure(runtimeWith('./p'));
      expect(error.code).toBe('LIMIT_PLUGIN_LOAD_FAILED');
      return error.fix;
    };
    const syntax = 'Fix the syntax error in p.ts (or in a module it imports) that the message points to, then run `limit plugins` again.';
    const importFix = "Fix the import in p.ts (or in a module it imports) that the message names: correct the path (relative to the importing file) or the export's name, or install the missing package; then run `limit plugins` again.";
    const threw = "p.ts's own code threw this error while it ran (its top level, its default function or a module it imports): fix that code or what it depends on (a variable, a file it reads), then run `limit plugins` again.";
    expect(await fixOf('export default { meta: ')).toBe(syntax);
    expect(await fixOf('import "./nope.ts"; export default 1;')).toBe(importFix);
    expect(await fixOf('import x from "no-such-package-here"; export default x;')).toBe(importFix);
    write('named.ts', 'export const a = 1;');
    expect(await fixOf('import { nope } from "./named.ts"; export default nope;')).toBe(importFix);
    expect(await fixOf('throw new Error("boom at load");')).toBe(threw);
    expect(await fixOf('export default () => { throw new Error("factory boom"); };')).toBe(threw);
  });

  // Without a package.json "type": "module" above it, a .ts file is compiled to CommonJS.
  describe('a .ts plugin outside a "type": "module" package', () => {
    it('loads its default export, so a setup error is reported as one (not as "does not export a plugin")', async () => {
      write('p.ts', setupThrows);
      expect(await failure(runtimeWith('./p.ts'))).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_FAILED', plugin: 'p-file', message: expect.stringContaining('setup boom') });
    });

    it('calls a default factory', async () => {
      write('p.ts', `import { definePlugin } from ${JSON.stringify(KERNEL)};
        export default () => definePlugin({ meta: { name: 'p-factory', version: '1.0.0' }, setup() {} });`);
      const rt = await runtimeWith('./p.ts');
      expect(rt.plugins.map((p) => p.name)).toEqual(['p-factory']);
      await rt.close();
    });

    // Run from that folder, as a user would: tsx's CommonJS loader otherwise finds this checkout's
    // tsconfig.json (its paths map limit-graph) from the working folder.
    it("imports 'limit-graph' (the running kernel), as do the config file and a preset beside it", async () => {
      write('base.ts', `import { defineConfig } from 'limit-graph';\nexport default defineConfig({ tenant: 'from-preset' });`);
      write('limit.config.ts', `import { defineConfig } from 'limit-graph';\nexport default defineConfig({ extends: './base.ts', logLevel: 'silent', dataDir: '.data', plugins: { './greeter': { greeting: 'Hi' } } });`);
      write('greeter.ts', `import { definePlugin, z } from 'limit-graph';
        export default definePlugin({
          meta: { name: 'greeter', version: '1.0.0' },
          options: z.object({ greeting: z.string() }).strict(),
          setup(ctx, options) {
            ctx.hooks.cliCommands.tap(ctx.name, ({ program, print }) => program.command('greet <name>').action((name: string) => print(\`\${options.greeting}, \${name} (\${ctx.config.tenant})\`)));
          },
        });`);
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, '--config', path.join(project.dir, 'limit.config.ts'), 'greet', 'Bob'], { cwd: project.dir });
      expect(stdout).toBe('Hi, Bob (from-preset)\n');
    });

    it('with top-level await, says that the file is compiled as CommonJS and how to change it', async () => {
      write('p.ts', `import { definePlugin } from ${JSON.stringify(KERNEL)}; await 0; export default definePlugin({ meta: { name: 'p', version: '1' }, setup() {} });`);
      const error = await failure(runtimeWith('./p.ts'));
      expect(error.code).toBe('LIMIT_PLUGIN_LOAD_FAILED');
      expect(error.fix).toMatch(/compiled as CommonJS.*rename it to \.mts.*"type": "module"/);
    });
  });
});

describe('plugin objects given in code', () => {
  it.each([[{}], [null], [undefined], ['storage-sqlite']])('createRuntime({ plugins: [%j] }) is LIMIT_PLUGIN_INVALID naming the index', async (bad) => {
    const error = await failure(createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [bad as unknown as Plugin] }));
    expect(error.code).toBe('LIMIT_PLUGIN_INVALID');
    expect(error.message).toContain('plugins[0] is not a plugin made with definePlugin()');
  });
});
