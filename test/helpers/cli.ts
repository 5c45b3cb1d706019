/** Runs the `limit` CLI in-process (kernel/cli/main.ts) and captures what it prints. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../kernel/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'limit', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd: options.cwd,
    env: options.env,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout, stderr };
}

/**
 * Writes `<dir>/limit.config.json` for the CLI's process tests: the embedded SQLite store in `dir`,
 * the Python runner, governance with the jailbreak pack, the orchestrator and the HTTP API without
 * authentication. Returns its path.
 */
export function writeServeConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const config = path.join(dir, 'limit.config.json');
  writeFileSync(config, JSON.stringify({
    storage: 'sqlite',
    dataDir: dir,
    plugins: { 'governance-rules-jailbreak': true, governance: { packs: ['jailbreak'] }, 'runner-python': {}, orchestrator: {}, 'api-http': { auth: { mode: 'none' } } },
    ...extra,
  }));
  return config;
}
