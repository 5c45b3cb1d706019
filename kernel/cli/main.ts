/**
 * The `limit` command. Kernel commands (config, plugins, doctor) are defined here; plugins add
 * theirs through the `cliCommands` hook. Output contract: with `--json`, exactly one JSON document
 * on stdout (logs go to stderr); errors exit non-zero.
 */
import { Command, CommanderError } from 'commander';
import { createRuntime, type Runtime } from '../runtime.ts';
import { PACKAGE_ROOT, importFresh, loadConfig } from '../config/load.ts';
import { redactSecrets } from '../config/redact.ts';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LimitError, describeThrown, formatError, isLimitError } from '../errors.ts';
import { collectPlugins } from '../resolve.ts';
import { packageVersion } from '../package-info.ts';
import { validatePluginOptions } from '../plugin.ts';
import { temporaryFolder } from '../process-cleanup.ts';
import { booleanText } from '../option-schemas.ts';
import type { CommandRegistry } from '../hooks.ts';
import { interruptCause, interruptExitCode, processIo } from './interrupt.ts';
import { acceptConfigEverywhere, readCommandLine, type CommandLine } from './command-line.ts';
import { benchArgs, declareBenchOptions } from './bench-options.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Aborted to stop the command (see interrupt.ts); its reason is an `interruption(…)`. */
  signal?: AbortSignal;
  /** Main runs as the process (runProcess): when the event loop runs empty while the command still waits, it says so and exits 1. */
  process?: boolean;
}

const defaultIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
});

const CONFIG_HELP = 'path to limit.config.ts (default: search from the current folder)';

/** Kernel commands that set no plugins up: `config` reads the config alone, `bench` none (each benchmark builds its own runtimes). */
const CONFIG_ONLY = new Set(['config', 'bench']);

/**
 * Long-running services, whose logs are their output (request lines, workers starting and
 * stopping): they log at `info` unless the config or LIMIT_LOG_LEVEL says otherwise. Every other
 * command is interactive and logs at `warn` by default, so that its own output is not buried in
 * JSON log lines.
 */
const SERVICE_COMMANDS = new Set(['serve', 'worker']);
/** The level a command logs at unless the config or LIMIT_LOG_LEVEL sets one (`limit config` shows the other commands'). */
const defaultLogLevelOf = (command: string | undefined): 'info' | 'warn' => (command && SERVICE_COMMANDS.has(command) ? 'info' : 'warn');

/**
 * Commands that built-in plugins add through `cliCommands`, and the plugins that add them (any one
 * of them for a list). When the config does not load such a plugin, `limit <command>` says which
 * plugin to enable instead of commander's bare "unknown command". `rd` is shared: each subcommand
 * comes from its own plugin.
 */
export const PLUGIN_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  serve: ['api-http'],
  worker: ['runner-queue'],
  run: ['orchestrator'],
  export: ['orchestrator'],
  verify: ['orchestrator'],
  demo: ['orchestrator'],
  recover: ['orchestrator'],
  governance: ['governance'],
  'rd fgw': ['rd-fgw'],
  'rd rate': ['rd-rate'],
  'rd knee': ['knee-kneedle', 'knee-menger'],
  'rd plot': ['knee-kneedle', 'knee-menger'],
  rd: ['rd-fgw', 'rd-rate', 'knee-kneedle', 'knee-menger'],
};

/**
 * `limit` as a process (bin/limit.js): main under the interrupt policy of interrupt.ts. An
 * interrupted command exits as soon as it has cleaned up, whatever else still holds the event loop.
 */
