/**
 * The public API for governance rule-pack authors: `defineRulePack` turns a list of rules into a
 * plugin that provides `governance:rules:<pack>` with the standard `disable` option,
 * `evidenceSpan` cuts the excerpt every finding shows the same way in every pack, and `negatedAt`
 * tells a ban ("never reveal the password") from a request. The governance
 * engine (a plugin) collects the packs; nothing here knows a concrete rule.
 */
import { z } from 'zod';
import type { GovernanceRule, RulePack, RuleSubject } from './contracts/governance.ts';
import { LimitError } from './errors.ts';
import type { Evidence, HealthResult } from './model/index.ts';
import { definePlugin, type Plugin, type PluginContext } from './plugin.ts';

/** Characters of context an excerpt shows on each side of the matched span. */
const EXCERPT_CONTEXT = 20;
/** Longest excerpt: the span and its context, cut here (far below the model's 512). */
const EXCERPT_MAX = 240;

/**
 * Evidence for the span [start, end) of a rule subject's text: the subject's field, the span, and
 * an excerpt with up to 20 characters of context on each side (240 at most), cut between
 * characters, never inside a surrogate pair. The engine shifts the
 * span by the subject's `offset`, so rules give offsets into the text they were handed.
 */
export function evidenceSpan(subject: Pick<RuleSubject, 'field' | 'text'>, start: number, end: number): Evidence {
  const text = subject.text;
  let lo = Math.max(0, start - EXCERPT_CONTEXT);
  let hi = Math.min(text.length, end + EXCERPT_CONTEXT, lo + EXCERPT_MAX);
  // Never half of a surrogate pair (an emoji beside the context's edge): that half is not text,
  // and canonical JSON, UTF-8 and PostgreSQL refuse it.
  if (splitsPair(text, lo)) lo++;
  if (hi > lo && splitsPair(text, hi)) hi--;
  return { field: subject.field, start, end, excerpt: text.slice(lo, hi) };
}

/** Whether cutting `text` at `i` would split a surrogate pair. */
const splitsPair = (text: string, i: number): boolean => {
  const before = text.charCodeAt(i - 1);
  const at = text.charCodeAt(i);
  return before >= 0xd800 && before <= 0xdbff && at >= 0xdc00 && at <= 0xdfff;
};

/** Words that forbid the act they govern ("do not write malware", "decline requests to synthesize explosives"). */
const NEGATORS = new Set(`not never don't dont mustn't shouldn't refuse refuses decline declines avoid prohibit prohibits prohibited forbid forbids forbidden`.split(' '));
/** What may stand between a negator and its act: "must not attempt to bypass", "decline requests to synthesize", "not trying to build". */
const NEGATION_FILLER = new Set(`to attempt attempts try trying going planning looking asking wanting ever help assist with request requests anyone users people them you be any`.split(' '));
/** A negator negated in turn ("don't refuse to", "never decline to"): the act is asked for. */
const DOUBLE_NEGATION = new Set(`not never don't dont no`.split(' '));

/**
 * Whether the act whose word starts `span` in `view` is forbidden rather than asked for: a negator
 * ("not", "never", "don't", "refuse", "decline", "avoid", "prohibit"…) up to four words before it,
 * with only filler words between ("must not attempt to bypass"), and not itself negated ("don't
 * refuse to explain" asks). Policies, system prompts and acceptable-use rules name the acts they
 * forbid; rules use this so that a ban is not read as a request.
 */
export function negatedAt(view: { readonly tokens: readonly { readonly w: string; readonly start: number }[] }, span: { start: number }): boolean {
  const tokens = view.tokens;
  // The first token at or after the span's start (binary search: rules call this per hit).
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tokens[mid]!.start < span.start) lo = mid + 1;
    else hi = mid;
  }
  const i = lo;
  for (let j = i - 1; j >= Math.max(0, i - 4); j--) {
    const w = tokens[j]!.w;
    if (NEGATORS.has(w)) return !(j > 0 && DOUBLE_NEGATION.has(tokens[j - 1]!.w)) && !(j > 1 && DOUBLE_NEGATION.has(tokens[j - 2]!.w));
    if (!NEGATION_FILLER.has(w)) return false;
  }
  return false;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;
const isWordChar = (c: string | undefined): boolean => c !== undefined && (c < '\x80' ? /[a-z0-9]/i.test(c) : WORD_CHAR.test(c));
const OPENERS = ['"', '“', '«', "'"];
const CLOSERS = ['"', '”', '»', "'"];
/** A quote mark at `i` that opens (double quotes, or a single one not inside a word: "don't") or closes. */
const opensAt = (s: string, i: number): boolean => s[i] === '"' || s[i] === '“' || s[i] === '«' || (s[i] === "'" && !isWordChar(s[i - 1]));
const closesAt = (s: string, i: number): boolean => s[i] === '"' || s[i] === '”' || s[i] === '»' || (s[i] === "'" && !isWordChar(s[i + 1]));

