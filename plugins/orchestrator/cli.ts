/** `limit run`, `limit export`, `limit verify`, `limit demo`, `limit recover`. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES, LimitError, checkOutputFile, checkOutputFolder, durationMs, isLimitError, readInputText, storePaths, temporaryFolder, writeOutputFile, writeOutputFolder } from 'limit-graph';
import type { ArtifactFormat, CommandRegistry, LimitErrorCode, OutputOptions, RunOutcome } from 'limit-graph';
import { CSV_ARTIFACT_FILES, isCsvArtifact, verifyArtifactFiles } from './artifact.ts';
import { DEMO_EXPORT_FILES, formatDemo, runDemo } from './demo.ts';
import { MAX_STALE_MS } from './inputs.ts';

const FORMATS: readonly ArtifactFormat[] = ['json', 'jsonl', 'csv'];

/**
 * The largest artifact file `limit verify` reads (512 MiB, about the longest string Node can hold):
 * each file of an artifact is read whole.
 */
export const MAX_ARTIFACT_FILE_BYTES = 512 * 1024 * 1024;

/**
 * Reads an artifact: one .json/.jsonl file, or a CSV folder (its manifest.json and *.csv files).
 * Whatever cannot be read — a missing path, a pipe or device, an entry of the folder that is a
 * folder or a dangling link, a file over MAX_ARTIFACT_FILE_BYTES or not UTF-8 — is a LimitError
 * naming the path (see readInputText), never a raw exception.
 */
export async function readArtifact(target: string): Promise<{ path: string; content: string }[]> {
  if (target === '') throw new LimitError('LIMIT_VALIDATION', '<artifact> is empty: it names no file', { details: { path: target }, fix: 'Pass the .json or .jsonl file, or the CSV folder, that `limit export --out` wrote.' });
  const info = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw new LimitError('LIMIT_VALIDATION', `Cannot read ${target}: ${error.message}`, { cause: error, details: { path: target }, fix: 'Check the path and its permissions.' });
  });
  if (!info) {
    const absolute = path.resolve(target);
    throw new LimitError('LIMIT_NOT_FOUND', `File not found: ${target}${absolute === target ? '' : ` (${absolute})`}`, {
      details: { path: target },
      fix: 'Check the path: pass the .json or .jsonl file, or the CSV folder, that `limit export --out` wrote (relative paths start from the current folder).',
    });
  }
  const read = (file: string) => readInputText(file, { option: '<artifact>', maxBytes: MAX_ARTIFACT_FILE_BYTES, code: 'LIMIT_ARTIFACT_INVALID' });
  if (info.isDirectory()) {
    const names = (await readdir(target)).filter((n) => n.endsWith('.csv') || n === 'manifest.json').sort();
    if (names.length === 0) {
      throw new LimitError('LIMIT_ARTIFACT_INVALID', `${target} is a folder without manifest.json or .csv files: not a CSV artifact`, {
        details: { path: target },
        fix: 'Pass the .json or .jsonl file, or the CSV folder, that `limit export --out` wrote.',
      });
    }
    return names.map((n) => ({ path: n, content: read(path.join(target, n)) }));
  }
  const file = { path: path.basename(target), content: read(target) };
  // One file of a CSV artifact read alone would verify as a folder whose other files are missing
  // (or as JSON that does not parse), though they lie beside it: the artifact is the folder. (A json
  // or jsonl artifact named manifest.json is read as itself.)
  if (target.endsWith('.csv') || isCsvArtifact([file])) {
    const folder = path.dirname(target);
    throw new LimitError('LIMIT_ARTIFACT_INVALID', `${target} is one file of a CSV artifact; a CSV artifact is verified as its folder`, {
      details: { path: target, folder },
      fix: `Pass the folder that \`limit export --format csv --out\` wrote: limit verify ${folder}`,
    });
  }
  return [file];
}

/**
 * Writes an export: the single file to `out`, or the CSV files into the folder `out` (see
 * writeOutputFile / writeOutputFolder: no overwrite without --force, never the live store).
 */
export async function writeArtifact(out: string, files: { path: string; content: string }[], format: ArtifactFormat, options: OutputOptions = {}): Promise<string[]> {
  if (format === 'csv') return writeOutputFolder(out, files, options);
  return [await writeOutputFile(out, files[0]!.content, options)];
}

/**
 * `--older-than`: a duration as the kernel's durationMs reads it — whole milliseconds (`3600000`) or
 * an amount and a unit (`90s`, `15m`, `1.5h`, `2 days`) — from 1 ms to MAX_STALE_MS (3650 d).
 * Anything else (`1h30m`, `0`, `-1`, `soon`, ` 5m`) is LIMIT_VALIDATION naming the option and the value.
 */
