/**
 * Errors of the FGW solvers: LimitError with the kernel's rate–distortion codes. Every rejection names the
 * field (and index) that was wrong, so a caller can fix the input without reading the solver.
 */
import { LimitError } from 'limit-graph';

const PLUGIN = 'rd-fgw';

/** LIMIT_RD_INVALID_INPUT, message "<field>: <what is wrong>". */
export function invalid(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}

/** LIMIT_RD_NOT_CONVERGED, for a computation that could not produce a finite answer. */
export function notConverged(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_NOT_CONVERGED', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}

/**
 * A wall-clock budget for one FGW computation: `at` is a performance.now() instant. Solvers test it
 * once per outer iteration and every few inner sweeps/pivots (one performance.now() call), so a
 * computation stops within about one inner step of the limit.
 */
export interface Deadline {
  readonly at: number;
  readonly start: number;
  readonly limitMs: number;
}

/** The deadline of a computation starting now, or undefined (no limit) when `timeLimitMs` is undefined or ∞. */
export function deadlineOf(timeLimitMs: number | undefined): Deadline | undefined {
  if (timeLimitMs === undefined || timeLimitMs === Infinity) return undefined;
  if (typeof timeLimitMs !== 'number' || !(timeLimitMs > 0)) throw invalid('timeLimitMs', `must be a number > 0 (ms), got ${String(timeLimitMs)}`);
  const start = performance.now();
  return { at: start + timeLimitMs, start, limitMs: timeLimitMs };
}

/** Throws LIMIT_RD_NOT_CONVERGED when the deadline has passed; `where` says how far the solver got. */
export function checkDeadline(deadline: Deadline | undefined, where: string): void {
  if (deadline === undefined) return;
  const now = performance.now();
  if (now <= deadline.at) return;
  const elapsedMs = Math.round(now - deadline.start);
  throw new LimitError('LIMIT_RD_NOT_CONVERGED', `timeLimitMs: the FGW computation was stopped at its time limit of ${deadline.limitMs} ms (${elapsedMs} ms elapsed, ${where})`, {
    plugin: PLUGIN,
    details: { field: 'timeLimitMs', timeLimitMs: deadline.limitMs, elapsedMs, where },
    fix: 'Use smaller graphs, a lower maxIter, or (entropic) a larger epsilon; or raise the time limit (timeLimitMs; over HTTP, the api-http option rdTimeLimitMs).',
  });
}
