/**
 * createRuntime: config → plugins (validate → order → setup) → boot. The runtime owns the hooks,
 * the container and the sessions, and tears everything down in reverse order.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import type { AwilixContainer } from 'awilix';
import { asValue } from 'awilix';
import { LimitError, describeThrown, isLimitError, toLimitError } from './errors.ts';
import { createHooks, runEveryTap, type LimitHooks } from './hooks.ts';
import { createLogger, type Logger } from './logger.ts';
import { loadConfigWith, type LoadConfigOptions } from './config/load.ts';
import type { ResolvedConfig } from './config/schema.ts';
import { KERNEL_KEYS, SessionRegistry, createRootContainer, guardService, registerScoped, resolveKey, type Cradle, type OpenSessionInput, type SessionHandle } from './container.ts';
import { orderPlugins, validatePluginOptions, withOptionOrigin, type LoadablePlugin, type Plugin, type PluginContext, type PluginInstance } from './plugin.ts';
import { collectPlugins } from './resolve.ts';
import { HealthResult } from './model/index.ts';
import { MAX_TIMER_MS, withPluginTimeout } from './timeout.ts';
import type { Runner } from './contracts/runner.ts';
import type { Storage } from './contracts/storage.ts';
import { formatIssues } from './config/issues.ts';

/**
 * Options of `createRuntime`: where the config comes from (`config` in code, `configFile`, or a
 * search from `cwd`; see `loadConfig`), plugins added in code, a logger, and whether to boot.
 */
export interface CreateRuntimeOptions extends LoadConfigOptions {
  /** Plugin objects added in code (tests, embedding applications). */
  plugins?: readonly Plugin[];
  logger?: Logger;
  /** Run the boot hook (open pools, load models). Default true; the CLI boots lazily. */
  boot?: boolean;
}

/** A plugin as the runtime assembled it (`runtime.plugins`, `limit plugins`). */
export interface PluginInfo {
  name: string;
  version: string;
  description?: string;
  provides: string[];
  dependsOn: string[];
  /** Time spent in setup, ms. */
  setupMs: number;
}

/** One plugin's health check, as `runtime.health()` and `limit doctor` report it. */
export interface PluginHealth {
  plugin: string;
  status: 'ok' | 'degraded' | 'fail';
  message?: string;
  checks: { name: string; status: 'ok' | 'degraded' | 'fail'; message?: string }[];
  details?: Record<string, unknown>;
}

/** What `runtime.close()` reports. */
export interface CloseReport {
  /** Failures while closing (each a LimitError naming its plugin, where one is known); closing went on regardless. */
  errors: LimitError[];
}

interface SetUpPlugin {
  info: PluginInfo;
  instance: PluginInstance;
  /** Disposers of singletons the plugin provided, in registration order. */
  disposers: (() => unknown)[];
  options: unknown;
  /** The storage and runners it provided with ctx.provide: their contracts' health(), which `limit doctor` runs when the plugin returns none. */
  services: { key: string; health: () => Promise<unknown> }[];
}

/**
 * An assembled LIMIT-Graph: the validated config, the hooks, the container that holds what the
 * plugins provide, and the open sessions. Made by `createRuntime`; `close()` tears it down.
 */
export interface Runtime {
  readonly config: ResolvedConfig;
  readonly hooks: LimitHooks;
  readonly container: AwilixContainer<Cradle>;
  readonly logger: Logger;
  /** Plugins in load order. */
  readonly plugins: readonly PluginInfo[];
  /** Each plugin's validated options, by name (for `limit config`). */
  pluginOptions(): Record<string, unknown>;
  resolve<K extends keyof Cradle & string>(key: K): Cradle[K];
  has(key: string): boolean;
  /** Registered keys that start with `prefix`. */
  keys(prefix?: string): string[];
  /**
   * Runs the boot hook once (createRuntime does it unless `boot: false`): concurrent calls share one
   * boot, a failed boot is not retried, and close() during a boot waits for it to end, then this
   * rejects with LIMIT_RUNTIME_CLOSED. Called once close() has begun, it rejects (never throws) with
   * LIMIT_RUNTIME_CLOSED.
   */
  boot(): Promise<void>;
  readonly booted: boolean;
  openSession(input?: OpenSessionInput): Promise<SessionHandle>;
  getSession(id: string): SessionHandle | undefined;
  /** Every plugin's health check (those without one report ok); rejects with LIMIT_RUNTIME_CLOSED once close() has begun. */
  health(): Promise<PluginHealth[]>;
  /**
   * Waits for a boot in progress, runs drain (reverse order: each plugin stops taking new work and
   * waits for its work in flight), closes sessions, runs shutdown (reverse order), disposes plugins
   * (reverse order). Idempotent.
   */
  close(): Promise<CloseReport>;
}

