/**
 * Option schemas for values that may arrive as text: an environment variable (meta.env) or a JSON
 * config sets a numeric option as a string, and each plugin reading it its own way (z.coerce.number,
 * Number()) took "0x1f90", "8e3", " 80" and "" as numbers.
 */
import { z } from 'zod';

/** An integer as text: decimal digits, a leading '-' at most; no sign '+', spaces, exponent, fraction, radix prefix or '_'. */
export const DECIMAL_INTEGER = /^-?\d+$/;

/**
 * An integer option (or query parameter) that may be given as text: a string must be DECIMAL_INTEGER,
 * anything else is refused with one message for every way the value can be wrong (zod's own for 'abc'
 * said "expected number, received NaN"); z.coerce (Number()) would also read "0x10", "1e1", " 10",
 * "+10", "10.0", "0b10" and "" as numbers. A number (an option in a TS config) is taken as it is.
 * Bounds are inclusive; without `max`, any safe integer ≥ `min`. When a variable set the option, the
 * config error names it after the message (`(from environment variable LIMIT_PORT)`).
 */
export function decimalInt(min: number, max?: number) {
  const error = max === undefined ? `Expected a whole number ≥ ${min}, in decimal digits` : `Expected a whole number from ${min} to ${max}, in decimal digits`;
  const int = z.number({ error }).int({ error }).min(min, { error });
  return z.preprocess((v) => (typeof v === 'string' && DECIMAL_INTEGER.test(v) ? Number(v) : v), max === undefined ? int : int.max(max, { error }));
}

/** The spellings of a boolean option given as text, and what each one means. */
const BOOLEAN_TEXT: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false };

/**
 * A boolean option that a variable in `env` (or a JSON config) may set as text: `true`/`false`,
 * `1`/`0` or `yes`/`no`, lower case; any other string ('TRUE', 'on', '') is refused with one message
 * listing the accepted spellings, as is any other type. A boolean is taken as it is.
 */
export function booleanText() {
  const error = 'Expected true or false (as text: true/false, 1/0 or yes/no)';
  return z.preprocess((v) => (typeof v === 'string' && Object.hasOwn(BOOLEAN_TEXT, v) ? BOOLEAN_TEXT[v] : v), z.boolean({ error }));
}
