/**
 * The plugin contract and the loader's pure part: option validation, dependency ordering and the
 * refusals (missing provider, cycle, two providers, duplicate names, declared conflicts).
 */
import { inspect } from 'node:util';
import { z } from 'zod';
import type { AwilixContainer } from 'awilix';
import { isLimitError, LimitError } from './errors.ts';
import { MAX_TIMER_MS } from './timeout.ts';
import type { LimitHooks } from './hooks.ts';
import type { Logger } from './logger.ts';
import type { HealthResult } from './model/index.ts';
import type { ResolvedConfig } from './config/schema.ts';
import type { Cradle } from './container.ts';
import { describeOrigin, formatIssues, formatPath, originsOf, type FormattedIssue } from './config/issues.ts';

/** Marks plugin objects across module instances (config files load in their own namespace). */
const PLUGIN_BRAND = Symbol.for('limit-graph.plugin');

/**
 * Who a plugin is and how it fits: what it provides, needs and excludes. The loader checks it
 * before any plugin is set up.
 */
export interface PluginMeta {
  /** kebab-case, equal to the plugin's folder; also its tap name and its logger's `plugin` field. */
  name: string;
  version: string;
  description?: string;
  /** Container keys the plugin registers (`storage`, `runner:python`, …). */
  provides?: readonly string[];
  /**
   * Container keys (or plugin names) that must be present; the plugin is set up after their
   * providers. A trailing `*` (`runner:*`) asks for at least one provider of the prefix.
   */
  dependsOn?: readonly string[];
  /** Like dependsOn but only orders: missing providers are fine. */
  optionalDependsOn?: readonly string[];
  /** Plugin names that cannot be loaded together with this one. */
  conflictsWith?: readonly string[];
  /** Environment variables that set an option, over the config: `{ DATABASE_URL: 'url' }`. */
  env?: Readonly<Record<string, string>>;
  /**
   * Environment variables that give an option a value only when nothing else does — neither the
   * config (presets included), the plugin object's own options, nor a variable of `env` — and, with
   * `withPlugin`, only while that plugin is enabled too: runner-queue's `url` falls back to
   * DATABASE_URL when storage-postgres, which reads it, is the storage
   * (`{ DATABASE_URL: { option: 'url', withPlugin: 'storage-postgres' } }`). A value given so is
   * reported against the variable, as one from `env` is.
   */
  envFallback?: Readonly<Record<string, string | { readonly option: string; readonly withPlugin?: string }>>;
  /** Overrides the runtime's setupTimeoutMs for this plugin. */
  setupTimeoutMs?: number;
}

/** What `setup` may return (or nothing); the loader refuses anything else with LIMIT_PLUGIN_SETUP_FAILED. */
export interface PluginInstance {
  /** Called at shutdown, in reverse plugin order; a failure does not stop the other plugins. */
  dispose?(): void | Promise<void>;
  /** Shown by `limit doctor`; a `fail` status makes it exit non-zero. */
  health?(): HealthResult | Promise<HealthResult>;
  /**
   * Time limit (ms) of this plugin's `drain`, `shutdown` and `sessionClosed` taps, `dispose` and `provide` disposers, each: past
   * it, LIMIT_PLUGIN_SETUP_TIMEOUT naming the plugin is reported and closing goes on. Default: the
   * plugin's setup time limit (meta.setupTimeoutMs, else the config's setupTimeoutMs). A plugin
   * whose dispose waits for its own configured grace (in-flight requests, runs) returns more; 0
   * sets no limit (a worker that finishes its running tasks, each bounded by its runner).
   */
  closeTimeoutMs?: number;
}

/** Options of `ctx.provide` and `ctx.provideScoped`. */
export interface ProvideOptions<T> {
  /** Called at shutdown (singletons) or when the session closes (scoped). */
  dispose?: (value: T) => void | Promise<void>;
}

/**
 * What `setup` receives: the plugin's name, the runtime's hooks and config, a logger with the
 * plugin's name in its `plugin` field, and the container to provide and resolve services in.
 */
