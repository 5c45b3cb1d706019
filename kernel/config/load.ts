/**
 * Finding, loading, merging (presets) and validating limit.config.*, plus environment overrides.
 * Every load reads the files afresh: no module cache survives between loads, so a long-running
 * process can reload its configuration.
 */
import { accessSync, constants as fsConstants, existsSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cosmiconfig } from 'cosmiconfig';
// Before tsx: no world-readable compiled copy of the config in tsx's cache (see no-tsx-cache.ts).
import './no-tsx-cache.ts';
import { tsImport } from 'tsx/esm/api';
import { fileKindOf, jsonErrorPosition } from '../cli-helpers.ts';
import { ERROR_CODES, LimitError, describeThrown, isError, isLimitError } from '../errors.ts';
import { ConfigSchema, type ConfigInput, type ResolvedConfig } from './schema.ts';
import { BACKEND_NAME } from './backends.ts';
import { describeOrigin, formatIssues, formatPath, originsOf, type FormattedIssue } from './issues.ts';
import type { LogLevel } from '../logger.ts';

/** Where cosmiconfig looks, in order (every one CONFIG_LOADERS reads, but YAML: that is for --config alone). */
export const CONFIG_FILES = [
  'limit.config.ts', 'limit.config.mts', 'limit.config.mjs', 'limit.config.js', 'limit.config.cts', 'limit.config.cjs', 'limit.config.json', '.limitrc.json',
] as const;

/**
 * Two levels above kernel/config, where built-in presets and plugins live: the package root in a
 * checkout, dist/ in a build or an installed copy (for package.json itself, see package-info.ts).
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSCONFIG = path.join(PACKAGE_ROOT, 'tsconfig.json');

/**
 * Imports a TypeScript or JavaScript module afresh (its own namespace: no stale cache). In a
 * checkout, the package's tsconfig maps `limit-graph` (its `paths`) to the running kernel; an
 * installed copy has none, and `limit-graph` resolves as a dependency in node_modules.
 */
export async function importFresh(file: string): Promise<Record<string, unknown>> {
  // tsImport gives each import a namespace of its own, but a CommonJS file that needs no compiling
  // (a .cjs, a .js with module.exports) is evaluated by Node's CommonJS loader, whose cache is by
  // file name: a second load returned the first one's exports, and so did the files it requires.
  // The user's files this import put there first are taken out again, so that the next load reads
  // them afresh; installed packages and limit-graph's own modules stay (one instance of each).
  const cached = new Set(Object.keys(requireCache));
  try {
    return await importFreshModule(file);
  } finally {
    for (const key of Object.keys(requireCache)) if (!cached.has(key) && !isLibraryFile(key)) delete requireCache[key];
  }
}

/**
 * Suffixes tried for a module path (`./my-plugin`, `./presets/base`): the path as written, then with
 * each extension limit imports, then as a folder's index. Plugin entries and presets given by path
 * are resolved alike (modulePath).
 */
const PATH_EXTENSIONS = ['', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '/index.ts', '/index.js'] as const;

/**
 * The regular file a module path names, `resolved` (absolute) with each of `suffixes` in turn;
 * `tried` lists every candidate, for a message saying where it looked.
 */
export function modulePath(resolved: string, suffixes: readonly string[] = PATH_EXTENSIONS): { file: string | undefined; tried: string[] } {
  const tried = suffixes.map((suffix) => resolved + suffix);
  return { file: tried.find((f) => existsSync(f) && statSync(f).isFile()), tried };
}

/** Node's CommonJS module cache (`require.cache`), shared by every CommonJS load in the process. */
const requireCache = createRequire(import.meta.url).cache;

const LIBRARY_FOLDERS = ['kernel', 'plugins', 'presets'].map((f) => path.join(PACKAGE_ROOT, f) + path.sep);

/** A module of an installed package or of limit-graph itself, as opposed to a file of the user's project. */
function isLibraryFile(file: string): boolean {
  return file.includes(`${path.sep}node_modules${path.sep}`) || LIBRARY_FOLDERS.some((f) => file.startsWith(f));
}

async function importFreshModule(file: string): Promise<Record<string, unknown>> {
  const href = pathToFileURL(file).href;
  // Imported from a TypeScript file (this one, in a checkout), tsx resolves `x.js` to an `x.ts`
  // beside it, as TypeScript's imports do: `--config x.js` silently ran x.ts. A JavaScript file is
  // imported as from itself, which tsx takes at its word.
  const parentURL = /\.[cm]?js$/.test(file) ? href : import.meta.url;
  if (!existsSync(TSCONFIG)) return esmExports((await tsImport(href, parentURL)) as Record<string, unknown>);
  // tsImport passes `tsconfig` to its ES module loader only. A file it compiles to CommonJS (a .ts
  // outside a "type": "module" package) goes through the CommonJS loader it registers beside, which
  // reads TSX_TSCONFIG_PATH at that moment (synchronously, in the call), or else looks for a
  // tsconfig.json from the working folder: outside the checkout, require('limit-graph') failed.
  const saved = process.env.TSX_TSCONFIG_PATH;
  process.env.TSX_TSCONFIG_PATH = TSCONFIG;
  let imported: Promise<unknown>;
  try {
    imported = tsImport(href, { parentURL, tsconfig: TSCONFIG });
  } finally {
    if (saved === undefined) delete process.env.TSX_TSCONFIG_PATH;
    else process.env.TSX_TSCONFIG_PATH = saved;
  }
  return esmExports((await imported) as Record<string, unknown>);
}

