/**
 * Config errors name the file and the key the user wrote, list every problem of a run at once, and
 * say where a bad value came from and what is allowed.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, loadConfig, z } from 'limit-graph';
import { runCli } from '../helpers/cli.ts';
import { KERNEL, failure, tempProject } from '../helpers/temp-project.ts';

const project = tempProject('limit-config-errors-', { 'package.json': '{ "type": "module" }' });
const { write } = project;
const lines = (error: Error) => error.message.split('\n').slice(1).map((l) => l.trim());

const greeter = `import { definePlugin, z } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: 'greeter', version: '1.0.0' }, options: z.object({ greeting: z.string().default('Hi') }).strict(), setup() {} });`;

describe('plugin options are reported under the config key as written', () => {
  it('a plugin loaded by path: plugins[\'./greeter\'].greeting, not plugins.greeter', async () => {
    write('greeter.ts', greeter);
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { './greeter': { greeting: 5, extra: true } } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(lines(error)).toEqual([
      "limit.config.ts › plugins['./greeter'].greeting: Expected string, received number",
      'limit.config.ts › plugins[\'./greeter\']: Unrecognized key: "extra"',
    ]);
    expect(error.details?.issues).toEqual([
      { path: "plugins['./greeter'].greeting", message: 'Expected string, received number' },
      { path: "plugins['./greeter']", message: 'Unrecognized key: "extra"' },
    ]);
  });
});

describe("a plugin object's options are reported against where it was given, never a preset", () => {
  const plugin = `import { definePlugin, z } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: 'shell', version: '1.0.0' }, options: z.object({ timeoutMs: z.number().positive().default(1000), label: z.string().default('x') }).strict(), setup() {} });`;

  it('use: [plugin.configure(…)] under extends: the config file and use[i], also in the fix', async () => {
    write('shell.ts', plugin);
    write('limit.config.ts', `import shell from './shell.ts';
export default { extends: 'default', logLevel: 'silent', use: [shell.configure({ timeoutMS: 3000, timeoutMs: -1 })] };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(lines(error)).toEqual([
      'limit.config.ts › use[0] (shell).timeoutMs: Too small: expected number to be >0',
      'limit.config.ts › use[0] (shell): Unrecognized key: "timeoutMS" (did you mean \'timeoutMs\'?)',
    ]);
    expect(error.message).not.toContain('presets/default');
    expect(error.fix).toBe("Correct the plugin's options in limit.config.ts; its README lists every option.");
  });

  it("an option the config entry plugins.<name> sets over the object's stays the entry's; a preset's use entry names the preset", async () => {
    write('shell.ts', plugin);
    write('base.ts', `import shell from './shell.ts';
export default { use: [shell.configure({ label: 5 })] };`);
    write('limit.config.ts', `export default { extends: ['default', './base.ts'], logLevel: 'silent', plugins: { shell: { timeoutMs: 'soon', bogus: 1 } } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(lines(error)).toEqual(expect.arrayContaining([
      'limit.config.ts › plugins.shell.timeoutMs: Expected number, received string',
      'limit.config.ts › plugins.shell: Unrecognized key: "bogus"',
      'base.ts › use[0] (shell).label: Expected string, received number',
    ]));
    expect(lines(error)).toHaveLength(3);
  });

  it('createRuntime({ plugins: [plugin.configure(…)] }) with extends: the options given in code', async () => {
    const shell = definePlugin({ meta: { name: 'shell', version: '1.0.0' }, options: z.object({ timeoutMs: z.number() }).strict(), setup() {} });
    const error = await failure(createRuntime({ config: { extends: 'default', logLevel: 'silent' }, plugins: [shell.configure({ timeoutMS: 1 } as never)], env: {}, boot: false }));
    expect(lines(error)).toEqual([
      'createRuntime({ plugins }) › plugins[0] (shell).timeoutMs: Expected number, received undefined',
      'createRuntime({ plugins }) › plugins[0] (shell): Unrecognized key: "timeoutMS" (did you mean \'timeoutMs\'?)',
    ]);
    expect(error.fix).toBe("Correct the plugin's options in createRuntime({ plugins }); its README lists every option.");
  });
});

describe('two plugins of one name, a cycle: the entries and the files they are in', () => {
  const named = (name: string, meta = '') => `import { definePlugin } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: '${name}', version: '9.9.9'${meta} }, setup() {} });`;

  it('a path entry named like a plugin the preset enables: both entries and files, and the fix that drops the preset\'s (which works)', async () => {
    write('plugins/dupname.ts', named('knee-kneedle'));
    write('limit.config.ts', `export default { extends: 'default', logLevel: 'silent', plugins: { './plugins/dupname': true } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_DUPLICATE');
    expect(error.message).toMatch(/^Plugin "knee-kneedle" is listed twice: plugins\.knee-kneedle \(.*presets\/default\.ts\) and plugins\['\.\/plugins\/dupname'\] \(limit\.config\.ts\)$/);
    expect(error.fix).toMatch(/^Plugin names \(meta\.name\) must be unique: set 'knee-kneedle': false in the plugins of limit\.config\.ts to drop the one .*presets\/default\.ts enables, or rename the other plugin\.$/);
    write('limit.config.ts', `export default { extends: 'default', logLevel: 'silent', plugins: { './plugins/dupname': true, 'knee-kneedle': false } };`);
    const rt = await createRuntime({ cwd: project.dir, env: {}, boot: false });
    expect(rt.plugins.filter((p) => p.name === 'knee-kneedle').map((p) => p.version)).toEqual(['9.9.9']);
    await rt.close();
  });

  it('one plugin by two paths, by path and in use, or twice in code', async () => {
    write('plugins/shell.ts', named('shell'));
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { './plugins/shell': true, './plugins/shell.ts': true } };`);
    const paths = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(paths.message).toBe("Plugin \"shell\" is listed twice: plugins['./plugins/shell'] (limit.config.ts) and plugins['./plugins/shell.ts'] (limit.config.ts)");
    expect(paths.fix).toBe('Plugin names (meta.name) must be unique: remove one of the two entries from limit.config.ts, or rename one of the plugins.');
    write('limit.config.ts', `import shell from './plugins/shell.ts';\nexport default { logLevel: 'silent', use: [shell], plugins: { './plugins/shell': {} } };`);
    const used = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(used.message).toBe("Plugin \"shell\" is listed twice: plugins['./plugins/shell'] (limit.config.ts) and use[0] (shell) (limit.config.ts)");
    const p = definePlugin({ meta: { name: 'dupe', version: '1.0.0' }, setup() {} });
    const code = await failure(createRuntime({ config: { logLevel: 'silent' }, plugins: [p, p], env: {}, boot: false }));
    expect(code.message).toBe('Plugin "dupe" is listed twice: plugins[0] (dupe) (createRuntime({ plugins })) and plugins[1] (dupe) (createRuntime({ plugins }))');
  });

  it('a dependency cycle: its fix lists the entries and names the config file, not limit.config.ts', async () => {
    write('a.ts', named('aa', ", dependsOn: ['bb']"));
    write('b.ts', named('bb', ", dependsOn: ['aa']"));
    write('mine.config.ts', `export default { logLevel: 'silent', plugins: { './a': true, './b': true } };`);
    const error = await failure(createRuntime({ cwd: project.dir, configFile: 'mine.config.ts', env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_DEPENDENCY_CYCLE');
    expect(error.message).toBe('Plugins depend on each other in a cycle: aa → bb → aa');
    expect(error.fix).toContain("or remove one of the plugins (plugins['./a'] (mine.config.ts), plugins['./b'] (mine.config.ts)) from mine.config.ts");
  });
});

describe('a mistake in a preset names the preset file', () => {
  it('kernel fields and plugin options set by the preset, next to those set by the config', async () => {
    write('presets/mine.ts', `export default { storag: 'sqlite', plugins: { 'storage-sqlite': { busyTimeoutMs: 'x' } } };`);
    write('limit.config.ts', `export default { extends: './presets/mine.ts', logLevel: 'silent', tenant: 5 };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message.split('\n')[0]).toBe('Invalid configuration in limit.config.ts and presets/mine.ts:');
    expect(lines(error)).toEqual(
      expect.arrayContaining([
        'presets/mine.ts › (root): Unrecognized key: "storag" (did you mean \'storage\'?)',
        'limit.config.ts › tenant: Expected string, received number',
        'presets/mine.ts › plugins.storage-sqlite.busyTimeoutMs: Expected number, received string',
      ]),
    );
    expect(lines(error)).toHaveLength(3);
  });

  it('an extends that is not a preset name (a number, an empty string in a list) is refused, never ignored', async () => {
    write('limit.config.ts', `export default { extends: 5, logLevel: 'silent' };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(lines(error)).toEqual(['limit.config.ts › extends: Expected a preset name or path (a non-empty string), or a list of them; received 5']);
    write('limit.config.ts', `export default { extends: ['default', ''], logLevel: 'silent' };`);
    expect(lines(await failure(loadConfig({ cwd: project.dir, env: {} }))))
      .toEqual(['limit.config.ts › extends.1: Expected a preset name or path (a non-empty string), or a list of them; received ""']);
  });

  it('a plugin option overridden by the config is the config\'s; the rest of the entry stays the preset\'s', async () => {
    write('base.json', '{ "plugins": { "storage-sqlite": { "busyTimeoutMs": "x", "path": 1 } } }');
    write('limit.config.ts', `export default { extends: './base.json', logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: 2 } } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(lines(error)).toEqual(
      expect.arrayContaining([
        'limit.config.ts › plugins.storage-sqlite.path: Expected string, received number',
        'base.json › plugins.storage-sqlite.busyTimeoutMs: Expected number, received string',
      ]),
    );
    expect(error.fix).toContain('limit.config.ts, base.json');
  });

  it('a storage conflict set up by a preset names the preset', async () => {
    write('pg.json', '{ "plugins": { "storage-postgres": { "url": "postgres://db/x" } } }');
    write('limit.config.ts', `export default { extends: './pg.json', storage: 'sqlite' };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(error.message).toContain('pg.json › plugins.storage-postgres: options for "storage-postgres"');
  });
});

describe('every problem is listed at once', () => {
  it('kernel-level errors come with the option errors of the plugins the config names', async () => {
    write('limit.config.ts', `export default { storage: 'sqlite', setupTimeoutMs: '100', dataDir: 5, plugins: { 'storage-sqlite': { path: 42, busyTimeoutMs: -1 }, 'storage-postgres': true } };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(lines(error)).toEqual([
      'limit.config.ts › dataDir: Expected string, received number',
      'limit.config.ts › setupTimeoutMs: Expected number, received string',
      'limit.config.ts › plugins.storage-sqlite.path: Expected string, received number',
      expect.stringMatching(/^limit\.config\.ts › plugins\.storage-sqlite\.busyTimeoutMs: Too small/),
    ]);
  });

  it('with a kernel-level error, an entry for a plugin object (use, createRuntime({ plugins })) gets its option errors, not "not found"', async () => {
    const hello = definePlugin({ meta: { name: 'hello', version: '1.0.0' }, options: z.object({ greeting: z.string().default('Hi') }).strict(), setup() {} });
    const inCode = await failure(createRuntime({ config: { logLevel: 'silent', tenant: '!!', plugins: { hello: { greeting: 5 } } } as never, plugins: [hello], env: {} }));
    const inUse = await failure(createRuntime({ config: { logLevel: 'silent', tenant: '!!', use: [hello], plugins: { hello: { greeting: 5 } } } as never, env: {} }));
    for (const error of [inCode, inUse]) {
      expect(error.code).toBe('LIMIT_CONFIG_INVALID');
      expect(lines(error)).toEqual([expect.stringMatching(/^config › tenant: /), 'config › plugins.hello.greeting: Expected string, received number']);
    }
  });

  it('with a kernel-level error, entries that name no plugin and entries set to true are checked in the same run', async () => {
    write('limit.config.ts', `export default { setupTimeoutMs: '100', storage: 'sqlite', plugins: { 'no-such-one': true, './missing': true, 'storage-sqlit': true, 'rd-fgw': { bogus: 1 }, governance: true } };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: { STORAGE_BACKEND: 'postgres' } }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message.split('\n')[0]).toBe('Invalid configuration in limit.config.ts and STORAGE_BACKEND=postgres:');
    expect(lines(error)).toEqual([
      'limit.config.ts › setupTimeoutMs: Expected number, received string',
      expect.stringMatching(/^limit\.config\.ts › plugins\.no-such-one: Plugin "no-such-one" not found: /),
      expect.stringMatching(/^limit\.config\.ts › plugins\['\.\/missing'\]: Plugin "\.\/missing" not found: no file /),
      expect.stringMatching(/^limit\.config\.ts › plugins\.storage-sqlit: Plugin "storage-sqlit" not found: .*the built-in storage plugins are storage-file/),
      'limit.config.ts › plugins.rd-fgw: Unrecognized key: "bogus"',
      expect.stringMatching(/^STORAGE_BACKEND=postgres › plugins\.storage-postgres\.url: Expected string, received undefined; set the environment variable DATABASE_URL/),
    ]);
    // A backend that the kernel-level storage field names and that does not exist is listed as well.
    write('limit.config.ts', `export default { setupTimeoutMs: '100', storage: 'sqlte' };`);
    const backend = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(lines(backend)).toEqual([
      'limit.config.ts › setupTimeoutMs: Expected number, received string',
      expect.stringMatching(/^limit\.config\.ts › storage: "sqlte" selects the storage plugin "storage-sqlte", which is not found/),
    ]);
  });

  it('every plugin name that resolves to nothing, together', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { 'no-such-one': true, './missing': true, 'rd-fgw': true, 'no-such-two': {} } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(error.message.split('\n')[0]).toBe('3 plugins not found:');
    expect(error.message).toContain('limit.config.ts › plugins.no-such-one: Plugin "no-such-one" not found');
    expect(error.message).toContain(`limit.config.ts › plugins['./missing']: Plugin "./missing" not found: no file ${path.join(project.dir, 'missing')}`);
    expect(error.message).toContain('limit.config.ts › plugins.no-such-two: Plugin "no-such-two" not found');
    expect(error.details?.plugins).toEqual(['no-such-one', './missing', 'no-such-two']);
  });

  it('a storage-* entry that storage sets aside is reported when it names no plugin, not dropped', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlit': true, 'storage-file': true } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(error.message).toContain('Plugin "storage-sqlit" not found');
    expect(error.message).toContain('the built-in storage plugins are storage-file, storage-kv, storage-postgres, storage-sqlite');
    // A built-in backend set to true is still set aside quietly.
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-file': true, 'storage-sqlite': { path: ':memory:' } } };`);
    const rt = await createRuntime({ cwd: project.dir, env: {}, boot: false });
    try {
      expect(rt.plugins.map((p) => p.name)).toEqual(['storage-sqlite']);
    } finally {
      await rt.close();
    }
  });
});

describe('messages say where a value came from and what is allowed', () => {
  it('a check across two options names the variable that set the other one, and keeps option names as written', async () => {
    write('limit.config.json', JSON.stringify({ logLevel: 'silent', plugins: { 'runner-python': { createVenv: 'per-session' } } }));
    const error = await failure(createRuntime({ cwd: project.dir, env: { LIMIT_PYTHON_VENV: '/opt/venv' }, boot: false }));
    expect(lines(error)).toEqual([
      'limit.config.json › plugins.runner-python.createVenv: venvPath and createVenv: "per-session" exclude each other; pick one (venvPath from environment variable LIMIT_PYTHON_VENV)',
    ]);
    expect(error.fix).toBe("Correct the plugin's options in limit.config.json, the environment variable LIMIT_PYTHON_VENV (change or unset it); its README lists every option.");
    // A schema's own message that starts with an option's name is not capitalised.
    write('limit.config.json', JSON.stringify({ logLevel: 'silent', plugins: { 'runner-queue': { url: 'postgres://u@127.0.0.1:1/q', workerTimeoutMs: 1000, worker: { enabled: true, heartbeatMs: 900 } } } }));
    const heartbeat = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(lines(heartbeat)[0]).toMatch(/^limit\.config\.json › plugins\.runner-queue\.worker\.heartbeatMs: worker\.heartbeatMs must be at most half of workerTimeoutMs/);
  });

  it('STORAGE_BACKEND naming no backend names the variable and lists the built-in backends', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite' };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { STORAGE_BACKEND: 'foo' } }));
    expect(error.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(error.message).toContain('STORAGE_BACKEND=foo selects the storage plugin "storage-foo", which is not found');
    expect(error.message).toContain('built-in backend (file, kv, postgres, sqlite)');
    expect(error.fix).toContain('Set STORAGE_BACKEND to one of the built-in backends (file, kv, postgres, sqlite)');
    // From the file, the file's field is named.
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlte' };`);
    const fromFile = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(fromFile.message).toContain('limit.config.ts › storage: "sqlte" selects the storage plugin "storage-sqlte", which is not found (did you mean \'sqlite\'?)');
    expect(error.message).not.toContain('did you mean'); // foo is near no backend
    expect(fromFile.fix).toContain('Set storage in limit.config.ts to one of the built-in backends');
  });

  it('a backend name in the wrong case or with spaces is refused, quoted as given, with the built-in backends and "did you mean", never normalised', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'SQLite' };`);
    const fromFile = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(fromFile.code).toBe('LIMIT_CONFIG_INVALID');
    expect(lines(fromFile)).toEqual([
      `limit.config.ts › storage: "SQLite" is not a backend name: names are lowercase, without spaces (did you mean 'sqlite'?); the built-in backends are file, kv, postgres, sqlite`,
    ]);
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite' };`);
    for (const [value, near] of [[' sqlite ', 'sqlite'], ['Postgres', 'postgres'], ['KV\n', 'kv']] as const) {
      const fromEnv = await failure(loadConfig({ cwd: project.dir, env: { STORAGE_BACKEND: value } }));
      expect(fromEnv.code).toBe('LIMIT_CONFIG_INVALID');
      expect(lines(fromEnv)).toEqual([
        `STORAGE_BACKEND › storage: ${JSON.stringify(value)} is not a backend name: names are lowercase, without spaces (did you mean '${near}'?); the built-in backends are file, kv, postgres, sqlite (from environment variable STORAGE_BACKEND)`,
      ]);
    }
    // No near built-in: no suggestion, the built-in backends still listed.
    const other = await failure(loadConfig({ cwd: project.dir, env: { STORAGE_BACKEND: 'My Store' } }));
    expect(other.message).toContain('"My Store" is not a backend name such as "sqlite"');
    expect(other.message).toContain('the built-in backends are file, kv, postgres, sqlite');
    expect(other.message).not.toContain('did you mean');
  });

  it('an unknown key close to a known one (case, a typo) gets "did you mean", at the top level and in plugin options; others none', async () => {
    write('limit.config.ts', `export default { storag: 'sqlite', loglevel: 'warn', DataDir: 'x', colour: 'red', plugins: { 'rd-fgw': { alpa: 0.5, Epsilon: 0.1, zzz: 1 } } };`);
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(lines(error)).toEqual([
      `limit.config.ts › (root): Unrecognized keys: "storag" (did you mean 'storage'?), "loglevel" (did you mean 'logLevel'?), "DataDir" (did you mean 'dataDir'?), "colour"`,
      `limit.config.ts › plugins.rd-fgw: Unrecognized keys: "alpa" (did you mean 'alpha'?), "Epsilon" (did you mean 'epsilon'?), "zzz"`,
    ]);
    expect(error.details?.issues).toContainEqual({ path: '(root)', message: `Unrecognized keys: "storag" (did you mean 'storage'?), "loglevel" (did you mean 'logLevel'?), "DataDir" (did you mean 'dataDir'?), "colour"` });
    // The same mechanism as a backend name's: a near miss of a built-in backend is named too.
    const backend = await failure(loadConfig({ cwd: project.dir, env: { STORAGE_BACKEND: 'SQLit' } }));
    expect(backend.message).toContain(`"SQLit" is not a backend name: names are lowercase, without spaces (did you mean 'sqlite'?)`);
  });

  it('a missing option that an environment variable sets names the variable (STORAGE_BACKEND=postgres without DATABASE_URL)', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite' };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { STORAGE_BACKEND: 'postgres' } }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    // The backend's entry came from the variable, not from the file: the line says so.
    expect(error.message).toContain('\n  STORAGE_BACKEND=postgres › plugins.storage-postgres.url: Expected string, received undefined; set the environment variable DATABASE_URL');
    expect(error.message).not.toContain('limit.config.ts ›');
    expect(error.fix).toBe("Correct the plugin's options in the config's plugins entry of the backend STORAGE_BACKEND=postgres selects (or its environment variables); its README lists every option.");
    // A backend selected by the file's storage field, without an entry of its own, is the file's.
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'postgres' };`);
    const fromFile = await failure(createRuntime({ cwd: project.dir, env: {} }));
    expect(fromFile.message).toContain('\n  limit.config.ts › plugins.storage-postgres.url: Expected string, received undefined');
  });

  it('a malformed DATABASE_URL is refused with the options, naming the variable, never quoting the URL (not at boot as "Cannot reach PostgreSQL")', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite' };`);
    const refused = async (url: string) => {
      const error = await failure(createRuntime({ cwd: project.dir, env: { STORAGE_BACKEND: 'postgres', DATABASE_URL: url }, boot: false }));
      expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
      expect(error.message).not.toContain(url);
      return lines(error);
    };
    expect(await refused('postgres://u:secret@db:99999/limit')).toEqual([
      'DATABASE_URL › plugins.storage-postgres.url: Expected a well-formed postgres:// URL: the port must be a number from 1 to 65535 (postgres://user:password@host:5432/database) (from environment variable DATABASE_URL)',
    ]);
    // A bare # in the password cuts the URL there: what reads as the port is part of the password, and is not shown.
    const hash = await refused('postgres://u:xq#ss@db/limit');
    expect(hash[0]).toMatch(/^DATABASE_URL › plugins\.storage-postgres\.url: Expected a well-formed postgres:\/\/ URL: the port is not a number .*percent-encode special characters .*# as %23/);
    expect(hash[0]).not.toContain('xq');
    // Not a postgres URL at all: one line, not a second about its syntax.
    expect(await refused('db:5432')).toEqual([
      'DATABASE_URL › plugins.storage-postgres.url: Expected a postgres:// or postgresql:// URL (from environment variable DATABASE_URL)',
    ]);
    // The same check for runner-queue's url (LIMIT_QUEUE_URL); well-formed URLs pass.
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { 'runner-queue': true } };`);
    const queue = await failure(createRuntime({ cwd: project.dir, env: { LIMIT_QUEUE_URL: 'postgres://h:70000/q' }, boot: false }));
    expect(lines(queue)[0]).toMatch(/^LIMIT_QUEUE_URL › plugins\.runner-queue\.url: Expected a well-formed postgres:\/\/ URL: the port must be a number from 1 to 65535/);
    const missing = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(lines(missing)[0]).toMatch(/plugins\.runner-queue\.url: Expected a PostgreSQL URL: set url or LIMIT_QUEUE_URL \(DATABASE_URL only when storage is postgres\)/);
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'postgres' };`);
    // A query parameter node-postgres does not read would be dropped in silence (?schema= put the tables in
    // public), and ?ssl=false turned SSL on: refused, naming the parameter, never its value.
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'sqlite' };`);
    expect((await refused('postgres://u@db/limit?sslmode=disable&schema=tenant_a'))[0]).toMatch(
      /^DATABASE_URL › plugins\.storage-postgres\.url: Expected a postgres:\/\/ URL whose query parameters node-postgres reads: query parameter "schema" is not read by node-postgres \(the schema is a plugin option: storage-postgres's and runner-queue's schema\), so it would be ignored; remove it\. Read: host, port,/,
    );
    const secret = await refused('postgres://u@db/limit?sslpassword=s3cret');
    expect(secret[0]).toContain('query parameter "sslpassword" is not read by node-postgres');
    expect(secret.join('\n')).not.toContain('s3cret');
    expect((await refused('postgres://u@db/limit?connect_timeout=5'))[0]).toContain('query parameter "connect_timeout" is not read');
    expect((await refused('postgres://u@db/limit?ssl=false'))[0]).toContain('ssl must be true, 1 or 0 (node-postgres reads any other value, "false" included, as SSL on)');
    expect((await refused('postgres://u@db/limit?sslmode=requre'))[0]).toContain('sslmode must be one of disable, prefer, require, verify-ca, verify-full, no-verify');
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'postgres' };`);
    for (const url of ['postgres://u:p%23w@[::1]:5432/db', 'postgresql:///db?host=/var/run/postgresql', 'postgres://db/limit', 'postgres://u@db/limit?sslmode=disable&application_name=api-1&password=pw&ssl=0']) {
      const runtime = await createRuntime({ cwd: project.dir, env: { DATABASE_URL: url }, boot: false });
      await runtime.close();
    }
  });

  it('an invalid plugin option from a variable names the variable to change, not the preset that enabled the plugin', async () => {
    write('limit.config.ts', `export default { extends: 'default', logLevel: 'silent' };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { DATABASE_URL: 'postgres://u:pw@h/db' }, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(lines(error)).toEqual([expect.stringMatching(/^DATABASE_URL › plugins\.storage-sqlite\.url: Expected sqlite:\/\/<path> or file:<path>; .*\(from environment variable DATABASE_URL\)$/)]);
    expect(error.message).not.toContain('presets/default');
    expect(error.fix).toBe("Correct the plugin's options in the environment variable DATABASE_URL (change or unset it); its README lists every option.");
  });

  it('an invalid boolean from the environment lists the accepted spellings', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', storage: 'file' };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { LIMIT_FILE_FSYNC: 'FALSE' } }));
    expect(error.message).toContain(
      'plugins.storage-file.fsync: Expected true or false (as text: true/false, 1/0 or yes/no) (from environment variable LIMIT_FILE_FSYNC)',
    );
  });

  it('an option that is false or an object names the field inside the object, not the option as "Invalid input"', async () => {
    const toggled = definePlugin({
      meta: { name: 'toggled', version: '1.0.0' },
      options: z.object({ limit: z.union([z.literal(false), z.object({ max: z.number().int(), nested: z.union([z.literal(false), z.object({ on: z.boolean() }).strict()]).optional() }).strict()]) }).strict(),
      setup() {},
    });
    const error = await failure(createRuntime({ config: { logLevel: 'silent', plugins: { toggled: { limit: { max: 1.5, nested: { on: 'yes' } } } } }, plugins: [toggled], env: {} }));
    expect(lines(error)).toEqual(['config › plugins.toggled.limit.max: Expected int, received number', 'config › plugins.toggled.limit.nested.on: Expected boolean, received string']);
    // A value of no branch's type keeps the list of what is allowed.
    const other = await failure(createRuntime({ config: { logLevel: 'silent', plugins: { toggled: { limit: 'on' } } }, plugins: [toggled], env: {} }));
    expect(lines(other)).toEqual(['config › plugins.toggled.limit: Expected one of false or object, received string']);
  });

  it('a health() result that fails its schema is a readable message, not zod\'s JSON', async () => {
    const bad = definePlugin({ meta: { name: 'bad-health', version: '1.0.0' }, setup: () => ({ health: () => ({ status: 'great' }) as never }) });
    const rt = await createRuntime({ config: { logLevel: 'silent' }, plugins: [bad], env: {} });
    try {
      const [result] = await rt.health();
      expect(result).toEqual({
        plugin: 'bad-health',
        status: 'fail',
        checks: [],
        message: 'health() returned an invalid result: status: Expected one of "ok"|"degraded"|"fail"',
      });
    } finally {
      await rt.close();
    }
  });
});

describe('help works whatever the config', () => {
  it.each([[['--help']], [['-h']], [['help']], [['doctor', '--help']], [['help', 'doctor']]])('limit %j with a broken config prints the kernel help and a warning, exit 0', async (args) => {
    write('limit.config.ts', `export default { storage: 'sqlite', plugns: {}, logLevle: 'info' };`);
    const r = await runCli(args, { cwd: project.dir, env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: limit /);
    expect(r.stdout).toContain('doctor');
    expect(r.stderr).toContain('warning: plugin commands are unavailable because the configuration failed to load:');
    expect(r.stderr).toContain('LIMIT_CONFIG_INVALID');
    expect(r.stderr).toContain('Unrecognized keys: "plugns" (did you mean \'plugins\'?), "logLevle" (did you mean \'logLevel\'?)');
  });

  it('a plugin command\'s help with a config whose plugin fails prints the overall help and why', async () => {
    write('limit.config.ts', `export default { storage: 'sqlite', plugins: { 'api-http': true } };`);
    const r = await runCli(['serve', '--help'], { cwd: project.dir, env: { STORAGE_BACKEND: 'postgres' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Commands:');
    expect(r.stderr).toContain('DATABASE_URL');
    expect(r.stderr).toContain('`limit serve` is not a kernel command');
    // Other commands still fail with the config's error.
    const doctor = await runCli(['doctor'], { cwd: project.dir, env: { STORAGE_BACKEND: 'postgres' } });
    expect(doctor.code).toBe(1);
    expect(doctor.stderr).toContain('LIMIT_PLUGIN_OPTIONS_INVALID');
  });
});

describe('a setup that refuses its own options names where they were set, like the schema does', () => {
  const wrongDisable = (pack: string) => `governance-rules-${pack}: disable names unknown rules injection.overide`;

  it('an entry of the config file: the file and the option', async () => {
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { 'governance-rules-injection': { disable: ['injection.overide'] } } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toBe(`limit.config.ts › plugins.governance-rules-injection.disable: ${wrongDisable('injection')}`);
    expect(error.details).toMatchObject({ option: ['disable'], origin: { source: 'limit.config.ts', label: 'plugins.governance-rules-injection.disable' } });
    expect(error.fix).toContain('injection.override');
  });

  it('an option a preset set: the preset file', async () => {
    write('presets/mine.ts', `export default { plugins: { 'governance-rules-injection': { disable: ['injection.overide'] } } };`);
    write('limit.config.ts', `export default { extends: './presets/mine.ts', logLevel: 'silent' };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.message).toBe(`presets/mine.ts › plugins.governance-rules-injection.disable: ${wrongDisable('injection')}`);
  });

  it('a plugin object configured in use: its use entry', async () => {
    write('acme.ts', `import { defineRulePack } from ${JSON.stringify(KERNEL)};
export default defineRulePack({ name: 'acme-governance', pack: 'acme', version: '1.0.0', rules: [{ id: 'acme.one', flag: 'Anomaly', surfaces: ['input'], evaluate: () => [] }] });`);
    write('limit.config.ts', `import acme from './acme.ts';
export default { logLevel: 'silent', use: [acme.configure({ disable: ['acme.two'] })] };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.message).toBe('limit.config.ts › use[0] (acme-governance).disable: acme-governance: disable names unknown rules acme.two');
  });

  it('a value from an environment variable: the variable', async () => {
    write('greeter.ts', `import { definePlugin, LimitError, z } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: 'greeter', version: '1.0.0', env: { GREETING: 'greeting' } }, options: z.object({ greeting: z.string().default('hi') }).strict(), setup(_ctx, o) {
  if (o.greeting === 'boo') throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', 'greeting "boo" scares people', { details: { option: ['greeting'] } });
} });`);
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { './greeter': { greeting: 'hello' } } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { GREETING: 'boo' }, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toBe(`GREETING › plugins['./greeter'].greeting: greeting "boo" scares people`);
  });

  it('LIMIT_API_KEYS is read with the options: the variable names the entry that is wrong', async () => {
    write('limit.config.ts', `export default { extends: 'default', logLevel: 'silent', plugins: { 'api-http': {} } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: { LIMIT_API_KEYS: 'short:acme' }, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toMatch(/\n {2}LIMIT_API_KEYS › plugins\.api-http\.apiKeys: [Ee]ntry 1 is not a valid key:tenant\[\/name\]/);
  });

  it('an error without an option names the entry; an error about another plugin is left as it is', async () => {
    write('strict.ts', `import { definePlugin, LimitError } from ${JSON.stringify(KERNEL)};
export default definePlugin({ meta: { name: 'strict', version: '1.0.0' }, setup() {
  throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', process.env.OTHER ? 'not mine' : 'these options do not fit together', process.env.OTHER ? { plugin: 'other' } : {});
} });`);
    write('limit.config.ts', `export default { logLevel: 'silent', plugins: { './strict': true } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.message).toBe("limit.config.ts › plugins['./strict']: these options do not fit together");
    expect(error.plugin).toBe('strict');
    process.env.OTHER = '1';
    try {
      const other = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
      expect(other.message).toBe('not mine');
    } finally {
      delete process.env.OTHER;
    }
  });
});

describe('a JSON config file (limit.config.json, .limitrc.json)', () => {
  it('may start with a UTF-8 byte order mark, as editors write it', async () => {
    write('limit.config.json', '\uFEFF{ "tenant": "bom", "logLevel": "silent" }');
    const { config } = await loadConfig({ cwd: project.dir, env: {} });
    expect(config.tenant).toBe('bom');
  });

  it('with a syntax error: LIMIT_CONFIG_LOAD_FAILED naming the file, line and column once', async () => {
    write('.limitrc.json', '{\n  "tenant": "t",\n  "logLevel": "warn"\n  "dataDir": "d"\n}\n');
    const file = path.join(project.dir, '.limitrc.json');
    const error = await failure(loadConfig({ cwd: project.dir, env: {} }));
    expect(error.code).toBe('LIMIT_CONFIG_LOAD_FAILED');
    expect(error.message).toBe(`Could not load ${file}: invalid JSON at line 4, column 3: Expected ',' or '}' after property value`);
    expect(error.details).toEqual({ file, line: 4, column: 3 });
    expect(error.fix).toContain('.limitrc.json');
  });
});
