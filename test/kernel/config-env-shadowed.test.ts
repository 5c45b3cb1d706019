/**
 * A variable overrides the option it sets, not another option a plugin prefers to it: storage-sqlite's
 * `path` over `url` (DATABASE_URL), runner-python's `venvPath` over `python` (LIMIT_PYTHON). The
 * variable is then not used, and the plugin says so at start, instead of nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, createRuntime, type ConfigInput } from 'limit-graph';
import { tempProject } from '../helpers/temp-project.ts';

const project = tempProject('limit-env-shadowed-', { 'package.json': '{ "type": "module" }' });

/** Starts (without booting) a runtime for `config`, and returns its warnings. */
async function warnings(config: ConfigInput, env: Record<string, string>): Promise<{ msg: string; [k: string]: unknown }[]> {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) as never });
  const runtime = await createRuntime({ cwd: project.dir, config, env, logger, boot: false });
  await runtime.close();
  return lines.map((l) => JSON.parse(l) as { msg: string });
}

describe('a variable whose option another option wins over', () => {
  it('storage-sqlite: path wins over DATABASE_URL, with a warning that does not quote the URL', async () => {
    const url = `sqlite://${path.join(project.dir, 'prod', 'prod.db')}`;
    const logged = await warnings({ storage: 'sqlite', plugins: { 'storage-sqlite': { path: 'data/dev.db' } } }, { DATABASE_URL: url });
    expect(logged).toEqual([expect.objectContaining({ plugin: 'storage-sqlite', path: 'data/dev.db', msg: 'storage-sqlite: path is set, so it is the database; the url option (or DATABASE_URL) is not used' })]);
    expect(JSON.stringify(logged)).not.toContain('prod.db');
    expect(existsSync(path.join(project.dir, 'prod'))).toBe(false);
    // Without path, DATABASE_URL is the database, and nothing is said.
    expect(await warnings({ storage: 'sqlite' }, { DATABASE_URL: url })).toEqual([]);
  });

  it('runner-python: venvPath wins over LIMIT_PYTHON, with a warning', async () => {
    const logged = await warnings({ plugins: { 'runner-python': { venvPath: '/opt/venv' } } }, { LIMIT_PYTHON: '/usr/bin/python3' });
    expect(logged).toEqual([expect.objectContaining({ plugin: 'runner-python', msg: 'runner-python: venvPath is set, so its bin/python runs every session; the python option (or LIMIT_PYTHON) is not used' })]);
  });
});
