import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fsPromises from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRuntime, defineConfig, isLimitError, loadConfig, redactSecrets, type LimitError } from 'limit-graph';

let dir: string;
const write = (name: string, text: string) => {
  mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  writeFileSync(path.join(dir, name), text);
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-config-'));
  write('package.json', '{ "type": "module" }');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${String(error)}`);
  return error;
}

describe('loading limit.config.ts', () => {
  it('a JSON config may name its editor schema ($schema): allowed, and not in the resolved config', async () => {
    write('limit.config.json', JSON.stringify({ $schema: './limit.schema.json', storage: 'file', logLevel: 'silent' }));
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.storage).toBe('file');
    expect(config).not.toHaveProperty('$schema');
    write('limit.config.json', JSON.stringify({ $schema: 5 }));
    expect((await failure(loadConfig({ cwd: dir, env: {} }))).message).toContain('limit.config.json › $schema: Expected string, received number');
  });

  it('refuses a Map, or an object whose fields are inherited, rather than run it as {}; a class instance with fields of its own loads', async () => {
    write('limit.config.mjs', 'export default new Map([["storage", "file"]]);');
    const map = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(map.code).toBe('LIMIT_CONFIG_INVALID');
    expect(map.message).toBe('Invalid configuration in limit.config.mjs:\n  limit.config.mjs › (root): Expected a plain object of fields, received a Map: only an object\'s own fields are read');
    write('limit.config.mjs', 'export default Object.create({ storage: "file", logLevel: "debug" });');
    const inherited = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(inherited.message).toContain('(root): Expected a plain object of fields, received an object whose fields storage, logLevel are inherited, not its own');
    write('limit.config.mjs', 'class C { constructor() { this.storage = "file"; this.logLevel = "debug"; } } export default new C();');
    expect((await loadConfig({ cwd: dir, env: {} })).config).toMatchObject({ storage: 'file', logLevel: 'debug' });
  });

  it('handles relative .ts imports and top-level await', async () => {
    write('settings/level.ts', 'export const level: string = "warn";');
    write(
      'limit.config.ts',
      `import { defineConfig } from 'limit-graph';
       import { level } from './settings/level.ts';
       const tenant = await Promise.resolve('acme');
       export default defineConfig({ logLevel: level as 'warn', tenant });`,
    );
    const { config, source } = await loadConfig({ cwd: dir, env: {} });
    expect(source).toBe('limit.config.ts');
    expect(config).toMatchObject({ logLevel: 'warn', tenant: 'acme', configFile: path.join(dir, 'limit.config.ts'), rootDir: dir });
    expect(config.dataDir).toBe(path.join(dir, '.limit'));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('with top-level await but no "type": "module" package above it, the fix says to rename it to .mts (which then loads)', async () => {
    rmSync(path.join(dir, 'package.json'));
    write('limit.config.ts', `const tenant = await Promise.resolve('acme'); export default { tenant };`);
    const error = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(error.fix).toBe('limit.config.ts is compiled as CommonJS because no package.json with "type": "module" is above it, and CommonJS has no top-level await: rename it to limit.config.mts, or add a package.json with { "type": "module" } to its folder.');
    write('limit.config.mts', `const tenant = await Promise.resolve('acme'); export default { tenant };`);
    rmSync(path.join(dir, 'limit.config.ts'));
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('acme');
  });

  it('reloads without a stale cache (also of imported modules)', async () => {
    write('tenant.ts', 'export default "one";');
    write('limit.config.ts', `import t from './tenant.ts'; export default { tenant: t };`);
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('one');
    write('tenant.ts', 'export default "two";');
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('two');
  });

  it.each([
    ['limit.config.mjs', 'export default { tenant: "mjs" };', 'mjs'],
    ['limit.config.js', 'export default { tenant: "js" };', 'js'],
    ['limit.config.cts', 'const tenant: string = "cts"; export default { tenant };', 'cts'],
    ['limit.config.cjs', 'module.exports = { tenant: "cjs" };', 'cjs'],
    ['limit.config.json', '{ "tenant": "json" }', 'json'],
    ['.limitrc.json', '{ "tenant": "rc" }', 'rc'],
  ])('finds %s', async (file, text, tenant) => {
    write(file, text);
    const { config, source } = await loadConfig({ cwd: dir, env: {} });
    expect(config.tenant).toBe(tenant);
    expect(source).toBe(file);
  });

  it('searches limit.config.cts and .cjs after .js and before .json (also in a CommonJS package)', async () => {
    write('package.json', '{ "name": "cjs-project" }');
    write('limit.config.json', '{ "tenant": "json" }');
    write('limit.config.cjs', 'module.exports = { tenant: "cjs" };');
    expect((await loadConfig({ cwd: dir, env: {} })).config).toMatchObject({ tenant: 'cjs', configFile: path.join(dir, 'limit.config.cjs') });
    write('limit.config.cts', 'export default { tenant: "cts" };');
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('cts');
    write('limit.config.js', 'module.exports = { tenant: "js" };');
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('js');
  });

  it('falls back to the built-in default preset when there is no config file', async () => {
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.configFile).toBeNull();
    expect(config.presets).toEqual(['default']);
  });

  it('accepts a config function (sync or async)', async () => {
    write('limit.config.ts', 'export default async () => ({ tenant: "fn" });');
    expect((await loadConfig({ cwd: dir, env: {} })).config.tenant).toBe('fn');
  });

  it('reports a missing explicit file and a file that does not load', async () => {
    expect((await failure(loadConfig({ cwd: dir, configFile: 'nope.config.ts', env: {} }))).code).toBe('LIMIT_CONFIG_NOT_FOUND');
    write('broken.config.ts', 'export default {{;');
    const error = await failure(loadConfig({ cwd: dir, configFile: 'broken.config.ts', env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(error.message).toContain('broken.config.ts');
  });

  it('--config reads a .cts or .cjs file as it reads a .ts or .js one, and refuses an extension it has no reader for', async () => {
    write('mine.cts', 'const config = { tenant: "cts" }; export default config;');
    expect((await loadConfig({ cwd: dir, configFile: 'mine.cts', env: {} })).config.tenant).toBe('cts');
    write('other.cjs', 'module.exports = { tenant: "cjs" };');
    expect((await loadConfig({ cwd: dir, configFile: 'other.cjs', env: {} })).config.tenant).toBe('cjs');
    write('empty.cjs', 'module.exports = null;');
    expect(await failure(loadConfig({ cwd: dir, configFile: 'empty.cjs', env: {} }))).toMatchObject({ code: 'LIMIT_CONFIG_INVALID', message: expect.stringContaining('empty.cjs exports no configuration') });
    write('mine.toml', 'tenant = "toml"');
    const file = path.join(dir, 'mine.toml');
    const error = await failure(loadConfig({ cwd: dir, configFile: 'mine.toml', env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(error.message).toBe(`Could not load ${file}: limit reads no configuration file ending in .toml`);
    expect(error.details).toEqual({ file });
    expect(error.fix).toContain('.ts, .mts, .cts, .js, .mjs, .cjs, .json, .yaml, .yml (TypeScript, JavaScript, JSON or YAML; a file without an extension is read as YAML)');
    // Every extension the fix lists is one --config reads.
    const listed = /ending in ((?:\.\w+(?:, )?)+) \(/.exec(error.fix)![1]!.split(', ');
    for (const ext of listed) {
      write(`listed${ext}`, ext === '.cjs' ? 'module.exports = { tenant: "listed" };' : /\.[cm]?[jt]s$/.test(ext) ? 'export default { tenant: "listed" };' : '{ "tenant": "listed" }');
      expect((await loadConfig({ cwd: dir, configFile: `listed${ext}`, env: {} })).config.tenant, ext).toBe('listed');
    }
  });

  it('reads a CommonJS config file (.cjs, a .js with module.exports) and what it requires afresh on every load', async () => {
    write('settings.cjs', 'module.exports = { tenant: "one" };');
    write('commonjs.cjs', 'module.exports = { tenant: require("./settings.cjs").tenant };');
    write('commonjs/limit.config.js', 'module.exports = { tenant: "one" };');
    write('commonjs/package.json', '{ "type": "commonjs" }');
    expect((await loadConfig({ cwd: dir, configFile: 'commonjs.cjs', env: {} })).config.tenant).toBe('one');
    expect((await loadConfig({ cwd: path.join(dir, 'commonjs'), env: {} })).config.tenant).toBe('one');
    write('settings.cjs', 'module.exports = { tenant: "two" };');
    write('commonjs/limit.config.js', 'module.exports = { tenant: "two" };');
    expect((await loadConfig({ cwd: dir, configFile: 'commonjs.cjs', env: {} })).config.tenant).toBe('two');
    expect((await loadConfig({ cwd: path.join(dir, 'commonjs'), env: {} })).config.tenant).toBe('two');
  });

  it('--config x.js loads x.js even when an x.ts lies beside it (no TypeScript-style .js → .ts mapping)', async () => {
    write('other.ts', 'export default { tenant: "from-ts" };');
    write('other.js', 'export default { tenant: "from-js" };');
    write('other.cjs', 'module.exports = { tenant: "from-cjs" };');
    write('other.cts', 'export default { tenant: "from-cts" };');
    expect((await loadConfig({ cwd: dir, configFile: 'other.js', env: {} })).config.tenant).toBe('from-js');
    expect((await loadConfig({ cwd: dir, configFile: 'other.cjs', env: {} })).config.tenant).toBe('from-cjs');
    expect((await loadConfig({ cwd: dir, configFile: 'other.ts', env: {} })).config.tenant).toBe('from-ts');
  });

  it('a config file found by the search that does not load is named, not the folder the search started from', async () => {
    write('limit.config.ts', 'export default {{;');
    write('sub/.keep', '');
    const error = await failure(loadConfig({ cwd: path.join(dir, 'sub'), env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(error.message.startsWith(`Could not load ${path.join(dir, 'limit.config.ts')}: `), error.message).toBe(true);
    expect(error.details).toEqual({ file: path.join(dir, 'limit.config.ts') });
    write('limit.config.ts', 'export default {};');
    write('sub/limit.config.json', '{ bad');
    const json = await failure(loadConfig({ cwd: path.join(dir, 'sub'), env: {} }));
    expect(json.details).toEqual({ file: path.join(dir, 'sub', 'limit.config.json'), line: 1, column: 3 });
  });

  it('a LimitError the config file or a preset throws keeps its code and fix, and names the file (message, details.file, cause)', async () => {
    const throwing = (where: string) => `import { LimitError } from 'limit-graph';
${where}`;
    const file = path.join(dir, 'limit.config.ts');
    // Thrown by the module body.
    write('limit.config.ts', throwing(`throw new LimitError('LIMIT_VALIDATION', 'API_KEY is not set', { fix: 'Set API_KEY.', details: { variable: 'API_KEY' } });`));
    const body = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(body.code).toBe('LIMIT_VALIDATION');
    expect(body.message).toBe(`API_KEY is not set (thrown while loading ${file})`);
    expect(body.fix).toBe('Set API_KEY.');
    expect(body.details).toEqual({ variable: 'API_KEY', file });
    expect(isLimitError(body.cause, 'LIMIT_VALIDATION')).toBe(true);
    expect((body.cause as Error).message).toBe('API_KEY is not set');
    // Thrown by the default function, of a file given with --config.
    write('mine.config.ts', throwing(`export default async () => { throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'no database'); };`));
    const fn = await failure(loadConfig({ cwd: dir, configFile: 'mine.config.ts', env: {} }));
    expect(fn.code).toBe('LIMIT_STORAGE_UNAVAILABLE');
    expect(fn.message).toBe(`no database (thrown while loading ${path.join(dir, 'mine.config.ts')})`);
    expect(fn.details).toEqual({ file: path.join(dir, 'mine.config.ts') });
    // Thrown by a preset the config extends: the preset's file.
    write('presets/strict.ts', throwing(`export default () => { throw new LimitError('LIMIT_CONFIG_INVALID', 'strict needs a tenant'); };`));
    write('limit.config.ts', `export default { extends: './presets/strict.ts' };`);
    const preset = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(preset.code).toBe('LIMIT_CONFIG_INVALID');
    expect(preset.message).toBe(`strict needs a tenant (thrown while loading ${path.join(dir, 'presets/strict.ts')})`);
    expect(preset.details).toEqual({ file: path.join(dir, 'presets/strict.ts') });
    // Anything else is still LIMIT_CONFIG_LOAD_FAILED.
    write('limit.config.ts', `throw new Error('boom');`);
    const plain = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(plain.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(plain.message).toBe(`Could not load ${file}: boom`);
    expect(plain.details).toEqual({ file });
  });

  it('a file that does not load: the fix says whether it does not compile, imports what cannot be found, or threw while it ran', async () => {
    const fixOf = async (text: string, name = 'limit.config.ts') => {
      write(name, text);
      const error = await failure(loadConfig({ cwd: dir, configFile: name, env: {} }));
      expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
      return error.fix;
    };
    const threw = "limit.config.ts's own code threw this error while it ran (its top level, its default function or a module it imports): fix that code or what it depends on (a variable, a file it reads), then run `limit config` again.";
    expect(await fixOf(`type T = string;\nthrow new Error('boom');`)).toBe(threw);
    expect(await fixOf(`const a: any = undefined;\nconst b = a.b;\nexport default { tenant: b };`)).toBe(threw);
    // A SyntaxError the file's code raises (JSON.parse) is an exception it threw, not a syntax error of the file.
    expect(await fixOf(`const parsed = JSON.parse('{x');\nexport default parsed;`)).toBe(threw);
    expect(await fixOf(`export default () => {\n  throw new TypeError('no tenant');\n};`)).toBe(threw);
    write('helper.ts', `throw new Error('helper boom');`);
    expect(await fixOf(`import './helper.ts';\nexport default {};`)).toBe(threw);
    write('presets/strict.ts', `throw new Error('preset boom');`);
    expect(await fixOf(`export default { extends: './presets/strict.ts' };`)).toBe(threw.replace('limit.config.ts', 'strict.ts'));

    const syntax = (name: string) => `Fix the syntax error in ${name} (or in a module it imports) that the message points to, then run \`limit config\` again.`;
    expect(await fixOf('export default {{;')).toBe(syntax('limit.config.ts'));
    expect(await fixOf('export default {{;', 'other.mjs')).toBe(syntax('other.mjs'));
    const importFix = "Fix the import in limit.config.ts (or in a module it imports) that the message names: correct the path (relative to the importing file) or the export's name, or install the missing package; then run `limit config` again.";
    expect(await fixOf(`import x from './missing.ts';\nexport default x;`)).toBe(importFix);
    expect(await fixOf(`import x from 'no-such-package-here';\nexport default x;`)).toBe(importFix);
    write('named.ts', 'export const a = 1;');
    expect(await fixOf(`import { nope } from './named.ts';\nexport default { tenant: nope };`)).toBe(importFix);
  });

  it('errors about plugins name the config file given with --config, not limit.config.ts', async () => {
    write('other.config.ts', `export default { logLevel: 'silent', plugins: { 'my-own-pack': {} } };`);
    const missing = await failure(createRuntime({ cwd: dir, configFile: 'other.config.ts', env: {} }));
    expect(missing.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    // Both ways to name a plugin: a path relative to the config file, or an installed package.
    expect(missing.fix).toContain(`In the plugins of other.config.ts, name a plugin of your own by its path relative to other.config.ts's folder ${dir} ('./plugins/my-own-pack', starting with ./)`);
    expect(missing.fix).toContain('or install the package that provides "my-own-pack" (npm install my-own-pack, or limit-plugin-my-own-pack)');
    expect((missing.cause as Error).message).toContain(`imported from ${path.join(dir, 'other.config.ts')}`);

    write('other.config.ts', `export default { logLevel: 'silent', plugins: { 'rd-fgw': { alpa: 1 } } };`);
    const options = await failure(createRuntime({ cwd: dir, configFile: 'other.config.ts', env: {} }));
    expect(options.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(options.message).toContain('other.config.ts › plugins.rd-fgw');
    expect(options.fix).toBe("Correct the plugin's options in other.config.ts; its README lists every option.");
  });

  it('shows every zod issue with the file and the field path', async () => {
    write('limit.config.ts', 'export default { logLevel: "loud", tenant: 5, plugins: { "storage-sqlite": "yes" }, bogus: 1 };');
    const error = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    const lines = error.message.split('\n').slice(1).map((l) => l.trim());
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^limit\.config\.ts › logLevel: Expected one of/),
        'limit.config.ts › tenant: Expected string, received number',
        'limit.config.ts › plugins.storage-sqlite: Expected an options object, true or false',
        expect.stringMatching(/^limit\.config\.ts › \(root\): Unrecognized key: "bogus"/),
      ]),
    );
    expect(lines).toHaveLength(4);
  });

  it('shows plugin option issues as "limit.config.ts › plugins.<plugin>.<field>: <message>"', async () => {
    write(
      'limit.config.ts',
      `import { defineConfig, definePlugin, z } from 'limit-graph';
       const sqlite = definePlugin({ meta: { name: 'storage-sqlite', version: '1.0.0' }, options: z.object({ path: z.string() }), setup() {} });
       export default defineConfig({ logLevel: 'silent', use: [sqlite], plugins: { 'storage-sqlite': { path: 1 } } });`,
    );
    const error = await failure(createRuntime({ cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toContain('limit.config.ts › plugins.storage-sqlite.path: Expected string, received number');
  });
});

describe('as the README documents: YAML through --config, and where a relative dataDir points', () => {
  it('--config reads .yaml, .yml and a file without extension as YAML (JSON text too, JavaScript not); the search finds no YAML', async () => {
    write('conf/a.yaml', 'tenant: from-yaml\nextends: ./base\n');
    write('conf/base.ts', 'export default { logLevel: "error" };');
    write('conf/b.yml', 'tenant: from-yml\n');
    write('conf/limitrc', 'tenant: no-ext\nplugins:\n  storage-sqlite: { path: x.db }\n');
    write('conf/jsonrc', '{ "tenant": "json-text" }');
    write('conf/jsrc', 'export default { tenant: "js" };');
    write('work/.keep', '');
    const cwd = path.join(dir, 'work');
    expect((await loadConfig({ cwd, configFile: '../conf/a.yaml', env: {} })).config).toMatchObject({ tenant: 'from-yaml', logLevel: 'error' });
    expect((await loadConfig({ cwd, configFile: '../conf/b.yml', env: {} })).config.tenant).toBe('from-yml');
    expect((await loadConfig({ cwd, configFile: '../conf/limitrc', env: {} })).config).toMatchObject({ tenant: 'no-ext', plugins: { 'storage-sqlite': { path: 'x.db' } } });
    expect((await loadConfig({ cwd, configFile: '../conf/jsonrc', env: {} })).config.tenant).toBe('json-text');
    const js = await failure(loadConfig({ cwd, configFile: '../conf/jsrc', env: {} }));
    expect(js.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(js.message).toContain(`YAML Error in ${path.join(dir, 'conf/jsrc')}`);
    write('limit.config.yaml', 'tenant: searched\n');
    expect((await loadConfig({ cwd: dir, env: {} })).config.configFile).toBeNull();
  });

  it('a YAML syntax error: the fix names the line and column (details too), and a file without extension may be a module missing its extension', async () => {
    const yamlFailure = async (name: string, text: string) => {
      write(name, text);
      const error = await failure(loadConfig({ cwd: dir, configFile: name, env: {} }));
      expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
      expect(error.message).toContain(`Could not load ${path.join(dir, name)}: YAML Error in ${path.join(dir, name)}`);
      return error;
    };
    const indent = await yamlFailure('bad.yaml', 'tenant: a\n  storage: sqlite\n');
    expect(indent.fix).toBe('Correct the YAML syntax of bad.yaml at line 2, column 10 (bad indentation of a mapping entry): indentation with spaces, `key: value` pairs, quotes closed; then run `limit config` again.');
    expect(indent.details).toEqual({ file: path.join(dir, 'bad.yaml'), line: 2, column: 10 });
    const quote = await yamlFailure('quote.yml', 'logLevel: warn\ntenant: "acme\n');
    expect(quote.fix).toMatch(/^Correct the YAML syntax of quote\.yml at line 3, column 1 \(unexpected end of the stream within a double quoted scalar\): /);
    expect(quote.details).toEqual({ file: path.join(dir, 'quote.yml'), line: 3, column: 1 });
    const module = await yamlFailure('limitrc', 'export default {\n  tenant: "js",\n};\n');
    expect(module.fix).toMatch(/^Correct the YAML syntax of limitrc at line \d+, column \d+ \(.+\): .*; or, if limitrc is a TypeScript or JavaScript config, give it its extension \(limitrc\.ts, limitrc\.js\): a file without one is read as YAML\.$/);
  });

  it('a config file that cannot be read: the fix names the file and what to do about the error it got', async () => {
    const file = path.join(dir, 'conf.yaml');
    write('conf.yaml', 'tenant: acme\n');
    // Running as root, no permission bit keeps a file from being read: the read is made to fail as
    // Node fails it for a file without read permission.
    const denied = Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { errno: -13, code: 'EACCES', syscall: 'open', path: file });
    const read = vi.spyOn(fsPromises, 'readFile').mockRejectedValueOnce(denied);
    try {
      const error = await failure(loadConfig({ cwd: dir, configFile: 'conf.yaml', env: {} }));
      expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
      expect(error.message).toBe(`Could not load ${file}: EACCES: permission denied, open '${file}'`);
      expect(error.details).toEqual({ file });
      expect(error.fix).toBe(`${file} could not be read (EACCES): the user that runs limit may not read it: give it read permission (\`chmod a+r ${file}\`, or change the file's owner), or pass --config a file it can read; then run \`limit config\` again.`);
    } finally {
      read.mockRestore();
    }
    // A real one: a file the config names in cosmiconfig's $import, which does not exist.
    write('conf.yaml', '$import: ./shared.yaml\ntenant: acme\n');
    const missing = await failure(loadConfig({ cwd: dir, configFile: 'conf.yaml', env: {} }));
    expect(missing.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(missing.fix).toBe(`${path.join(dir, 'shared.yaml')} could not be read (ENOENT): it does not exist (any more): correct the path that names it, or create the file; then run \`limit config\` again.`);
  });

  it('a relative dataDir, from the file, a preset elsewhere or LIMIT_DATA_DIR, is resolved against the config file\'s folder (no file: the current folder)', async () => {
    write('conf/limit.config.ts', 'export default { extends: "../presets/p.ts" };');
    write('presets/p.ts', 'export default { dataDir: "from-preset" };');
    write('work/.keep', '');
    const cwd = path.join(dir, 'work');
    expect((await loadConfig({ cwd, configFile: '../conf/limit.config.ts', env: {} })).config.dataDir).toBe(path.join(dir, 'conf/from-preset'));
    expect((await loadConfig({ cwd, configFile: '../conf/limit.config.ts', env: { LIMIT_DATA_DIR: 'state' } })).config.dataDir).toBe(path.join(dir, 'conf/state'));
    expect((await loadConfig({ cwd, configFile: '../conf/limit.config.ts', env: { LIMIT_DATA_DIR: path.join(dir, 'abs') } })).config.dataDir).toBe(path.join(dir, 'abs'));
    expect((await loadConfig({ cwd, env: { LIMIT_DATA_DIR: 'state' } })).config.dataDir).toBe(path.join(cwd, 'state'));
  });
});

describe('environment overrides', () => {
  it('a LIMIT_TENANT that is no tenant id is quoted with the characters allowed, not a pattern', async () => {
    write('limit.config.ts', 'export default {};');
    const error = await failure(loadConfig({ cwd: dir, env: { LIMIT_TENANT: 'acme corp' } }));
    expect(error.message).toContain('LIMIT_TENANT › tenant: Expected a tenant id of letters, digits, "_", "-", ":" and "." (not first), received "acme corp" (from environment variable LIMIT_TENANT)');
    expect(error.message).not.toContain('pattern');
  });

  it('STORAGE_BACKEND, LIMIT_LOG_LEVEL, LIMIT_TENANT and LIMIT_DATA_DIR override the file', async () => {
    write('limit.config.ts', 'export default { storage: "sqlite", logLevel: "info", tenant: "file" };');
    const { config } = await loadConfig({ cwd: dir, env: { STORAGE_BACKEND: 'postgres', LIMIT_LOG_LEVEL: 'debug', LIMIT_TENANT: 'env', LIMIT_DATA_DIR: 'state' } });
    expect(config).toMatchObject({ storage: 'postgres', logLevel: 'debug', tenant: 'env', dataDir: path.join(dir, 'state') });
  });

  it('names the variable when an environment value is invalid', async () => {
    const error = await failure(loadConfig({ cwd: dir, env: { LIMIT_LOG_LEVEL: 'chatty' } }));
    expect(error.message).toMatch(/\n  LIMIT_LOG_LEVEL › logLevel: .*\(from environment variable LIMIT_LOG_LEVEL\)/);
  });

  it('refuses a setupTimeoutMs above 2^31 − 1 ms, which Node\'s setTimeout would turn into 1 ms (every setup timing out at once)', async () => {
    const error = await failure(loadConfig({ config: { setupTimeoutMs: 3_000_000_000 }, cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message).toMatch(/setupTimeoutMs: .*2147483647/);
    expect((await loadConfig({ config: { setupTimeoutMs: 2_147_483_647 }, cwd: dir, env: {} })).config.setupTimeoutMs).toBe(2_147_483_647);
  });

  it('refuses a dataDir starting with "~" (LIMIT_DATA_DIR=~/state in an env file), instead of a folder named "~" under the config', async () => {
    for (const value of ['~/limit-state', '~', '~user/state']) {
      const error = await failure(loadConfig({ cwd: dir, env: { LIMIT_DATA_DIR: value } }));
      expect(error.code).toBe('LIMIT_CONFIG_INVALID');
      expect(error.message).toContain(`LIMIT_DATA_DIR › dataDir: Expected a path not starting with "~" (it is not the home folder here, but a folder named "~"): write the absolute path (or ./~name for a folder named so), received ${JSON.stringify(value)} (from environment variable LIMIT_DATA_DIR)`);
    }
    write('limit.config.ts', 'export default { dataDir: "~/state" };');
    expect((await failure(loadConfig({ cwd: dir, env: {} }))).message).toContain('limit.config.ts › dataDir: Expected a path not starting with "~"');
    expect((await loadConfig({ cwd: dir, config: { dataDir: 'state~' }, env: {} })).config.dataDir).toBe(path.join(dir, 'state~'));
  });

  it('refuses a dataDir with leading or trailing spaces (LIMIT_DATA_DIR= /data), instead of a folder named " /data" under the config', async () => {
    for (const value of [' /data', 'state ', ' ']) {
      const error = await failure(loadConfig({ cwd: dir, env: { LIMIT_DATA_DIR: value } }));
      expect(error.code).toBe('LIMIT_CONFIG_INVALID');
      expect(error.message).toContain(`LIMIT_DATA_DIR › dataDir: Expected a path without leading or trailing spaces, received ${JSON.stringify(value)} (from environment variable LIMIT_DATA_DIR)`);
    }
    expect((await failure(loadConfig({ config: { dataDir: 'state\n' }, cwd: dir, env: {} }))).message).toContain('dataDir: Expected a path without leading or trailing spaces, received "state\\n"');
  });

  it('a variable set to the empty string counts as unset: the file (or the default) applies', async () => {
    write('limit.config.ts', 'export default { storage: "sqlite", logLevel: "info", tenant: "file" };');
    const { config } = await loadConfig({ cwd: dir, env: { STORAGE_BACKEND: '', LIMIT_LOG_LEVEL: '', LIMIT_TENANT: '', LIMIT_DATA_DIR: '' } });
    expect(config).toMatchObject({ storage: 'sqlite', logLevel: 'info', tenant: 'file', dataDir: path.join(dir, '.limit') });
  });

  it('STORAGE_BACKEND selects storage-<name> and drops the other storage plugins', async () => {
    const error = await failure(createRuntime({ config: { logLevel: 'silent', plugins: { 'storage-file': {} } }, env: { STORAGE_BACKEND: 'nonexistent' } }));
    expect(error.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(error.message).toContain('"storage-nonexistent"');
  });
});

describe('presets', () => {
  it('extends presets in order: plugin options merge per plugin, `use` concatenates, false disables', async () => {
    write('presets/base.ts', 'export default { tenant: "base", logLevel: "warn", plugins: { a: { x: 1, y: 1 }, b: true } };');
    write('presets/more.json', '{ "extends": "./base.ts", "plugins": { "a": { "y": 2 } } }');
    write('limit.config.ts', 'export default { extends: ["./presets/more.json"], tenant: "mine", plugins: { b: false, c: { z: 3 } } };');
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.tenant).toBe('mine');
    expect(config.logLevel).toBe('warn');
    expect(config.plugins).toEqual({ a: { x: 1, y: 2 }, b: false, c: { z: 3 } });
    expect(config.presets).toEqual(['./base.ts', './presets/more.json']);
  });

  it('refuses an unknown preset and a preset cycle', async () => {
    write('limit.config.ts', 'export default { extends: "no-such-preset" };');
    expect((await failure(loadConfig({ cwd: dir, env: {} }))).code).toBe('LIMIT_PRESET_NOT_FOUND');
    write('a.json', '{ "extends": "./b.json" }');
    write('b.json', '{ "extends": "./a.json" }');
    write('limit.config.ts', 'export default { extends: "./a.json" };');
    expect((await failure(loadConfig({ cwd: dir, env: {} }))).code).toBe('LIMIT_PRESET_CYCLE');
  });

  it('a preset path may leave out its extension, as a plugin path may; one not found lists the paths tried', async () => {
    write('presets/base.ts', 'export default { tenant: "base" };');
    write('presets/shared/index.ts', 'export default { extends: "../data", logLevel: "error" };');
    write('presets/data.json', '{ "dataDir": "state" }');
    write('limit.config.ts', 'export default { extends: ["./presets/base", "./presets/shared"] };');
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ tenant: 'base', logLevel: 'error', dataDir: path.join(dir, 'state') });
    expect(config.presets).toEqual(['./presets/base', '../data', './presets/shared']);

    write('limit.config.ts', 'export default { extends: "./presets/missing" };');
    const missing = await failure(loadConfig({ cwd: dir, env: {} }));
    const base = path.join(dir, 'presets', 'missing');
    const tried = ['', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '/index.ts', '/index.js', '.json'].map((s) => base + s);
    expect(missing.code).toBe('LIMIT_PRESET_NOT_FOUND');
    expect(missing.message).toBe(`limit.config.ts › extends: preset "./presets/missing" not found; looked for ${tried.join(', ')}`);
    expect(missing.details).toEqual({ preset: './presets/missing', tried });
    expect(missing.fix).toBe(`Correct the path "./presets/missing" in extends of limit.config.ts: a relative path starts from ${dir} (the folder of the file that names it), and may leave out the extension.`);

    write('limit.config.ts', 'export default { extends: "base" };');
    const bare = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(bare.message).toMatch(/^limit\.config\.ts › extends: preset "base" not found \(the built-in presets are default\); looked for .*presets[\\/]base\.ts, .*presets[\\/]base\.js$/);
    expect(bare.fix).toBe(`Use a built-in preset (default), or name a preset file of your own by its path relative to ${dir}, starting with ./ ('./base').`);
  });

  it('tells presets apart by their file, not by how extends names them', async () => {
    // lib/index.ts's './base.ts' is lib/base.ts, another file than the config's './base.ts': no cycle.
    write('base.ts', 'export default { extends: "./lib/index.ts", tenant: "base" };');
    write('lib/index.ts', 'export default { extends: "./base.ts" };');
    write('lib/base.ts', 'export default { logLevel: "error" };');
    write('limit.config.ts', 'export default { extends: "./base.ts" };');
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ tenant: 'base', logLevel: 'error' });
    // One file named two ways ('./p/a.ts' from the config, '../p/a.ts' from itself) is a cycle, named by its path.
    write('p/a.ts', 'export default { extends: "../p/a.ts" };');
    write('limit.config.ts', 'export default { extends: "./p/a.ts" };');
    const error = await failure(loadConfig({ cwd: dir, env: {} }));
    expect(error.code).toBe('LIMIT_PRESET_CYCLE');
    expect(error.message).toBe(`Presets extend each other in a cycle: ${path.join('p', 'a.ts')} → ${path.join('p', 'a.ts')}`);
  });
});

