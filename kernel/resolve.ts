/**
 * Turns the config's plugin entries into plugin objects. Names are resolved at run time, the way
 * ESLint and Babel resolve theirs, so the kernel never imports a plugin statically:
 *   1. a built-in plugin folder `plugins/<name>/` of this package;
 *   2. a path (`./my-plugin.ts`) relative to the config file;
 *   3. an installed package `limit-plugin-<name>` or `<name>`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// Before tsx: its compile cache stays off (see config/no-tsx-cache.ts).
import './config/no-tsx-cache.ts';
import { tsImport } from 'tsx/esm/api';
import { LimitError, describeThrown, isLimitError } from './errors.ts';
import { configProvenance, esmExports, importFresh, invalidConfig, mergeOptions, moduleFailureFix, modulePath, type ConfigProvenance } from './config/load.ts';
import { formatPath, nearestName, type FormattedIssue } from './config/issues.ts';
import { builtinBackends, builtinFile } from './config/backends.ts';
import type { ResolvedConfig } from './config/schema.ts';
import { isPlugin, type Plugin, type PluginOrigin } from './plugin.ts';

export interface PluginEntry {
  plugin: Plugin;
  raw: unknown;
  /** option name → environment variable it came from */
  envSources: Record<string, string>;
  /** Its key in the config's `plugins` as written (`./greeter`), or its name for a plugin object. */
  key: string;
  /** The file that set a field of the entry (the config or a preset), for messages. */
  sourceOf?: (segments: readonly (string | number)[]) => string;
  /** Where the entry was written (see PluginOptionsEntry.origin). */
  origin: PluginOrigin;
  /** For a plugin object: the options its config entry sets (see PluginOptionsEntry.configKeys). */
  configKeys?: readonly string[];
}

/** Where a plugin entry was looked for, for messages: the config file, or the folder when given in code. */
function relativeTo(rootDir: string, configFile: string | null | undefined): string {
  return configFile ? `the config file ${configFile}` : `the folder ${rootDir}`;
}

interface ImportedPlugin {
  mod: Record<string, unknown>;
  /** The module's file or package, for messages. */
  from: string;
}

async function importPlugin(name: string, rootDir: string, configFile?: string | null): Promise<ImportedPlugin> {
  const builtin = builtinFile(name);
  if (builtin) return { mod: await loading(name, builtin, () => import(pathToFileURL(builtin).href)), from: builtin };
  if (name.startsWith('.') || path.isAbsolute(name)) {
    const resolved = path.resolve(rootDir, name);
    // Written without an extension (`./my-plugin` → `./my-plugin.ts`), as presets may be.
    const { file } = modulePath(resolved);
    if (!file) {
      throw new LimitError('LIMIT_PLUGIN_NOT_FOUND', `Plugin "${name}" not found: no file ${resolved} (the path is resolved relative to ${relativeTo(rootDir, configFile)})`, {
        details: { plugin: name, path: resolved },
        fix: `Correct the path of "${name}" in plugins of ${configFile ? path.basename(configFile) : 'the config'}; a relative path starts from the config file's folder.`,
      });
    }
    return { mod: await loading(name, file, () => importFresh(file)), from: file };
  }
  // Bare specifiers resolve from the config file, as they would in the user's own code.
  const parent = pathToFileURL(configFile ?? path.join(rootDir, 'limit.config.ts')).href;
  let lastError: unknown;
  for (const specifier of [`limit-plugin-${name}`, name]) {
    try {
      return { mod: esmExports((await tsImport(specifier, parent)) as Record<string, unknown>), from: specifier };
    } catch (error) {
      // Only "this package is not installed" moves on; a package that fails to load says so.
      if (!isNotFound(error, specifier)) throw loadFailed(name, specifier, error);
      lastError = error;
    }
  }
  const file = configFile ? path.basename(configFile) : 'the config';
  const from = configFile ? `${file}'s folder ${rootDir}` : `the folder ${rootDir}`;
  throw new LimitError('LIMIT_PLUGIN_NOT_FOUND', `Plugin "${name}" not found: it is neither a built-in plugin, a path, nor an installed package (limit-plugin-${name} or ${name})`, {
    cause: lastError,
    details: { plugin: name },
    fix: `In the plugins of ${file}, name a plugin of your own by its path relative to ${from} ('./plugins/${name}', starting with ./), or install the package that provides "${name}" (npm install ${name}, or limit-plugin-${name}) and keep the bare name.`,
  });
}