/**
 * A module's ES exports. A .ts or .js file outside a `"type": "module"` package is compiled to
 * CommonJS, and its namespace then holds module.exports as `default` (marked `__esModule`), with
 * the file's own `export default` one level down. Unwrapped here, `export default` means the same
 * whatever package.json sits above the file (config files, presets and plugins alike).
 */
export function esmExports(mod: Record<string, unknown>): Record<string, unknown> {
  const inner = mod.default;
  return typeof inner === 'object' && inner !== null && (inner as { __esModule?: unknown }).__esModule === true ? (inner as Record<string, unknown>) : mod;
}

async function loadModule(file: string): Promise<unknown> {
  const mod = await runningFile(file, () => importFresh(file));
  if (!('default' in mod)) {
    const names = Object.keys(mod);
    throw noConfig(file, `it has no default export${names.length ? ` (it exports ${names.join(', ')})` : ''}`);
  }
  const value = mod.default;
  // A file with no export at all, compiled as CommonJS, shows up as an untouched empty module.exports.
  if (isObject(value) && Object.keys(value).length === 0 && !/\bexports?\b/.test(readFileSync(file, 'utf8'))) throw noConfig(file, 'it has no default export');
  return requireConfig(typeof value === 'function' ? await runningFile(file, () => (value as () => unknown)()) : value, file, typeof value === 'function');
}

/**
 * Errors that already name the config file or preset they come from (its path in the message and
 * in details.file): the loaders and wrapLoad pass them on as they are.
 */
const NAMES_FILE = new WeakSet<object>();

function namingFile(error: LimitError): LimitError {
  NAMES_FILE.add(error);
  return error;
}

/**
 * Runs a config file's or a preset's own code (its module body, its default function). A LimitError
 * it throws keeps its code, fix, plugin and hook, and gains the file: in the message and in
 * details.file, the original as its cause. Anything else is left to loadFailed (LIMIT_CONFIG_LOAD_FAILED).
 */
async function runningFile<T>(file: string, run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (NAMES_FILE.has(error as object)) throw error;
    // Compiling, importing or running the file failed: a fix that says which of them, naming the file.
    if (!isLimitError(error) || !Object.hasOwn(ERROR_CODES, error.code)) throw loadFailed(file, error, undefined, true);
    throw namingFile(new LimitError(error.code, `${error.message} (thrown while loading ${file})`, {
      cause: error,
      fix: error.fix,
      details: { ...error.details, file },
      ...(error.plugin === undefined ? {} : { plugin: error.plugin }),
      ...(error.hook === undefined ? {} : { hook: error.hook }),
    }));
  }
}

/**
 * A JSON config file: a UTF-8 byte order mark (which editors write) is skipped, and a syntax error
 * is one line naming the file, line and column (cosmiconfig's own loader quoted the file and a
 * code frame twice over, and refused a byte order mark as an invisible "Unexpected token").
 */
function loadJson(file: string, content: string): unknown {
  const text = content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const at = jsonErrorPosition(text, error);
    const reason = describeThrown(error).replace(/ in JSON at position \d+[\s\S]*$/, '');
    throw namingFile(new LimitError('LIMIT_CONFIG_LOAD_FAILED', `Could not load ${file}: invalid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${reason}`, {
      cause: error,
      details: { file, ...at },
      fix: `Correct the JSON syntax of ${path.basename(file)}${at ? ` at line ${at.line}` : ''} (double-quoted keys and strings, no trailing commas, no comments), then run \`limit config\` again.`,
    }));
  }
  return requireConfig(value, file, false);
}

/**
 * A config file (or preset) must produce its configuration: `export default null`, a function
 * returning nothing or a JSON `null` would otherwise read as "no file" and run the defaults.
 * An empty object stays valid.
 */
function requireConfig(value: unknown, file: string, fromFunction: boolean): unknown {
  if (value === null || value === undefined) {
    throw noConfig(file, configFileKind(file) === 'module' ? `its default export${fromFunction ? ', a function, returned' : ' is'} ${String(value)}` : `it is ${String(value)}`);
  }
  return value;
}

/**
 * How a config file (or preset) holds its configuration, by its extension: JSON text, YAML (what
 * cosmiconfig reads as YAML: READ_AS_YAML, or no extension), else a module's default export.
 */
function configFileKind(file: string): 'module' | 'json' | 'yaml' {
  const ext = path.extname(file);
  if (ext === '.json') return 'json';
  return ext === '' || READ_AS_YAML.includes(ext) ? 'yaml' : 'module';
}

/** A config file or preset that yields no configuration; the fix says how to write one in that file's kind. */
function noConfig(file: string, why: string): LimitError {
  const name = path.basename(file);
  const kind = configFileKind(file);
  const fix = {
    module: `Export the configuration as default: \`export default defineConfig({ … })\` (\`export default {}\` for none), or delete ${name} to run on the built-in defaults.`,
    json: `Write the configuration in ${name} as a JSON object (\`{ "extends": "default" }\`; \`{}\` for none), or delete ${name} to run on the built-in defaults.`,
    yaml: `Write the configuration in ${name} as YAML, one field a line (\`extends: default\`; \`{}\` for none), or leave --config out to search from the current folder.`,
  }[kind];
  return namingFile(new LimitError('LIMIT_CONFIG_INVALID', `${name} ${kind === 'module' ? 'exports' : 'holds'} no configuration: ${why} (${file})`, { details: { file }, fix }));
}

function notAConfigFile(file: string, info: Stats, fix: string): LimitError {
  return new LimitError('LIMIT_CONFIG_LOAD_FAILED', `Could not load ${file}: it is ${fileKindOf(info)}, not a configuration file`, { details: { file }, fix });
}

