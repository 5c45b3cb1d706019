/**
 * Finding, loading, merging (presets) and validating limit.config.*, plus environment overrides.
 * Every load reads the files afresh: no module cache survives between loads, so a long-running
 * process can reload its configuration.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cosmiconfig, defaultLoaders } from 'cosmiconfig';
import { tsImport } from 'tsx/esm/api';
import { LimitError, isLimitError } from '../errors.ts';
import { ConfigSchema, type ConfigInput, type ResolvedConfig } from './schema.ts';
import { formatIssues, type FormattedIssue } from './issues.ts';
import type { LogLevel } from '../logger.ts';

/** Where cosmiconfig looks, in order. */
export const CONFIG_FILES = [
  'limit.config.ts', 'limit.config.mts', 'limit.config.mjs', 'limit.config.js', 'limit.config.json', '.limitrc.json',
] as const;

/**
 * Two levels above kernel/config, where built-in presets and plugins live: the package root in a
 * checkout, dist/ in a build or an installed copy (for package.json itself, see package-info.ts).
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSCONFIG = path.join(PACKAGE_ROOT, 'tsconfig.json');

/** Imports a TypeScript or JavaScript module afresh (its own namespace: no stale cache). */
export async function importFresh(file: string): Promise<Record<string, unknown>> {
  const options = existsSync(TSCONFIG) ? { parentURL: import.meta.url, tsconfig: TSCONFIG } : import.meta.url;
  return esmExports((await tsImport(pathToFileURL(file).href, options as Parameters<typeof tsImport>[1])) as Record<string, unknown>);
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
  const mod = await importFresh(file);
  if (!('default' in mod)) {
    const names = Object.keys(mod);
    throw noConfig(file, `it has no default export${names.length ? ` (it exports ${names.join(', ')})` : ''}`);
  }
  const value = mod.default;
  // A file with no export at all, compiled as CommonJS, shows up as an untouched empty module.exports.
  if (isObject(value) && Object.keys(value).length === 0 && !/\bexports?\b/.test(readFileSync(file, 'utf8'))) throw noConfig(file, 'it has no default export');
  return requireConfig(typeof value === 'function' ? await (value as () => unknown)() : value, file, typeof value === 'function');
}

function loadJson(file: string, content: string): unknown {
  return requireConfig(defaultLoaders['.json'](file, content), file, false);
}

/**
 * A config file (or preset) must produce its configuration: `export default null`, a function
 * returning nothing or a JSON `null` would otherwise read as "no file" and run the defaults.
 * An empty object stays valid.
 */
function requireConfig(value: unknown, file: string, fromFunction: boolean): unknown {
  if (value === null || value === undefined) throw noConfig(file, `its default export${fromFunction ? ', a function, returned' : ' is'} ${String(value)}`);
  return value;
}

function noConfig(file: string, why: string): LimitError {
  return new LimitError('LIMIT_CONFIG_INVALID', `${path.basename(file)} exports no configuration: ${why} (${file})`, {
    details: { file },
    fix: `Export the configuration as default: \`export default defineConfig({ … })\` (\`export default {}\` for none), or delete ${path.basename(file)} to run on the built-in defaults.`,
  });
}

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

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
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
      loaders: { '.ts': naming(loadModule), '.mts': naming(loadModule), '.mjs': naming(loadModule), '.js': naming(loadModule), '.json': naming(loadJson) },
      // An empty limit.config.ts is a mistake to report, not a missing file to search past.
      ignoreEmptySearchPlaces: false,
    });
    let result: Awaited<ReturnType<typeof explorer.load>>;
    if (options.configFile) {
      const file = path.resolve(cwd, options.configFile);
      if (!existsSync(file)) throw new LimitError('LIMIT_CONFIG_NOT_FOUND', `Configuration file not found: ${file}`, { details: { file } });
      result = await wrapLoad(() => explorer.load(file), file);
    } else {
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
  const { merged, presets } = await applyPresets(raw, rootDir, source);

  const envSources: Record<string, string> = {};
  const withEnv: Record<string, unknown> = { ...merged };
  for (const [variable, field] of Object.entries(KERNEL_ENV)) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      withEnv[field] = value;
      envSources[field] = variable;
    }
  }

  if (withEnv.logLevel === undefined && options.defaultLogLevel !== undefined) withEnv.logLevel = options.defaultLogLevel;

  const parsed = ConfigSchema.safeParse(withEnv);
  if (!parsed.success) throw invalidConfig(formatIssues(parsed.error.issues, source, [], envSources), source);
  const conflicts = storageConflicts(parsed.data, source, envSources.storage);
  if (conflicts.length) throw invalidConfig(conflicts, source);
  const { extends: _presets, ...config } = parsed.data;
  return {
    source,
    config: Object.freeze({ ...config, dataDir: path.resolve(rootDir, config.dataDir), configFile, rootDir, presets }),
  };
}

