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
  const schema = z.preprocess((v) => (typeof v === 'string' && DECIMAL_INTEGER.test(v) ? Number(v) : v), max === undefined ? int : int.max(max, { error }));
  // preprocess takes anything; typed as what it reads (a number, or decimal text from a variable), so `port: true` is a type error.
  return schema as unknown as z.ZodType<number, number | string>;
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
  const schema = z.preprocess((v) => (typeof v === 'string' && Object.hasOwn(BOOLEAN_TEXT, v) ? BOOLEAN_TEXT[v] : v), z.boolean({ error }));
  // Typed as what it reads: a boolean, or its text from a variable.
  return schema as unknown as z.ZodType<boolean, boolean | string>;
}

/**
 * A text option that is used as it is written (a path, a host, a program): not empty, and without
 * leading or trailing spaces, which an env file (`LIMIT_HOST= 0.0.0.0 `) carries into the value
 * unnoticed and which would otherwise fail later, if at all (a folder named " /data", a host
 * nothing listens on, a program not found). `expected` names the value in the message:
 * `Expected a path without leading or trailing spaces, received " /data"`; when a variable set the
 * option, the config error names it after the message.
 */
export function unpaddedText(expected: string) {
  return z
    .string()
    .min(1)
    .refine((v) => v.trim() === v, { error: (issue) => `Expected ${expected} without leading or trailing spaces, received ${JSON.stringify(issue.input)}` });
}

/**
 * A path option (a folder, a file): unpaddedText, and not starting with `~`, which no shell expands
 * in an env file or a config (`LIMIT_DATA_DIR=~/state` would be a folder named `~` under the
 * current one). `./~name` names a folder called so.
 */
export function pathText() {
  return unpaddedText('a path')
    .refine((v) => !v.startsWith('~'), { error: (issue) => `Expected a path not starting with "~" (it is not the home folder here, but a folder named "~"): write the absolute path (or ./~name for a folder named so), received ${JSON.stringify(issue.input)}` });
}

const UNIT_MS: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

/**
 * A duration in whole ms (1 or more, a safe integer): a number that is one, as it is, or text — an
 * amount and a unit (`'1 minute'`, `'10s'`, `'1.5h'`, `'2 days'`; units ms, s, m/min, h, d, w and
 * their long forms; a bare number is ms), rounded to the ms. Undefined for anything else (`'soon'`,
 * `'-5 minutes'`, `'0 s'`, `'1h30m'`; a number below 1, fractional, NaN or infinite), so each
 * caller refuses it in its own words (a config option, a command-line flag).
 */
export function durationMs(value: number | string): number | undefined {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
    const factor = match ? UNIT_MS[match[2]!.toLowerCase() || 'ms'] : undefined;
    if (!match || factor === undefined) return undefined;
    ms = Math.round(Number(match[1]) * factor);
  }
  return ms >= 1 && Number.isSafeInteger(ms) ? ms : undefined;
}