function isNotFound(error: unknown, specifier: string): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && typeof e.message === 'string' && e.message.includes(`'${specifier}'`);
}

/** Runs a plugin module's import; whatever it throws (syntax, a missing import, its own code) names the entry and the file. */
async function loading(name: string, from: string, load: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    return (await load()) as Record<string, unknown>;
  } catch (error) {
    throw loadFailed(name, from, error);
  }
}

function loadFailed(name: string, from: string, error: unknown, what = 'could not be loaded'): LimitError {
  const reason = describeThrown(error);
  const where = from === name ? `"${name}"` : `"${name}" (${from})`;
  // A LimitError from the module (definePlugin refusing its meta) keeps its code and fix.
  if (isLimitError(error)) return new LimitError(error.code, `Plugin ${where} ${what}: ${reason}`, { cause: error, fix: error.fix, plugin: error.plugin, details: { plugin: name, file: from, ...error.details } });
  // esbuild compiles a .ts/.js file outside a "type": "module" package to CommonJS, which has no top-level await.
  const commonJs = /"cjs" output format/.test(reason);
  // A plugin file (given by path, or built in) gets the fix a config file gets: whether it does not
  // compile, imports what cannot be found, or threw. An installed package keeps the catalogue's.
  const fix = commonJs
    ? `${from} is compiled as CommonJS because no package.json with "type": "module" is above it: rename it to .mts, or add a package.json with { "type": "module" } to its folder.`
    : path.isAbsolute(from)
      ? moduleFailureFix(from, error, 'limit plugins')
      : undefined;
  return new LimitError('LIMIT_PLUGIN_LOAD_FAILED', `Plugin ${where} ${what}: ${reason}`, {
    cause: error,
    details: { plugin: name, file: from },
    ...(fix === undefined ? {} : { fix }),
  });
}

/**
 * A module's plugin: its default export (or `plugin`), a plugin or a factory called with no
 * arguments. `configFile` only words the messages.
 */