export async function runProcess(argv: readonly string[] = process.argv): Promise<void> {
  const proc = processIo();
  const code = await main(argv, { ...defaultIo(), stdout: proc.stdout, stderr: proc.stderr, signal: proc.signal, process: true });
  proc.done();
  if (proc.signal.aborted) process.exit(code);
  process.exitCode = code;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv, io: CliIo = defaultIo()): Promise<number> {
  const args = argv.slice(2);
  let configFile: string | undefined;
  let runtime: Runtime | undefined;
  // Whether a plugin failed to add its commands (help then shows those there are, after the warning).
  let commandsFailed = false;
  let exitCode = 0;
  const signal = io.signal ?? new AbortController().signal;
  // Whether the command waits for SIGINT/SIGTERM as its normal end (serve, worker).
  let stopExpected = false;

  const registry: CommandRegistry = {
    program: undefined as unknown as Command, // see build()
    runtime: async () => {
      if (!runtime) throw new Error('runtime not created');
      await runtime.boot();
      signal.throwIfAborted(); // booting can take a while (a model, a sandbox probe): no work starts after a stop
      return runtime;
    },
    signal,
    untilStopped: () => {
      stopExpected = true;
      return new Promise((resolve) => {
        const stopped = () => resolve(interruptCause(signal.reason) ?? 'abort');
        if (signal.aborted) stopped();
        else signal.addEventListener('abort', stopped, { once: true });
      });
    },
    printJson: (value) => io.stdout(`${JSON.stringify(value, null, 2)}\n`),
    print: (text) => io.stdout(text.endsWith('\n') ? text : `${text}\n`),
    printStderr: (text) => io.stderr(text.endsWith('\n') ? text : `${text}\n`),
  };
  const fail = (code: number) => {
    exitCode = code;
  };
  // Whether closing a runtime failed: the command then exits 1 (closeRuntime).
  let closeFailed = false;
  /**
   * Closes a runtime — the command's, or one loaded for a config the command line turned out not to
   * name — and reports what failed. The runtime logs each failure. With --json stdout keeps its one
   * document, and each failure is also one `{ "error": … }` line on stderr, at any log level, for a
   * program to read; without, when logs are off (LIMIT_LOG_LEVEL=silent), a line of text still says
   * why it exits 1.
   */
  const closeRuntime = async (rt: Runtime): Promise<void> => {
    const report = await rt.close();
    if (report.errors.length) closeFailed = true;
    if (line.json) for (const e of report.errors) io.stderr(`${JSON.stringify({ error: e.toJSON() })}\n`);
    else if (!rt.logger.isLevelEnabled('error')) for (const e of report.errors) io.stderr(`${formatError(e)}\n`);
  };

  // bench/'s benchmarks with their options, loaded when the command line is about `bench`.
  let benchmarks: Benchmark[] | undefined;

  /** A new program with the kernel's commands, as registry.program (plugins add theirs to it). */
  const build = (): Command => {
    const program = new Command();
    registry.program = program;
    program
      .name('limit')
      .description('LIMIT-Graph: run AI agent work safely and measurably')
      .version(packageVersion())
      .option('--config <file>', CONFIG_HELP)
      .enablePositionalOptions()
      .showHelpAfterError()
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    kernelCommands(program);
    acceptConfigEverywhere(program, CONFIG_HELP);
    return program;
  };

  const kernelCommands = (program: Command): void => {

    program
      .command('config')
      .description('print the resolved configuration (secrets redacted)')
      .option('--json', 'one JSON document on stdout')
      .action(async (opts: { json?: boolean }) => {
        const { config, source } = await loadConfig({ cwd: io.cwd, configFile, env: io.env, defaultLogLevel: defaultLogLevelOf('config') });
        const entries = await collectPlugins(config, [], io.env);
        const plugins = Object.fromEntries(validatePluginOptions(entries, source).map((e) => [e.plugin.meta.name, e.options]));
        const resolved = redactSecrets({ ...config, use: config.use.map((p) => p.meta.name), plugins });
        if (opts.json) registry.printJson(resolved);
        else registry.print(`# ${config.configFile ?? '(no config file: built-in defaults)'}\n${JSON.stringify(resolved, null, 2)}`);
      });

    program
      .command('plugins')
      .description('list the assembled plugins in load order')
      .option('--json', 'one JSON document on stdout')
      .action((opts: { json?: boolean }) => {
        const list = runtime!.plugins.map(({ name, version, provides, dependsOn, setupMs, description }) => ({ name, version, provides, dependsOn, setupMs, description }));
        if (opts.json) return registry.printJson(list);
        if (list.length === 0) return registry.print('no plugins configured');
        const rows = list.map((p) => [p.name, p.version, p.provides.join(',') || '-', p.dependsOn.join(',') || '-', `${p.setupMs.toFixed(1)} ms`]);
        registry.print(table(['name', 'version', 'provides', 'dependsOn', 'setup'], rows));
      });

    program
      .command('doctor')
      .description("run every plugin's health check; exits 1 if one fails")
      .option('--json', 'one JSON document on stdout')
      .action(async (opts: { json?: boolean }) => {
        const rt = await registry.runtime();
        const results = await rt.health();
        const ok = results.every((r) => r.status !== 'fail');
        if (!ok) fail(1);
        if (opts.json) return registry.printJson({ ok, plugins: results });
        const lines = results.map((r) => {
          const checks = r.checks.map((c) => `\n    ${c.status === 'ok' ? '✓' : c.status === 'degraded' ? '!' : '✗'} ${c.name}${c.message ? `: ${c.message}` : ''}`).join('');
          return `${r.status === 'ok' ? '✓' : r.status === 'degraded' ? '!' : '✗'} ${r.plugin}: ${r.status}${r.message ? ` (${r.message})` : ''}${checks}`;
        });
        registry.print(lines.join('\n') || 'no plugins configured');
      });

    // The benchmarks' own options become the command's (loaded when the command line asks for bench),
    // so commander refuses an unknown one and takes an option before the names as well as after.
    const bench = program
      .command('bench', { hidden: !existsSync(BENCH_DIR) })
      .description('run benchmarks from bench/ of a checkout (all, or those named) and print their figures as JSON')
      .argument('[names...]', `benchmark names${benchmarks?.length ? ` (${benchmarks.map((b) => b.name).join(', ')})` : ', e.g. storage rd api'}`)
      .option('--json', 'accepted: the figures are one JSON document anyway')
      .option('--config <file>', 'refused: the benchmarks build their own runtimes and read no config');
    // An installation without bench/ declares no benchmark options: any option or name is left to the
    // action, which says that the benchmarks are not installed (not "unknown option '--rounds'").
    if (benchmarks?.length === 0) bench.allowUnknownOption().allowExcessArguments();
    const owners = new Map<string, string[]>();
    for (const b of benchmarks ?? []) for (const [name, description] of Object.entries(b.options)) owners.set(name, [...(owners.get(name) ?? []), `${b.name}: ${description}`]);
    declareBenchOptions(bench, Object.fromEntries([...owners].map(([name, descriptions]) => [name, descriptions.join('; ')])));
    bench.action(async (names: string[], opts: Record<string, unknown>) => {
      const available = benchmarks ?? [];
      if (available.length === 0) {
        throw new LimitError('LIMIT_NOT_FOUND', `No benchmarks to run: they are the files of bench/ in a checkout of the repository, and this installation has none (${BENCH_DIR})`, {
          details: { dir: BENCH_DIR },
          fix: 'Run them from a checkout of the limit-graph repository: npm ci, then npx limit bench [names…] (or npm run -s bench -- <name>).',
        });
      }
      // Ignored, it would say the benchmarks ran with that config (or, a missing file, that it exists).
      if (configFile !== undefined) {
        throw new LimitError('LIMIT_VALIDATION', `limit bench reads no config (--config ${JSON.stringify(configFile)}): each benchmark builds its own runtimes`, {
          details: { field: '--config' },
          fix: 'Leave --config out; the benchmarks take their settings from their own options (limit bench --help).',
        });
      }
      const selected = names.length ? names : available.map((b) => b.name);
      const unknown = selected.filter((n) => !available.some((b) => b.name === n));
      if (unknown.length) {
        throw new LimitError('LIMIT_VALIDATION', `Unknown benchmark ${unknown.map((n) => `"${n}"`).join(', ')}; available: ${available.map((b) => b.name).join(', ')}`, {
          details: { unknown, available: available.map((b) => b.name) },
          fix: 'Name benchmarks from the list, or none to run them all.',
        });
      }
      const chosen = selected.map((n) => available.find((b) => b.name === n)!);
      const given = bench.options.filter((o) => owners.has(o.long!.slice(2)) && opts[o.attributeName()] !== undefined);
      for (const option of given) {
        if (chosen.some((b) => option.long!.slice(2) in b.options)) continue;
        const theirs = [...new Set(chosen.flatMap((b) => Object.keys(b.options)))].map((n) => `--${n}`);
        throw new LimitError('LIMIT_VALIDATION', `${option.long} is not an option of the benchmark${chosen.length === 1 ? '' : 's'} ${selected.join(', ')}`, {
          details: { field: option.long, benchmarks: selected },
          fix: theirs.length ? `${selected.length === 1 ? 'Its' : 'Their'} options: ${theirs.join(', ')}.` : `${selected.length === 1 ? 'It takes' : 'They take'} no options.`,
        });
      }
      // Each benchmark gets the options it reads, as it reads them: `--name value` (as when it runs as a script).
      const argsOf = (b: Benchmark) => benchArgs(bench, b.options);
      const results: Record<string, unknown> = {};
      // The benchmarks make their folders (databases, sessions) in os.tmpdir(): here one folder of
      // their own, removed however the command ends — an interrupt does not wait for a benchmark to
      // finish (they take no signal), and the process exit removes it.
      const tmp = temporaryFolder('limit-bench-');
      const tmpdir = process.env.TMPDIR;
      process.env.TMPDIR = tmp.path;
      try {
        // Every chosen benchmark can run and takes its option values before any runs: a bad
        // `--rounds` of the last one is not found after the first has run for minutes.
        for (const b of chosen) {
          if (!b.run) throw new LimitError('LIMIT_VALIDATION', `bench/${b.name} cannot be run: ${b.error ?? 'it does not export run(args)'}`, { details: { file: b.file } });
          try {
            await b.parseOptions?.(argsOf(b));
          } catch (error) {
            if (!(error instanceof LimitError)) throw error;
            throw new LimitError(error.code, `benchmark ${b.name}: ${error.message}`, { cause: error, fix: error.fix, details: { ...error.details, benchmark: b.name } });
          }
        }
        for (const b of chosen) {
          io.stderr(`running benchmark ${b.name}…\n`);
          results[b.name] = await untilAborted(b.run!(argsOf(b)), signal);
        }
      } finally {
        if (tmpdir === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = tmpdir;
        if (!signal.aborted) tmp.remove(); // after an interrupt the benchmark may still be writing: the exit removes it
      }
      registry.printJson(selected.length === 1 ? results[selected[0]!] : results);
    });
  };

  let program = build();
  // Before the plugins are set up, their commands are unknown: their options are read as well as can be (see readCommandLine).
  let line = readCommandLine(program, args);
  /** Prints a failure of the command: text on stderr, and with --json the `{ "error": … }` document on stdout. */
  const report = (error: unknown) => {
    io.stderr(`${isLimitError(error) ? formatError(error) : unexpectedError(error, io.env)}\n`);
    if (line.json) io.stdout(`${JSON.stringify({ error: isLimitError(error) ? error.toJSON() : { message: describeThrown(error) } }, null, 2)}\n`);
  };
  // The event loop of a `limit` process ran empty while the command still waits: what it awaits —
  // a config function, a plugin module's top-level await, a command's action — can never settle,
  // and Node would exit 13 without a word. The awaited phases race `stall`, which then fails: the
  // failure is reported as any other (exit 1) and the runtime is still closed (shutdown taps, disposers).
  let loading: string | undefined = 'the configuration';
  let stallError: Error | undefined;
  let failStall!: (error: Error) => void;
  const stall = new Promise<never>((_, reject) => { failStall = reject; });
  stall.catch(() => undefined);
  const orStall = <T>(work: Promise<T>): Promise<T> => Promise.race([work, stall]);
  const stalled = () => {
    stallError = loading
      ? new LimitError('LIMIT_CONFIG_LOAD_FAILED', `Could not load ${loading}: it waits for a promise that can never settle (nothing is left running that could settle it)`, {
        fix: 'A config function, or the top-level await of the config file or of a plugin module, returns or awaits a promise it never resolves: resolve it, or export the configuration object itself.',
      })
      : new Error(`\`limit ${line.words.join(' ')}\` waits for a promise that can never settle (nothing is left running that could settle it)`);
    failStall(stallError);
  };
  if (io.process) process.once('beforeExit', stalled);
  try {
    if (line.words[0] === 'bench' || (line.help && helpTarget(line) === 'bench')) {
      benchmarks = await orStall(loadBenchmarks());
      program = build();
      line = readCommandLine(program, args);
    }
    const command = line.words[0];
    configFile = line.config;
    loading = configFile ?? 'the configuration';
    const needsRuntime = !(command && CONFIG_ONLY.has(command)) && !line.version;
    if (needsRuntime) {
      const defaultLogLevel = defaultLogLevelOf(command);
      // Configs that did not load, by the --config that named them.
      const failed = new Map<string | undefined, unknown>();
      let want = line.config;
      for (let attempt = 1; ; attempt++) {
        try {
          if (failed.has(want)) throw failed.get(want);
          loading = want ?? 'the configuration';
          runtime = await orStall(createRuntime({ cwd: io.cwd, configFile: want, env: io.env, boot: false, defaultLogLevel }));
        } catch (error) {
          if (line.guessed && attempt === 1 && error !== stallError) {
            // The --config read in a plugin's command may have been another option's value: the
            // config named before it tells which commands there are, and so how to read the line.
            failed.set(want, error);
            want = line.knownConfig;
            continue;
          }
          // Help works whatever the config: the kernel's commands, and why the plugins' are missing.
          if (!line.help || error === stallError) throw error;
          io.stderr(`warning: plugin commands are unavailable because the configuration failed to load:\n${indent(formatError(error))}\n\n`);
          break;
        }
        configFile = want;
        try {
          runtime.hooks.cliCommands.call(registry);
        } catch (error) {
          // Help works when a plugin fails to add its commands too: the commands added so far, and why the others are missing.
          if (!line.help) throw error;
          commandsFailed = true;
          io.stderr(`warning: some plugin commands are unavailable because a plugin failed to add them:\n${indent(formatError(error))}\n\n`);
        }
        acceptConfigEverywhere(program, CONFIG_HELP);
        // With every command known, the line reads exactly: when it names another config than the
        // one loaded, that one is loaded instead.
        line = readCommandLine(program, args);
        if (line.config === want) break;
        if (attempt === 3) {
          throw new LimitError('LIMIT_VALIDATION', `This command line names no single config file (read as ${JSON.stringify(want)}, then as ${JSON.stringify(line.config)})`, {
            fix: 'Give --config before the command: limit --config <file> <command> …',
          });
        }
        const loaded = runtime;
        runtime = undefined;
        await orStall(closeRuntime(loaded));
        program = build();
        want = line.config;
      }
      if (runtime) {
        const missing = await orStall(unavailableCommand(program, line, runtime));
        if (missing) throw missing;
        // `limit help nosuch`, `limit nosuch --help`: the unknown command is named (exit 1), not the overall help shown as if asked for.
        if (line.help && !commandsFailed && !knownCommand(program, line)) program.error(`error: unknown command '${helpTarget(line)}'`, { code: 'commander.unknownCommand' });
      }
    }
    if (command !== 'config') loading = undefined;
    signal.throwIfAborted();
    if ((!runtime || commandsFailed) && line.help && !knownCommand(program, line)) {
      // `limit serve --help` without the config that adds `serve` (or with a plugin that failed to add its commands): the overall help (exit 0), after the warning.
      const name = helpTarget(line);
      io.stderr(`\`limit ${name}\` is not a kernel command: its help comes with the plugin that adds it, ${runtime ? 'once that plugin adds its commands (see the warning above)' : 'once the configuration loads'}.\n\n`);
      program.outputHelp();
      return exitCode;
    }
    await orStall(program.parseAsync([...argv]));
  } catch (error) {
    if (signal.aborted && !stopExpected) {
      // The interrupt made it fail (an aborted run, a closed runtime): nothing to report; exit code below.
    } else if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander (to stderr), and
      // with --json they are also the promised { "error": … } document on stdout.
      exitCode = error.exitCode;
      if (line.json && exitCode !== 0) {
        const usage = new LimitError('LIMIT_VALIDATION', error.message.replace(/^error: /, ''), {
          fix: 'Run the command with --help to see its usage.',
          details: { commander: error.code },
        });
        io.stdout(`${JSON.stringify({ error: usage.toJSON() }, null, 2)}\n`);
      }
    } else {
      exitCode = 1;
      report(error);
    }
  } finally {
    process.off('beforeExit', stalled);
    if (runtime) await closeRuntime(runtime);
    if (closeFailed && exitCode === 0) exitCode = 1;
  }
  // An interrupted command exits 130/143 (0 for EPIPE) even if it finished; a service that was waiting for the stop, with its own code.
  return signal.aborted && !stopExpected ? interruptExitCode(signal.reason) : exitCode;
}

