import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime, isLimitError, loadConfig, type ConfigInput, type LimitError } from 'limit-graph';
import { KERNEL, tempProject } from '../helpers/temp-project.ts';

async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${String(error)}`);
  return error;
}
const FILE_STORAGE = path.resolve('plugins/storage-file/index.ts');
const load = (config: ConfigInput, env: NodeJS.ProcessEnv = {}) => loadConfig({ config, env });

describe('storage and storage-* plugin entries that contradict each other', () => {
  it('storage: "sqlite" with plugins["storage-sqlite"]: false is refused, naming both fields', async () => {
    const error = await failure(load({ storage: 'sqlite', plugins: { 'storage-sqlite': false } }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message).toContain('config › plugins.storage-sqlite: false disables the backend that storage: "sqlite" selects');
  });

  it('options for another backend than the one storage selects are refused, not dropped', async () => {
    const error = await failure(load({ storage: 'sqlite', plugins: { 'storage-postgres': { url: 'postgres://db/x' } } }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    expect(error.message).toContain('config › plugins.storage-postgres: options for "storage-postgres", but storage: "sqlite" selects "storage-sqlite"');
    expect(error.message).toContain('set storage: "postgres"');
  });

  it('the same options under a preset that selects sqlite are refused too (the merged config decides)', async () => {
    const error = await failure(load({ extends: 'default', plugins: { 'storage-postgres': { url: 'postgres://db/x' } } }));
    expect(error.message).toContain('plugins.storage-postgres');
  });

  it('still valid: the selected backend with options or true, another backend set to true or false, and STORAGE_BACKEND switching backends', async () => {
    // Accepted as written: the selected backend keeps its options, the others their true or false.
    const sqlite = (await load({ storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:' }, 'storage-file': true, 'storage-kv': false } })).config;
    expect(sqlite.storage).toBe('sqlite');
    expect(sqlite.plugins).toEqual({ 'storage-sqlite': { path: ':memory:' }, 'storage-file': true, 'storage-kv': false });
    const postgres = (await load({ extends: 'default', storage: 'postgres', plugins: { 'storage-postgres': { url: 'postgres://db/x' } } })).config;
    expect(postgres.storage).toBe('postgres');
    expect(postgres.plugins['storage-postgres']).toEqual({ url: 'postgres://db/x' });
    // The environment is an override: it selects its backend and the file's other entries are set aside.
    const { config } = await load({ storage: 'sqlite', plugins: { 'storage-sqlite': { path: 'x.db' } } }, { STORAGE_BACKEND: 'postgres' });
    expect(config.storage).toBe('postgres');
  });
});

describe('a storage backend written in the project (a plugin named storage-<name> listed by path or in use)', () => {
  const project = tempProject('limit-own-storage-', {
    'package.json': '{ "type": "module" }',
    // A backend of one's own that keeps its records with the file backend (the kernel refuses a storage without the contract's methods).
    'plugins/storage-mine.ts': `import { definePlugin } from ${JSON.stringify(KERNEL)};
import { FileStorage } from ${JSON.stringify(FILE_STORAGE)};
export default definePlugin({ meta: { name: 'storage-mine', version: '1.0.0', provides: ['storage'] }, setup(ctx) { ctx.provide('storage', new FileStorage({ root: ctx.config.dataDir + '/mine', fsync: false, maxRecordBytes: 4194304, staleLockMs: 30000 })); } });`,
  });
  const storageOf = async (config: string, env: NodeJS.ProcessEnv = {}) => {
    project.write('limit.config.ts', `import mine from './plugins/storage-mine.ts';\nvoid mine;\nexport default ${config};`);
    const rt = await createRuntime({ cwd: project.dir, env, boot: false });
    try {
      return rt.plugins.filter((p) => p.provides.includes('storage')).map((p) => p.name);
    } finally {
      await rt.close();
    }
  };

  it("storage: '<name>' selects it by path or in use, under extends: 'default' too, and drops the preset's sqlite", async () => {
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'mine', plugins: { './plugins/storage-mine': {} } }`)).toEqual(['storage-mine']);
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'mine', use: [mine] }`)).toEqual(['storage-mine']);
    expect(await storageOf(`{ logLevel: 'silent', storage: 'mine', plugins: { './plugins/storage-mine': true, 'storage-sqlite': true } }`)).toEqual(['storage-mine']);
  });

  it('storage and STORAGE_BACKEND switch between it and the built-ins: the other storage plugins, by path or in use, are dropped', async () => {
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'kv', use: [mine] }`)).toEqual(['storage-kv']);
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'kv', plugins: { './plugins/storage-mine': true } }`)).toEqual(['storage-kv']);
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'mine', use: [mine] }`, { STORAGE_BACKEND: 'sqlite' })).toEqual(['storage-sqlite']);
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', plugins: { './plugins/storage-mine': { } } }`, { STORAGE_BACKEND: 'mine' })).toEqual(['storage-mine']);
    expect(await storageOf(`{ extends: 'default', logLevel: 'silent', storage: 'mine', plugins: { './plugins/storage-mine': { } } }`, { STORAGE_BACKEND: 'file' })).toEqual(['storage-file']);
  });

  it('listed while a preset selects another backend: LIMIT_CONFIG_INVALID naming the entry, with the storage to set', async () => {
    project.write('limit.config.ts', `import mine from './plugins/storage-mine.ts';\nexport default { extends: 'default', logLevel: 'silent', use: [mine], plugins: { './plugins/storage-mine': {} } };`);
    const error = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_CONFIG_INVALID');
    const lines = error.message.split('\n').slice(1).map((l) => l.trim());
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^limit\.config\.ts › plugins\['\.\/plugins\/storage-mine'\]: options for "storage-mine", but storage: "sqlite" \(set in .*presets\/default\.ts\) selects "storage-sqlite" and drops every other storage plugin; set storage: "mine" in limit\.config\.ts to use it, or remove this entry$/);
    expect(lines[1]).toMatch(/^limit\.config\.ts › use\[0\]: "storage-mine" is a storage plugin, but storage: "sqlite" \(set in .*\) selects "storage-sqlite" .*; set storage: "mine" in limit\.config\.ts to use it/);
  });

  it("storage: '<name>' that nothing provides says how to list a backend of one's own; two providers are told which storage to set", async () => {
    project.write('limit.config.ts', `export default { extends: 'default', logLevel: 'silent', storage: 'mine' };`);
    const missing = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(missing.code).toBe('LIMIT_PLUGIN_NOT_FOUND');
    expect(missing.fix).toContain(`a backend of your own named "storage-mine" must also be listed in limit.config.ts: its path in plugins ('./plugins/storage-mine': true) or its plugin object in use`);
    project.write('limit.config.ts', `export default { logLevel: 'silent', plugins: { 'storage-sqlite': true, './plugins/storage-mine': true } };`);
    const two = await failure(createRuntime({ cwd: project.dir, env: {}, boot: false }));
    expect(two.code).toBe('LIMIT_PLUGIN_PROVIDER_CONFLICT');
    expect(two.fix).toBe("Keep one backend: set storage: 'sqlite' or storage: 'mine' in limit.config.ts and remove the other plugin's entry there (storage also drops the storage plugins a preset enables).");
  });
});
