import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLimitError, loadConfig, type LimitError } from 'limit-graph';

let dir: string;
const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-config-exports-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${String(error)}`);
  return error;
}

// With and without a package.json "type": "module" (without it, .ts files are compiled to CommonJS).
describe.each([['an ES module package', true], ['a folder without package.json', false]])('a config file that exports no configuration, in %s', (_where, esm) => {
  beforeEach(() => {
    if (esm) write('package.json', '{ "type": "module" }');
  });

  it.each([
    ['', /the file is empty/],
    ['export default null;', /its default export is null/],
    ['export default undefined;', /its default export is undefined/],
    ['export default () => undefined;', /its default export, a function, returned undefined/],
    ['const x = 1;', /it has no default export/],
    ['export const tenant = "a";', /it has no default export/],
  ])('%j is LIMIT_CONFIG_INVALID naming the file, not the built-in defaults', async (text, why) => {
    write('limit.config.ts', text);
    const error = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message).toMatch(/^limit\.config\.ts exports no configuration: /);
    expect(error.message).toMatch(why);
    expect(error.message).toContain(path.join(dir, 'limit.config.ts'));
    expect(error.fix).toContain('export default');
  });

  it('an explicitly empty object is a valid config', async () => {
    write('limit.config.ts', 'export default {};');
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ configFile: path.join(dir, 'limit.config.ts'), presets: [], plugins: {} });
  });
});

describe('other config formats and presets', () => {
  it('a JSON config of null is refused; CommonJS module.exports = {} is an empty config', async () => {
    write('.limitrc.json', 'null');
    expect(await failure(loadConfig({ cwd: dir, env: {} }))).toMatchObject({ code: 'LIMIT_CONFIG_INVALID', message: expect.stringContaining('.limitrc.json holds no configuration: it is null') });
    rmSync(path.join(dir, '.limitrc.json'));
    write('limit.config.js', 'module.exports = {};');
    expect((await loadConfig({ cwd: dir, env: {} })).config.configFile).toBe(path.join(dir, 'limit.config.js'));
  });

  it.each([
    ['conf.yaml', '', 'the file is empty', 'YAML'],
    ['conf.yml', ' \n', 'the file is empty', 'YAML'],
    ['limitrc', '\n', 'the file is empty', 'YAML'],
    ['conf.yml', '# only a comment\n', 'it is null, or only comments', 'YAML'],
    ['conf.yaml', 'null\n', 'it is null, or only comments', 'YAML'],
    ['limitrc', '~\n', 'it is null, or only comments', 'YAML'],
    ['conf.json', '', 'the file is empty', 'JSON'],
    ['conf.json', 'null', 'it is null', 'JSON'],
  ])('an empty or null %s (%j, %s): the fix says how to write a %s config in that kind of file, not `export default`', async (name, text, why, kind) => {
    write(name, text);
    const error = await failure(loadConfig({ cwd: dir, configFile: name, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message).toBe(`${name} holds no configuration: ${why} (${path.join(dir, name)})`);
    expect(error.fix).toBe(kind === 'YAML'
      ? `Write the configuration in ${name} as YAML, one field a line (\`extends: default\`; \`{}\` for none), or leave --config out to search from the current folder.`
      : `Write the configuration in ${name} as a JSON object (\`{ "extends": "default" }\`; \`{}\` for none), or delete ${name} to run on the built-in defaults.`);
    // What the fix suggests loads.
    write(name, kind === 'YAML' ? 'extends: default\n' : '{ "extends": "default" }');
    expect((await loadConfig({ cwd: dir, configFile: name, env: {} })).config.presets).toEqual(['default']);
  });

  it('a preset that exports nothing is refused, naming the preset file', async () => {
    write('package.json', '{ "type": "module" }');
    write('base.ts', 'export const tenant = "x";');
    write('limit.config.ts', 'export default { extends: "./base.ts" };');
    expect(await failure(loadConfig({ cwd: dir, env: {} }))).toMatchObject({ code: 'LIMIT_CONFIG_INVALID', message: expect.stringContaining('base.ts exports no configuration: it has no default export') });
  });
});