/**
 * Refuses, before cosmiconfig's search reads it, a named pipe, a socket or a device found under a
 * config file's name: reading a FIFO blocks until a writer opens it (the CLI would hang), and
 * skipping it would silently run another folder's config or the defaults. Visits what the search
 * does — CONFIG_FILES in each folder from `cwd` up to the first with a package.json or package.yaml
 * (cosmiconfig's `project` strategy) — and stops at the first readable regular file, the one the
 * search loads. Like cosmiconfig, a folder or an unreadable file under a config name is passed over.
 */
function refuseSpecialSearchPlaces(cwd: string): void {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    for (const place of CONFIG_FILES) {
      const file = path.join(dir, place);
      let info: Stats;
      try {
        info = statSync(file);
      } catch {
        continue; // missing (or unreachable): the search passes over it too
      }
      if (info.isFile()) {
        if (isReadable(file)) return;
      } else if (!info.isDirectory()) {
        throw notAConfigFile(file, info, `Replace ${place} with a regular file holding the configuration, or remove it; or pass --config <file> to load another file.`);
      }
    }
    if (existsSync(path.join(dir, 'package.json')) || existsSync(path.join(dir, 'package.yaml')) || path.dirname(dir) === dir) return;
  }
}

function isReadable(file: string): boolean {
  try {
    accessSync(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * How a config file is read, by its extension: TypeScript and JavaScript as modules (loadModule,
 * whatever their module kind), JSON by loadJson. cosmiconfig reads the rest it knows (`.yaml`,
 * `.yml`, a file without extension: YAML) with its own loaders.
 */
const CONFIG_LOADERS = {
  '.ts': naming(loadModule), '.mts': naming(loadModule), '.cts': naming(loadModule),
  '.js': naming(loadModule), '.mjs': naming(loadModule), '.cjs': naming(loadModule),
  '.json': naming(loadJson),
} as const;
const READ_AS_YAML: readonly string[] = ['.yaml', '.yml'];

export interface LoadConfigOptions {
  cwd?: string;
  /** An explicit config file (the CLI's --config). */
  configFile?: string;
  /** A config object given in code: no file is searched. */
  config?: ConfigInput;
  env?: NodeJS.ProcessEnv;
  /**
   * The log level when neither the config (presets included) nor LIMIT_LOG_LEVEL sets one; `info`
   * when not given. The CLI passes `warn` for its interactive commands.
   */
  defaultLogLevel?: LogLevel;
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** How the config file is named in messages (`limit.config.ts`, or `config` when given in code). */
  source: string;
}

/** Kernel-level environment overrides: variable → config field. Plugins declare their own in meta.env. */
export const KERNEL_ENV = {
  STORAGE_BACKEND: 'storage',
  LIMIT_LOG_LEVEL: 'logLevel',
  LIMIT_DATA_DIR: 'dataDir',
  LIMIT_TENANT: 'tenant',
} as const;

/**
 * Loads the config without setting up any plugin: `options.config`, else `options.configFile`, else
 * the first of CONFIG_FILES found by searching from `cwd` (none: the `default` preset); then its
 * presets, the kernel's environment variables (KERNEL_ENV) and the defaults, validated. An invalid
 * config is one LIMIT_CONFIG_INVALID listing every problem, plugin options included; `createRuntime`
 * validates the plugins' options of a valid one.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  return loadConfigWith(options, []);
}

/**
 * loadConfig, for createRuntime: `extra` are the plugin objects it was given in code. The plugin
 * problems listed beside the kernel's (pluginOptionIssuesOf) count them, so that their entries in
 * `plugins` are not reported as plugins not found, and their option errors are listed.
 */
export async function loadConfigWith(options: LoadConfigOptions, extra: readonly unknown[]): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  let raw: ConfigInput;
  let configFile: string | null = null;

  if (options.config) {
    raw = options.config;
  } else {
    const explorer = cosmiconfig('limit', {
      searchPlaces: [...CONFIG_FILES],
      searchStrategy: 'project',
      cache: false,
      loaders: CONFIG_LOADERS,
      // An empty limit.config.ts is a mistake to report, not a missing file to search past.
      ignoreEmptySearchPlaces: false,
    });
    let result: Awaited<ReturnType<typeof explorer.load>>;
    if (options.configFile !== undefined) {
      // `--config ""` (say `--config "$CONFIG"` with CONFIG unset) names no file: searching instead
      // would silently run whatever config the current folder has.
      if (options.configFile === '') {
        throw new LimitError('LIMIT_CONFIG_NOT_FOUND', 'Configuration file not found: --config is empty', {
          details: { file: '' },
          fix: 'Pass --config the path of the configuration file, or leave --config out to search from the current folder.',
        });
      }
      const file = path.resolve(cwd, options.configFile);
      if (!existsSync(file)) throw new LimitError('LIMIT_CONFIG_NOT_FOUND', `Configuration file not found: ${file}`, { details: { file } });
      // A folder, a named pipe or a device: reading it fails obscurely (EISDIR) or blocks for ever (a FIFO).
      const info = statSync(file);
      if (!info.isFile()) {
        throw notAConfigFile(file, info, `Pass --config the configuration file itself (e.g. ${info.isDirectory() ? path.join(options.configFile, 'limit.config.ts') : 'limit.config.ts'}), or leave --config out to search from the current folder.`);
      }
      const ext = path.extname(file);
      if (ext && !Object.hasOwn(CONFIG_LOADERS, ext) && !READ_AS_YAML.includes(ext)) {
        throw new LimitError('LIMIT_CONFIG_LOAD_FAILED', `Could not load ${file}: limit reads no configuration file ending in ${ext}`, {
          details: { file },
          fix: `Pass --config a file ending in ${[...Object.keys(CONFIG_LOADERS), ...READ_AS_YAML].join(', ')} (TypeScript, JavaScript, JSON or YAML; a file without an extension is read as YAML), or leave --config out to search from the current folder.`,
        });
      }
      result = await wrapLoad(() => explorer.load(file), file);
      // cosmiconfig answers null for a file whose loader produced null: YAML that is `null`, `~` or
      // only comments (the module and JSON loaders refuse null themselves). Never "no file": that
      // would silently run the defaults.
      if (result === null) throw noConfig(file, 'it is null, or only comments');
    } else {
      refuseSpecialSearchPlaces(cwd);
      result = await wrapLoad(() => explorer.search(cwd), cwd, `Could not search for a configuration file from ${cwd}`);
    }
    if (result?.isEmpty) throw noConfig(result.filepath, 'the file is empty');
    if (result) {
      configFile = result.filepath;
      raw = result.config as ConfigInput;
    } else {
      // No file: run on the built-in default preset (embedded SQLite).
      raw = { extends: 'default' };
    }
  }

  const source = configFile ? path.basename(configFile) : 'config';
  const rootDir = configFile ? path.dirname(configFile) : cwd;
  const { merged, presets, origins } = await applyPresets(raw, rootDir, source, rootDir);

  const envSources: Record<string, string> = {};
  const withEnv: Record<string, unknown> = { ...merged };
  for (const [variable, field] of Object.entries(KERNEL_ENV)) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      withEnv[field] = value;
      envSources[field] = variable;
      origins.delete(originKey([field])); // the value is the variable's, named in the message
    }
  }

  if (withEnv.logLevel === undefined && options.defaultLogLevel !== undefined) withEnv.logLevel = options.defaultLogLevel;

  const sourceOf = originLookup(origins, source);
  const provenance: ConfigProvenance = { source, sourceOf, envSources };
  const parsed = ConfigSchema.safeParse(withEnv);
  if (!parsed.success) {
    // Plugin options are checked too, so that one run lists every problem.
    const pluginIssues = await pluginOptionIssuesOf(withEnv, rootDir, configFile, env, provenance, extra);
    throw invalidConfig([...formatIssues(parsed.error.issues, sourceOf, [], envSources, ConfigSchema), ...pluginIssues], source);
  }
  const conflicts = storageConflicts(parsed.data, sourceOf, envSources.storage);
  if (conflicts.length) throw invalidConfig([...conflicts, ...(await pluginOptionIssuesOf(withEnv, rootDir, configFile, env, provenance, extra))], source);
  const { extends: _presets, $schema: _schema, ...config } = parsed.data;
  const resolved = frozenData({ ...config, dataDir: path.resolve(rootDir, config.dataDir), configFile, rootDir, presets }) as ResolvedConfig;
  PROVENANCE.set(resolved, provenance);
  return { source, config: resolved };
}

