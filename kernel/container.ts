/**
 * The awilix root container (strict mode) and per-session scopes. Singletons live on the root;
 * services registered with `provideScoped` get one instance per session scope, disposed when the
 * session closes. Sessions are always disposed before the root.
 */
import { asFunction, asValue, AwilixResolutionError, createContainer, InjectionMode, Lifetime, type AwilixContainer, type ResolveOptions } from 'awilix';
import { LimitError, isError, toLimitError } from './errors.ts';
import { runEveryTap, type LimitHooks } from './hooks.ts';
import type { Logger } from './logger.ts';
import { Id, SessionLimits, newId, type Session } from './model/index.ts';
import type { ResolvedConfig } from './config/schema.ts';
import type { GovernanceService, KneeDetector, Orchestrator, RateModel, RdAlgorithm, Runner, RulePack, Storage } from './contracts/index.ts';
import type { Runtime } from './runtime.ts';

/**
 * Everything the container can hold. Kernel keys are always there; contract keys are there when a
 * plugin provides them. Plugins add their own keys by augmenting this interface:
 * `declare module 'limit-graph' { interface Cradle { myService: MyService } }`.
 */
export interface Cradle {
  config: ResolvedConfig;
  logger: Logger;
  hooks: LimitHooks;
  runtime: Runtime;
  /** Only inside a session scope. */
  session: SessionHandle;
  storage: Storage;
  governance: GovernanceService;
  orchestrator: Orchestrator;
  [runner: `runner:${string}`]: Runner;
  [rd: `rd:${string}`]: RdAlgorithm;
  [rate: `rate:${string}`]: RateModel;
  [knee: `knee:${string}`]: KneeDetector;
  [rules: `governance:rules:${string}`]: RulePack;
}

export const KERNEL_KEYS = ['config', 'logger', 'hooks', 'runtime', 'session'] as const;

export function createRootContainer(values: Pick<Cradle, 'config' | 'logger' | 'hooks'>): AwilixContainer<Cradle> {
  const container = withServiceNotFound(createContainer<Cradle>({ injectionMode: InjectionMode.PROXY, strict: true }), []);
  container.register({
    config: asValue(values.config),
    logger: asValue(values.logger),
    hooks: asValue(values.hooks),
  });
  return container;
}

/**
 * Makes `container`, and every scope created from it, fail with LIMIT_SERVICE_NOT_FOUND instead of
 * awilix's AwilixResolutionError (kept as the cause) for a key that nothing registers: resolved
 * directly (`container.resolve('x')`, `container.cradle.x`) or as a dependency that a registered
 * factory reads from its cradle (A's factory reading `cradle.B`: the message names A as well).
 * Only awilix's "not registered" failure for a string key is mapped, where it happens: what a
 * factory throws itself, awilix's other errors (a cycle, a dependency with a shorter lifetime) and a
 * symbol nothing registers (`String(cradle)`'s Symbol.toPrimitive) pass through as they are. `path` is the keys being resolved, shared by the whole family of scopes (as awilix shares its
 * resolution stack). awilix hands a factory `container.cradle` of the container object itself, so
 * replacing `cradle` there reaches the factories' lookups.
 */
function withServiceNotFound(container: AwilixContainer<Cradle>, path: (string | symbol)[]): AwilixContainer<Cradle> {
  const resolve = container.resolve.bind(container) as (name: string | symbol, options?: ResolveOptions) => unknown;
  const createScope = container.createScope.bind(container);
  const mapped = (name: string | symbol, options?: ResolveOptions): unknown => {
    path.push(name);
    try {
      return resolve(name, options);
    } catch (error) {
      if (error instanceof AwilixResolutionError && typeof name === 'string' && !container.hasRegistration(name)) throw serviceNotFound(container, name, path.slice(0, -1), error);
      throw error;
    } finally {
      path.pop();
    }
  };
  const cradle = new Proxy(container.cradle, { get: (_target, name) => mapped(name) });
  return Object.assign(container, {
    resolve: mapped as AwilixContainer<Cradle>['resolve'],
    createScope: (() => withServiceNotFound(createScope(), path)) as AwilixContainer<Cradle>['createScope'],
    cradle,
  });
}