describe('presets merge nested option objects key by key', () => {
  it('a preset\'s policy keeps its fields when the config sets another (docs/governance.md\'s shared preset)', async () => {
    write('acme-governance.ts', `export default { plugins: { governance: { preset: 'default', policy: { requireHumanReview: true, quarantineSeverity: 8 }, blockSeverity: 8, reviewBand: [4, 6] } } };`);
    write('limit.config.ts', `export default { extends: ['default', './acme-governance.ts'], logLevel: 'silent', plugins: { governance: { policy: { requireDistinctReviewer: true }, reviewBand: [5, 7] } } };`);
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.plugins.governance).toEqual({
      preset: 'default', policy: { requireHumanReview: true, quarantineSeverity: 8, requireDistinctReviewer: true }, blockSeverity: 8, reviewBand: [5, 7],
    });
    const runtime = await createRuntime({ cwd: dir, env: {}, boot: false });
    try {
      expect(runtime.pluginOptions().governance).toMatchObject({ policy: { requireHumanReview: true, quarantineSeverity: 8, requireDistinctReviewer: true } });
    } finally {
      await runtime.close();
    }
  });

  it('at every depth; a list, a scalar or false replaces the whole value', async () => {
    write('base.json', JSON.stringify({ plugins: { x: { a: { b: { c: 1, d: 2 }, list: [1, 2] }, rateLimit: { max: 10 }, off: { on: true } } } }));
    write('limit.config.json', JSON.stringify({ extends: './base.json', plugins: { x: { a: { b: { d: 3 }, list: [3] }, rateLimit: { timeWindow: '1 hour' }, off: false } } }));
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.plugins.x).toEqual({ a: { b: { c: 1, d: 3 }, list: [3] }, rateLimit: { max: 10, timeWindow: '1 hour' }, off: false });
  });

  it('a mistake inside a merged option object is reported against the file that wrote that field', async () => {
    write('acme-governance.ts', `export default { plugins: { governance: { policy: { quarantineSeverity: 'high' } } } };`);
    write('limit.config.ts', `export default { extends: ['default', './acme-governance.ts'], logLevel: 'silent', plugins: { governance: { policy: { requireDistinctReviewer: 'yes' } } } };`);
    const error = await failure(createRuntime({ cwd: dir, env: {}, boot: false }));
    expect(error.message).toMatch(/\n {2}acme-governance\.ts › plugins\.governance\.policy\.quarantineSeverity: /);
    expect(error.message).toMatch(/\n {2}limit\.config\.ts › plugins\.governance\.policy\.requireDistinctReviewer: /);
  });

  it('a config entry merges over a plugin object\'s own options (configure) the same way', async () => {
    write('greeter.ts', `import { definePlugin, z } from ${JSON.stringify(path.resolve('kernel/index.ts'))};
export default definePlugin({ meta: { name: 'greeter', version: '1.0.0' }, options: z.object({ style: z.object({ loud: z.boolean(), suffix: z.string() }).strict() }).strict(), setup() {} }).configure({ style: { loud: true, suffix: '!' } });`);
    write('limit.config.ts', `import greeter from './greeter.ts';
export default { logLevel: 'silent', use: [greeter], plugins: { greeter: { style: { suffix: '?' } } } };`);
    const runtime = await createRuntime({ cwd: dir, env: {}, boot: false });
    try {
      expect(runtime.pluginOptions().greeter).toEqual({ style: { loud: true, suffix: '?' } });
    } finally {
      await runtime.close();
    }
  });
});