function parseDuration(option: string, value: string): number {
  // Padded (" 5m"), as elsewhere on the command line, is refused: durationMs itself takes spaces around the amount.
  const ms = value.trim() === value ? durationMs(value) : undefined;
  if (ms === undefined || ms > MAX_STALE_MS) {
    throw new LimitError('LIMIT_VALIDATION', `${option} must be a duration from 1 ms to 3650 d: milliseconds (3600000) or an amount and a unit, ms, s, m, h, d or w (90s, 15m, 1.5h, 2d); got ${JSON.stringify(value)}`, {
      details: { field: option, value },
      fix: `Pass ${option} <duration>, such as ${option} 1h.`,
    });
  }
  return ms;
}

const EXPORT_USAGE = 'limit export (--session S | --trace ID…) --format json|jsonl|csv --out F';

/**
 * An input error in the words of the command line: `rename` turns the API's fields (in each issue's
 * path and message) into the command's options; the fix shows the command's `usage`.
 */
function optionError(error: unknown, rename: (text: string) => string, usage: string): unknown {
  const issues = isLimitError(error, 'LIMIT_VALIDATION') ? (error.details?.issues as { path: string; message: string }[] | undefined) : undefined;
  if (!issues?.length) return error;
  const cli = issues.map((i) => ({ option: rename(i.path), message: rename(i.message) }));
  return new LimitError('LIMIT_VALIDATION', `Invalid options: ${cli.map((i) => `${i.option}: ${i.message}`).join('; ')}`, {
    details: { issues: cli }, fix: `Correct the option named in the message: ${usage}`,
  });
}

/**
 * An export's fields as options: the API's `sessionId` is `--session`, `traceIds.2` is the third
 * `--trace` value. Quoted text (an id in a message) is left as it is.
 */
const exportFlags = (text: string) =>
  text.replace(/"(?:[^"\\]|\\.)*"|\b(sessionId|traceIds)(?:\.(\d+))?\b/g, (match, field?: string, index?: string) => {
    if (!field) return match;
    const flag = field === 'sessionId' ? '--session' : '--trace';
    return index === undefined ? flag : `${flag} value ${Number(index) + 1}`;
  });

/** failStaleRuns' fields as `limit recover`'s options. Quoted text is left as it is. */
const recoverFlags = (text: string) =>
  text.replace(/"(?:[^"\\]|\\.)*"|\b(sessionId|olderThanMs)\b/g, (match, field?: string) => (field ? (field === 'sessionId' ? '--session' : '--older-than') : match));

/**
 * The error a blocked or failed run exits with. `withStderr`: the task's stderr ends the message
 * (for --json, where the error document is all there is; in text mode it was printed to stderr).
 */
function outcomeError(outcome: RunOutcome, withStderr: boolean): LimitError | undefined {
  const { trace } = outcome;
  const details = { traceId: trace.id, status: trace.status, flags: trace.flags.map((f) => ({ kind: f.kind, severity: f.severity, reason: f.reason })) };
  if (trace.status === 'blocked' || trace.status === 'quarantined') {
    return new LimitError('LIMIT_GOVERNANCE_BLOCKED', `Trace ${trace.id} is ${trace.status}: ${[...(outcome.verdicts.input?.reasons ?? []), ...(outcome.verdicts.output?.reasons ?? [])].join('; ') || 'see its flags'}`, { details });
  }
  if (trace.status === 'error') {
    const error = trace.output?.error;
    const stderr = withStderr && trace.output?.stderr ? `\n${trace.output.stderr}` : '';
    // The fix is the one for the trace's own error (a timeout: raise timeoutMs), not the generic runner one.
    const fix = error && Object.hasOwn(ERROR_CODES, error.code) ? ERROR_CODES[error.code as LimitErrorCode].fix : undefined;
    return new LimitError('LIMIT_RUNNER_FAILED', `Trace ${trace.id} failed${error ? ` (${error.code}): ${error.message}` : ''}${stderr}`, { details, ...(fix ? { fix } : {}) });
  }
  return undefined;
}

/**
 * What a task produced, as a script run from the shell shows it: its stdout on stdout, then its
 * value (the last expression's, when the runner reports one: a string as is, anything else as
 * JSON), and its stderr on stderr — also for a task that failed, whose error follows.
 */
function printOutput(registry: CommandRegistry, output: RunOutcome['trace']['output']): void {
  if (!output) return;
  if (output.stdout) registry.print(output.stdout);
  if (output.value !== undefined && output.value !== null) registry.print(typeof output.value === 'string' ? output.value : JSON.stringify(output.value));
  if (output.stderr) registry.printStderr(output.stderr);
}

