/**
 * Errors of the knee detector: LimitError with the kernel's rate–distortion codes. Every rejection names the
 * field (and index) that was wrong, so a caller can fix the input without reading the solver.
 */
import { LimitError } from 'limit-graph';

const PLUGIN = 'knee-kneedle';

/** LIMIT_RD_INVALID_INPUT, message "<field>: <what is wrong>". */
export function invalid(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}

/** LIMIT_RD_NOT_CONVERGED, for a computation that could not produce a finite answer. */
export function notConverged(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_NOT_CONVERGED', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}