describe('defineConfig and redaction', () => {
  it('defineConfig is a typed identity', () => {
    const config = { tenant: 'x', plugins: { 'storage-sqlite': { path: 'a.db' } } };
    expect(defineConfig(config)).toBe(config);
  });

  it('redacts secret-looking keys and passwords in URLs', () => {
    expect(
      redactSecrets({ plugins: { 'runner-openai': { apiKey: 'sk-123', model: 'm' }, 'storage-postgres': { url: 'postgres://u:hunter2@db/x' } }, token: '' }),
    ).toEqual({ plugins: { 'runner-openai': { apiKey: '[redacted]', model: 'm' }, 'storage-postgres': { url: 'postgres://u:[redacted]@db/x' } }, token: '' });
  });

  it('redacts an option holding a cycle (a client pointing back at itself): "[circular]" where it comes back, not a stack overflow', () => {
    const client: Record<string, unknown> = { password: 'pw', url: 'redis://:s3cret@cache' };
    client.self = client;
    const shared = { a: 1 };
    const keys: unknown[] = [{ key: 'k1' }];
    keys.push(keys);
    expect(redactSecrets({ plugins: { cache: { client, one: shared, two: shared }, 'api-http': { keys } } })).toEqual({
      plugins: { cache: { client: { password: '[redacted]', url: 'redis://:[redacted]@cache', self: '[circular]' }, one: { a: 1 }, two: { a: 1 } }, 'api-http': { keys: [{ key: '[redacted]' }, '[circular]'] } },
    });
  });

  it('redacts the whole password of a URL, and credentials in its query string (pg reads ?password=)', () => {
    expect(redactSecrets({
      at: 'postgres://u:hun@ter2@db:5432/x', // the userinfo ends at the last @ before the path
      odd: 'postgres://u:hun#t?er2@db/x',
      query: 'postgres://u@db/x?sslmode=disable&password=hunter2&sslpassword=pw2',
      both: 'postgresql://u:hunter2@db/x?password=hunter3#frag',
      plain: 'https://example.com/a?b=c',
    })).toEqual({
      at: 'postgres://u:[redacted]@db:5432/x',
      odd: 'postgres://u:[redacted]@db/x',
      query: 'postgres://u@db/x?sslmode=disable&password=[redacted]&sslpassword=[redacted]',
      both: 'postgresql://u:[redacted]@db/x?password=[redacted]#frag',
      plain: 'https://example.com/a?b=c',
    });
  });

  it('redacts the password of a keyword/value connection string (libpq: host=db user=u password=x)', () => {
    expect(redactSecrets({
      dsn: 'host=db user=u password=hunter2 dbname=x',
      spaced: 'host=db password = hunter2 sslmode=require',
      quoted: "host=db password='hun ter\\'2' user=u",
      open: "user=u password='hun ter2",
      others: 'PASSWD=a sslpassword=b passwordless=yes user=password',
      list: ['dbname=x password=pw'],
      plain: 'host=db user=u',
    })).toEqual({
      dsn: 'host=db user=u password=[redacted] dbname=x',
      spaced: 'host=db password = [redacted] sslmode=require',
      quoted: 'host=db password=[redacted] user=u',
      open: 'user=u password=[redacted]',
      others: 'PASSWD=[redacted] sslpassword=[redacted] passwordless=yes user=password',
      list: ['dbname=x password=[redacted]'],
      plain: 'host=db user=u',
    });
  });
});