export function registerCommands(registry: CommandRegistry): void {
  const { program } = registry;

  program
    .command('run')
    .description("run a task through the governed pipeline and print what it produced: its stdout, its value, its stderr (on stderr)")
    .argument('<runner>', 'runner name (python, llama, openai, anthropic, …)')
    .argument('[task...]', 'the task, after "--" (code for code runners, a prompt for model runners)')
    .option('--session <id>', 'run in this session (created if it does not exist, left open): its record and traces are stored and later runs add to them, but runner state (Python globals, files in its folder, a model conversation) lasts for this invocation only; default: a new session closed afterwards')
    .option('--kind <kind>', 'task kind: code or prompt', 'code')
    .option('--json', 'print { trace, executed, checkpoints } as one JSON document')
    .action(async (runner: string, words: string[], opts: { session?: string; kind: string; json?: boolean }) => {
      const input = words.join(' ');
      if (opts.kind !== 'code' && opts.kind !== 'prompt') throw new LimitError('LIMIT_VALIDATION', `--kind must be code or prompt, not "${opts.kind}"`);
      const runtime = await registry.runtime();
      const runners = runtime.keys('runner:').map((k) => k.slice('runner:'.length));
      if (!input.trim() && !runners.includes(runner)) {
        // `limit run -- "print(1)"`: the first word after "--" was taken for the runner.
        throw new LimitError('LIMIT_VALIDATION', `No runner given: "${runner}" was read as the runner's name, and no runner has that name`, {
          details: { runner, runners },
          fix: `Name the runner before "--", then the task: limit run ${runners[0] ?? 'python'} -- ${JSON.stringify(runner)}${runners.length ? ` (runners: ${runners.join(', ')})` : ''}.`,
        });
      }
      if (!input.trim()) throw new LimitError('LIMIT_VALIDATION', 'No task given', { fix: `Pass the task after "--": limit run ${runner} -- "print(1)"` });
      const orchestrator = runtime.resolve('orchestrator');
      let sessionId = opts.session;
      const ephemeral = sessionId === undefined;
      if (sessionId === undefined) sessionId = (await orchestrator.openSession({ name: 'limit run' })).id;
      else if (!(await orchestrator.getSession(undefined, sessionId))) {
        // Another `limit run --session S` (another process) may create it between the look and this
        // open: that one is the session to run in, not a conflict.
        const id = sessionId;
        await orchestrator.openSession({ id, name: id }).catch(async (error: unknown) => {
          if (!isLimitError(error, 'LIMIT_CONFLICT') || !(await orchestrator.getSession(undefined, id))) throw error;
        });
      }
      try {
        // An interrupt (Ctrl-C, SIGTERM) aborts the run: its processes are killed and the trace is recorded as aborted.
        const outcome = await orchestrator.run({ sessionId, runner, task: { input, kind: opts.kind }, actor: 'cli', signal: registry.signal });
        if (!opts.json) printOutput(registry, outcome.trace.output);
        const error = outcomeError(outcome, opts.json === true);
        if (error) throw error;
        if (opts.json) registry.printJson({ trace: outcome.trace, executed: outcome.executed, checkpoints: outcome.checkpoints });
      } finally {
        if (ephemeral) await orchestrator.closeSession(undefined, sessionId);
      }
    });

  program
    .command('export')
    .description('export a session (or traces) with provenance, flags, checkpoints and RD series, plus a SHA-256 manifest')
    .option('--session <id>', 'the session to export')
    .option('--trace <ids...>', 'export these traces instead of a session')
    .requiredOption('--format <format>', 'json, jsonl or csv (csv writes a folder)')
    .requiredOption('--out <path>', 'output file (json, jsonl) or folder (csv); missing parent folders are created')
    .option('--force', 'overwrite an existing --out file (or the files of an earlier CSV export in the folder)')
    .option('--json', 'print the manifest as one JSON document')
    .action(async (opts: { session?: string; trace?: string[]; format: string; out: string; force?: boolean; json?: boolean }) => {
      if (!FORMATS.includes(opts.format as ArtifactFormat)) {
        throw new LimitError('LIMIT_VALIDATION', `--format must be one of ${FORMATS.join(', ')}, not "${opts.format}"`);
      }
      const format = opts.format as ArtifactFormat;
      const runtime = await registry.runtime();
      // Refuse an --out the export could not be written to before the export reads anything, not after.
      const output = { force: opts.force, protect: await storePaths(runtime) };
      if (format === 'csv') await checkOutputFolder(opts.out, CSV_ARTIFACT_FILES, output);
      else await checkOutputFile(opts.out, output);
      // An interrupt (Ctrl-C, SIGTERM) stops the export's reading, or its write before it begins: no file
      // is written then. A write that has begun completes (a temporary file renamed into place).
      const artifact = await runtime.resolve('orchestrator').exportArtifact({ sessionId: opts.session, traceIds: opts.trace, format, signal: registry.signal }).catch((error: unknown) => {
        throw optionError(error, exportFlags, EXPORT_USAGE);
      });
      registry.signal.throwIfAborted();
      const written = await writeArtifact(opts.out, artifact.files, format, output);
      if (opts.json) registry.printJson({ files: written, manifest: artifact.manifest });
      else {
        const m = artifact.manifest;
        registry.print([
          `exported ${m.traceIds.length} traces (${m.encoding}) to ${written.join(', ')}`,
          `provenance: ${m.provenance.verified ? 'every chain verifies' : 'SOME CHAINS DO NOT VERIFY'}`,
          ...(m.mended ? [`note: ${m.mended.length} stored text field(s) held half a surrogate pair and were exported with U+FFFD in its place (manifest.mended)`] : []),
          ...Object.entries(m.parts).map(([k, v]) => `  ${k.padEnd(12)} ${String(v.records).padStart(5)} records  sha256 ${v.sha256}`),
        ].join('\n'));
      }
    });

  program
    .command('verify')
    .description('re-check every digest and provenance chain of an exported artifact; exits 1 on tampering')
    .argument('<artifact>', 'a .json/.jsonl artifact file or a CSV artifact folder')
    .option('--json', 'print the verification as one JSON document')
    .action(async (target: string, opts: { json?: boolean }) => {
      const result = verifyArtifactFiles(await readArtifact(target));
      if (!result.ok) {
        throw new LimitError('LIMIT_ARTIFACT_INVALID', `Artifact ${target} does not verify:\n  ${result.problems.join('\n  ')}`, { details: { path: target, ...result } });
      }
      if (opts.json) registry.printJson(result);
      else registry.print(`${target}: OK — ${result.parts.length} parts match their SHA-256 digests, ${result.chains.length} provenance chains verify`);
    });

  program
    .command('recover')
    .description('record as error (LIMIT_RUN_LOST) the traces still running that were created longer ago than --older-than: runs of a process that died without shutting down')
    .requiredOption('--older-than <duration>', 'how long a trace must have been running to count as lost: milliseconds, or an amount and a unit, ms, s, m, h, d or w (90s, 1.5h, 2d); longer than any run of a live process may wait and take')
    .option('--session <id>', 'only the traces of this session')
    .option('--json', 'print { before, marked, skipped } as one JSON document')
    .action(async (opts: { olderThan: string; session?: string; json?: boolean }) => {
      const olderThanMs = parseDuration('--older-than', opts.olderThan);
      const runtime = await registry.runtime();
      // An interrupt (Ctrl-C, SIGTERM) stops it before its next trace: those marked stay marked.
      const result = await runtime.resolve('orchestrator').failStaleRuns({
        olderThanMs, ...(opts.session !== undefined ? { sessionId: opts.session } : {}), actor: 'cli', signal: registry.signal,
      }).catch((error: unknown) => {
        throw optionError(error, recoverFlags, 'limit recover --older-than <duration> [--session S]');
      });
      if (opts.json) registry.printJson(result);
      else {
        registry.print([
          `marked ${result.marked.length} trace${result.marked.length === 1 ? '' : 's'} running since before ${result.before} as error (LIMIT_RUN_LOST)${result.marked.length ? `: ${result.marked.join(', ')}` : ''}`,
          ...result.skipped.map((s) => `skipped ${s.traceId}: ${s.reason}`),
        ].join('\n'));
      }
    });

  program
    .command('demo')
    .description('run a real end-to-end session: a clean run, a blocked one, a merge, an RD knee, an export')
    .option('--out <dir>', 'folder to write the export into, kept (default: a temporary folder, removed at the end)')
    .option('--force', 'overwrite the files of an earlier export in --out')
    .option('--runner <name>', 'runner to use', 'python')
    .option('--json', 'print the summary as one JSON document')
    .action(async (opts: { out?: string; force?: boolean; runner: string; json?: boolean }) => {
      const runtime = await registry.runtime();
      // Without --out the export goes to a temporary folder, verified and then removed: nothing is
      // left behind, also when the demo is interrupted (at the latest when the process exits).
      const temporary = opts.out === undefined ? temporaryFolder('limit-demo-') : undefined;
      const out = opts.out ?? temporary!.path;
      try {
        const output = { force: opts.force, protect: await storePaths(runtime) };
        // Refuse an --out the export could not be written to before the demo runs, not after.
        await checkOutputFolder(out, DEMO_EXPORT_FILES, output);
        const summary = await runDemo(runtime, out, opts.runner, output, !temporary, registry.signal);
        if (opts.json) registry.printJson(summary);
        else registry.print(formatDemo(summary));
      } finally {
        temporary?.remove();
      }
    });
}