/**
 * Builds a runtime: loads the config (`loadConfig`), collects the plugins it enables and those given
 * in `options.plugins`, validates their options, orders them by `dependsOn`, runs each `setup`, then
 * the `boot` hook unless `boot: false`. Refusals are LimitErrors naming the plugin and the fix
 * (missing provider, cycle, invalid options, a setup past its time limit, …).
 */
export async function createRuntime(options: CreateRuntimeOptions = {}): Promise<Runtime> {
  const env = options.env ?? process.env;
  const { config, source } = await loadConfigWith(options, options.plugins ?? []);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const entries = await collectPlugins(config, options.plugins ?? [], env);
  const validated = entries.length ? validatePluginOptions(entries, source) : [];
  const ordered = orderPlugins(validated, KERNEL_KEYS, source === 'config' ? 'the config' : source);
  return assemble(config, ordered, logger, options.boot ?? true);
}

async function assemble(config: ResolvedConfig, ordered: LoadablePlugin[], logger: Logger, boot: boolean): Promise<Runtime> {
  const position = new Map(ordered.map((e, i) => [e.plugin.meta.name, i]));
  const timeoutOf = (name: string) => ordered[position.get(name) ?? -1]?.plugin.meta.setupTimeoutMs ?? config.setupTimeoutMs;
  const setUp: SetUpPlugin[] = [];
  // The limit of a plugin's drain, shutdown and sessionClosed taps (read when each runs: taps are registered before setup
  // returns closeTimeoutMs) and of each of its disposers: its closeTimeoutMs, else its setup limit.
  const closeTimeoutOf = (name: string) => setUp.find((p) => p.info.name === name)?.instance.closeTimeoutMs ?? timeoutOf(name);
  const hooks = createHooks({ order: (name) => position.get(name) ?? 0, bootTimeoutMs: timeoutOf, closeTimeoutMs: closeTimeoutOf });
  const container = createRootContainer({ config, logger, hooks });
  const sessions = new SessionRegistry(container, hooks, logger, config.tenant);
  let booted = false;
  let closing: Promise<CloseReport> | undefined;
  let booting: Promise<void> | undefined;

  const runtime: Runtime = {
    config, hooks, container, logger,
    get plugins() {
      return setUp.map((p) => p.info);
    },
    pluginOptions: () => Object.fromEntries(setUp.map((p) => [p.info.name, p.options])),
    resolve: (key) => {
      assertOpen();
      return resolveFor(key);
    },
    has: (key) => container.hasRegistration(key),
    keys: (prefix = '') => Object.keys(container.registrations).filter((k) => k.startsWith(prefix)),
    get booted() {
      return booted;
    },
    boot() {
      // A rejection, as typed and documented, never a synchronous throw: `runtime.boot().catch(…)` sees it.
      if (closing) return Promise.reject(closedError());
      // One boot for every caller: concurrent calls share it (the taps run once), and close() waits for it.
      booting ??= hooks.boot.promise().then(() => {
        if (closing) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'The runtime was shut down while it booted', { fix: 'Call runtime.boot() before runtime.close(), or make a new runtime.' });
        booted = true;
      });
      return booting;
    },
    openSession: async (input) => {
      assertOpen();
      return sessions.open(input);
    },
    getSession: (id) => sessions.get(id),
    async health() {
      // Not on services that close() is disposing, or has disposed.
      assertOpen();
      const results: PluginHealth[] = [];
      for (const p of setUp) {
        const name = p.info.name;
        const check = p.instance.health ? () => p.instance.health!() : servicesHealth(p.services);
        if (!check) {
          results.push({ plugin: name, status: 'ok', checks: [], message: 'no health check' });
          continue;
        }
        try {
          const parsed = HealthResult.safeParse(await withPluginTimeout(Promise.resolve(check()), timeoutOf(name), name, 'health'));
          if (parsed.success) results.push({ plugin: name, ...parsed.data });
          else {
            // Not zod's JSON dump: `health() returned status: Expected one of "ok"|"degraded"|"fail"`.
            const issues = formatIssues(parsed.error.issues, 'health()').map((i) => `${i.path === '(root)' ? '' : `${i.path}: `}${i.message}`);
            results.push({ plugin: name, status: 'fail', checks: [], message: `health() returned an invalid result: ${issues.join('; ')}` });
          }
        } catch (error) {
          results.push({ plugin: name, status: 'fail', checks: [], message: describeThrown(error) });
        }
      }
      return results;
    },
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
  container.register('runtime', asValue(runtime));

  /**
   * resolveKey, and when the key is missing although a loaded plugin lists it in meta.provides, why:
   * that plugin is set up after the one asking (a dependsOn is missing), or it never registered it.
   */
  function resolveFor<K extends keyof Cradle & string>(key: K, asker?: string): Cradle[K] {
    if (container.hasRegistration(key)) return resolveKey(container, key);
    const provider = ordered.find((e) => (e.plugin.meta.provides ?? []).includes(key))?.plugin.meta.name;
    if (provider === undefined || provider === asker) return resolveKey(container, key);
    const isSetUp = setUp.some((p) => p.info.name === provider);
    if (!isSetUp && asker !== undefined) {
      throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No service is registered under "${key}" yet: plugin "${provider}" provides it, but is set up after plugin "${asker}"`, {
        plugin: asker, details: { key, provider },
        fix: `Add "${key}" to meta.dependsOn of plugin "${asker}" (optionalDependsOn when it can do without), so that it is set up after "${provider}"; or resolve it later, in a hook or a method.`,
      });
    }
    throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No service is registered under "${key}": plugin "${provider}" lists it in meta.provides but has not registered it`, {
      plugin: provider, details: { key, provider },
      fix: `Register it in the setup of plugin "${provider}" (ctx.provide('${key}', …) or ctx.provideScoped), or remove it from its meta.provides.`,
    });
  }

  /** Runs the release of something a plugin set up after the runtime closed (its setup ran past its limit); a failure is logged. */
  function releaseLate(plugin: string, what: string, release: () => unknown): void {
    logger.warn({ plugin }, `Plugin "${plugin}" finished setting up after the runtime was shut down (its setup ran past its time limit): releasing ${what}`);
    void Promise.resolve().then(release).catch((error: unknown) => {
      const e = toLimitError(error, 'LIMIT_PLUGIN_DISPOSE_FAILED', { plugin, hook: 'dispose', message: (reason) => `Plugin "${plugin}" failed to dispose: ${reason}` });
      logger.error({ err: e, plugin }, e.message);
    });
  }

  function closedError(): LimitError {
    return new LimitError('LIMIT_RUNTIME_CLOSED', 'The runtime has been shut down');
  }

  function assertOpen(): void {
    if (closing) throw closedError();
  }

  async function closeAll(): Promise<CloseReport> {
    // A boot in progress ends first (each tap within its time limit): no plugin boots after the others shut down.
    await booting?.catch(() => undefined);
    const errors: LimitError[] = [];
    const collect = (plugin: string | undefined, hook: string, error: unknown) => {
      const e = toLimitError(error, 'LIMIT_PLUGIN_DISPOSE_FAILED', { plugin, hook, message: (reason) => `${plugin === undefined ? 'Failed' : `Plugin "${plugin}" failed`} to ${hook}: ${reason}` });
      errors.push(e);
      logger.error({ err: e, plugin }, e.message);
    };
    // Work in flight (a run, an HTTP request) finishes before the sessions it runs in close under it.
    for (const error of await runEveryTap(hooks.drain)) collect(error.plugin, 'drain', error);
    for (const error of await sessions.closeAll()) collect(undefined, 'close a session', error);
    for (const error of await runEveryTap(hooks.shutdown)) collect(error.plugin, 'shutdown', error);
    for (const p of [...setUp].reverse()) {
      for (const dispose of [...p.disposers].reverse()) {
        try {
          // Within its time limit: a dispose that never settles is reported, and the others still run (no hang, no silent exit 13).
          await withPluginTimeout(Promise.resolve().then(dispose), closeTimeoutOf(p.info.name), p.info.name, 'dispose');
        } catch (error) {
          collect(p.info.name, 'dispose', error);
        }
      }
    }
    // What was registered on ctx.container directly, with an awilix disposer: a failure is reported like the others.
    await container.dispose().catch((error: unknown) => collect(undefined, 'dispose the container', error));
    return { errors };
  }

  for (const loadable of ordered) {
    const { plugin, options } = loadable;
    const name = plugin.meta.name;
    const declared = new Set(plugin.meta.provides ?? []);
    const entry: SetUpPlugin = {
      info: {
        name, version: plugin.meta.version, description: plugin.meta.description,
        provides: [...declared], dependsOn: [...(plugin.meta.dependsOn ?? [])], setupMs: 0,
      },
      instance: {},
      disposers: [],
      options,
      services: [],
    };
    const pluginLogger = logger.child({ plugin: name });
    // Keys this plugin registered (provide or provideScoped): each once.
    const registered = new Set<string>();
    const checkKey = (key: string) => {
      if (!declared.has(key)) {
        throw new LimitError('LIMIT_PLUGIN_UNDECLARED_PROVIDE', `Plugin "${name}" registered "${key}" but does not list it in meta.provides`, { plugin: name, details: { key } });
      }
      if (registered.has(key)) {
        // A second registration would replace the first silently (and both disposers would run).
        throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${name}" registered "${key}" twice: a key is provided once`, {
          plugin: name, details: { key },
          fix: `Call ctx.provide('${key}', …) or ctx.provideScoped('${key}', …) once in the setup of plugin "${name}"; to change the service later, keep it in one object and change that object.`,
        });
      }
    };
    const ctx: PluginContext = {
      name, hooks, config, container, logger: pluginLogger,
      provide(key, value, opts) {
        try {
          checkKey(key);
          checkContract(name, key, value);
        } catch (error) {
          // The value is refused, but what it holds is still released: at close, or at once when closed.
          if (opts?.dispose) {
            if (closing) releaseLate(name, 'a value it provided', () => opts.dispose!(value));
            else entry.disposers.push(() => opts.dispose!(value));
          }
          throw error;
        }
        if (closing) {
          // A setup that went on past its time limit, after the runtime closed: what it opens now is released at once.
          if (opts?.dispose) releaseLate(name, 'a value it provided', () => opts.dispose!(value));
          throw new LimitError('LIMIT_RUNTIME_CLOSED', `Plugin "${name}" provided "${key}" after the runtime was shut down`, { plugin: name, details: { key } });
        }
        // What others resolve names this plugin when a method throws something that is not an Error.
        const guarded = guardService(value, name, key);
        container.register(key, asValue(guarded));
        registered.add(key);
        if (key === 'storage' || key.startsWith('runner:')) entry.services.push({ key, health: () => (guarded as { health(): Promise<unknown> }).health() });
        if (opts?.dispose) entry.disposers.push(() => opts.dispose!(value));
      },
      provideScoped(key, factory, opts) {
        checkKey(key);
        // Like the plugin's other disposers: within its close time limit (a session's close does not hang on it), failures naming it.
        const dispose = opts?.dispose && ((value: never) =>
          withPluginTimeout(Promise.resolve().then(() => opts.dispose!(value)), closeTimeoutOf(name), name, 'dispose').catch((error: unknown) => {
            throw toLimitError(error, 'LIMIT_PLUGIN_DISPOSE_FAILED', { plugin: name, hook: 'dispose', message: (reason) => `Plugin "${name}" failed to dispose "${key}" of a session: ${reason}` });
          }));
        registerScoped(container, key, factory, dispose, name, (value) => checkContract(name, key, value, 'ctx.provideScoped'));
        registered.add(key);
      },
      resolve: (key) => resolveFor(key, name),
      has: (key) => container.hasRegistration(key),
      keys: (prefix = '') => Object.keys(container.registrations).filter((k) => k.startsWith(prefix)),
    };
    const started = performance.now();
    let settled = false;
    const running = Promise.resolve().then(() => plugin.setup(ctx, options)).finally(() => void (settled = true));
    try {
      const returned: unknown = await withPluginTimeout(running, timeoutOf(name), name, 'setup');
      const instance = checkInstance(name, returned, (dispose) => entry.disposers.push(dispose));
      if (instance) {
        entry.instance = instance;
        if (instance.dispose) entry.disposers.push(() => instance.dispose!()); // runs before the values it set up
      }
      // A key it declares but did not register would fail only where something resolves it, naming no setup.
      // (One registered on ctx.container directly counts: no other plugin may declare it.)
      const unregistered = [...declared].filter((key) => !registered.has(key) && !container.hasRegistration(key));
      if (unregistered.length) {
        const keys = unregistered.map((k) => `"${k}"`).join(', ');
        throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${name}" lists ${keys} in meta.provides but did not register ${unregistered.length === 1 ? 'it' : 'them'} in setup`, {
          plugin: name, hook: 'setup', details: { keys: unregistered },
          fix: `Register ${unregistered.length === 1 ? 'it' : 'each'} in the setup of plugin "${name}" (ctx.provide('${unregistered[0]}', …) or ctx.provideScoped, before setup returns), or remove ${unregistered.length === 1 ? 'it' : 'them'} from its meta.provides.`,
        });
      }
    } catch (error) {
      entry.info.setupMs = performance.now() - started;
      setUp.push(entry); // what it registered before failing is disposed too
      if (!settled) {
        // Past its time limit the setup still runs: the dispose it returns in the end runs then (what it provides later is released in provide).
        void running.then((late: unknown) => {
          const dispose = (late as PluginInstance | undefined)?.dispose;
          if (typeof dispose === 'function') releaseLate(name, 'the instance its setup returned', () => dispose.call(late));
        }, () => undefined);
      }
      await runtime.close();
      throw isLimitError(error)
        ? Object.assign(withOptionOrigin(error, loadable) as LimitError, { plugin: error.plugin ?? name })
        : toLimitError(error, 'LIMIT_PLUGIN_SETUP_FAILED', { plugin: name, hook: 'setup', message: (reason) => `Plugin "${name}" failed during setup: ${reason}` });
    }
    entry.info.setupMs = Math.round((performance.now() - started) * 1000) / 1000;
    setUp.push(entry);
    pluginLogger.debug({ setupMs: entry.info.setupMs }, 'plugin set up');
  }

  try {
    hooks.configResolved.call(config);
    if (boot) await runtime.boot();
  } catch (error) {
    await runtime.close();
    throw error;
  }
  return runtime;
}

