/**
 * Per-call options of a plugin service: the plugin's configured options are the defaults of every
 * call, and a call overrides only the keys it gives. Built for services such as `rd:fgw` and
 * `knee:kneedle`, whose every call takes a subset of the plugin's options.
 *
 * Why not `schema.partial()`: in zod 4 a partial field keeps its `.default()`, so parsing `{}` gives
 * every built-in default, and merging that over the configured options silently replaces them.
 * `callOptionsSchema` builds the per-call schema without defaults instead.
 */
import { z } from 'zod';
import { LimitError, type LimitErrorCode } from './errors.ts';

/** `T` without its outer `.default()` / `.prefault()`. */
type WithoutDefault<T> = T extends z.ZodDefault<infer I> ? WithoutDefault<I> : T extends z.ZodPrefault<infer I> ? WithoutDefault<I> : T;

/** The per-call schema of an options schema `S`: every field optional, none with a default, unknown keys refused. */
export type CallOptionsSchema<S extends z.ZodRawShape> = z.ZodObject<{ -readonly [K in keyof S]: z.ZodOptional<WithoutDefault<S[K]>> }, z.core.$strict>;

/**
 * The per-call schema of a plugin's options schema: each field optional and without its default
 * (so parsing `{ alpha: 0.3 }` gives `{ alpha: 0.3 }`, not every other field's built-in default),
 * unknown keys refused. Use it with `mergeCallOptions`.
 */
export function callOptionsSchema<S extends z.ZodRawShape>(schema: z.ZodObject<S>): CallOptionsSchema<S> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    let inner: z.ZodType = field as z.ZodType;
    while (inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault) inner = inner.unwrap() as z.ZodType;
    shape[key] = inner.optional();
  }
  return z.object(shape).strict() as unknown as CallOptionsSchema<S>;
}

export interface MergeCallOptionsSpec {
  /** The per-call schema (`callOptionsSchema(...)`): its keys are the options a call may give. */
  schema: z.ZodObject;
  /** Named in the error. */
  plugin: string;
  /** Error code of an invalid call option; default LIMIT_VALIDATION. */
  code?: LimitErrorCode;
}

/**
 * The options of one call: `defaults` (the plugin's configured options, built-in defaults already
 * applied) with the keys `call` gives (not undefined) replaced by their parsed values. No call
 * (`undefined`/`null`) gives `defaults` itself. An invalid call — an unknown key, a value out of
 * range, not an object — is a LimitError (`spec.code`) whose message and `details.field` name
 * `options.<key>`; an unknown key's message lists the keys that exist.
 */
export function mergeCallOptions<T extends object>(defaults: T, call: unknown, spec: MergeCallOptionsSpec): T {
  if (call === undefined || call === null) return defaults;
  const parsed = spec.schema.safeParse(call);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key sits on the options object itself: name the key, and the ones that exist.
    // Several unknown keys: the first is the field, the message names the others.
    const unknown = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => `options.${key}`) : undefined;
    const where = issue.path.join('.');
    const field = unknown ? unknown[0]! : where ? `options.${where}` : 'options';
    const known = Object.keys(spec.schema.shape).join(', ');
    const also = unknown && unknown.length > 1 ? `; so are ${unknown.slice(1).join(', ')}` : '';
    const message = unknown ? `unknown option${also} (the options are ${known})` : issue.message;
    throw new LimitError(spec.code ?? 'LIMIT_VALIDATION', `${field}: ${message}`, {
      plugin: spec.plugin,
      details: { field, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      fix: unknown ? `Remove ${unknown.join(', ')}, or spell ${unknown.length > 1 ? 'each' : 'it'} as one of: ${known}.` : `Correct ${field}, or leave it out to use the plugin's configured value.`,
    });
  }
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(parsed.data as Record<string, unknown>)) if (value !== undefined) out[key] = value;
  return out as T;
}
