/**
 * One policy, for every command, for a `limit` process that is told to stop. The first SIGINT or
 * SIGTERM — or an EPIPE on stdout, the reader having gone away (`limit … | head`) — aborts the
 * command's signal (`CommandRegistry.signal`): the command stops what it runs and cleans up in its
 * `finally` blocks, `main` closes the runtime (session scopes released, their tasks killed), and the process
 * exits 130 (SIGINT), 143 (SIGTERM) or, quietly, 0 (EPIPE, like other Unix tools whose reader left).
 * A second signal while that cleanup runs exits at once; the 'exit' cleanup (process-cleanup.ts)
 * still kills the process groups of the tasks that are running and removes the temporary folders and
 * the temporary files of `--out` writes (writeOutputFile/writeOutputFolder) not yet renamed into place.
 */
import os from 'node:os';
import { LimitError } from '../errors.ts';

/** A signal; EPIPE: stdout's reader went away; `stdout`: stdout cannot be written otherwise (a full disk). */
export type InterruptCause = 'SIGINT' | 'SIGTERM' | 'EPIPE' | 'stdout';

/**
 * The reason a command's signal is aborted with. A LimitError with the code of an aborted run, so
 * that a trace cut short by it records `LIMIT_RUNNER_ABORTED: Interrupted by SIGINT`.
 */
export function interruption(cause: InterruptCause, why?: string): LimitError {
  const message = cause === 'EPIPE' ? 'Stopped: the reader of stdout went away (EPIPE)' : cause === 'stdout' ? `Stopped: stdout cannot be written (${why})` : `Interrupted by ${cause}`;
  return new LimitError('LIMIT_RUNNER_ABORTED', message, { details: { interrupt: cause } });
}

/** The cause of an interruption made by `interruption`, else undefined. */
export function interruptCause(reason: unknown): InterruptCause | undefined {
  const cause = reason instanceof LimitError ? reason.details?.interrupt : undefined;
  return cause === 'SIGINT' || cause === 'SIGTERM' || cause === 'EPIPE' || cause === 'stdout' ? cause : undefined;
}

/** The exit status for an interrupted command: 128 + the signal's number, 0 for EPIPE, 1 when stdout failed otherwise (130 for an abort of unknown cause). */
export function interruptExitCode(reason: unknown): number {
  const cause = interruptCause(reason) ?? 'SIGINT';
  return cause === 'EPIPE' ? 0 : cause === 'stdout' ? 1 : 128 + os.constants.signals[cause];
}

export interface ProcessIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal: AbortSignal;
  /** Call once the command has returned: a signal from then on exits at once. */
  done(): void;
}

/**
 * Installs the policy on this process (SIGINT/SIGTERM handlers, stdout/stderr error handlers) and
 * returns the writers and the signal to run the CLI with.
 */
export function processIo(): ProcessIo {
  const controller = new AbortController();
  let stdoutOpen = true;
  let finished = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (finished || controller.signal.aborted) {
      // A second signal (or one after the command returned): exit now; the 'exit' event's cleanup still runs.
      process.exit(interruptExitCode(interruption(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT')));
    }
    process.stderr.write(`\nlimit: ${signal}: stopping and cleaning up (send ${signal} again to exit at once)\n`);
    controller.abort(interruption(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    stdoutOpen = false;
    if (controller.signal.aborted) return;
    const reason = error.code === 'EPIPE' ? interruption('EPIPE') : interruption('stdout', error.code ?? error.message);
    if (error.code !== 'EPIPE') process.stderr.write(`limit: ${reason.message}\n`);
    controller.abort(reason);
  });
  // With stderr gone there is no one left to tell anything; its writes are dropped.
  process.stderr.on('error', () => {});
  return {
    stdout: (text) => {
      if (stdoutOpen) process.stdout.write(text);
    },
    stderr: (text) => void process.stderr.write(text),
    signal: controller.signal,
    done: () => {
      finished = true;
    },
  };
}