/** LIMIT_SERVICE_NOT_FOUND for `key`: the key, what needed it (if anything), the registered keys and how to register one. */
function serviceNotFound(container: AwilixContainer<Cradle>, name: string, neededBy: readonly (string | symbol)[], cause: unknown): LimitError {
  const registered = Object.keys(container.registrations).sort();
  const via = neededBy.length ? ` (needed by "${String(neededBy.at(-1))}": ${[...neededBy, name].map(String).join(' -> ')})` : '';
  // `session` is the kernel's key inside a session's scope only: missing, it was resolved outside one —
  // registering it on the root (the usual fix) would be wrong. What needed it is per session.
  if (name === 'session') {
    const scoped = neededBy.map(String).find((k) => container.registrations[k]?.lifetime === Lifetime.SCOPED);
    const what = scoped ?? String(neededBy[0] ?? 'session');
    const message = scoped
      ? `"${scoped}" is per session (registered with provideScoped) and was resolved outside a session's scope, where there is no "session"${via}`
      : `"session" exists only inside a session's scope, and was resolved outside one${via}`;
    return new LimitError('LIMIT_SERVICE_NOT_FOUND', message, {
      cause,
      details: { key: name, ...(neededBy.length ? { neededBy: neededBy.map(String) } : {}), ...(scoped ? { scoped } : {}), registered },
      fix: `Resolve "${what}" from a session's scope: handle.resolve('${what}') on the handle that runtime.openSession() returns (or that the sessionOpened hook gives a plugin), not runtime.resolve() or ctx.resolve(), which read the root container.`,
    });
  }
  return new LimitError('LIMIT_SERVICE_NOT_FOUND', `No service is registered under "${name}"${via}; the registered keys are ${registered.join(', ') || 'none'}`, {
    cause,
    details: { key: name, ...(neededBy.length ? { neededBy: neededBy.map(String) } : {}), registered },
    fix: `Enable a plugin that provides "${name}" (\`limit plugins\` lists the loaded ones), or register it in a plugin's setup with ctx.provide('${name}', value) or ctx.provideScoped and list it in that plugin's meta.provides; check the key's spelling.`,
  });
}

/** Resolves a key; a key nothing registers is LIMIT_SERVICE_NOT_FOUND (see withServiceNotFound). */
export function resolveKey<K extends keyof Cradle & string>(container: AwilixContainer<Cradle>, key: K): Cradle[K] {
  return container.resolve(key);
}

/**
 * A service as the container hands it out: the plugin's own object, except that a method that
 * throws or rejects with something that is not an Error (undefined, null, a string, a plain
 * object) fails with a LimitError naming the plugin and the method instead —
 * `Plugin "storage-memory" failed in storage.batch(): { code: 'EFIRE' } (thrown instead of an Error)`,
 * LIMIT_RUNNER_FAILED for a runner, LIMIT_PLUGIN_FAILED otherwise. Errors pass through as they are;
 * methods run on the plugin's object itself (private fields work), and a frozen property is left
 * as it is (a proxy must return it unchanged).
 */
