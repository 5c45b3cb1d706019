/**
 * Runs a benchmark module as a script (`npx tsx bench/<name>.ts [options]`): its figures as JSON on
 * stdout, a failure's stack on stderr and exit code 1. Not a benchmark: `limit bench` skips files
 * whose names start with "_".
 */
import { pathToFileURL } from 'node:url';

export function runAsScript(moduleUrl: string, run: (args: string[]) => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run(process.argv.slice(2)).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
