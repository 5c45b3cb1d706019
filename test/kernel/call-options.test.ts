/**
 * callOptionsSchema / mergeCallOptions: a call overrides only the keys it gives (zod 4's
 * `.partial()` keeps each field's default, which replaced configured options with built-in ones).
 */
import { describe, expect, it } from 'vitest';
import { callOptionsSchema, mergeCallOptions, z } from 'limit-graph';

const Options = z
  .object({
    mode: z.enum(['a', 'b']).default('a'),
    level: z.number().min(0).max(10).default(5),
    label: z.string().prefault('x'),
    limit: z.number().positive().optional(),
  })
  .strict();
const Call = callOptionsSchema(Options);
const spec = { schema: Call, plugin: 'demo', code: 'LIMIT_RD_INVALID_INPUT' } as const;

describe('callOptionsSchema / mergeCallOptions', () => {
  it('the call schema applies no defaults (what .partial() does in zod 4)', () => {
    expect(Options.partial().parse({})).toMatchObject({ mode: 'a', level: 5 });
    expect(Call.parse({})).toEqual({});
    expect(Call.parse({ level: 2 })).toEqual({ level: 2 });
  });

  it('a call overrides only the keys it gives; no call, {} or undefined values keep the configured options', () => {
    const configured = Options.parse({ mode: 'b', level: 9, label: 'y' });
    expect(mergeCallOptions(configured, undefined, spec)).toBe(configured);
    expect(mergeCallOptions(configured, {}, spec)).toEqual(configured);
    expect(mergeCallOptions(configured, { level: undefined, limit: 3 }, spec)).toEqual({ ...configured, limit: 3 });
    expect(mergeCallOptions(configured, { level: 1 }, spec)).toEqual({ mode: 'b', level: 1, label: 'y' });
  });

  it('an unknown key, a bad value or a non-object is a LimitError naming options.<key>', () => {
    const configured = Options.parse({});
    expect(() => mergeCallOptions(configured, { levle: 1 }, spec)).toThrow(/options\.levle: unknown option \(the options are mode, level, label, limit\)/);
    try {
      mergeCallOptions(configured, { level: 11 }, spec);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_RD_INVALID_INPUT', plugin: 'demo', details: { field: 'options.level' } });
    }
    expect(() => mergeCallOptions(configured, 'fast', spec)).toThrow(/^options: /);
    // Several unknown keys: the first is the field (a real path), the message and fix name every one.
    expect(() => mergeCallOptions(configured, { levle: 1, lable: 'x' }, spec)).toThrow(expect.objectContaining({
      message: 'options.levle: unknown option; so are options.lable (the options are mode, level, label, limit)',
      details: expect.objectContaining({ field: 'options.levle' }),
      fix: 'Remove options.levle, options.lable, or spell each as one of: mode, level, label, limit.',
    }));
  });
});