/**
 * Data, not behaviour: an object whose prototype is Object.prototype or null, with only enumerable,
 * string-keyed data properties, none of them a function.
 */
function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (!descriptor.enumerable || !('value' in descriptor) || typeof descriptor.value === 'function') return false;
  }
  return true;
}

/**
 * A deep-frozen copy of a resolved config's data: every array and plain-data object, at any depth
 * (`plugins.<name>.<option>…`), is copied and frozen, so a `configResolved` tap or any reader of
 * `runtime.config` cannot change what was validated (in strict mode a write throws), and the
 * caller's own objects are left as they were. What is not data is kept as given, by reference and
 * not frozen: functions, class instances (a client, a pool), plugin objects (`use`), and objects
 * with methods, accessors or symbol keys (an inline governance rule). Shared and cyclic references
 * stay shared and cyclic.
 */
function frozenData(value: unknown, copies = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const done = copies.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    copies.set(value, copy);
    for (const item of value) copy.push(frozenData(item, copies));
    return Object.freeze(copy);
  }
  if (!isPlainData(value)) return value;
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  copies.set(value, copy);
  for (const [key, item] of Object.entries(value)) copy[key] = frozenData(item, copies);
  return Object.freeze(copy);
}

/**
 * Where a loaded config's fields came from: `sourceOf(['plugins', 'storage-sqlite', 'path'])` is the
 * file (config or preset) that set that field, `envSources` the kernel fields set by a variable.
 */
export interface ConfigProvenance {
  /** How the config file is named in messages. */
  source: string;
  sourceOf(path: readonly (string | number)[]): string;
  /** config field → environment variable that set it */
  envSources: Readonly<Record<string, string>>;
}

const PROVENANCE = new WeakMap<object, ConfigProvenance>();

/** The provenance of a config that loadConfig returned (undefined for one built otherwise). */
export function configProvenance(config: object): ConfigProvenance | undefined {
  return PROVENANCE.get(config);
}

/** Field path (`plugins.<name>.<option>…`, at any depth of option objects) → the file that set it last. */
type Origins = Map<string, string>;

function originKey(segments: readonly (string | number)[]): string {
  return JSON.stringify(segments.map(String));
}

function originLookup(origins: Origins, source: string): (segments: readonly (string | number)[]) => string {
  return (segments) => {
    for (let n = segments.length; n > 0; n--) {
      const file = origins.get(originKey(segments.slice(0, n)));
      if (file) return file;
    }
    return source;
  };
}

/**
 * The plugin problems of a config that is invalid at the kernel level, listed with the kernel's
 * issues rather than one run later: entries that name no plugin (or fail to load), and the option
 * issues of those that load — the backend `storage` selects included.
 */
