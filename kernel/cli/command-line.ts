/**
 * What a command line asks for, read the way commander parses it (positional options: each
 * command's options after its name), for the decisions `main` makes before or beside commander's
 * parse — which config to load, whether to set plugins up at all, whether an error is printed as
 * JSON. Words after `--` are operands (a task's text), and an option's value is never read as an
 * option or a command: `run python --kind prompt -- explain --config` and `governance check --text -V`
 * name no config and ask for no version.
 */
import type { Command, Option } from 'commander';

export interface CommandLine {
  /** The first two operands: the command and, for a group (`rd`), its subcommand — or the command's first argument (three after `help`: `help rd fgw`). */
  words: string[];
  /** Whether the program defines the command (a plugin's command is unknown until the plugins are set up). */
  known: boolean;
  /** The value of `--config`, given before the command or to it (the last one given). */
  config: string | undefined;
  /**
   * Whether `config` was read in a command not known yet, where it may have been another option's
   * value; `knownConfig` is then what was read before it (undefined: none).
   */
  guessed: boolean;
  knownConfig: string | undefined;
  /** `--json` given as an option. */
  json: boolean;
  /** `-h`/`--help` given as an option, or `help` as the command. */
  help: boolean;
  /** `-V`/`--version` given to the program (before any command). */
  version: boolean;
}

/**
 * Reads `args` (argv without node and the script) against `program`'s commands and options. A
 * command the program does not define is read with only the options every command has (`--config`,
 * `--help`, `--json`): its other options' values cannot be told from operands yet, so `main` reads
 * the line again once the plugins have added their commands.
 */
export function readCommandLine(program: Command, args: readonly string[]): CommandLine {
  const line: CommandLine = { words: [], known: true, config: undefined, guessed: false, knownConfig: undefined, json: false, help: false, version: false };
  let command: Command | undefined = program;
  let operands = 0; // of the current command
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg.length > 1 && arg.startsWith('-')) {
      const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
      const flag = eq > 0 ? arg.slice(0, eq) : arg;
      const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
      if (flag === '--help' || flag === '-h') {
        line.help = true;
        continue;
      }
      // In a command not known yet, `--config` takes the next word unless that looks like an option
      // (commander would take it all the same, and `main` reads the line again to see).
      const option: Pick<Option, 'long' | 'required' | 'optional' | 'variadic'> | undefined = command
        ? command.options.find((o) => o.long === flag || o.short === flag)
        : flag === '--config' ? { long: '--config', required: false, optional: true, variadic: false } : undefined;
      if (!option) {
        // Unknown here (commander will say so); without its definition, a value cannot be told apart.
        if (flag === '--json') line.json = true;
        continue;
      }
      let value = inline;
      if (value === undefined && option.required) value = args[++i];
      else if (value === undefined && option.optional && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) value = args[++i];
      if (option.variadic) while (args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
      if (option.long === '--config' && value !== undefined) {
        if (!command && !line.guessed) {
          line.guessed = true;
          line.knownConfig = line.config;
        }
        line.config = value;
      }
      else if (option.long === '--json') line.json = true;
      else if (command === program && option.long === '--version') line.version = true;
      continue;
    }
    // An operand: a command's name while the command has subcommands and no argument yet, else an argument.
    if (line.words.length < (line.words[0] === 'help' ? 3 : 2)) line.words.push(arg);
    if (command && operands === 0) {
      const sub: Command | undefined = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
      if (sub) {
        command = sub;
        continue;
      }
      if (command === program) {
        if (arg === 'help') line.help = true;
        else {
          line.known = false;
          command = undefined;
        }
      }
    }
    operands++;
  }
  return line;
}

/**
 * Gives every command of the program `--config <file>`, as the program has it: `limit serve
 * --config x.ts` means what `limit --config x.ts serve` does (options are positional: a command
 * reads those after its name).
 */
export function acceptConfigEverywhere(program: Command, description: string): void {
  const visit = (command: Command) => {
    for (const sub of command.commands) {
      if (!sub.options.some((o) => o.long === '--config')) sub.option('--config <file>', description);
      visit(sub);
    }
  };
  visit(program);
}
