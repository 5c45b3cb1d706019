/**
 * Errors of the Kneedle detector: LimitError with the kernel's rate–distortion code. Every rejection
 * names the field that was wrong, so a caller can fix the input without reading the solver.
 */
import { LimitError } from 'limit-graph';

export const PLUGIN = 'knee-kneedle';

/** LIMIT_RD_INVALID_INPUT, message "<field>: <what is wrong>". */
export function invalid(field: string, message: string): LimitError {
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: ${message}`, { plugin: PLUGIN, details: { field } });
}