async function pluginOptionIssuesOf(
  withEnv: Record<string, unknown>,
  rootDir: string,
  configFile: string | null,
  env: NodeJS.ProcessEnv,
  provenance: ConfigProvenance,
  extra: readonly unknown[],
): Promise<FormattedIssue[]> {
  const plugins = isObject(withEnv.plugins) ? withEnv.plugins : {};
  const storage = typeof withEnv.storage === 'string' && BACKEND_NAME.test(withEnv.storage) ? withEnv.storage : undefined;
  const written = Object.fromEntries(Object.entries(plugins).filter(([, value]) => isObject(value) || value === true || value === false));
  if (Object.keys(written).length === 0 && !storage) return [];
  // Imported here: resolve.ts and plugin.ts import this module.
  const [{ collectPlugins }, { pluginOptionIssues, isPlugin }] = await Promise.all([import('../resolve.ts'), import('../plugin.ts')]);
  // The plugin objects of `use` and of the code: an entry in `plugins` may set their options (it names no plugin to look up).
  const use = Array.isArray(withEnv.use) ? withEnv.use.filter(isPlugin) : [];
  const partial = { plugins: written, use, rootDir, configFile, storage } as unknown as ResolvedConfig;
  PROVENANCE.set(partial, provenance);
  const unloadable: FormattedIssue[] = [];
  const onUnloadable = (name: string, error: unknown, selected: boolean) => {
    const message = describeThrown(error);
    // The selected backend's message starts with what selected it (`limit.config.ts › storage: …`).
    if (selected) unloadable.push({ path: 'storage', message, text: message });
    else unloadable.push(...formatIssues([{ code: 'custom', path: [], message, input: undefined }], provenance.sourceOf, ['plugins', name]));
  };
  try {
    const entries = await collectPlugins(partial, extra.filter(isPlugin), env, { onUnloadable });
    return [...unloadable, ...pluginOptionIssues(entries, provenance.source).issues];
  } catch {
    return unloadable;
  }
}

/**
 * `storage` selects `storage-<name>` and drops the other storage plugins. Within the config that
 * contradicts two entries: `false` for the selected backend, or options for another one (they
 * would be dropped unseen). Both fields are named. STORAGE_BACKEND is an override: it switches the
 * backend whatever the file says, so from it nothing conflicts (the file's entries are set aside).
 */
function storageConflicts(
  config: { storage?: string | undefined; plugins: Record<string, unknown> },
  sourceOf: (segments: readonly string[]) => string,
  fromEnv: string | undefined,
): FormattedIssue[] {
  if (!config.storage || fromEnv) return [];
  const selected = `storage-${config.storage}`;
  const issues: FormattedIssue[] = [];
  const issue = (name: string, message: string) => {
    const field = formatPath(['plugins', name]);
    issues.push({ path: field, message, text: `${sourceOf(['plugins', name])} › ${field}: ${message}` });
  };
  for (const [name, value] of Object.entries(config.plugins)) {
    if (name === selected && value === false) {
      issue(name, `false disables the backend that storage: "${config.storage}" selects; set storage to the backend you want, or remove the false`);
    } else if (name !== selected && name.startsWith('storage-') && typeof value === 'object') {
      issue(name, `options for "${name}", but storage: "${config.storage}" selects "${selected}" and drops every other storage plugin; set storage: "${name.slice('storage-'.length)}" to use it, or remove this entry`);
    }
  }
  return issues;
}

export function invalidConfig(issues: { text: string; path: string; message: string }[], source: string): LimitError {
  // The files named in the lines (a preset holds some mistakes), the config file first.
  const origins = originsOf(issues);
  const files = (origins.includes(source) ? [source, ...origins.filter((o) => o !== source)] : origins).map((o) => describeOrigin(o));
  const where = files.length === 0 ? source : files.length === 1 ? files[0]! : `${files.slice(0, -1).join(', ')} and ${files.at(-1)!}`;
  return new LimitError('LIMIT_CONFIG_INVALID', `Invalid configuration in ${where}:\n${issues.map((i) => `  ${i.text}`).join('\n')}`, {
    details: { source, issues: issues.map(({ path: p, message }) => ({ path: p, message })) },
  });
}

async function wrapLoad<T>(load: () => Promise<T>, file: string, what = `Could not load ${file}`): Promise<T> {
  try {
    return await load();
  } catch (error) {
    // A file that exports no config, a LimitError its code threw, or one a loader could not load
    // (see naming): already names the file.
    if (NAMES_FILE.has(error as object)) throw error;
    throw loadFailed(file, error, what);
  }
}

/**
 * `ran`: the error came out of importing the file as a module or calling its default function
 * (runningFile), so the fix can say whether it failed to compile, to import, or threw while it ran;
 * otherwise (cosmiconfig reading the file, its YAML parser) a YAML syntax error gets a fix naming
 * the line and column, a file that cannot be read one for the error it got (readFailureFix), and
 * anything else the catalogue's fix.
 */
