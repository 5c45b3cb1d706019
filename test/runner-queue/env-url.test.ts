/**
 * runner-queue's url: the config's, else LIMIT_QUEUE_URL (which overrides it), else DATABASE_URL —
 * a fallback, only while storage-postgres (which reads it too) is enabled. DATABASE_URL never moves
 * a queue the config places elsewhere, and is not read as a queue URL under another storage.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigInput } from 'limit-graph';
import { collectPlugins } from '../../kernel/resolve.ts';
import { validatePluginOptions } from '../../kernel/plugin.ts';
import { failure, tempProject } from '../helpers/temp-project.ts';

const project = tempProject('limit-queue-url-', { 'package.json': '{ "type": "module" }' });
const APP = 'postgres://app-host:5432/app';
const QUEUE = 'postgres://queue-host:5432/queue';

/** What `limit config` resolves: each plugin's options, and the variable that set each option. */
async function resolved(config: ConfigInput, env: Record<string, string>) {
  const { config: c, source } = await loadConfig({ cwd: project.dir, config: { logLevel: 'silent', ...config }, env });
  const entries = await collectPlugins(c, [], env);
  const options = Object.fromEntries(validatePluginOptions(entries, source).map((e) => [e.plugin.meta.name, e.options as Record<string, unknown>]));
  const sources = Object.fromEntries(entries.map((e) => [e.plugin.meta.name, e.envSources]));
  return { options, sources };
}

describe('runner-queue url and DATABASE_URL', () => {
  it('a url in the config stays the queue\'s when DATABASE_URL is set for storage-postgres', async () => {
    const { options } = await resolved({ storage: 'postgres', plugins: { 'runner-queue': { url: QUEUE } } }, { DATABASE_URL: APP });
    expect(options['runner-queue']!.url).toBe(QUEUE);
    expect(options['storage-postgres']!.url).toBe(APP);
  });

  it('a url in the config is not replaced by a sqlite:// DATABASE_URL meant for storage-sqlite', async () => {
    const { options } = await resolved({ extends: 'default', plugins: { 'runner-queue': { url: QUEUE } } }, { DATABASE_URL: 'sqlite://data/app.db' });
    expect(options['runner-queue']!.url).toBe(QUEUE);
  });

  it('without a url, DATABASE_URL is the queue\'s with storage-postgres, reported against the variable', async () => {
    const { options, sources } = await resolved({ storage: 'postgres', plugins: { 'runner-queue': { runner: 'python' } } }, { DATABASE_URL: APP });
    expect(options['runner-queue']!.url).toBe(APP);
    expect(sources['runner-queue']).toEqual({ url: 'DATABASE_URL' });
    const bad = await failure(resolved({ storage: 'postgres', plugins: { 'storage-postgres': { url: APP }, 'runner-queue': true } }, { DATABASE_URL: 'mysql://x/y' }));
    expect(bad.message).toContain('DATABASE_URL › plugins.runner-queue.url: Expected a postgres:// or postgresql:// URL (from environment variable DATABASE_URL)');
  });

  it('without a url and without storage-postgres, DATABASE_URL is not read: the url is missing', async () => {
    const error = await failure(resolved({ storage: 'file', plugins: { 'runner-queue': true } }, { DATABASE_URL: APP }));
    expect(error.message).toMatch(/plugins\.runner-queue\.url: Expected a PostgreSQL URL: set url or LIMIT_QUEUE_URL/);
    expect(error.message).not.toMatch(/from environment variable DATABASE_URL/);
  });

  it('LIMIT_QUEUE_URL overrides the config\'s url and DATABASE_URL', async () => {
    const { options, sources } = await resolved({ storage: 'postgres', plugins: { 'runner-queue': { url: APP } } }, { DATABASE_URL: APP, LIMIT_QUEUE_URL: QUEUE });
    expect(options['runner-queue']!.url).toBe(QUEUE);
    expect(sources['runner-queue']).toEqual({ url: 'LIMIT_QUEUE_URL' });
  });
});
