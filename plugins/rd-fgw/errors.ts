/**
 * Errors of the FGW solvers: LimitError with the kernel's rate–distortion codes. Every rejection names the
 * field (and index) that was wrong, so a caller can fix the input without reading the solver.
 */
import { LimitError } from 'limit-graph';

const PLUGIN = 'rd-fgw';

/** A value as a message shows it: a string quoted and said to be one (`"0" (a string)`, not a bare 0). */
export function shown(v: unknown): string {
  return typeof v === 'string' ? `${JSON.stringify(v)} (a string)` : String(v);
}

/** LIMIT_RD_INVALID_INPUT, message "<field>: <what is wrong>". */
export function invalid(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}

/**
 * Working memory of a solve of n1 × n2 nodes in MiB: an upper estimate (the solvers hold about twenty
 * n1×n2 arrays of doubles and four n×n ones; measured 116–124 MB at 800 × 800 against 137 estimated).
 */
export function workingMemoryMb(n1: number, n2: number): number {
  return (8 * (20 * n1 * n2 + 4 * (n1 * n1 + n2 * n2))) / 2 ** 20;
}

/**
 * LIMIT_PAYLOAD_TOO_LARGE before any matrix is built when a solve of n1 × n2 nodes would need more
 * than `maxMemoryMb` (undefined: no bound). `field` names the input ('source' or 'C1').
 */
export function checkMemory(n1: number, n2: number, maxMemoryMb: number | undefined, field: string): void {
  if (maxMemoryMb === undefined) return;
  const estimatedMb = Math.ceil(workingMemoryMb(n1, n2));
  if (estimatedMb <= maxMemoryMb) return;
  throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${field}: graphs of ${n1} and ${n2} nodes need about ${estimatedMb} MiB of working memory for FGW, above maxMemoryMb ${maxMemoryMb}`, {
    plugin: PLUGIN,
    details: { field, n1, n2, estimatedMb, maxMemoryMb },
    fix: `Use smaller graphs (memory grows with n1 × n2), or raise plugins['rd-fgw'].maxMemoryMb — each worker thread may then hold that much at once.`,
  });
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