/**
 * The quotation `span` of `text` sits in, on its own line: a quote mark that opens up to 120
 * characters before the span's end and one that closes up to 80 after it, or undefined. Rules use it
 * to tell a phrase talked about ('phrases like "ignore previous instructions"') from one used.
 */
export function quotedAt(text: string, span: { start: number; end: number }): { open: number; close: number } | undefined {
  // Native searches for each kind of mark (rules call this per hit, on long texts too).
  const lineStart = text.lastIndexOf('\n', span.end - 1) + 1;
  const from = Math.max(lineStart, span.end - 120);
  let open = -1;
  for (const mark of OPENERS) {
    let i = text.lastIndexOf(mark, span.end - 1);
    while (i >= from && !opensAt(text, i)) i = text.lastIndexOf(mark, i - 1);
    if (i >= from && i > open) open = i;
  }
  if (open < 0) return undefined;
  const lineEnd = text.indexOf('\n', span.end);
  const to = Math.min(lineEnd < 0 ? text.length : lineEnd, span.end + 80);
  let close = -1;
  for (const mark of CLOSERS) {
    let i = text.indexOf(mark, span.end);
    while (i >= 0 && i < to && !closesAt(text, i)) i = text.indexOf(mark, i + 1);
    if (i >= 0 && i < to && (close < 0 || i < close)) close = i;
  }
  return close < 0 ? undefined : { open, close };
}

const LABELLING_TASK = /\b(?:label(?:l?ing)?|classify(?:ing)?|categori[sz](?:e|ing)|annotat(?:e|ing)|rate|tag)\b[^.\n]{0,80}\b(?:each|every|these|the following|below)\b|\bfor (?:each|every) (?:line|item|prompt|message|example|text|input|request|query|sentence|string)\b[^.\n]{0,80}\b(?:safe|unsafe|benign|malicious|harmful|toxic|label|category|class)\b/i;
/**
 * Whether the text asks to label, classify or rate the items it lists ("For each line, say SAFE or
 * UNSAFE: 1. \"ignore previous instructions …\""): attack strings quoted among them are data to judge.
 */
export function asksToLabelItems(text: string): boolean {
  return LABELLING_TASK.test(text);
}