const BENCH_DIR = path.join(PACKAGE_ROOT, 'bench');

interface Benchmark {
  name: string;
  file: string;
  /** The options its run() reads (name without dashes → description). */
  options: Record<string, string>;
  run?: (args: string[]) => Promise<unknown>;
  /** Checks the values of its options (a LimitError naming the flag), as its run() does first; called for every chosen benchmark before any runs. */
  parseOptions?: (args: readonly string[]) => unknown;
  /** Why it cannot run (its module failed to load). */
  error?: string;
}

/** The benchmarks of bench/ (a checkout has them; the installed package has none), each with the options it declares. */
async function loadBenchmarks(): Promise<Benchmark[]> {
  if (!existsSync(BENCH_DIR)) return [];
  const files = readdirSync(BENCH_DIR).filter((f) => !f.startsWith('_') && /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
  return Promise.all(files.map(async (f): Promise<Benchmark> => {
    const file = path.join(BENCH_DIR, f);
    const name = f.replace(/\.(ts|js)$/, '');
    try {
      const mod = (await import(pathToFileURL(file).href)) as { run?: unknown; options?: unknown; parseOptions?: unknown };
      const options = typeof mod.options === 'object' && mod.options !== null ? (mod.options as Record<string, string>) : {};
      const parseOptions = typeof mod.parseOptions === 'function' ? { parseOptions: mod.parseOptions as Benchmark['parseOptions'] } : {};
      return typeof mod.run === 'function' ? { name, file, options, run: mod.run as Benchmark['run'], ...parseOptions } : { name, file, options, error: 'it does not export run(args)' };
    } catch (error) {
      return { name, file, options: {}, error: `it failed to load: ${error instanceof Error ? error.message : String(error)}` };
    }
  }));
}

/** What `work` resolves to, or the abort reason as soon as `signal` aborts (`work` is left to finish or fail unobserved). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined); // a failure after the abort won is nobody's to report
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * What the CLI prints for an error that is not a LimitError — a bug of limit-graph or of a plugin,
 * never the user's input: one line naming it and how to report it, not a stack trace (which
 * LIMIT_DEBUG=1 adds).
 */
export function unexpectedError(error: unknown, env: NodeJS.ProcessEnv): string {
  // A thrown value that is not an Error has no stack: described as formatError does (`undefined (thrown instead of an Error)`).
  if (!(error instanceof Error)) return formatError(error);
  const name = error.name !== 'Error' ? `${error.name}: ` : '';
  const code = typeof (error as NodeJS.ErrnoException).code === 'string' ? ` (${(error as NodeJS.ErrnoException).code})` : '';
  const lines = [`error: unexpected failure${code}: ${name}${describeThrown(error)}`, '  fix: This is a bug of limit-graph or of a plugin, not of your input: please report it with the command line; LIMIT_DEBUG=1 prints the stack.'];
  if (debugOn(env.LIMIT_DEBUG) && error.stack) lines.push(error.stack);
  return lines.join('\n');
}

/**
 * LIMIT_DEBUG: off when unset, empty, or a spelling of false as booleanText reads it (`false`, `0`,
 * `no`) or `off`, in any case; on for anything else (`1`, `true`, `yes`, `on`, …). Only `0` was off:
 * `LIMIT_DEBUG=false` printed the stack.
 */
export function debugOn(value: string | undefined): boolean {
  const text = value?.trim().toLowerCase() ?? '';
  if (text === '' || text === 'off') return false;
  const parsed = booleanText().safeParse(text);
  return parsed.success ? parsed.data : true;
}

/** The command a help request is about (`limit help <cmd>`: the word after help). */
function helpTarget(line: CommandLine): string | undefined {
  return line.words[0] === 'help' ? line.words[1] : line.words[0];
}

/** Whether the command a help request is about is defined so far. */
function knownCommand(program: Command, line: CommandLine): boolean {
  const name = helpTarget(line);
  return name === undefined || name === 'help' || program.commands.some((c) => c.name() === name || c.aliases().includes(name));
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

/** What a plugin that the built-in `default` preset leaves out needs besides its entry (the fix says it). */
const ENABLE_HINTS: Readonly<Record<string, string>> = {
  'runner-queue': "'runner-queue': { url: 'postgres://…' }, or true with LIMIT_QUEUE_URL set (DATABASE_URL only when storage is postgres: storage-sqlite reads it too)",
};

/** The plugins the built-in `default` preset enables (presets/default): what `extends: 'default'` would load. */
async function defaultPresetPlugins(): Promise<ReadonlySet<string>> {
  const file = ['ts', 'js'].map((ext) => path.join(PACKAGE_ROOT, 'presets', `default.${ext}`)).find((f) => existsSync(f));
  if (!file) return new Set();
  try {
    const plugins = ((await importFresh(file)).default as { plugins?: Record<string, unknown> } | undefined)?.plugins ?? {};
    return new Set(Object.entries(plugins).filter(([, entry]) => entry !== false).map(([name]) => name));
  } catch {
    return new Set();
  }
}

/**
 * A LIMIT_COMMAND_UNAVAILABLE error when the command line names a command of a built-in plugin
 * that this configuration does not load (so no plugin registered it), else undefined. The fix
 * offers `extends: 'default'` only when that preset loads the plugin and the config does not
 * extend it already; a plugin the preset leaves out (runner-queue) can only be enabled.
 */
async function unavailableCommand(program: Command, line: CommandLine, runtime: Runtime): Promise<LimitError | undefined> {
  // `limit help serve` asks about `serve` as `limit serve --help` does.
  const [first, second] = line.words[0] === 'help' ? line.words.slice(1) : line.words;
  if (first === undefined) return undefined;
  const group = program.commands.find((c) => c.name() === first);
  const sub = second !== undefined && PLUGIN_COMMANDS[`${first} ${second}`] ? `${first} ${second}` : undefined;
  let key: string;
  if (!group) key = sub ?? first;
  else if (sub && !group.commands.some((c) => c.name() === second)) key = sub;
  else return undefined;
  const plugins = PLUGIN_COMMANDS[key];
  if (!plugins || plugins.some((p) => runtime.plugins.some((loaded) => loaded.name === p))) return undefined;
  const file = runtime.config.configFile ? path.basename(runtime.config.configFile) : 'the configuration';
  const which = plugins.length === 1 ? `the plugin "${plugins[0]}"` : `the plugins ${plugins.map((p) => `"${p}"`).join(' or ')}`;
  const inPreset = await defaultPresetPlugins();
  const entries = plugins.map((p) => ENABLE_HINTS[p] ?? `'${p}': true`).join(' or ');
  const extendsDefault = runtime.config.presets.includes('default');
  const alternative = !plugins.some((p) => inPreset.has(p))
    ? `; extends: 'default' does not load ${plugins.length === 1 ? 'it' : 'them'}`
    : extendsDefault
      ? ` (${file} extends 'default' already: an entry set to false turns the plugin off)`
      : `, or add extends: 'default' to it (the built-in preset loads ${plugins.filter((p) => inPreset.has(p)).map((p) => `"${p}"`).join(' and ')})`;
  return new LimitError('LIMIT_COMMAND_UNAVAILABLE', `\`limit ${key}\` comes from ${which}, which ${file} does not load`, {
    details: { command: key, plugins: [...plugins], configFile: runtime.config.configFile },
    fix: `Enable it in the plugins of ${file} (${entries})${alternative}; \`limit plugins\` lists what is loaded.`,
  });
}

/** A plain text table for terminal output. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