/**
 * What `setup` returned, checked where it is returned: nothing (undefined or null), or an object
 * whose `dispose` and `health`, when present, are functions. Anything else is
 * LIMIT_PLUGIN_SETUP_FAILED naming the plugin and what came back — not a TypeError at the first
 * health check or at shutdown. A `dispose` that is a function still runs (`keep`) to release what
 * setup opened.
 */
function checkInstance(name: string, value: unknown, keep: (dispose: () => unknown) => void): PluginInstance | undefined {
  if (value === undefined || value === null) return undefined;
  const show = (v: unknown) => inspect(v, { depth: 1, breakLength: Infinity });
  const fail = (what: string, fix: string): never => {
    throw new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `setup() of plugin "${name}" returned ${what} (expected nothing, or { dispose?, health?, closeTimeoutMs? }: functions, and a number of ms)`, {
      plugin: name, hook: 'setup', fix, details: { returned: show(value) },
    });
  };
  if (typeof value === 'function') return fail('a function', 'Return { dispose: fn } to run fn at shutdown, or nothing.');
  if (typeof value !== 'object' || Array.isArray(value)) return fail(`${Array.isArray(value) ? 'an array' : `a ${typeof value}`}, ${show(value)}`, 'Return nothing, or { dispose, health } (both optional, both functions).');
  const instance = value as Record<string, unknown>;
  const bad = ['dispose', 'health'].filter((k) => instance[k] !== undefined && typeof instance[k] !== 'function');
  const limit = instance.closeTimeoutMs;
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 0 && (limit as number) <= MAX_TIMER_MS)) bad.push('closeTimeoutMs');
  if (bad.length === 0) return instance as PluginInstance;
  if (typeof instance.dispose === 'function') keep(() => (instance.dispose as () => unknown).call(instance));
  const functions = bad.filter((k) => k !== 'closeTimeoutMs');
  return fail(
    bad.map((k) => `${k}: ${show(instance[k])}`).join(', '),
    [
      functions.length ? `Make ${functions.join(' and ')} a function, or leave ${functions.length === 1 ? 'it' : 'them'} out: dispose() runs at shutdown, health() returns { status, checks }.` : '',
      bad.includes('closeTimeoutMs') ? `Make closeTimeoutMs a whole number of milliseconds (0: no limit) up to ${MAX_TIMER_MS} (longer, Node's timer would fire at once), or leave it out (the setup time limit applies).` : '',
    ].filter(Boolean).join(' '),
  );
}