function loadFailed(file: string, error: unknown, what = `Could not load ${file}`, ran = false): LimitError {
  const reason = describeThrown(error);
  // esbuild compiles a .ts/.js file outside a "type": "module" package (or with no package.json at
  // all) to CommonJS, which has no top-level await; .mts/.mjs are ES modules wherever they are.
  const commonJs = /"cjs" output format/.test(reason) && /\.(ts|js)$/.test(file);
  const esm = file.replace(/\.(ts|js)$/, (ext) => (ext === '.ts' ? '.mts' : '.mjs'));
  const name = path.basename(file);
  const yaml = ran ? undefined : yamlSyntaxError(error, file);
  const fix = commonJs
    ? `${name} is compiled as CommonJS because no package.json with "type": "module" is above it, and CommonJS has no top-level await: rename it to ${path.basename(esm)}, or add a package.json with { "type": "module" } to its folder.`
    : ran
      ? moduleFailureFix(file, error)
      : yaml
        ? yamlSyntaxFix(yaml)
        : readFailureFix(file, error);
  return namingFile(new LimitError('LIMIT_CONFIG_LOAD_FAILED', `${what}: ${reason}`, {
    cause: error,
    details: yaml ? { file: yaml.file, ...(yaml.line === undefined ? {} : { line: yaml.line, column: yaml.column }) } : { file },
    ...(fix === undefined ? {} : { fix }),
  }));
}

/**
 * A file that could not be read (Node's error from opening or reading it: EACCES, EIO, …): names
 * the file and what to do about that error. Undefined for anything else.
 */
function readFailureFix(file: string, error: unknown): string | undefined {
  if (!isError(error)) return undefined;
  const { code, syscall, path: errorPath } = error as { code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof code !== 'string' || (syscall !== 'open' && syscall !== 'read')) return undefined;
  const unread = typeof errorPath === 'string' ? errorPath : file;
  const advice =
    code === 'EACCES' || code === 'EPERM'
      ? `the user that runs limit may not read it: give it read permission (\`chmod a+r ${unread}\`, or change the file's owner), or pass --config a file it can read`
      : code === 'ENOENT'
        ? 'it does not exist (any more): correct the path that names it, or create the file'
        : code === 'EISDIR'
          ? 'it is a folder: name the configuration file itself'
          : 'check the file and the disk it is on (a failing or unmounted drive, a special file that cannot be read), or pass --config another file';
  return `${unread} could not be read (${code}): ${advice}; then run \`limit config\` again.`;
}

interface YamlSyntaxError {
  /** The file that does not parse (cosmiconfig's `filepath`: a file it `$import`s, or the one loaded). */
  file: string;
  reason: string;
  /** 1-based, where the parser stopped; absent when it gives no position. */
  line?: number;
  column?: number;
}

/** A YAML syntax error, as cosmiconfig's YAML loader throws it (js-yaml's YAMLException, whose mark is 0-based). */
function yamlSyntaxError(error: unknown, file: string): YamlSyntaxError | undefined {
  if (!isError(error) || error.name !== 'YAMLException') return undefined;
  const { mark, reason, filepath } = error as { mark?: { line?: unknown; column?: unknown }; reason?: unknown; filepath?: unknown };
  const at = typeof mark?.line === 'number' && typeof mark.column === 'number' ? { line: mark.line + 1, column: mark.column + 1 } : {};
  return { file: typeof filepath === 'string' ? filepath : file, reason: typeof reason === 'string' ? reason : error.message, ...at };
}

function yamlSyntaxFix({ file, reason, line, column }: YamlSyntaxError): string {
  const name = path.basename(file);
  const at = line === undefined ? '' : ` at line ${line}, column ${column}`;
  // A file without an extension is always read as YAML (cosmiconfig): a module given that way does not parse.
  const noExt = path.extname(file) === '' ? `; or, if ${name} is a TypeScript or JavaScript config, give it its extension (${name}.ts, ${name}.js): a file without one is read as YAML` : '';
  return `Correct the YAML syntax of ${name}${at} (${reason}): indentation with spaces, \`key: value\` pairs, quotes closed; then run \`limit config\` again${noExt}.`;
}

/** Node's codes for an import that cannot be resolved or loaded (a missing file or package, a bad specifier). */
const IMPORT_ERROR_CODES = new Set([
  'ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_IMPORT_NOT_DEFINED',
  'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_INVALID_MODULE_SPECIFIER', 'ERR_UNSUPPORTED_ESM_URL_SCHEME',
  'ERR_REQUIRE_ESM', 'ERR_IMPORT_ATTRIBUTE_MISSING', 'ERR_IMPORT_ATTRIBUTE_TYPE_INCOMPATIBLE', 'ERR_IMPORT_ATTRIBUTE_UNSUPPORTED',
]);

/**
 * What went wrong when a config file or preset was imported or its default function called: it
 * does not compile (esbuild's TransformError; a SyntaxError raised by Node's parser, whose first
 * frame is Node's loader, not code that ran — a JSON.parse in the file is an exception it threw),
 * an import it makes cannot be found or linked, or its code (or a module it imports) threw.
 */
function moduleFailureKind(error: unknown): 'syntax' | 'import' | 'threw' {
  if (!isError(error)) return 'threw';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && IMPORT_ERROR_CODES.has(code)) return 'import';
  if (error.name === 'TransformError' || /^Transform failed with \d+ error/.test(error.message)) return 'syntax';
  if (error.name === 'SyntaxError') {
    if (/^The requested module .* does not provide an export named /.test(error.message)) return 'import';
    const firstFrame = /^\s+at .*$/m.exec(error.stack ?? '')?.[0] ?? '';
    if (firstFrame === '' || firstFrame.includes('node:internal/')) return 'syntax';
  }
  return 'threw';
}

/**
 * The fix for a module that failed to import or whose default function threw (moduleFailureKind):
 * a config file or preset, or a plugin module (resolve.ts). `check` is the command that loads it
 * again: `limit config` for a config, `limit plugins` for a plugin.
 */