export interface PluginContext {
  readonly name: string;
  readonly hooks: LimitHooks;
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** The root container (strict mode). Prefer `provide` / `resolve`. */
  readonly container: AwilixContainer<Cradle>;
  /** Registers a singleton value under a key listed in meta.provides. */
  provide<K extends keyof Cradle & string>(key: K, value: Cradle[K], options?: ProvideOptions<Cradle[K]>): void;
  /** Registers a per-session service: one instance per session scope, disposed with the session. */
  provideScoped<K extends keyof Cradle & string>(key: K, factory: (cradle: Cradle) => Cradle[K], options?: ProvideOptions<Cradle[K]>): void;
  /** Resolves a registered service; throws LIMIT_SERVICE_NOT_FOUND with the key otherwise. */
  resolve<K extends keyof Cradle & string>(key: K): Cradle[K];
  has(key: string): boolean;
  /** Keys registered so far that start with `prefix` (e.g. every `runner:`). */
  keys(prefix?: string): string[];
}

/**
 * What `definePlugin` takes: `meta`, an optional zod `options` schema (the loader parses the
 * config's options with it) and `setup`, which taps hooks, provides services and may return
 * `{ dispose, health }`.
 */
export interface PluginDefinition<S extends z.ZodType = z.ZodType> {
  meta: PluginMeta;
  /** zod schema of the options; its defaults apply. */
  options?: S;
  setup(ctx: PluginContext, options: z.output<S>): void | PluginInstance | Promise<void | PluginInstance>;
}

/**
 * A plugin value made by `definePlugin`: its definition, branded so that the loader recognises it,
 * and `configure` for options given in code.
 */
export interface Plugin<S extends z.ZodType = z.ZodType> extends PluginDefinition<S> {
  readonly [PLUGIN_BRAND]: true;
  /** Options given in code (`plugin.configure({...})`); config entries under its name merge over them. */
  readonly rawOptions?: z.input<S>;
  /** A copy of the plugin carrying these options, as Vite/Rollup plugin factories do. */
  configure(options: z.input<S>): Plugin<S>;
}

/** Defines a plugin. The result is a value; `plugin.configure(options)` makes a configured copy. */
export function definePlugin<S extends z.ZodType = z.ZodObject<{}>>(definition: PluginDefinition<S>): Plugin<S> {
  validateMeta(definition?.meta, definition?.setup);
  validateOptionsSchema(definition.meta.name, definition.options);
  const make = (rawOptions: z.input<S> | undefined): Plugin<S> =>
    Object.freeze({
      ...definition,
      [PLUGIN_BRAND]: true as const,
      ...(rawOptions === undefined ? {} : { rawOptions }),
      configure: (options: z.input<S>) => make(options),
    });
  return make(undefined);
}

/**
 * Whether `value` was made by `definePlugin`. The brand is a global symbol, so this holds for a
 * plugin made by another copy of the kernel (a config file loaded in its own module namespace).
 */