/**
 * The health of a plugin whose setup returns no `health`: that of the storage and runners it
 * provided (their contracts require a `health()`), so `limit doctor` shows a runner's unenforced
 * limits or a backend's failing query instead of "ok (no health check)". One service: its result;
 * several: the worst status, with each service's result as a check and its checks after it.
 */
function servicesHealth(services: SetUpPlugin['services']): (() => Promise<unknown>) | undefined {
  if (services.length === 0) return undefined;
  if (services.length === 1) return () => services[0]!.health();
  return async () => {
    const rank = { ok: 0, degraded: 1, fail: 2 } as const;
    let status: keyof typeof rank = 'ok';
    const checks: PluginHealth['checks'] = [];
    for (const { key, health } of services) {
      const parsed = HealthResult.safeParse(await health());
      const result = parsed.success ? parsed.data : { status: 'fail' as const, message: `${key}.health() returned an invalid result`, checks: [] };
      if (rank[result.status] > rank[status]) status = result.status;
      checks.push({ name: key, status: result.status, ...(result.message === undefined ? {} : { message: result.message }) });
      for (const c of result.checks) checks.push({ ...c, name: `${key} ${c.name}` });
    }
    return { status, checks };
  };
}

/** The methods of T that are not optional. */
type RequiredMethods<T> = { [K in keyof T]-?: undefined extends T[K] ? never : T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

// Every required method of the contract, and only those (the compiler checks both): optional ones
// (Runner.closeSession) stay optional.
const STORAGE_METHODS: Record<RequiredMethods<Storage>, true> = {
  open: true, close: true, health: true, schemaVersion: true,
  createSession: true, getSession: true, listSessions: true, closeSession: true,
  createTrace: true, updateTrace: true, getTrace: true, listTraces: true,
  appendProvenance: true, listProvenance: true, verifyProvenance: true,
  addFlag: true, listFlags: true, addCheckpoint: true, listCheckpoints: true,
  setQuarantine: true, getQuarantine: true, listQuarantined: true,
  createRdSeries: true, appendRdPoint: true, getRdSeries: true, getRdSeriesSummary: true, listRdSeries: true,
  incrementCounters: true, getCounters: true, batch: true,
};
const RUNNER_METHODS: Record<RequiredMethods<Runner>, true> = { executeIsolated: true, health: true };

/**
 * A value provided under a key the kernel has a contract for (`storage`, `runner:<name>`) has that
 * contract's required methods, checked where it is provided: otherwise LIMIT_PLUGIN_INVALID names
 * the plugin, the key and the missing methods — not a TypeError at the first use, far from the
 * plugin. Only that the methods are functions; what they do is the conformance suite's to check.
 * A value from `provideScoped` is checked each time its factory makes one (per session scope).
 */
function checkContract(plugin: string, key: string, value: unknown, via: 'ctx.provide' | 'ctx.provideScoped' = 'ctx.provide'): void {
  const contract = key === 'storage' ? { name: 'Storage', file: 'storage', methods: Object.keys(STORAGE_METHODS) }
    : key.startsWith('runner:') ? { name: 'Runner', file: 'runner', methods: Object.keys(RUNNER_METHODS) }
    : undefined;
  if (!contract) return;
  const isObject = (typeof value === 'object' && value !== null) || typeof value === 'function';
  const missing = contract.methods.filter((m) => !isObject || typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length === 0) return;
  const what = isObject ? `without the method(s) ${missing.join(', ')} the ${contract.name} contract requires` : `as ${value === null ? 'null' : `a ${typeof value}`}, not an object with the methods of the ${contract.name} contract`;
  throw new LimitError('LIMIT_PLUGIN_INVALID', `Plugin "${plugin}" provides "${key}" ${what}`, {
    plugin, details: { key, missing },
    fix: `Give ${via === 'ctx.provide' ? `ctx.provide('${key}', …)` : `ctx.provideScoped('${key}', …) a factory that returns`} an object with every method of ${contract.name} (kernel/contracts/${contract.file}.ts), each a function; the conformance suite (limit-graph/testing) checks what they do.`,
  });
}
