import { describe, expect, it } from 'vitest';
import { isLimitError, loadConfig, type ConfigInput, type LimitError } from 'limit-graph';

async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${String(error)}`);
  return error;
}
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
    await expect(load({ storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:' }, 'storage-file': true, 'storage-kv': false } })).resolves.toBeDefined();
    await expect(load({ extends: 'default', storage: 'postgres', plugins: { 'storage-postgres': { url: 'postgres://db/x' } } })).resolves.toBeDefined();
    // The environment is an override: it selects its backend and the file's other entries are set aside.
    const { config } = await load({ storage: 'sqlite', plugins: { 'storage-sqlite': { path: 'x.db' } } }, { STORAGE_BACKEND: 'postgres' });
    expect(config.storage).toBe('postgres');
  });
});
