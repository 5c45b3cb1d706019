/**
 * Turns the config's plugin entries into plugin objects. Names are resolved at run time, the way
 * ESLint and Babel resolve theirs, so the kernel never imports a plugin statically:
 *   1. a built-in plugin folder `plugins/<name>/` of this package;
 *   2. a path (`./my-plugin.ts`) relative to the config file;
 *   3. an installed package `limit-plugin-<name>` or `<name>`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { LimitError } from './errors.ts';
import { PACKAGE_ROOT, importFresh } from './config/load.ts';
import type { ResolvedConfig } from './config/schema.ts';
import { isPlugin, type Plugin } from './plugin.ts';

export interface PluginEntry {
  plugin: Plugin;
  raw: unknown;
  /** option name → environment variable it came from */
  envSources: Record<string, string>;
}

function builtinFile(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  return ['index.ts', 'index.js'].map((f) => path.join(PACKAGE_ROOT, 'plugins', name, f)).find((f) => existsSync(f));
}

async function importPlugin(name: string, rootDir: string): Promise<unknown> {
  const builtin = builtinFile(name);
  if (builtin) return (await import(pathToFileURL(builtin).href)) as unknown;
  if (name.startsWith('.') || path.isAbsolute(name)) return importFresh(path.resolve(rootDir, name));
  let lastError: unknown;
  for (const specifier of [`limit-plugin-${name}`, name]) {
    try {
      // Bare specifiers resolve from the config's folder, as they would in the user's own code.
      return (await tsImport(specifier, pathToFileURL(path.join(rootDir, 'limit.config.ts')).href)) as unknown;
    } catch (error) {
      lastError = error;
    }
  }
  throw new LimitError('LIMIT_PLUGIN_NOT_FOUND', `Plugin "${name}" not found: it is neither a built-in plugin, a path, nor an installed package`, {
    cause: lastError,
    details: { plugin: name },
  });
}

/** A module's plugin: its default export (a plugin, or a factory called with no arguments). */
export async function loadPluginByName(name: string, rootDir: string): Promise<Plugin> {
  const mod = (await importPlugin(name, rootDir)) as Record<string, unknown>;
  let candidate = mod.default ?? mod.plugin;
  if (typeof candidate === 'function') candidate = await (candidate as () => unknown)();
  if (!isPlugin(candidate)) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Module for plugin "${name}" does not export a plugin made with definePlugin()`, { details: { plugin: name } });
  }
  if (candidate.meta.name !== name && builtinFile(name)) {
    throw new LimitError('LIMIT_PLUGIN_INVALID', `Built-in plugin folder "${name}" exports a plugin named "${candidate.meta.name}"`, { plugin: name });
  }
  return candidate;
}

/**
 * Collects the enabled plugins in config order: named entries of `plugins` (not `false`), the
 * storage backend selected by `storage`, then plugin objects from `use` and from code.
 */
export async function collectPlugins(config: ResolvedConfig, extra: readonly Plugin[], env: NodeJS.ProcessEnv): Promise<PluginEntry[]> {
  const entries = new Map<string, unknown>(Object.entries(config.plugins));
  if (config.storage) {
    const selected = `storage-${config.storage}`;
    for (const name of [...entries.keys()]) if (name.startsWith('storage-') && name !== selected) entries.delete(name);
    const current = entries.get(selected);
    if (current === undefined || current === false) entries.set(selected, true);
  }
  const objects = [...config.use, ...extra];
  const objectNames = new Set(objects.map((p) => p.meta.name));

  const result: PluginEntry[] = [];
  for (const [name, value] of entries) {
    if (value === false || objectNames.has(name)) continue;
    const plugin = await loadPluginByName(name, config.rootDir);
    result.push(withEnv(plugin, value === true ? {} : value, env));
  }
  for (const plugin of objects) {
    const fromConfig = config.plugins[plugin.meta.name];
    if (fromConfig === false) continue;
    const raw = { ...(isRecord(plugin.rawOptions) ? plugin.rawOptions : {}), ...(isRecord(fromConfig) ? fromConfig : {}) };
    result.push(withEnv(plugin, raw, env));
  }
  return result;
}

function withEnv(plugin: Plugin, raw: unknown, env: NodeJS.ProcessEnv): PluginEntry {
  const envSources: Record<string, string> = {};
  const options: Record<string, unknown> = isRecord(raw) ? { ...raw } : {};
  for (const [variable, option] of Object.entries(plugin.meta.env ?? {})) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      options[option] = value;
      envSources[option] = variable;
    }
  }
  return { plugin, raw: isRecord(raw) ? options : raw, envSources };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