export async function loadPluginByName(name: string, rootDir: string, configFile?: string | null): Promise<Plugin> {
  const { mod, from } = await importPlugin(name, rootDir, configFile);
  let candidate = mod.default ?? mod.plugin;
  if (typeof candidate === 'function') {
    try {
      candidate = await (candidate as () => unknown)();
    } catch (error) {
      throw loadFailed(name, from, error, 'could not be made: its default export, a factory, threw');
    }
  }
  if (!isPlugin(candidate)) {
    const got = mod.default === undefined && mod.plugin === undefined ? `it has no default export (exports: ${Object.keys(mod).join(', ') || 'none'})` : `its ${mod.default === undefined ? '`plugin` export' : 'default export'}${typeof (mod.default ?? mod.plugin) === 'function' ? ' returned' : ' is'} ${describe(candidate)}`;
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Module for plugin "${name}" (${from}) does not export a plugin made with definePlugin(): ${got}`, { details: { plugin: name, file: from } });
  }
  if (candidate.meta.name !== name && builtinFile(name)) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Built-in plugin folder "${name}" exports a plugin named "${candidate.meta.name}"`, { plugin: name });
  }
  return candidate;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object without the definePlugin() mark (keys: ${Object.keys(value).slice(0, 5).join(', ') || 'none'})`;
  return `a ${typeof value}`;
}

export interface CollectOptions {
  /**
   * Receives each entry that does not load (not found, fails to import, exports no plugin) instead
   * of a throw, and the entry is left out: for listing every problem of a config that is invalid
   * anyway. `selected` marks the backend that `storage` selects (its error names `storage`).
   */
  onUnloadable?: (name: string, error: unknown, selected: boolean) => void;
}

/**
 * Collects the enabled plugins in config order: named entries of `plugins` (not `false`), the
 * storage backend selected by `storage`, then plugin objects from `use` and from code. Every entry
 * that names no plugin is reported at once, a `storage-*` entry that `storage` sets aside included.
 */
export async function collectPlugins(config: ResolvedConfig, extra: readonly Plugin[], env: NodeJS.ProcessEnv, options: CollectOptions = {}): Promise<PluginEntry[]> {
  const provenance = configProvenance(config);
  const entries = new Map<string, unknown>(Object.entries(config.plugins));
  /** storage-* entries that `storage` sets aside: each must still name a plugin. */
  const setAside: string[] = [];
  let selected: string | undefined;
  let implicitFrom: string | undefined;
  if (config.storage) {
    selected = `storage-${config.storage}`;
    for (const [name, value] of [...entries]) {
      if (name.startsWith('storage-') && name !== selected) {
        entries.delete(name);
        if (value !== false && !builtinFile(name)) setAside.push(name);
      }
    }
  }
  extra.forEach((plugin, i) => {
    if (!isPlugin(plugin)) {
      throw new LimitError('LIMIT_PLUGIN_INVALID', `createRuntime({ plugins }): plugins[${i}] is not a plugin made with definePlugin(): it is ${describe(plugin)}`, {
        details: { index: i },
        fix: 'Pass plugin objects made with definePlugin({ meta, options, setup }) (or plugin.configure({...})), not their definitions or modules.',
      });
    }
  });
  const objects = [...config.use, ...extra];
  const objectNames = new Set(objects.map((p) => p.meta.name));

  const sourceOf = provenance?.sourceOf;
  const result: PluginEntry[] = [];
  const notFound: { name: string; error: LimitError }[] = [];
  const loaded = new Map<string, Plugin | undefined>();
  const load = async (name: string): Promise<Plugin | undefined> => {
    if (loaded.has(name)) return loaded.get(name);
    const plugin = await loadOnce(name);
    loaded.set(name, plugin);
    return plugin;
  };
  const loadOnce = async (name: string): Promise<Plugin | undefined> => {
    try {
      return await loadPluginByName(name, config.rootDir, config.configFile);
    } catch (error) {
      const notFoundError = isLimitError(error, 'LIMIT_PLUGIN_NOT_FOUND')
        ? name === selected ? backendNotFound(name, config, provenance, error) : name.startsWith('storage-') ? withBackends(error) : error
        : undefined;
      if (options.onUnloadable) options.onUnloadable(name, notFoundError ?? error, name === selected);
      else if (notFoundError) notFound.push({ name, error: notFoundError });
      else throw error;
      return undefined;
    }
  };
  const configName = config.configFile ? path.basename(config.configFile) : 'config';
  /** Plugins left out because `storage` selects another backend: path entries by key, objects by name. */
  const dropped = new Set<string>();
  const droppedObjects = new Set<Plugin>();
  if (selected) {
    // A backend of the project's own is a path entry or a plugin object named storage-<name>: its
    // name is known once loaded, so the entries are loaded first. The selected one is used as it
    // is; the other storage plugins are dropped, as storage-* entries are.
    const fromEnv = provenance?.envSources.storage;
    const storageFrom = sourceOf?.(['storage']);
    const conflicts: FormattedIssue[] = [];
    // Dropped quietly under STORAGE_BACKEND, or when the file that lists it also sets `storage`
    // (switching backends there); otherwise the selection contradicts what the user listed.
    const contradicts = (listedIn: string, withOptions: boolean) => !fromEnv && (withOptions || listedIn !== storageFrom);
    let provided = objects.some((p) => p.meta.name === selected);
    for (const [key, value] of entries) {
      if (value === false || objectNames.has(key)) continue;
      // Loaded in config order (then reused), so that what fails to load is reported in that order.
      const name = (await load(key))?.meta.name;
      if (!isPathEntry(key)) continue;
      if (name === selected) provided = true;
      else if (name?.startsWith('storage-')) {
        dropped.add(key);
        const listedIn = sourceOf?.(['plugins', key]) ?? configName;
        if (contradicts(listedIn, isRecord(value))) conflicts.push(notSelected(listedIn, formatPath(['plugins', key]), name, config.storage!, storageFrom, isRecord(value)));
      }
    }
    objects.forEach((p, i) => {
      if (p.meta.name === selected || !p.meta.name.startsWith('storage-')) return;
      droppedObjects.add(p);
      const listedIn = i < config.use.length ? (sourceOf?.(['use', i]) ?? configName) : 'createRuntime({ plugins })';
      const label = i < config.use.length ? `use[${i}]` : `plugins[${i - config.use.length}]`;
      if (contradicts(listedIn, false)) conflicts.push(notSelected(listedIn, label, p.meta.name, config.storage!, storageFrom, false));
    });
    if (conflicts.length) throw invalidConfig(conflicts, configName);
    const current = entries.get(selected);
    if (!provided && (current === undefined || current === false)) {
      entries.set(selected, true);
      // Its options' issues are reported against what selected it: the variable, or the file's `storage`.
      implicitFrom = fromEnv ? `${fromEnv}=${config.storage}` : provenance?.sourceOf(['storage']);
    }
  }
  for (const [name, value] of entries) {
    if (value === false || objectNames.has(name) || dropped.has(name)) continue;
    const plugin = await load(name);
    const entrySourceOf = name === selected && implicitFrom ? () => implicitFrom! : sourceOf;
    const origin = { source: entrySourceOf?.(['plugins', name]) ?? configName, label: formatPath(['plugins', name]) };
    if (plugin) result.push({ ...withEnv(plugin, value === true ? {} : value, env), key: name, origin, ...(entrySourceOf ? { sourceOf: entrySourceOf } : {}) });
  }
  for (const name of setAside) await load(name);
  if (notFound.length === 1) throw notFound[0]!.error;
  if (notFound.length > 1) throw pluginsNotFound(notFound, config, sourceOf);
  objects.forEach((plugin, i) => {
    const fromConfig = config.plugins[plugin.meta.name];
    if (fromConfig === false || droppedObjects.has(plugin)) return;
    const raw = mergeOptions(isRecord(plugin.rawOptions) ? plugin.rawOptions : {}, isRecord(fromConfig) ? fromConfig : {});
    // Its own options (configure) are the `use` entry's, or the code's: never a preset's.
    const origin: PluginOrigin = i < config.use.length
      ? { source: sourceOf?.(['use', i]) ?? configName, label: `use[${i}] (${plugin.meta.name})` }
      : { source: 'createRuntime({ plugins })', label: `plugins[${i - config.use.length}] (${plugin.meta.name})` };
    const configKeys = isRecord(fromConfig) ? Object.keys(fromConfig) : [];
    result.push({ ...withEnv(plugin, raw, env), key: plugin.meta.name, origin, configKeys, ...(sourceOf ? { sourceOf } : {}) });
  });
  const enabled = new Set(result.map((e) => e.plugin.meta.name));
  for (const entry of result) withEnvFallback(entry, env, enabled);
  return result;
}

/**
 * meta.envFallback: a variable gives its option a value when the entry (config, presets, the
 * object's own options) and meta.env's variables left it unset, and its `withPlugin` is enabled.
 */
function withEnvFallback(entry: PluginEntry, env: NodeJS.ProcessEnv, enabled: ReadonlySet<string>): void {
  if (!isRecord(entry.raw)) return;
  for (const [variable, spec] of Object.entries(entry.plugin.meta.envFallback ?? {})) {
    const { option, withPlugin } = typeof spec === 'string' ? { option: spec, withPlugin: undefined } : spec;
    const value = env[variable];
    if (value === undefined || value === '' || entry.raw[option] !== undefined) continue;
    if (withPlugin !== undefined && !enabled.has(withPlugin)) continue;
    entry.raw[option] = value;
    entry.envSources[option] = variable;
  }
}

/** A plugin entry written as a path (`./plugins/storage-mine`), whose name is known only once loaded. */
function isPathEntry(key: string): boolean {
  return key.startsWith('.') || path.isAbsolute(key);
}

/**
 * A storage plugin listed by path or in `use` that `storage` does not select, where that contradicts
 * the config: options given for it (as storageConflicts in config/load.ts says of a storage-* entry),
 * or `storage` set elsewhere (a preset's `storage: 'sqlite'` under a file that lists its own backend).
 */
function notSelected(listedIn: string, field: string, name: string, storage: string, storageFrom: string | undefined, withOptions: boolean): FormattedIssue {
  const set = storageFrom && storageFrom !== listedIn ? ` (set in ${storageFrom})` : '';
  const what = withOptions ? `options for "${name}"` : `"${name}" is a storage plugin`;
  const message = `${what}, but storage: "${storage}"${set} selects "storage-${storage}" and drops every other storage plugin; set storage: "${name.slice('storage-'.length)}" in ${listedIn} to use it, or remove this entry`;
  return { path: field, message, text: `${listedIn} › ${field}: ${message}` };
}

/** The backend that `storage` (or STORAGE_BACKEND) selects is not found: says where the name came from and lists the built-in backends. */
function backendNotFound(name: string, config: ResolvedConfig, provenance: ConfigProvenance | undefined, error: LimitError): LimitError {
  const backends = builtinBackends();
  const list = backends.join(', ');
  const variable = provenance?.envSources.storage;
  const file = provenance?.sourceOf(['storage']) ?? (config.configFile ? path.basename(config.configFile) : 'the config');
  const origin = variable ? `${variable}=${config.storage}` : `${file} › storage: "${config.storage}"`;
  // A near miss of a built-in backend (`sqlit`) is named, as the config's other "did you mean"s are.
  const near = config.storage === undefined ? undefined : nearestName(config.storage, backends);
  const didYouMean = near ? ` (did you mean '${near}'?)` : '';
  // A backend of the project's own is selected by its name once the config lists it: by path or in use.
  const own = `a backend of your own named "${name}" must also be listed in ${path.basename(config.configFile ?? 'the config')}: its path in plugins ('./plugins/${name}': true) or its plugin object in use, or installed as the package limit-plugin-${name}`;
  return new LimitError('LIMIT_PLUGIN_NOT_FOUND', `${origin} selects the storage plugin "${name}", which is not found${didYouMean}: it is neither a built-in backend (${list}), a plugin the config lists by path or in use, nor an installed package (limit-plugin-${name} or ${name})`, {
    cause: error,
    details: { ...error.details, plugin: name, storage: config.storage, ...(variable ? { variable } : { file }), backends },
    fix: variable
      ? `Set ${variable} to one of the built-in backends (${list}), or unset it to use the storage of the config; ${own}.`
      : `Set storage in ${file} to one of the built-in backends (${list}); ${own}.`,
  });
}

/** A storage-* entry that names no plugin: the message lists the built-in backends (a typo, most often). */
function withBackends(error: LimitError): LimitError {
  const list = builtinBackends().map((b) => `storage-${b}`).join(', ');
  return new LimitError('LIMIT_PLUGIN_NOT_FOUND', `${error.message}; the built-in storage plugins are ${list}`, { cause: error.cause, details: error.details, fix: error.fix });
}

function pluginsNotFound(notFound: { name: string; error: LimitError }[], config: ResolvedConfig, sourceOf: ((s: readonly (string | number)[]) => string) | undefined): LimitError {
  const file = config.configFile ? path.basename(config.configFile) : 'config';
  const lines = notFound.map(({ name, error }) => `  ${sourceOf?.(['plugins', name]) ?? file} › ${formatPath(['plugins', name])}: ${error.message}`);
  const from = config.configFile ? `${file}'s folder ${config.rootDir}` : `the folder ${config.rootDir}`;
  return new LimitError('LIMIT_PLUGIN_NOT_FOUND', `${notFound.length} plugins not found:\n${lines.join('\n')}`, {
    details: { plugins: notFound.map((n) => n.name), errors: notFound.map(({ error }) => ({ message: error.message, fix: error.fix, ...error.details })) },
    fix: `Correct each entry listed above in the plugins of ${config.configFile ? file : 'the config'}: a plugin of your own is named by its path relative to ${from} ('./plugins/<name>', starting with ./), an installed package by its name (npm install <name>, or limit-plugin-<name>).`,
  });
}

function withEnv(plugin: Plugin, raw: unknown, env: NodeJS.ProcessEnv): Omit<PluginEntry, 'origin'> {
  const envSources: Record<string, string> = {};
  const options: Record<string, unknown> = isRecord(raw) ? { ...raw } : {};
  for (const [variable, option] of Object.entries(plugin.meta.env ?? {})) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      options[option] = value;
      envSources[option] = variable;
    }
  }
  return { plugin, raw: isRecord(raw) ? options : raw, envSources, key: plugin.meta.name };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
