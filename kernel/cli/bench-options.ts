/**
 * How a benchmark's options are read from a command line — by `limit bench` and by a benchmark run
 * as a script (`npx tsx bench/<name>.ts`, bench/_script.ts) alike: commander parses them, so both
 * refuse an unknown option or a missing value, and both take `--name value` and `--name=value`.
 * The benchmark's run(args) then gets the options it declares as `--name value`.
 */
import type { Command } from 'commander';

/** A benchmark's options: name without dashes → description (its module's `options` export). */
export type BenchOptions = Readonly<Record<string, string>>;

/** Declares each option as `--<name> <value>` on `command`, with its description. */
export function declareBenchOptions(command: Command, options: BenchOptions): void {
  for (const [name, description] of Object.entries(options).sort(([a], [b]) => a.localeCompare(b))) command.option(`--${name} <value>`, description);
}

/** The options of `options` that the parsed `command` was given, as a benchmark's run(args) reads them: `--name value`. */
export function benchArgs(command: Command, options: BenchOptions): string[] {
  const given = command.opts();
  return command.options
    .filter((o) => o.long !== undefined && Object.hasOwn(options, o.long.slice(2)) && given[o.attributeName()] !== undefined)
    .flatMap((o) => [o.long!, String(given[o.attributeName()])]);
}
