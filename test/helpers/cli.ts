/** Runs the `limit` CLI in-process (kernel/cli/main.ts) and captures what it prints. */
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