export function moduleFailureFix(file: string, error: unknown, check = 'limit config'): string {
  const name = path.basename(file);
  switch (moduleFailureKind(error)) {
    case 'syntax':
      return `Fix the syntax error in ${name} (or in a module it imports) that the message points to, then run \`${check}\` again.`;
    case 'import':
      return `Fix the import in ${name} (or in a module it imports) that the message names: correct the path (relative to the importing file) or the export's name, or install the missing package; then run \`${check}\` again.`;
    case 'threw':
      return `${name}'s own code threw this error while it ran (its top level, its default function or a module it imports): fix that code or what it depends on (a variable, a file it reads), then run \`${check}\` again.`;
  }
}

/**
 * A cosmiconfig loader whose failures name the file it was loading: a search knows only the folder
 * it started from, so "Could not load <folder>" would hide which config file is broken.
 */
function naming<A extends unknown[]>(load: (file: string, ...rest: A) => unknown): (file: string, ...rest: A) => Promise<unknown> {
  return async (file, ...rest) => {
    try {
      return await load(file, ...rest);
    } catch (error) {
      if (NAMES_FILE.has(error as object)) throw error;
      throw loadFailed(file, error);
    }
  };
}

/** Whether a preset name is a path (relative to the file that names it) rather than a built-in name. */
function isPresetPath(name: string): boolean {
  return name.startsWith('.') || path.isAbsolute(name);
}

/** Suffixes tried for a preset path: those of a plugin path, and `.json` (a preset may be a JSON file). */
const PRESET_PATH_SUFFIXES = [...PATH_EXTENSIONS, '.json'];

/**
 * Resolves a preset name: a built-in `presets/<name>.{ts,js}`, or a path relative to the file that
 * names it, tried as written and with the extensions a plugin path is (`./base` → `./base.ts`).
 */
function presetFile(name: string, rootDir: string): { file: string | undefined; tried: string[] } {
  if (isPresetPath(name)) return modulePath(path.resolve(rootDir, name), PRESET_PATH_SUFFIXES);
  return modulePath(path.join(PACKAGE_ROOT, 'presets', name), ['.ts', '.js']);
}

/** The built-in presets (`default`): the modules directly in presets/. */
function builtinPresets(): string[] {
  const dir = path.join(PACKAGE_ROOT, 'presets');
  if (!existsSync(dir)) return [];
  return [...new Set(readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).map((f) => f.replace(/\.(ts|js)$/, '')))].sort();
}

function presetNotFound(name: string, source: string, rootDir: string, tried: readonly string[]): LimitError {
  const builtins = builtinPresets();
  const isPath = isPresetPath(name);
  const fix = isPath
    ? `Correct the path "${name}" in extends of ${describeOrigin(source)}: a relative path starts from ${rootDir} (the folder of the file that names it), and may leave out the extension.`
    : `Use a built-in preset (${builtins.join(', ')}), or name a preset file of your own by its path relative to ${rootDir}, starting with ./ ('./${name}').`;
  return new LimitError('LIMIT_PRESET_NOT_FOUND', `${source} › extends: preset "${name}" not found${isPath ? '' : ` (the built-in presets are ${builtins.join(', ')})`}; looked for ${tried.join(', ')}`, {
    details: { preset: name, tried },
    fix,
  });
}

/**
 * Merges presets under the config: `plugins` entries merge per plugin, key by key at every depth
 * of their option objects (mergeOptions), `use` concatenates. Also
 * records which file set each field (`origins`), so that a mistake in a preset is reported against
 * the preset. `configDir` is the config file's folder: presets are named relative to it.
 */
async function applyPresets(
  config: ConfigInput,
  rootDir: string,
  source: string,
  configDir: string,
  seen: readonly { file: string; label: string }[] = [],
): Promise<{ merged: ConfigInput; presets: string[]; origins: Origins }> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalidConfig([{ path: '(root)', message: 'Expected an object', text: `${source} › (root): Expected an object` }], source);
  }
  // Only own enumerable properties are read: a Map's entries, or fields an object inherits
  // (Object.create({ storage })), would be dropped unseen, and the config would run as `{}`.
  const unread = config instanceof Map || config instanceof Set ? `a ${config instanceof Map ? 'Map' : 'Set'}` : inheritedFields(config).length ? `an object whose fields ${inheritedFields(config).join(', ')} are inherited, not its own` : undefined;
  if (unread) {
    const message = `Expected a plain object of fields, received ${unread}: only an object's own fields are read`;
    throw invalidConfig([{ path: '(root)', message, text: `${source} › (root): ${message}` }], source);
  }
  const names: unknown[] = config.extends === undefined ? [] : Array.isArray(config.extends) ? config.extends : [config.extends];
  // `extends` is taken off before the schema sees the config: checked here, never ignored.
  const bad = names.findIndex((n) => typeof n !== 'string' || n === '');
  if (bad >= 0) {
    const at = Array.isArray(config.extends) ? `extends.${bad}` : 'extends';
    const message = `Expected a preset name or path (a non-empty string), or a list of them; received ${JSON.stringify(names[bad]) ?? typeof names[bad]}`;
    throw invalidConfig([{ path: at, message, text: `${source} › ${at}: ${message}` }], source);
  }
  let base: ConfigInput = {};
  const origins: Origins = new Map();
  const applied: string[] = [];
  for (const name of names as string[]) {
    const { file, tried } = presetFile(name, rootDir);
    if (!file) throw presetNotFound(name, source, rootDir, tried);
    // A preset is its file: the same name in another folder is another preset ('./base.ts' in lib/
    // is lib/base.ts), and one file named two ways ('./a.ts', '../p/a.ts') is the same one.
    const label = isPresetPath(name) ? presetName(file, configDir) : name;
    if (seen.some((s) => s.file === file)) {
      const cycle = [...seen.map((s) => s.label), label];
      throw new LimitError('LIMIT_PRESET_CYCLE', `Presets extend each other in a cycle: ${cycle.join(' → ')}`, { details: { cycle } });
    }
    const preset = (await wrapLoad(() => loadModule(file), file)) as ConfigInput;
    const nested = await applyPresets(preset, path.dirname(file), presetName(file, configDir), configDir, [...seen, { file, label }]);
    recordOrigins(origins, base, nested.merged, nested.origins);
    base = mergeConfig(base, nested.merged);
    applied.push(...nested.presets, name);
  }
  const { extends: _ignored, ...own } = config;
  recordOrigins(origins, base, own, ownOrigins(own, source));
  return { merged: mergeConfig(base, own), presets: applied, origins };
}