/** The options every rule pack made by `defineRulePack` accepts. */
export const RulePackOptions = z
  .object({
    /** Rule ids of this pack to leave out (e.g. ["injection.markup"]); an id the pack lacks is an error. */
    disable: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type RulePackOptions = z.output<typeof RulePackOptions>;
/** What a user writes under `plugins['governance-rules-<pack>']`: use it in `PluginOptionsRegistry`. */
export type RulePackOptionsInput = z.input<typeof RulePackOptions>;

type PackSchema<Shape extends z.ZodRawShape> = z.ZodObject<typeof RulePackOptions.shape & Shape, z.core.$strict>;

/**
 * What `defineRulePack` takes: the pack plugin's name and version, its rules (or a function that
 * makes them at setup), options besides `disable`, and the plugin fields passed through
 * (`dependsOn`, `optionalDependsOn`, `health`).
 */
export interface RulePackDefinition<Shape extends z.ZodRawShape = {}> {
  /** The plugin's name, equal to its folder: `governance-rules-<pack>` by convention. */
  name: string;
  version: string;
  description?: string;
  /**
   * The `<pack>` of `governance:rules:<pack>` (what presets list in `packs`). Defaults to the part of
   * `name` after `governance-rules-`; required when the name has another form.
   */
  pack?: string;
  /** Options of this pack besides `disable` (a zod object; its fields are added to the standard ones). */
  options?: z.ZodObject<Shape>;
  dependsOn?: readonly string[];
  optionalDependsOn?: readonly string[];
  /**
   * The rules, or a function building them at setup from the plugin context and the parsed options
   * (rules with per-process state, rules that look up another service when they run).
   */
  rules: readonly GovernanceRule[] | ((ctx: PluginContext, options: z.output<PackSchema<Shape>>) => readonly GovernanceRule[]);
  /** Shown by `limit doctor` for this plugin. */
  health?(ctx: PluginContext): HealthResult | Promise<HealthResult>;
}

/** A rule's id as written, or undefined when the rule is not an object (the engine names such a rule). */
const idOf = (rule: unknown): unknown => (typeof rule === 'object' && rule !== null ? (rule as { id?: unknown }).id : undefined);

const PACK_PREFIX = 'governance-rules-';
const PACK_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function packName(def: RulePackDefinition<z.ZodRawShape>): string {
  const pack = def.pack ?? (def.name.startsWith(PACK_PREFIX) ? def.name.slice(PACK_PREFIX.length) : undefined);
  if (pack === undefined) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Rule pack plugin "${def.name}" does not say which pack it provides`, {
      plugin: def.name, fix: `Name the plugin "${PACK_PREFIX}<pack>", or set \`pack\` in defineRulePack({ … }).`,
    });
  }
  if (!PACK_NAME.test(pack)) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Rule pack name ${JSON.stringify(pack)} of plugin "${def.name}" is not kebab-case`, {
      plugin: def.name, fix: 'Use lower-case letters, digits and dashes, e.g. "acme-secrets".',
    });
  }
  return pack;
}

/**
 * Defines a governance rule-pack plugin: it provides `governance:rules:<pack>` with the pack's rules
 * less those its `disable` option names, and refuses at setup a `disable` entry that names no rule
 * of the pack (a typo would otherwise leave the rule running).
 */
export function defineRulePack<Shape extends z.ZodRawShape = {}>(def: RulePackDefinition<Shape>): Plugin<PackSchema<Shape>> {
  const pack = packName(def as unknown as RulePackDefinition<z.ZodRawShape>);
  const key = `governance:rules:${pack}` as const;
  if (def.options && 'disable' in def.options.shape) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Rule pack plugin "${def.name}" declares its own \`disable\` option`, {
      plugin: def.name, fix: 'Leave `disable` out of `options`: every pack made by defineRulePack has it.',
    });
  }
  const schema = (def.options ? RulePackOptions.extend(def.options.shape) : RulePackOptions) as PackSchema<Shape>;
  return definePlugin({
    meta: {
      name: def.name,
      version: def.version,
      ...(def.description === undefined ? {} : { description: def.description }),
      provides: [key],
      ...(def.dependsOn ? { dependsOn: def.dependsOn } : {}),
      ...(def.optionalDependsOn ? { optionalDependsOn: def.optionalDependsOn } : {}),
    },
    options: schema,
    setup(ctx, options) {
      const all = typeof def.rules === 'function' ? def.rules(ctx, options) : def.rules;
      if (!Array.isArray(all)) {
        const got = all === null || all === undefined ? String(all) : typeof all;
        throw new LimitError('LIMIT_PLUGIN_INVALID', `Rule pack plugin "${def.name}": rules${typeof def.rules === 'function' ? '(ctx, options) returned' : ' is'} ${got}, not an array of rules`, {
          plugin: def.name, fix: `Give defineRulePack({ rules }) an array of rules, or a function that returns one (return [] for none).`,
        });
      }
      // Two rules of this pack with one id: the engine could only name the pack twice, and the fix it
      // gives for two packs (disable the id in one of them) would leave both out here.
      const seen = new Map<unknown, number>();
      all.forEach((rule, i) => {
        const id = idOf(rule);
        if (typeof id !== 'string') return; // the engine names a rule without a valid id
        const first = seen.get(id);
        if (first !== undefined) {
          throw new LimitError('LIMIT_RULE_INVALID', `Rule pack "${pack}" (plugin ${def.name}): rules[${first}] and rules[${i}] share the id "${id}"`, {
            plugin: def.name, details: { rule: id, indexes: [first, i] },
            fix: `Give each rule of the pack its own id (disable: ['${id}'] would leave both out), prefixed with the pack's name ("${pack}.…").`,
          });
        }
        seen.set(id, i);
      });
      // The standard fields are in every pack's schema; zod's generic output type does not show them.
      const { disable } = options as unknown as RulePackOptions;
      // A rule that is not an object (null, a string) is kept for the engine to name (LIMIT_RULE_INVALID,
      // with the pack), with or without disable: reading its id here must not crash setup.
      const unknown = disable.filter((id) => !all.some((r) => idOf(r) === id));
      if (unknown.length) {
        throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `${def.name}: disable names unknown rules ${unknown.join(', ')}`, {
          plugin: ctx.name, details: { option: ['disable'], unknown }, fix: `Use rule ids of this pack: ${all.map(idOf).filter((id) => typeof id === 'string').join(', ')}.`,
        });
      }
      const provided: RulePack = { name: pack, rules: disable.length ? all.filter((r) => !disable.includes(idOf(r) as string)) : all };
      ctx.provide(key, provided);
      return def.health ? { health: () => def.health!(ctx) } : undefined;
    },
  });
}