export function guardService<T>(value: T, plugin: string, key: string): T {
  if (typeof value !== 'object' || value === null) return value;
  const code = key.startsWith('runner:') ? 'LIMIT_RUNNER_FAILED' : 'LIMIT_PLUGIN_FAILED';
  const wrappers = new Map<PropertyKey, { fn: unknown; wrapper: unknown }>();
  const proxy: T & object = new Proxy(value, {
    get(target, prop) {
      const fn = Reflect.get(target, prop, target) as unknown;
      if (typeof fn !== 'function' || prop === 'constructor') return fn;
      const cached = wrappers.get(prop);
      if (cached?.fn === fn) return cached.wrapper;
      const own = Object.getOwnPropertyDescriptor(target, prop);
      let wrapper: unknown = fn;
      if (!own || own.configurable || own.writable) {
        const method = `${key}.${String(prop)}()`;
        const fail = (thrown: unknown): never => {
          if (isError(thrown)) throw thrown;
          throw toLimitError(thrown, code, {
            plugin,
            message: (reason) => `Plugin "${plugin}" failed in ${method}: ${reason}`,
            fix: `A bug in the plugin "${plugin}": ${method} threw something that is not an Error. Report it to the plugin's author; a plugin throws an Error, or a LimitError with a code and a fix.`,
          });
        };
        wrapper = function (this: unknown, ...args: unknown[]): unknown {
          let result: unknown;
          try {
            result = Reflect.apply(fn as (...a: unknown[]) => unknown, this === proxy ? target : this, args);
          } catch (error) {
            fail(error);
          }
          return result instanceof Promise ? result.then(undefined, fail) : result;
        };
      }
      wrappers.set(prop, { fn, wrapper });
      return wrapper;
    },
  });
  return proxy;
}

/**
 * Registers a per-session service; with `plugin`, each instance is guarded (guardService) and `dispose` still gets the plugin's own object.
 * `check` sees each instance the factory makes; an instance it refuses (by throwing) is disposed and not handed out.
 */
export function registerScoped(container: AwilixContainer<Cradle>, key: string, factory: (cradle: Cradle) => unknown, dispose?: (value: never) => unknown, plugin?: string, check?: (value: unknown) => void): void {
  const originals = new WeakMap<object, unknown>();
  const make = (cradle: Cradle): unknown => {
    const value = factory(cradle);
    if (check) {
      try {
        check(value);
      } catch (error) {
        // Refused, so awilix never caches it and its disposer would never run: release what it holds now.
        if (dispose) void Promise.resolve().then(() => (dispose as (v: unknown) => unknown)(value)).catch(() => undefined);
        throw error;
      }
    }
    if (plugin === undefined) return value;
    const guarded = guardService(value, plugin, key);
    if (guarded !== value) originals.set(guarded as object, value);
    return guarded;
  };
  let resolver = asFunction(make, { lifetime: Lifetime.SCOPED });
  if (dispose) resolver = resolver.disposer((v: unknown) => (dispose as (v: unknown) => unknown)(typeof v === 'object' && v !== null && originals.has(v) ? originals.get(v) : v));
  container.register(key, resolver);
}

/**
 * What `runtime.openSession` takes. It opens a kernel session (a container scope and an abort
 * signal) and stores nothing; `orchestrator.openSession` stores the session too. Defaults: a new
 * UUIDv7 id, the config's tenant, SessionLimits' defaults.
 */
export interface OpenSessionInput {
  id?: string;
  tenant?: string;
  name?: string;
  limits?: Partial<SessionLimits>;
  metadata?: Record<string, unknown>;
}

/**
 * Why a session's scope closes. `closed`: the session ends (its close, `handle.close()`), and what
 * plugins keep for it anywhere may go. `released`: this process lets the scope go while the session
 * goes on — stored and open, for another process or a later run here (the runtime's close, the
 * orchestrator's `sessionIdleMs`) — so state kept in this process may go, but state shared with
 * other processes (runner-queue's worker sessions) must stay.
 */
export type SessionCloseReason = 'closed' | 'released';

/** A live session: its record, its scope, and an abort signal that fires when it closes. */
export interface SessionHandle {
  readonly session: Session;
  readonly id: string;
  readonly tenant: string;
  readonly limits: SessionLimits;
  readonly scope: AwilixContainer<Cradle>;
  readonly logger: Logger;
  /** Aborted when the session closes (runners stop their work). */
  readonly signal: AbortSignal;
  readonly closed: boolean;
  /** Why the scope closes, from the moment its close begins (`sessionClosed` taps read it); undefined while open. */
  readonly closeReason: SessionCloseReason | undefined;
  resolve<K extends keyof Cradle & string>(key: K): Cradle[K];
  /**
   * Closes the scope once (a later call waits for that close); `reason` defaults to `closed`. During
   * the session's open it waits for the sessionOpened taps before the sessionClosed taps run, and
   * openSession then rejects (LIMIT_SESSION_CLOSED, or LIMIT_RUNTIME_CLOSED from the runtime's close).
   */
  close(reason?: SessionCloseReason): Promise<void>;
}