export function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function validateMeta(meta: PluginMeta, setup: unknown): void {
  if (!meta || typeof meta.name !== 'string' || !NAME.test(meta.name)) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin name ${JSON.stringify(meta?.name)} is not kebab-case`, {
      fix: 'Name the plugin like its folder, e.g. "storage-sqlite".',
    });
  }
  const invalid = (field: string, expected: string, fix: string): never => {
    const value = (meta as unknown as Record<string, unknown>)[field];
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${meta.name}": meta.${field} must be ${expected}, not ${inspect(value, { depth: 1, breakLength: Infinity })}`, {
      plugin: meta.name, details: { field: `meta.${field}` }, fix,
    });
  };
  if (typeof meta.version !== 'string' || meta.version.length === 0) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${meta.name}" has no version`, { plugin: meta.name, fix: 'Set meta.version, e.g. "1.0.0".' });
  }
  if (meta.description !== undefined && typeof meta.description !== 'string') {
    invalid('description', 'a string', "For example description: 'Greets people by name'.");
  }
  // A string where a list belongs would be read character by character ("depends on \"s\"").
  for (const field of ['provides', 'dependsOn', 'optionalDependsOn', 'conflictsWith'] as const) {
    const list = meta[field];
    if (list !== undefined && (!Array.isArray(list) || list.some((k) => typeof k !== 'string' || k.length === 0))) {
      invalid(field, 'an array of non-empty strings', `Write it as a list: ${field}: [${typeof list === 'string' ? JSON.stringify(list) : "'key'"}].`);
    }
  }
  // A key listed twice read as two providers: 'Key "x" is provided by plugin "p" and by plugin "p"'.
  const repeated = (meta.provides ?? []).find((key, i, all) => all.indexOf(key) !== i);
  if (repeated !== undefined) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${meta.name}": meta.provides lists "${repeated}" twice`, {
      plugin: meta.name, details: { field: 'meta.provides', key: repeated }, fix: `List each key once in meta.provides.`,
    });
  }
  if (meta.env !== undefined && (typeof meta.env !== 'object' || meta.env === null || Array.isArray(meta.env) || Object.values(meta.env).some((o) => typeof o !== 'string'))) {
    invalid('env', 'an object of environment variable → option name', "For example env: { DATABASE_URL: 'url' }.");
  }
  const fallbackOk = (spec: unknown) =>
    typeof spec === 'string' ||
    (typeof spec === 'object' && spec !== null && typeof (spec as { option?: unknown }).option === 'string' &&
      ['undefined', 'string'].includes(typeof (spec as { withPlugin?: unknown }).withPlugin));
  if (meta.envFallback !== undefined && (typeof meta.envFallback !== 'object' || meta.envFallback === null || Array.isArray(meta.envFallback) || !Object.values(meta.envFallback).every(fallbackOk))) {
    invalid('envFallback', 'an object of environment variable → option name (or { option, withPlugin })', "For example envFallback: { DATABASE_URL: { option: 'url', withPlugin: 'storage-postgres' } }.");
  }
  if (meta.setupTimeoutMs !== undefined && !(Number.isInteger(meta.setupTimeoutMs) && meta.setupTimeoutMs > 0 && meta.setupTimeoutMs <= MAX_TIMER_MS)) {
    invalid('setupTimeoutMs', `a positive whole number of milliseconds, at most ${MAX_TIMER_MS} (longer, Node's timer would fire at once)`, 'For example setupTimeoutMs: 60_000, or leave it out to use the config\'s setupTimeoutMs.');
  }
  if (typeof setup !== 'function') {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${meta.name}" has no setup function (setup is ${inspect(setup, { depth: 1, breakLength: Infinity })})`, {
      plugin: meta.name, details: { field: 'setup' }, fix: 'Give definePlugin a setup(ctx, options) function (it may do nothing).',
    });
  }
}

/**
 * `options`, when given, must be a zod schema: the loader parses the config's options with its
 * `safeParse`. A plain shape (`options: { greeting: z.string() }`) would otherwise fail as a
 * TypeError when a runtime is created.
 */
function validateOptionsSchema(name: string, options: unknown): void {
  if (options === undefined || (typeof options === 'object' && options !== null && typeof (options as { safeParse?: unknown }).safeParse === 'function')) return;
  const shape = typeof options === 'object' && options !== null && !Array.isArray(options) && Object.values(options).length > 0 && Object.values(options).every((v) => typeof (v as { safeParse?: unknown } | null)?.safeParse === 'function');
  throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${name}": options must be a zod schema (z.object({ … })), not ${inspect(options, { depth: 0, breakLength: Infinity })}`, {
    plugin: name,
    details: { field: 'options' },
    fix: shape
      ? `Wrap the fields in z.object: options: z.object({ ${Object.keys(options as object).map((k) => `${k}: …`).join(', ')} }).strict() (z from 'limit-graph').`
      : "Give a zod schema, e.g. options: z.object({ greeting: z.string().default('Hello') }).strict() (z from 'limit-graph'), or leave options out.",
  });
}

/** A plugin with its validated options and its position in config order. */
export interface LoadablePlugin {
  plugin: Plugin;
  options: unknown;
  /** Where its entry was written, for the loader's refusals (duplicates, conflicts). */
  origin?: PluginOrigin;
  /**
   * Where an option was set (`['disable']`): the file, preset or variable, and the option as named
   * there; for a setup that refuses its options (LIMIT_PLUGIN_OPTIONS_INVALID with details.option).
   */
  optionOrigin?: (option: readonly (string | number)[]) => PluginOrigin;
}