/**
 * `storage` selects `storage-<name>` and drops the other storage plugins. Within the config that
 * contradicts two entries: `false` for the selected backend, or options for another one (they
 * would be dropped unseen). Both fields are named. STORAGE_BACKEND is an override: it switches the
 * backend whatever the file says, so from it nothing conflicts (the file's entries are set aside).
 */
function storageConflicts(config: { storage?: string | undefined; plugins: Record<string, unknown> }, source: string, fromEnv: string | undefined): FormattedIssue[] {
  if (!config.storage || fromEnv) return [];
  const selected = `storage-${config.storage}`;
  const issues: FormattedIssue[] = [];
  const issue = (name: string, message: string) => issues.push({ path: `plugins.${name}`, message, text: `${source} › plugins.${name}: ${message}` });
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
  return new LimitError('LIMIT_CONFIG_INVALID', `Invalid configuration in ${source}:\n${issues.map((i) => `  ${i.text}`).join('\n')}`, {
    details: { source, issues: issues.map(({ path: p, message }) => ({ path: p, message })) },
  });
}

async function wrapLoad<T>(load: () => Promise<T>, file: string, what = `Could not load ${file}`): Promise<T> {
  try {
    return await load();
  } catch (error) {
    // A file that exports no config, or one a loader could not load (see naming): already names it.
    if (isLimitError(error, 'LIMIT_CONFIG_INVALID') || isLimitError(error, 'LIMIT_CONFIG_LOAD_FAILED')) throw error;
    throw loadFailed(file, error, what);
  }
}

function loadFailed(file: string, error: unknown, what = `Could not load ${file}`): LimitError {
  return new LimitError('LIMIT_CONFIG_LOAD_FAILED', `${what}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
    details: { file },
  });
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
      if (isLimitError(error, 'LIMIT_CONFIG_INVALID')) throw error;
      throw loadFailed(file, error);
    }
  };
}

/** Resolves a preset name: a built-in `presets/<name>.{ts,js}` or a path relative to the config. */
function presetFile(name: string, rootDir: string): string | undefined {
  const candidates = name.startsWith('.') || path.isAbsolute(name)
    ? [path.resolve(rootDir, name)]
    : ['ts', 'js'].map((ext) => path.join(PACKAGE_ROOT, 'presets', `${name}.${ext}`));
  return candidates.find((f) => existsSync(f));
}

/** Merges presets under the config: `plugins` entries merge per plugin, `use` concatenates. */
async function applyPresets(config: ConfigInput, rootDir: string, source: string, seen: string[] = []): Promise<{ merged: ConfigInput; presets: string[] }> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalidConfig([{ path: '(root)', message: 'Expected an object', text: `${source} › (root): Expected an object` }], source);
  }
  const names = config.extends === undefined ? [] : Array.isArray(config.extends) ? config.extends : [config.extends];
  let base: ConfigInput = {};
  const applied: string[] = [];
  for (const name of names) {
    if (typeof name !== 'string') continue; // reported by the schema
    if (seen.includes(name)) {
      throw new LimitError('LIMIT_PRESET_CYCLE', `Presets extend each other in a cycle: ${[...seen, name].join(' → ')}`, { details: { cycle: [...seen, name] } });
    }
    const file = presetFile(name, rootDir);
    if (!file) throw new LimitError('LIMIT_PRESET_NOT_FOUND', `${source} › extends: preset "${name}" not found`, { details: { preset: name } });
    const preset = (await wrapLoad(() => loadModule(file), file)) as ConfigInput;
    const nested = await applyPresets(preset, path.dirname(file), path.basename(file), [...seen, name]);
    base = mergeConfig(base, nested.merged);
    applied.push(...nested.presets, name);
  }
  const { extends: _ignored, ...own } = config;
  return { merged: mergeConfig(base, own), presets: applied };
}

export function mergeConfig(base: ConfigInput, over: ConfigInput): ConfigInput {
  // Values of the wrong shape pass through untouched so that the schema reports them.
  if ((over.plugins !== undefined && !isObject(over.plugins)) || (over.use !== undefined && !Array.isArray(over.use))) return { ...base, ...over };
  const plugins: Record<string, unknown> = { ...(base.plugins ?? {}) };
  for (const [name, value] of Object.entries(over.plugins ?? {})) {
    const prev = plugins[name];
    plugins[name] = isObject(prev) && isObject(value) ? { ...prev, ...value } : value;
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