export class SessionRegistry {
  readonly #open = new Map<string, SessionHandle>();
  /** Each handle's close, resolving to all its failures (handle.close() throws only the first). */
  readonly #closers = new WeakMap<SessionHandle, (reason: SessionCloseReason) => Promise<unknown[]>>();
  /** Closes in progress (a session leaves #open when its close begins): closeAll waits for them too. */
  readonly #closing = new Set<Promise<unknown[]>>();
  /** The close in progress of each id: an open of that id waits for it (its sessionClosed taps release what is kept by id). */
  readonly #closingById = new Map<string, Promise<unknown[]>>();
  /** closeAll has begun: an open that waited for a close is refused. */
  #shutDown = false;
  constructor(
    private readonly root: AwilixContainer<Cradle>,
    private readonly hooks: LimitHooks,
    private readonly logger: Logger,
    private readonly defaultTenant: string,
  ) {}

  get size(): number {
    return this.#open.size;
  }

  get(id: string): SessionHandle | undefined {
    return this.#open.get(id);
  }

  list(): SessionHandle[] {
    return [...this.#open.values()];
  }

  async open(input: OpenSessionInput = {}): Promise<SessionHandle> {
    const id = input.id ?? newId();
    const tenant = input.tenant ?? this.defaultTenant;
    for (const [field, value] of [['id', id], ['tenant', tenant]] as const) {
      const parsed = Id.safeParse(value);
      if (!parsed.success) {
        throw new LimitError('LIMIT_VALIDATION', `Invalid session ${field} ${JSON.stringify(value) ?? String(value)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`, {
          details: { field, value }, fix: `Give an ${field} of 1–128 letters, digits, "_", "-", ":" or "." (not starting with "."), or leave it out for ${field === 'id' ? 'a generated one' : 'the config\'s tenant'}.`,
        });
      }
    }
    // A session of this id still closing: its sessionClosed taps and scoped disposers finish before the new one opens.
    for (let previous = this.#closingById.get(id); previous; previous = this.#closingById.get(id)) {
      await previous;
      if (this.#shutDown) throw new LimitError('LIMIT_RUNTIME_CLOSED', 'The runtime has been shut down');
    }
    if (this.#open.has(id)) throw new LimitError('LIMIT_CONFLICT', `Session "${id}" is already open`, { details: { sessionId: id } });
    const parsedLimits = SessionLimits.safeParse(input.limits ?? {});
    if (!parsedLimits.success) {
      throw new LimitError('LIMIT_VALIDATION', `Invalid session limits: ${parsedLimits.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const session: Session = {
      id,
      tenant,
      name: input.name ?? '',
      status: 'open',
      createdAt: new Date().toISOString(),
      limits: parsedLimits.data,
      metadata: input.metadata ?? {},
    };
    const scope = this.root.createScope();
    const controller = new AbortController();
    const logger = this.logger.child({ session: id });
    let closed = false;
    let closeReason: SessionCloseReason | undefined;
    const registry = this;
    const handle: SessionHandle = {
      session, id, tenant: session.tenant, limits: session.limits, scope, logger, signal: controller.signal,
      get closed() {
        return closed;
      },
      get closeReason() {
        return closeReason;
      },
      resolve: (key) => {
        if (closed) throw new LimitError('LIMIT_SESSION_CLOSED', `Session "${id}" is closed`, { details: { sessionId: id } });
        return resolveKey(scope, key);
      },
      async close(reason: SessionCloseReason = 'closed') {
        if (reason !== 'closed' && reason !== 'released') {
          throw new LimitError('LIMIT_VALIDATION', `Session "${id}": close reason must be "closed" or "released", got ${JSON.stringify(reason)}`, { details: { field: 'reason', sessionId: id } });
        }
        const errors = await closeScope(reason);
        // The first failure is thrown, the others logged.
        for (const e of errors.slice(1)) logger.error({ err: e, plugin: (e as LimitError).plugin }, (e as Error).message);
        if (errors.length) throw errors[0];
      },
    };
    /**
     * Closes the session once; resolves to every failure (the runtime's close reports them all). A
     * later call waits for that close to end, then resolves to none (the failures went to the first).
     */
    let closing: Promise<unknown[]> | undefined;
    /** The sessionOpened taps while they run: a close begun meanwhile waits for them (what they acquire is then released). */
    let opening: Promise<unknown> | undefined;
    /** The close began once the runtime's close had (closeAll): an open it interrupts fails with LIMIT_RUNTIME_CLOSED. */
    let closedByShutDown = false;
    const closeScope = (reason: SessionCloseReason): Promise<unknown[]> => {
      if (closing) return closing.then(() => []);
      closed = true;
      closeReason = reason;
      closedByShutDown = registry.#shutDown;
      registry.#open.delete(id);
      controller.abort(new LimitError('LIMIT_SESSION_CLOSED', `Session "${id}" closed`));
      const current = (async () => {
        // The session's sessionOpened taps end first (each within its time limit; their signal is aborted
        // now): the sessionClosed taps release what they acquired, not run before it is there.
        await opening?.catch(() => undefined);
        // Every plugin's tap runs (one failing must not leave the others' workers behind); then the scope is disposed.
        const errors: unknown[] = await runEveryTap(registry.hooks.sessionClosed, handle);
        await scope.dispose().catch((error: unknown) => errors.push(error));
        return errors;
      })();
      closing = current;
      registry.#closing.add(current);
      registry.#closingById.set(id, current);
      void current.finally(() => {
        registry.#closing.delete(current);
        if (registry.#closingById.get(id) === current) registry.#closingById.delete(id);
      });
      return current;
    };
    this.#closers.set(handle, closeScope);
    scope.register('session', asValue(handle));
    this.#open.set(id, handle);
    opening = this.hooks.sessionOpened.promise(handle);
    try {
      await opening;
    } catch (error) {
      // Released: the scope never opened, which ends nothing — the session may be a stored one being
      // attached here (the orchestrator), which other processes go on using.
      await handle.close('released').catch(() => undefined);
      throw error;
    } finally {
      opening = undefined;
    }
    if (closed) {
      // Closed while it opened (its handle.close(), the runtime's close): that close has waited for the
      // sessionOpened taps and released what they acquired; the caller gets no handle that is already closed.
      await closing?.catch(() => undefined);
      throw closedByShutDown
        ? new LimitError('LIMIT_RUNTIME_CLOSED', `The runtime was shut down while session "${id}" opened`, { details: { sessionId: id }, fix: 'Open sessions before runtime.close(), or make a new runtime.' })
        : new LimitError('LIMIT_SESSION_CLOSED', `Session "${id}" was closed while it opened`, { details: { sessionId: id }, fix: 'Close a session once its openSession has resolved, or open it again.' });
    }
    return handle;
  }

  /**
   * Closes every open session's scope (reason `released`: the runtime ends, not the sessions, which
   * stay open in storage for another process or a restart); every failure is collected (not only each session's first), not thrown, so that all are closed.
   * Closes already begun (session.close()) are waited for too, so that nothing shuts down under their sessionClosed taps
   * and scoped disposers; their failures went to whoever began them.
   */
  async closeAll(): Promise<unknown[]> {
    this.#shutDown = true;
    const errors: unknown[] = [];
    for (const handle of this.list()) errors.push(...(await this.#closers.get(handle)!('released')));
    await Promise.all(this.#closing);
    return errors;
  }
}