/** A plugin as the config lists it, with its raw options (see collectPlugins). */
export interface PluginOptionsEntry {
  plugin: Plugin;
  raw: unknown;
  /** option name → environment variable it came from */
  envSources?: Record<string, string>;
  /** The key of its entry in `plugins` as written (`./greeter`); the plugin's name when not given. */
  key?: string;
  /** The file that set a field (`['plugins', key, option]`), when presets make it another than the config. */
  sourceOf?: (segments: readonly (string | number)[]) => string;
  /**
   * Where the entry itself was written, for messages: the file that holds it (or
   * `createRuntime({ plugins })`) and how it is named there (`plugins['./greeter']`, `use[0] (runner-shell)`).
   */
  origin?: PluginOrigin;
  /**
   * For a plugin object (`use`, or `createRuntime({ plugins })`): the options its config entry
   * `plugins.<name>` sets. Those are reported against that entry; the others came with the object
   * (`plugin.configure(…)`) and are reported against `origin`, never against a preset that only
   * happens to hold a `plugins` field.
   */
  configKeys?: readonly string[];
}

/** Where a plugin entry was written: `source` the file (or code), `label` the entry as named there. */
export interface PluginOrigin {
  source: string;
  label: string;
}

/**
 * Each plugin's options parsed with its schema, and every issue of every plugin, as
 * `<file> › plugins.<key>.<path>: <message>` (the file that set the option: the config or a preset).
 */
export function pluginOptionIssues(entries: readonly PluginOptionsEntry[], source: string): { loaded: LoadablePlugin[]; issues: FormattedIssue[] } {
  const issues: FormattedIssue[] = [];
  const loaded = entries.map(({ plugin, raw, envSources, key, sourceOf, origin, configKeys }): LoadablePlugin => {
    const schema = plugin.options ?? z.object({}).strict();
    const result = schema.safeParse(raw ?? {});
    if (result.success) {
      if (!origin) return { plugin, options: result.data };
      const optionOrigin = (option: readonly (string | number)[]): PluginOrigin => {
        const top = option[0];
        const segments = ['plugins', key ?? plugin.meta.name, ...option];
        // Like formatIssues: a value from a variable is the variable's; a plugin object's own options
        // (configure) are the object's; those its config entry sets, the entry's (or a preset's).
        const variable = typeof top === 'string' ? envSources?.[top] : undefined;
        if (variable) return { source: variable, label: formatPath(segments) };
        if (configKeys && !(typeof top === 'string' && configKeys.includes(top))) return { source: origin.source, label: under(origin.label, formatPath(option)) };
        return { source: sourceOf?.(segments) ?? origin.source, label: formatPath(segments) };
      };
      return { plugin, options: result.data, origin, optionOrigin };
    }
    const all = result.error.issues.map((issue) => withEnvValue(withEnvHint(issue, plugin, raw), raw, envSources));
    const [fromEntry, fromObject] = configKeys && origin ? splitByOrigin(all, new Set([...configKeys, ...Object.keys(envSources ?? {})])) : [all, []];
    issues.push(...formatIssues(fromEntry, sourceOf ?? source, ['plugins', key ?? plugin.meta.name], envSources, schema));
    for (const issue of formatIssues(fromObject, origin!.source, [], {}, schema)) {
      const at = under(origin!.label, issue.path);
      issues.push({ path: at, message: issue.message, text: `${origin!.source} › ${at}: ${issue.message}` });
    }
    return { plugin, options: undefined };
  });
  return { loaded, issues };
}

/** An option's path (formatPath) under an entry's label: `use[0] (acme).disable`. */
function under(label: string, path: string): string {
  return path === '(root)' ? label : `${label}${path.startsWith('[') ? '' : '.'}${path}`;
}

/**
 * A plugin object's issues: those about an option its config entry (or a variable) sets, and the
 * others, which came with the object. Unknown keys at the top are split the same way.
 */