/** The enumerable fields an object inherits rather than holds (`Object.create({ storage: 'file' })`'s storage). */
function inheritedFields(value: object): string[] {
  const fields: string[] = [];
  for (const key in value) if (!Object.hasOwn(value, key)) fields.push(key);
  return fields;
}

/** A preset as messages name it: its path relative to the config's folder, or absolute when outside it. */
function presetName(file: string, configDir: string): string {
  const relative = path.relative(configDir, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/**
 * Every field of one file's own config (no presets) → that file: plugin options at every depth of
 * their nested option objects (`plugins.governance.policy.quarantineSeverity`), as mergeOptions merges them.
 */
function ownOrigins(own: Record<string, unknown>, source: string): Origins {
  const origins: Origins = new Map();
  const options = (segments: string[], value: unknown) => {
    origins.set(originKey(segments), source);
    if (mergesAt(segments, value)) for (const [key, inner] of Object.entries(value as Record<string, unknown>)) options([...segments, key], inner);
  };
  for (const [key, value] of Object.entries(own)) {
    origins.set(originKey([key]), source);
    if (key === 'plugins' && isObject(value)) {
      for (const [name, entry] of Object.entries(value)) options(['plugins', name], entry);
    } else if (key === 'use' && Array.isArray(value)) {
      value.forEach((_, i) => origins.set(originKey(['use', i]), source));
    }
  }
  return origins;
}

/** The value at `segments` inside `value`, through plain objects (undefined where there is none). */
function valueAt(value: unknown, segments: readonly string[]): unknown {
  let at = value;
  for (const segment of segments) {
    if (!isObject(at)) return undefined;
    at = at[segment];
  }
  return at;
}

/** Adds the origins of `over`, merged over `base` as mergeConfig does (`use` indices shift by base's length). */
function recordOrigins(into: Origins, base: ConfigInput, over: ConfigInput, overOrigins: Origins): void {
  const offset = Array.isArray(base.use) ? base.use.length : 0;
  const replacesPlugins = over.plugins !== undefined && !isObject(over.plugins);
  for (const [key, file] of overOrigins) {
    const segments = JSON.parse(key) as string[];
    if (segments[0] === 'use' && segments.length === 2 && offset > 0 && Array.isArray(over.use)) {
      into.set(originKey(['use', Number(segments[1]) + offset]), file);
      continue;
    }
    if (segments.length >= 2 && segments[0] === 'plugins' && !mergesAt(segments, valueAt(over, segments))) {
      // A value that replaces a plugin's options, or one option object (a list, false, a string):
      // the base's origins inside it no longer apply.
      const prefix = `${key.slice(0, -1)},`;
      for (const k of [...into.keys()]) if (k.startsWith(prefix)) into.delete(k);
    }
    into.set(key, file);
  }
  if (replacesPlugins) for (const k of [...into.keys()]) if (k.startsWith('["plugins",')) into.delete(k);
}

/**
 * An option object that merges key by key with the one it is merged over: a plain object (written
 * as `{ … }`, or without a prototype) without symbol keys. Lists, class instances (a client, a
 * pool) and plugin objects replace what they are merged over.
 */
function isMergeable(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(value).length === 0;
}

/** Whether the value at an option path (`plugins.<name>…`) merges with the one under it: a plugin's entry when it is an object, as before; an option inside it when isMergeable. */
function mergesAt(segments: readonly string[], value: unknown): boolean {
  return segments.length === 2 ? isObject(value) : isMergeable(value);
}

/**
 * `over` merged over `base`, key by key at every depth of plain option objects (`policy`, `auth`,
 * `rateLimit`): a field `over` sets replaces only that field. Anything else `over` gives — a list,
 * a scalar, `false`, a class instance — replaces the base's value whole. Neither is changed.
 * Presets merge under the config this way, and a config entry over a plugin object's own options.
 */
export function mergeOptions(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = merged[key];
    merged[key] = isMergeable(prev) && isMergeable(value) ? mergeOptions(prev, value) : value;
  }
  return merged;
}

export function mergeConfig(base: ConfigInput, over: ConfigInput): ConfigInput {
  // Values of the wrong shape pass through untouched so that the schema reports them.
  if ((over.plugins !== undefined && !isObject(over.plugins)) || (over.use !== undefined && !Array.isArray(over.use))) return { ...base, ...over };
  const plugins: Record<string, unknown> = { ...(base.plugins ?? {}) };
  for (const [name, value] of Object.entries(over.plugins ?? {})) {
    const prev = plugins[name];
    plugins[name] = isObject(prev) && isObject(value) ? mergeOptions(prev, value) : value;
  }
  return {
    ...base,
    ...over,
    plugins: plugins as ConfigInput['plugins'],
    use: [...(base.use ?? []), ...(over.use ?? [])],
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
