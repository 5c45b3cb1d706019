/**
 * Runs a benchmark module as a script (`npx tsx bench/<name>.ts [options]`): its figures as JSON on
 * stdout. The command line is read as `limit bench <name>` reads it (kernel/cli/bench-options.ts):
 * the module's declared `options`, each `--name value` or `--name=value`; an unknown option, a
 * missing value or an argument is refused (exit 1) before anything runs, never ignored. A failure is
 * printed as the CLI prints it (`CODE: message` and `fix:`, no stack; LIMIT_DEBUG=1 adds the stack of
 * an unexpected one), exit code 1. Not a benchmark: `limit bench` skips files whose names start with "_".
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { formatError, isLimitError } from 'limit-graph';
import { benchArgs, declareBenchOptions, type BenchOptions } from '../kernel/cli/bench-options.ts';
import { unexpectedError } from '../kernel/cli/main.ts';

export function runAsScript(moduleUrl: string, run: (args: string[]) => Promise<unknown>, options: BenchOptions = {}): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const name = path.basename(fileURLToPath(moduleUrl)).replace(/\.(ts|js)$/, '');
  const command = new Command(`npx tsx bench/${name}.ts`)
    .description(`runs benchmark ${name} as \`limit bench ${name}\` does and prints its figures as JSON`)
    .option('--json', 'accepted: the figures are one JSON document anyway')
    .showHelpAfterError()
    .exitOverride();
  declareBenchOptions(command, options);
  try {
    command.parse(process.argv);
  } catch (error) {
    // commander has printed the usage error (or the help); nothing ran.
    process.exitCode = error instanceof CommanderError ? error.exitCode : 1;
    if (!(error instanceof CommanderError)) process.stderr.write(`${unexpectedError(error, process.env)}\n`);
    return;
  }
  run(benchArgs(command, options)).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`${isLimitError(error) ? formatError(error) : unexpectedError(error, process.env)}\n`);
      process.exitCode = 1;
    },
  );
}