function splitByOrigin(issues: z.core.$ZodIssue[], entryKeys: ReadonlySet<string>): [z.core.$ZodIssue[], z.core.$ZodIssue[]] {
  const fromEntry: z.core.$ZodIssue[] = [];
  const fromObject: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      const mine = issue.keys.filter((k) => entryKeys.has(k));
      const theirs = issue.keys.filter((k) => !entryKeys.has(k));
      if (mine.length) fromEntry.push({ ...issue, keys: mine });
      if (theirs.length) fromObject.push({ ...issue, keys: theirs, message: `Unrecognized key${theirs.length === 1 ? '' : 's'}: ${theirs.map((k) => JSON.stringify(k)).join(', ')}` });
      continue;
    }
    const first = issue.path[0];
    (typeof first === 'string' && entryKeys.has(first) ? fromEntry : fromObject).push(issue);
  }
  return [fromEntry, fromObject];
}

/**
 * A required option that is missing although an environment variable could set it (storage-postgres'
 * `url` and DATABASE_URL): the message names the variable.
 */
function withEnvHint(issue: z.core.$ZodIssue, plugin: Plugin, raw: unknown): z.core.$ZodIssue {
  const option = issue.path.length === 1 ? issue.path[0] : undefined;
  if (typeof option !== 'string' || (isObject(raw) && raw[option] !== undefined)) return issue;
  const variables = Object.entries(plugin.meta.env ?? {}).filter(([, o]) => o === option).map(([v]) => v);
  if (variables.length === 0) return issue;
  const names = variables.length === 1 ? `the environment variable ${variables[0]}` : `one of the environment variables ${variables.join(', ')}`;
  return { ...issue, message: `${issue.message}; set ${names}, or the option ${option} in the plugin's entry` };
}

/**
 * An option a variable set is a string; a schema that coerces it to a number sees NaN for `abc`, and
 * zod's "received NaN" would hide what the variable holds: the message quotes the value instead.
 */
