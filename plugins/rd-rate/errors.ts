/**
 * Input errors of the rate computations. Every rejection names the field (and index) that was
 * wrong so a caller can fix the input.
 */
export const RD_INVALID_INPUT = 'LIMIT_RD_INVALID_INPUT' as const;
export const RD_NOT_CONVERGED = 'LIMIT_RD_NOT_CONVERGED' as const;

export type RdErrorCode = typeof RD_INVALID_INPUT | typeof RD_NOT_CONVERGED;

export class RdInputError extends Error {
  override readonly name = 'RdInputError';
  readonly code: RdErrorCode;
  /** Dotted path of the offending field, e.g. `C1[3][4]` or `source.nodes[2].features`. */
  readonly field: string;

  constructor(field: string, message: string, code: RdErrorCode = RD_INVALID_INPUT) {
    super(`${field}: ${message}`);
    this.code = code;
    this.field = field;
  }
}

export function invalid(field: string, message: string): RdInputError {
  return new RdInputError(field, message);
}
