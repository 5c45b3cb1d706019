import { z } from 'zod';
import type { Plugin } from '../plugin.ts';
import { pathText } from '../option-schemas.ts';
import { MAX_TIMER_MS } from '../timeout.ts';
import { backendNameProblem } from './backends.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Plugin options keyed by plugin name. Plugins augment this interface to type their entry. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PluginOptionsRegistry {}

/**
 * A plugin's entry in PluginOptionsRegistry: `Input` (its options schema's `z.input`) with every option
 * that a variable of `Env` (its `meta.env`) can set made optional, so that a config may leave it to the
 * environment (`'storage-postgres': { schema: 'x' }` with DATABASE_URL set). Loading still requires it:
 * with neither the option nor the variable, the options fail (LIMIT_PLUGIN_OPTIONS_INVALID naming the
 * variables). Give `meta.env` and this type the same object (`const ENV = { … } as const`).
 */
export type EnvOptional<Input, Env extends Readonly<Record<string, string>>> = Omit<Input, Env[keyof Env]> & Partial<Pick<Input, Extract<keyof Input, Env[keyof Env]>>>;

const PluginRef = z.custom<Plugin>(
  (v) => typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[Symbol.for('limit-graph.plugin')] === true,
  { message: 'Expected a plugin made with definePlugin()' },
);

/** The kernel's part of limit.config.ts; each plugin validates its own options with its schema. */
export const ConfigSchema = z
  .object({
    /** An editor's JSON schema reference (`"$schema": "…"` in limit.config.json): allowed, and not part of the resolved config. */
    $schema: z.string().optional(),
    /** Presets to start from (built-in names such as "default", or paths relative to the config file). */
    extends: z.union([z.string(), z.array(z.string())]).optional(),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /**
     * Storage backend: enables plugin `storage-<name>` — a built-in, an installed package, or a plugin
     * the config lists by path or in `use` — and drops every other storage plugin (env STORAGE_BACKEND).
     */
    storage: z
      .string()
      .superRefine((value, ctx) => {
        const problem = backendNameProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** Plugins by name → options; `true` enables with defaults, `false` disables one a preset enabled. */
    plugins: z
      .record(z.string(), z.union([z.boolean(), z.record(z.string(), z.unknown())], { error: 'Expected an options object, true or false' }))
      .default({}),
    /** Plugin objects written in the config itself (definePlugin results). */
    use: z.array(PluginRef).default([]),
    /** Default tenant for the CLI and `auth: none` mode. */
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/, {
        // The value and the rule, not the pattern: a tenant id is no secret.
        error: (issue) => `Expected a tenant id of letters, digits, "_", "-", ":" and "." (not first), received ${JSON.stringify(issue.input)}`,
      })
      .max(128)
      .default('default'),
    /** Folder for local state (SQLite database, session working directories …), relative to the config. */
    // ' /data' (LIMIT_DATA_DIR= /data in an env file) would silently be a folder named ' ' under the config's folder,
    // and '~/state' (no shell expands ~ in an env file or a config) a folder named '~'.
    dataDir: pathText().default('.limit'),
    /** Limit on each plugin's setup and boot (ms); at most MAX_TIMER_MS, beyond which Node's timers fire at once. */
    setupTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(30_000),
  })
  .strict();

/**
 * A config as written in limit.config.ts or given to `createRuntime({ config })`: defaults may be
 * left out, and `plugins` entries are typed per plugin through `PluginOptionsRegistry`.
 */
export type ConfigInput = Omit<z.input<typeof ConfigSchema>, 'plugins'> & {
  plugins?: { [K in keyof PluginOptionsRegistry]?: PluginOptionsRegistry[K] | boolean } & Record<string, Record<string, unknown> | boolean>;
};

/**
 * The config as plugins see it (`ctx.config`): presets merged, environment variables and defaults
 * applied, `dataDir` made absolute, validated and deep-frozen (every plain object and array at any
 * depth; functions, class instances, plugin objects and objects with methods are kept as given).
 */
export interface ResolvedConfig extends Omit<z.output<typeof ConfigSchema>, 'extends' | '$schema'> {
  /** Absolute path of the config file, or null when built from code/defaults. */
  readonly configFile: string | null;
  /** Directory that relative paths are resolved against. */
  readonly rootDir: string;
  /** Presets applied, in order. */
  readonly presets: readonly string[];
}

/** What a config file may export as default: a config, a function (async or not) returning one, or a promise of one. */
export type ConfigExport = ConfigInput | Promise<ConfigInput> | (() => ConfigInput | Promise<ConfigInput>);

/**
 * Typed identity for limit.config.ts: editor completion and type checks, validation at load. Takes
 * the config, or a function (async or not) returning it, as the loader reads a default export.
 */
export function defineConfig(config: ConfigInput): ConfigInput;
export function defineConfig(config: () => ConfigInput): () => ConfigInput;
export function defineConfig(config: () => Promise<ConfigInput>): () => Promise<ConfigInput>;
export function defineConfig(config: Promise<ConfigInput>): Promise<ConfigInput>;
export function defineConfig(config: ConfigExport): ConfigExport {
  return config;
}