function withEnvValue(issue: z.core.$ZodIssue, raw: unknown, envSources: Record<string, string> | undefined): z.core.$ZodIssue {
  const option = issue.path.length === 1 ? issue.path[0] : undefined;
  if (typeof option !== 'string' || !envSources?.[option] || !isObject(raw) || typeof raw[option] !== 'string') return issue;
  if (!/\breceived NaN\b/.test(issue.message)) return issue;
  return { ...issue, message: issue.message.replace(/\breceived NaN\b/, `received ${JSON.stringify(raw[option])}`) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses each plugin's options with its schema. Every issue of every plugin is reported at once,
 * as `<source> › plugins.<key>.<path>: <message>`.
 */
export function validatePluginOptions(entries: PluginOptionsEntry[], source: string): LoadablePlugin[] {
  const { loaded, issues } = pluginOptionIssues(entries, source);
  if (issues.length > 0) {
    const variables = [...new Set(issues.flatMap((i) => i.variables ?? []))].filter((v) => !originsOf(issues).includes(v));
    const where = [...originsOf(issues), ...variables].map((o) => describeOrigin(o, true)).join(', ');
    throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `Invalid plugin options:\n${issues.map((p) => `  ${p.text}`).join('\n')}`, {
      details: { issues: issues.map(({ path, message }) => ({ path, message })) },
      plugin: entries.length === 1 ? entries[0]!.plugin.meta.name : undefined,
      fix: `Correct the plugin's options in ${where}; its README lists every option.`,
    });
  }
  return loaded;
}

/**
 * A setup's refusal of its own options (LIMIT_PLUGIN_OPTIONS_INVALID, such as a rule pack's `disable`
 * naming no rule of the pack) names where they were set, as the schema's issues do:
 * `limit.config.ts › plugins.governance-rules-acme.disable: …`. The option is the error's
 * `details.option` (`['disable']`, or dotted: `'worker.heartbeatMs'`); without one, the entry.
 * `details.origin` holds `{ source, label }`. Other errors, and errors about another plugin, pass as they are.
 */
export function withOptionOrigin(error: unknown, loadable: LoadablePlugin): unknown {
  if (!isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID') || !loadable.optionOrigin || error.details?.origin) return error;
  if (error.plugin !== undefined && error.plugin !== loadable.plugin.meta.name) return error;
  const option = error.details?.option;
  const path = typeof option === 'string' ? option.split('.') : Array.isArray(option) ? (option as (string | number)[]) : [];
  const origin = loadable.optionOrigin(path);
  return Object.assign(error, { message: `${origin.source} › ${origin.label}: ${error.message}`, details: { ...error.details, origin } });
}

/** An entry as messages name it: `plugins['./plugins/dupname'] (limit.config.ts)`, or the plugin's name without an origin. */
function entryName(e: { plugin: Plugin; origin?: PluginOrigin }): string {
  return e.origin ? `${e.origin.label} (${e.origin.source})` : `"${e.plugin.meta.name}"`;
}

/** What to do about two entries of one name: drop the one a preset enables (`'<name>': false`), else remove or rename one. */
function duplicateFix(name: string, both: { origin?: PluginOrigin }[], config: string): string {
  if (!both.every((e) => e.origin)) return `Remove one of them from ${config}; plugin names must be unique.`;
  const fromPreset = both.find((e) => e.origin!.source !== config && e.origin!.label === formatPath(['plugins', name]));
  const files = [...new Set(both.map((e) => e.origin!.source))].join(' and ');
  return fromPreset
    ? `Plugin names (meta.name) must be unique: set '${name}': false in the plugins of ${config} to drop the one ${fromPreset.origin!.source} enables, or rename the other plugin.`
    : `Plugin names (meta.name) must be unique: remove one of the two entries from ${files}, or rename one of the plugins.`;
}

/**
 * Orders plugins so that every plugin comes after the providers of what it depends on. Stable:
 * among plugins whose dependencies are met, config order wins. `config` names the config in fixes
 * (its file name, or `the config` when it was given in code).
 */
export function orderPlugins<T extends { plugin: Plugin; origin?: PluginOrigin }>(entries: T[], builtinKeys: readonly string[], config = 'the config'): T[] {
  const byName = new Map<string, number>();
  entries.forEach((e, i) => {
    const name = e.plugin.meta.name;
    const prev = byName.get(name);
    if (prev !== undefined) {
      const first = entries[prev]!;
      const where = first.origin && e.origin ? `: ${entryName(first)} and ${entryName(e)}` : '';
      throw new LimitError('LIMIT_PLUGIN_DUPLICATE', `Plugin "${name}" is listed twice${where}`, {
        plugin: name,
        details: { plugins: [name], ...(where ? { entries: [first.origin, e.origin] } : {}) },
        fix: duplicateFix(name, [first, e], config),
      });
    }
    byName.set(name, i);
  });

  for (const e of entries) {
    for (const other of e.plugin.meta.conflictsWith ?? []) {
      const j = byName.get(other);
      if (j !== undefined) {
        const where = e.origin && entries[j]!.origin ? ` (${entryName(e)} and ${entryName(entries[j]!)})` : '';
        throw new LimitError('LIMIT_PLUGIN_CONFLICT', `Plugin "${e.plugin.meta.name}" conflicts with plugin "${other}"${where}`, {
          plugin: e.plugin.meta.name,
          details: { plugins: [e.plugin.meta.name, other] },
          fix: `Remove "${e.plugin.meta.name}" or "${other}" from ${config} (set one to false when a preset enables it).`,
        });
      }
    }
  }

  const providers = new Map<string, number>();
  entries.forEach((e, i) => {
    for (const key of e.plugin.meta.provides ?? []) {
      const prev = providers.get(key);
      if (prev !== undefined || builtinKeys.includes(key)) {
        const first = prev === undefined ? 'the kernel' : `plugin "${entries[prev]!.plugin.meta.name}"`;
        const names = prev === undefined ? [] : [entries[prev]!.plugin.meta.name, e.plugin.meta.name];
        const both = prev !== undefined && entries[prev]!.origin && e.origin ? ` (${entryName(entries[prev]!)} and ${entryName(e)})` : '';
        throw new LimitError('LIMIT_PLUGIN_PROVIDER_CONFLICT', `Key "${key}" is provided by ${first} and by plugin "${e.plugin.meta.name}"`, {
          plugin: e.plugin.meta.name,
          details: { key, plugins: [prev === undefined ? 'kernel' : entries[prev]!.plugin.meta.name, e.plugin.meta.name] },
          fix: key === 'storage' && names.length && names.every((n) => n.startsWith('storage-'))
            // `storage` keeps one backend and drops the others, wherever they are listed.
            ? `Keep one backend: set ${names.map((n) => `storage: '${n.slice('storage-'.length)}'`).join(' or ')} in ${config} and remove the other plugin's entry there (storage also drops the storage plugins a preset enables).`
            : `Keep only one provider of "${key}"${both} in ${config}${key === 'storage' ? ": a backend is a plugin named storage-<name>, selected with storage: '<name>'" : ''}.`,
        });
      }
      providers.set(key, i);
    }
  });

  // Edges: dependency provider → dependent.
  const deps: number[][] = entries.map(() => []);
  const providersOf = (dep: string): number[] => {
    if (dep.endsWith('*')) {
      const prefix = dep.slice(0, -1);
      return [...providers].filter(([k]) => k.startsWith(prefix)).map(([, i]) => i);
    }
    const p = providers.get(dep) ?? byName.get(dep);
    return p === undefined ? [] : [p];
  };
  entries.forEach((e, i) => {
    const name = e.plugin.meta.name;
    for (const dep of e.plugin.meta.dependsOn ?? []) {
      if (builtinKeys.includes(dep)) continue;
      const found = providersOf(dep);
      if (found.length === 0) {
        throw new LimitError('LIMIT_PLUGIN_DEPENDENCY_MISSING', `Plugin "${name}" depends on "${dep}", which no plugin provides`, {
          plugin: name,
          details: { plugin: name, missing: dep },
          fix: `Add a plugin that provides "${dep}" to ${config}, or remove "${name}".`,
        });
      }
      deps[i]!.push(...found.filter((j) => j !== i));
    }
    for (const dep of e.plugin.meta.optionalDependsOn ?? []) deps[i]!.push(...providersOf(dep).filter((j) => j !== i));
  });

  const cycle = findCycle(deps);
  if (cycle) {
    const path = [...cycle, cycle[0]!].map((i) => entries[i]!.plugin.meta.name);
    const where = cycle.every((i) => entries[i]!.origin) ? ` (${cycle.map((i) => entryName(entries[i]!)).join(', ')})` : '';
    throw new LimitError('LIMIT_PLUGIN_DEPENDENCY_CYCLE', `Plugins depend on each other in a cycle: ${path.join(' → ')}`, {
      plugin: path[0],
      details: { cycle: path },
      fix: `Break the cycle: remove one of the dependsOn entries (or the provides they name) along ${path.join(' → ')} in those plugins' meta, or remove one of the plugins${where} from ${config}.`,
    });
  }

  // Kahn's algorithm, always taking the lowest config index that is ready (stable order).
  const remaining = deps.map((d) => new Set(d));
  const done = new Set<number>();
  const order: T[] = [];
  while (order.length < entries.length) {
    const next = entries.findIndex((_, i) => !done.has(i) && [...remaining[i]!].every((d) => done.has(d)));
    done.add(next);
    order.push(entries[next]!);
  }
  return order;
}

/** Returns the node indices of one cycle (each depends on the next, the last on the first), or undefined. */
function findCycle(deps: number[][]): number[] | undefined {
  const state = new Array<0 | 1 | 2>(deps.length).fill(0);
  const stack: number[] = [];
  const visit = (i: number): number[] | undefined => {
    state[i] = 1;
    stack.push(i);
    for (const d of deps[i]!) {
      if (state[d] === 1) return stack.slice(stack.indexOf(d));
      if (state[d] === 0) {
        const found = visit(d);
        if (found) return found;
      }
    }
    stack.pop();
    state[i] = 2;
    return undefined;
  };
  for (let i = 0; i < deps.length; i++) {
    if (state[i] === 0) {
      const found = visit(i);
      if (found) return found;
    }
  }
  return undefined;
}
